"""Replay the agent of a run folder: ``python scripts/evaluate.py RUN_DIR [--episodes K]``
(``--gif FILE`` writes an animation). The logic lives in :mod:`agents.evaluate_cli`."""

import sys

import envs  # noqa: F401  (registers the sige/ environments)
from agents.evaluate_cli import main

if __name__ == "__main__":
    sys.exit(main())
