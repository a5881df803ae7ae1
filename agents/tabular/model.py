"""The exact model of a tabular environment, and dynamic programming on it.

Any environment whose ``unwrapped`` exposes Gymnasium toy_text's model
``P[s][a] = [(prob, next_state, reward, terminated), ...]`` works: ours, and Gymnasium's
FrozenLake, CliffWalking and Taxi. The model is turned into dense arrays once so that every sweep
is a matrix product (Sutton & Barto 2nd ed., chapter 4).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import gymnasium as gym
import numpy as np


@dataclass(frozen=True)
class TabularModel:
    """Dense model arrays.

    Attributes:
        reward: ``R[s, a]``, the expected immediate reward.
        cont: ``C[s, a, s']``, the probability of reaching ``s'`` *without* the episode
            terminating; so ``Q = R + gamma * C @ V`` never bootstraps past a terminal transition.
        start: the initial state distribution (``initial_state_distrib`` of toy_text envs).
    """

    reward: np.ndarray
    cont: np.ndarray
    start: np.ndarray

    @property
    def n_states(self) -> int:
        return self.reward.shape[0]

    @property
    def n_actions(self) -> int:
        return self.reward.shape[1]

    @classmethod
    def from_env(cls, env: gym.Env) -> TabularModel:
        """Read ``env.unwrapped.P``; raise ``ValueError`` if the env has no exact model."""
        base = env.unwrapped
        P = getattr(base, "P", None)
        if P is None:
            raise ValueError(
                f"{base.spec.id if base.spec else type(base).__name__} has no exact model: "
                "planning needs env.unwrapped.P[s][a] = [(prob, next_state, reward, terminated)]"
            )
        n_s, n_a = base.observation_space.n, base.action_space.n
        reward = np.zeros((n_s, n_a))
        cont = np.zeros((n_s, n_a, n_s))
        for s in range(n_s):
            for a in range(n_a):
                for prob, s2, r, terminated in P[s][a]:
                    reward[s, a] += prob * r
                    if not terminated:
                        cont[s, a, s2] += prob
        start = getattr(base, "initial_state_distrib", None)
        if start is None:  # a fixed start state, read from a copy: the user's env is left alone
            start = np.zeros(n_s)
            obs, _ = copy.deepcopy(base).reset(seed=0)
            start[int(obs)] = 1.0
        return cls(reward, cont, np.asarray(start, dtype=float))

    def q_values(self, v: np.ndarray, gamma: float) -> np.ndarray:
        return self.reward + gamma * self.cont @ v

    def sweep(self, v: np.ndarray, gamma: float) -> tuple[np.ndarray, np.ndarray, float]:
        """One sweep of value iteration from ``v``: ``(Q, new V, largest change of V)``."""
        q = self.q_values(v, gamma)
        new = q.max(axis=1)
        return q, new, float(np.abs(new - v).max())

    def live_states(self) -> np.ndarray:
        """Indices of the states an episode can be in before it ends: reachable from the start
        distribution through transitions that do not terminate (so no walls, holes or goals)."""
        live = self.start > 0
        frontier = live
        while frontier.any():
            reached = self.cont[frontier].sum(axis=(0, 1)) > 0
            frontier = reached & ~live
            live = live | reached
        return np.flatnonzero(live)


def value_iteration(
    model: TabularModel, gamma: float, theta: float = 1e-10, max_sweeps: int = 100_000
) -> tuple[np.ndarray, int]:
    """Optimal state values ``V*`` and the number of sweeps taken (stops when the largest change
    in a sweep falls below ``theta``)."""
    v = np.zeros(model.n_states)
    for sweep in range(1, max_sweeps + 1):
        _, v, delta = model.sweep(v, gamma)
        if delta < theta:
            return v, sweep
    return v, max_sweeps


def policy_evaluation(
    model: TabularModel,
    policy: np.ndarray,
    gamma: float,
    theta: float = 1e-10,
    max_sweeps: int = 10_000,
) -> np.ndarray:
    """State values of ``policy``: an ``(S, A)`` array of action probabilities, or an ``(S,)``
    array of actions (a deterministic policy).

    Iterative evaluation rather than a linear solve, so that an undiscounted task with a policy
    that never terminates gives a finite (very negative or zero) value instead of a singular
    system.
    """
    if policy.ndim == 1:
        policy = np.eye(model.n_actions)[policy]
    r_pi = (policy * model.reward).sum(axis=1)
    c_pi = np.einsum("sa,sat->st", policy, model.cont)
    v = np.zeros(model.n_states)
    for _ in range(max_sweeps):
        new = r_pi + gamma * c_pi @ v
        if np.abs(new - v).max() < theta:
            return new
        v = new
    return v


def start_value(model: TabularModel, v: np.ndarray) -> float:
    """Expected value over the initial state distribution."""
    return float(model.start @ v)
