"""Compilation: a `Problem` in index form (`Compiled`): sites pruned, rooms aggregated, arrival bins
and queue capacities computed (the only place they are)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from planner.model.options import SolveOptions



class ProblemData(Protocol):
    """What compilation reads of a problem (`planner.model.problem.Problem` is one; declared here so
    that compilation sits below the problem, which compiles itself in `Problem.to_pulp`)."""

    @property
    def demand(self) -> pd.DataFrame: ...            # index room_id, one column per scenario (persons)
    @property
    def weight(self) -> pd.Series | None: ...
    @property
    def pairs(self) -> pd.DataFrame: ...             # room_id, site_id, walk_s (seconds)
    @property
    def sites(self) -> pd.DataFrame: ...             # index site_id: capacity, door_flow_pps, cost, ...
    @property
    def reach_s(self) -> float: ...
    @property
    def objective(self) -> str: ...
    @property
    def budget(self) -> float | None: ...
    @property
    def backup_k(self) -> int: ...
    @property
    def door_queue(self) -> bool: ...
    @property
    def queue_bin_s(self) -> float: ...
    @property
    def protected(self) -> set[str]: ...
    @property
    def no_swap(self) -> bool: ...
    @property
    def swap_penalty(self) -> float: ...              # currency per person (cover-all, least-cost stage)
    @property
    def swap_penalty_persons(self) -> float: ...      # sheltered persons per person (max-cover)
    @property
    def share_target(self) -> float: ...              # expected share (fraction; 0 off)
    @property
    def share_pairs(self) -> pd.DataFrame | None: ...  # room_id, site_id, prob
    @property
    def share_residents(self) -> pd.Series | None: ...  # persons per scenario
    @property
    def share_on(self) -> bool: ...
    @property
    def scenarios(self) -> list[str]: ...

# ====================================================================== compile
@dataclass
class Compiled:
    """Index-based form of a Problem after pruning and aggregation (internal, also used by the heuristic)."""

    scen: list[str]
    site_ids: np.ndarray          # (J,) str
    cap: np.ndarray               # (J,) int persons
    rate: np.ndarray              # (J,) persons/s
    cost: np.ndarray              # (J,) currency (0 for existing)
    disp: np.ndarray              # (J,) displacement tie-break
    fixed1: np.ndarray            # (J,) bool
    D: np.ndarray                 # (G, S) int persons per group
    w: np.ndarray                 # (G,) weight
    m: np.ndarray                 # (G,) backup requirement
    # usable pairs (group, site): bin, shelter-in-place, upper bound per scenario
    qg: np.ndarray
    qj: np.ndarray
    qbin: np.ndarray
    qsip: np.ndarray
    # reach pairs (group, site) for backup
    rg: np.ndarray
    rj: np.ndarray
    qcap: np.ndarray              # (J, NB) floored queue capacity per arrival bin (persons)
    nb: int
    room_group: pd.Series         # room_id -> group index (rooms with residents and a usable pair)
    unreachable: list[str]        # rooms with residents and no usable pair
    pairs: pd.DataFrame           # original pairs (room_id, site_id, walk_s) restricted to kept sites
    objective: str
    budget: float | None
    door_queue: bool
    reach_s: float
    bin_s: float
    tighten: bool = True
    queue_prune: bool = True
    no_swap: bool = False
    swap_cost: float = 0.0
    """No-swap rows' penalty per resident who must leave a converted room while others come in
    (currency; cover-all and max-cover's least-cost stage). 0 with `swap_persons` 0: no rows."""
    swap_persons: float = 0.0
    """The same in sheltered persons (times the smallest priority weight; max-cover)."""
    swap_own: np.ndarray | None = None
    """(G, S) own residents of each group's room for the no-swap rows when they differ from `D` (the
    relocation model's demand is an upper bound: its rows take the occupants before any move)."""
    swap_skip: np.ndarray | None = None
    """(J,) sites without no-swap rows (the relocation model's sources: repurposed, their residents leave)."""
    cut_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """Corridor rows (`Problem.corridor_cuts`): per member, its cut, usable pair `cut_q` and scenario `cut_s`."""
    cut_q: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cut_s: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cut_rhs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Persons each cut admits (by cut id)."""
    corridor_cost: float = 0.0
    """Objective charge per person over a cut (currency: cover-all, least-cost stage)."""
    corridor_persons: float = 1.0
    """The same in sheltered persons (max-cover)."""
    exit_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """Exit-door rows (`Problem.exit_rows`, hard): per member, its row `exit_id` (one per room, door and
    scenario), usable pair `exit_q` and scenario `exit_s`."""
    exit_q: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    exit_s: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    exit_rhs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Persons each exit-door row admits (by row id)."""
    scen_mult: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per scenario: how many scenarios it stands for in the MIP (0 = dropped: dominated)."""
    share_p: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    """Expected share (`Problem.share_target`): (Q, S) per usable pair and scenario, the probability its
    persons are in time (equal for every room of the group: the probabilities are part of the aggregation
    key); empty: off."""
    share_rhs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Expected share: persons expected in time per scenario (target x all residents)."""
    uncapacitated: bool = False
    """Neither a capacity nor a door-queue bound can bind (the pure cover model is exact)."""
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def swap_rule(self) -> bool:
        """Whether the model has the no-swap rows: the objective's own penalty is set (cover-all: the cost
        scale's; max-cover: the persons scale's, and its least-cost stage keeps the same columns)."""
        return (self.swap_cost if self.objective == "cover-all" else self.swap_persons) > 0

    @property
    def share(self) -> bool:
        """Whether the model has the expected-share rows (demand rows then upper bounds)."""
        return len(self.share_rhs) > 0

    @property
    def J(self) -> int:
        return len(self.site_ids)

    @property
    def G(self) -> int:
        return self.D.shape[0]


BIN_TOL = 1e-7
"""A walk within this share of a bin of the bin's upper edge counts as arriving at that edge."""

QUEUE_TOL = 1e-6
"""Queue capacities (persons) within this of the next whole person are rounded up to it."""


def arrival_bins(walk: np.ndarray, bin_s: float) -> np.ndarray:
    """The arrival bin of each walk (seconds): walks are rounded UP to the bin edge `b * bin_s`
    (which keeps a plan safe); bin b holds the walks in ((b - 1) bin_s, b bin_s]."""
    return np.ceil(np.asarray(walk, dtype=float) / bin_s - BIN_TOL).astype(np.int64).clip(min=0)


def n_bins(reach_s: float, bin_s: float) -> int:
    """Arrival bins 0 .. n - 1 of walks up to the reach time `reach_s` (seconds)."""
    return int(math.ceil(reach_s / bin_s - BIN_TOL)) + 1


def queue_capacity(rate: np.ndarray, reach_s: float, tau: np.ndarray) -> np.ndarray:
    """Persons a door of `rate` persons/s admits between an arrival at `tau` seconds and the reach
    time `reach_s`, floored to whole persons (a fluid queue; an infinite rate is taken as 1e12/s).
    `rate` and `tau` broadcast together; returns floats (whole numbers)."""
    r = np.where(np.isfinite(rate), rate, 1e12)
    with np.errstate(invalid="ignore"):
        return np.floor(r * (reach_s - tau) + QUEUE_TOL)


def compile_problem(p: ProblemData, options: SolveOptions | None = None) -> Compiled:
    """Prune sites, aggregate interchangeable rooms, index everything (vectorised); `options`: the
    reformulation switches (aggregate, scenario_reduce, tighten, queue_prune; default all as `SolveOptions`)."""
    o = options or SolveOptions()
    t0 = time.perf_counter()
    scen = p.scenarios
    dem = p.demand.reindex(columns=scen).fillna(0).clip(lower=0).round().astype(np.int64)
    sites = p.sites[~p.sites.index.isin(p.protected) | p.sites["existing"]]
    pairs = p.pairs
    ok = ((pairs["walk_s"] <= p.reach_s + 1e-7) & pairs["site_id"].isin(sites.index)
          & pairs["room_id"].isin(dem.index)).to_numpy()
    if not ok.all():   # copies only when something is dropped (memory: the pairs are the largest input)
        pairs = pairs[ok]
    if pairs.duplicated(["room_id", "site_id"]).any():
        pairs = pairs.sort_values("walk_s").drop_duplicates(["room_id", "site_id"])
    has_res = dem.to_numpy().sum(axis=1) > 0
    res_rooms = dem.index[has_res]
    fixed = (sites["existing"] | sites["required"]).to_numpy()
    # --- site pruning: useless sites (no resident room in reach, or no capacity) unless fixed in
    pr_res = pairs[pairs["room_id"].isin(res_rooms)]
    reached = sites.index.isin(pr_res["site_id"].unique())
    del pr_res
    useful = reached & (sites["capacity"].to_numpy() > 0)
    keep = useful | fixed
    n_pruned = int((~keep).sum())
    sites = sites[keep]
    fixed = fixed[keep]
    site_ids = sites.index.to_numpy().astype(str)
    J = len(site_ids)
    sidx = pd.Series(np.arange(J), index=site_ids)
    ok = pairs["site_id"].isin(site_ids).to_numpy()
    if not ok.all() or not isinstance(pairs.index, pd.RangeIndex) or pairs.index.start != 0:
        pairs = pairs[ok].reset_index(drop=True)
    T = float(p.reach_s)
    bin_s = float(p.queue_bin_s)
    nb = n_bins(T, bin_s)
    rate = sites["door_flow_pps"].to_numpy(dtype=float)
    cap = sites["capacity"].to_numpy(dtype=np.int64)
    # --- pairs among resident rooms, in index form
    pr = pairs[pairs["room_id"].isin(res_rooms)]
    pj = sidx.reindex(pr["site_id"].to_numpy()).to_numpy()
    walk = pr["walk_s"].to_numpy(dtype=float)
    pbin = np.minimum(arrival_bins(walk, bin_s), nb - 1)
    psip = ((pr["room_id"].to_numpy() == pr["site_id"].to_numpy()) & (walk <= 1e-9))
    # queue capacity of a bin: persons the door admits after the LATEST arrival in that bin at that
    # site (<= the bin edge; safe: every arrival of the bin is no later), floored to whole persons
    if p.door_queue:
        tau = np.tile(np.minimum(np.arange(nb) * bin_s, T), (J, 1))
        if len(pj):
            latest = np.full((J, nb), -np.inf)
            np.maximum.at(latest, (pj[~psip], pbin[~psip]), walk[~psip])
            tau = np.where(np.isfinite(latest), np.minimum(latest, tau), tau)
        qcap = queue_capacity(rate[:, None], T, tau)
        qcap = np.minimum(qcap, cap[:, None]).astype(np.int64)
    else:   # every bin admits the capacity: a read-only view, no memory per bin (walks in any time unit)
        qcap = np.broadcast_to(cap.astype(np.int64)[:, None], (J, nb))
    usable = (cap[pj] > 0) & (psip | (qcap[pj, pbin] > 0))
    rooms_pr = pr["room_id"].to_numpy()
    usable_rooms = set(rooms_pr[usable])
    unreachable = [r for r in res_rooms if r not in usable_rooms]
    cover_rooms = np.array([r for r in res_rooms if r in usable_rooms], dtype=object)
    # --- aggregation key per room: sorted tokens of (site, bin, sip, usable) + weight
    # (without door queues the arrival bins play no part in the model: rooms are grouped by their sites
    # alone, so the groups, and the model's size, do not depend on the time unit or `queue_bin_s`)
    tok = ((pj.astype(np.int64) * (nb + 1) + (pbin if p.door_queue else 0)) * 2 + psip) * 2 + usable
    tok, pprob = _share_tokens(p, pr, psip, tok)
    kdf = pd.DataFrame({"room": rooms_pr, "tok": tok})
    kdf = kdf[kdf["room"].isin(usable_rooms)].sort_values(["room", "tok"])
    weight = p.weight if p.weight is not None else pd.Series(1.0, index=dem.index)
    if o.aggregate:
        keys = kdf.groupby("room", sort=True)["tok"].agg(lambda v: v.to_numpy().tobytes())
        wkey = weight.reindex(keys.index).to_numpy()
        combo = pd.Series([k + np.float64(wv).tobytes() for k, wv in zip(keys.to_numpy(), wkey)], index=keys.index)
        combo = _exit_rooms_alone(combo, p, dem)
        codes, uniq = pd.factorize(combo, sort=False)
        room_group = pd.Series(codes, index=keys.index)
        del keys, combo, uniq
    else:
        rooms_sorted = np.sort(cover_rooms.astype(str)) if len(cover_rooms) else np.array([], dtype=str)
        room_group = pd.Series(np.arange(len(rooms_sorted)), index=rooms_sorted)
    del kdf, tok
    G = int(room_group.max()) + 1 if len(room_group) else 0
    Dr = dem.reindex(room_group.index).to_numpy()
    D = np.zeros((G, len(scen)), dtype=np.int64)
    np.add.at(D, room_group.to_numpy(), Dr)
    w = np.zeros(G)
    w[room_group.to_numpy()] = weight.reindex(room_group.index).to_numpy()
    # representative room per group -> its pairs are the group's pairs
    first = room_group.groupby(room_group.to_numpy()).head(1)
    rep_map = pd.Series(first.to_numpy(), index=first.index)  # representative room -> group
    is_rep = pd.Series(rooms_pr).isin(rep_map.index).to_numpy()
    g_of = rep_map.reindex(rooms_pr[is_rep]).to_numpy()
    rg, rj = g_of, pj[is_rep]
    u = usable[is_rep]
    qg, qj, qbin, qsip = g_of[u], pj[is_rep][u], pbin[is_rep][u], psip[is_rep][u]
    order = np.lexsort((qbin, qj, qg))
    qg, qj, qbin, qsip = qg[order], qj[order], qbin[order], qsip[order]
    share_p = pprob[is_rep][u][order] if p.share_on else np.zeros((0, 0))
    nreach = np.bincount(rg, minlength=G) if G else np.zeros(0, np.int64)
    m = np.minimum(max(int(p.backup_k), 0), nreach).astype(np.int64)
    c = Compiled(scen=scen, site_ids=site_ids, cap=cap, rate=rate,
                 cost=np.where(sites["existing"].to_numpy(), 0.0, sites["cost"].to_numpy(dtype=float)),
                 disp=sites["displaced"].to_numpy(dtype=float), fixed1=fixed, D=D, w=w, m=m,
                 qg=qg, qj=qj, qbin=qbin, qsip=qsip, rg=rg, rj=rj, qcap=qcap, nb=nb, room_group=room_group,
                 unreachable=unreachable, pairs=pairs, objective=p.objective, budget=p.budget,
                 door_queue=p.door_queue, reach_s=T, bin_s=bin_s, tighten=o.tighten,
                 queue_prune=o.queue_prune, no_swap=p.no_swap,
                 swap_cost=max(float(getattr(p, "swap_penalty", 0.0) or 0.0), 0.0),
                 swap_persons=max(float(getattr(p, "swap_penalty_persons", 0.0) or 0.0), 0.0))
    # ---- scenario reduction: identical demand columns merge (weight = count); for cover-all a
    # scenario whose demand is everywhere <= another's is implied by it (fewer people fit where more do)
    Sn = len(scen)
    mult = np.ones(Sn)
    _share_rows_of(c, p, share_p)   # (each scenario has its own expected-share row: none stands for another)
    for a in range(Sn if o.scenario_reduce and not c.share else 0):
        if mult[a] == 0:
            continue
        for b in range(Sn):
            if a == b or mult[b] == 0:
                continue
            if (D[:, b] == D[:, a]).all() and b > a:
                mult[a] += mult[b]
                mult[b] = 0
            elif p.objective == "cover-all" and (D[:, b] <= D[:, a]).all():
                mult[b] = 0
    c.scen_mult = mult
    _corridor_cuts(c, p)
    _exit_rows(c, p)
    c.uncapacitated = _uncapacitated(c)
    # size of the textbook queue rows (every pair repeated in every suffix row of its site)
    tb = 0
    if p.door_queue and len(qg):
        door = ~qsip
        cnt = np.zeros((J, nb), np.int64)
        np.add.at(cnt, (qj[door], qbin[door]), 1)
        suf = np.cumsum(cnt[:, ::-1], axis=1)[:, ::-1]       # pairs arriving at or after each bin
        tb = int((suf * (cnt > 0)).sum()) * int((D > 0).any(axis=0).sum())
    c.stats["textbook_queue_nonzeros"] = tb
    c.stats.update(rooms=int(len(dem)), model_scenarios=int((mult > 0).sum()), rooms_with_residents=int(has_res.sum()), groups=G,
                   sites=J, sites_pruned=n_pruned, pairs=int(len(pairs)), usable_pairs=int(len(qg)),
                   unreachable_rooms=len(unreachable), compile_s=round(time.perf_counter() - t0, 3))
    return c


def _share_tokens(p: ProblemData, pr: pd.DataFrame, psip: np.ndarray, tok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(aggregation tokens, probability per pair of `pr`): with expected-share rows (`Problem.share_on`) each
    pair's token also codes its probability (`_pair_share`), so rooms are grouped only with rooms whose
    pairs have the same probabilities; without them `tok` unchanged and the probabilities 0."""
    if not p.share_on:
        return tok, np.zeros((len(tok), 0))
    pprob = _pair_share(p, pr, psip)
    puniq, pcode = np.unique(pprob, axis=0, return_inverse=True)   # one code per distinct row of probabilities
    return tok * max(len(puniq), 1) + pcode.reshape(-1), pprob


def _share_rows_of(c: Compiled, p: ProblemData, share_p: np.ndarray) -> None:
    """Set `c`'s expected-share data (per usable pair `share_p`; persons per scenario: target x residents)."""
    if not p.share_on:
        return
    c.share_p = share_p
    res = p.share_residents if p.share_residents is not None else p.demand.sum(axis=0)
    c.share_rhs = float(p.share_target) * res.reindex(c.scen).fillna(0).to_numpy(dtype=float)


def _pair_share(p: ProblemData, pr: pd.DataFrame, psip: np.ndarray) -> np.ndarray:
    """Per pair of `pr` (room_id, site_id) and scenario of the problem (columns in `p.scenarios` order): its
    expected-share probability (`Problem.share_pairs`, per scenario where it has a scenario column, else the
    same in all; a pair not listed 0, sheltering in place 1)."""
    sp_ = p.share_pairs
    assert sp_ is not None
    room, site = pr["room_id"].astype(str).to_numpy(), pr["site_id"].astype(str).to_numpy()
    cols = []
    for s in p.scenarios:
        tab = sp_[sp_["scenario"].astype(str) == s] if "scenario" in sp_.columns else sp_
        ser = pd.Series(tab["prob"].to_numpy(dtype=float), index=pd.MultiIndex.from_arrays(
            [tab["room_id"].astype(str).to_numpy(), tab["site_id"].astype(str).to_numpy()]))
        ser = ser[~ser.index.duplicated()]
        got = ser.reindex(pd.MultiIndex.from_arrays([room, site])).to_numpy(dtype=float)
        cols.append(np.where(psip, 1.0, np.clip(np.nan_to_num(got, nan=0.0), 0.0, 1.0)))
    return np.stack(cols, axis=1) if cols else np.zeros((len(pr), 0))


def _corridor_cuts(c: Compiled, p: ProblemData) -> None:
    """Map the problem's corridor cuts (room, site, scenario per cut) to usable pairs and scenarios of `c`
    (a room's group stands for it: every room of the group counts, on the safe side)."""
    cuts = getattr(p, "corridor_cuts", None)
    rhs = getattr(p, "corridor_rhs", None)
    c.corridor_cost = max(float(getattr(p, "corridor_penalty", 0.0) or 0.0), 0.0)
    c.corridor_persons = max(float(getattr(p, "corridor_penalty_persons", 1.0) or 0.0), 0.0)
    if cuts is None or rhs is None or not len(cuts) or not len(c.qg):
        return
    mem = _members(c, cuts["cut"].to_numpy(dtype=np.int64), cuts["room_id"], cuts["site_id"], cuts["scenario"])
    c.cut_id = mem["cut"].to_numpy(np.int64)
    c.cut_q = mem["q"].to_numpy(np.int64)
    c.cut_s = mem["s"].to_numpy(np.int64)
    c.cut_rhs = np.asarray(rhs, dtype=float)


def _members(c: Compiled, cut: np.ndarray, room: pd.Series, site: pd.Series, scen: pd.Series) -> pd.DataFrame:
    """Rows given as (row id, room, site, scenario) members mapped to usable pairs `q` and scenarios `s`
    of `c` (a room's group stands for it); members without a usable pair are left out."""
    g = c.room_group.reindex(room.astype(str).to_numpy()).to_numpy(dtype=float)
    j = pd.Series(np.arange(c.J), index=c.site_ids).reindex(site.astype(str).to_numpy()).to_numpy(dtype=float)
    s = pd.Series(np.arange(len(c.scen)), index=c.scen).reindex(scen.astype(str).to_numpy()).to_numpy(dtype=float)
    ok = np.isfinite(g) & np.isfinite(j) & np.isfinite(s)
    qkey = c.qg.astype(np.int64) * c.J + c.qj
    key = g[ok].astype(np.int64) * c.J + j[ok].astype(np.int64)
    pos = np.searchsorted(qkey, key).clip(max=len(qkey) - 1)
    hit = qkey[pos] == key
    return pd.DataFrame({"cut": cut[ok][hit], "q": pos[hit], "s": s[ok].astype(np.int64)[hit]}).drop_duplicates()


def _exit_rooms_alone(combo: pd.Series, p: ProblemData, dem: pd.DataFrame) -> pd.Series:
    """Aggregation keys (index room_id) with every room that has exit-door rows given a key of its own
    (its rows are its own persons')."""
    er = _binding_exit_rows(p, dem)
    if not len(er):
        return combo
    alone = combo.index.isin(er["room_id"].unique())
    combo = combo.copy()
    combo[alone] = [b"exit\x1f" + str(r).encode() for r in combo.index[alone]]
    return combo


def _binding_exit_rows(p: ProblemData, dem: pd.DataFrame) -> pd.DataFrame:
    """The problem's exit-door rows (`Problem.exit_rows`) that can bind: caps below the room's demand in
    some scenario (a cap of at least the room's demand never binds); room_id as str."""
    er = getattr(p, "exit_rows", None)
    cols = ["room_id", "site_id", "exit_door_id", "exit_cap"]
    if er is None or not len(er):
        return pd.DataFrame(columns=cols)
    room = er["room_id"].astype(str)
    top = dem.max(axis=1).reindex(room.to_numpy()).fillna(0).to_numpy(dtype=float)
    keep = er["exit_cap"].to_numpy(dtype=float) < top - 1e-9
    return er[keep][cols].assign(room_id=room[keep].to_numpy())


def _exit_rows(c: Compiled, p: ProblemData) -> None:
    """Map the problem's exit-door rows (`Problem.exit_rows`: room, site, door, cap) to one hard row per
    (room, door, scenario) over usable pairs of `c` (rows that can bind only; `_binding_exit_rows`)."""
    er = _binding_exit_rows(p, p.demand.reindex(columns=c.scen).fillna(0))
    if not len(er) or not len(c.qg):
        return
    key = er["room_id"].astype(str) + "\x1f" + er["exit_door_id"].astype(str)
    rid, uniq = pd.factorize(key)
    rhs = pd.Series(er["exit_cap"].to_numpy(dtype=float)).groupby(rid).min().to_numpy()
    S = len(c.scen)
    n = len(er)
    mem = _members(c, (np.repeat(rid, S) * S + np.tile(np.arange(S), n)).astype(np.int64),
                   pd.Series(np.repeat(er["room_id"].astype(str).to_numpy(), S)),
                   pd.Series(np.repeat(er["site_id"].astype(str).to_numpy(), S)),
                   pd.Series(np.tile(np.asarray(c.scen, dtype=object), n)))
    c.exit_id = mem["cut"].to_numpy(np.int64)
    c.exit_q = mem["q"].to_numpy(np.int64)
    c.exit_s = mem["s"].to_numpy(np.int64)
    c.exit_rhs = np.repeat(rhs, S)


def _uncapacitated(c: Compiled) -> bool:
    """True when no capacity row and no door-queue bound can bind, in any scenario.

    For every site and scenario the residents of all groups with a usable pair to it
    (persons) must fit its capacity, and for every arrival bin the residents arriving at
    the door in that bin or later must fit the door's floored queue capacity of that bin.
    Then any assignment to open sites is feasible and only coverage matters.
    """
    S = len(c.scen)
    if c.G == 0 or S == 0 or not len(c.qg):
        return True
    if len(c.exit_id) or c.share:   # exit-door or expected-share rows may bind: not the pure cover model
        return False
    Dq = c.D[c.qg].astype(np.float64)                       # (Q, S) persons
    for s in range(S):
        load = np.bincount(c.qj, weights=Dq[:, s], minlength=c.J)
        if (load > c.cap + 1e-9).any():
            return False
    if c.door_queue:
        door = ~c.qsip
        if door.any():
            key = c.qj[door].astype(np.int64) * c.nb + c.qbin[door]
            for s in range(S):
                arr = np.bincount(key, weights=Dq[door, s], minlength=c.J * c.nb).reshape(c.J, c.nb)
                suffix = np.cumsum(arr[:, ::-1], axis=1)[:, ::-1]
                if (suffix > c.qcap + 1e-9).any():
                    return False
    return True

def group_walk(c: Compiled) -> np.ndarray:
    """Per usable pair: representative walk (bin upper edge, seconds)."""
    return np.where(c.qsip, 0.0, np.minimum(c.qbin * c.bin_s, c.reach_s))

