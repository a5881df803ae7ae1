"""A transmission network as plain arrays: buses, branches, generating units and loads.

The shipped cases (IEEE 5, 14, 30 and 118 buses) were exported from pandapower by
``scripts/export_cases.py`` and load with :func:`load_case`; :meth:`Case.from_arrays` builds one
from arrays of your own. Units are MW and per unit on ``base_mva``.
"""

from __future__ import annotations

import dataclasses
import difflib
from importlib import resources

import numpy as np

CASE_NAMES: tuple[str, ...] = ("case5", "case14", "case30", "case118")

# Unit kinds (gen_kind)
DISPATCHABLE, SOLAR, WIND = 0, 1, 2

# Thermal limits (derive_limits): 5% above the largest flow a line carries over the reference
# week under the market's dispatch and no action, with a floor of LIMIT_FLOOR times the median
# limit so that lightly used lines do not trip on noise. Other weeks peak higher: with these
# limits the do-nothing agent survives about 870 of a week's 2,016 steps on case14 on average
# (20 seeds), so the operator's actions matter.
LIMIT_MARGIN = 1.05
LIMIT_QUANTILE = 1.0
LIMIT_FLOOR = 0.2


@dataclasses.dataclass(frozen=True, eq=False)
class Case:
    """One network. Arrays per bus, per branch (lines then transformers), per unit (generator:
    dispatchable, solar or wind) and per load; ``slack`` indexes the unit that balances."""

    name: str
    base_mva: float
    bus_xy: np.ndarray  # (n_bus, 2) drawing positions
    bus_vn_kv: np.ndarray
    bus_gs_mw: np.ndarray  # shunt conductance, MW consumed at 1 p.u.
    branch_from: np.ndarray
    branch_to: np.ndarray
    branch_x: np.ndarray  # reactance, p.u.
    branch_tap: np.ndarray  # off-nominal ratio (1 for lines)
    branch_shift_deg: np.ndarray
    branch_is_trafo: np.ndarray
    branch_limit_mw: np.ndarray  # thermal limit as active power (DC: |flow| / limit = rho)
    gen_bus: np.ndarray
    gen_p_mw: np.ndarray  # the source case's dispatch
    gen_pmax: np.ndarray
    gen_pmin: np.ndarray
    gen_cost: np.ndarray  # linear cost, currency per MWh: the merit order
    gen_kind: np.ndarray
    gen_ramp: np.ndarray  # MW per step, up and down
    slack: int
    load_bus: np.ndarray
    load_p_mw: np.ndarray  # the source case's loads: the peak of the load profiles

    @property
    def n_bus(self) -> int:
        return len(self.bus_xy)

    @property
    def n_branch(self) -> int:
        return len(self.branch_x)

    @property
    def n_gen(self) -> int:
        return len(self.gen_bus)

    @property
    def n_load(self) -> int:
        return len(self.load_bus)

    @classmethod
    def from_arrays(cls, name: str, arrays: dict) -> Case:
        """Build and check a case from arrays named as the fields (``branch_limit_mw`` may be
        missing: then every limit is infinite until :func:`derive_limits` sets them)."""
        fields = {f.name for f in dataclasses.fields(cls)} - {"name"}
        missing = fields - set(arrays) - {"branch_limit_mw"}
        if missing:
            raise ValueError(f"case {name!r} lacks {sorted(missing)}")
        values = {k: np.asarray(arrays[k]) for k in fields if k in arrays}
        values.setdefault("branch_limit_mw", np.full(len(values["branch_x"]), np.inf))
        values["base_mva"] = float(values["base_mva"])
        values["slack"] = int(values["slack"])
        for k in ("branch_from", "branch_to", "gen_bus", "gen_kind", "load_bus"):
            values[k] = values[k].astype(np.int64)
        values["branch_is_trafo"] = values["branch_is_trafo"].astype(bool)
        case = cls(name=name, **values)
        case._check()
        return case

    def _check(self) -> None:
        nb, nbr, ng, nl = self.n_bus, self.n_branch, self.n_gen, self.n_load
        shapes = {
            "bus_xy": (nb, 2), "bus_vn_kv": (nb,), "bus_gs_mw": (nb,), "branch_from": (nbr,),
            "branch_to": (nbr,), "branch_tap": (nbr,), "branch_shift_deg": (nbr,),
            "branch_is_trafo": (nbr,), "branch_limit_mw": (nbr,), "gen_p_mw": (ng,),
            "gen_pmax": (ng,), "gen_pmin": (ng,), "gen_cost": (ng,), "gen_kind": (ng,),
            "gen_ramp": (ng,), "load_p_mw": (nl,),
        }  # fmt: skip
        for k, shape in shapes.items():
            if getattr(self, k).shape != shape:
                raise ValueError(f"case {self.name!r}: {k} has shape {getattr(self, k).shape}, "
                                 f"expected {shape}")  # fmt: skip
        for k in ("branch_from", "branch_to", "gen_bus", "load_bus"):
            v = getattr(self, k)
            if len(v) and (v.min() < 0 or v.max() >= nb):
                raise ValueError(f"case {self.name!r}: {k} names a bus outside 0..{nb - 1}")
        if np.any(self.branch_x <= 0) or np.any(self.branch_tap <= 0):
            raise ValueError(f"case {self.name!r}: branch reactances and taps must be > 0")
        if np.any(self.gen_pmin > self.gen_pmax) or np.any(self.gen_ramp < 0):
            raise ValueError(f"case {self.name!r}: needs pmin <= pmax and ramps >= 0")
        if not 0 <= self.slack < ng or self.gen_kind[self.slack] != DISPATCHABLE:
            raise ValueError(f"case {self.name!r}: slack must index a dispatchable unit")
        if np.any(self.branch_limit_mw <= 0):
            raise ValueError(f"case {self.name!r}: thermal limits must be > 0")

    def with_limits(self, limits: np.ndarray) -> Case:
        """This case with other thermal limits (MW, one per branch)."""
        limits = np.asarray(limits, dtype=np.float64)
        case = dataclasses.replace(self, branch_limit_mw=limits)
        case._check()
        return case

    def arrays(self) -> dict[str, np.ndarray]:
        """The fields as arrays, as :meth:`from_arrays` reads them."""
        return {f.name: np.asarray(getattr(self, f.name)) for f in dataclasses.fields(self)
                if f.name != "name"}  # fmt: skip


def load_case(name: str) -> Case:
    """One of :data:`CASE_NAMES`, from the package data."""
    if name not in CASE_NAMES:
        close = difflib.get_close_matches(str(name), CASE_NAMES, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown case {name!r}: choose from {', '.join(CASE_NAMES)}{hint}")
    data = resources.files("sige_rl.envs.power_grid").joinpath("cases", f"{name}.npz")
    with data.open("rb") as fh, np.load(fh, allow_pickle=False) as arrays:
        return Case.from_arrays(name, dict(arrays))


def derive_limits(case: Case, steps: int = 7 * 288, seed: int = 0) -> np.ndarray:
    """Thermal limits for a case without usable ones (the IEEE data carry none or 9,900 MVA):
    ``LIMIT_MARGIN`` times the ``LIMIT_QUANTILE`` quantile of each branch's |flow| over
    ``steps`` five-minute steps of the default series (seed ``seed``) under merit-order dispatch,
    all lines in, then raised to at least ``LIMIT_FLOOR`` times the median. Rounded up to 0.1 MW.
    """
    from sige_rl.envs.power_grid.flow import DCPowerFlow
    from sige_rl.envs.power_grid.series import Dispatcher, default_series

    series = default_series(case, steps, np.random.default_rng(seed))
    flow = DCPowerFlow(case)
    topo = flow.compile(np.ones(case.n_branch, bool), np.ones(flow.n_ends, np.int8))
    dispatcher = Dispatcher(case)
    demand = series.load.sum(axis=1).tolist()
    renew = series.available[:, dispatcher.renewable].tolist()
    flows = np.empty((steps, case.n_branch))
    p = None
    for t in range(steps):
        p = dispatcher.step_one(demand[t], renew[t], p)
        flows[t] = flow.flows(topo, p, series.load[t])
    peak = np.quantile(np.abs(flows), LIMIT_QUANTILE, axis=0) * LIMIT_MARGIN
    peak = np.maximum(peak, LIMIT_FLOOR * np.median(peak))
    return np.ceil(peak * 10) / 10
