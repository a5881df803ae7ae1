"""The power-grid environment: DC power flow, Grid2Op's operating rules, IEEE cases as package
data. ``gym.make("sige/PowerGrid-v0", case="case118")`` or ``sige/PowerGrid14-v0`` and
similar ids (registered by ``sige_rl.envs``)."""

from sige_rl.envs.power_grid.case import CASE_NAMES, Case, load_case
from sige_rl.envs.power_grid.env import PowerGridEnv

__all__ = ["CASE_NAMES", "Case", "PowerGridEnv", "load_case"]
