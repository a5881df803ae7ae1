"""Two-player board games on bitboards (numpy and Python ints only): the game states
(:class:`TicTacToeState`, :class:`ConnectFourState`, the search protocol of issue 13) and
:class:`~sige_rl.envs.board_games.env.BoardGameEnv`, the single-agent Gymnasium env against a
built-in opponent. The PettingZoo forms are ``sige_rl.envs.tictactoe_v0`` and
``sige_rl.envs.connect_four_v0`` (this package does not import PettingZoo)."""

from __future__ import annotations

from sige_rl.envs.board_games.base import BoardState
from sige_rl.envs.board_games.connect_four import ConnectFourState
from sige_rl.envs.board_games.tictactoe import TicTacToeState

__all__ = ["GAMES", "BoardState", "ConnectFourState", "TicTacToeState"]

GAMES: dict[str, type[BoardState]] = {
    "tictactoe": TicTacToeState,
    "connect_four": ConnectFourState,
}
