"""On-policy Monte Carlo control with epsilon-soft policies (Sutton & Barto 2nd ed., section 5.4),
optionally with exploring starts (section 5.3).

After each episode the return following every (first-)visit of a state-action pair updates its
value: a sample average by default, or a constant step size for non-stationary problems.

Exploring starts matter where the start state is fixed and a good path runs past danger (the
cliff): once epsilon is small, epsilon-soft episodes seldom try the actions that an earlier,
more exploratory policy found costly, so their estimates stay stale and the greedy policy keeps a
safe detour. Starting each episode from a random live state and action refreshes every pair at a
steady rate whatever epsilon is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sige_rl.agents.common.config import ConfigError
from sige_rl.agents.common.interface import Callback
from sige_rl.agents.tabular.base import TabularAgent
from sige_rl.agents.tabular.model import TabularModel


@dataclass
class MCConfig:
    gamma: float = 0.99
    """Discount factor."""
    first_visit: bool = True
    """Average only the return after a pair's first visit in an episode (else every visit)."""
    learning_rate: float | None = None
    """Constant step size; None averages all returns seen so far (1 / visit count)."""
    learning_rate_final: float | None = None
    """Step size at the end of training (linear decay) when ``learning_rate`` is set."""
    epsilon: float = 1.0
    """Exploration probability at the start of training."""
    epsilon_final: float | None = 0.01
    """Exploration probability after ``exploration_fraction`` of training (None: constant)."""
    exploration_fraction: float = 0.5
    """Fraction of the step budget over which epsilon decays linearly."""
    q_init: float = 0.0
    """Initial action value of every (state, action)."""
    bootstrap_truncated: bool = True
    """When a time limit or the step budget cuts an episode, complete its return with the
    discounted value of the last state under the current epsilon-greedy policy (partial-episode
    bootstrapping, Pardo et al. 2018); False keeps the cut return, biased toward short paths."""
    exploring_starts: bool = False
    """Begin each training episode in a uniformly random live state with a uniformly random
    first action (Monte Carlo ES). Needs a toy-text-style env: a model ``P`` and a settable
    state ``unwrapped.s`` (ours, FrozenLake, CliffWalking, Taxi), and no action masks (the
    start state is set by hand, so its legal actions are unknown)."""
    action_masks: bool = True
    """Honour the env's action masks when it offers them (``info["action_mask"]`` or an
    ``action_masks()`` method): actions taken, the tail value of a cut episode, and evaluations
    keep to the legal actions."""


class MonteCarlo(TabularAgent):
    """Every-visit or first-visit Monte Carlo control; hyperparameters in :class:`MCConfig`."""

    name = "mc"
    Config = MCConfig

    def __init__(self, env, seed=0, config=None, **overrides):
        super().__init__(env, seed, config, **overrides)
        self.visits = np.zeros_like(self.q)
        self.live_states = None
        if self.config.exploring_starts:
            if getattr(env.unwrapped, "P", None) is None:
                raise ConfigError(
                    "exploring_starts needs an env with a model P and a settable state "
                    "unwrapped.s (sige/ gridworlds, FrozenLake, CliffWalking, Taxi); "
                    f"{type(env.unwrapped).__name__} has no P"
                )
            self.live_states = TabularModel.from_env(env).live_states()

    def extra_arrays(self):
        return {"visits": self.visits}

    def play_episode(self, seed: int, callback: Callback):
        env = self.env
        s, info = env.reset(seed=seed)
        mask = self.mask_of(info)
        first_action = None
        if self.live_states is not None:
            if not hasattr(env.unwrapped, "s"):  # toy_text envs create ``s`` in reset()
                raise ConfigError(
                    "exploring_starts needs a settable state unwrapped.s (sige/ gridworlds, "
                    f"FrozenLake, CliffWalking, Taxi); {type(env.unwrapped).__name__} has none"
                )
            if mask is not None:
                raise ConfigError(
                    "exploring_starts sets the start state by hand, so its legal actions are "
                    "unknown, and this env publishes action masks: set exploring_starts=false, "
                    "or action_masks=false to let any action start an episode"
                )
            s = int(self.live_states[self.rng.integers(len(self.live_states))])
            env.unwrapped.s = s
            first_action = int(self.rng.integers(self.n_actions))
        epsilon = self.epsilon
        states, actions, rewards = [], [], []
        done = terminated = False
        while self.num_steps < self.total_steps:
            if first_action is None:
                a = self.explore(s, epsilon, mask)
            else:
                a, first_action = first_action, None
            s2, r, terminated, truncated, info = env.step(a)
            mask = self.mask_of(info)
            self.num_steps += 1
            states.append(s)
            actions.append(a)
            rewards.append(r)
            callback.on_step(self)
            if terminated or truncated:
                done = True
                break
            s = s2
        # The time limit is not part of the task (V* has none): a cut episode's returns go on
        # from the last state, valued by the current estimates.
        tail = 0.0
        if rewards and not terminated and self.config.bootstrap_truncated:
            tail = float(self.policy_probs(s2, epsilon, mask) @ self.q[s2])
        sq_err = self._update(states, actions, rewards, tail)
        n = max(len(rewards), 1)
        stats = {
            "losses/mc_error": sq_err / n,
            "losses/q_values": float(self.q[states, actions].mean()),
        }
        return float(sum(rewards)), len(rewards), done, stats

    def _update(self, states, actions, rewards, tail: float = 0.0) -> float:
        gamma, alpha = self.config.gamma, self.learning_rate
        first = {}
        if self.config.first_visit:
            for t in range(len(states) - 1, -1, -1):
                first[(states[t], actions[t])] = t
        g, sq_err = tail, 0.0
        for t in range(len(states) - 1, -1, -1):
            g = rewards[t] + gamma * g
            s, a = states[t], actions[t]
            if self.config.first_visit and first[(s, a)] != t:
                continue
            self.visits[s, a] += 1
            step = alpha if alpha is not None else 1.0 / self.visits[s, a]
            error = g - self.q[s, a]
            self.q[s, a] += step * error
            sq_err += error * error
        return sq_err
