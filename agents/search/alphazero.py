"""AlphaZero (Silver et al. 2018) for the two-player board games: a policy-value network guides
PUCT (``puct.py``), self-play with that search makes the training data, and the network learns to
predict the search's move distribution and the game's outcome.

One iteration, the unit between two safe points (a checkpoint there resumes exactly):

1. **Self-play.** ``parallel_games`` games are played to the end together; every move of every
   game is one more batch of simulations in one :class:`~sige_rl.agents.search.puct.PUCT`, so a
   network call evaluates a leaf of each game at once. The root gets Dirichlet noise; the first
   ``temperature_moves`` moves of a game are drawn in proportion to the visits (temperature 1),
   later ones take the most visited move. The subtree of the move played is kept for the next.
2. **Replay.** Each position is stored with the search's visit distribution and the final result
   for the player to move there, or the position's exact value where the search proved it (the
   solver's value is the truth; the result of a game that went on with exploring moves is not);
   the buffer keeps the last ``replay_size`` positions.
3. **Training.** ``ceil(sample_reuse * new positions / batch_size)`` steps of AdamW on
   cross-entropy(policy, visits) + MSE(value, result), mirrored boards at random (``augment``).

The network reads the position as planes (``state.planes(player to move)``: its stones, the
opponent's), so it needs the board games' states (``sige/TicTacToe-v0``, ``sige/ConnectFour-v0``).
``network``: ``"resnet"``, the residual tower of :class:`~sige_rl.supervised.cnn.ResNet` with
AlphaZero's two heads, or ``"mlp"`` (:class:`~sige_rl.supervised.mlp.MLP`, enough for
tic-tac-toe).

Counters: ``num_steps`` counts self-play moves, ``num_episodes`` self-play games. Every
``reference_every`` iterations the agent plays ``reference_games`` games against a random player
and against UCT (``reference_mcts_simulations``), half of them first, and logs its win rates
and scores (``eval/win_rate_random``, ``eval/score_mcts``, ...: a score counts a draw as half a
win).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sige_rl.agents.common.interface import (
    Callback,
    build_config,
    checkpoint_meta,
    open_checkpoint,
    restore_counters,
)
from sige_rl.agents.search.mcts import MCTS, MCTSConfig
from sige_rl.agents.search.protocol import GameState
from sige_rl.agents.search.puct import PUCT, PUCTNode, policy_from_visits
from sige_rl.supervised import GlobalRNGStreams, flush_denormals, resolve_device
from sige_rl.supervised.checkpoint import CheckpointError, load_tensors, save_state
from sige_rl.supervised.cnn import ResNet
from sige_rl.supervised.mlp import MLP


@dataclass
class AlphaZeroConfig:
    network: str = "resnet"
    """``resnet`` (a residual tower and AlphaZero's heads) or ``mlp``."""
    channels: int = 64
    """Filters of the residual tower."""
    blocks: int = 4
    """Residual blocks of the tower."""
    hidden: list[int] = field(default_factory=lambda: [128, 128])
    """Hidden widths of the ``mlp`` network."""
    simulations: int = 100
    """PUCT simulations per self-play move."""
    eval_simulations: int = 100
    """PUCT simulations per move when the agent plays (``act``, reference games)."""
    c_puct: float = 1.5
    """PUCT's weight of the prior against the values."""
    dirichlet_alpha: float = 1.0
    """Root noise concentration (AlphaZero: 0.3 for chess; about 10 / typical legal moves)."""
    dirichlet_fraction: float = 0.25
    """Share of the noise in the root's priors (AlphaZero's 0.25)."""
    temperature_moves: int = 10
    """Self-play moves per game drawn in proportion to the visits; the rest are the most visited."""
    parallel_games: int = 64
    """Self-play games per iteration, searched together (the network's batch size)."""
    replay_size: int = 100_000
    """Positions kept for training (the most recent)."""
    batch_size: int = 256
    sample_reuse: float = 4.0
    """Training steps per iteration: this many times the new positions, in batches."""
    learning_rate: float = 1e-3
    learning_rate_final: float | None = None
    """If set, the step size goes linearly to this over ``schedule_steps`` (the first budget)."""
    weight_decay: float = 1e-4
    win_check: bool = True
    """Value a position with a winning move +1 without the network (``puct.PUCT``)."""
    solver: bool = True
    """Back up proven wins, losses and draws in the search, as UCT's MCTS-Solver does, and
    never play a move proven to lose while another remains (``puct.PUCT``)."""
    augment: bool = True
    """Train on left-right mirrored positions at random (both games are symmetric)."""
    reference_every: int = 5
    """Iterations between matches against the reference players (0: never)."""
    reference_games: int = 20
    """Games per reference player and match, half of them as the first player."""
    reference_mcts_simulations: int = 200
    """UCT's simulations per move in the reference matches."""
    device: str = "auto"


class PolicyValueNet(nn.Module):
    """``(batch, 2, rows, cols)`` planes in; move logits ``(batch, num_actions)`` and values in
    [-1, 1] ``(batch,)`` out. With ``resnet``, AlphaZero's heads on the tower: policy ``conv 1x1
    (2) -> BN -> ReLU -> Linear``, value ``conv 1x1 (1) -> BN -> ReLU -> Linear(64) -> ReLU ->
    Linear(1) -> tanh``."""

    def __init__(self, in_shape: Sequence[int], num_actions: int, config: AlphaZeroConfig):
        super().__init__()
        c, h, w = in_shape
        if config.network == "resnet":
            self.body: nn.Module = ResNet(in_shape, config.channels, config.blocks).tower
            self.policy = nn.Sequential(
                nn.Conv2d(config.channels, 2, 1, bias=False),
                nn.BatchNorm2d(2),
                nn.ReLU(),
                nn.Flatten(),
                nn.Linear(2 * h * w, num_actions),
            )
            self.value = nn.Sequential(
                nn.Conv2d(config.channels, 1, 1, bias=False),
                nn.BatchNorm2d(1),
                nn.ReLU(),
                nn.Flatten(),
                nn.Linear(h * w, 64),
                nn.ReLU(),
                nn.Linear(64, 1),
                nn.Tanh(),
            )
        elif config.network == "mlp":
            mlp = MLP(c * h * w, config.hidden)
            self.body = nn.Sequential(nn.Flatten(), mlp)
            self.policy = nn.Linear(mlp.out_dim, num_actions)
            self.value = nn.Sequential(nn.Linear(mlp.out_dim, 1), nn.Tanh())
        else:
            raise ValueError(f"network must be 'resnet' or 'mlp', not {config.network!r}")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x)
        return self.policy(features), self.value(features).squeeze(-1)


def mirror_actions(game_cls: type) -> np.ndarray:
    """For each action, the action that mirrors it left to right: a column (Connect Four) or a
    cell ``row * cols + col`` (tic-tac-toe)."""
    rows, cols, n = game_cls.ROWS, game_cls.COLS, game_cls.NUM_ACTIONS
    a = np.arange(n)
    if n == cols:
        return cols - 1 - a
    if n == rows * cols:
        return (a // cols) * cols + (cols - 1 - a % cols)
    raise ValueError(f"no mirror for {game_cls.__name__}: {n} actions on {rows}x{cols}")


class Replay:
    """The last ``capacity`` positions: planes (uint8), visit distributions, results."""

    def __init__(self, capacity: int, obs_shape: Sequence[int], num_actions: int):
        self.capacity = capacity
        self.obs = np.zeros((capacity, *obs_shape), np.uint8)
        self.policy = np.zeros((capacity, num_actions), np.float32)
        self.value = np.zeros(capacity, np.float32)
        self.pos = self.size = 0

    def add(self, obs: np.ndarray, policy: np.ndarray, value: np.ndarray) -> None:
        n, keep = len(value), min(len(value), self.capacity)  # more than fit: the newest stay
        idx = (self.pos + n - keep + np.arange(keep)) % self.capacity
        self.obs[idx], self.policy[idx] = obs[-keep:], policy[-keep:]
        self.value[idx] = value[-keep:]
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, n: int, rng: np.random.Generator):
        idx = rng.integers(self.size, size=n)
        return self.obs[idx], self.policy[idx], self.value[idx]

    def state_arrays(self) -> dict[str, np.ndarray]:
        n = self.size  # the ring in order of age, oldest first
        order = np.arange(self.pos - n, self.pos) % self.capacity
        return {
            "replay/obs": self.obs[order],
            "replay/policy": self.policy[order],
            "replay/value": self.value[order],
        }

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.pos = self.size = 0
        self.add(arrays["replay/obs"], arrays["replay/policy"], arrays["replay/value"])


class AlphaZero:
    """AlphaZero behind the agent front door (module docstring). ``env`` is a board game env
    (its ``unwrapped.state`` gives the game); self-play never steps it."""

    name = "alphazero"
    Config = AlphaZeroConfig
    format_version = 1
    supports_vector_env = False
    supports_action_masks = False
    eval_epsilon = 0.0

    def __init__(self, env: gym.Env, seed: int = 0, config: Any = None, **overrides: Any):
        self.config = c = build_config(type(self), config, overrides)
        _check_config(c)
        self.seed = seed
        self.num_steps = self.num_episodes = self.total_steps = 0
        self.schedule_steps = None
        self.iterations = self.num_updates = 0
        self.env = env
        self.game_cls = _game_class(env)
        self.num_actions = self.game_cls.NUM_ACTIONS
        self.obs_shape = (2, self.game_cls.ROWS, self.game_cls.COLS)
        self.mirror = mirror_actions(self.game_cls)
        self.device = torch.device(resolve_device(c.device))
        self.rng = np.random.default_rng(seed)
        self.torch_rng = GlobalRNGStreams(seed)
        with self.torch_rng:
            self.net = PolicyValueNet(self.obs_shape, self.num_actions, c).to(self.device)
        self.net.eval()
        self.optimizer = torch.optim.AdamW(
            self.net.parameters(), lr=c.learning_rate, weight_decay=c.weight_decay
        )
        self.replay = Replay(c.replay_size, self.obs_shape, self.num_actions)
        self.puct = PUCT(self.evaluate, c.c_puct, c.win_check, c.solver)

    # -- the network as the search's evaluator ----------------------------------------------------
    def encode(self, states: Sequence[GameState]) -> np.ndarray:
        """The network's input: each state's planes for its player to move (its stones, the
        opponent's), from the game's batched ``planes_to_move``."""
        return self.game_cls.planes_to_move(states)

    @torch.no_grad()
    def evaluate(self, states: Sequence[GameState]) -> tuple[np.ndarray, np.ndarray]:
        """Priors (softmax over all actions; the search keeps the legal ones) and values of
        ``states`` for their players to move, in one network call."""
        x = self.encode(states)
        logits, values = self.net(torch.as_tensor(x, dtype=torch.float32, device=self.device))
        return torch.softmax(logits, dim=1).cpu().numpy(), values.cpu().numpy()

    def search(self, states: Sequence[GameState], simulations: int | None = None) -> list:
        """Search each of ``states`` (no noise) with ``simulations`` (default
        ``eval_simulations``) and return the roots, for their visit counts."""
        roots = [PUCTNode(s) for s in states]
        c = self.config
        self.puct.search(roots, c.eval_simulations if simulations is None else simulations)
        return roots

    def best_moves(self, states: Sequence[GameState]) -> list[int]:
        """Each state's move after its search: the most visited (the first of equals: no
        randomness), or with the solver a proven win, and never a proven loss if it can help."""
        return [root.actions[self.puct.best_move(root)] for root in self.search(states)]

    def __call__(self, state: GameState) -> int:
        """Play one move (a player for ``mcts.play`` and the arena)."""
        return self.best_moves([state])[0]

    # -- the agent front door ---------------------------------------------------------------------
    def attach(self, env: gym.Env) -> None:
        """Play the game of ``env`` from now on (``act`` reads ``env.unwrapped.state``)."""
        _game_class(env)
        self.env = env

    @flush_denormals()
    def act(self, obs: Any, deterministic: bool = True) -> int:
        """The move for the env's current position: the most visited after ``eval_simulations``
        (``deterministic``), or one drawn in proportion to the visits."""
        state = self.env.unwrapped.state
        root = self.search([state])[0]
        if deterministic:
            return root.actions[self.puct.best_move(root)]
        probs = policy_from_visits(root.visit_counts(self.num_actions), 1.0)
        return int(self.rng.choice(self.num_actions, p=probs))

    @flush_denormals()
    def learn(self, total_steps: int, run: Any = None, callback: Callback | None = None):
        """Iterate (self-play, replay, training) until ``num_steps`` self-play moves reach
        ``total_steps``; the end of each iteration is a safe point."""
        self.total_steps = int(total_steps)
        if self.schedule_steps is None:
            self.schedule_steps = self.total_steps
        callback = callback or Callback()
        with self.torch_rng:
            while self.num_steps < self.total_steps and callback.at_safe_point(self):
                self.iteration(run, callback)
        return self

    def iteration(self, run: Any = None, callback: Callback | None = None) -> dict[str, float]:
        """One round of self-play, then training; the statistics logged."""
        callback = callback or Callback()
        start, steps_before = time.perf_counter(), self.num_steps
        obs, policy, value, lengths = self.self_play(callback, run)
        self.replay.add(obs, policy, value)
        updates = math.ceil(self.config.sample_reuse * len(value) / self.config.batch_size)
        stats = self.train(updates)
        self.iterations += 1
        elapsed = time.perf_counter() - start
        stats.update(
            {
                "charts/SPS": (self.num_steps - steps_before) / max(elapsed, 1e-9),
                "charts/game_length": float(np.mean(lengths)),
                "charts/replay_size": float(self.replay.size),
                "charts/learning_rate": self.learning_rate,
            }
        )
        every = self.config.reference_every
        if every and self.iterations % every == 0:
            stats.update(self.reference_scores())
        if run is not None:
            run.log_scalars(stats, self.num_steps)
        return stats

    @property
    def learning_rate(self) -> float:
        """The step size now: ``learning_rate``, or on its way to ``learning_rate_final``."""
        c = self.config
        if c.learning_rate_final is None or not self.schedule_steps:
            return c.learning_rate
        frac = min(1.0, self.num_steps / self.schedule_steps)
        return c.learning_rate + frac * (c.learning_rate_final - c.learning_rate)

    # -- self-play --------------------------------------------------------------------------------
    def self_play(self, callback: Callback, run: Any = None):
        """Play ``parallel_games`` games together; their positions, visit distributions, results
        for the player to move, and game lengths."""
        c = self.config
        roots = [PUCTNode(self.game_cls()) for _ in range(c.parallel_games)]
        history: list[list[tuple[GameState, np.ndarray, int, float | None]]] = [[] for _ in roots]
        active = list(range(len(roots)))
        move = 0
        while active:
            self.puct.search(
                [roots[g] for g in active],
                c.simulations,
                noise=(c.dirichlet_alpha, c.dirichlet_fraction),
                rng=self.rng,
            )
            temperature = 1.0 if move < c.temperature_moves else 0.0
            for g in active:
                root = roots[g]
                counts = root.visit_counts(self.num_actions)
                history[g].append((root.state, counts / counts.sum(), root.to_play, root.proven))
                probs = policy_from_visits(counts, temperature)
                a = int(self.rng.choice(self.num_actions, p=probs))
                roots[g] = root.child(root.actions.index(a))  # the subtree stays
            self.num_steps += len(active)
            move += 1
            for g in [g for g in active if roots[g].terminal]:
                outcome = roots[g].state.returns()
                self.num_episodes += 1
                callback.on_episode(self, float(outcome[0]), len(history[g]))
                if run is not None:
                    run.log_scalars(
                        {
                            "charts/episodic_return": float(outcome[0]),
                            "charts/episodic_length": len(history[g]),
                        },
                        self.num_steps,
                    )
            active = [g for g in active if not roots[g].terminal]
            callback.on_step(self)
        states, policy, value, lengths = [], [], [], []
        for g, root in enumerate(roots):
            outcome = root.state.returns()
            lengths.append(len(history[g]))
            for state, pi, player, proven in history[g]:
                states.append(state)
                policy.append(pi)
                value.append(outcome[player] if proven is None else proven)
        obs = self.encode(states)
        return obs, np.array(policy, np.float32), np.array(value, np.float32), lengths

    # -- training ---------------------------------------------------------------------------------
    def train(self, updates: int) -> dict[str, float]:
        """``updates`` AdamW steps on replay batches; the mean losses."""
        c = self.config
        self.net.train()
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate
        totals = np.zeros(2)
        for _ in range(updates):
            obs, policy, value = self.replay.sample(min(c.batch_size, self.replay.size), self.rng)
            if c.augment:
                flip = self.rng.random(len(obs)) < 0.5
                obs = np.where(flip[:, None, None, None], obs[..., ::-1], obs)
                policy = np.where(flip[:, None], policy[:, self.mirror], policy)
            x = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
            pi = torch.as_tensor(policy, device=self.device)
            z = torch.as_tensor(value, device=self.device)
            logits, v = self.net(x)
            policy_loss = -(pi * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
            value_loss = F.mse_loss(v, z)
            self.optimizer.zero_grad()
            (policy_loss + value_loss).backward()
            self.optimizer.step()
            self.num_updates += 1
            totals += (policy_loss.item(), value_loss.item())
        self.net.eval()
        means = totals / max(updates, 1)
        return {"losses/policy_loss": means[0], "losses/value_loss": means[1]}

    # -- reference players ------------------------------------------------------------------------
    def reference_scores(self) -> dict[str, float]:
        """Win rates and scores (win 1, draw 1/2) against a random player and against UCT (a
        search per game), from fixed seeds: they never touch the agent's generators, so
        training goes on the same whether they run or not."""
        c = self.config
        seed = self.seed * 1_000_003 + self.iterations
        rng = np.random.default_rng(seed)

        def random_player(state: GameState) -> int:
            legal = state.legal_actions()
            return legal[int(rng.integers(len(legal)))]

        uct = MCTSConfig(simulations=c.reference_mcts_simulations)
        opponents = {
            "random": random_player,
            "mcts": [MCTS(uct, seed=seed + g).search for g in range(c.reference_games)],
        }
        stats = {}
        for name, opponent in opponents.items():
            results = np.asarray(
                batched_match(self.game_cls, self.best_moves, opponent, c.reference_games)
            )
            stats[f"eval/win_rate_{name}"] = float(np.mean(results > 0))
            stats[f"eval/score_{name}"] = float(np.mean((results + 1) / 2))
        return stats

    # -- checkpoints ------------------------------------------------------------------------------
    def save(self, path: Any) -> None:
        """Network, optimizer, replay, generators and counters: a resume goes on exactly."""
        meta = checkpoint_meta(
            self,
            iterations=self.iterations,
            num_updates=self.num_updates,
            rng=self.rng.bit_generator.state,
        )
        tensors = {
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "torch_rng": self.torch_rng.state_dict()["torch"],
        }
        save_state(path, meta, self.replay.state_arrays(), tensors)

    @classmethod
    def load(cls, path: Any, env: gym.Env, **overrides: Any) -> AlphaZero:
        meta, arrays, config = open_checkpoint(cls, path, overrides)
        tensors = load_tensors(path)
        try:
            agent = cls(env, seed=int(meta["seed"]), config=config)
            agent.net.load_state_dict(tensors["net"])
            agent.optimizer.load_state_dict(tensors["optimizer"])
            agent.torch_rng.load_state_dict({"torch": tensors["torch_rng"]})
            agent.replay.load_arrays(arrays)
            agent.rng.bit_generator.state = meta["rng"]
            agent.iterations = int(meta["iterations"])
            agent.num_updates = int(meta["num_updates"])
        except (KeyError, RuntimeError, ValueError, TypeError) as e:
            raise CheckpointError(f"{path} does not fit this AlphaZero and env: {e}") from e
        restore_counters(agent, meta)
        return agent


def batched_match(
    game_cls: type,
    ours: Callable[[Sequence[GameState]], list[int]],
    opponent: Callable[[GameState], int] | Sequence[Callable[[GameState], int]],
    games: int,
) -> list[float]:
    """Play ``games`` games at once, ``ours`` first in the even ones; our result in each (1, 0 or
    -1). ``ours`` chooses for all the games where it is to move in one call (a batched search,
    which ``arena.play_match``, one game after the other, cannot offer); ``opponent`` moves one
    game at a time: one callable for all, or one per game (a search that keeps its tree)."""
    opponents = [opponent] * games if callable(opponent) else list(opponent)
    states = [game_cls() for _ in range(games)]
    our_player = [g % 2 for g in range(games)]  # 0: we move first
    while True:
        live = [g for g in range(games) if not states[g].is_terminal()]
        if not live:
            break
        mine = [g for g in live if states[g].current_player() == our_player[g]]
        theirs = [g for g in live if states[g].current_player() != our_player[g]]
        if mine:
            for g, a in zip(mine, ours([states[g] for g in mine]), strict=True):
                states[g] = states[g].step(a)
        for g in theirs:
            states[g] = states[g].step(opponents[g](states[g]))
    return [states[g].returns()[our_player[g]] for g in range(games)]


def _game_class(env: gym.Env) -> type:
    state = getattr(env.unwrapped, "state", None)
    if not (isinstance(state, GameState) and hasattr(state, "planes_to_move")):
        raise ValueError(
            "alphazero plays board games: it needs an env whose unwrapped.state is a game position "
            "with planes_to_move (sige/TicTacToe-v0, sige/ConnectFour-v0); got "
            f"{type(env.unwrapped).__name__}"
        )
    return type(state)


def _check_config(c: AlphaZeroConfig) -> None:
    positive = ("simulations", "eval_simulations", "parallel_games", "replay_size", "batch_size")
    for name in positive:
        if getattr(c, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(c, name)}")
    if not 0 <= c.dirichlet_fraction <= 1:
        raise ValueError(f"dirichlet_fraction must be in [0, 1], got {c.dirichlet_fraction}")
    if c.dirichlet_alpha <= 0 or c.sample_reuse <= 0:
        raise ValueError("dirichlet_alpha and sample_reuse must be > 0")
