"""``sige/ConnectFour-v0`` for two learners: PettingZoo's AEC form and module convention
(like its ``connect_four_v3``): ``env()`` wrapped as PettingZoo wraps classic games, ``raw_env``
without; see :mod:`sige_rl.envs.board_games.aec`. Importing it registers the id with
PettingZoo's registry."""

from __future__ import annotations

from sige_rl.envs.board_games.aec import BoardGameAECEnv, register_aec, wrap
from sige_rl.envs.board_games.connect_four import ConnectFourState

__all__ = ["ENV_ID", "env", "raw_env"]

ENV_ID = "sige/ConnectFour-v0"


class raw_env(BoardGameAECEnv):  # noqa: N801 (PettingZoo's name)
    """The AEC env without the wrappers (an illegal move raises ValueError)."""

    game_cls = ConnectFourState
    metadata = {"render_modes": ["ansi"], "name": "connect_four_v0", "is_parallelizable": False}


def env(**kwargs):
    """The AEC env with PettingZoo's wrappers for classic games."""
    return wrap(raw_env(**kwargs))


register_aec(ENV_ID, __name__)
