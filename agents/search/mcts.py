"""Monte Carlo tree search: UCT (Kocsis & Szepesvari 2006) with random rollouts, and the
MCTS-Solver of Winands, Bjornsson & Saito 2008 (proven wins and losses back up the tree).

It searches any :class:`~sige_rl.agents.search.protocol.GameState`: positions that it steps
without touching the live game. Values are kept from the point of view of the player who made
the move into a node, so a parent picks the child that is best for the player to move there.
The solver assumes two players with opposite payoffs (``returns`` summing to zero); with it off
(``solver=False``) UCT handles any number of players.

Budget: ``simulations`` per move, or ``time_s`` seconds (whichever is given; both: whichever ends
first). ``search`` keeps the tree: the next call reuses the subtree of the position it is given
when that position is a child or grandchild of the last root (tree reuse between moves).

Speed (measured by ``scripts/bench/mcts_vs_openspiel.py``): a rollout asks the position for
``rollout_returns(rng)`` when it has one (the optional hook ``protocol.FastRollout``; the board
games play out on their raw bitboards, without a state object per move) and otherwise steps
``legal_actions``/``step`` itself; every random draw comes from a ``random.Random``, as a numpy
scalar draw costs about a microsecond and a Connect Four rollout makes some twenty; the solver
re-examines only the nodes above a newly proven one.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from sige_rl.agents.search.base import PlanningAgent
from sige_rl.agents.search.protocol import GameState

WIN, LOSS, DRAW = 1, -1, 0


@dataclass
class MCTSConfig:
    simulations: int = 1000
    """Simulations per move (0: only the time budget counts)."""
    time_s: float = 0.0
    """Seconds per move (0: only the simulation budget counts)."""
    exploration: float = 2.0
    """UCT's exploration constant c in ``Q + c sqrt(ln N / n)`` (payoffs in [-1, 1]; 2 is
    OpenSpiel's default; against perfect tic-tac-toe play, 1,000 simulations lost 1 game in 200
    at sqrt(2) and none at 2)."""
    solver: bool = True
    """Back up proven wins, losses and draws (two-player zero-sum games)."""
    reuse_tree: bool = True
    """Keep the subtree of the position reached between two searches."""


class Node:
    """One position. ``w`` sums the rollout payoffs of ``mover``, the player whose move led
    here; ``proven`` is WIN, LOSS or DRAW for ``mover`` once the solver knows it."""

    __slots__ = ("state", "parent", "mover", "children", "untried", "n", "w", "proven", "to_play")

    def __init__(self, state: GameState, parent: Node | None, mover: int):
        self.state, self.parent, self.mover = state, parent, mover
        self.children: dict[int, Node] = {}
        terminal = state.is_terminal()
        self.untried: list[int] = [] if terminal else list(state.legal_actions())
        self.to_play = -1 if terminal else state.current_player()
        self.n, self.w = 0, 0.0
        self.proven: int | None = None
        if terminal and mover >= 0:
            r = state.returns()[mover]
            self.proven = WIN if r > 0 else LOSS if r < 0 else DRAW

    def value(self) -> float:
        return self.w / self.n if self.n else 0.0


class MCTS:
    """UCT search with random rollouts, seeded by ``seed``.

    ``search(state)`` runs the budget from ``state`` and returns the action it would play:
    a child proven to win if there is one, else the most visited child that is not proven to
    lose. :attr:`root` holds the tree afterwards (visits, values, proofs) for inspection.
    """

    def __init__(self, config: MCTSConfig | None = None, seed: int = 0):
        self.config = config or MCTSConfig()
        if self.config.simulations <= 0 and self.config.time_s <= 0:
            raise ValueError("give simulations > 0 or time_s > 0")
        self.random = random.Random(seed)
        """Every draw of the search (the child to expand, the rollouts' moves): Python's
        generator, as a numpy scalar draw costs several times more."""
        self.root: Node | None = None
        self.simulations_done = 0

    # -- the search -------------------------------------------------------------------------------
    def search(self, state: GameState) -> int:
        if state.is_terminal():
            raise ValueError("the game is over: there is no move to search")
        self.root = self._reused_root(state) or Node(state, None, -1)
        c = self.config
        deadline = time.perf_counter() + c.time_s if c.time_s > 0 else math.inf
        done = 0
        while (c.simulations <= 0 or done < c.simulations) and time.perf_counter() < deadline:
            if c.solver and self.root.proven is not None:
                break  # the root is solved: more simulations change nothing
            self.simulate(self.root)
            done += 1
        self.simulations_done = done
        return self.best_action(self.root)

    def simulate(self, root: Node) -> None:
        """Select, expand one child, roll out at random, back up (and prove where possible)."""
        solver = self.config.solver
        node = root
        while not node.untried and node.children and node.proven is None:
            node = self.select(node)
        if node.untried and node.proven is None:
            untried = node.untried
            i = self.winning_move(node) if solver and not node.children else None
            if i is None:
                i = int(self.random.random() * len(untried))
            action = untried[i]
            untried[i] = untried[-1]
            untried.pop()
            child = Node(node.state.step(action), node, node.to_play)
            node.children[action] = child
            node = child
        if solver and node.proven is not None and node.mover >= 0:
            payoff = proven_payoff(node)  # exact: no rollout needed
        else:
            payoff = self.rollout(node.state)
        # A node's proof can change only when a child's just did (its untried moves and other
        # children are as they were at its last check), so the solver looks up the path only
        # while each node on it has a proof.
        check = solver and node.proven is not None
        while node is not None:
            node.n += 1
            if node.mover >= 0:
                node.w += payoff[node.mover]
            if check and node.proven is None:
                self.prove(node)
                check = node.proven is not None
            node = node.parent

    def winning_move(self, node: Node) -> int | None:
        """At a node's first expansion, the index in ``untried`` of a move that wins at once,
        if any: expanding it first proves the node (MCTS-Solver's terminal check, made before
        the random choice), so a trap is seen on the first visit rather than by chance. A
        position's own ``winning_actions`` answers it when it has them."""
        winning_actions = getattr(node.state, "winning_actions", None)  # protocol.WinningActions
        if winning_actions is not None:
            wins = winning_actions()
            return node.untried.index(wins[0]) if wins else None
        for i, action in enumerate(node.untried):
            after = node.state.step(action)
            if after.is_terminal() and after.returns()[node.to_play] > 0:
                return i
        return None

    def select(self, node: Node) -> Node:
        """UCT's child for the player to move at ``node``; with the solver, a proven win is
        taken at once and proven losses are passed over while anything else remains. An
        unvisited child scores infinity (the first one wins ties), as in UCT."""
        solver = self.config.solver
        log_n = math.log(node.n) if node.n > 0 else 0.0
        c, sqrt = self.config.exploration, math.sqrt
        best, best_score = None, -math.inf
        for ch in node.children.values():
            if solver and ch.proven is not None:
                if ch.proven == WIN:
                    return ch
                if ch.proven == LOSS:
                    continue
            n = ch.n
            score = ch.w / n + c * sqrt(log_n / n) if n else math.inf
            if score > best_score:
                best, best_score = ch, score
        if best is None:  # every child is a proven loss: UCT among them all
            return max(
                node.children.values(),
                key=lambda ch: ch.w / ch.n + c * sqrt(log_n / ch.n) if ch.n else math.inf,
            )
        return best

    def prove(self, node: Node) -> None:
        """MCTS-Solver's backup for ``node`` (values for ``node.mover``; its children's for the
        opponent, the player to move at ``node``): a child that wins for the opponent makes
        ``node`` a loss; all children expanded and lost for the opponent make it a win; all
        proven with the opponent's best a draw make it a draw."""
        if not node.children:
            return
        all_lost = all_proven = True
        for ch in node.children.values():
            if ch.proven == WIN:
                node.proven = LOSS
                return
            all_lost = all_lost and ch.proven == LOSS
            all_proven = all_proven and ch.proven is not None
        if node.untried:
            return
        if all_lost:
            node.proven = WIN
        elif all_proven:
            node.proven = DRAW

    def rollout(self, state: GameState) -> tuple[float, ...]:
        """Uniformly random moves to the end; the players' payoffs. A position that offers
        ``rollout_returns(rng)`` plays them out itself (the same distribution, faster)."""
        playout = getattr(state, "rollout_returns", None)
        if playout is not None:
            return playout(self.random)
        uniform = self.random.random
        while not state.is_terminal():
            legal = state.legal_actions()
            state = state.step(legal[int(uniform() * len(legal))])
        return state.returns()

    # -- choosing and reusing ---------------------------------------------------------------------
    def best_action(self, root: Node) -> int:
        kids = root.children
        if not kids:  # a budget too small to expand anything
            return int(root.untried[0])
        if self.config.solver:
            for action, ch in kids.items():
                if ch.proven == WIN:
                    return action
            safe = {a: ch for a, ch in kids.items() if ch.proven != LOSS}
            if safe:
                kids = safe
        return max(kids, key=lambda a: (kids[a].n, kids[a].value()))

    def _reused_root(self, state: GameState) -> Node | None:
        if not self.config.reuse_tree or self.root is None:
            return None
        frontier = [self.root]
        for _ in range(2):  # our move, then the opponent's
            frontier = [ch for node in frontier for ch in node.children.values()]
            for node in frontier:
                if node.state == state:
                    node.parent = None
                    return node
        return None

    def visits(self) -> dict[int, int]:
        """Visit counts of the root's children, by action."""
        return {a: ch.n for a, ch in (self.root.children.items() if self.root else ())}

    def __repr__(self) -> str:  # pragma: no cover - for interactive use
        return f"MCTS({self.config})"


class MCTSAgent(PlanningAgent):
    """UCT with the MCTS-Solver behind the agent front door: each ``act`` searches the position
    of the env it plays (``env.unwrapped.state``, a :class:`GameState`, as the board games
    offer) and returns the move; the observation is not read. The tree is kept between moves."""

    name = "mcts"
    Config = MCTSConfig

    def attach(self, env: gym.Env) -> None:
        if not isinstance(getattr(env.unwrapped, "state", None), GameState):
            raise ValueError(
                f"mcts searches a game position: it needs an env whose unwrapped.state has "
                f"legal_actions, step, is_terminal, returns and current_player (the board games "
                f"sige/TicTacToe-v0, sige/ConnectFour-v0); got {type(env.unwrapped).__name__}"
            )
        super().attach(env)
        if not hasattr(self, "search"):
            self.search = MCTS(self.config, seed=self.seed)

    def act(self, obs: Any, deterministic: bool = True) -> int:
        return self.search.search(self.env.unwrapped.state)


def proven_payoff(node: Node) -> tuple[float, float]:
    """The two players' payoffs at a proven node: its value for the mover, the negation for the
    other."""
    value = float(node.proven)
    return (value, -value) if node.mover == 0 else (-value, value)


def play(state: GameState, players: list[Any], max_moves: int = 10_000) -> tuple[float, ...]:
    """Play ``state`` to the end, ``players[p](state) -> action`` moving for player ``p``; the
    returns."""
    for _ in range(max_moves):
        if state.is_terminal():
            return state.returns()
        state = state.step(players[state.current_player()](state))
    raise RuntimeError(f"no end after {max_moves} moves")
