"""Stable-Baselines3's PPO, A2C and DQN behind our agent interface: ``sb3-ppo``, ``sb3-a2c``,
``sb3-dqn``; and sb3-contrib's MaskablePPO, ``sb3-maskable-ppo`` (sb3-contrib is imported only
when that agent is made).

One wrapper, :class:`SB3Agent`, holds an SB3 model (composition); each registered class only
names the algorithm and its ``Config``. The pieces that connect the two worlds:

- envs: a single env is wrapped in SB3's ``Monitor`` and ``DummyVecEnv``; a Gymnasium vector env
  (``gym.make_vec``) is rebuilt as a ``DummyVecEnv`` of as many single envs made from its spec,
  because SB3 steps its own ``VecEnv`` (the vector env passed in is not stepped); an SB3
  ``VecEnv`` is stepped as it is (the multi-agent adapter, ``agents/multiagent/``), and
  :meth:`SB3Agent.load` takes one too, so a checkpoint is rebuilt on the same adapter;
- callbacks: :class:`_Bridge` calls our ``Callback`` from inside SB3's loop and stops
  ``model.learn`` when ``at_safe_point`` returns False;
- logging: :class:`_RunWriter` is an SB3 logger output that renames SB3's keys to ours
  (``train/value_loss`` -> ``losses/value_loss`` ...) and writes them to the ``supervised.Run``;
- checkpoints: the policy's ``state_dict`` and the optimizer's, through
  ``supervised.checkpoint.save_state`` -- never SB3's zip files, which unpickle on load;
- action masks (``sb3-maskable-ppo``): MaskablePPO reads them in training from each env's
  ``action_masks()`` (through the ``VecEnv``'s ``env_method``); ``act`` takes one as
  ``action_mask``.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import KVWriter, Logger
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from sige_rl.agents.common.interface import (
    Callback,
    build_config,
    checkpoint_meta,
    open_checkpoint,
    restore_counters,
)
from sige_rl.supervised import GlobalRNGStreams, flush_denormals, resolve_device
from sige_rl.supervised.checkpoint import CheckpointError, load_tensors, save_state

# SB3 logger key -> ours (ARCHITECTURE.md, "TensorBoard keys"). Other ``train/*`` keys pass
# through unchanged.
LOG_KEYS = {
    "time/fps": "charts/SPS",
    "train/learning_rate": "charts/learning_rate",
    "rollout/exploration_rate": "charts/epsilon",
    "train/policy_gradient_loss": "losses/policy_loss",
    "train/policy_loss": "losses/policy_loss",
    "train/value_loss": "losses/value_loss",
}

# SB3 counters a checkpoint restores, where the algorithm has them.
COUNTERS = ("num_timesteps", "_n_updates", "_n_calls", "_episode_num")


class InexactResumeWarning(UserWarning):
    """A Stable-Baselines3 agent was loaded: training on continues, but not exactly."""


# -- hyperparameters ----------------------------------------------------------------------------
@dataclass
class SB3Common:
    net_arch: list[int] = field(default_factory=lambda: [64, 64])
    """Hidden widths of the MLP (policy and value nets alike), SB3's ``policy_kwargs``."""
    learning_rate_schedule: Literal["constant", "linear"] = "constant"
    """linear decays learning_rate to 0 over training (RL Zoo's ``lin_`` prefix)."""
    device: str = "auto"
    """auto (CUDA when present), cpu or cuda."""


@dataclass
class _PPOFields(SB3Common):
    """PPO's settings, shared by PPO and MaskablePPO."""

    learning_rate: float = 3e-4
    """Adam step size."""
    n_steps: int = 2048
    """Steps per env in each rollout."""
    batch_size: int = 64
    """Minibatch size of the updates."""
    n_epochs: int = 10
    """Passes over each rollout."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE bias / variance trade-off."""
    clip_range: float = 0.2
    """Clipping of the probability ratio."""
    clip_range_schedule: Literal["constant", "linear"] = "constant"
    """linear decays clip_range to 0 over training (RL Zoo's ``lin_`` prefix)."""
    clip_range_vf: float | None = None
    """Clipping of the value function change; None leaves it unclipped."""
    normalize_advantage: bool = True
    """Normalize advantages within each minibatch."""
    ent_coef: float = 0.0
    """Entropy bonus weight."""
    vf_coef: float = 0.5
    """Value loss weight."""
    max_grad_norm: float = 0.5
    """Gradients are clipped to this global norm."""
    target_kl: float | None = None
    """Stop an update's epochs early past this approximate KL; None never stops."""


@dataclass
class SB3PPOConfig(_PPOFields):
    log_std_init: float = 0.0
    """Initial log standard deviation of the Gaussian policy on Box actions (SB3's
    ``policy_kwargs``; RL Zoo often starts continuous control at -2 or so)."""


@dataclass
class SB3MaskablePPOConfig(_PPOFields):
    """PPO's settings: MaskablePPO acts on discrete actions only, so it has no ``log_std_init``."""


@dataclass
class SB3A2CConfig(SB3Common):
    learning_rate: float = 7e-4
    """Optimizer step size."""
    n_steps: int = 5
    """Steps per env in each rollout."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 1.0
    """GAE bias / variance trade-off (1: plain n-step returns)."""
    ent_coef: float = 0.0
    """Entropy bonus weight."""
    vf_coef: float = 0.5
    """Value loss weight."""
    max_grad_norm: float = 0.5
    """Gradients are clipped to this global norm."""
    use_rms_prop: bool = True
    """RMSProp (as in the paper) rather than Adam."""
    rms_prop_eps: float = 1e-5
    """RMSProp's epsilon."""
    normalize_advantage: bool = False
    """Normalize advantages within each rollout."""
    log_std_init: float = 0.0
    """Initial log standard deviation of the Gaussian policy on Box actions (SB3's
    ``policy_kwargs``)."""


@dataclass
class SB3DQNConfig(SB3Common):
    learning_rate: float = 1e-4
    """Adam step size."""
    buffer_size: int = 1_000_000
    """Replay capacity in transitions."""
    learning_starts: int = 100
    """Environment steps collected (uniformly at random) before the first gradient step."""
    batch_size: int = 32
    """Transitions per gradient step."""
    tau: float = 1.0
    """Polyak coefficient of each target update: 1 copies the online network."""
    gamma: float = 0.99
    """Discount factor."""
    train_freq: int = 4
    """Vector steps between training rounds."""
    gradient_steps: int = 1
    """Gradient steps per training round (-1: as many as steps collected)."""
    n_steps: int = 1
    """Steps of real reward before bootstrapping."""
    target_update_interval: int = 10_000
    """Environment steps between target network updates."""
    exploration_fraction: float = 0.1
    """Fraction of training over which epsilon decays linearly."""
    exploration_initial_eps: float = 1.0
    """Epsilon at the start of training."""
    exploration_final_eps: float = 0.05
    """Epsilon after ``exploration_fraction`` of training."""
    max_grad_norm: float = 10.0
    """Gradients are clipped to this global norm."""


# -- the bridges between SB3 and us -------------------------------------------------------------
def sb3_vec_env(env: gym.Env | gym.vector.VectorEnv | VecEnv) -> VecEnv:
    """SB3's ``DummyVecEnv`` of Monitor-wrapped envs: ``env`` itself, or for a Gymnasium vector
    env ``num_envs`` fresh envs made from its spec. An SB3 ``VecEnv`` (such as
    ``agents.multiagent.ParallelEnvVecEnv``, a PettingZoo env's agents as slots) is used as it is:
    it must report finished episodes in Monitor's ``info["episode"]``."""
    if isinstance(env, VecEnv):
        return env
    if not isinstance(env, gym.vector.VectorEnv):
        return DummyVecEnv([lambda: Monitor(env)])
    spec = env.spec
    if spec is None:
        raise ValueError(
            "Stable-Baselines3 steps its own vector env, built from the Gymnasium vector env's "
            "spec; this one has none: make it with gym.make_vec(id, ...) or pass a single env"
        )
    # make_vec records its own arguments among the env's kwargs
    make_vec_args = ("num_envs", "vectorization_mode", "vector_kwargs", "wrappers")
    kwargs = {k: v for k, v in spec.kwargs.items() if k not in make_vec_args}
    return DummyVecEnv([lambda: Monitor(gym.make(spec.id, **kwargs))] * env.num_envs)


def policy_name(space: gym.Space) -> str:
    if isinstance(space, gym.spaces.Dict):
        return "MultiInputPolicy"
    return "CnnPolicy" if is_image_space(space) else "MlpPolicy"


class _RunWriter(KVWriter):
    """An SB3 logger output writing to our ``supervised.Run`` (when there is one) in our keys."""

    def __init__(self, keys: dict[str, str]):
        self.keys = keys
        self.run: Any = None

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, tuple], step: int = 0):
        if self.run is None:
            return
        scalars = {}
        for key, value in key_values.items():
            ours = self.keys.get(key, key if key.startswith("train/") else None)
            if ours is None or "tensorboard" in (key_excluded.get(key) or ()):
                continue
            if isinstance(value, (int, float, np.number)):
                scalars[ours] = float(value)
        self.run.log_scalars(scalars, step)

    def close(self) -> None:
        """The run is closed by whoever opened it."""


class _Bridge(BaseCallback):
    """Our :class:`Callback` called from inside ``model.learn``: after every vector step
    ``on_episode`` for each finished episode (from Monitor's ``info["episode"]``), ``on_step``,
    then ``at_safe_point``, whose False ends ``model.learn``."""

    def __init__(self, agent: SB3Agent, callback: Callback, run: Any):
        super().__init__()
        self.agent, self.callback, self.run = agent, callback, run

    def _on_step(self) -> bool:
        agent = self.agent
        for info in self.locals["infos"]:
            episode = info.get("episode")
            if episode is None:
                continue
            ret, length = float(episode["r"]), int(episode["l"])
            agent.num_episodes += 1
            self.callback.on_episode(agent, ret, length)
            if self.run is not None:
                self.run.log_scalars(
                    {"charts/episodic_return": ret, "charts/episodic_length": length},
                    agent.num_steps,
                )
        self.callback.on_step(agent)
        return self.callback.at_safe_point(agent)


# -- the agent ----------------------------------------------------------------------------------
class SB3Agent:
    """A Stable-Baselines3 algorithm behind our agent interface.

    Args:
        env: a single env, a Gymnasium vector env made by ``gym.make_vec`` (rebuilt as SB3's
            ``DummyVecEnv`` of as many copies), or an SB3 ``VecEnv`` used as it is (such as
            ``agents.multiagent.ParallelEnvVecEnv``: one slot per agent, parameter sharing).
        seed: SB3's ``seed``: network initialisation, action sampling, the envs' first resets.
            SB3 seeds and draws from the global ``random``, ``numpy`` and ``torch`` generators;
            the agent swaps streams of its own in around SB3's calls and puts the caller's back
            (``supervised.GlobalRNGStreams``), so building or training one leaves them alone.
        config: a resolved ``Config``; else one is built from the defaults and ``overrides``.

    Counting is SB3's: ``num_steps`` counts env transitions over all envs. On-policy algorithms
    collect whole rollouts, so ``learn(total_steps)`` may overshoot by less than one rollout.
    Every vector step is a safe point; stopping there drops PPO / A2C's unfinished rollout.

    Resuming is *not exact*: :meth:`load` restores the policy weights, the optimizer state and
    SB3's step / update counters (so schedules continue where they were), but not the replay
    buffer (DQN starts over with an empty one), the current rollout, the random generators
    or the envs' states, which SB3 only saves by pickling. A resumed run continues from the
    checkpoint's weights but does not equal an uninterrupted run; :meth:`load` warns with
    :class:`InexactResumeWarning`.
    """

    name: ClassVar[str]
    Config: ClassVar[type]
    algorithm: ClassVar[type[BaseAlgorithm]]
    log_keys: ClassVar[dict[str, str]] = LOG_KEYS
    format_version: ClassVar[int] = 2
    supports_vector_env: ClassVar[bool] = True
    supports_action_masks: ClassVar[bool] = False
    eval_epsilon: ClassVar[float] = 0.0

    def __init__(self, env, seed: int = 0, config: Any = None, **overrides: Any):
        self.config = config = build_config(type(self), config, overrides)
        self.seed = seed
        kwargs = dataclasses.asdict(config)
        policy_kwargs = {"net_arch": kwargs.pop("net_arch")}
        if "log_std_init" in kwargs:
            policy_kwargs["log_std_init"] = kwargs.pop("log_std_init")
        device = resolve_device(kwargs.pop("device"))
        for key in [k for k in kwargs if k.endswith("_schedule")]:
            value = key.removesuffix("_schedule")
            if kwargs.pop(key) == "linear":
                kwargs[value] = LinearSchedule(kwargs[value], 0.0, 1.0)
        vec_env = sb3_vec_env(env)
        algorithm = self.algorithm_class()
        self._check_env(vec_env)
        self.rngs = GlobalRNGStreams(seed, python_and_numpy=True)
        with self.rngs:  # SB3 seeds the global generators here; the streams adopt them
            try:
                self.model = algorithm(
                    policy_name(vec_env.observation_space),
                    vec_env,
                    policy_kwargs=policy_kwargs,
                    device=device,
                    seed=seed,
                    **kwargs,
                )
            except AssertionError as e:  # SB3 checks spaces with assert
                raise ValueError(f"{self.name} cannot train on this env: {e}") from e
        # SB3 lays its schedules over each learn call's budget; ours over schedule_steps.
        self.model._update_current_progress_remaining = self._update_progress
        self._writer = _RunWriter(self.log_keys)
        self.model.set_logger(Logger(folder=None, output_formats=[self._writer]))
        self.num_episodes = 0
        self.total_steps = 0
        self.schedule_steps = None

    @classmethod
    def algorithm_class(cls) -> type[BaseAlgorithm]:
        """The SB3 algorithm class (a subclass may import it here, when the agent is made)."""
        return cls.algorithm

    def _check_env(self, vec_env: VecEnv) -> None:
        """Raise ``ValueError`` if the algorithm cannot train on ``vec_env`` (SB3 checks the
        spaces itself)."""

    def _update_progress(self, num_timesteps: int, total_timesteps: int) -> None:
        horizon = self.schedule_steps or total_timesteps
        self.model._current_progress_remaining = 1.0 - float(num_timesteps) / float(horizon)

    @property
    def num_steps(self) -> int:
        return int(self.model.num_timesteps)

    @num_steps.setter
    def num_steps(self, value: int) -> None:
        self.model.num_timesteps = int(value)

    @property
    def num_envs(self) -> int:
        return int(self.model.n_envs)

    def act(self, obs: Any, deterministic: bool = True) -> Any:
        """Action for one observation (an int for a ``Discrete`` action space) or a batch:
        the policy's most likely action, or a sample of it with ``deterministic=False``."""
        return self._predict(obs, deterministic)

    def _predict(self, obs: Any, deterministic: bool, **predict_kwargs: Any) -> Any:
        """``model.predict``'s actions as :meth:`act` returns them; ``predict_kwargs`` go to
        ``predict`` (MaskablePPO's ``action_masks``)."""
        if deterministic:  # the most likely action draws from no generator
            actions, _ = self.model.predict(obs, deterministic=True, **predict_kwargs)
        else:
            with self.rngs:
                actions, _ = self.model.predict(obs, deterministic=False, **predict_kwargs)
        if np.ndim(actions) == 0 and isinstance(self.model.action_space, gym.spaces.Discrete):
            return int(actions)
        return actions

    @flush_denormals()
    def learn(self, total_steps: int, run: Any = None, callback: Callback | None = None):
        """Train until ``num_steps`` reaches ``total_steps`` (a loaded agent continues from its
        count) or ``callback.at_safe_point`` returns False. Returns ``self``. Subnormals are
        flushed, as in our DQN: SB3's DQN on CartPole ran roughly 1.35x faster (BENCHMARKS.md)."""
        self.total_steps = int(total_steps)
        if self.schedule_steps is None:
            self.schedule_steps = self.total_steps
        if self.num_steps >= self.total_steps:
            return self
        self._writer.run = run
        try:
            with self.rngs:
                self.model.learn(
                    total_timesteps=self.total_steps - self.num_steps,
                    callback=_Bridge(self, callback or Callback(), run),
                    reset_num_timesteps=False,
                )
        finally:
            self._writer.run = None
        return self

    # -- persistence ----------------------------------------------------------------------------
    def _spaces(self) -> dict[str, str]:
        return {
            "observation_space": str(self.model.observation_space),
            "action_space": str(self.model.action_space),
        }

    def save(self, path: Any) -> None:
        """Policy and optimizer state dicts (``tensors.pt``), config and counters
        (``meta.json``), written atomically. No pickles: SB3's own ``save`` is not used."""
        model = self.model
        meta = checkpoint_meta(
            self,
            num_envs=self.num_envs,
            counters={k: int(getattr(model, k)) for k in COUNTERS if hasattr(model, k)},
            **self._spaces(),
        )
        tensors = {
            "policy": model.policy.state_dict(),
            "optimizer": model.policy.optimizer.state_dict(),
        }
        save_state(path, meta, {}, tensors)

    @classmethod
    def load(cls, path: Any, env, **overrides: Any) -> SB3Agent:
        """Rebuild a saved agent on ``env``; warns that training on will not be exact (see the
        class docstring). ``CheckpointError`` if the folder is bad or does not fit ``env``."""
        meta, _, config = open_checkpoint(cls, path, overrides)
        tensors = load_tensors(path)
        try:
            agent = cls(env, seed=int(meta["seed"]), config=config)
            saved = {k: meta[k] for k in ("observation_space", "action_space")}
        except (KeyError, ValueError) as e:  # ConfigError is a ValueError
            raise CheckpointError(f"{path} does not fit this env or agent: {e}") from e
        if saved != agent._spaces():
            raise CheckpointError(
                f"{path} was trained on observations {saved['observation_space']} and actions "
                f"{saved['action_space']}; this env has {agent._spaces()['observation_space']} "
                f"and {agent._spaces()['action_space']}"
            )
        policy = agent.model.policy
        try:
            policy.load_state_dict(tensors["policy"])
            policy.optimizer.load_state_dict(tensors["optimizer"])
            for key, value in meta["counters"].items():
                setattr(agent.model, key, int(value))
            restore_counters(agent, meta)
        except (KeyError, TypeError, RuntimeError, ValueError) as e:
            raise CheckpointError(f"{path} is corrupted or does not fit {cls.name}: {e}") from e
        warnings.warn(
            f"{path}: {cls.name} restores the policy weights, optimizer state and step counters "
            f"(step {agent.num_steps}), but Stable-Baselines3 cannot save its replay buffer, "
            "rollout, random generators or env states without pickling: training on continues "
            "from the checkpoint's weights but will not equal an uninterrupted run",
            InexactResumeWarning,
            stacklevel=2,
        )
        return agent


class SB3PPO(SB3Agent):
    """PPO (Schulman et al. 2017, arXiv:1707.06347) from Stable-Baselines3."""

    name = "sb3-ppo"
    Config = SB3PPOConfig
    algorithm = PPO


class SB3A2C(SB3Agent):
    """A2C (Mnih et al. 2016, arXiv:1602.01783) from Stable-Baselines3."""

    name = "sb3-a2c"
    Config = SB3A2CConfig
    algorithm = A2C


class SB3DQN(SB3Agent):
    """DQN (Mnih et al. 2015) from Stable-Baselines3."""

    name = "sb3-dqn"
    Config = SB3DQNConfig
    algorithm = DQN
    log_keys = {**LOG_KEYS, "train/loss": "losses/td_loss"}


class SB3MaskablePPO(SB3Agent):
    """MaskablePPO (Huang and Ontañón 2020, arXiv:2006.14171) from sb3-contrib: PPO that never
    samples an action the env's ``action_masks()`` rules out.

    Training reads the masks from each env's ``action_masks()`` method (sb3-contrib's convention;
    our board games and power grids have it), through ``env_method`` of the ``VecEnv``: an env
    without one raises ``ValueError``. :meth:`act` takes the mask of its observation as
    ``action_mask``. Needs sb3-contrib (``pip install sb3-contrib``, or the ``masks`` extra),
    imported when the agent is made.
    """

    name = "sb3-maskable-ppo"
    Config = SB3MaskablePPOConfig
    supports_action_masks: ClassVar[bool] = True

    @classmethod
    def algorithm_class(cls) -> type[BaseAlgorithm]:
        try:
            from sb3_contrib import MaskablePPO
        except ImportError as e:
            raise ImportError(
                f"{cls.name} needs sb3-contrib: pip install sb3-contrib "
                "(or the masks extra: pip install 'sige-rl[masks]')"
            ) from e
        return MaskablePPO

    def _check_env(self, vec_env: VecEnv) -> None:
        from sb3_contrib.common.maskable.utils import is_masking_supported

        if not is_masking_supported(vec_env):
            raise ValueError(
                f"{self.name} reads action masks from the env's action_masks() method "
                "(sb3-contrib's convention); this env has none"
            )

    def act(self, obs: Any, deterministic: bool = True, action_mask: Any = None) -> Any:
        """As :meth:`SB3Agent.act`, over the legal actions only when ``action_mask`` is given:
        True (or 1) for each legal action, one row per observation of a batch. Without a mask
        the policy picks among all actions, as ``MaskablePPO.predict`` does without masks."""
        masks = None if action_mask is None else np.asarray(action_mask, dtype=bool)
        return self._predict(obs, deterministic, action_masks=masks)
