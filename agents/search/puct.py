"""PUCT: the tree search of AlphaZero (Silver et al. 2018, "A general reinforcement learning
algorithm that masters chess, shogi, and Go through self-play"), run on many trees at once so that
one batched network call serves a simulation of every tree.

A network call costs about as much for one position as for a hundred, so a search that asks for
one position per simulation spends its time in call overhead. :class:`PUCT` advances ``len(roots)``
trees together: each simulation descends every tree to a leaf, evaluates all the leaves in one
call of ``evaluate``, expands them and backs the values up. Self-play runs its parallel games
through one search this way; a single move is the same with one root.

Selection follows the paper: at a node, the child maximising

    Q(child) + c_puct * P(child) * sqrt(N(node)) / (1 + N(child))

where ``P`` is the network's prior over the legal moves, ``N`` are visit counts (a node's own
evaluation counts as its first visit, as in OpenSpiel's ``MCTSBot`` with ``PUCT``) and ``Q`` the
mean value of the child for the player choosing at the node (0 for an unvisited child, a draw's
value).
At the root, Dirichlet noise is mixed into ``P`` for exploration in self-play:
``(1 - fraction) * P + fraction * Dir(alpha)``.

``evaluate(states)`` returns ``(priors, values)``: ``priors[i]`` a probability per action (only
the legal ones are read, renormalised), ``values[i]`` the value in [-1, 1] of ``states[i]`` for its
player to move. Values at terminal positions come from ``returns`` instead. Two players with
opposite payoffs are assumed; the state is any :class:`~sige_rl.agents.search.protocol.GameState`.

``win_check`` (off by default, as in the paper) looks one move ahead when a node is expanded: a
position where the player to move can win at once is valued +1 without the network, and its
prior is put on that move. It costs a ``step`` per legal move and saves a network call where it
applies; it spares the network from learning the simplest tactic (and UCT's MCTS-Solver makes the
same check).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from sige_rl.agents.search.protocol import GameState

Evaluator = Callable[[Sequence[GameState]], tuple[np.ndarray, np.ndarray]]


class PUCTNode:
    """A position and the statistics of the moves out of it (kept on the parent, per edge).

    ``actions`` are the legal moves, ``priors`` their prior probabilities (set when the node is
    expanded), ``child_n`` / ``child_w`` each move's visits and summed value for the player to
    move here (``to_play``); ``children[i]`` is made when move ``i`` is first tried. ``proven``
    is the position's exact value for the player to move, once known.
    """

    __slots__ = ("state", "to_play", "terminal", "actions", "priors", "child_n", "child_w",
                 "children", "n", "proven")  # fmt: skip

    def __init__(self, state: GameState):
        self.state = state
        self.terminal = state.is_terminal()
        self.to_play = state.current_player()
        self.actions: list[int] = [] if self.terminal else list(state.legal_actions())
        self.priors: list[float] | None = None  # None until expanded
        k = len(self.actions)
        self.child_n = [0] * k
        self.child_w = [0.0] * k
        self.children: list[PUCTNode | None] = [None] * k
        self.n = 0  # simulations through this node
        # the exact value for the player to move, once known: at the end of the game, with a
        # winning move (``win_check``), or backed up by the solver
        self.proven: float | None = float(state.returns()[self.to_play]) if self.terminal else None

    @property
    def expanded(self) -> bool:
        return self.priors is not None

    def expand(self, priors: np.ndarray) -> None:
        """Keep the network's priors of the legal moves, renormalised (uniform if all are 0)."""
        p = np.asarray(priors, dtype=np.float64)[self.actions]
        total = p.sum()
        p = p / total if total > 0 else np.full(len(self.actions), 1.0 / len(self.actions))
        self.priors = p.tolist()

    def add_noise(self, noise: np.ndarray, fraction: float) -> None:
        """Mix Dirichlet noise (one draw per legal move) into the priors."""
        mixed = zip(self.priors, noise, strict=True)
        self.priors = [(1 - fraction) * p + fraction * x for p, x in mixed]

    def child(self, i: int) -> PUCTNode:
        node = self.children[i]
        if node is None:
            node = self.children[i] = PUCTNode(self.state.step(self.actions[i]))
        return node

    def visit_counts(self, num_actions: int) -> np.ndarray:
        """Visits per action, ``num_actions`` long (0 for the illegal ones)."""
        counts = np.zeros(num_actions, dtype=np.float64)
        counts[self.actions] = self.child_n
        return counts

    def q(self, i: int) -> float:
        """Mean value of move ``i`` for the player to move here (0 before its first visit)."""
        n = self.child_n[i]
        return self.child_w[i] / n if n else 0.0


class PUCT:
    """The batched search (module docstring). ``c_puct`` weighs the prior against the values."""

    def __init__(
        self,
        evaluate: Evaluator,
        c_puct: float = 1.5,
        win_check: bool = False,
        solver: bool = False,
    ):
        if c_puct < 0:
            raise ValueError(f"c_puct must be >= 0, got {c_puct}")
        self.evaluate = evaluate
        self.c_puct = c_puct
        self.win_check = win_check
        self.solver = solver
        self.evaluations = 0  # positions sent to evaluate, for speed reports

    def select(self, node: PUCTNode) -> int:
        """The index of the move PUCT picks at ``node`` (ties: the first). With the solver, a
        move proven to win is taken at once and moves proven to lose are passed over while
        another remains."""
        losing: set[int] | tuple = ()
        if self.solver:
            losing = set()
            for i, child in enumerate(node.children):
                if child is not None and child.proven is not None:
                    value = mover_value(node, child)
                    if value > 0:
                        return i
                    if value < 0:
                        losing.add(i)
            if len(losing) == len(node.actions):
                losing = ()  # every move loses: search them as if nothing were known
        scale = self.c_puct * math.sqrt(max(node.n, 1))
        best, best_score = 0, -math.inf
        for i, (p, n, w) in enumerate(zip(node.priors, node.child_n, node.child_w, strict=True)):
            if i in losing:
                continue
            score = (w / n if n else 0.0) + scale * p / (1 + n)
            if score > best_score:
                best, best_score = i, score
        return best

    def best_move(self, node: PUCTNode) -> int:
        """The index of the move to play after a search: the most visited (the first of
        equals); with the solver, a move proven to win, else the most visited of those not
        proven to lose."""
        candidates = range(len(node.actions))
        if self.solver:
            values = [
                None if ch is None or ch.proven is None else mover_value(node, ch)
                for ch in node.children
            ]
            if 1.0 in values:
                return values.index(1.0)
            safe = [i for i, v in enumerate(values) if v is None or v >= 0]
            candidates = safe or candidates
        return max(candidates, key=lambda i: node.child_n[i])

    def prove(self, node: PUCTNode, i: int) -> None:
        """After move ``i``'s position was proven: ``node`` wins if that move wins for the player
        to move here; once every move is proven, its value is the best of them."""
        value = mover_value(node, node.children[i])
        if value > 0:
            node.proven = value
        elif all(ch is not None and ch.proven is not None for ch in node.children):
            node.proven = max(mover_value(node, ch) for ch in node.children)

    def expand(self, nodes: Sequence[PUCTNode]) -> np.ndarray:
        """Expand ``nodes`` (not terminal) with one call of ``evaluate``; their values for the
        player to move at each."""
        values = np.ones(len(nodes))
        asked = list(range(len(nodes)))
        if self.win_check:
            asked = []
            for k, node in enumerate(nodes):
                i = winning_move(node)
                if i is None:
                    asked.append(k)
                else:  # won: exact, and only the winning move is worth searching
                    node.priors = [0.0] * len(node.actions)
                    node.priors[i] = 1.0
                    node.proven = 1.0
        if asked:
            priors, net_values = self.evaluate([nodes[k].state for k in asked])
            self.evaluations += len(asked)
            for k, p, v in zip(asked, priors, net_values, strict=True):
                nodes[k].expand(p)
                values[k] = v
        return values

    def search(
        self,
        roots: Sequence[PUCTNode],
        simulations: int,
        noise: tuple[float, float] | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        """Run ``simulations`` more simulations in every tree of ``roots`` (none terminal).

        ``noise=(alpha, fraction)`` mixes Dirichlet noise, drawn from ``rng``, into each root's
        priors first (once per call: the roots of a self-play move). A root already expanded by
        an earlier search (a reused subtree) keeps its statistics.
        """
        if any(root.terminal for root in roots):
            raise ValueError("a root is a finished game: there is no move to search")
        fresh = [root for root in roots if not root.expanded]
        self.expand(fresh)  # a root's own value moves no statistics: nothing is above it
        for root in fresh:
            root.n += 1  # its evaluation counts as its first visit, as for any other node
        if noise is not None:
            alpha, fraction = noise
            for root in roots:
                root.add_noise(rng.dirichlet([alpha] * len(root.actions)), fraction)
        for _ in range(simulations):
            self.simulate(roots)

    def simulate(self, roots: Sequence[PUCTNode]) -> None:
        """One simulation in every tree: descend to a leaf, evaluate the new leaves in one call,
        back up. With the solver, a proven position below the root is a leaf with its exact
        value (the root is searched all the same: its visits are the move's policy)."""
        paths: list[list[tuple[PUCTNode, int]]] = []
        leaves: list[PUCTNode] = []
        solver = self.solver
        for root in roots:
            node, path = root, []
            while node.expanded and not node.terminal:
                if solver and node.proven is not None and path:
                    break
                i = self.select(node)
                path.append((node, i))
                node = node.child(i)
            paths.append(path)
            leaves.append(node)
        new = [not leaf.terminal and not leaf.expanded for leaf in leaves]
        values = iter(self.expand([leaf for leaf, n in zip(leaves, new, strict=True) if n]))
        for path, leaf, is_new in zip(paths, leaves, new, strict=True):
            value = float(next(values)) if is_new else leaf.proven
            leaf.n += 1
            self.backup(path, leaf.to_play, value, solver and leaf.proven is not None)

    def backup(
        self, path: list[tuple[PUCTNode, int]], player: int, value: float, proven: bool = False
    ) -> None:
        """Add ``value`` (for ``player``) to every edge on ``path``, seen by the player choosing
        there: ``value`` for ``player``, ``-value`` for the opponent. ``proven``: the leaf's
        value is exact, and the solver looks up the path for positions it decides (only while
        each one below was decided: nothing else changed)."""
        for node, i in reversed(path):
            node.n += 1
            node.child_n[i] += 1
            node.child_w[i] += value if node.to_play == player else -value
            if proven and node.proven is None:
                self.prove(node, i)
                proven = node.proven is not None


def mover_value(node: PUCTNode, child: PUCTNode) -> float:
    """A proven child's value for the player to move at ``node``."""
    return child.proven if child.to_play == node.to_play else -child.proven


def winning_move(node: PUCTNode) -> int | None:
    """The index of a move that ends the game at once in a win for the player to move, if any
    (asked of the position when it has ``winning_actions``, ``protocol.WinningActions``)."""
    state, player = node.state, node.to_play
    winning_actions = getattr(state, "winning_actions", None)  # protocol.WinningActions
    if winning_actions is not None:
        wins = winning_actions()
        return node.actions.index(wins[0]) if wins else None
    for i, action in enumerate(node.actions):
        after = state.step(action)
        if after.is_terminal() and after.returns()[player] > 0:
            return i
    return None


def policy_from_visits(counts: np.ndarray, temperature: float) -> np.ndarray:
    """AlphaZero's move distribution: visits^(1/T), normalised; T = 0 puts all the mass on the
    most visited moves (shared equally)."""
    counts = np.asarray(counts, dtype=np.float64)
    if temperature == 0:
        best = counts == counts.max()
        return best / best.sum()
    scaled = counts ** (1.0 / temperature)
    return scaled / scaled.sum()
