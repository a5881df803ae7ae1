"""Play two players of a board game against each other:
``python scripts/arena.py A B [--game tictactoe|connect_four] [--games N] [--json FILE]``; a
player is ``random``, ``perfect``, ``solver``, ``mcts[:field=value,...]``, a registered agent or
the path of a run or checkpoint folder. The logic lives in :mod:`sige_rl.agents.search.arena`."""

import os
import sys

# One BLAS thread unless you set it (see scripts/evaluate.py): agents act on tiny arrays.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from sige_rl.agents.search.arena import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
