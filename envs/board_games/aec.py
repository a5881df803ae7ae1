"""The PettingZoo AEC form of the board games (imports PettingZoo: only
``sige_rl.envs.tictactoe_v0`` and ``sige_rl.envs.connect_four_v0`` import this module).

Structured as PettingZoo's ``connect_four_v3`` raw env, on our bitboard states: agents
``"player_0"`` (moves first) and ``"player_1"``; an observation is
``{"observation": (rows, cols, 2) int8 planes (the observer's stones, then the other's),
"action_mask": int8}``, the mask all zeros for the agent not to move and once the game is over;
rewards +1/-1/0 at the end. Illegal moves are left to ``TerminateIllegalWrapper`` (``env()``);
the raw env raises on one.
"""

from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.utils import EzPickle
from pettingzoo import AECEnv
from pettingzoo.utils import wrappers
from pettingzoo.utils.agent_selector import AgentSelector

from sige_rl.envs.board_games.base import BoardState

__all__ = ["BoardGameAECEnv", "register_aec", "wrap"]


def wrap(aec: AECEnv) -> AECEnv:
    """PettingZoo's wrappers for its classic games: an illegal move ends the game with -1 for
    the player who made it, an out-of-range action fails an assertion, the call order is
    enforced."""
    aec = wrappers.TerminateIllegalWrapper(aec, illegal_reward=-1)
    aec = wrappers.AssertOutOfBoundsWrapper(aec)
    return wrappers.OrderEnforcingWrapper(aec)


class BoardGameAECEnv(AECEnv, EzPickle):
    """A two-player board game as an AEC env; subclasses set ``game_cls`` and ``metadata``."""

    game_cls: type[BoardState]
    metadata = {"render_modes": ["ansi"], "name": "board_game", "is_parallelizable": False}

    def __init__(self, render_mode: str | None = None):
        EzPickle.__init__(self, render_mode)
        super().__init__()
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        self.render_mode = render_mode
        g = self.game_cls
        self.agents = ["player_0", "player_1"]
        self.possible_agents = self.agents[:]
        self.action_spaces = {a: spaces.Discrete(g.NUM_ACTIONS) for a in self.agents}
        self.observation_spaces = {
            a: spaces.Dict(
                {
                    "observation": spaces.Box(0, 1, (g.ROWS, g.COLS, 2), np.int8),
                    "action_mask": spaces.Box(0, 1, (g.NUM_ACTIONS,), np.int8),
                }
            )
            for a in self.agents
        }
        self.game_state: BoardState = g()

    def observation_space(self, agent):
        return self.observation_spaces[agent]

    def action_space(self, agent):
        return self.action_spaces[agent]

    def observe(self, agent):
        player = self.possible_agents.index(agent)
        planes = self.game_state.planes(player)
        observation = np.ascontiguousarray(planes.transpose(1, 2, 0), dtype=np.int8)
        if agent == self.agent_selection:
            mask = self.game_state.legal_mask()
        else:
            mask = np.zeros(self.game_cls.NUM_ACTIONS, np.int8)
        return {"observation": observation, "action_mask": mask}

    def reset(self, seed=None, options=None):
        self.game_state = self.game_cls()
        self.agents = self.possible_agents[:]
        self.rewards = dict.fromkeys(self.agents, 0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {a: {} for a in self.agents}
        self._agent_selector = AgentSelector(self.agents)
        self.agent_selection = self._agent_selector.reset()

    def step(self, action):
        if self.terminations[self.agent_selection] or self.truncations[self.agent_selection]:
            return self._was_dead_step(action)
        self._clear_rewards()
        self.game_state = self.game_state.step(int(action))  # ValueError if illegal
        if self.game_state.is_terminal():
            for agent, ret in zip(self.possible_agents, self.game_state.returns(), strict=True):
                self.rewards[agent] = ret
            self.terminations = dict.fromkeys(self.agents, True)
        self.agent_selection = self._agent_selector.next()
        self._accumulate_rewards()

    def render(self):
        if self.render_mode is None:
            gymnasium.logger.warn("render() called without a render_mode")
            return None
        return str(self.game_state)

    def close(self):
        pass


def register_aec(env_id: str, module: str) -> None:
    """Register ``module:env`` under ``env_id`` with PettingZoo's registry (1.27+), so that
    ``pettingzoo.make("aec", env_id)`` works; the first registration is kept on re-import."""
    try:
        from pettingzoo.env_registry.registration import aec_registry, register
    except ImportError:  # PettingZoo before 1.27 has no registry
        return
    if env_id not in aec_registry:
        register("aec", env_id, entry_point=f"{module}:env")
