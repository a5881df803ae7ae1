"""AlphaZero on Connect Four against UCT: the score of trained runs, each side first in half the
games, with 100 simulations per move for AlphaZero and 1,000 for UCT (random rollouts, the
MCTS-Solver, tree reuse).

    python scripts/train_agent.py --env sige/ConnectFour-v0 --agent alphazero --seed 0  # train
    python scripts/bench/alphazero_connect_four.py RUN_DIR [RUN_DIR ...] [--games 200]

Each run is read from its ``final/`` (or its latest checkpoint) and its ``summary.json`` (the
training's wall time). AlphaZero's moves of all games are searched together (one network call per
simulation for every game where it is to move); each game has its own UCT, seeded by the game.
Prints wins, draws and losses with 95% intervals (Wilson's for the rates, the normal one for the
score = (wins + draws / 2) / games).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import sige_rl.envs  # noqa: F401  (registers the sige/ ids)
from sige_rl import agents
from sige_rl.agents.search.alphazero import batched_match
from sige_rl.agents.search.arena import checkpoint_folder, score_interval, wilson_interval
from sige_rl.agents.search.mcts import MCTS, MCTSConfig
from sige_rl.envs.board_games.connect_four import ConnectFourState


def judge(run: Path, games: int, simulations: int, mcts_simulations: int) -> dict:
    folder, _ = checkpoint_folder(run)
    agent = agents.load(folder, gym.make("sige/ConnectFour-v0"), eval_simulations=simulations)
    summary = (
        json.loads((run / "summary.json").read_text()) if (run / "summary.json").exists() else {}
    )
    uct = [
        MCTS(MCTSConfig(simulations=mcts_simulations), seed=10_000 + g).search for g in range(games)
    ]
    start = time.perf_counter()
    results = np.array(batched_match(ConnectFourState, agent.best_moves, uct, games))
    wins, draws, losses = (
        int((results > 0).sum()),
        int((results == 0).sum()),
        int((results < 0).sum()),
    )
    scores = (results + 1) / 2
    return {
        "run": str(run),
        "checkpoint": folder.name,
        "self_play_moves": agent.num_steps,
        "self_play_games": agent.num_episodes,
        "training_s": summary.get("wall_time_s"),
        "wins": wins,
        "draws": draws,
        "losses": losses,
        "score": float(scores.mean()),
        "score_ci": score_interval(scores.tolist()),
        "win_ci": wilson_interval(wins, games),
        "first": float(scores[0::2].mean()),
        "second": float(scores[1::2].mean()),
        "match_s": time.perf_counter() - start,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="run folders of alphazero on ConnectFour")
    p.add_argument("--games", type=int, default=200)
    p.add_argument("--simulations", type=int, default=100, help="AlphaZero's per move")
    p.add_argument("--mcts-simulations", type=int, default=1000, help="UCT's per move")
    args = p.parse_args(argv)
    if args.games < 2 or args.games % 2:
        p.error("--games must be even, so each side moves first in half")
    torch.set_num_threads(1)
    print(f"# {' '.join(sys.argv)}")
    print(
        f"# {datetime.datetime.now():%Y-%m-%d %H:%M} {platform.node()} | {os.cpu_count()} cores | "
        f"python {platform.python_version()} | torch {torch.__version__}"
    )
    for run in args.runs:
        r = judge(run, args.games, args.simulations, args.mcts_simulations)
        train = f"{r['training_s'] / 60:.0f} min" if r["training_s"] else "?"
        print(
            f"{r['run']} ({r['checkpoint']}; {r['self_play_moves']:,} self-play moves, "
            f"{r['self_play_games']:,} games, trained {train}): "
            f"{r['wins']} W {r['draws']} D {r['losses']} L | score {r['score']:.3f} "
            f"[{r['score_ci'][0]:.3f}, {r['score_ci'][1]:.3f}] (first {r['first']:.3f}, "
            f"second {r['second']:.3f}) | win rate CI [{r['win_ci'][0]:.3f}, {r['win_ci'][1]:.3f}]"
            f" | match {r['match_s']:.0f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
