"""Deep Q-Network (Mnih et al. 2015, "Human-level control through deep reinforcement learning")
with the switches that make it reliable, each off by default:

- Double DQN (van Hasselt et al. 2016): the online network picks the next action, the target
  network values it.
- Dueling head (Wang et al. 2016): ``Q = V + A - mean(A)``.
- n-step returns (Sutton 1988; Hessel et al. 2018).
- Prioritized replay (Schaul et al. 2016): proportional, sum-tree, importance weights with beta
  annealed to ``per_beta_final``.

Several environments step at once through Gymnasium's vector API (``SyncVectorEnv`` or a native
batched env such as our gridworld's). Counting follows Stable-Baselines3: ``num_steps`` counts
environment transitions over all sub-envs; ``train_freq`` counts vector steps.

Terminated transitions do not bootstrap; truncated (time-limit) ones do, from the real final
observation: finished sub-envs are reset explicitly right after the step that ended them, so no
transition ever crosses an episode boundary (see :mod:`sige_rl.agents.common.episodes`).
"""

from __future__ import annotations

import time
import warnings
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
from sige_rl.agents.common.frame_replay import FrameReplayBuffer
from sige_rl.agents.common.interface import (
    Callback,
    build_config,
    checkpoint_meta,
    open_checkpoint,
    restore_counters,
)
from sige_rl.agents.common.replay import ReplayBuffer
from sige_rl.agents.common.schedules import Scheduled, linear
from sige_rl.agents.common.vector import ARRAY_SPACES, OneEnvVector
from sige_rl.agents.dqn.acting import QActing
from sige_rl.supervised import GlobalRNGStreams, flush_denormals, resolve_device
from sige_rl.supervised.backbones import make_backbone
from sige_rl.supervised.checkpoint import CheckpointError, load_tensors, save_state
from sige_rl.supervised.numpy_forward import numpy_forward


@dataclass
class DQNConfig:
    gamma: float = 0.99
    """Discount factor."""
    learning_rate: float = 1e-4
    """Optimizer step size at the start of training."""
    learning_rate_final: float | None = None
    """Step size at the end of training (linear decay); None keeps it constant."""
    optimizer: Literal["adam", "rmsprop"] = "adam"
    """Adam, or RMSProp as in the Nature paper."""
    batch_size: int = 32
    """Transitions per gradient step."""
    buffer_size: int = 100_000
    """Replay capacity in transitions."""
    learning_starts: int = 1000
    """Environment steps collected before the first gradient step."""
    train_freq: int = 4
    """Vector steps between training rounds."""
    gradient_steps: int = 1
    """Gradient steps per training round."""
    target_update_interval: int = 1000
    """Environment steps between target network updates."""
    tau: float = 1.0
    """Polyak coefficient of each target update: 1 copies the online network (hard update)."""
    epsilon: float = 1.0
    """Exploration probability at the start of training."""
    epsilon_final: float = 0.05
    """Exploration probability after ``exploration_fraction`` of training."""
    exploration_fraction: float = 0.1
    """Fraction of the step budget over which epsilon decays linearly."""
    eval_epsilon: float = 0.001
    """Exploration kept by evaluations (``evaluate``, ``eval/`` keys): a small epsilon as in
    Dopamine's (the Nature paper used 0.05); 0 evaluates the greedy policy exactly.
    ``act(obs, deterministic=True)`` is always greedy."""
    loss: Literal["huber", "mse"] = "huber"
    """TD loss: Huber (smooth L1, as in the Nature paper) or squared error."""
    max_grad_norm: float = 10.0
    """Gradients are clipped to this global norm."""
    clip_rewards: bool = False
    """Learn from the sign of each reward (DQN-Nature on Atari). Episode returns, TensorBoard's
    ``charts/episodic_return`` and evaluations keep the raw score."""
    terminal_on_life_loss: bool = False
    """Learn as if a lost life ended the episode (no bootstrapping past it; DQN-Nature's
    "episodic life"), while the game goes on: episodes, returns and evaluations are whole games
    over all lives. Needs ``info["lives"]`` (Atari)."""
    replay: Literal["auto", "transitions", "frames"] = "auto"
    """``frames`` stores each frame of stacked observations once (FrameReplayBuffer, about 7 KB
    a transition on Atari instead of 56 KB); ``transitions`` stores whole observations; ``auto``
    takes frames where the env's metadata declares a ``frame_stack``."""
    checkpoint_replay: bool = True
    """Save the replay buffer in checkpoints (a 1M-transition Atari buffer is about 7 GB). Without
    it a resumed run refills replay for ``learning_starts`` steps and is no longer exact."""
    action_masks: bool = True
    """Honour the env's action masks when it offers them (``info["action_mask"]`` or an
    ``action_masks()`` method): random and greedy actions are legal ones, the target's max runs
    over the next state's legal actions (kept in replay), and evaluations act legally."""
    backbone: str = "auto"
    """Feature extractor from sige_rl.supervised.backbones: auto (a CNN for images: nature_cnn
    from 36x36 up, minatar_cnn below; else mlp), mlp, nature_cnn, impala_cnn, minatar_cnn,
    mnist_cnn, vgg, resnet (image observations), lstm, gru, transformer ((T, F) observations)."""
    net_arch: list[int] = field(default_factory=lambda: [64, 64])
    """Hidden widths of the MLP backbone."""
    activation: str = "relu"
    """Activation of the MLP backbone."""
    double: bool = False
    """Double DQN targets."""
    dueling: bool = False
    """Dueling value / advantage head."""
    n_step: int = 1
    """Steps of real reward before bootstrapping."""
    prioritized: bool = False
    """Proportional prioritized replay."""
    per_alpha: float = 0.6
    """Priority exponent."""
    per_beta: float = 0.4
    """Importance-sampling exponent at the start of training."""
    per_beta_final: float = 1.0
    """Importance-sampling exponent at the end of training (linear)."""
    per_eps: float = 1e-6
    """Added to |TD error| so no transition has zero priority."""
    device: str = "auto"
    """auto (CUDA when present), cpu or cuda."""


class QNetwork(nn.Module):
    """A backbone then a linear Q head, or a dueling value / advantage head."""

    def __init__(self, backbone: nn.Module, n_actions: int, dueling: bool):
        super().__init__()
        self.backbone = backbone
        self.dueling = dueling
        self.head = nn.Linear(backbone.out_dim, n_actions)
        self.value = nn.Linear(backbone.out_dim, 1) if dueling else None

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        h = self.backbone(obs)
        a = self.head(h)
        if self.value is None:
            return a
        return self.value(h) + a - a.mean(dim=1, keepdim=True)

    def greedy(self, obs: torch.Tensor) -> torch.Tensor:
        """``argmax_a Q(obs, a)``. A dueling net's value and mean advantage are the same for
        every action, so the advantages alone decide it (fewer ops on the acting path)."""
        return self.head(self.backbone(obs)).argmax(dim=1)


def as_vector_env(env: gym.Env | gym.vector.VectorEnv) -> gym.vector.VectorEnv:
    """A vector env as is; a single env becomes a vector env of one (``OneEnvVector``, or
    ``SyncVectorEnv`` for dict and tuple observations)."""
    if isinstance(env, gym.vector.VectorEnv):
        return env
    if isinstance(env.observation_space, ARRAY_SPACES):
        return OneEnvVector(env)
    return gym.vector.SyncVectorEnv([lambda: env])


class DQN(QActing, Scheduled):
    """DQN and its extensions; hyperparameters in :class:`DQNConfig`.

    Args:
        env: a single env or a vector env with a ``Discrete`` action space.
        seed: seeds network initialisation, exploration, replay sampling and every episode's
            reset seed.
    """

    name: ClassVar[str] = "dqn"
    Config: ClassVar[type] = DQNConfig
    format_version: ClassVar[int] = 2
    supports_vector_env: ClassVar[bool] = True
    supports_action_masks: ClassVar[bool] = True

    def __init__(self, env, seed: int = 0, config: DQNConfig | None = None, **overrides: Any):
        self.config = c = build_config(type(self), config, overrides)
        self.env = as_vector_env(env)
        obs_space, act_space = self.env.single_observation_space, self.env.single_action_space
        if not isinstance(act_space, gym.spaces.Discrete):
            raise ValueError(f"dqn needs a Discrete action space, got {act_space}")
        self.num_envs = self.env.num_envs
        check_config(c, self.num_envs)
        self.n_actions = int(act_space.n)
        self.action_start = int(act_space.start)
        self.seed = seed
        self.device = torch.device(resolve_device(c.device))

        # Initialisation (and dropout, if any) draw from torch's global generator: give them a
        # stream of the agent's own, so building an agent leaves the caller's generator alone.
        self.torch_rng = GlobalRNGStreams(seed)
        with self.torch_rng:
            self.q = self._network(obs_space).to(self.device)
            self.target = self._network(obs_space).to(self.device)
        self.target.requires_grad_(False)
        # Walking the module tree for .parameters() costs ~100 us; the lists never change
        # (load_state_dict copies into these tensors). Each network's parameters live in one
        # buffer, so a target update is a single copy or lerp over it.
        # The gradients share one buffer too, laid out like the parameters: backward accumulates
        # into its views, and clipping and the optimizer each see one tensor instead of six
        # (Adam's per-parameter bookkeeping in Python cost more than its fused kernel).
        self._q_params, self._q_flat = flat_trainable(self.q)
        self._q_flat_grad = self._q_flat.grad
        self._target_flat = share_one_buffer(list(self.target.parameters()))
        self._target_flat.copy_(self._q_flat)
        # Target updates due but not yet applied (see _catch_up_target).
        self._target_lag = 0
        # Acting scores one observation per env step. On CPU the same arithmetic in numpy, on
        # views of these parameters, costs a fifth of the torch call (171 vs 37 us in the
        # CartPole loop); None (a CNN, a GPU) leaves acting to torch.
        self._numpy_scores = (
            numpy_forward(self.q.backbone, self.q.head) if self.device.type == "cpu" else None
        )
        # One fused kernel per step rather than a loop over parameters: Adam's step was a third
        # of a CartPole update on CPU (774 vs 203 us for a [256, 256] dueling net).
        if c.optimizer == "adam":
            self.optimizer = torch.optim.Adam([self._q_flat], lr=c.learning_rate, fused=True)
        else:
            self.optimizer = torch.optim.RMSprop([self._q_flat], lr=c.learning_rate, foreach=True)

        self.buffer = self._build_buffer()
        # Masks honoured (the class's True) unless the config turns them off, evaluations too.
        self.supports_action_masks = c.action_masks
        # Whether the env offers action masks (found at the first reset; saved); the current
        # observations' masks, one row per sub-env, or None.
        self.masked = False
        self.mask: np.ndarray | None = None
        self.rng = np.random.default_rng(seed)
        self.episodes = EpisodeLog(self.num_envs)
        # Another number after loading a checkpoint trained with other envs: the networks act,
        # but replay and the sub-envs' episodes could not be restored for training on.
        self.trained_num_envs = self.num_envs
        self.obs: np.ndarray | None = None
        # Lives left per sub-env (terminal_on_life_loss); -1 where the env reports none.
        self.lives = np.full(self.num_envs, -1, dtype=np.int64)
        # Gradient steps start once num_steps reaches this: learning_starts, or later after a
        # resume from a checkpoint saved without replay.
        self.learning_starts_at = c.learning_starts
        self.episode_returns = np.zeros(self.num_envs)
        self.episode_lengths = np.zeros(self.num_envs, dtype=np.int64)
        self.num_steps = 0
        self.num_updates = 0
        self.num_episodes = 0
        self.total_steps = 0
        self.schedule_steps = None

    @property
    def eval_epsilon(self) -> float:
        return self.config.eval_epsilon

    def _build_buffer(self, mask_actions: int = 0):
        c, space = self.config, self.env.single_observation_space
        cls = self._replay_class(c.replay, self.env)
        kwargs = {"mask_actions": mask_actions} if mask_actions else {}
        if mask_actions and cls is not ReplayBuffer:
            raise ValueError(
                "action masks are kept by the transition replay only; this env stacks frames "
                "(replay: frames): set action_masks=false or replay=transitions"
            )
        return cls(
            c.buffer_size,
            space.shape,
            space.dtype,
            num_envs=self.num_envs,
            n_step=c.n_step,
            gamma=c.gamma,
            prioritized=c.prioritized,
            alpha=c.per_alpha,
            priority_eps=c.per_eps,
            **kwargs,
        )

    def _use_masks(self) -> None:
        """Keep the next states' masks in replay from now on (before anything is stored)."""
        if len(self.buffer):
            raise ValueError("action masks appeared after replay began: they cannot be added")
        self.buffer = self._build_buffer(self.n_actions)
        self.masked = True

    @staticmethod
    def _replay_class(choice: str, env: gym.vector.VectorEnv) -> type:
        if choice == "auto":
            choice = "frames" if env.metadata.get("frame_stack", 0) > 1 else "transitions"
        return FrameReplayBuffer if choice == "frames" else ReplayBuffer

    def _network(self, obs_space: gym.Space) -> QNetwork:
        c = self.config
        kw = {}  # net_arch and activation shape the MLP; the other backbones take their defaults
        if c.backbone == "mlp" or (
            c.backbone == "auto" and len(getattr(obs_space, "shape", ()) or ()) != 3
        ):
            kw = {"hidden": tuple(c.net_arch), "activation": c.activation}
        return QNetwork(make_backbone(c.backbone, obs_space, **kw), self.n_actions, c.dueling)

    # -- schedules ------------------------------------------------------------------------------
    @property
    def beta(self) -> float:
        return linear(self.config.per_beta, self.config.per_beta_final, self.progress)

    # -- learning -------------------------------------------------------------------------------
    @flush_denormals()
    def learn(self, total_steps: int, run: Any = None, callback: Callback | None = None):
        """Train until ``num_steps`` reaches ``total_steps`` or ``callback.at_safe_point``
        returns False (every vector step is a safe point). Returns ``self``."""
        if self.trained_num_envs != self.num_envs:
            raise CheckpointError(
                f"this agent was loaded from a checkpoint trained with {self.trained_num_envs} "
                f"envs onto {self.num_envs}: it can act and be evaluated, but training on needs "
                f"the replay buffer and episodes of {self.trained_num_envs} envs; load it with as "
                "many"
            )
        self.total_steps = int(total_steps)
        self.start_schedule(total_steps)
        callback = callback or Callback()
        env = self.env
        if self.obs is None:
            self.obs, info = self.episodes.reset(env, self.rng)
            self._reset_lives(info, None)
            self.mask = self._masks(info)
            if self.mask is not None and not self.masked:
                self._use_masks()
        with self.torch_rng:
            self._learn_loop(run, callback)
        return self

    def _learn_loop(self, run: Any, callback: Callback) -> None:
        c, env = self.config, self.env
        last_time, last_steps = time.perf_counter(), self.num_steps
        while self.num_steps < self.total_steps and callback.at_safe_point(self):
            actions = self._epsilon_greedy(self.obs, self.epsilon, self.rng, self.mask)
            next_obs, rewards, terminated, truncated, info = env.step(actions)
            self.episodes.record(actions)
            learned = np.sign(rewards) if c.clip_rewards else rewards
            ends = terminated | self._life_lost(info) if c.terminal_on_life_loss else terminated
            next_mask = self._masks(info) if self.masked else None
            if next_mask is None:
                self.buffer.add(self.obs, actions, learned, next_obs, ends, truncated)
            else:
                self.buffer.add(self.obs, actions, learned, next_obs, ends, truncated, next_mask)
            self.num_steps += self.num_envs
            self.episode_returns += rewards
            self.episode_lengths += 1
            done = terminated | truncated
            if done.any():
                for i in np.flatnonzero(done):
                    self._finish_episode(i, run, callback)
                reset_obs, reset_info = self.episodes.reset(env, self.rng, done)
                self._reset_lives(reset_info, done)
                next_obs = np.where(_expand(done, next_obs.ndim), reset_obs, next_obs)
                if next_mask is not None:
                    next_mask = np.where(done[:, None], self._masks(reset_info), next_mask)
            self.obs, self.mask = next_obs, next_mask

            if self.num_steps >= self.learning_starts_at:
                if (self.num_steps // self.num_envs) % c.train_freq == 0:
                    stats = self._train()
                    if run is not None and self.num_updates % 100 < c.gradient_steps:
                        run.log_scalars(stats, self.num_steps)
                if self.num_steps % c.target_update_interval < self.num_envs:
                    self._target_lag += 1
            callback.on_step(self)
            if run is not None and time.perf_counter() - last_time >= 1.0:
                now = time.perf_counter()
                run.log_scalars(
                    {
                        "charts/SPS": (self.num_steps - last_steps) / (now - last_time),
                        "charts/epsilon": self.epsilon,
                        "charts/learning_rate": self.learning_rate,
                    },
                    self.num_steps,
                )
                last_time, last_steps = now, self.num_steps

    def _reset_lives(self, info: dict, mask: np.ndarray | None) -> None:
        if not self.config.terminal_on_life_loss:
            return
        lives = self._lives_in(info)
        if mask is None:
            self.lives[:] = lives
        else:
            self.lives[mask] = lives[mask]

    def _life_lost(self, info: dict) -> np.ndarray:
        """Which sub-envs lost a life this step (and remember the lives left)."""
        lives = self._lives_in(info)
        lost = lives < self.lives
        self.lives[:] = lives
        return lost

    def _lives_in(self, info: dict) -> np.ndarray:
        if "lives" not in info:
            raise ValueError(
                "terminal_on_life_loss needs the env to report info['lives'] (Atari games do); "
                f"this env's info has {sorted(info)}"
            )
        return np.asarray(info["lives"], dtype=np.int64)

    def _train(self) -> dict[str, float]:
        c = self.config
        self._catch_up_target()
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate
        for _ in range(c.gradient_steps):
            batch = self.buffer.sample(c.batch_size, self.rng, beta=self.beta)
            obs, next_obs = self._tensor(batch.obs), self._tensor(batch.next_obs)
            actions = torch.as_tensor(batch.actions - self.action_start, device=self.device)
            target = self.td_target(batch.rewards, batch.discounts, next_obs, batch.next_masks)
            q = self.q(obs).gather(1, actions.long().unsqueeze(1)).squeeze(1)
            if c.loss == "huber":
                elementwise = F.smooth_l1_loss(q, target, reduction="none")
            else:
                elementwise = F.mse_loss(q, target, reduction="none")
            if c.prioritized:
                weights = torch.as_tensor(batch.weights, dtype=torch.float32, device=self.device)
                loss = (weights * elementwise).mean()
            else:
                loss = elementwise.mean()
            self._q_flat_grad.zero_()  # backward accumulates into its views
            loss.backward()
            nn.utils.clip_grad_norm_([self._q_flat], c.max_grad_norm, foreach=True)
            self.optimizer.step()
            self.num_updates += 1
            if c.prioritized:
                td = (target - q).detach().abs().cpu().numpy()
                self.buffer.update_priorities(batch.indices, td)
        return {"losses/td_loss": float(loss.detach()), "losses/q_values": float(q.detach().mean())}

    @torch.no_grad()
    def td_target(
        self, rewards, discounts, next_obs: torch.Tensor, next_masks: Any = None
    ) -> torch.Tensor:
        """``R + discount * value(next_obs)``: ``R`` the (n-step) reward sum, ``discount`` gamma^k
        or 0 after a termination (from the replay buffer); the value is the target network's
        max, or with Double DQN its value of the online network's greedy action. With
        ``next_masks`` both run over the next state's legal actions only (a state with none
        is worth 0: it follows a termination)."""
        rewards = torch.as_tensor(rewards, dtype=torch.float32, device=self.device)
        discounts = torch.as_tensor(discounts, dtype=torch.float32, device=self.device)
        next_target = self.target(next_obs)
        if next_masks is not None and self.config.double:
            best = masks.masked_scores(self.q(next_obs), next_masks).argmax(dim=1, keepdim=True)
            next_value = next_target.gather(1, best).squeeze(1)
        elif next_masks is not None:
            next_value = masks.masked_max(next_target, next_masks)
        elif self.config.double:
            best = self.q.greedy(next_obs).unsqueeze(1)
            next_value = next_target.gather(1, best).squeeze(1)
        else:
            next_value = next_target.max(dim=1).values
        return rewards + discounts * next_value

    @torch.no_grad()
    def _catch_up_target(self) -> None:
        """Apply the target updates due since the last gradient step, as one.

        Updates fall due after a training round and are applied before the next one reads the
        target, so the online weights are the same for all ``k`` of them: ``k`` hard copies are
        one copy, and ``k`` Polyak steps of ``tau`` are one of ``1 - (1 - tau)^k``. With
        CartPole's ``train_freq`` 4 that is one lerp over the parameters instead of four.
        """
        k, self._target_lag = self._target_lag, 0
        if k == 0:
            return
        tau = self.config.tau
        if tau >= 1.0:
            self._target_flat.copy_(self._q_flat)
        else:
            self._target_flat.lerp_(self._q_flat, 1.0 - (1.0 - tau) ** k)

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: Any) -> None:
        """Everything a resume needs: networks, optimizer, replay, generators and the episode log
        that rebuilds each sub-env's state (``meta.json``, ``arrays.npz``, ``tensors.pt``)."""
        meta = checkpoint_meta(
            self,
            num_envs=self.num_envs,
            num_updates=self.num_updates,
            target_lag=self._target_lag,
            rng=self.rng.bit_generator.state,
            started=self.obs is not None,
            replay_saved=self.config.checkpoint_replay,
            learning_starts_at=self.learning_starts_at,
            masked=self.masked,
        )
        replay = self.buffer.state_dict() if self.config.checkpoint_replay else {}
        arrays = {
            **{f"replay/{k}": v for k, v in replay.items()},
            **self.episodes.state_arrays(),
            "episode_returns": self.episode_returns,
            "episode_lengths_now": self.episode_lengths,
            "lives": self.lives,
            **({"action_mask_now": self.mask} if self.mask is not None else {}),
        }
        tensors = {
            "q": self.q.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "torch_rng": self.torch_rng.state_dict()["torch"],
        }
        save_state(path, meta, arrays, tensors)

    @classmethod
    def load(cls, path: Any, env, **overrides: Any) -> DQN:
        """Rebuild a saved agent on ``env``. With as many envs as it trained with, training goes
        on exactly: sub-envs are brought back to their saved states by replaying their episodes.
        With another number (one env, to evaluate) the agent acts, but cannot train on."""
        meta, arrays, config = open_checkpoint(cls, path, overrides)
        tensors = load_tensors(path)
        try:
            agent = cls(env, seed=int(meta["seed"]), config=config)
            agent.q.load_state_dict(tensors["q"])
            agent.target.load_state_dict(tensors["target"])
            agent.optimizer.load_state_dict(tensors["optimizer"])
            agent.torch_rng.load_state_dict({"torch": tensors["torch_rng"]})
            restore_counters(agent, meta)
            agent.num_updates = int(meta["num_updates"])
            agent._target_lag = int(meta["target_lag"])
            agent.rng.bit_generator.state = meta["rng"]
            agent.trained_num_envs = int(meta["num_envs"])
        except (KeyError, TypeError, ConfigError, RuntimeError, ValueError) as e:
            raise CheckpointError(f"{path} does not fit this env or agent: {e}") from e
        if agent.trained_num_envs != agent.num_envs:
            return agent
        try:
            if meta.get("masked", False) and config.action_masks:
                agent._use_masks()
            if meta.get("replay_saved", True):
                agent.buffer.load_state_dict(
                    {k[len("replay/") :]: v for k, v in arrays.items() if k.startswith("replay/")}
                )
                agent.learning_starts_at = int(
                    meta.get("learning_starts_at", config.learning_starts)
                )
            else:
                # Nothing to sample from until replay holds learning_starts steps again.
                agent.learning_starts_at = agent.num_steps + config.learning_starts
                warnings.warn(
                    f"{path} was saved without its replay buffer (checkpoint_replay=false): "
                    f"training on refills replay for {config.learning_starts} steps first and is "
                    "no longer an exact continuation of the saved run",
                    stacklevel=2,
                )
            if meta["started"]:
                agent.episodes.load_arrays(arrays)
                agent.episode_returns[:] = arrays["episode_returns"]
                agent.episode_lengths[:] = arrays["episode_lengths_now"]
                if "lives" in arrays:
                    agent.lives[:] = arrays["lives"]
        except (KeyError, ValueError) as e:
            raise CheckpointError(f"{path}: replay or episode state does not fit: {e}") from e
        if meta["started"]:
            agent.obs = agent.episodes.restore(agent.env)
            if agent.masked:
                agent.mask = np.asarray(arrays["action_mask_now"], bool)
        return agent


def check_config(c: DQNConfig, num_envs: int) -> None:
    """Refuse, when the agent is built, a configuration that would fail or do nothing mid-run."""
    problems = []
    sizes = ("batch_size", "buffer_size", "train_freq", "gradient_steps", "n_step")
    for name in (*sizes, "target_update_interval"):
        if getattr(c, name) < 1:
            problems.append(f"{name} must be >= 1, got {getattr(c, name)}")
    if c.learning_starts < 0:
        problems.append(f"learning_starts must be >= 0, got {c.learning_starts}")
    for name in ("learning_rate", "max_grad_norm"):
        if not getattr(c, name) > 0:
            problems.append(f"{name} must be > 0, got {getattr(c, name)}")
    if c.learning_rate_final is not None and c.learning_rate_final < 0:
        problems.append(f"learning_rate_final must be >= 0, got {c.learning_rate_final}")
    fractions = (
        "gamma", "epsilon", "epsilon_final", "exploration_fraction", "eval_epsilon",
        "per_beta", "per_beta_final",
    )  # fmt: skip
    for name in fractions:
        if not 0.0 <= getattr(c, name) <= 1.0:
            problems.append(f"{name} must lie in [0, 1], got {getattr(c, name)}")
    if not 0.0 < c.tau <= 1.0:
        problems.append(f"tau must lie in (0, 1], got {c.tau}")
    for name in ("per_alpha", "per_eps"):
        if getattr(c, name) < 0:
            problems.append(f"{name} must be >= 0, got {getattr(c, name)}")
    if any(w < 1 for w in c.net_arch):
        problems.append(f"net_arch widths must be >= 1, got {c.net_arch}")
    # After learning_starts env steps every sub-env still holds n_step - 1 steps in its n-step
    # window, so replay holds at least learning_starts - (n_step - 1) * num_envs transitions.
    needed = c.batch_size + (c.n_step - 1) * num_envs
    if c.n_step >= 1 and c.learning_starts < needed:
        problems.append(
            f"learning_starts must be >= batch_size + (n_step - 1) x num_envs = {c.batch_size} + "
            f"{c.n_step - 1} x {num_envs} = {needed}, so that the first gradient step finds a "
            f"full batch in replay; got {c.learning_starts}"
        )
    if c.buffer_size < c.batch_size:
        problems.append(f"buffer_size ({c.buffer_size}) must be >= batch_size ({c.batch_size})")
    if problems:
        raise ConfigError("invalid dqn configuration: " + "; ".join(problems))


def _expand(mask: np.ndarray, ndim: int) -> np.ndarray:
    return mask.reshape(mask.shape + (1,) * (ndim - 1))
