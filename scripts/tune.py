"""Search hyperparameters with Optuna: ``python scripts/tune.py --env ID --agent NAME --space
FILE.yaml``; every trial is a run of train_agent.py. The logic lives in
:mod:`sige_rl.agents.training.tune`."""

import os
import sys

# One BLAS thread, as train_agent.py (trials keep the cores busy).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import sige_rl.envs  # noqa: E402, F401  (registers the sige/ environments)
from sige_rl.agents.training.tune import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
