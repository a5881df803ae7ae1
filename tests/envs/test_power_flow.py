"""Our DC power flow against pandapower's ``rundcpp`` on the same network, topology and
injections: every shipped case, random single and double outages, bus-bar splits."""

from __future__ import annotations

import copy
import functools
import logging
import warnings

import numpy as np
import pytest

from sige_rl.envs.power_grid.case import CASE_NAMES, load_case
from sige_rl.envs.power_grid.flow import DCPowerFlow
from sige_rl.envs.power_grid.series import Dispatcher, default_series

pp = pytest.importorskip("pandapower")
pn = pytest.importorskip("pandapower.networks")

TOL_MW = 1e-6
logging.getLogger("pandapower").setLevel(logging.ERROR)  # numba notices on every run


@functools.cache
def pandapower_case(name):
    """pandapower's network (building one from its JSON takes about a second: once a case)."""
    return getattr(pn, name)()


def pandapower_flows(name, status, bars, p_gen, p_load):
    """rundcpp on pandapower's own case with our topology and injections; branch flows (MW)
    from origin to extremity, lines then transformers (0 where out of service), and the
    slack's output."""
    net = copy.deepcopy(pandapower_case(name))
    case = load_case(name)
    nbr, ng = case.n_branch, case.n_gen
    n_line = len(net.line)
    # a second bus per substation whose bar 2 holds anything
    node = np.concatenate([case.branch_from, case.branch_to, case.gen_bus, case.load_bus])
    split = np.unique(node[bars == 2])
    second = {int(s): pp.create_bus(net, vn_kv=net.bus.vn_kv[s]) for s in split}
    bus = np.array([second[int(s)] if b == 2 else int(s) for s, b in zip(node, bars, strict=True)])
    f_bus, t_bus = bus[:nbr], bus[nbr : 2 * nbr]
    net.line["from_bus"], net.line["to_bus"] = f_bus[:n_line], t_bus[:n_line]
    net.line["in_service"] = status[:n_line]
    if len(net.trafo):
        net.trafo["hv_bus"], net.trafo["lv_bus"] = f_bus[n_line:], t_bus[n_line:]
        net.trafo["in_service"] = status[n_line:]
    # units in the export's order: ext_grid, gens, sgens, then our solar and wind as sgens
    g_bus = bus[2 * nbr : 2 * nbr + ng]
    n_ext, n_gen, n_sgen = len(net.ext_grid), len(net.gen), len(net.sgen)
    net.ext_grid["bus"] = g_bus[:n_ext]
    net.gen["bus"], net.gen["p_mw"] = g_bus[n_ext : n_ext + n_gen], p_gen[n_ext : n_ext + n_gen]
    net.sgen["bus"] = g_bus[n_ext + n_gen : n_ext + n_gen + n_sgen]
    net.sgen["p_mw"] = p_gen[n_ext + n_gen : n_ext + n_gen + n_sgen]
    for g in range(n_ext + n_gen + n_sgen, ng):
        pp.create_sgen(net, int(g_bus[g]), p_mw=float(p_gen[g]))
    loads = net.load.index[net.load.in_service]
    net.load.loc[loads, "bus"] = bus[2 * nbr + ng :]
    net.load.loc[loads, "p_mw"] = p_load
    net.load.loc[loads, "scaling"] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.rundcpp(net, numba=False)
    flows = np.concatenate([net.res_line.p_from_mw.to_numpy(), net.res_trafo.p_hv_mw.to_numpy()])
    return np.nan_to_num(flows), float(net.res_ext_grid.p_mw.iloc[0])


def state(name, seed):
    """A dispatched operating point of the default series."""
    case = load_case(name)
    series = default_series(case, 200, np.random.default_rng(seed))
    d = Dispatcher(case)
    demand = series.load.sum(axis=1).tolist()
    renew = series.available[:, d.renewable].tolist()
    p = None
    for t in range(100):  # some steps in, so ramps have bitten
        p = d.step_one(demand[t], renew[t], p)
    return case, p, series.load[99]


def compare(name, status, bars, seed=0):
    case, p_gen, p_load = state(name, seed)
    flow = DCPowerFlow(case)
    topo = flow.compile(status, bars)
    assert not topo.islanded
    p_gen = p_gen.copy()
    p_gen[case.slack] = flow.slack_output(topo, p_gen, p_load)
    ours = flow.flows(topo, p_gen, p_load)
    theirs, slack = pandapower_flows(name, status, bars, p_gen, p_load)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=TOL_MW)
    assert abs(slack - p_gen[case.slack]) < TOL_MW
    return ours


def all_in(case):
    flow = DCPowerFlow(case)
    return np.ones(case.n_branch, bool), np.ones(flow.n_ends, np.int8)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_flows_equal_pandapower_on_every_case(name):
    case = load_case(name)
    status, bars = all_in(case)
    flows = compare(name, status, bars)
    assert np.abs(flows).max() > 1.0  # a real operating point, not an empty grid


def connected_outages(case, k, rng, tries=200):
    """``k`` branches whose loss leaves every element energised."""
    flow = DCPowerFlow(case)
    status, bars = all_in(case)
    for _ in range(tries):
        out = rng.choice(case.n_branch, size=k, replace=False)
        s = status.copy()
        s[out] = False
        if not flow.compile(s, bars).islanded:
            return s
    raise AssertionError("no connected outage found")


@pytest.mark.parametrize("name", ["case5", "case14", "case30", "case118"])
@pytest.mark.parametrize("k", [1, 2])
def test_flows_equal_pandapower_under_random_outages(name, k):
    case = load_case(name)
    rng = np.random.default_rng(100 + k)
    _, bars = all_in(case)
    for seed in range(3):
        compare(name, connected_outages(case, k, rng), bars, seed)


def test_flows_equal_pandapower_with_bus_bar_splits():
    case = load_case("case14")
    flow = DCPowerFlow(case)
    status, bars = all_in(case)
    nbr = case.n_branch
    # substation 1 (bus index 1): branches 0 (its extremity end) and 4 (origin) and its unit
    # move to bar 2; substation 3: branch 3's extremity and transformer 15's origin move
    split = bars.copy()
    split[nbr + 0] = 2
    split[4] = 2
    split[2 * nbr + 1] = 2
    split[nbr + 3] = 2
    split[15] = 2
    topo = flow.compile(status, split)
    assert not topo.islanded
    ours = compare("case14", status, split)
    plain = compare("case14", status, bars)
    assert np.abs(ours - plain).max() > 1.0  # the split really moved power


def test_islands_are_detected():
    case = load_case("case14")
    flow = DCPowerFlow(case)
    status, bars = all_in(case)
    # bus 7 (index 7) hangs on transformer 18 (6-7) alone: cutting it islands its unit
    only = np.flatnonzero((case.branch_from == 7) | (case.branch_to == 7))
    assert len(only) == 1
    status[only] = False
    topo = flow.compile(status, bars)
    assert topo.islanded
    assert not topo.energised[np.flatnonzero(case.gen_bus == 7)].any()


def test_topologies_are_cached():
    case = load_case("case14")
    flow = DCPowerFlow(case, cache_size=2)
    status, bars = all_in(case)
    a = flow.compile(status, bars)
    assert flow.compile(status.copy(), bars.copy()) is a
    s2 = status.copy()
    s2[0] = False
    flow.compile(s2, bars)
    s3 = status.copy()
    s3[1] = False
    flow.compile(s3, bars)  # evicts the first
    assert flow.compiles == 3
    flow.compile(status, bars)
    assert flow.compiles == 4
