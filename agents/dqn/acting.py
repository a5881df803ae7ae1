"""How the Q-learning agents of this folder act in their vector envs (DQN and PQN): greedy and
epsilon-greedy actions from a Q network, for one observation or a batch, over the legal actions
when a mask is given; and the bookkeeping of an episode that ends.

A class using :class:`QActing` has ``q`` (a ``QNetwork``), ``env`` (a vector env), ``device``,
``n_actions``, ``action_start`` (the Discrete space's ``start``), ``epsilon``, ``rng``,
``num_envs``, ``config.action_masks`` (whether masks are honoured),
``_numpy_scores`` (a numpy copy of the forward pass for CPU acting, or None), the per-sub-env
``episode_returns`` and ``episode_lengths``, and the counters ``num_episodes``, ``num_steps``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sige_rl.agents.common import masks


class QActing:
    """Greedy, epsilon-greedy and ``act`` for an agent with a Q network, and the end of a
    sub-env's episode."""

    def _tensor(self, obs: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(obs), device=self.device)

    def _masks(self, info: dict) -> np.ndarray | None:
        """The masks of the observations that ``info`` came with (the info's, else the env's
        ``action_masks()``), one row per sub-env; None when the env offers none or the config's
        ``action_masks`` is off."""
        if not self.config.action_masks:
            return None
        return masks.current(self.env, info, self.num_envs, self.n_actions)

    def greedy(self, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Greedy actions for a batch of observations (``QNetwork.greedy``), over the actions
        that ``mask`` (one row per observation) allows when given."""
        if mask is None and self._numpy_scores is not None:
            return self._numpy_scores(np.asarray(obs)).argmax(axis=1) + self.action_start
        if mask is None:
            with torch.no_grad():
                return self.q.greedy(self._tensor(obs)).cpu().numpy() + self.action_start
        if self._numpy_scores is not None:
            scores = self._numpy_scores(np.asarray(obs))
        else:
            with torch.no_grad():
                scores = self.q(self._tensor(obs)).cpu().numpy()
        return masks.masked_scores(scores, mask).argmax(axis=1) + self.action_start

    def _epsilon_greedy(
        self,
        obs: np.ndarray,
        epsilon: float,
        rng: np.random.Generator,
        mask: np.ndarray | None = None,
    ) -> np.ndarray:
        n = len(obs)
        explore = rng.random(n) < epsilon
        if mask is None:
            actions = rng.integers(self.n_actions, size=n) + self.action_start
        else:
            actions = masks.random_legal(mask, rng) + self.action_start
        if not explore.all():
            actions = np.where(explore, actions, self.greedy(obs, mask))
        return actions

    def act(self, obs: Any, deterministic: bool = True, action_mask: Any = None) -> Any:
        """Action for one observation or a batch: ``deterministic`` gives the greedy action (no
        randomness); otherwise epsilon-greedy with the current training epsilon, drawn from the
        agent's generator. ``action_mask`` (bools, one row per observation) limits both to the
        legal actions. Evaluations add ``eval_epsilon`` themselves (``evaluate``)."""
        single = np.ndim(obs) == len(self.env.single_observation_space.shape)
        batch = np.asarray(obs)[None] if single else np.asarray(obs)
        mask = None
        if action_mask is not None:
            mask = np.asarray(action_mask, bool).reshape(len(batch), self.n_actions)
        if deterministic:
            actions = self.greedy(batch, mask)
        else:
            actions = self._epsilon_greedy(batch, self.epsilon, self.rng, mask)
        return int(actions[0]) if single else actions

    def _finish_episode(self, i: int, run: Any, callback: Any) -> None:
        """Sub-env ``i``'s episode ended: count it, tell the callback, log its return and length,
        and start its totals again."""
        ret, length = float(self.episode_returns[i]), int(self.episode_lengths[i])
        self.episode_returns[i] = 0.0
        self.episode_lengths[i] = 0
        self.num_episodes += 1
        callback.on_episode(self, ret, length)
        if run is not None:
            run.log_scalars(
                {"charts/episodic_return": ret, "charts/episodic_length": length}, self.num_steps
            )
