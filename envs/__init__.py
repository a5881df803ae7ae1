"""sige-rl environments. Importing this package registers them with Gymnasium.

From another project: ``gym.make("sige_rl.envs:sige/GridWorld-v0")`` imports this package first.
Batched versions: ``gym.make_vec(id, num_envs=N, vectorization_mode="vector_entry_point")``.
"""

from __future__ import annotations

import gymnasium as gym

from sige_rl.envs.gridworld import GridWorld
from sige_rl.envs.gridworld_vector import GridWorldVectorEnv

__all__ = [
    "ATARI_IDS",
    "BOARD_GAME_IDS",
    "BUILDING_IDS",
    "ENV_IDS",
    "MINATAR_IDS",
    "MULTI_AGENT_IDS",
    "POWER_GRID_ALERT_IDS",
    "POWER_GRID_IDS",
    "GridWorld",
    "GridWorldVectorEnv",
]

_GRIDWORLD = "sige_rl.envs.gridworld:GridWorld"
_GRIDWORLD_VECTOR = "sige_rl.envs.gridworld_vector:GridWorldVectorEnv"

# id -> (kwargs, max_episode_steps). The comments give V* of the start state where it is known.
_GRIDWORLD_SPECS: dict[str, tuple[dict, int]] = {
    # 7x7 maze, -1 per step: V*(start) = -12 (shortest path of 12 moves), undiscounted.
    "sige/GridWorld-v0": ({"map": "gridworld", "step_reward": -1.0, "goal_reward": 0.0}, 100),
    # Sutton & Barto Example 3.5 (Figure 3.2/3.5): continuing task, A->A' +10, B->B' +5.
    "sige/SuttonBarto5x5-v0": ({"map": "sutton_barto_5x5", "off_grid_reward": -1.0}, 100),
    # Example 4.1: the two corners are terminal, -1 on every transition.
    "sige/SmallGridWorld-v0": (
        {"map": "small_gridworld", "step_reward": -1.0, "goal_reward": 0.0},
        100,
    ),
    # Example 6.6, the same model as Gymnasium CliffWalking-v1 up to the action order:
    # V*(start) = -13.
    "sige/CliffWalking-v0": (
        {"map": "cliff_walking", "step_reward": -1.0, "goal_reward": 0.0, "cliff_reward": -100.0},
        200,
    ),
    # Example 6.5: the optimal episode takes 15 steps, V*(start) = -15.
    "sige/WindyGridWorld-v0": (
        {
            "map": "windy_gridworld",
            "step_reward": -1.0,
            "goal_reward": 0.0,
            "wind": [0, 0, 0, 1, 1, 1, 2, 2, 1, 0],
        },
        200,
    ),
    # FrozenLake-like ice (slip 2/3) with walls and holes: reward 1 for reaching the goal.
    "sige/SlipperyMaze-v0": ({"map": "slippery_maze", "slip": 2 / 3, "goal_reward": 1.0}, 100),
}

ENV_IDS: tuple[str, ...] = tuple(_GRIDWORLD_SPECS)

for _env_id, (_kwargs, _max_steps) in _GRIDWORLD_SPECS.items():
    if _env_id not in gym.registry:  # re-import or importlib.reload: keep the first registration
        gym.register(
            id=_env_id,
            entry_point=_GRIDWORLD,
            vector_entry_point=_GRIDWORLD_VECTOR,
            kwargs=_kwargs,
            max_episode_steps=_max_steps,
        )

# Atari games (the atari extra): registered always, ale-py imported only when one is made.
ATARI_IDS: tuple[str, ...] = ("sige/Breakout-v0", "sige/Pong-v0")
for _env_id in ATARI_IDS:
    if _env_id not in gym.registry:
        gym.register(
            id=_env_id,
            entry_point="sige_rl.envs.atari:make_atari_env",
            vector_entry_point="sige_rl.envs.atari:make_atari_vector_env",
            kwargs={"game": _env_id.split("/")[1].split("-")[0]},
        )

# MinAtar's 10x10 games (the atari extra): sige/MinAtarBreakout-v0 and so on.
MINATAR_IDS: tuple[str, ...] = tuple(
    f"sige/MinAtar{g}-v0" for g in ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders")
)
for _env_id in MINATAR_IDS:
    if _env_id not in gym.registry:
        gym.register(
            id=_env_id,
            entry_point="sige_rl.envs.minatar:make_minatar_env",
            kwargs={"game": _env_id.split("/")[1].split("-")[0].removeprefix("MinAtar")},
        )

# Power grids (numpy only): sige/PowerGrid-v0 takes the case as an argument (case14 by default);
# sige/PowerGrid5-v0 ... sige/PowerGrid118-v0 fix it. A week of five-minute steps.
POWER_GRID_IDS: tuple[str, ...] = (
    "sige/PowerGrid-v0",
    "sige/PowerGrid5-v0",
    "sige/PowerGrid14-v0",
    "sige/PowerGrid30-v0",
    "sige/PowerGrid118-v0",
)
for _env_id in POWER_GRID_IDS:
    if _env_id not in gym.registry:
        _digits = _env_id.removeprefix("sige/PowerGrid").removesuffix("-v0")
        gym.register(
            id=_env_id,
            entry_point="sige_rl.envs.power_grid.env:PowerGridEnv",
            vector_entry_point="sige_rl.envs.power_grid.vector:PowerGridVectorEnv",
            kwargs={"case": f"case{_digits}"} if _digits else {},
            max_episode_steps=7 * 288,
        )

# The same grids with alerts (envs/power_grid/alerts.py): the agent decides only when a line is at
# 95% or more; in between the grid runs with do-nothing. No TimeLimit: the grid's week ends it.
POWER_GRID_ALERT_IDS: tuple[str, ...] = ("sige/PowerGrid14Alert-v0", "sige/PowerGrid118Alert-v0")
for _env_id in POWER_GRID_ALERT_IDS:
    if _env_id not in gym.registry:
        _digits = _env_id.removeprefix("sige/PowerGrid").removesuffix("Alert-v0")
        gym.register(
            id=_env_id,
            entry_point="sige_rl.envs.power_grid.alerts:make_alert_env",
            kwargs={"case": f"case{_digits}"},
        )

# Building energy (numpy only): a heat pump's setpoints in a grey-box RC building, a week of
# fifteen-minute steps (the env truncates itself: ``episode_days`` is an argument).
BUILDING_IDS: tuple[str, ...] = ("sige/BuildingHVAC-v0", "sige/BuildingHVACDiscrete-v0")
for _env_id in BUILDING_IDS:
    if _env_id not in gym.registry:
        gym.register(
            id=_env_id,
            entry_point="sige_rl.envs.building.env:BuildingHVACEnv",
            vector_entry_point="sige_rl.envs.building.vector:BuildingHVACVectorEnv",
            kwargs={"action_type": "discrete" if "Discrete" in _env_id else "box"},
        )

# Multi-agent envs (PettingZoo, imported only when one is made): id -> "module:factory" of the
# ParallelEnv. ``from sige_rl.envs import energy_community_v0`` gives parallel_env() and env()
# (the AEC form), and registers the id with PettingZoo's own registry.
MULTI_AGENT_IDS: dict[str, str] = {
    "sige/EnergyCommunity-v0": "sige_rl.envs.energy_community_v0:parallel_env",
}

# Board games (numpy only): the agent against a built-in opponent (random by default), +1 win,
# -1 loss or illegal move. ``from sige_rl.envs import tictactoe_v0, connect_four_v0`` gives the
# two-player PettingZoo AEC forms (which register the same ids with PettingZoo's registry).
BOARD_GAME_IDS: tuple[str, ...] = ("sige/TicTacToe-v0", "sige/ConnectFour-v0")
for _env_id, _game in zip(BOARD_GAME_IDS, ("tictactoe", "connect_four"), strict=True):
    if _env_id not in gym.registry:
        gym.register(
            id=_env_id,
            entry_point="sige_rl.envs.board_games.env:BoardGameEnv",
            kwargs={"game": _game},
        )
