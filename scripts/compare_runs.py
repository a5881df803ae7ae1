"""Compare runs of either job: ``python scripts/compare_runs.py RUN_DIR... | GLOB [--out DIR]
[--metric NAME] [--no-plots]`` writes a table of the runs, the aggregate over each
configuration's seeds, learning curves and TensorBoard's HPARAMS view. The logic lives in
:mod:`sige_rl.agents.training.compare`."""

import os
import sys

# numpy's BLAS spreads even small products over every core, and when the cores are busy (training
# keeps them busy) a millisecond's work takes a hundred: the bootstrap's products. One thread
# unless you set it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from sige_rl.agents.training.compare import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
