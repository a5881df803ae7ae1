"""DC power flow with bus-bar splits, islands and a cache of factorised topologies.

The DC approximation (lossless lines, flat voltages, small angles) gives each branch ``k`` from
node ``i`` to node ``j`` the flow ``f_k = b_k (theta_i - theta_j - shift_k)`` with
``b_k = 1 / (x_k tap_k)``, and the node balance ``B theta = P - P_shift - G_shunt``: PYPOWER's
``makeBdc`` and ``dcpf``, which pandapower's ``rundcpp`` runs. Here ``B`` is solved once per
topology into a PTDF (power transfer distribution factors), so that a step costs one small
matrix-vector product: ``flows = A @ [p_gen, p_load] + offset``.

Topology. Every bus is a substation with two bus bars (Grid2Op's ``n_busbar_per_sub = 2``). Each
element end (branch origins, branch extremities, units, loads, in that order: Grid2Op's
``topo_vect``) sits on bar 1 or 2; bar 1 of bus ``s`` is node ``s`` and bar 2 is node
``n_bus + s``. A branch out of service carries nothing. The energised grid is the island, over
in-service branches, of the slack unit's node; a unit or load outside it is *islanded*
(:attr:`Topology.islanded`), which the environment treats as a lost grid.
"""

from __future__ import annotations

import collections
import dataclasses

import numpy as np

from sige_rl.envs.power_grid.case import Case


@dataclasses.dataclass(frozen=True, eq=False)
class Topology:
    """A compiled topology: ``flows = matrix @ injections + offset`` (MW), where injections are
    the units' outputs then the loads' demands (``matrix`` holds the loads' columns negated)."""

    key: bytes
    matrix: np.ndarray  # (n_branch, n_gen + n_load)
    offset: np.ndarray  # (n_branch,) phase shifters and shunts
    islanded: bool  # a unit or a load is outside the slack's island
    energised: np.ndarray  # (n_gen + n_load,) which elements are in the slack's island
    shunt_mw: float  # shunt consumption inside the slack's island (the slack supplies it)


class DCPowerFlow:
    """DC power flow for one case; :meth:`compile` caches up to ``cache_size`` topologies
    (least recently used out)."""

    def __init__(self, case: Case, cache_size: int = 1024):
        self.case = case
        nb, nbr = case.n_bus, case.n_branch
        self.n_ends = 2 * nbr + case.n_gen + case.n_load
        # substation of each element end, in topo_vect order
        self.end_bus = np.concatenate([case.branch_from, case.branch_to, case.gen_bus,
                                       case.load_bus])  # fmt: skip
        self.susceptance = 1.0 / (case.branch_x * case.branch_tap)  # p.u.
        # PYPOWER's Pfinj: the flow a phase shift drives with equal angles, p.u.
        self.shift_flow = -self.susceptance * np.deg2rad(case.branch_shift_deg)
        self._nb, self._nbr = nb, nbr
        self._cache: collections.OrderedDict[bytes, Topology] = collections.OrderedDict()
        self.cache_size = int(cache_size)
        self.compiles = 0  # factorisations done (cache misses)

    def key(self, status: np.ndarray, bars: np.ndarray) -> bytes:
        return np.packbits(status).tobytes() + np.asarray(bars, np.int8).tobytes()

    def compile(self, status: np.ndarray, bars: np.ndarray) -> Topology:
        """The topology with branches ``status`` (bool, in service) and element ends on
        ``bars`` (1 or 2, topo_vect order)."""
        key = self.key(status, bars)
        topo = self._cache.get(key)
        if topo is not None:
            self._cache.move_to_end(key)
            return topo
        topo = self._build(key, np.asarray(status, bool), np.asarray(bars, np.int64))
        self._cache[key] = topo
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return topo

    def _build(self, key: bytes, status: np.ndarray, bars: np.ndarray) -> Topology:
        self.compiles += 1
        c, nb, nbr = self.case, self._nb, self._nbr
        node = self.end_bus + nb * (bars - 1)
        f_node, t_node = node[:nbr], node[nbr : 2 * nbr]
        el_node = node[2 * nbr :]  # units then loads
        labels = _components(2 * nb, f_node[status], t_node[status])
        main = labels[el_node[c.slack]]
        in_main = labels == main
        energised = in_main[el_node]
        nodes = np.flatnonzero(in_main)
        pos = np.full(2 * nb, -1)
        pos[nodes] = np.arange(len(nodes))
        on = np.flatnonzero(status & in_main[f_node])  # in-service branches of the island
        n = len(nodes)
        incidence = np.zeros((len(on), n))
        incidence[np.arange(len(on)), pos[f_node[on]]] = 1.0
        incidence[np.arange(len(on)), pos[t_node[on]]] -= 1.0
        b = self.susceptance[on]
        bus_matrix = incidence.T @ (b[:, None] * incidence)
        ref = pos[el_node[c.slack]]
        keep = np.flatnonzero(np.arange(n) != ref)
        x = np.zeros((n, n))  # the inverse of B with the slack's row and column zero
        if len(keep):
            x[np.ix_(keep, keep)] = np.linalg.inv(bus_matrix[np.ix_(keep, keep)])
        ptdf = (b[:, None] * incidence) @ x  # (len(on), n): flow per injected MW at each node

        base = c.base_mva
        shift = self.shift_flow[on]
        shift_injection = incidence.T @ shift  # PYPOWER's Pbusinj = (Cf - Ct)^T Pfinj
        offset_on = (shift - ptdf @ shift_injection) * base
        shunt = np.zeros(n)
        shunt_nodes = pos[np.arange(nb)]  # shunts sit on bar 1
        live = shunt_nodes >= 0
        shunt[shunt_nodes[live]] = -c.bus_gs_mw[live]
        offset_on += ptdf @ shunt

        matrix = np.zeros((nbr, c.n_gen + c.n_load))
        cols = np.flatnonzero(energised)
        matrix[np.ix_(on, cols)] = ptdf[:, pos[el_node[cols]]]
        matrix[:, c.n_gen :] *= -1.0  # loads withdraw
        offset = np.zeros(nbr)
        offset[on] = offset_on
        return Topology(
            key=key,
            matrix=matrix,
            offset=offset,
            islanded=not bool(energised.all()),
            energised=energised,
            shunt_mw=float(c.bus_gs_mw[live].sum()),
        )

    def flows(self, topo: Topology, p_gen: np.ndarray, p_load: np.ndarray) -> np.ndarray:
        """Branch flows in MW (origin to extremity) for units' outputs ``p_gen`` (the slack's
        included: the injections must balance, see :meth:`slack_output`) and loads ``p_load``."""
        return topo.matrix @ np.concatenate([p_gen, p_load]) + topo.offset

    def slack_output(self, topo: Topology, p_gen: np.ndarray, p_load: np.ndarray) -> float:
        """What the slack must produce so that the energised island balances: its loads and
        shunts less its other units (DC is lossless)."""
        c = self.case
        e = topo.energised
        others = p_gen[e[: c.n_gen]].sum() - (p_gen[c.slack] if e[c.slack] else 0.0)
        return float(p_load[e[c.n_gen :]].sum() + topo.shunt_mw - others)


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected-component labels of ``n`` nodes joined by edges ``a[k] - b[k]``."""
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(a.tolist(), b.tolist(), strict=True):
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return np.array([root(i) for i in range(n)])
