"""Export the IEEE 5-, 14-, 30- and 118-bus cases from pandapower into envs/power_grid/cases/.

    python scripts/export_cases.py            # needs pandapower (a dev / bench dependency)

Each case becomes one ``<name>.npz`` of plain arrays (no pickles), read by
``sige_rl.envs.power_grid.case.load_case``. The electrical data are pandapower's own internal
(PYPOWER) arrays after ``rundcpp``: branch reactance and tap ratio in per unit on the case's MVA
base, phase shifts, bus shunt conductance, so that our DC power flow and pandapower's see the
same network. What the IEEE data lack is added here by documented rules (README, "Power grid"):

- generators: every pandapower ``ext_grid``, ``gen`` and ``sgen`` becomes a dispatchable unit
  with its limits and linear cost (``poly_cost``); the ``ext_grid`` is the slack;
- renewables: a solar and a wind unit, RENEWABLE_SHARE of the case's total load each, at the two
  buses farthest (in branch hops) from the slack, solar at the farthest;
- ramp limits: RAMP_SHARE of a unit's maximum output per 5-minute step;
- thermal limits: computed afterwards by ``sige_rl.envs.power_grid.case.derive_limits``, from our
  own dispatch over a reference week (the limits depend on the series, not on pandapower).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

CASES = ("case5", "case14", "case30", "case118")
OUT = Path(__file__).resolve().parents[1] / "envs" / "power_grid" / "cases"
RENEWABLE_SHARE = {"solar": 0.15, "wind": 0.20}
RAMP_SHARE = 0.05


def hops_from(start: int, n_bus: int, f: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Branch hops from ``start`` to every bus (breadth first)."""
    adjacent: list[list[int]] = [[] for _ in range(n_bus)]
    for a, b in zip(f, t, strict=True):
        adjacent[a].append(b)
        adjacent[b].append(a)
    dist = np.full(n_bus, -1)
    dist[start], frontier = 0, [start]
    while frontier:
        nxt = []
        for a in frontier:
            for b in adjacent[a]:
                if dist[b] < 0:
                    dist[b] = dist[a] + 1
                    nxt.append(b)
        frontier = nxt
    return dist


def export(name: str) -> dict[str, np.ndarray]:
    import pandapower as pp
    import pandapower.networks as pn

    net = getattr(pn, name)()
    pp.rundcpp(net, numba=False)
    ppc, lookup = net._ppc, net._pd2ppc_lookups
    if not (lookup["bus"] == np.arange(len(net.bus))).all():
        raise RuntimeError(f"{name}: pandapower reordered the buses; the export assumes it did not")
    base = float(ppc["baseMVA"])
    bus, branch = ppc["bus"], ppc["branch"]
    lines, trafos = lookup["branch"]["line"], lookup["branch"].get("trafo", (0, 0))
    n_line, n_trafo = lines[1] - lines[0], trafos[1] - trafos[0]
    if len(branch) != n_line + n_trafo:
        raise RuntimeError(f"{name}: branches other than lines and transformers")
    f, t = branch[:, 0].real.astype(np.int64), branch[:, 1].real.astype(np.int64)
    tap = branch[:, 8].real.copy()
    tap[tap == 0] = 1.0  # PYPOWER: a tap of 0 means 1

    # units: the slack first, then gens, then sgens, each with limits and a linear cost
    cost = {(r.et, int(r.element)): float(r.cp1_eur_per_mw) for r in net.poly_cost.itertuples()}
    units = []
    for et, table in (("ext_grid", net.ext_grid), ("gen", net.gen), ("sgen", net.sgen)):
        for idx, row in table.iterrows():
            p = {"ext_grid": net.res_ext_grid, "gen": net.res_gen, "sgen": net.res_sgen}[et]
            units.append(
                dict(
                    bus=int(row.bus),
                    p=float(p.p_mw[idx]),
                    pmax=float(row.get("max_p_mw", max(row.get("p_mw", 0.0), 0.0))),
                    pmin=max(float(row.get("min_p_mw", 0.0)), 0.0),
                    cost=cost.get((et, idx), 0.0),
                    kind=0,
                    slack=et == "ext_grid",
                )
            )
    if sum(u["slack"] for u in units) != 1:
        raise RuntimeError(f"{name}: the export needs exactly one ext_grid (the slack)")
    slack_bus = next(u["bus"] for u in units if u["slack"])
    loads = net.load[net.load.in_service]
    total_load = float((loads.p_mw * loads.scaling).sum())
    dist = hops_from(slack_bus, len(bus), f, t)
    far = np.lexsort((np.arange(len(bus)), -dist))  # farthest first, ties by lowest index
    for kind, site in (("solar", far[0]), ("wind", far[1])):
        cap = round(RENEWABLE_SHARE[kind] * total_load, 1)
        units.append(
            dict(bus=int(site), p=0.0, pmax=cap, pmin=0.0, cost=0.0, kind=1 + (kind == "wind"),
                 slack=False)
        )  # fmt: skip
    gen = {k: np.array([u[k] for u in units]) for k in units[0]}

    xy = np.array([json.loads(g)["coordinates"] for g in net.bus.geo])
    return {
        "base_mva": np.float64(base),
        "bus_xy": xy.astype(np.float64),
        "bus_vn_kv": net.bus.vn_kv.to_numpy(np.float64),
        "bus_gs_mw": bus[:, 4].real.astype(np.float64),
        "branch_from": f,
        "branch_to": t,
        "branch_x": branch[:, 3].real.astype(np.float64),
        "branch_tap": tap.astype(np.float64),
        "branch_shift_deg": branch[:, 9].real.astype(np.float64),
        "branch_is_trafo": np.arange(len(branch)) >= n_line,
        "gen_bus": gen["bus"].astype(np.int64),
        "gen_p_mw": gen["p"].astype(np.float64),
        "gen_pmax": gen["pmax"].astype(np.float64),
        "gen_pmin": gen["pmin"].astype(np.float64),
        "gen_cost": gen["cost"].astype(np.float64),
        "gen_kind": gen["kind"].astype(np.int64),  # 0 dispatchable, 1 solar, 2 wind
        "gen_ramp": (RAMP_SHARE * gen["pmax"]).astype(np.float64),
        "slack": np.int64(np.flatnonzero(gen["slack"])[0]),
        "load_bus": loads.bus.to_numpy(np.int64),
        "load_p_mw": (loads.p_mw * loads.scaling).to_numpy(np.float64),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")  # pandapower's numba and deprecation notices
    from sige_rl.envs.power_grid.case import Case, derive_limits

    OUT.mkdir(parents=True, exist_ok=True)
    for name in args.cases:
        arrays = export(name)
        arrays["branch_limit_mw"] = derive_limits(Case.from_arrays(name, arrays))
        np.savez_compressed(OUT / f"{name}.npz", **arrays)
        size = (OUT / f"{name}.npz").stat().st_size
        counts = {k: len(arrays[k]) for k in ("bus_xy", "branch_x", "gen_bus", "load_bus")}
        print(f"{name}: {counts['bus_xy']} buses, {counts['branch_x']} branches, "
              f"{counts['gen_bus']} units, {counts['load_bus']} loads, {size} B")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
