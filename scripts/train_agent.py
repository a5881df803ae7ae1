"""Train any sige-rl agent on any Gymnasium environment. ``--help`` lists the options; the logic
lives in :mod:`sige_rl.agents.training.train`."""

import sys

import sige_rl.envs  # noqa: F401  (registers the sige/ environments)
from sige_rl.agents.training.train import main

if __name__ == "__main__":
    sys.exit(main())
