"""Replay the agent of a run folder: ``python scripts/evaluate.py RUN_DIR [--episodes K]``
(``--gif FILE`` or ``--video FILE.mp4`` writes an episode, ``--policy-map FILE.png`` the greedy
policy of each checkpoint on a grid env). The logic lives in
:mod:`sige_rl.agents.training.evaluate_cli`."""

import os
import sys

# numpy's BLAS spreads even small products over every core, and when the cores are busy (training
# keeps them busy) a millisecond's work takes a hundred: the power grid's factorisations, numpy
# acting. One thread unless you set it; torch keeps its own (torch.set_num_threads).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import sige_rl.envs  # noqa: E402, F401  (registers the sige/ environments)
from sige_rl.agents.training.evaluate_cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
