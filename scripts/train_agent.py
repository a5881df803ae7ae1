"""Train any sige-rl agent on any Gymnasium environment. ``--help`` lists the options; the logic
lives in :mod:`agents.train`."""

import sys

import envs  # noqa: F401  (registers the sige/ environments)
from agents.train import main

if __name__ == "__main__":
    sys.exit(main())
