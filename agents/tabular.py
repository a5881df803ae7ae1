"""What every tabular agent shares: the action-value table, epsilon-greedy action choice,
schedules, the episode loop's bookkeeping and pickle-free save / load.

An algorithm file (``q_learning.py``, ``monte_carlo.py`` ...) supplies a ``Config`` dataclass and
``play_episode``; this module supplies everything else.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from agents.callbacks import Callback
from agents.config import ConfigError, resolve
from agents.schedules import Scheduled
from supervised.checkpoint import CheckpointError, load_state, save_state

FORMAT_VERSION = 1


class TabularAgent(Scheduled):
    """Base of the tabular agents: a ``(n_states, n_actions)`` table ``q`` and a seeded generator.

    Args:
        env: an environment with ``Discrete`` observation and action spaces.
        seed: seeds the agent's generator, which also draws each training episode's reset seed,
            so a run is reproducible and a resumed run continues the same random stream.
        config: a resolved ``Config``; else one is built from the defaults and ``overrides``.
    """

    name: ClassVar[str]
    Config: ClassVar[type]

    def __init__(self, env: gym.Env, seed: int = 0, config: Any = None, **overrides: Any):
        obs_space, act_space = env.observation_space, env.action_space
        if not isinstance(obs_space, gym.spaces.Discrete) or not isinstance(
            act_space, gym.spaces.Discrete
        ):
            raise ValueError(
                f"{self.name} is tabular: it needs Discrete observation and action spaces, got "
                f"{obs_space} and {act_space} (sige/ gridworlds: obs_type='index')"
            )
        if config is None:
            config = resolve(self.Config, ("arguments", overrides))
        elif overrides:
            config = dataclasses.replace(config, **overrides)
        self.config = config
        self.env = env
        self.seed = seed
        self.n_states, self.n_actions = int(obs_space.n), int(act_space.n)
        self.q = np.full((self.n_states, self.n_actions), getattr(config, "q_init", 0.0))
        self.rng = np.random.default_rng(seed)
        self.num_steps = 0
        self.num_episodes = 0
        self.total_steps = 0

    # -- acting -------------------------------------------------------------------------------
    def act(self, obs: Any, deterministic: bool = True) -> Any:
        """Greedy action (lowest index among ties) for one state or an array of states; with
        ``deterministic=False`` the current epsilon-greedy behaviour policy instead."""
        if deterministic:
            if np.ndim(obs) == 0:
                return int(self.q[int(obs)].argmax())
            return self.q[np.asarray(obs)].argmax(axis=1)
        if np.ndim(obs) == 0:
            return self.explore(int(obs), self.epsilon)
        return np.array([self.explore(int(s), self.epsilon) for s in np.asarray(obs)])

    def greedy(self, s: int) -> int:
        """A greedy action with ties broken at random (learning from a flat table needs it)."""
        row = self.q[s]
        best = np.flatnonzero(row == row.max())
        return int(best[0]) if best.size == 1 else int(best[self.rng.integers(best.size)])

    def explore(self, s: int, epsilon: float) -> int:
        if self.rng.random() < epsilon:
            return int(self.rng.integers(self.n_actions))
        return self.greedy(s)

    def policy_probs(self, s: int, epsilon: float) -> np.ndarray:
        """Action probabilities of the epsilon-greedy policy (ties share the greedy mass)."""
        row = self.q[s]
        greedy = row == row.max()
        return epsilon / self.n_actions + (1.0 - epsilon) * greedy / greedy.sum()

    # -- learning -----------------------------------------------------------------------------
    def learn(self, total_steps: int, run: Any = None, callback: Callback | None = None):
        """Train until ``num_steps`` reaches ``total_steps`` (a resumed agent continues from its
        count) or ``callback.at_safe_point`` returns False. Returns ``self``."""
        self.total_steps = int(total_steps)
        callback = callback or Callback()
        last_sps_time, last_sps_steps = time.perf_counter(), self.num_steps
        while self.num_steps < self.total_steps and callback.at_safe_point(self):
            seed = int(self.rng.integers(2**31 - 1))
            episode_return, length, done, stats = self.play_episode(seed, callback)
            if not done:
                break
            self.num_episodes += 1
            callback.on_episode(self, episode_return, length)
            if run is not None:
                now = time.perf_counter()
                scalars = {
                    "charts/episodic_return": episode_return,
                    "charts/episodic_length": length,
                    "charts/epsilon": self.epsilon,
                    **stats,
                }
                if self.learning_rate is not None:
                    scalars["charts/learning_rate"] = self.learning_rate
                if now - last_sps_time >= 1.0:
                    scalars["charts/SPS"] = (self.num_steps - last_sps_steps) / (
                        now - last_sps_time
                    )
                    last_sps_time, last_sps_steps = now, self.num_steps
                run.log_scalars(scalars, self.num_steps)
        return self

    def play_episode(
        self, seed: int, callback: Callback
    ) -> tuple[float, int, bool, dict[str, float]]:
        """Play (and learn from) one episode started with ``env.reset(seed=seed)``; stop early
        when the step budget runs out. Returns ``(return, length, finished, scalars_to_log)``."""
        raise NotImplementedError

    # -- persistence --------------------------------------------------------------------------
    def extra_arrays(self) -> dict[str, np.ndarray]:
        """Arrays besides ``q`` that a subclass needs to resume exactly."""
        return {}

    def save(self, path: Any) -> None:
        """Write the agent to the folder ``path`` atomically (``meta.json`` + ``arrays.npz``)."""
        meta = {
            "agent": self.name,
            "format": FORMAT_VERSION,
            "config": dataclasses.asdict(self.config),
            "seed": self.seed,
            "n_states": self.n_states,
            "n_actions": self.n_actions,
            "num_steps": self.num_steps,
            "num_episodes": self.num_episodes,
            "total_steps": self.total_steps,
            "rng": self.rng.bit_generator.state,
        }
        save_state(path, meta, {"q": self.q, **self.extra_arrays()})

    @classmethod
    def from_state(cls, meta: dict, arrays: dict[str, np.ndarray], env: gym.Env):
        """Rebuild an agent from what :meth:`save` wrote; raise ``CheckpointError`` on mismatch."""
        if meta.get("format") != FORMAT_VERSION:
            raise CheckpointError(
                f"checkpoint format {meta.get('format')!r} is not supported "
                f"(expected {FORMAT_VERSION})"
            )
        try:
            config = resolve(cls.Config, ("checkpoint", meta["config"]))
            agent = cls(env, seed=int(meta["seed"]), config=config)
        except (KeyError, ConfigError) as e:
            raise CheckpointError(f"checkpoint metadata is incomplete or invalid: {e}") from e
        shape = (int(meta["n_states"]), int(meta["n_actions"]))
        if shape != agent.q.shape:
            raise CheckpointError(
                f"checkpoint was trained with {shape[0]} states x {shape[1]} actions, but this "
                f"env has {agent.q.shape[0]} x {agent.q.shape[1]}"
            )
        expected = {"q": agent.q, **agent.extra_arrays()}
        for key, ref in expected.items():
            if key not in arrays or arrays[key].shape != ref.shape:
                got = arrays[key].shape if key in arrays else "missing"
                raise CheckpointError(f"checkpoint array {key!r}: expected {ref.shape}, got {got}")
            ref[...] = arrays[key]
        agent.num_steps = int(meta["num_steps"])
        agent.num_episodes = int(meta["num_episodes"])
        agent.total_steps = int(meta["total_steps"])
        agent.rng.bit_generator.state = meta["rng"]
        return agent

    @classmethod
    def load(cls, path: Any, env: gym.Env):
        meta, arrays = load_state(path)
        return cls.from_state(meta, arrays, env)
