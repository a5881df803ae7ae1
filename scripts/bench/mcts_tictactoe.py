"""UCT with random rollouts against perfect tic-tac-toe play: does it ever lose?

    python scripts/bench/mcts_tictactoe.py [--games 100] [--simulations 1000] [--exploration 2]

``--games`` games on each side, each with its own seed for the MCTS (``1000 + game``) and for
the perfect player (memoised minimax choosing at random among its optimal moves, seed
``game``). Prints wins, draws and losses from the MCTS's side and its simulations per second;
exits 1 if it lost a game.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time

from sige_rl.agents.search.mcts import MCTS, MCTSConfig, play
from sige_rl.agents.search.minimax import Minimax
from sige_rl.envs.board_games.tictactoe import TicTacToeState


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--games", type=int, default=100)
    p.add_argument("--simulations", type=int, default=1000)
    p.add_argument("--exploration", type=float, default=2.0)
    args = p.parse_args(argv)
    print(f"# {datetime.date.today()} {platform.node()} | python {platform.python_version()}")
    lost = 0
    for side in (0, 1):
        tally = {"win": 0, "draw": 0, "loss": 0}
        sims, seconds = 0, 0.0
        for game in range(args.games):
            config = MCTSConfig(simulations=args.simulations, exploration=args.exploration)
            mcts, perfect = MCTS(config, seed=1000 + game), Minimax(seed=game)

            def searched(state, mcts=mcts):
                nonlocal sims, seconds
                t = time.perf_counter()
                action = mcts.search(state)
                seconds += time.perf_counter() - t
                sims += mcts.simulations_done
                return action

            players = [searched, perfect] if side == 0 else [perfect, searched]
            r = play(TicTacToeState(), players)[side]
            tally["win" if r > 0 else "loss" if r < 0 else "draw"] += 1
        lost += tally["loss"]
        print(
            f"MCTS as player {side}: {tally['win']} wins, {tally['draw']} draws, "
            f"{tally['loss']} losses | {sims / seconds:,.0f} simulations/s "
            "(the solver stops a search early once the root is proven)"
        )
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
