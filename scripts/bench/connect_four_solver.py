"""How long the Connect Four solver takes to judge a position, by the number of empty cells.

    python scripts/bench/connect_four_solver.py [--positions 200] [--empty 8 10 12 14]
        [--play careful|random] [--seed 0]

For each count of empty cells, ``--positions`` positions reached by uniformly random play from
the empty board that never ends the game early (a game that would end is played again). With
``--play careful`` (the default) neither side ever makes a move that lets the other win at once
either: random play alone leaves the player to move a win in one move in most positions, which
the solver sees at its root, so those positions say little about the search. Each position is
solved by a fresh solver (an empty transposition table) for its value (``value``: the sign,
the reference player's question), for Pons' exact score (``score``) and for a move (``move``:
``solver(state)``, which scores every legal move). Prints the median, the 95th percentile and
the maximum time in milliseconds, and how many positions are wins, draws and losses for the
player to move.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

import numpy as np

from sige_rl.agents.search.connect_four_solver import ConnectFourSolver
from sige_rl.envs.board_games.connect_four import ConnectFourState


def random_position(empty: int, rng: np.random.Generator, careful: bool) -> ConnectFourState:
    """A position with ``empty`` empty cells after random moves, none of which ended the game
    (``careful``: nor let the opponent win with their next move)."""
    while True:
        state = ConnectFourState()
        while state.num_moves < ConnectFourState.MAX_MOVES - empty:
            nexts = [state.step(a) for a in state.legal_actions()]
            nexts = [s for s in nexts if not s.is_terminal()]
            if careful:
                nexts = [
                    s
                    for s in nexts
                    if not any(s.step(b).winner() is not None for b in s.legal_actions())
                ]
            if not nexts:
                break
            state = nexts[int(rng.integers(len(nexts)))]
        else:
            return state


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--positions", type=int, default=200)
    p.add_argument("--empty", type=int, nargs="+", default=[8, 10, 12, 14])
    p.add_argument("--play", choices=("careful", "random"), default="careful")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    print(f"# python {' '.join(sys.argv)}")
    print(
        f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC "
        f"{platform.node()} | {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores | python {platform.python_version()}"
    )
    print("| empty | query | median ms | p95 ms | max ms | win / draw / loss |")
    print("|---|---|---|---|---|---|")
    for empty in args.empty:
        rng = np.random.default_rng([args.seed, empty])
        states = [
            random_position(empty, rng, args.play == "careful") for _ in range(args.positions)
        ]
        outcomes = None
        for query in ("score", "value", "move"):
            times, results = [], []
            for state in states:
                solver = ConnectFourSolver(max_empty=empty)
                ask = solver if query == "move" else getattr(solver, query)
                t = time.perf_counter()
                results.append(ask(state))
                times.append(1e3 * (time.perf_counter() - t))
            if query == "score":
                signs = np.sign(results)
                outcomes = "/".join(str(int(np.sum(signs == v))) for v in (1, 0, -1))
            ms = np.array(times)
            print(
                f"| {empty} | {query} | {np.median(ms):.1f} | {np.percentile(ms, 95):.1f} "
                f"| {ms.max():.1f} | {outcomes or ''} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
