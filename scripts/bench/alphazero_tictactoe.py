"""AlphaZero on tic-tac-toe, over seeds: after its tuned budget (agents/hyperparams/alphazero.yaml,
about a minute on one core), does it ever lose to perfect play?

    python scripts/bench/alphazero_tictactoe.py [--seeds 5] [--steps N] [--workers 2]

Each seed trains with ``learn`` (``sige_rl.agents.make``, the tuned entry), then is judged two
ways against memoised minimax: every line in which the perfect player answers with any of its
optimal moves (the agent as either player; a mistake is a move that lowers the game's value for
the agent), and 200 games against the perfect player choosing at random among its optimal moves,
100 on each side. Exits 1 if a seed lost a game.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import gymnasium as gym
import numpy as np
import yaml


def train_and_judge(seed: int, steps: int | None, overrides: dict) -> dict:
    import torch

    torch.set_num_threads(1)
    import sige_rl.envs  # noqa: F401
    from sige_rl import agents
    from sige_rl.agents.common.config import tuned_job_options
    from sige_rl.agents.search.alphazero import batched_match
    from sige_rl.agents.search.minimax import Minimax
    from sige_rl.envs.board_games.tictactoe import TicTacToeState

    env_id = "sige/TicTacToe-v0"
    budget = steps or int(tuned_job_options("alphazero", env_id)["n_timesteps"])
    agent = agents.make("alphazero", gym.make(env_id), seed=seed, **overrides)
    start = time.perf_counter()
    agent.learn(budget)
    seconds = time.perf_counter() - start
    judged = [Minimax().mistakes(agent, TicTacToeState(), seat) for seat in (0, 1)]
    results = np.array(batched_match(TicTacToeState, agent.best_moves, Minimax(seed=seed), 200))
    return {
        "seed": seed,
        "seconds": seconds,
        "steps": agent.num_steps,
        "games": agent.num_episodes,
        "mistakes": len(judged[0][0]) + len(judged[1][0]),
        "positions": judged[0][1] + judged[1][1],
        "wins": int((results > 0).sum()),
        "draws": int((results == 0).sum()),
        "losses": int((results < 0).sum()),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--steps", type=int, default=None, help="default: the tuned n_timesteps")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a config field over the tuned entry (YAML value)")  # fmt: skip
    args = p.parse_args(argv)
    overrides = {k: yaml.safe_load(v) for k, _, v in (s.partition("=") for s in args.set)}
    print(f"# {' '.join(sys.argv)}")
    print(f"# {datetime.datetime.now():%Y-%m-%d %H:%M} {platform.node()} | {os.cpu_count()} cores")
    with ProcessPoolExecutor(args.workers) as pool:
        n = args.seeds
        rows = list(pool.map(train_and_judge, range(n), [args.steps] * n, [overrides] * n))
    for r in rows:
        print(
            f"seed {r['seed']}: {r['steps']} moves ({r['games']} games) in {r['seconds']:.0f} s | "
            f"mistakes {r['mistakes']} in {r['positions']} positions against every optimal reply | "
            f"vs perfect: {r['wins']} W {r['draws']} D {r['losses']} L"
        )
    lost = sum(r["losses"] for r in rows)
    clean = sum(r["mistakes"] == 0 for r in rows)
    print(f"{clean}/{len(rows)} seeds without a mistake; {lost} games lost in {200 * len(rows)}")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
