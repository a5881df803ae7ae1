"""What every tabular agent shares: the action-value table, epsilon-greedy action choice (over
the legal actions when the env publishes action masks), schedules, the episode loop's
bookkeeping and pickle-free save / load.

An algorithm file (``td.py``, ``monte_carlo.py`` ...) supplies a ``Config`` dataclass and
``play_episode``; this module supplies everything else.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from sige_rl.agents.common import masks
from sige_rl.agents.common.interface import (
    Callback,
    build_config,
    checkpoint_meta,
    open_checkpoint,
    restore_counters,
)
from sige_rl.agents.common.schedules import Scheduled
from sige_rl.supervised.checkpoint import CheckpointError, save_state


class TabularAgent(Scheduled):
    """Base of the tabular agents: a ``(n_states, n_actions)`` table ``q`` and a seeded generator.

    Args:
        env: an environment with ``Discrete`` observation and action spaces.
        seed: seeds the agent's generator, which also draws each training episode's reset seed,
            so a run is reproducible and a resumed run continues the same random stream.
        config: a resolved ``Config``; ``overrides`` are applied on top of it (or of the
            defaults) and checked.

    A learner whose config has ``action_masks`` true honours the env's action masks
    (``info["action_mask"]`` or an ``action_masks()`` method, read by
    :mod:`sige_rl.agents.common.masks`): the methods below take the current state's ``mask``
    (None: every action legal) and choose, and value, legal actions only; a state with no
    legal action counts every action as legal.
    """

    name: ClassVar[str]
    Config: ClassVar[type]
    format_version: ClassVar[int] = 2
    supports_vector_env: ClassVar[bool] = False
    supports_action_masks: ClassVar[bool] = False
    eval_epsilon: ClassVar[float] = 0.0

    def __init__(self, env: gym.Env, seed: int = 0, config: Any = None, **overrides: Any):
        obs_space, act_space = env.observation_space, env.action_space
        if not isinstance(obs_space, gym.spaces.Discrete) or not isinstance(
            act_space, gym.spaces.Discrete
        ):
            raise ValueError(
                f"{self.name} is tabular: it needs Discrete observation and action spaces, got "
                f"{obs_space} and {act_space} (sige/ gridworlds: obs_type='index')"
            )
        self.config = build_config(type(self), config, overrides)
        self.env = env
        self.seed = seed
        self.n_states, self.n_actions = int(obs_space.n), int(act_space.n)
        self.q = np.full((self.n_states, self.n_actions), getattr(self.config, "q_init", 0.0))
        self.rng = np.random.default_rng(seed)
        self.supports_action_masks = bool(getattr(self.config, "action_masks", False))
        # Looked up once: finding a missing method through the wrappers each step costs a
        # quarter of a tabular step.
        self._masks_method = masks.method_of(env) if self.supports_action_masks else None
        self.num_steps = 0
        self.num_episodes = 0
        self.total_steps = 0
        self.schedule_steps = None

    # -- acting -------------------------------------------------------------------------------
    def act(self, obs: Any, deterministic: bool = True, action_mask: Any = None) -> Any:
        """Greedy action (lowest index among ties, no randomness) for one state or an array of
        states, over the legal actions of ``action_mask`` (one row per state) when given; with
        ``deterministic=False`` a draw from the current epsilon-greedy behaviour policy instead
        (from the agent's generator)."""
        one = np.ndim(obs) == 0
        states = np.atleast_1d(np.asarray(obs, dtype=np.int64))
        rows = [None] * len(states)
        if action_mask is not None:
            rows = np.asarray(action_mask, bool).reshape(len(states), self.n_actions)
        if deterministic:
            scores = self.q[states]
            if action_mask is not None:
                scores = masks.masked_scores(scores, rows)
            actions = scores.argmax(axis=1)
        else:
            draws = zip(states, rows, strict=True)
            actions = np.array([self.explore(int(s), self.epsilon, m) for s, m in draws])
        return int(actions[0]) if one else actions

    def argmax_random_ties(self, s: int, mask: np.ndarray | None = None) -> int:
        """A greedy (legal) action with ties broken at random (learning from a flat table needs
        it)."""
        row = self.q[s] if mask is None else masks.masked_scores(self.q[s], mask)
        best = np.flatnonzero(row == row.max())
        return int(best[0]) if best.size == 1 else int(best[self.rng.integers(best.size)])

    def explore(self, s: int, epsilon: float, mask: np.ndarray | None = None) -> int:
        """An epsilon-greedy action in state ``s``: uniformly random (and legal) with probability
        ``epsilon``, else greedy."""
        if self.rng.random() < epsilon:
            if mask is None:
                return int(self.rng.integers(self.n_actions))
            return int(masks.random_legal(mask[None], self.rng)[0])
        return self.argmax_random_ties(s, mask)

    def policy_probs(self, s: int, epsilon: float, mask: np.ndarray | None = None) -> np.ndarray:
        """Action probabilities of the epsilon-greedy policy (ties share the greedy mass), over
        the legal actions of ``mask`` when given."""
        if mask is None:
            row = self.q[s]
            greedy = row == row.max()
            return epsilon / self.n_actions + (1.0 - epsilon) * greedy / greedy.sum()
        allowed = masks.legal(mask)
        row = masks.masked_scores(self.q[s], allowed)
        greedy = row == row.max()
        return epsilon * allowed / allowed.sum() + (1.0 - epsilon) * greedy / greedy.sum()

    def mask_of(self, info: dict[str, Any]) -> np.ndarray | None:
        """The legal actions of the state ``info`` came with (from its reset or step), or None
        when the env offers no mask or the agent does not honour masks."""
        if not self.supports_action_masks:
            return None
        return masks.single(self.env, info, self.n_actions, self._masks_method)

    # -- learning -----------------------------------------------------------------------------
    def learn(self, total_steps: int, run: Any = None, callback: Callback | None = None):
        """Train until ``num_steps`` reaches ``total_steps`` (a resumed agent continues from its
        count) or ``callback.at_safe_point`` returns False. Returns ``self``."""
        self.total_steps = int(total_steps)
        self.start_schedule(total_steps)
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
        meta = checkpoint_meta(
            self, n_states=self.n_states, n_actions=self.n_actions, rng=self.rng.bit_generator.state
        )
        save_state(path, meta, {"q": self.q, **self.extra_arrays()})

    @classmethod
    def load(cls, path: Any, env: gym.Env, **overrides: Any):
        """Rebuild a saved agent on ``env``; ``CheckpointError`` if it does not fit."""
        meta, arrays, config = open_checkpoint(cls, path, overrides)
        agent = cls(env, seed=int(meta["seed"]), config=config)
        shape = (meta.get("n_states"), meta.get("n_actions"))
        if shape != agent.q.shape:
            raise CheckpointError(
                f"{path} was trained with {shape[0]} states x {shape[1]} actions, but this "
                f"env has {agent.q.shape[0]} x {agent.q.shape[1]}"
            )
        expected = {"q": agent.q, **agent.extra_arrays()}
        for key, ref in expected.items():
            if key not in arrays or arrays[key].shape != ref.shape:
                got = arrays[key].shape if key in arrays else "missing"
                raise CheckpointError(f"{path}: array {key!r}: expected {ref.shape}, got {got}")
            ref[...] = arrays[key]
        restore_counters(agent, meta)
        try:
            agent.rng.bit_generator.state = meta["rng"]
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: the generator state is missing or invalid") from e
        return agent
