"""The discrete action enumeration of the power-grid environment.

Index 0 is *do nothing*; then, in blocks: disconnect line ``l`` (one per branch), reconnect line
``l``, set substation ``s`` to bus-bar configuration ``c`` (its merge, then its splits), and
redispatch unit ``g`` up or down by its ramp (one pair per dispatchable unit other than the
slack). :class:`ActionTable` lists them, with a name for each (``describe``).

A substation configuration gives each element end at the substation its bar (1 or 2). A *split*
must leave each bar at least two ends, one of them a branch end; the substation's first end stays
on bar 1 (a configuration and its mirror image are the same grid). Substations with many ends
have very many splits: the table keeps at most ``max_splits`` per substation, those moving the
fewest ends first (then in lexicographic order).
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from sige_rl.envs.power_grid.case import DISPATCHABLE, Case

NOOP, DISCONNECT, RECONNECT, TOPOLOGY, REDISPATCH = range(5)
KIND_NAMES = ("do_nothing", "disconnect", "reconnect", "topology", "redispatch")


@dataclasses.dataclass(frozen=True, eq=False)
class ActionTable:
    """``kind[a]`` (one of NOOP ... REDISPATCH) and ``target[a]`` (line, substation or unit);
    for topology actions ``ends[a]`` (the substation's end indices in topo_vect order) and
    ``bars[a]`` (their bars); for redispatch ``delta[a]`` in MW."""

    kind: np.ndarray
    target: np.ndarray
    delta: np.ndarray
    ends: tuple[np.ndarray | None, ...]
    bars: tuple[np.ndarray | None, ...]
    n_split: int  # topology actions that split (the rest merge)

    def __len__(self) -> int:
        return len(self.kind)

    def describe(self, a: int) -> str:
        k, t = int(self.kind[a]), int(self.target[a])
        if k == NOOP:
            return "do nothing"
        if k in (DISCONNECT, RECONNECT):
            return f"{KIND_NAMES[k]} line {t}"
        if k == TOPOLOGY:
            bars = self.bars[a]
            if (bars == 1).all():
                return f"merge substation {t}"
            return f"split substation {t}: ends {self.ends[a][bars == 2].tolist()} to bar 2"
        return f"redispatch unit {t} by {self.delta[a]:+.1f} MW"


def substation_ends(case: Case) -> list[np.ndarray]:
    """For each bus, the indices of its element ends in topo_vect order."""
    end_bus = np.concatenate([case.branch_from, case.branch_to, case.gen_bus, case.load_bus])
    return [np.flatnonzero(end_bus == s) for s in range(case.n_bus)]


def splits(n_ends: int, n_branch_ends: int, max_splits: int) -> list[np.ndarray]:
    """Valid splits of a substation whose first ``n_branch_ends`` of ``n_ends`` ends are branch
    ends: bar vectors (1 or 2), fewest ends on bar 2 first, at most ``max_splits``."""
    out: list[np.ndarray] = []
    for size in range(2, n_ends - 1):  # ends on bar 2; the first end stays on bar 1
        for moved in itertools.combinations(range(1, n_ends), size):
            bars = np.ones(n_ends, np.int8)
            bars[list(moved)] = 2
            branch = bars[:n_branch_ends]
            if (branch == 1).any() and (branch == 2).any():
                out.append(bars)
                if len(out) == max_splits:
                    return out
    return out


def build_actions(case: Case, max_splits: int = 32) -> ActionTable:
    nbr = case.n_branch
    kind, target, delta, ends, bars = [NOOP], [0], [0.0], [None], [None]
    for k in (DISCONNECT, RECONNECT):
        kind += [k] * nbr
        target += list(range(nbr))
        delta += [0.0] * nbr
        ends += [None] * nbr
        bars += [None] * nbr
    n_split = 0
    for s, sub in enumerate(substation_ends(case)):
        n_branch_ends = int((sub < 2 * nbr).sum())  # branch ends come first in topo_vect
        configs = splits(len(sub), n_branch_ends, max_splits)
        if not configs:
            continue
        n_split += len(configs)
        for config in [np.ones(len(sub), np.int8), *configs]:
            kind.append(TOPOLOGY)
            target.append(s)
            delta.append(0.0)
            ends.append(sub)
            bars.append(config)
    disp = np.flatnonzero((case.gen_kind == DISPATCHABLE) & (np.arange(case.n_gen) != case.slack))
    for g in disp:
        for sign in (1.0, -1.0):
            kind.append(REDISPATCH)
            target.append(int(g))
            delta.append(sign * float(case.gen_ramp[g]))
            ends.append(None)
            bars.append(None)
    return ActionTable(
        kind=np.array(kind, np.int64),
        target=np.array(target, np.int64),
        delta=np.array(delta),
        ends=tuple(ends),
        bars=tuple(bars),
        n_split=n_split,
    )
