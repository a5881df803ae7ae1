"""Our UCT with the MCTS-Solver against OpenSpiel's Python ``MCTSBot``, in one run: speed, then
a match.

    python scripts/bench/mcts_vs_openspiel.py [--game tictactoe|connect_four|both]
        [--games 200] [--simulations 1000] [--repeats 5] [--positions 8] [--skip-match]

Both sides search with the same budget: ``--simulations`` per move, one uniformly random rollout
per simulation, the solver on, exploration 2. OpenSpiel's side is
``MCTSBot(game, uct_c=2, max_simulations, RandomRolloutEvaluator(n_rollouts=1), solve=True)``
on OpenSpiel's own game; ours is ``agents/search/mcts.py`` on our bitboard states, and, as a
third column of the speed table, on OpenSpiel's states through ``agents/search/openspiel.py``
(the same game code as OpenSpiel's bot, so that column isolates the search itself).

Speed: simulations per second from ``--positions`` mid-game positions (fixed random openings)
and from the initial position as many times (seeds differ), each search from a fresh tree, in
``--repeats`` rounds with the sides alternating who runs first. A solver stops a search once the
root is proven, so each side counts the simulations it actually ran (ours:
``MCTS.simulations_done``; OpenSpiel's: the root's ``explore_count``, one per simulation, from
``MCTSBot.mcts_search``), and a round's rate is its simulations over its seconds; the table gives
the median over rounds, and how many searches stopped early.

Match: ``--games`` games per game, our MCTS first in the even-numbered ones, seeds varying per
game (ours ``10_000 + game``, OpenSpiel's RandomState ``20_000 + game`` for bot and evaluator,
as OpenSpiel's own examples share one). Ours keeps its tree between moves (``--no-reuse``: not).
Score: win 1, draw 0.5, with a 95% Wilson interval (the score taken as a proportion of games,
which overstates the spread when there are draws, so the interval is conservative).
Exits 1 if a target of the issue is missed (speed ratio >= 2, score >= 50%).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import math
import os
import platform
import random
import statistics
import sys
import time

GAMES = {"tictactoe": "tic_tac_toe", "connect_four": "connect_four"}
OPENING_MOVES = {"tictactoe": 2, "connect_four": 8}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--game", choices=[*GAMES, "both"], default="both")
    p.add_argument("--games", type=int, default=200, help="match games per game (even)")
    p.add_argument("--simulations", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=5, help="speed: rounds")
    p.add_argument("--positions", type=int, default=8, help="speed: mid-game positions")
    p.add_argument("--skip-match", action="store_true")
    p.add_argument("--no-reuse", action="store_true", help="our MCTS without tree reuse")
    args = p.parse_args(argv)
    if args.games < 2 or args.games % 2:
        p.error("--games must be even, so that each side moves first in half the games")

    import numpy as np
    import pyspiel
    from open_spiel.python.algorithms import mcts as spiel_mcts

    from sige_rl.envs.board_games import GAMES as BOARDS

    print("$ python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]))
    print(
        f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC} | "
        f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores | python "
        f"{platform.python_version()}, numpy {np.__version__}, open-spiel "
        f"{importlib.metadata.version('open-spiel')} | OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    bench = Bench(args, pyspiel, spiel_mcts, np)
    missed = []
    for name in GAMES if args.game == "both" else [args.game]:
        print(f"\n## {name}, {args.simulations} simulations a move")
        ratio = bench.speed(name, BOARDS[name])
        if ratio < 2:
            missed.append(f"{name} speed {ratio:.2f}x")
        if not args.skip_match:
            score = bench.match(name, BOARDS[name])
            if score < 0.5:
                missed.append(f"{name} score {score:.3f}")
    print("\ntargets (speed >= 2x, score >= 50%): " + ("met" if not missed else ", ".join(missed)))
    return 1 if missed else 0


class Bench:
    def __init__(self, args, pyspiel, spiel_mcts, np):
        self.args, self.pyspiel, self.spiel_mcts, self.np = args, pyspiel, spiel_mcts, np

    # -- the two players ----------------------------------------------------------------------
    def ours(self, seed: int, reuse: bool):
        from sige_rl.agents.search.mcts import MCTS, MCTSConfig

        return MCTS(MCTSConfig(simulations=self.args.simulations, reuse_tree=reuse), seed=seed)

    def theirs(self, game, seed: int):
        random_state = self.np.random.RandomState(seed)
        evaluator = self.spiel_mcts.RandomRolloutEvaluator(n_rollouts=1, random_state=random_state)
        return self.spiel_mcts.MCTSBot(
            game,
            uct_c=2,
            max_simulations=self.args.simulations,
            evaluator=evaluator,
            solve=True,
            random_state=random_state,
        )

    # -- (a) simulations per second --------------------------------------------------------------
    def speed(self, name: str, cls) -> float:
        from sige_rl.agents.search.openspiel import OpenSpielState

        game = self.pyspiel.load_game(GAMES[name])
        k = self.args.positions
        mid_game = [opening(cls, OPENING_MOVES[name], seed) for seed in range(k)]

        def run_ours(moves, seed):
            mcts, state = self.ours(seed, reuse=False), cls()
            for a in moves:
                state = state.step(a)
            t = time.perf_counter()
            mcts.search(state)
            return mcts.simulations_done, time.perf_counter() - t

        def run_adapter(moves, seed):
            mcts, state = self.ours(seed, reuse=False), game.new_initial_state()
            for a in moves:
                state.apply_action(a)
            t = time.perf_counter()
            mcts.search(OpenSpielState(state))
            return mcts.simulations_done, time.perf_counter() - t

        def run_theirs(moves, seed):
            bot, state = self.theirs(game, seed), game.new_initial_state()
            for a in moves:
                state.apply_action(a)
            t = time.perf_counter()
            root = bot.mcts_search(state)
            return root.explore_count, time.perf_counter() - t

        sides = {
            "ours": run_ours,
            "ours on OpenSpiel's states": run_adapter,
            "OpenSpiel": run_theirs,
        }
        for run in sides.values():  # warm up (imports, first allocations), untimed
            run([], 0)
        # the initial position k times (seeds differ), so that both rows time k searches
        rows = {f"initial x {k}": [[]] * k, f"{k} mid-game": mid_game}
        print(
            f"speed: median over {self.args.repeats} rounds of simulations/s "
            f"(simulations done / seconds, summed over a round's {k} searches; mid-game: "
            f"{OPENING_MOVES[name]} random moves, seeds 0-{k - 1})"
        )
        print("| positions | " + " | ".join(sides) + " | ratio ours/OpenSpiel | early stops |")
        print("|---" * (len(sides) + 3) + "|")
        ratios = []
        for label, positions in rows.items():
            rates: dict[str, list[float]] = {side: [] for side in sides}
            early = dict.fromkeys(sides, 0)
            for rep in range(self.args.repeats):
                order = list(sides) if rep % 2 == 0 else list(reversed(sides))
                for side in order:
                    done, seconds = 0, 0.0
                    for i, moves in enumerate(positions):
                        n, s = sides[side](moves, seed=1000 * rep + i)
                        done, seconds = done + n, seconds + s
                        early[side] += n < self.args.simulations
                    rates[side].append(done / seconds)
            medians = {side: statistics.median(r) for side, r in rates.items()}
            ratio = medians["ours"] / medians["OpenSpiel"]
            ratios.append(ratio)
            stops = ", ".join(f"{side} {early[side]}" for side in sides)
            print(
                f"| {label} | "
                + " | ".join(f"{medians[side]:,.0f}" for side in sides)
                + f" | **{ratio:.2f}x** | {stops} (of {len(positions) * self.args.repeats}) |"
            )
        return min(ratios)

    # -- (b) the match ----------------------------------------------------------------------------
    def match(self, name: str, cls) -> float:
        game = self.pyspiel.load_game(GAMES[name])
        n = self.args.games
        tally = {True: [0, 0, 0], False: [0, 0, 0]}  # ours first? -> wins, draws, losses
        start = time.perf_counter()
        for g in range(n):
            ours_first = g % 2 == 0
            mcts = self.ours(10_000 + g, reuse=not self.args.no_reuse)
            bot = self.theirs(game, 20_000 + g)
            ours_player = 0 if ours_first else 1
            state, spiel_state = cls(), game.new_initial_state()
            while not state.is_terminal():
                if state.current_player() == ours_player:
                    action = mcts.search(state)
                else:
                    action = bot.step(spiel_state)
                state = state.step(action)
                spiel_state.apply_action(action)
            if tuple(spiel_state.returns()) != state.returns() or not spiel_state.is_terminal():
                raise RuntimeError(f"the games disagree:\n{state}\n{spiel_state}")
            r = state.returns()[ours_player]
            tally[ours_first][0 if r > 0 else 1 if r == 0 else 2] += 1
            if (g + 1) % max(1, n // 10) == 0 or g + 1 == n:
                elapsed = time.perf_counter() - start
                print(
                    f"  {g + 1}/{n} games, {elapsed:.0f} s (about {elapsed / (g + 1) * n:.0f} s "
                    "for all)",
                    flush=True,
                )
        w, d, l_ = (tally[True][i] + tally[False][i] for i in range(3))
        score = (w + d / 2) / n
        low, high = wilson(score, n)
        print(
            f"match: {n} games, our MCTS first in {n // 2} | {'no ' * self.args.no_reuse}tree "
            "reuse for ours"
        )
        print("| ours moves | wins | draws | losses | score |")
        print("|---|---|---|---|---|")
        for first, label in ((True, "first"), (False, "second")):
            wi, dr, lo = tally[first]
            print(f"| {label} | {wi} | {dr} | {lo} | {(wi + dr / 2) / (n // 2):.3f} |")
        print(f"| both | {w} | {d} | {l_} | **{score:.3f}** (95% CI {low:.3f}-{high:.3f}) |")
        return score


def opening(cls, moves: int, seed: int) -> list[int]:
    """``moves`` uniformly random moves from ``seed`` that leave the game undecided."""
    rng = random.Random(seed)
    while True:
        state, played = cls(), []
        for _ in range(moves):
            a = rng.choice(state.legal_actions())
            state, played = state.step(a), [*played, a]
            if state.is_terminal():
                break
        if not state.is_terminal():
            return played


def wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson's score interval for a proportion ``p`` of ``n``."""
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


if __name__ == "__main__":
    sys.exit(main())
