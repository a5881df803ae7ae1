"""Matches between two players of a board game (``scripts/arena.py``): each side moves first in
half the games, and the summary gives wins, draws and losses with 95% confidence intervals.

A *player* is a callable ``(state) -> action`` on a board game's position (a
:class:`~sige_rl.agents.search.protocol.GameState`). :func:`parse_spec` turns a command-line spec
into a :class:`PlayerSpec`, which builds a fresh player for each game (with that game's seed, so
that seeded players vary from game to game and carry nothing, such as a search tree, from one
game into the next):

- ``random``: uniform over the legal moves;
- ``perfect``: perfect play by minimax (tic-tac-toe only), a random one of the best moves;
- ``solver:fallback=mcts`` (or ``fallback=random``): the Connect Four endgame solver, perfect
  once few cells are left (its ``max_empty``) and the fallback until then, since it refuses
  bigger positions; its other settings (``max_empty``, ``exact``) go with the same syntax;
- ``mcts`` or ``mcts:simulations=200,exploration=1.4``: UCT with the MCTS-Solver, the fields of
  :class:`~sige_rl.agents.search.mcts.MCTSConfig` (the search that the agent ``mcts`` runs);
- any registered agent, ``NAME`` or ``NAME:key=value,...`` (built by ``sige_rl.agents.make`` on
  the game's env with the game's seed, its config fields as overrides);
- the path of a run folder (its ``final/``, else its latest checkpoint) or of a checkpoint
  folder, optionally ``PATH:key=value,...`` (loaded by ``sige_rl.agents.load``, afresh for each
  game but with the seed it was saved with: the load takes no seed).

A game is named by its env id (:data:`GAME_IDS`) and its state class read off the env's
``unwrapped.state`` (:func:`game_class`): this layer never imports ``sige_rl.envs``, and imports it
by name, as ``--env sige/...`` of the training command does, only to register the ids.

Agents play through :class:`AgentPlayer`: the position is put into a private env of the game and
the agent acts on it as it would in training, so search agents (which read
``env.unwrapped.state``) and learned ones (which read the observation) both work. An agent's
move is checked: an illegal move loses that game, and the summary counts such losses apart.

Intervals (at ``confidence``, 0.95 by default): the win, draw and loss rates get Wilson score
intervals (never outside [0, 1], sound at rates near 0 or 1 where the normal approximation is
not); the score, ``(wins + draws / 2) / games``, gets the normal interval of the mean of the
per-game scores (1, 1/2, 0) with their sample standard deviation, clipped to [0, 1]. That
interval has zero width when every game ended alike; the rates' Wilson intervals then say how
sure the result is.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import functools
import inspect
import json
import math
import re
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import yaml

from sige_rl.agents.common import registry
from sige_rl.agents.search.mcts import MCTS, MCTSConfig
from sige_rl.agents.search.minimax import Minimax
from sige_rl.agents.search.protocol import GameState, Planner
from sige_rl.agents.training.cli import check_env_id
from sige_rl.supervised.checkpoint import CheckpointError
from sige_rl.supervised.config import ConfigError, parse_sets, resolve
from sige_rl.supervised.tracking import Run

Player = Callable[[GameState], int]

#: The env id of each game (the agents' env: their tuned settings and checkpoints are per id).
GAME_IDS: dict[str, str] = {"tictactoe": "sige/TicTacToe-v0", "connect_four": "sige/ConnectFour-v0"}
GAME_TITLES: dict[str, str] = {"tictactoe": "tic-tac-toe", "connect_four": "Connect Four"}
#: The players that are not agents of the registry.
BUILT_IN = ("random", "perfect", "solver", "mcts")


class ArenaError(ValueError):
    """A player spec that names no player or cannot be built, or a player that fails to move."""


# -- players --------------------------------------------------------------------------------------
class RandomPlayer:
    """Uniform over the legal moves, seeded."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def __call__(self, state: GameState) -> int:
        legal = state.legal_actions()
        return legal[int(self.rng.integers(len(legal)))]


class AgentPlayer:
    """An agent of the front door (``sige_rl.agents``) as a player: to move at ``state`` it puts
    the position into its own env of the game (the agent's side to move), attaches a planner to
    that env and asks for a deterministic action on the observation the env would give the
    agent there (its stones first), with the legal moves as its action mask when it takes one."""

    def __init__(self, agent: Any, env: gym.Env):
        self.agent = agent
        self.env = env

    def __call__(self, state: GameState) -> int:
        player = state.current_player()
        self.env.unwrapped.restore_state((state, player, False))
        if isinstance(self.agent, Planner):
            self.agent.attach(self.env)
        obs = state.planes(player)
        if self.agent.supports_action_masks:  # the legal moves, as the env would give them
            mask = np.zeros(self.env.action_space.n, bool)
            mask[list(state.legal_actions())] = True
            action = self.agent.act(obs, deterministic=True, action_mask=mask)
        else:
            action = self.agent.act(obs, deterministic=True)
        return int(np.asarray(action).item())


def game_id(game: str) -> str:
    """The env id of ``game``, registered (``sige_rl.envs`` imported by name on first need)."""
    return check_env_id(GAME_IDS[game])


@functools.cache
def game_class(game: str) -> type[GameState]:
    """The state class of ``game``: its instances are positions and ``game_class(game)()`` is
    the empty board. Read off the game's env, whose ``unwrapped.state`` is a position."""
    env = gym.make(game_id(game))
    try:
        return type(env.unwrapped.state)
    finally:
        env.close()


def game_env(game: str) -> gym.Env:
    """A fresh env of ``game`` for an agent to play in (reset, so that wrappers let it step)."""
    env = gym.make(game_id(game))
    env.reset(seed=0)
    return env


@dataclass(frozen=True)
class PlayerSpec:
    """A parsed player spec: ``build(seed)`` makes a fresh player; ``label`` names it in tables."""

    text: str
    label: str
    build: Callable[[int], Player]


def parse_spec(text: str, game: str) -> PlayerSpec:
    """The player that ``text`` names for ``game`` (the module docstring lists the forms). The
    spec is built once here, so that a bad field or checkpoint fails before any game is played;
    :class:`ArenaError` with the reason (and close names for a misspelt one) otherwise."""
    if game not in GAME_IDS:
        raise ArenaError(f"unknown game {game!r}: one of {', '.join(GAME_IDS)}")
    text = text.strip()
    if Path(text).expanduser().exists():
        name, options = text, ""
    else:
        name, _, options = text.partition(":")
    try:
        overrides = parse_options(options)
    except ConfigError as e:
        raise ArenaError(f"player {text!r}: {e}") from None
    path = Path(name).expanduser()
    if path.exists() or looks_like_path(name):
        spec = path_spec(text, path, game, overrides)
    elif name in BUILT_IN:
        spec = built_in_spec(text, name, game, overrides)
    elif name in registry.AGENTS:
        spec = agent_spec(text, name, game, overrides)
    else:
        known = [*BUILT_IN, *(n for n in registry.AGENTS if n not in BUILT_IN)]
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ArenaError(
            f"unknown player {name!r}{hint} (players: {', '.join(known)}, or the path of a run "
            f"or checkpoint folder)"
        )
    try:
        spec.build(0)
    except ArenaError:
        raise
    except (ConfigError, CheckpointError, TypeError, ValueError) as e:
        raise ArenaError(f"player {text!r}: {e}") from e
    return spec


def parse_options(options: str) -> dict[str, Any]:
    """``"simulations=200,exploration=1.4"`` -> ``{"simulations": 200, "exploration": 1.4}``:
    values read as YAML, as ``--set`` reads them; a comma splits only before ``key=``, so a list
    value such as ``net_arch=[64,64]`` stays whole."""
    if not options.strip():
        return {}
    pairs = re.split(r",(?=\s*[A-Za-z_]\w*\s*=)", options)
    for pair in pairs:
        if "=" not in pair or not pair.partition("=")[0].strip():
            raise ConfigError(f"settings are key=value pairs joined by commas; got {pair!r}")
    return parse_sets(pairs)


def looks_like_path(name: str) -> bool:
    return "/" in name or "\\" in name or name.startswith((".", "~"))


def built_in_spec(text: str, name: str, game: str, overrides: dict[str, Any]) -> PlayerSpec:
    if name in ("random", "perfect") and overrides:
        raise ArenaError(f"player {name!r} has no settings; got {', '.join(overrides)}")
    if name == "random":
        return PlayerSpec(text, "random", RandomPlayer)
    if name == "perfect":
        if game != "tictactoe":
            raise ArenaError(
                f"perfect (minimax over the whole game) plays tic-tac-toe only, not "
                f"{GAME_TITLES[game]}; there, try 'solver' (exact near the end) or 'mcts'"
            )
        table: dict = {}  # the values of positions, the same for every game: searched once

        def perfect(seed: int) -> Player:
            m = Minimax(seed)
            m.table = table
            return m

        return PlayerSpec(text, "perfect", perfect)
    if name == "solver":
        if game != "connect_four":
            raise ArenaError(
                f"solver is Connect Four's endgame solver, not {GAME_TITLES[game]}'s; for "
                f"perfect tic-tac-toe use 'perfect'"
            )
        return solver_spec(text, overrides)
    try:
        config = resolve(MCTSConfig, (f"player {text!r}", overrides))
    except ConfigError as e:
        raise ArenaError(str(e)) from None
    return PlayerSpec(text, text, lambda seed: MCTS(config, seed=seed).search)


def solver_spec(text: str, overrides: dict[str, Any]) -> PlayerSpec:
    """The Connect Four solver, with its own settings (``max_empty``, ``exact``, ...) and the
    arena's ``fallback``: ``random`` or ``mcts`` (default settings) to play while the position
    has more than ``max_empty`` empty cells, where the solver refuses. Without one the solver
    cannot play from the empty board, so the spec is refused unless ``max_empty`` covers it."""
    settings = dict(overrides)
    fallback = settings.pop("fallback", None)
    if fallback not in (None, "random", "mcts"):
        raise ArenaError(f"solver's fallback must be random or mcts, not {fallback!r}")
    try:  # imported on use: only Connect Four matches need it
        from sige_rl.agents.search.connect_four_solver import ConnectFourSolver
    except ImportError as e:
        raise ArenaError(f"the Connect Four solver is not available: {e}") from e
    known = [k for k in inspect.signature(ConnectFourSolver).parameters if k != "seed"]
    for key in settings:
        if key not in known:
            raise ArenaError(
                f"unknown setting {key!r} for solver (settings: {', '.join(known)}, fallback)"
            )

    try:
        probe = ConnectFourSolver(seed=0, **settings)
    except (TypeError, ValueError) as e:
        raise ArenaError(f"player {text!r}: {e}") from e
    connect_four = game_class("connect_four")
    cells = connect_four.ROWS * connect_four.COLS
    if fallback is None and probe.max_empty < cells:
        raise ArenaError(
            f"solver solves only positions with at most max_empty={probe.max_empty} empty "
            f"cells, so it cannot play an opening: add fallback=mcts or fallback=random to play "
            f"until then (solver:fallback=mcts), or max_empty={cells} to solve from the start "
            f"(very slow)"
        )

    def build(seed: int) -> Player:
        solver = ConnectFourSolver(seed=seed, **settings)
        if fallback is None:
            return solver
        before = RandomPlayer(seed) if fallback == "random" else MCTS(seed=seed).search
        return EndgamePlayer(solver, before, solver.max_empty)

    return PlayerSpec(text, text, build)


class EndgamePlayer:
    """``endgame`` once at most ``max_empty`` cells are empty, ``before`` until then."""

    def __init__(self, endgame: Player, before: Player, max_empty: int):
        self.endgame, self.before, self.max_empty = endgame, before, max_empty

    def __call__(self, state: GameState) -> int:
        empty = state.ROWS * state.COLS - state.num_moves
        return (self.endgame if empty <= self.max_empty else self.before)(state)


def agent_spec(text: str, name: str, game: str, overrides: dict[str, Any]) -> PlayerSpec:
    def build(seed: int) -> Player:
        env = game_env(game)
        return AgentPlayer(registry.make(name, env, seed=seed, **overrides), env)

    return PlayerSpec(text, text, build)


def path_spec(text: str, path: Path, game: str, overrides: dict[str, Any]) -> PlayerSpec:
    source, note = checkpoint_folder(path)
    trained_on = run_env(source)
    if trained_on is not None and trained_on != GAME_IDS[game]:
        raise ArenaError(f"{path} was trained on {trained_on}, not {GAME_IDS[game]}")

    def build(seed: int) -> Player:  # a saved agent keeps its own seed
        env = game_env(game)
        return AgentPlayer(registry.load(source, env, **overrides), env)

    try:
        agent_name = json.loads((source / "meta.json").read_text()).get("agent", "?")
    except (OSError, ValueError, AttributeError):
        agent_name = "?"
    return PlayerSpec(text, f"{agent_name} ({path}{note})", build)


def checkpoint_folder(path: Path) -> tuple[Path, str]:
    """The checkpoint that ``path`` means: itself if it holds ``meta.json``, else the run
    folder's ``final/``, else its latest checkpoint (as ``scripts/evaluate.py`` picks); and a
    note that says which when it is not ``path`` itself."""
    if not path.is_dir():
        raise ArenaError(f"{path}: no such run or checkpoint folder")
    if (path / "meta.json").is_file():
        return path, ""
    saved = Run(path).last_saved()
    if saved is None or not (saved / "meta.json").is_file():
        raise ArenaError(
            f"{path} is neither a checkpoint (no meta.json) nor a run folder with final/ or a "
            f"checkpoint"
        )
    if saved.name == "final":
        return saved, ", final"
    return saved, f", unfinished: latest checkpoint {saved.name}"


def run_env(checkpoint: Path) -> str | None:
    """The env id in the ``config.yaml`` of the run that holds ``checkpoint`` (``final/`` or
    ``checkpoints/step_N/``), or None outside a run."""
    for folder in (checkpoint.parent, checkpoint.parent.parent):
        try:
            return str(yaml.safe_load((folder / "config.yaml").read_text())["options"]["env"])
        except (OSError, yaml.YAMLError, KeyError, TypeError):
            continue
    return None


# -- playing --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GameResult:
    """One game from A's side: ``outcome`` +1 (A won), 0 (draw) or -1 (A lost); ``illegal``:
    ``"a"`` or ``"b"`` when that side lost by an illegal move (``illegal_action``)."""

    game: int
    a_first: bool
    outcome: int
    moves: int
    illegal: str | None = None
    illegal_action: int | None = None


class PlayerFailed(Exception):
    """A player raised instead of moving: which seat, after how many moves, in which state."""

    def __init__(self, seat: int, moves: int, state: GameState, error: Exception):
        super().__init__(f"{type(error).__name__}: {error}")
        self.seat, self.moves, self.state = seat, moves, state


def play_game(
    state: GameState, players: Sequence[Player]
) -> tuple[tuple[float, ...], int, int | None, int | None]:
    """Play ``state`` to the end, ``players[p]`` moving for player ``p``: the returns, the
    number of moves played, and the player who made an illegal move (which ends the game as a
    loss for them, +1 to the other) with that move, or None; :class:`PlayerFailed` if a
    player raises."""
    moves = 0
    while not state.is_terminal():
        p = state.current_player()
        try:
            action = players[p](state)
        except Exception as e:
            raise PlayerFailed(p, moves, state, e) from e
        if action not in state.legal_actions():
            return ((-1.0, 1.0) if p == 0 else (1.0, -1.0)), moves, p, action
        state = state.step(action)
        moves += 1
    return state.returns(), moves, None, None


def play_match(
    game_cls: type[GameState],
    player_a: Player | PlayerSpec,
    player_b: Player | PlayerSpec,
    games: int,
    seed: int = 0,
    progress: Callable[[GameResult], None] | None = None,
) -> list[GameResult]:
    """``games`` games between A and B, A moving first in games 0, 2, 4, ... and B in the others,
    so that each side is first in exactly half. A :class:`PlayerSpec` is built afresh for each
    game, A's with seed ``seed + 2 i`` and B's with ``seed + 2 i + 1`` in game ``i`` (a game's
    seeds do not depend on how many games are played); a plain callable plays every game.
    :class:`ArenaError` if a player raises instead of moving."""
    if games < 2 or games % 2:
        raise ValueError(f"games must be even and > 0, so each side moves first in half: {games}")
    results = []
    for i in range(games):
        a = player_a.build(seed + 2 * i) if isinstance(player_a, PlayerSpec) else player_a
        b = player_b.build(seed + 2 * i + 1) if isinstance(player_b, PlayerSpec) else player_b
        a_first = i % 2 == 0
        a_seat = 0 if a_first else 1
        try:
            returns, moves, cheat, action = play_game(game_cls(), (a, b) if a_first else (b, a))
        except PlayerFailed as e:
            side, spec = ("A", player_a) if e.seat == a_seat else ("B", player_b)
            name = f" ({spec.label})" if isinstance(spec, PlayerSpec) else ""
            raise ArenaError(
                f"game {i}: {side}{name} failed to play move {e.moves + 1}: {e}\n{e.state}"
            ) from e
        illegal = None if cheat is None else ("a" if cheat == a_seat else "b")
        if isinstance(action, np.integer):  # plain ints, for JSON
            action = int(action)
        result = GameResult(i, a_first, int(np.sign(returns[a_seat])), moves, illegal, action)
        results.append(result)
        if progress is not None:
            progress(result)
    return results


# -- statistics -----------------------------------------------------------------------------------
def z_value(confidence: float) -> float:
    """The standard normal quantile of a two-sided ``confidence`` interval (1.96 at 0.95)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1): {confidence}")
    return statistics.NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a binomial proportion (Wilson 1927): the proportions p whose
    normal test against ``successes / n`` does not reject at ``confidence``. [0, 1] when n = 0."""
    if n == 0:
        return 0.0, 1.0
    z = z_value(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def score_interval(scores: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """The normal interval of the mean score: mean +/- z s / sqrt(n), s the sample standard
    deviation (n - 1), clipped to [0, 1]; [0, 1] with fewer than two games."""
    n = len(scores)
    if n < 2:
        return 0.0, 1.0
    mean = statistics.fmean(scores)
    half = z_value(confidence) * statistics.stdev(scores) / math.sqrt(n)
    return max(0.0, mean - half), min(1.0, mean + half)


@dataclass(frozen=True)
class Summary:
    """Wins, draws and losses of A over ``games`` games, with their intervals (``*_ci``);
    ``illegal_a`` of A's losses and ``illegal_b`` of its wins came from an illegal move."""

    games: int
    wins: int
    draws: int
    losses: int
    score: float
    win_ci: tuple[float, float]
    draw_ci: tuple[float, float]
    loss_ci: tuple[float, float]
    score_ci: tuple[float, float]
    illegal_a: int
    illegal_b: int


def summarize(results: Sequence[GameResult], confidence: float = 0.95) -> Summary:
    n = len(results)
    wins = sum(r.outcome > 0 for r in results)
    draws = sum(r.outcome == 0 for r in results)
    losses = n - wins - draws
    scores = [(r.outcome + 1) / 2 for r in results]
    return Summary(
        games=n,
        wins=wins,
        draws=draws,
        losses=losses,
        score=statistics.fmean(scores) if n else math.nan,
        win_ci=wilson_interval(wins, n, confidence),
        draw_ci=wilson_interval(draws, n, confidence),
        loss_ci=wilson_interval(losses, n, confidence),
        score_ci=score_interval(scores, confidence),
        illegal_a=sum(r.illegal == "a" for r in results),
        illegal_b=sum(r.illegal == "b" for r in results),
    )


@dataclass(frozen=True)
class MatchSummary:
    """A match's :class:`Summary` over all games and split by who moved first."""

    overall: Summary
    a_first: Summary
    b_first: Summary
    confidence: float

    @classmethod
    def of(cls, results: Sequence[GameResult], confidence: float = 0.95) -> MatchSummary:
        return cls(
            summarize(results, confidence),
            summarize([r for r in results if r.a_first], confidence),
            summarize([r for r in results if not r.a_first], confidence),
            confidence,
        )


def summary_json(
    summary: MatchSummary, results: Sequence[GameResult], **about: Any
) -> dict[str, Any]:
    """What ``--json`` writes: ``about`` (game, players, seed), how the intervals are made, the
    three summaries (``all``, ``a_first``, ``b_first``) and every game (``results``)."""
    return {
        **about,
        "confidence": summary.confidence,
        "intervals": {"rates": "wilson", "score": "normal (sample std of per-game scores)"},
        "all": dataclasses.asdict(summary.overall),
        "a_first": dataclasses.asdict(summary.a_first),
        "b_first": dataclasses.asdict(summary.b_first),
        "results": [dataclasses.asdict(r) for r in results],
    }


def format_table(summary: MatchSummary, label_a: str, label_b: str) -> str:
    """The summary as a text table, from A's side, with the split by who moved first."""

    def cell(count: int, n: int, ci: tuple[float, float]) -> str:
        text = f"{count:>4} {100 * count / n:5.1f}% [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"
        return text.ljust(27)

    lines = [
        f"A: {label_a}",
        f"B: {label_b}",
        "",
        f"{'':<14}{'games':>5}  {'wins':<27}{'draws':<27}{'losses':<27}score",
    ]
    for name, s in (
        ("all", summary.overall),
        ("A moved first", summary.a_first),
        ("B moved first", summary.b_first),
    ):
        lines.append(
            f"{name:<14}{s.games:>5}  {cell(s.wins, s.games, s.win_ci)}"
            f"{cell(s.draws, s.games, s.draw_ci)}{cell(s.losses, s.games, s.loss_ci)}"
            f"{s.score:.3f} [{s.score_ci[0]:.3f}, {s.score_ci[1]:.3f}]"
        )
    lines += [
        "",
        f"From A's side. [..]: {100 * summary.confidence:g}% confidence intervals, Wilson's for "
        "the rates (in %), the normal one for the score = (wins + draws / 2) / games.",
    ]
    o = summary.overall
    if o.illegal_a or o.illegal_b:
        lines.append(
            f"Illegal moves, each losing its game: A {o.illegal_a} (among A's losses), "
            f"B {o.illegal_b} (among A's wins)."
        )
    return "\n".join(lines)


# -- the command line -----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="arena.py",
        description="Play two players of a board game against each other, each moving first in "
        "half the games; print wins, draws and losses of A with confidence intervals.",
        epilog="PLAYER: random | perfect (tic-tac-toe) | solver:fallback=mcts (Connect Four: "
        "perfect in the last max_empty=20 cells, mcts or random before) | mcts"
        "[:simulations=200,exploration=1.4,...] | a registered agent NAME[:field=value,...] | "
        "the path of a run folder (final/ or its latest checkpoint) or of a checkpoint folder"
        "[:field=value,...]. An agent's illegal move loses that game.",
    )
    p.add_argument("player_a", metavar="A", help="the first player")
    p.add_argument("player_b", metavar="B", help="the second player")
    game = p.add_mutually_exclusive_group()
    game.add_argument("--game", choices=list(GAME_IDS), help="the game (default: tictactoe)")
    game.add_argument("--env", choices=list(GAME_IDS.values()), help="the game by env id")
    p.add_argument("--games", type=int, default=100, help="games, even (default: 100)")
    p.add_argument("--seed", type=int, default=0, help="seed of game 0 (default: 0)")
    p.add_argument(
        "--confidence", type=float, default=0.95, help="of the intervals (default: 0.95)"
    )
    p.add_argument("--json", metavar="FILE", help="also write the summary and games as JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    game = args.game or {v: k for k, v in GAME_IDS.items()}.get(args.env, "tictactoe")
    if args.games < 2 or args.games % 2:
        parser.error(
            f"--games must be even and > 0, so each side moves first in half: {args.games}"
        )
    if not 0 < args.confidence < 1:
        parser.error(f"--confidence must be in (0, 1): {args.confidence}")
    try:
        a, b = parse_spec(args.player_a, game), parse_spec(args.player_b, game)
    except ArenaError as e:
        parser.error(str(e))
    print(
        f"{GAME_TITLES[game]}, {args.games} games (each side first in {args.games // 2}), "
        f"seed {args.seed}"
    )

    def progress(result: GameResult) -> None:  # a counter on a terminal, nothing in a log
        end = "\n" if result.game + 1 == args.games else ""
        print(f"\rgame {result.game + 1}/{args.games}", end=end, file=sys.stderr, flush=True)

    try:
        results = play_match(
            game_class(game), a, b, args.games, args.seed, progress if sys.stderr.isatty() else None
        )
    except ArenaError as e:
        print(f"{chr(10) if sys.stderr.isatty() else ''}arena: {e}", file=sys.stderr)
        return 1
    summary = MatchSummary.of(results, args.confidence)
    print(format_table(summary, a.label, b.label))
    if args.json:
        about = {"game": game, "player_a": a.text, "player_b": b.text, "seed": args.seed}
        data = summary_json(summary, results, **about)
        Path(args.json).write_text(json.dumps(data, indent=1) + "\n")
        print(f"Summary written to {args.json}")
    return 0
