"""A PettingZoo ``ParallelEnv`` as one Stable-Baselines3 ``VecEnv`` with a slot per agent, for
parameter sharing: one policy acts for every agent, on a batch of their observations.

What SuperSuit's ``pettingzoo_env_to_vec_env_v1`` and ``concat_vec_envs_v1`` do together, written
here so that it needs neither SuperSuit nor pickling, and so that seeds and episodes follow our
conventions:

- ``num_copies`` copies of the env, each of its ``N`` agents one slot: ``num_envs = K * N``,
  slot ``c * N + i`` is agent ``i`` (in ``possible_agents`` order) of copy ``c``;
- every agent must have the same ``Box`` observation space and the same action space, and all
  agents of a copy must start and end their episodes together (no agent leaves early);
- each observation is optionally scaled (:class:`ObservationScaling`, a fixed affine map) and
  followed by the agent's one-hot id (``agent_ids=True``), so that the shared policy can still
  tell the agents apart;
- when a copy's episode ends, each of its slots reports ``done`` with the info a ``Monitor``-
  wrapped Gymnasium env would give: ``terminal_observation``, ``TimeLimit.truncated`` (the
  agent was truncated, not terminated) and ``episode`` (``r``: that agent's return, ``l``: the
  length, ``t``: seconds since the adapter was built); the copy is then reset at once and the
  slots hold the new episode's first observations;
- ``seed(s)`` seeds copy ``c`` with ``s + c`` at its next reset (SB3's ``VecEnv.seed`` would
  give every slot its own seed; here the slots of one copy share one env).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv

from sige_rl.agents.multiagent.scaling import ObservationScaling


class ParallelEnvVecEnv(VecEnv):
    """``num_copies`` copies of a PettingZoo ``ParallelEnv`` as one SB3 ``VecEnv`` of
    ``num_copies * N`` slots (see the module docstring).

    Args:
        make_env: builds one copy of the ``ParallelEnv`` (called ``num_copies`` times).
        num_copies: the copies stepped side by side.
        scaling: an :class:`ObservationScaling` of the per-agent observation, or None.
        agent_ids: append each agent's one-hot id to its observation.

    ``envs`` holds the copies; ``agents`` the agent names; ``num_agents`` is ``N``.
    """

    def __init__(
        self,
        make_env: Callable[[], Any],
        num_copies: int = 1,
        scaling: ObservationScaling | None = None,
        agent_ids: bool = True,
    ):
        if not (isinstance(num_copies, (int, np.integer)) and num_copies >= 1):
            raise ValueError(f"num_copies must be a whole number >= 1, got {num_copies!r}")
        self.envs = [make_env() for _ in range(int(num_copies))]
        env = self.envs[0]
        self.agents = list(env.possible_agents)
        self.num_agents = n = len(self.agents)
        if n == 0:
            raise ValueError("the ParallelEnv has no agents")
        obs_space = env.observation_space(self.agents[0])
        act_space = env.action_space(self.agents[0])
        for a in self.agents[1:]:
            if env.observation_space(a) != obs_space or env.action_space(a) != act_space:
                raise ValueError(
                    "parameter sharing needs one observation space and one action space for "
                    f"every agent: {self.agents[0]} has {obs_space} and {act_space}, {a} has "
                    f"{env.observation_space(a)} and {env.action_space(a)}"
                )
        if not (isinstance(obs_space, gym.spaces.Box) and len(obs_space.shape) == 1):
            raise ValueError(f"each agent's observations must be a flat Box, got {obs_space}")
        dim = obs_space.shape[0]
        self.scaling = scaling
        self._centre, self._scale = (
            scaling.arrays(dim) if scaling is not None else (np.zeros(dim), np.ones(dim))
        )
        self.agent_ids = bool(agent_ids)
        low = (obs_space.low.astype(np.float64) - self._centre) / self._scale
        high = (obs_space.high.astype(np.float64) - self._centre) / self._scale
        if self.agent_ids:
            low = np.concatenate([low, np.zeros(n)])
            high = np.concatenate([high, np.ones(n)])
        self._eye = np.eye(n, dtype=np.float32)
        space = gym.spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)
        super().__init__(len(self.envs) * n, space, act_space)
        self._copy_seeds: list[int | None] = [None] * len(self.envs)
        self._returns = np.zeros(self.num_envs)
        self._lengths = np.zeros(len(self.envs), dtype=int)
        self._obs = np.zeros((self.num_envs, *space.shape), np.float32)
        self._actions: np.ndarray | None = None
        self._start = time.perf_counter()

    # -- observations -----------------------------------------------------------------------------
    def transform(self, observations: dict[str, Any]) -> np.ndarray:
        """The ``(N, obs_dim)`` float32 batch of one copy's observation dict, as the policy sees
        it: agents in ``possible_agents`` order, scaled, with their one-hot ids."""
        try:
            raw = np.stack([np.asarray(observations[a], np.float64) for a in self.agents])
        except KeyError as e:
            raise ValueError(
                f"no observation for agent {e.args[0]}: every agent must act at every step"
            ) from None
        out = ((raw - self._centre) / self._scale).astype(np.float32)
        if self.agent_ids:
            out = np.concatenate([out, self._eye], 1)
        return out

    def _slots(self, c: int) -> slice:
        return slice(c * self.num_agents, (c + 1) * self.num_agents)

    def _reset_copy(self, c: int) -> tuple[np.ndarray, dict[str, dict]]:
        seed, self._copy_seeds[c] = self._copy_seeds[c], None
        options = self._options[c * self.num_agents] or None
        obs, infos = self.envs[c].reset(seed=seed, options=options)
        if list(self.envs[c].agents) != self.agents:
            raise ValueError(
                f"after reset the env has agents {self.envs[c].agents}; the adapter needs all of "
                f"possible_agents ({self.agents}) in every episode"
            )
        self._returns[self._slots(c)] = 0.0
        self._lengths[c] = 0
        return self.transform(obs), infos

    # -- VecEnv -----------------------------------------------------------------------------------
    def seed(self, seed: int | None = None) -> list[int | None]:
        """Copy ``c`` resets with ``seed + c`` next time; returns each slot's seed."""
        if seed is None:
            seed = int(np.random.randint(0, 2**32 - 1, dtype=np.uint32))  # noqa: NPY002 (as SB3)
        self._copy_seeds = [seed + c for c in range(len(self.envs))]
        return [seed + c for c in range(len(self.envs)) for _ in self.agents]

    def reset(self) -> np.ndarray:
        for c in range(len(self.envs)):
            obs, infos = self._reset_copy(c)
            self._obs[self._slots(c)] = obs
            for i, a in enumerate(self.agents):
                self.reset_infos[c * self.num_agents + i] = dict(infos.get(a, {}))
        self._reset_options()
        return self._obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self):
        actions, self._actions = self._actions, None
        if actions is None:
            raise RuntimeError("step_wait() without step_async()")
        n = self.num_agents
        rewards = np.zeros(self.num_envs)
        dones = np.zeros(self.num_envs, bool)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for c, env in enumerate(self.envs):
            base = c * n
            step = {a: actions[base + i] for i, a in enumerate(self.agents)}
            obs, rew, term, trunc, info = env.step(step)
            self._lengths[c] += 1
            ends = [bool(term.get(a, False) or trunc.get(a, False)) for a in self.agents]
            if any(ends) and not all(ends):
                raise ValueError(
                    "some agents ended their episode before the others; the adapter needs all "
                    "agents of an env to end together"
                )
            for i, a in enumerate(self.agents):
                r = float(rew.get(a, 0.0))
                rewards[base + i] = r
                self._returns[base + i] += r
                infos[base + i] = dict(info.get(a, {}))
            batch = self.transform(obs)
            if all(ends):
                elapsed = round(time.perf_counter() - self._start, 6)
                for i, a in enumerate(self.agents):
                    slot = infos[base + i]
                    slot["terminal_observation"] = batch[i]
                    slot["TimeLimit.truncated"] = bool(trunc.get(a, False)) and not bool(
                        term.get(a, False)
                    )
                    slot["episode"] = {
                        "r": float(self._returns[base + i]),
                        "l": int(self._lengths[c]),
                        "t": elapsed,
                    }
                dones[self._slots(c)] = True
                batch, reset_infos = self._reset_copy(c)
                for i, a in enumerate(self.agents):
                    self.reset_infos[base + i] = dict(reset_infos.get(a, {}))
            self._obs[self._slots(c)] = batch
        return self._obs.copy(), rewards, dones, infos

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def _copies(self, indices) -> list[int]:
        return [i // self.num_agents for i in self._get_indices(indices)]

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self.envs[c], attr_name) for c in self._copies(indices)]

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        for c in sorted(set(self._copies(indices))):
            setattr(self.envs[c], attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs):
        """Calls the method once per copy (not once per slot), and gives each slot its copy's
        result."""
        copies = self._copies(indices)
        results = {
            c: getattr(self.envs[c], method_name)(*method_args, **method_kwargs)
            for c in dict.fromkeys(copies)
        }
        return [results[c] for c in copies]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices=None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> list[None]:
        return [None for _ in range(self.num_envs)]
