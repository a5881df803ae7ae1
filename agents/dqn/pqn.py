"""Parallel Q-Networks, PQN (Gallici et al. 2024, "Simplifying Deep Temporal Difference Learning",
https://arxiv.org/abs/2407.04811): Q-learning from many environments at once, with neither a
replay buffer nor a target network.

Each iteration:

1. a rollout of ``rollout_steps`` vector steps in all ``num_envs`` sub-envs, actions
   epsilon-greedy (epsilon decays linearly over ``exploration_fraction`` of training);
2. Q(lambda) targets over the rollout, computed backwards by :func:`q_lambda` with the network
   as it stands after the rollout;
3. ``update_epochs`` passes over the rollout's ``rollout_steps x num_envs`` transitions, each in
   ``num_minibatches`` shuffled minibatches, regressing ``Q(s_t, a_t)`` on the targets (squared or
   Huber error), with RAdam or Adam, gradients clipped to ``max_grad_norm``.

LayerNorm in the network is what keeps targets bootstrapped from the network being trained
stable without a target network (the paper's analysis): the MLP has one after every hidden
Linear; the other backbones (CNNs, sequence models) get one on the features the Q head reads,
since their supervised/ bodies have no norm option (the paper's CNNs normalise after every layer).

Action masks (``info["action_mask"]`` or an ``action_masks()`` method, read by
:mod:`sige_rl.agents.common.masks`) are honoured in the three places DQN honours them: random and
greedy actions are legal ones, the greedy values the targets bootstrap from are maxima over the
next observation's legal actions (the rollout keeps each observation's mask, and a truncated
sub-env's final one), and evaluations act legally.

Two switches bring back what the paper removed, both off by default:

- ``target_network_every = K`` reads the targets' greedy values from a frozen copy of the network,
  refreshed every ``K`` iterations (1 is the same as none: the targets are computed before the
  iteration's updates either way, the only freezing plain PQN has).
- ``replay_rollouts = K`` keeps the last ``K`` rollouts besides the current one and learns from all
  of them. Their Q(lambda) targets are recomputed every iteration with the network of the moment
  (as Daley & Amato 2019, https://arxiv.org/abs/1810.09967, recompute lambda-returns over replayed
  blocks), so no target goes stale; each pass splits them all into minibatches of the usual size,
  ``num_minibatches`` per rollout held.

Not offered: Double or dueling heads, n-step returns (Q(lambda) takes their place), and
life-loss terminals.

Counting follows DQN: ``num_steps`` counts environment transitions over all sub-envs. ``learn``
runs whole iterations, so it ends at the first multiple of ``rollout_steps x num_envs`` at or
past its budget; the iteration boundary, after each update, is the safe point.

Terminated transitions do not bootstrap; truncated (time-limit) ones bootstrap from the real final
observation: finished sub-envs are reset explicitly right after the step that ended them, with the
final observation kept aside, so no transition crosses an episode boundary and each sub-env's
episode can be replayed on resume (see :mod:`sige_rl.agents.common.episodes`).
"""

from __future__ import annotations

import copy
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sige_rl.agents.common import masks
from sige_rl.agents.common.config import ConfigError
from sige_rl.agents.common.episodes import EpisodeLog
from sige_rl.agents.common.flat_params import flat_trainable, share_one_buffer
from sige_rl.agents.common.interface import (
    Callback,
    build_config,
    checkpoint_meta,
    open_checkpoint,
    restore_counters,
)
from sige_rl.agents.common.schedules import Scheduled
from sige_rl.agents.dqn.acting import QActing
from sige_rl.agents.dqn.dqn import QNetwork, as_vector_env
from sige_rl.supervised import GlobalRNGStreams, flush_denormals, resolve_device
from sige_rl.supervised.backbones import make_backbone
from sige_rl.supervised.checkpoint import CheckpointError, load_tensors, save_state
from sige_rl.supervised.numpy_forward import numpy_forward


@dataclass
class PQNConfig:
    gamma: float = 0.99
    """Discount factor."""
    q_lambda: float = 0.65
    """Lambda of the Q(lambda) targets: 0 bootstraps after one step; 1 sums discounted rewards to
    the episode's end, bootstrapping only where a truncation or the rollout's end cuts it."""
    learning_rate: float = 2.5e-4
    """Optimizer step size at the start of training."""
    learning_rate_final: float | None = 0.0
    """Step size at the end of training (linear decay, by default to 0 as in CleanRL's pqn.py);
    None keeps it constant."""
    optimizer: Literal["radam", "adam"] = "radam"
    """RAdam (Liu et al. 2020, as the paper's code and CleanRL use) or Adam."""
    rollout_steps: int = 128
    """Vector steps per iteration: each sub-env contributes this many transitions to a rollout
    (CleanRL's ``num_steps``; renamed so as not to be confused with the agent's step counter)."""
    update_epochs: int = 4
    """Passes over each rollout."""
    num_minibatches: int = 4
    """Minibatches per pass: the rollout's ``rollout_steps x num_envs`` transitions, shuffled and
    split into this many (sizes differ by at most one)."""
    epsilon: float = 1.0
    """Exploration probability at the start of training."""
    epsilon_final: float = 0.05
    """Exploration probability after ``exploration_fraction`` of training."""
    exploration_fraction: float = 0.5
    """Fraction of the step budget over which epsilon decays linearly."""
    eval_epsilon: float = 0.0
    """Exploration kept by evaluations; 0 plays the greedy policy, as the paper's code tests."""
    action_masks: bool = True
    """Honour the env's action masks when it offers them (``info["action_mask"]`` or an
    ``action_masks()`` method): random and greedy actions are legal ones, the bootstrapped values
    are maxima over the next observation's legal actions, and evaluations act legally."""
    loss: Literal["mse", "huber"] = "mse"
    """Error between ``Q(s_t, a_t)`` and its target: squared (the paper's) or Huber."""
    max_grad_norm: float = 10.0
    """Gradients are clipped to this global norm."""
    reward_scale: float = 1.0
    """Learn from ``reward_scale x r`` (the paper's code uses 0.1 on CartPole). Episode returns,
    ``charts/episodic_return`` and evaluations keep the raw score."""
    clip_rewards: bool = False
    """Learn from the sign of each reward (Atari), before ``reward_scale``; scores stay raw."""
    backbone: str = "auto"
    """Feature extractor from sige_rl.supervised.backbones: auto (a CNN for images: nature_cnn
    from 36x36 up, minatar_cnn below; else mlp), mlp, nature_cnn, impala_cnn, minatar_cnn,
    mnist_cnn, vgg, resnet (image observations), lstm, gru, transformer ((T, F) observations)."""
    net_arch: list[int] = field(default_factory=lambda: [120, 84])
    """Hidden widths of the MLP backbone (CleanRL's pqn.py: 120, 84)."""
    activation: str = "relu"
    """Activation of the MLP backbone."""
    layer_norm: bool = True
    """LayerNorm after each hidden Linear of the MLP (before its activation), or on the features
    of any other backbone. Without it PQN's bootstrapped targets can diverge."""
    target_network_every: int = 0
    """Iterations between copies of the network into a frozen target network, which the targets'
    greedy values are read from; 0 (the paper's PQN) keeps none and reads them from the network as
    it stands after the rollout (1 does the same, through a copy)."""
    replay_rollouts: int = 0
    """Past rollouts kept besides the current one and learned from again, their targets
    recomputed each iteration with the network of the moment; 0 (the paper's PQN) learns from
    the current rollout only. Memory grows by one rollout of observations per rollout kept."""
    device: str = "auto"
    """auto (CUDA when present), cpu or cuda."""


def q_lambda(
    rewards: np.ndarray,
    next_values: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    gamma: float,
    lam: float,
) -> np.ndarray:
    """Q(lambda) targets of a rollout: lambda-returns over greedy values, as the PQN paper's code
    and CleanRL's pqn.py compute them, backwards in time.

    All arguments are ``(T, N)`` arrays, row ``t`` the ``t``-th vector step of ``N`` sub-envs:
    ``rewards[t]`` the step's rewards; ``next_values[t]`` the greedy value ``max_a Q(s', a)`` of
    the observation ``s'`` the step led to (for a truncated step its real final observation; it
    is not read after a termination); ``terminated[t]`` and ``truncated[t]`` whether the step
    ended its episode, and how.

    Where the episode goes on within the rollout::

        G_t = r_t + gamma * (lam * G_{t+1} + (1 - lam) * next_values[t])

    and where it stops (a truncation, or the rollout's last row) ``G_t = r_t + gamma *
    next_values[t]``; after a termination ``G_t = r_t``. ``lam = 0`` gives one-step Q-learning
    targets, ``lam = 1`` the discounted rewards to the episode's end, bootstrapped only where a
    truncation or the rollout cuts it. Returns float32 ``(T, N)``.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    next_values = np.asarray(next_values, dtype=np.float64)
    terminated, truncated = np.asarray(terminated, bool), np.asarray(truncated, bool)
    shapes = {a.shape for a in (rewards, next_values, terminated, truncated)}
    if len(shapes) != 1 or rewards.ndim != 2:
        raise ValueError(f"q_lambda needs four (T, N) arrays of one shape, got {sorted(shapes)}")
    targets = np.empty_like(rewards)
    following = np.zeros(rewards.shape[1])  # G_{t+1}
    for t in reversed(range(len(rewards))):
        goes_on = ~(terminated[t] | truncated[t]) if t + 1 < len(rewards) else False
        mixed = lam * following + (1.0 - lam) * next_values[t]
        ahead = np.where(goes_on, mixed, next_values[t])
        following = targets[t] = rewards[t] + gamma * np.where(terminated[t], 0.0, ahead)
    return targets.astype(np.float32)


@dataclass
class Rollout:
    """One iteration's transitions, ``(T, N)`` rows of ``T`` vector steps in ``N`` sub-envs, and
    the observations their targets bootstrap from."""

    obs: np.ndarray
    """``(T, N, *obs_shape)``: the observation each step acted on."""
    actions: np.ndarray
    """``(T, N)`` int64, counted from 0."""
    rewards: np.ndarray
    """``(T, N)`` float32, as learned (after ``clip_rewards`` and ``reward_scale``)."""
    terminated: np.ndarray
    truncated: np.ndarray
    masks: np.ndarray | None = None
    """``(T, N, A)``: the legal actions at each observation; None when the env offers no masks."""
    after_obs: np.ndarray | None = None
    """``(N, *obs_shape)``: the observations after the last step."""
    after_mask: np.ndarray | None = None
    final_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """The step ``t`` of each truncation in the rollout; ``final_envs`` its sub-env."""
    final_envs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    final_obs: np.ndarray | None = None
    """The real final observation of each truncated episode (the sub-env was reset since)."""
    final_masks: np.ndarray | None = None

    FIELDS: ClassVar[tuple[str, ...]] = (
        "obs", "actions", "rewards", "terminated", "truncated", "masks", "after_obs",
        "after_mask", "final_steps", "final_envs", "final_obs", "final_masks",
    )  # fmt: skip

    @classmethod
    def empty(cls, T: int, N: int, space: gym.Space, n_actions: int, masked: bool) -> Rollout:
        return cls(
            obs=np.zeros((T, N, *space.shape), dtype=space.dtype),
            actions=np.zeros((T, N), dtype=np.int64),
            rewards=np.zeros((T, N), dtype=np.float32),
            terminated=np.zeros((T, N), dtype=bool),
            truncated=np.zeros((T, N), dtype=bool),
            masks=np.ones((T, N, n_actions), dtype=bool) if masked else None,
        )

    def keep_finals(self, finals: list[tuple]) -> None:
        """Store ``(t, envs, final observations, their masks or None)`` per step with
        truncations as flat arrays."""
        self.final_steps = np.array([t for t, envs, *_ in finals for _ in envs], np.int64)
        self.final_envs = np.concatenate([f[1] for f in finals] or [np.zeros(0, np.int64)])
        self.final_obs = np.concatenate([f[2] for f in finals]) if finals else None
        masked = finals and finals[0][3] is not None
        self.final_masks = np.concatenate([f[3] for f in finals]) if masked else None

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Its arrays for a checkpoint, named ``prefix + field`` (absent ones left out)."""
        return {prefix + k: getattr(self, k) for k in self.FIELDS if getattr(self, k) is not None}

    @classmethod
    def from_arrays(cls, arrays: Any, prefix: str) -> Rollout:
        return cls(**{k: np.array(arrays[prefix + k]) for k in cls.FIELDS if prefix + k in arrays})


class FeatureNorm(nn.Sequential):
    """A backbone followed by a LayerNorm over its ``out_dim`` features."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__(backbone, nn.LayerNorm(backbone.out_dim))
        self.out_dim: int = backbone.out_dim


class PQN(QActing, Scheduled):
    """Parallel Q-learning with Q(lambda) targets; hyperparameters in :class:`PQNConfig`.

    Args:
        env: a vector env (Gymnasium's Sync or Async, a native batched env taking
            ``options["reset_mask"]``) or a single env, with a ``Discrete`` action space.
        seed: seeds network initialisation, exploration, minibatch shuffling and every episode's
            reset seed.
    """

    name: ClassVar[str] = "pqn"
    Config: ClassVar[type] = PQNConfig
    format_version: ClassVar[int] = 1
    supports_vector_env: ClassVar[bool] = True
    supports_action_masks: ClassVar[bool] = True

    def __init__(self, env, seed: int = 0, config: PQNConfig | None = None, **overrides: Any):
        self.config = c = build_config(type(self), config, overrides)
        self.env = as_vector_env(env)
        obs_space, act_space = self.env.single_observation_space, self.env.single_action_space
        if not isinstance(act_space, gym.spaces.Discrete):
            raise ValueError(f"pqn needs a Discrete action space, got {act_space}")
        self.num_envs = self.env.num_envs
        check_config(c, self.num_envs)
        self.n_actions = int(act_space.n)
        self.action_start = int(act_space.start)
        self.seed = seed
        self.device = torch.device(resolve_device(c.device))

        # Initialisation draws from torch's global generator: give it a stream of the agent's
        # own, so building an agent leaves the caller's generator alone.
        self.torch_rng = GlobalRNGStreams(seed)
        with self.torch_rng:
            self.q = self._network(obs_space).to(self.device)
        # The frozen copy the targets read, when asked for (None: they read self.q).
        self.q_target: nn.Module | None = None
        if c.target_network_every:
            self.q_target = copy.deepcopy(self.q).requires_grad_(False)
            self._target_flat = share_one_buffer(list(self.q_target.parameters()))
        # As in DQN: the parameters live in one buffer and their gradients in another, so
        # clipping and the optimizer see one tensor each (RAdam's per-parameter bookkeeping in
        # Python otherwise costs more than its arithmetic on CPU).
        self._q_params, self._q_flat = flat_trainable(self.q)
        self._q_flat_grad = self._q_flat.grad
        # Acting scores one observation per sub-env per vector step: on CPU, numpy on views of
        # these parameters is several times faster than a torch call (numpy_forward's notes);
        # None (a CNN, a GPU) leaves acting to torch.
        self._numpy_scores = (
            numpy_forward(self.q.backbone, self.q.head) if self.device.type == "cpu" else None
        )
        if c.optimizer == "radam":
            self.optimizer = torch.optim.RAdam([self._q_flat], lr=c.learning_rate, foreach=False)
        else:
            self.optimizer = torch.optim.Adam([self._q_flat], lr=c.learning_rate, fused=True)

        # Masks honoured (the class's True) unless the config turns them off, evaluations too.
        self.supports_action_masks = c.action_masks
        self.rng = np.random.default_rng(seed)
        self.episodes = EpisodeLog(self.num_envs)
        # Another number after loading a checkpoint trained with other envs: the network acts,
        # but the sub-envs' episodes could not be restored for training on.
        self.trained_num_envs = self.num_envs
        self.obs: np.ndarray | None = None
        # The current observations' action masks, one row per sub-env; None when the env offers
        # none (found at the first reset).
        self.mask: np.ndarray | None = None
        self.episode_returns = np.zeros(self.num_envs)
        self.episode_lengths = np.zeros(self.num_envs, dtype=np.int64)
        self.num_steps = 0
        self.num_updates = 0
        self.num_iterations = 0
        self.num_episodes = 0
        self.total_steps = 0
        self.schedule_steps = None
        # The rollouts learned from: the current one last, after the ``replay_rollouts`` before
        # it. The oldest one's arrays are refilled by the next rollout.
        self.rollouts: deque[Rollout] = deque()

    @property
    def eval_epsilon(self) -> float:
        return self.config.eval_epsilon

    def _network(self, obs_space: gym.Space) -> QNetwork:
        c = self.config
        is_mlp = c.backbone == "mlp" or (
            c.backbone == "auto" and len(getattr(obs_space, "shape", ()) or ()) != 3
        )
        if is_mlp:
            norm = "layer" if c.layer_norm else None
            kw = {"hidden": tuple(c.net_arch), "activation": c.activation, "norm": norm}
            backbone = make_backbone(c.backbone, obs_space, **kw)
        else:  # the other backbones take their defaults and have no norm of their own
            backbone = make_backbone(c.backbone, obs_space)
            if c.layer_norm:
                backbone = FeatureNorm(backbone)
        return QNetwork(backbone, self.n_actions, dueling=False)

    # -- learning -------------------------------------------------------------------------------
    @flush_denormals()
    def learn(self, total_steps: int, run: Any = None, callback: Callback | None = None):
        """Train whole iterations (rollout, targets, updates) until ``num_steps`` reaches
        ``total_steps`` or ``callback.at_safe_point`` returns False (it is asked before each
        iteration). Returns ``self``."""
        if self.trained_num_envs != self.num_envs:
            raise CheckpointError(
                f"this agent was loaded from a checkpoint trained with {self.trained_num_envs} "
                f"envs onto {self.num_envs}: it can act and be evaluated, but training on needs "
                f"the episodes of {self.trained_num_envs} envs; load it with as many"
            )
        self.total_steps = int(total_steps)
        self.start_schedule(total_steps)
        callback = callback or Callback()
        if self.obs is None:
            self.obs, info = self.episodes.reset(self.env, self.rng)
            self.mask = self._masks(info)
        with self.torch_rng:
            while self.num_steps < self.total_steps and callback.at_safe_point(self):
                start, steps_before = time.perf_counter(), self.num_steps
                learning_rate = self.learning_rate  # CleanRL's: set before the rollout
                self._rollout(run, callback)
                stats = self._learn_from_rollouts(learning_rate)
                if run is not None:
                    sps = (self.num_steps - steps_before) / (time.perf_counter() - start)
                    stats |= {
                        "charts/SPS": sps,
                        "charts/epsilon": self.epsilon,
                        "charts/learning_rate": learning_rate,
                    }
                    run.log_scalars(stats, self.num_steps)
        return self

    def _rollout(self, run: Any, callback: Callback) -> None:
        """Play one rollout into the oldest rollout's arrays (or new ones, until
        ``replay_rollouts + 1`` are held) and append it to :attr:`rollouts`."""
        c, env = self.config, self.env
        if len(self.rollouts) > c.replay_rollouts:
            r = self.rollouts.popleft()
        else:
            space = self.env.single_observation_space
            masked = self.mask is not None
            r = Rollout.empty(c.rollout_steps, self.num_envs, space, self.n_actions, masked)
        finals = []
        for t in range(c.rollout_steps):
            r.obs[t] = self.obs
            if self.mask is not None:
                r.masks[t] = self.mask
            actions = self._epsilon_greedy(self.obs, self.epsilon, self.rng, self.mask)
            next_obs, rewards, terminated, truncated, info = env.step(actions)
            next_mask = self._masks(info) if self.mask is not None else None
            self.episodes.record(actions)
            learned = np.sign(rewards) if c.clip_rewards else rewards
            r.actions[t] = actions - self.action_start
            r.rewards[t] = c.reward_scale * learned
            r.terminated[t], r.truncated[t] = terminated, truncated
            self.num_steps += self.num_envs
            self.episode_returns += rewards
            self.episode_lengths += 1
            done = terminated | truncated
            if done.any():
                cut = np.flatnonzero(truncated & ~terminated)
                if len(cut):
                    cut_mask = None if next_mask is None else next_mask[cut]
                    finals.append((t, cut, np.array(next_obs[cut]), cut_mask))
                for i in np.flatnonzero(done):
                    self._finish_episode(i, run, callback)
                reset_obs, reset_info = self.episodes.reset(env, self.rng, done)
                done_rows = done.reshape(done.shape + (1,) * (next_obs.ndim - 1))
                next_obs = np.where(done_rows, reset_obs, next_obs)
                if next_mask is not None:
                    next_mask = np.where(done[:, None], self._masks(reset_info), next_mask)
            self.obs, self.mask = next_obs, next_mask
            callback.on_step(self)
        r.after_obs = np.array(self.obs)
        r.after_mask = None if self.mask is None else np.array(self.mask)
        r.keep_finals(finals)
        self.rollouts.append(r)

    def _learn_from_rollouts(self, learning_rate: float) -> dict[str, float]:
        """Targets for every rollout held (after refreshing the target network when one is
        due), then the update passes over them all."""
        c = self.config
        every = c.target_network_every
        if every and self.num_iterations % every == 0:
            self._target_flat.copy_(self._q_flat)
        held = list(self.rollouts)
        n = c.rollout_steps * self.num_envs
        if len(held) == 1:  # one copy of the observations, not two
            obs = self._tensor(held[0].obs.reshape(n, *held[0].obs.shape[2:]))
        else:
            obs = self._tensor(np.concatenate([r.obs.reshape(n, *r.obs.shape[2:]) for r in held]))
        targets = [self._targets(r, obs[i * n : (i + 1) * n]) for i, r in enumerate(held)]
        actions = np.concatenate([r.actions.reshape(n) for r in held])
        stats = self._update(obs, actions, np.concatenate(targets, axis=None), learning_rate)
        self.num_iterations += 1
        return stats

    @torch.no_grad()
    def _greedy_values(self, obs: torch.Tensor, mask: np.ndarray | None = None) -> np.ndarray:
        """``max_a Q(obs, a)`` for a batch, Q the target network's when there is one, over the
        legal actions of each row of ``mask`` when given (0 for a row with none), in pieces of a
        minibatch's size (bounded memory)."""
        net = self.q if self.q_target is None else self.q_target
        piece = max(1, -(-self.config.rollout_steps * self.num_envs // self.config.num_minibatches))
        values = []
        for i in range(0, len(obs), piece):
            q = net(obs[i : i + piece])
            part = slice(i, i + piece)
            values.append(q.max(dim=1).values if mask is None else masks.masked_max(q, mask[part]))
        return torch.cat(values).cpu().numpy()

    def _targets(self, r: Rollout, obs: torch.Tensor) -> np.ndarray:
        """The Q(lambda) targets of rollout ``r``, whose observations ``obs`` holds (flat), as
        ``(rollout_steps, num_envs)``."""
        c, N = self.config, self.num_envs
        following = self._greedy_values(self._tensor(r.after_obs), r.after_mask)
        seen = None if r.masks is None else r.masks.reshape(-1, self.n_actions)[N:]
        ahead = self._greedy_values(obs[N:], seen)
        next_values = np.concatenate([ahead, following]).reshape(-1, N)
        # Where a step ended its episode, next_values holds the reset's first observation: the
        # final one's value replaces it after a truncation; a termination does not read it.
        if len(r.final_steps):
            final_values = self._greedy_values(self._tensor(r.final_obs), r.final_masks)
            next_values[r.final_steps, r.final_envs] = final_values
        return q_lambda(r.rewards, next_values, r.terminated, r.truncated, c.gamma, c.q_lambda)

    def _update(
        self, obs: torch.Tensor, actions: np.ndarray, targets: np.ndarray, learning_rate: float
    ) -> dict[str, float]:
        """``update_epochs`` shuffled passes over the transitions (flat ``obs``, ``actions`` and
        ``targets``), each in ``num_minibatches`` minibatches per rollout's worth."""
        c, n = self.config, len(obs)
        minibatches = c.num_minibatches * (n // (c.rollout_steps * self.num_envs))
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate
        actions = torch.as_tensor(actions.reshape(n, 1), device=self.device)
        goals = torch.as_tensor(targets.reshape(n), device=self.device)
        loss_sum = q_sum = torch.zeros((), device=self.device)
        for _ in range(c.update_epochs):
            # One gather per pass; its minibatches are then slices (views) of the shuffled rows.
            rows = torch.as_tensor(self.rng.permutation(n), device=self.device)
            pieces = (torch.tensor_split(x[rows], minibatches) for x in (obs, actions, goals))
            for mb_obs, mb_actions, mb_goals in zip(*pieces, strict=True):
                q = self.q(mb_obs).gather(1, mb_actions).squeeze(1)
                if c.loss == "huber":
                    loss = F.smooth_l1_loss(q, mb_goals)
                else:
                    loss = F.mse_loss(q, mb_goals)
                self._q_flat_grad.zero_()  # backward accumulates into its views
                loss.backward()
                nn.utils.clip_grad_norm_([self._q_flat], c.max_grad_norm, foreach=True)
                self.optimizer.step()
                self.num_updates += 1
                loss_sum = loss_sum + loss.detach()
                q_sum = q_sum + q.detach().mean()
        steps = c.update_epochs * minibatches
        return {"losses/td_loss": float(loss_sum) / steps, "losses/q_values": float(q_sum) / steps}

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: Any) -> None:
        """Everything a resume needs: network (and target network), optimizer, generators, the
        rollouts kept for replay, and the episode log that rebuilds each sub-env's state
        (``meta.json``, ``arrays.npz``, ``tensors.pt``)."""
        # At a safe point every rollout held is a past one; the next iteration keeps the last
        # replay_rollouts of them.
        k = self.config.replay_rollouts
        kept = list(self.rollouts)[-k:] if k else []
        meta = checkpoint_meta(
            self,
            num_envs=self.num_envs,
            num_updates=self.num_updates,
            num_iterations=self.num_iterations,
            replayed_rollouts=len(kept),
            rng=self.rng.bit_generator.state,
            started=self.obs is not None,
        )
        arrays = {
            **self.episodes.state_arrays(),
            "episode_returns": self.episode_returns,
            "episode_lengths_now": self.episode_lengths,
            **({"action_mask_now": self.mask} if self.mask is not None else {}),
        }
        for i, r in enumerate(kept):
            arrays |= r.arrays(f"rollout{i}_")
        tensors = {
            "q": self.q.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "torch_rng": self.torch_rng.state_dict()["torch"],
        }
        if self.q_target is not None:
            tensors["q_target"] = self.q_target.state_dict()
        save_state(path, meta, arrays, tensors)

    @classmethod
    def load(cls, path: Any, env, **overrides: Any) -> PQN:
        """Rebuild a saved agent on ``env``. With as many envs as it trained with, training goes
        on exactly: sub-envs are brought back to their saved states by replaying their episodes.
        With another number (one env, to evaluate) the agent acts, but cannot train on."""
        meta, arrays, config = open_checkpoint(cls, path, overrides)
        tensors = load_tensors(path)
        try:
            agent = cls(env, seed=int(meta["seed"]), config=config)
            agent.q.load_state_dict(tensors["q"])
            agent.optimizer.load_state_dict(tensors["optimizer"])
            agent.torch_rng.load_state_dict({"torch": tensors["torch_rng"]})
            if agent.q_target is not None:  # a target switched on at resume starts as q
                agent.q_target.load_state_dict(tensors.get("q_target", tensors["q"]))
            restore_counters(agent, meta)
            agent.num_updates = int(meta["num_updates"])
            batch = config.rollout_steps * agent.num_envs  # before the counter was saved
            agent.num_iterations = int(meta.get("num_iterations", agent.num_steps // batch))
            agent.rng.bit_generator.state = meta["rng"]
            agent.trained_num_envs = int(meta["num_envs"])
        except (KeyError, TypeError, ConfigError, RuntimeError, ValueError) as e:
            raise CheckpointError(f"{path} does not fit this env or agent: {e}") from e
        if agent.trained_num_envs != agent.num_envs or not meta["started"]:
            return agent
        try:
            agent.episodes.load_arrays(arrays)
            agent.episode_returns[:] = arrays["episode_returns"]
            agent.episode_lengths[:] = arrays["episode_lengths_now"]
        except (KeyError, ValueError) as e:
            raise CheckpointError(f"{path}: episode state does not fit: {e}") from e
        agent.obs = agent.episodes.restore(agent.env)
        if "action_mask_now" in arrays and config.action_masks:
            agent.mask = np.asarray(arrays["action_mask_now"], bool)
        saved = int(meta.get("replayed_rollouts", 0))
        try:
            for i in range(max(0, saved - config.replay_rollouts), saved):
                agent.rollouts.append(Rollout.from_arrays(arrays, f"rollout{i}_"))
        except (KeyError, TypeError) as e:
            raise CheckpointError(f"{path}: its replay rollouts are incomplete: {e}") from e
        shape = (config.rollout_steps, agent.num_envs)
        if any(r.actions.shape != shape for r in agent.rollouts):
            raise CheckpointError(
                f"{path}: its replayed rollouts are not {shape[0]} steps x {shape[1]} envs; "
                "resume with the rollout_steps it was saved with"
            )
        return agent


def check_config(c: PQNConfig, num_envs: int) -> None:
    """Refuse, when the agent is built, a configuration that would fail or do nothing mid-run."""
    problems = []
    for name in ("rollout_steps", "update_epochs", "num_minibatches"):
        if getattr(c, name) < 1:
            problems.append(f"{name} must be >= 1, got {getattr(c, name)}")
    for name in ("target_network_every", "replay_rollouts"):
        if getattr(c, name) < 0:
            problems.append(f"{name} must be >= 0 (0 switches it off), got {getattr(c, name)}")
    batch = c.rollout_steps * num_envs
    if c.rollout_steps >= 1 and c.num_minibatches > batch:
        problems.append(
            f"num_minibatches must be <= rollout_steps x num_envs = {c.rollout_steps} x "
            f"{num_envs} = {batch}, the transitions of a rollout; got {c.num_minibatches}"
        )
    for name in ("learning_rate", "max_grad_norm", "reward_scale"):
        if not getattr(c, name) > 0:
            problems.append(f"{name} must be > 0, got {getattr(c, name)}")
    if c.learning_rate_final is not None and c.learning_rate_final < 0:
        problems.append(f"learning_rate_final must be >= 0, got {c.learning_rate_final}")
    fractions = (
        "gamma", "q_lambda", "epsilon", "epsilon_final", "exploration_fraction", "eval_epsilon",
    )  # fmt: skip
    for name in fractions:
        if not 0.0 <= getattr(c, name) <= 1.0:
            problems.append(f"{name} must lie in [0, 1], got {getattr(c, name)}")
    if any(w < 1 for w in c.net_arch):
        problems.append(f"net_arch widths must be >= 1, got {c.net_arch}")
    if problems:
        raise ConfigError("invalid pqn configuration: " + "; ".join(problems))
