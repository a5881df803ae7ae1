"""``BoardGameEnv``: tic-tac-toe or Connect Four as a single-agent Gymnasium env, the agent
against a built-in opponent (``sige/TicTacToe-v0``, ``sige/ConnectFour-v0``).

- Observation: ``Box(0, 1, (2, rows, cols), uint8)``, the agent's stones then the opponent's.
- Action: ``Discrete(9)`` (tic-tac-toe, cell ``3 * row + col``) or ``Discrete(7)`` (a column).
- ``info["action_mask"]``: int8, 1 for the legal actions, on reset and on every step (all zeros
  once the game is over), and the same as booleans from ``action_masks()`` (sb3-contrib's
  convention); ``info["agent_player"]``: 0 if the agent moves first, else 1.
- Reward: +1 win, -1 loss, 0 draw, at the end; 0 before.
- An illegal action (an occupied cell, a full column) ends the episode: reward -1,
  ``terminated=True`` and ``info["illegal"] = True``, as PettingZoo's classic games do with
  ``TerminateIllegalWrapper(illegal_reward=-1)``; the board is left as it was.
- ``opponent``: ``"random"`` (uniform over the legal actions, drawn from the env's
  ``np_random``, so ``reset(seed=...)`` fixes it) or a callable ``(state) -> action`` given the
  game state (:class:`~sige_rl.envs.board_games.base.BoardState`).
- ``agent_plays``: 0 (the agent moves first), 1 (the opponent does, on reset), ``"alternate"``
  (0, 1, 0, ... by reset) or ``"random"`` (drawn from ``np_random`` on each reset).
- ``state``: the game state (for a search: the protocol of issue 13);
  ``clone_state()``/``restore_state()`` snapshot and put back the episode (the opponent's
  random stream is not part of it).
- Render modes ``"ansi"`` (text) and ``"rgb_array"`` (drawn with numpy).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from sige_rl.envs.board_games import GAMES
from sige_rl.envs.board_games.base import BoardState

__all__ = ["BoardGameEnv"]

_CELL = 32  # pixels per cell in rgb_array
_COLOURS = {
    "tictactoe": ((235, 235, 235), (200, 30, 30), (30, 60, 200)),
    "connect_four": ((20, 60, 170), (220, 30, 30), (240, 210, 30)),
}


class BoardGameEnv(gym.Env):
    """A two-player board game against a built-in opponent (see the module docstring)."""

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 2}

    def __init__(
        self,
        game: str = "connect_four",
        opponent: str | Callable[[BoardState], int] = "random",
        agent_plays: int | str = 0,
        render_mode: str | None = None,
    ):
        if game not in GAMES:
            raise ValueError(f"unknown game {game!r}: one of {sorted(GAMES)}")
        if not (opponent == "random" or callable(opponent)):
            raise ValueError(f"opponent must be 'random' or a callable, not {opponent!r}")
        if agent_plays not in (0, 1, "alternate", "random"):
            raise ValueError(f"agent_plays must be 0, 1, 'alternate' or 'random': {agent_plays!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        self.game = game
        self.game_cls = GAMES[game]
        self.opponent = opponent
        self.agent_plays = agent_plays
        self.render_mode = render_mode
        rows, cols = self.game_cls.ROWS, self.game_cls.COLS
        self.observation_space = spaces.Box(0, 1, (2, rows, cols), np.uint8)
        self.action_space = spaces.Discrete(self.game_cls.NUM_ACTIONS)
        self._state: BoardState = self.game_cls()
        self._agent = 0
        self._done = False
        self._resets = 0

    # -- the game ---------------------------------------------------------------------------------
    @property
    def state(self) -> BoardState:
        """The current game state (immutable: stepping it never changes the env)."""
        return self._state

    @property
    def agent_player(self) -> int:
        """0 if the agent moves first in this episode, else 1."""
        return self._agent

    def action_masks(self) -> np.ndarray:
        """Which actions are legal now, as booleans: sb3-contrib's convention (MaskablePPO calls
        it); the same as ``info["action_mask"]`` (all False once the game is over)."""
        return self._state.legal_mask().astype(bool)

    def _opponent_action(self) -> int:
        legal = self._state.legal_actions()
        if self.opponent == "random":
            return legal[int(self.np_random.integers(len(legal)))]
        action = int(self.opponent(self._state))
        if action not in legal:
            raise ValueError(f"the opponent played the illegal action {action} in\n{self._state}")
        return action

    def _obs(self) -> np.ndarray:
        return self._state.planes(self._agent)

    def _info(self, **extra) -> dict[str, Any]:
        return {"action_mask": self._state.legal_mask(), "agent_player": self._agent, **extra}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if self.agent_plays == "alternate":
            self._agent = self._resets % 2
        elif self.agent_plays == "random":
            self._agent = int(self.np_random.integers(2))
        else:
            self._agent = int(self.agent_plays)
        self._resets += 1
        self._state = self.game_cls()
        self._done = False
        if self._agent == 1:
            self._state = self._state.step(self._opponent_action())
        return self._obs(), self._info()

    def step(self, action):
        if self._done:
            raise RuntimeError("the episode is over: call reset()")
        a = int(action)
        if a not in self._state.legal_actions():
            self._done = True
            return self._obs(), -1.0, True, False, self._info(illegal=True)
        self._state = self._state.step(a)
        if not self._state.is_terminal():
            self._state = self._state.step(self._opponent_action())
        terminated = self._state.is_terminal()
        reward = self._state.returns()[self._agent] if terminated else 0.0
        self._done = terminated
        return self._obs(), float(reward), terminated, False, self._info()

    # -- search state ---------------------------------------------------------------------------
    def clone_state(self) -> tuple[BoardState, int, bool]:
        """A snapshot of the episode: (game state, agent's player, over?)."""
        return (self._state, self._agent, self._done)

    def restore_state(self, state: tuple[BoardState, int, bool]) -> None:
        """Return to a snapshot from :meth:`clone_state` (it stays usable)."""
        self._state, self._agent, self._done = state

    # -- render ---------------------------------------------------------------------------------
    def render(self):
        if self.render_mode == "ansi":
            s = self._state
            you = "XO"[self._agent]
            return f"{s}\n(agent plays {you}, {s.legal_actions() and 'to move' or 'game over'})\n"
        if self.render_mode == "rgb_array":
            return self._draw()
        return None

    def _draw(self) -> np.ndarray:
        board = self._state.board()
        rows, cols = board.shape
        bg, c0, c1 = (np.array(c, np.uint8) for c in _COLOURS[self.game])
        img = np.empty((rows * _CELL, cols * _CELL, 3), np.uint8)
        img[:] = bg
        y, x = np.mgrid[0:_CELL, 0:_CELL] + 0.5
        d = np.hypot(y - _CELL / 2, x - _CELL / 2)
        hole = d < _CELL * 0.4
        ring = (d < _CELL * 0.38) & (d > _CELL * 0.26)
        cross = ((np.abs(y - x) < _CELL * 0.08) | (np.abs(y + x - _CELL) < _CELL * 0.08)) & (
            np.maximum(np.abs(y - _CELL / 2), np.abs(x - _CELL / 2)) < _CELL * 0.35
        )
        white = np.array((255, 255, 255), np.uint8)
        for r in range(rows):
            for c in range(cols):
                cell = img[r * _CELL : (r + 1) * _CELL, c * _CELL : (c + 1) * _CELL]
                v = board[r, c]
                if self.game == "connect_four":
                    cell[hole] = white if v == 0 else (c0 if v == 1 else c1)
                else:
                    cell[0, :] = cell[:, 0] = 90  # grid lines
                    if v == 1:
                        cell[cross] = c0
                    elif v == 2:
                        cell[ring] = c1
        return img
