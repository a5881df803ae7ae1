"""Replay the agent of a run folder: ``python scripts/evaluate.py RUN_DIR [--episodes K]``
(``--gif FILE`` writes an animation). The logic lives in
:mod:`sige_rl.agents.training.evaluate_cli`."""

import sys

import sige_rl.envs  # noqa: F401  (registers the sige/ environments)
from sige_rl.agents.training.evaluate_cli import main

if __name__ == "__main__":
    sys.exit(main())
