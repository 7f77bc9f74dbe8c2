"""The integer program: which candidate rooms to convert, and who shelters where.

Model (DESIGN.md "The optimisation model"), written in linear size:

- `x_j` binary: convert site `j` (1 for `existing` and `required`, absent for protected).
- `y_gjs >= 0`: residents of room group `g` sheltered at `j` in scenario `s`.
- demand: `sum_j y_gjs = d_gs` (cover-all) or `<= d_gs` (max-cover).
- capacity: `sum_g y_gjs <= c_j x_j`; tightening `y_gjs <= min(d_gs, q) x_j`.
- door queue (fluid queue at the site's door, arrivals binned: each walk is
  rounded UP to its bin edge `tau_b`, which keeps the plan safe): suffix sums
  chained through auxiliaries `S_jbs = S_j,b+,s + arrivals in bin b`,
  `S_jbs <= floor(r_j (T - tau_b))`. Only bins where the bound can bind get an
  `S` (the others are merged into the next binding bin), so the queue costs one
  non-zero per assignment plus two per binding bin instead of one per pair and bin.
  Shelter-in-place pairs (room == site, 0 s) count against capacity, not the queue.
- budget: `sum_j f_j x_j <= B` (existing sites cost 0).
- backup: every room with residents has `min(k, #sites in reach)` converted
  sites within reach (cover-all: hard; max-cover: a room counts as sheltered
  only if it has them, through a binary `z_g`).
- objectives: cover-all = min cost (+ a displacement tie-break worth < 1
  currency unit); max-cover = max priority-weighted sheltered persons summed
  over scenarios, then (second solve, coverage fixed at the value found) least
  cost with the displacement tie-break.

Rooms with identical reach sets (same sites, same arrival bins, same
shelter-in-place flag) and the same priority are aggregated into one group;
the group's assignment is split back to its rooms integrally afterwards.
Identical scenarios merge (weighted by their count); for cover-all, a scenario
whose demand is everywhere at most another's is implied by it and dropped from
the MIP (the final whole-person assignment still covers every scenario).

When no capacity and no door queue can bind (every site and every queue bin admits all the
residents in its reach, `Compiled.uncapacitated`; spopt's LSCP/MCLP), the pure set-cover /
max-cover model on the sites alone is solved instead (`build_cover_model`: dominated cover
rows and sites removed first), and everyone goes to the nearest chosen site
(`assign_nearest`). Otherwise:

How a plan is found fast (measured in bench/bench_model.py and docs/performance.md):

1. the LP relaxation (HiGHS simplex, arrays passed in bulk; by column generation on the
   assignment columns when there are many, `_lp_colgen`) gives a bound; an LP stopped by
   its time limit still gives one from its duals (`_dual_bound`), and then no MIP is
   started (its root LP could not finish either);
2. cover-all: every site the LP opens at all is converted (feasible by
   construction: the LP's assignment fits), then a local search closes sites
   whose people fit elsewhere; max-cover: an LP-weighted greedy within budget;
3. if that plan is within `mip_gap` of the LP bound, no branching is needed;
   otherwise the tightening rows the LP violates are added (a few rounds) and
   HiGHS branches from the plan (a MIP start), under the time limit;
4. the plan's whole-person assignment is solved with the sites fixed, and the
   solution is verified.

Cover-all models too large for one LP in time (at least `LAGRANGE_MIN_COLUMNS` assignment
columns: 30,000 rooms) take the Lagrangian path instead (`_solve_lagrangian`, `planner.lagrange`):
knapsack prices choose the first sites, maximum flows find whom they cannot shelter, prices
rise there until nearly everyone fits, a small MIP shelters the rest; the bound is the
capacity knapsack strengthened by the Hall rows of the flows' minimum cuts.

Whole persons: with `x` fixed, the assignment rows (room supply; per site the
capacity row and the nested queue suffixes) are two laminar families, so the
matrix is totally unimodular; the queue capacities are floored to integers, so
the fixed-x re-solve (simplex, `y` declared integer) returns whole persons.
Every solution is verified (capacity, queue replayed on real walk times,
budget, backup) before it is returned.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from planner.errors import InfeasibleError, InputError, SolverError
from planner.progress import log, stage

INF = float("inf")
_EPS = 1e-9


# ============================================================================ data
@dataclass
class Problem:
    """Everything the optimiser needs (plain data).

    - `demand`: index room_id, one int column per scenario (persons).
    - `pairs`: room_id, site_id, walk_s (seconds; within reach only). A pair with
      room_id == site_id and walk_s == 0 is shelter in place (no door queue).
    - `sites`: index site_id with capacity (persons), door_flow_pps (persons/s),
      cost (currency), existing (bool), required (bool), displaced (tie-break).
    - `weight`: priority per room (default 1).
    """

    demand: pd.DataFrame
    pairs: pd.DataFrame
    sites: pd.DataFrame
    weight: pd.Series | None = None
    reach_s: float = 60.0
    objective: str = "cover-all"
    budget: float | None = None
    backup_k: int = 1
    door_queue: bool = True
    queue_bin_s: float = 1.0
    time_limit_s: float = 60.0
    mip_gap: float = 0.01
    solver: str = "highs"
    threads: int = 2
    protected: set[str] = field(default_factory=set)
    room_sector: pd.Series | None = None
    """Optional sector per room (index room_id), for explanations."""
    # levers (measured in bench/bench_model.py; defaults = what helped)
    aggregate: bool = True
    use_heuristic: bool = True
    tighten: bool = False
    """Add y <= min(d, q) x rows. Measured: same LP bound on generated stations, LP 2.5x slower; off."""
    backend: str = "highspy"
    """'highspy' (arrays passed to HiGHS in bulk) or 'pulp' (PuLP model; always used for CBC)."""
    mip_start: bool = True
    """Hand the start plan to HiGHS (else it is kept only as a fallback and for the gap test)."""
    queue_prune: bool = True
    """Queue rows only at bins where the door limit is below capacity and can bind."""
    scenario_reduce: bool = True
    """Merge identical scenarios; drop (cover-all) scenarios implied by another."""
    lazy_tighten: bool = True
    """Add only the tightening rows the LP relaxation violates (a few rounds)."""
    lp_colgen: bool = True
    """Solve the LP relaxation by column generation on the assignment columns when there are many
    (at least `COLGEN_MIN_COLUMNS`). Measured at 10,000 rooms: 58 s to the LP optimum, against no
    optimum after 200 s of HiGHS's dual simplex on all 1.3 M assignment columns."""
    lagrangian: bool = True
    """Cover-all models with at least `LAGRANGE_MIN_COLUMNS` assignment columns (30,000 rooms), where
    one LP relaxation does not finish in time: bound and start plan from the Lagrangian relaxation of
    the demand rows, the plan completed by a small MIP and checked by maximum flows
    (`planner.lagrange`). Measured at 30,000 rooms: see docs/performance.md."""
    lp_guide: bool = True
    """Start from the LP relaxation: its support (cover-all) or an LP-weighted greedy (max-cover)."""
    lexicographic: bool = True
    """max-cover: second solve for least cost at the coverage found."""
    pure_cover: bool = True
    """When no capacity and no door queue can bind (every site and every queue bin admits all the
    residents in its reach, per scenario), solve the pure set-cover / max-cover model on the site
    variables alone (no assignment variables) and send people to their nearest chosen site."""
    cover_reduce: bool = True
    """Pure cover model: drop dominated cover rows and dominated sites before HiGHS."""
    cover_search: bool = True
    """Pure max-cover models with at least `COVER_SEARCH_MIN_SITES` usable sites: LP relaxation, a core
    MIP on the sites the LP opens, reduced-cost fixing, then the MIP from the core's plan
    (`_cover_search`). Measured (MCLP, 10,000 rooms, p = 45): 15.2 s end to end against 53.7 s before."""
    msg: bool = False
    highs_options: dict[str, Any] = field(default_factory=dict)
    """Extra HiGHS options for the MIP (e.g. {"mip_heuristic_effort": 0.3})."""

    def __post_init__(self) -> None:
        if self.objective not in ("cover-all", "max-cover"):
            raise InputError("<problem>", "objective", f"is {self.objective!r}", "use 'cover-all' or 'max-cover'")
        if self.solver not in ("highs", "cbc"):
            raise InputError("<problem>", "solver", f"is {self.solver!r}", "use 'highs' or 'cbc'")
        self.demand = self.demand.copy()
        self.demand.index = self.demand.index.astype(str)
        self.demand.index.name = "room_id"
        if self.weight is None:
            self.weight = pd.Series(1.0, index=self.demand.index)
        self.weight = self.weight.reindex(self.demand.index).fillna(1.0).astype(float)
        s = self.sites.copy()
        s.index = s.index.astype(str)
        s.index.name = "site_id"
        for col, default in (("door_flow_pps", INF), ("cost", 0.0), ("existing", False), ("required", False),
                             ("displaced", 0.0)):
            if col not in s.columns:
                s[col] = default
        s["capacity"] = s["capacity"].fillna(0).astype(np.int64)
        s["door_flow_pps"] = s["door_flow_pps"].fillna(0.0).astype(float)
        s["cost"] = s["cost"].fillna(0.0).astype(float)
        s["existing"] = s["existing"].fillna(False).astype(bool)
        s["required"] = s["required"].fillna(False).astype(bool)
        s["displaced"] = s["displaced"].fillna(0.0).astype(float)
        self.sites = s
        pr = self.pairs[["room_id", "site_id", "walk_s"]].copy()
        pr["room_id"] = pr["room_id"].astype(str)
        pr["site_id"] = pr["site_id"].astype(str)
        pr["walk_s"] = pr["walk_s"].astype(float)
        self.pairs = pr.reset_index(drop=True)
        self.protected = {str(p) for p in (self.protected or set())}

    @property
    def scenarios(self) -> list[str]:
        return [str(c) for c in self.demand.columns]

    def replace(self, **changes: Any) -> "Problem":
        """A copy with some fields changed."""
        import dataclasses

        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------ constructors
    @classmethod
    def from_cost_matrix(cls, demand: Any, times: Any, capacity: Any, cost: Any, door_flow_pps: Any = None,
                         existing: Any = None, required: Any = None, displaced: Any = None, weight: Any = None,
                         reach_s: float = 60.0, room_ids: list[str] | None = None,
                         site_ids: list[str] | None = None, **options: Any) -> "Problem":
        """spopt-style constructor (tests, benchmarks).

        `demand`: DataFrame (index room_id, scenario columns) or array (n_rooms x n_scen) of persons;
        `times`: pairs DataFrame (room_id, site_id, walk_s) or array (n_rooms x n_sites) of seconds,
        `np.inf` where unreachable (a room and a site with the same id at 0 s shelter in place);
        `capacity` (persons), `cost` (currency), `door_flow_pps` (persons/s; None = no door limit),
        `existing`, `required` (bool), `displaced` (float): arrays or Series per site.
        """
        if isinstance(demand, pd.DataFrame):
            dem = demand.copy()
        else:
            arr = np.asarray(demand)
            if arr.ndim == 1:
                arr = arr[:, None]
            rids = room_ids or [f"r{i}" for i in range(arr.shape[0])]
            dem = pd.DataFrame(arr.astype(np.int64), index=rids,
                               columns=[f"s{k}" for k in range(arr.shape[1])])
        dem.index = dem.index.astype(str)
        if isinstance(times, pd.DataFrame) and {"room_id", "site_id", "walk_s"} <= set(times.columns):
            pairs = times[["room_id", "site_id", "walk_s"]].copy()
            sids = site_ids or (list(capacity.index) if isinstance(capacity, pd.Series)
                                else sorted(pairs["site_id"].astype(str).unique()))
        else:
            t = np.asarray(times, dtype=float)
            sids = site_ids or [f"j{k}" for k in range(t.shape[1])]
            ii, jj = np.nonzero(np.isfinite(t) & (t <= reach_s + _EPS))
            pairs = pd.DataFrame({"room_id": dem.index.to_numpy()[ii], "site_id": np.asarray(sids, dtype=object)[jj],
                                  "walk_s": t[ii, jj]})
        sids = [str(s) for s in sids]
        n = len(sids)

        def col(v: Any, default: Any) -> np.ndarray:
            if v is None:
                return np.full(n, default)
            if isinstance(v, pd.Series):
                return v.reindex(sids).to_numpy()
            return np.asarray(v)

        sites = pd.DataFrame({"capacity": col(capacity, 0).astype(np.int64), "cost": col(cost, 0.0).astype(float),
                              "door_flow_pps": col(door_flow_pps, INF).astype(float),
                              "existing": col(existing, False).astype(bool), "required": col(required, False).astype(bool),
                              "displaced": col(displaced, 0.0).astype(float)}, index=pd.Index(sids, name="site_id"))
        w = None
        if weight is not None:
            w = weight if isinstance(weight, pd.Series) else pd.Series(np.asarray(weight, float), index=dem.index)
        if door_flow_pps is None:
            options.setdefault("door_queue", False)
        return cls(demand=dem, pairs=pairs, sites=sites, weight=w, reach_s=reach_s, **options)

    @classmethod
    def from_station(cls, station: Any, reach: Any, sites: pd.DataFrame, cost: pd.Series | pd.DataFrame,
                     **overrides: Any) -> "Problem":
        """From a `planner.station.Station`, a `planner.network.ReachTable`, `candidate_sites(station)`
        and a cost Series (index site_id, currency; or `site_costs` with `total_cost`).

        Every option comes from `station.params`; `overrides` win (e.g. budget=..., objective=...).
        """
        p = station.params
        if isinstance(cost, pd.DataFrame):
            disp = cost["displaced_residents"] if "displaced_residents" in cost.columns else None
            cost = cost["total_cost"]
        else:
            disp = None
        s = sites.copy()
        s.index = s.index.astype(str)
        s["cost"] = cost.reindex(s.index).fillna(0.0).astype(float)
        if "displaced" not in s.columns:
            if disp is not None:
                s["displaced"] = disp.reindex(s.index).fillna(0.0).astype(float)
            else:
                dem = station.demand()
                s["displaced"] = dem.reindex(s.index).fillna(0).max(axis=1).astype(float) if len(dem.columns) else 0.0
        s.loc[s["existing"].astype(bool), "cost"] = 0.0
        protected = set(station.rooms.loc[station.rooms["protected"].astype(bool), "room_id"].astype(str)) | set(p.protect)
        opts: dict[str, Any] = dict(reach_s=p.reach_s, objective=p.objective, budget=p.budget, backup_k=p.backup_k,
                                    door_queue=p.door_queue, queue_bin_s=p.queue_bin_s, time_limit_s=p.time_limit_s,
                                    mip_gap=p.mip_gap, solver=p.solver, threads=p.threads, protected=protected)
        opts.update(overrides)
        pairs = reach.pairs[["room_id", "site_id", "walk_s"]] if hasattr(reach, "pairs") else reach
        if not p.shelter_in_place:
            pairs = pairs[~((pairs["room_id"].astype(str) == pairs["site_id"].astype(str)) & (pairs["walk_s"] <= _EPS))]
        opts.setdefault("room_sector", pd.Series(station.rooms["sector"].astype(str).to_numpy(),
                                                 index=station.rooms["room_id"].astype(str).to_numpy()))
        return cls(demand=station.demand(), pairs=pairs, sites=s, weight=station.priority(), **opts)


@dataclass
class Solution:
    """A plan: sites chosen, who shelters where (whole persons), who does not, and how good it is."""

    chosen: list[str]
    assignments: pd.DataFrame
    unsheltered: pd.DataFrame
    solver: dict[str, Any]
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def cost(self) -> float:
        return float(self.stats.get("cost", float("nan")))


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
    scen_mult: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per scenario: how many scenarios it stands for in the MIP (0 = dropped: dominated)."""
    uncapacitated: bool = False
    """Neither a capacity nor a door-queue bound can bind (the pure cover model is exact)."""
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def J(self) -> int:
        return len(self.site_ids)

    @property
    def G(self) -> int:
        return self.D.shape[0]


def _bins(walk: np.ndarray, bin_s: float) -> np.ndarray:
    return np.ceil(walk / bin_s - 1e-7).astype(np.int64).clip(min=0)


def compile_problem(p: Problem) -> Compiled:
    """Prune sites, aggregate interchangeable rooms, index everything (vectorised)."""
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
    nb = int(math.ceil(T / bin_s - 1e-7)) + 1
    rate = sites["door_flow_pps"].to_numpy(dtype=float)
    cap = sites["capacity"].to_numpy(dtype=np.int64)
    # --- pairs among resident rooms, in index form
    pr = pairs[pairs["room_id"].isin(res_rooms)]
    pj = sidx.reindex(pr["site_id"].to_numpy()).to_numpy()
    walk = pr["walk_s"].to_numpy(dtype=float)
    pbin = np.minimum(_bins(walk, bin_s), nb - 1)
    psip = ((pr["room_id"].to_numpy() == pr["site_id"].to_numpy()) & (walk <= 1e-9))
    # queue capacity of a bin: persons the door admits after the LATEST arrival in that bin at that
    # site (<= the bin edge; safe: every arrival of the bin is no later), floored to whole persons
    tau = np.tile(np.minimum(np.arange(nb) * bin_s, T), (J, 1))
    if len(pj):
        latest = np.full((J, nb), -np.inf)
        np.maximum.at(latest, (pj[~psip], pbin[~psip]), walk[~psip])
        tau = np.where(np.isfinite(latest), np.minimum(latest, tau), tau)
    if p.door_queue:
        with np.errstate(invalid="ignore"):
            qcap = np.floor(np.where(np.isfinite(rate), rate, 1e12)[:, None] * (T - tau) + 1e-6)
        qcap = np.minimum(qcap, cap[:, None]).astype(np.int64)
    else:
        qcap = np.repeat(cap[:, None], nb, axis=1).astype(np.int64)
    usable = (cap[pj] > 0) & (psip | (qcap[pj, pbin] > 0))
    rooms_pr = pr["room_id"].to_numpy()
    usable_rooms = set(rooms_pr[usable])
    unreachable = [r for r in res_rooms if r not in usable_rooms]
    cover_rooms = np.array([r for r in res_rooms if r in usable_rooms], dtype=object)
    # --- aggregation key per room: sorted tokens of (site, bin, sip, usable) + weight
    tok = ((pj.astype(np.int64) * (nb + 1) + pbin) * 2 + psip) * 2 + usable
    kdf = pd.DataFrame({"room": rooms_pr, "tok": tok})
    kdf = kdf[kdf["room"].isin(usable_rooms)].sort_values(["room", "tok"])
    if p.aggregate:
        keys = kdf.groupby("room", sort=True)["tok"].agg(lambda v: v.to_numpy().tobytes())
        wkey = p.weight.reindex(keys.index).to_numpy()
        combo = pd.Series([k + np.float64(wv).tobytes() for k, wv in zip(keys.to_numpy(), wkey)], index=keys.index)
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
    w[room_group.to_numpy()] = p.weight.reindex(room_group.index).to_numpy()
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
    nreach = np.bincount(rg, minlength=G) if G else np.zeros(0, np.int64)
    m = np.minimum(max(int(p.backup_k), 0), nreach).astype(np.int64)
    c = Compiled(scen=scen, site_ids=site_ids, cap=cap, rate=rate,
                 cost=np.where(sites["existing"].to_numpy(), 0.0, sites["cost"].to_numpy(dtype=float)),
                 disp=sites["displaced"].to_numpy(dtype=float), fixed1=fixed, D=D, w=w, m=m,
                 qg=qg, qj=qj, qbin=qbin, qsip=qsip, rg=rg, rj=rj, qcap=qcap, nb=nb, room_group=room_group,
                 unreachable=unreachable, pairs=pairs, objective=p.objective, budget=p.budget,
                 door_queue=p.door_queue, reach_s=T, bin_s=bin_s, tighten=p.tighten,
                 queue_prune=p.queue_prune)
    # ---- scenario reduction: identical demand columns merge (weight = count); for cover-all a
    # scenario whose demand is everywhere <= another's is implied by it (fewer people fit where more do)
    Sn = len(scen)
    mult = np.ones(Sn)
    for a in range(Sn if p.scenario_reduce else 0):
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


# ======================================================================== model
class BlockNames(Sequence):
    """Names ``prefix_i`` for consecutive blocks of columns or rows, made when read (only the PuLP
    backend reads them; building the list took 0.1 s per model at Station Unity)."""

    def __init__(self, blocks: list[tuple[str, int]]) -> None:
        self.blocks = [(str(b), int(k)) for b, k in blocks if k > 0]
        self.ends = np.cumsum([k for _, k in self.blocks], dtype=np.int64)

    def __len__(self) -> int:
        return int(self.ends[-1]) if len(self.ends) else 0

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        b = int(np.searchsorted(self.ends, i, side="right"))
        return f"{self.blocks[b][0]}_{i - (int(self.ends[b - 1]) if b else 0)}"


@dataclass
class Arrays:
    """A MIP in array form: min c'v, row_lo <= A v <= row_hi, lo <= v <= hi (columns x, z, y, S)."""

    c: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    integer: np.ndarray
    A: sp.csc_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    names: Sequence[str]
    row_names: Sequence[str]
    nx: int
    nz: int
    ny: int
    ycol0: int
    scol0: int
    yq: np.ndarray   # usable-pair index of each y column
    ys: np.ndarray   # scenario of each y column
    z_groups: np.ndarray  # group of each z column
    cover_row: int | None = None
    rows_by_kind: dict[str, int] = field(default_factory=dict)
    S_key: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ymult: np.ndarray = field(default_factory=lambda: np.zeros(0))


class _Rows:
    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.cidx: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.kind: list[tuple[str, int]] = []
        self.n = 0

    def add(self, rows_local: np.ndarray, cols: np.ndarray, vals: np.ndarray, lo: np.ndarray, hi: np.ndarray,
            kind: str) -> None:
        k = len(lo)
        if k == 0:
            return
        self.r.append(rows_local + self.n)
        self.cidx.append(cols)
        self.v.append(vals)
        self.lo.append(np.asarray(lo, float))
        self.hi.append(np.asarray(hi, float))
        self.kind.append((kind, k))
        self.n += k

    def matrix(self, ncol: int) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray]:
        """The rows added so far as (CSC matrix with `ncol` columns, row lower bounds, row upper bounds)."""
        rows = np.concatenate(self.r) if self.r else np.zeros(0, np.int64)
        cols = np.concatenate(self.cidx) if self.cidx else np.zeros(0, np.int64)
        vals = np.concatenate(self.v) if self.v else np.zeros(0)
        rlo = np.concatenate(self.lo) if self.lo else np.zeros(0)
        rhi = np.concatenate(self.hi) if self.hi else np.zeros(0)
        A = sp.csc_matrix((vals, (rows, cols)), shape=(len(rlo), ncol))
        A.sum_duplicates()
        return A, rlo, rhi


def _backup_rows(R: _Rows, c: Compiled, need: np.ndarray, G: int, zcols: np.ndarray | None) -> None:
    """Backup rows for the groups `need`: at least `m_g` converted sites in reach of group g.

    `zcols` None (cover-all): `sum_j x_j >= m_g`; else the column of each group's binary `z_g`
    (max-cover: the group counts as sheltered only with its backups): `sum_j x_j - m_g z_g >= 0`.
    """
    sel = np.isin(c.rg, need)
    gmap = np.full(G, -1)
    gmap[need] = np.arange(len(need))
    m = c.m[need].astype(float)
    if zcols is None:
        R.add(gmap[c.rg[sel]], c.rj[sel], np.ones(int(sel.sum())), m, np.full(len(need), INF), "backup")
    else:
        R.add(np.r_[gmap[c.rg[sel]], np.arange(len(need))], np.r_[c.rj[sel], zcols],
              np.r_[np.ones(int(sel.sum())), -m], np.zeros(len(need)), np.full(len(need), INF), "backup")


def assignment_columns(c: Compiled, all_scen: bool = False,
                       only_sites: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's assignment columns: (usable pair, scenario, upper bound in persons) for every
    pair and scenario with residents (scenarios the model drops left out unless `all_scen`;
    only pairs to `only_sites` if given). Upper bound: min(residents, capacity, the door's
    admission for the pair's arrival bin; shelter in place: capacity)."""
    S = len(c.scen)
    Dq = c.D[c.qg]  # (Q, S)
    qq, ss = np.nonzero(Dq > 0)
    mult = np.ones(S) if (all_scen or not len(c.scen_mult)) else c.scen_mult
    keep = mult[ss] > 0
    qq, ss = qq[keep], ss[keep]
    if only_sites is not None:  # assignment to these sites only (fixed-x solves: closed sites drop out)
        keep = only_sites[c.qj[qq]]
        qq, ss = qq[keep], ss[keep]
    yj = c.qj[qq]
    qc = np.where(c.qsip[qq], c.cap[yj], c.qcap[yj, c.qbin[qq]])
    yub = np.minimum(Dq[qq, ss], np.minimum(c.cap[yj], qc)).astype(float)
    return qq, ss, yub


def build_arrays(c: Compiled, x_fixed: np.ndarray | None = None, cover_at_least: float | None = None,
                 stage2: bool = False, walk_obj: np.ndarray | None = None,
                 only_sites: np.ndarray | None = None, all_scen: bool = False,
                 tight_cols: np.ndarray | None = None) -> Arrays:
    """The MIP (or, with `x_fixed`, the assignment problem) as arrays.

    Columns: x (sites), z (max-cover backup flags), y (assignments), S (queue suffixes);
    the layout does not depend on `x_fixed` or `stage2`, so solutions carry over.
    `stage2`: max-cover second stage (min cost + displacement tie-break, coverage >= `cover_at_least`).
    `walk_obj`: per usable pair, walk seconds; assignments then prefer short walks (tiny weight).
    """
    J, G, S = c.J, c.G, len(c.scen)
    cover_all = c.objective == "cover-all"
    # ---- y columns: usable pair q x scenario s with D>0
    qq, ss, yub = assignment_columns(c, all_scen=all_scen, only_sites=only_sites)
    mult = np.ones(S) if (all_scen or not len(c.scen_mult)) else c.scen_mult
    ny = len(qq)
    yg, yj = c.qg[qq], c.qj[qq]
    ybin, ysip = c.qbin[qq], c.qsip[qq]
    nx = J
    z_groups = np.flatnonzero(c.m >= 2) if not cover_all else np.zeros(0, np.int64)
    nz_ = len(z_groups)
    zpos = np.full(G, -1)
    zpos[z_groups] = np.arange(nz_)
    zcol0 = nx
    ycol0 = nx + nz_
    scol0 = ycol0 + ny
    R = _Rows()
    # ---- demand rows, one per (g, s) with D>0 (max-cover with backup: - D_gs z_g)
    gs_key = yg * S + ss
    ukey, drow = np.unique(gs_key, return_inverse=True)
    dval = c.D[ukey // S, ukey % S].astype(float)
    g_of_row = ukey // S
    hasz = np.flatnonzero(zpos[g_of_row] >= 0)
    dhi = dval.copy()
    dhi[hasz] = 0.0
    R.add(np.r_[drow, hasz], np.r_[ycol0 + np.arange(ny), zcol0 + zpos[g_of_row[hasz]]],
          np.r_[np.ones(ny), -dval[hasz]], dval if cover_all else np.full(len(ukey), -INF), dhi, "demand")
    # ---- queue chains: S variables at binding bins only (vectorised)
    nS = 0
    S_hi = np.zeros(0)
    S_key = np.zeros(0, np.int64)
    last_S = np.zeros((0, 3), np.int64)  # (S column, site, cap) of each chain's earliest binding bin
    if c.door_queue:
        nq = np.flatnonzero(~ysip)
        if len(nq):
            order = nq[np.lexsort((-ybin[nq], ss[nq], yj[nq]))]
            key = yj[order] * S + ss[order]
            n = len(order)
            seg_start = np.r_[True, key[1:] != key[:-1]]
            seg_id = np.cumsum(seg_start) - 1
            cum = np.cumsum(yub[order])
            seg_off = np.r_[0.0, cum][np.flatnonzero(seg_start)]
            suffix = cum - seg_off[seg_id]                      # suffix upper bound at each position
            bins = ybin[order]
            jj = yj[order]
            bin_end = np.r_[(key[1:] != key[:-1]) | (bins[1:] != bins[:-1]), True]
            capb = c.qcap[jj, bins]
            # a bin binds only if its door limit is below the site capacity (else the capacity row rules)
            binding = bin_end & (suffix > capb + 1e-9) & (capb < c.cap[jj])
            if not c.queue_prune:  # every arrival bin gets its row (measurement only)
                binding = bin_end.copy()
            bpos = np.flatnonzero(binding)
            nS = len(bpos)
            if nS:
                # each y belongs to the first binding bin-end at or after it, in its own segment
                nxt = np.searchsorted(bpos, np.arange(n), side="left")
                valid = nxt < nS
                valid[valid] &= seg_id[bpos[nxt[valid]]] == seg_id[valid]
                s_of_y = np.where(valid, nxt, -1)
                # previous S in the same segment
                prev = np.r_[-1, np.arange(nS - 1)]
                same = np.r_[False, seg_id[bpos[1:]] == seg_id[bpos[:-1]]]
                prev = np.where(same, prev, -1)
                hasp = np.flatnonzero(prev >= 0)
                yin = np.flatnonzero(s_of_y >= 0)
                rows = np.r_[np.arange(nS), hasp, s_of_y[yin]]
                cols = np.r_[scol0 + np.arange(nS), scol0 + prev[hasp], ycol0 + order[yin]]
                vals = np.r_[np.ones(nS), -np.ones(len(hasp)), -np.ones(len(yin))]
                R.add(rows, cols, vals, np.zeros(nS), np.zeros(nS), "queue")
                S_hi = capb[bpos].astype(float)
                S_key = key[bpos] * (c.nb + 1) + bins[bpos]
                # last binding bin of each segment (earliest arrival time): total door arrivals bound
                is_last = np.r_[seg_id[bpos[1:]] != seg_id[bpos[:-1]], True]
                li = np.flatnonzero(is_last)
                last_S = np.stack([scol0 + li, jj[bpos[li]], capb[bpos[li]]], axis=1).astype(np.int64)
    ncol = scol0 + nS
    # ---- capacity rows per (j, s) with y
    js_key = yj * S + ss
    ujs, crow = np.unique(js_key, return_inverse=True)
    cj = ujs // S
    R.add(np.r_[crow, np.arange(len(ujs))], np.r_[ycol0 + np.arange(ny), cj],
          np.r_[np.ones(ny), -c.cap[cj].astype(float)], np.full(len(ujs), -INF), np.zeros(len(ujs)), "capacity")
    if x_fixed is None:
        # ---- tightening y <= u x (only where the capacity row does not imply it)
        if c.tighten or tight_cols is not None:
            cand = yub < c.cap[yj] - 1e-9
            if not c.tighten:
                cand &= tight_cols
            ti = np.flatnonzero(cand)
            R.add(np.r_[np.arange(len(ti)), np.arange(len(ti))], np.r_[ycol0 + ti, yj[ti]],
                  np.r_[np.ones(len(ti)), -yub[ti]], np.full(len(ti), -INF), np.zeros(len(ti)), "tighten")
        # ---- all door arrivals of a binding chain <= q x
        if len(last_S):
            ls = last_S[last_S[:, 2] < c.cap[last_S[:, 1]]]
            k = len(ls)
            R.add(np.r_[np.arange(k), np.arange(k)], np.r_[ls[:, 0], ls[:, 1]],
                  np.r_[np.ones(k), -ls[:, 2].astype(float)], np.full(k, -INF), np.zeros(k), "queue-x")
        # ---- backup
        need = np.flatnonzero(c.m >= 2)
        if len(need):
            _backup_rows(R, c, need, G, None if cover_all else zcol0 + zpos[need])
    # ---- budget
    if c.budget is not None:
        nzc = np.flatnonzero(c.cost > 0)
        R.add(np.zeros(len(nzc), np.int64), nzc, c.cost[nzc], np.array([-INF]), np.array([float(c.budget)]), "budget")
    # ---- objective
    obj = np.zeros(ncol)
    tot_cost = float(c.cost.sum()) + 1.0
    tot_disp = float(c.disp.sum()) + 1.0
    if cover_all or stage2:
        obj[:nx] = c.cost + (0.5 / tot_disp) * c.disp
    else:
        obj[ycol0:ycol0 + ny] = -c.w[yg] * mult[ss]
        wmin = float(c.w[c.w > 0].min()) if (c.w > 0).any() else 1.0
        obj[:nx] = (0.25 * wmin / tot_cost) * c.cost + (0.25 * wmin / tot_disp) * c.disp
    if walk_obj is not None:
        wscale = 1e-3 if (cover_all or stage2) else 1e-4 * (float(c.w[c.w > 0].min()) if (c.w > 0).any() else 1.0)
        obj[ycol0:ycol0 + ny] += wscale * walk_obj[qq] / max(c.reach_s, 1.0)
    cover_row = None
    if stage2 and cover_at_least is not None:
        cover_row = R.n
        R.add(np.zeros(ny, np.int64), ycol0 + np.arange(ny), c.w[yg] * mult[ss], np.array([cover_at_least]), np.array([INF]),
              "coverage")
    # ---- assemble
    A, rlo, rhi = R.matrix(ncol)
    lo = np.zeros(ncol)
    lo[:nx] = c.fixed1.astype(float)
    hi = np.r_[np.ones(nx), np.ones(nz_), yub, S_hi]
    integer = np.zeros(ncol, bool)
    integer[:ycol0] = True
    if x_fixed is not None:
        lo[:nx] = hi[:nx] = x_fixed
        integer[ycol0:scol0] = True
        if nz_:
            cnt = np.bincount(c.rg, weights=x_fixed[c.rj], minlength=G)
            lo[zcol0:ycol0] = hi[zcol0:ycol0] = (cnt[z_groups] >= c.m[z_groups] - 1e-9).astype(float)
    names = BlockNames([("x", nx), ("z", nz_), ("y", ny), ("S", nS)])
    row_names = BlockNames(R.kind)
    return Arrays(c=obj, lo=lo, hi=hi, integer=integer, A=A, row_lo=rlo, row_hi=rhi, names=names,
                  row_names=row_names, nx=nx, nz=nz_, ny=ny, ycol0=ycol0, scol0=scol0, yq=qq, ys=ss,
                  z_groups=z_groups, cover_row=cover_row, rows_by_kind=dict(
                      (kind, k) for kind, k in R.kind), S_key=S_key, ymult=mult[ss])


# ============================================================ pure cover model
@dataclass
class CoverModel:
    """The pure set-cover / max-cover model (only when `Compiled.uncapacitated`).

    Columns: x (sites, `J`), z (max-cover backup flags), u (max-cover: one per cover row,
    0..1, "this row's residents are within reach of an open site"). Cover rows are
    groups (cover-all: after removing dominated and already-covered rows; max-cover:
    groups with identical usable-site sets merged, weight = sum of priority x persons
    over the scenarios). Sites are never removed from the column layout: a dominated
    site gets the upper bound 0.
    """

    ar: Arrays
    A_cover: sp.csr_matrix        # (rows, J) 0/1: usable sites of each remaining cover row
    row_weight: np.ndarray        # (rows,) max-cover: priority-weighted persons over scenarios
    ucol0: int
    dropped_sites: np.ndarray     # (J,) bool: dominated (x_j = 0 in every optimum kept)
    stats: dict[str, Any] = field(default_factory=dict)


def _row_hash(A: sp.csr_matrix, seed: int = 7) -> np.ndarray:
    """Two random projections and the row count per row: equal for identical 0/1 rows."""
    rng = np.random.default_rng(seed)
    R = rng.random((A.shape[1], 2))
    h = np.asarray(A @ R)
    return np.c_[h, np.diff(A.indptr)]


def _block_edges(work: np.ndarray, n: int, block_nnz: float) -> np.ndarray:
    """Row ranges [edges[i], edges[i+1]) of 0..n whose summed `work` is about `block_nnz` each."""
    edges = np.r_[0, np.searchsorted(np.cumsum(work), np.arange(block_nnz, work.sum() + block_nnz, block_nnz)), n]
    return np.unique(np.clip(edges, 0, n))


def _dominated_rows(A: sp.csr_matrix, block_nnz: float = 2e6) -> np.ndarray:
    """Rows g whose 0/1 set contains another row's set (cover-all: implied); ties keep the lowest index.

    Vectorised in blocks: (A[blk] A^T)[g, h] = |Q(g) & Q(h)| equals |Q(h)| iff Q(h) is in Q(g).
    """
    n = A.shape[0]
    out = np.zeros(n, bool)
    if n <= 1:
        return out
    cnt = np.diff(A.indptr)
    AT = A.T.tocsr()
    colcnt = np.diff(AT.indptr).astype(np.float64)
    # work per row ~ sum over its columns of the column counts; blocks of bounded work
    work = np.asarray(A @ colcnt).ravel()
    edges = _block_edges(work, n, block_nnz)
    At = A.T.tocsc()
    for a, b in zip(edges[:-1], edges[1:]):
        if a >= b:
            continue
        M = (A[a:b] @ At).tocoo()
        g = M.row + a
        h = M.col
        sub = (M.data == cnt[h]) & (h != g) & ((cnt[h] < cnt[g]) | (h < g))
        out[np.unique(g[sub])] = True
    return out


def _dominated_sites(A: sp.csr_matrix, cost: np.ndarray, objc: np.ndarray, fixed: np.ndarray,
                     active: np.ndarray, block_nnz: float = 2e6) -> np.ndarray:
    """Sites j (not fixed) whose covered rows are a subset of another active site k's at no higher
    cost (currency) and objective coefficient; fixed sites dominate at any cost (they are open anyway).
    A strict total order (fixed first, cost, objective, more rows, index) rules out cycles, so the
    undominated sites of every chain survive. Returns a (J,) bool mask."""
    J = A.shape[1]
    C = A.T.tocsr()                                          # (J, rows)
    n = np.diff(C.indptr)
    order = np.lexsort((np.arange(J), -n, objc, cost, ~fixed))
    rank = np.empty(J, np.int64)
    rank[order] = np.arange(J)
    out = (n == 0) & ~fixed & active
    Ct = C.T.tocsc()
    rowcnt = np.diff(A.indptr).astype(np.float64)
    work = np.asarray(C @ rowcnt).ravel()
    edges = _block_edges(work, J, block_nnz)
    for a, b in zip(edges[:-1], edges[1:]):
        if a >= b:
            continue
        M = (C[a:b] @ Ct).tocoo()
        j = M.row + a
        k = M.col
        sub = ((M.data == n[j]) & (k != j) & active[k] & active[j] & ~fixed[j] & (rank[k] < rank[j])
               & (fixed[k] | ((cost[k] <= cost[j] + 1e-9) & (objc[k] <= objc[j] + 1e-12))))
        out[np.unique(j[sub])] = True
    return out


def build_cover_model(c: Compiled, reduce: bool = True, stage2: bool = False,
                      cover_at_least: float | None = None) -> CoverModel:
    """The pure cover model as arrays (see `CoverModel`); `stage2`: max-cover's least-cost solve at
    coverage >= `cover_at_least` (priority-weighted persons summed over the scenarios)."""
    J, G = c.J, c.G
    cover_all = c.objective == "cover-all"
    A = sp.csr_matrix((np.ones(len(c.qg)), (c.qg, c.qj)), shape=(G, J))
    A.sum_duplicates()
    A.data[:] = 1.0
    tot_cost = float(c.cost.sum()) + 1.0
    tot_disp = float(c.disp.sum()) + 1.0
    if cover_all or stage2:
        objc = c.cost + (0.5 / tot_disp) * c.disp
    else:
        wmin = float(c.w[c.w > 0].min()) if (c.w > 0).any() else 1.0
        objc = (0.25 * wmin / tot_cost) * c.cost + (0.25 * wmin / tot_disp) * c.disp
    mult = c.scen_mult if len(c.scen_mult) else np.ones(len(c.scen))
    rw = c.w * (c.D.astype(float) @ np.where(mult > 0, mult, 0.0)) if not cover_all else np.zeros(G)
    need = np.flatnonzero(c.m >= 2)
    has_backup = len(need) > 0
    active = np.ones(J, bool)
    st: dict[str, Any] = dict(cover_rows_in=G, sites_in=J)
    t0 = time.perf_counter()
    rows_keep = np.arange(G)
    zgroups = np.zeros(0, np.int64)
    if cover_all:
        covered = np.asarray(A @ c.fixed1.astype(float)).ravel() > 0   # a fixed (open) site covers them
        rows_keep = np.flatnonzero(~covered)
        A = A[rows_keep]
    else:
        # merge groups with the same usable sites (and no backup requirement) into one row
        zgroups = need
        if reduce and G:
            key = np.c_[_row_hash(A), (c.m >= 2) * (np.arange(G) + 1.0)]
            _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
            inv = np.asarray(inv).ravel()
            rw = np.bincount(inv, weights=rw, minlength=len(first))
            rows_keep = first
            A = A[first]
            gz = np.full(G, -1)
            gz[need] = np.arange(len(need))
            zrow = gz[first]                                  # z of each row (-1: none)
        else:
            zrow = np.full(G, -1)
            zrow[need] = np.arange(len(need))
    if reduce and not has_backup:
        for _ in range(6):
            changed = False
            if cover_all:
                dr = _dominated_rows(A)
                if dr.any():
                    rows_keep, A = rows_keep[~dr], A[np.flatnonzero(~dr)]
                    changed = True
            ds = _dominated_sites(A, c.cost, objc, c.fixed1, active)
            if ds.any():
                active &= ~ds
                A = A @ sp.diags(active.astype(float))
                A.eliminate_zeros()
                changed = True
            if not changed or not cover_all:
                break
    A = sp.csr_matrix(A)
    A.eliminate_zeros()
    st.update(cover_rows=int(A.shape[0]), sites_active=int(active.sum()), reduce_s=round(time.perf_counter() - t0, 3))
    nrow = A.shape[0]
    nz_ = len(zgroups)
    ucol0 = J + nz_
    nu = 0 if cover_all else nrow
    ncol = ucol0 + nu
    R = _Rows()
    coo = A.tocoo()
    if cover_all:
        R.add(coo.row, coo.col, np.ones(coo.nnz), np.ones(nrow), np.full(nrow, INF), "cover")
    else:
        R.add(np.r_[coo.row, np.arange(nrow)], np.r_[coo.col, ucol0 + np.arange(nrow)],
              np.r_[-np.ones(coo.nnz), np.ones(nrow)], np.full(nrow, -INF), np.zeros(nrow), "cover")
        zr = np.flatnonzero(zrow >= 0)
        R.add(np.r_[np.arange(len(zr)), np.arange(len(zr))], np.r_[ucol0 + zr, J + zrow[zr]],
              np.r_[np.ones(len(zr)), -np.ones(len(zr))], np.full(len(zr), -INF), np.zeros(len(zr)), "cover-z")
    if has_backup:
        _backup_rows(R, c, need, G, None if cover_all else J + np.arange(len(need)))
    if c.budget is not None:
        nzc = np.flatnonzero(c.cost > 0)
        R.add(np.zeros(len(nzc), np.int64), nzc, c.cost[nzc], np.array([-INF]), np.array([float(c.budget)]), "budget")
    obj = np.zeros(ncol)
    obj[:J] = objc
    if not cover_all and not stage2:
        obj[ucol0:] = -rw
    if stage2 and cover_at_least is not None and not cover_all:
        R.add(np.zeros(nrow, np.int64), ucol0 + np.arange(nrow), rw, np.array([cover_at_least]), np.array([INF]),
              "coverage")
    M, rlo, rhi = R.matrix(ncol)
    lo = np.zeros(ncol)
    lo[:J] = c.fixed1.astype(float)
    hi = np.ones(ncol)
    hi[:J] = np.where(active | c.fixed1, 1.0, 0.0)
    integer = np.zeros(ncol, bool)
    integer[:ucol0] = True
    names = [f"x_{i}" for i in range(J)] + [f"z_{i}" for i in range(nz_)] + [f"u_{i}" for i in range(nu)]
    row_names = [f"{kind}_{i}" for kind, k in R.kind for i in range(k)]
    ar = Arrays(c=obj, lo=lo, hi=hi, integer=integer, A=M, row_lo=rlo, row_hi=rhi, names=names,
                row_names=row_names, nx=J, nz=nz_, ny=0, ycol0=ncol, scol0=ncol, yq=np.zeros(0, np.int64),
                ys=np.zeros(0, np.int64), z_groups=zgroups, rows_by_kind=dict((kind, k) for kind, k in R.kind))
    return CoverModel(ar=ar, A_cover=A, row_weight=rw[:nrow] if not cover_all else np.zeros(nrow), ucol0=ucol0,
                      dropped_sites=~active, stats=st)


def assign_nearest(c: Compiled, x: np.ndarray) -> tuple[np.ndarray, Arrays]:
    """Whole-person assignment when nothing can bind (`Compiled.uncapacitated`): every group, in every
    scenario, goes whole to its nearest open usable site (shortest binned walk, seconds). For
    max-cover, a group short of its backup requirement (open sites in reach) is left unsheltered.

    Returns (values, arrays) in the layout `_make_solution` reads: y columns only.
    """
    S = len(c.scen)
    openx = x > 0.5
    ok_g = np.ones(c.G, bool)
    if c.objective != "cover-all" and (c.m >= 2).any():
        cnt = np.bincount(c.rg, weights=openx[c.rj].astype(float), minlength=c.G)
        ok_g = cnt >= c.m - 1e-9
    q = np.flatnonzero(openx[c.qj] & ok_g[c.qg])
    walk = _group_walk(c)
    q = q[np.lexsort((c.qj[q], walk[q], c.qg[q]))]
    first = q[np.r_[True, c.qg[q][1:] != c.qg[q][:-1]]] if len(q) else q     # nearest open site per group
    Dq = c.D[c.qg[first]]                                                      # (n, S)
    qi, si = np.nonzero(Dq > 0)
    yq = first[qi]
    o = np.lexsort((si, yq))
    yq, ys = yq[o].astype(np.int64), si[o].astype(np.int64)
    y = Dq[qi, si][o].astype(float)
    ny = len(yq)
    ar = Arrays(c=np.zeros(ny), lo=np.zeros(ny), hi=y.copy(), integer=np.ones(ny, bool),
                A=sp.csc_matrix((0, ny)), row_lo=np.zeros(0), row_hi=np.zeros(0), names=[], row_names=[],
                nx=0, nz=0, ny=ny, ycol0=0, scol0=ny, yq=yq, ys=ys, z_groups=np.zeros(0, np.int64),
                ymult=np.ones(ny))
    return y, ar


# ======================================================================= solvers
_STATUS = {"kOptimal": "optimal", "kInfeasible": "infeasible", "kUnboundedOrInfeasible": "infeasible",
           "kTimeLimit": "time limit", "kIterationLimit": "iteration limit", "kInterrupt": "interrupted",
           "kHighsInterrupt": "interrupted", "kSolutionLimit": "solution limit", "kMemoryLimit": "memory limit",
           "kObjectiveBound": "objective bound", "kObjectiveTarget": "objective target"}


def _highs_version() -> str:
    import highspy

    try:  # the package's version: creating a Highs() object only to ask would print its banner
        from importlib.metadata import version

        return version("highspy")
    except Exception:  # pragma: no cover - highspy installed without metadata
        h = new_highs()
        return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"


_HIGHS_STARTED = False


def new_highs(msg: bool = False) -> Any:
    """A `highspy.Highs()` object. HiGHS prints a two-line banner on standard output when the first
    one of a process is made, whatever its options; unless `msg`, that banner goes to /dev/null
    (file descriptor 1 is pointed there for the construction only)."""
    global _HIGHS_STARTED
    import highspy

    if _HIGHS_STARTED or msg:
        _HIGHS_STARTED = True
        return highspy.Highs()
    try:
        sys.stdout.flush()
        saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError):  # no file descriptor 1 (embedded use): let it print
        _HIGHS_STARTED = True
        return highspy.Highs()
    try:
        os.dup2(devnull, 1)
        h = highspy.Highs()
        try:  # the banner may sit in the C library's buffer: flush it while it still goes to /dev/null
            import ctypes

            ctypes.CDLL(None).fflush(None)
        except Exception:  # pragma: no cover - no C library handle
            pass
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    _HIGHS_STARTED = True
    return h


@dataclass
class _Run:
    values: np.ndarray | None
    status: str
    objective: float
    bound: float
    gap: float
    seconds: float
    name: str
    version: str
    nodes: int = 0
    row_dual: np.ndarray | None = None
    """LP runs: HiGHS's row duals (for `_dual_bound`), when it has any."""


def _dual_bound(ar: Arrays, row_dual: np.ndarray) -> float:
    """A valid lower bound on the LP relaxation of `ar` (hence on the MIP) from ANY row multipliers.

    Lagrangian duality over the box: with multipliers pi (clipped to the signs the row bounds
    allow: pi >= 0 where only a lower bound is finite, pi <= 0 where only an upper one is),
    min c'v s.t. row_lo <= Av <= row_hi, lo <= v <= hi is at least
    sum_i (pi_i row_lo_i if pi_i > 0 else pi_i row_hi_i) + sum_j min(d_j lo_j, d_j hi_j), d = c - A'pi.
    Every column of the planner's models has finite bounds, so this is finite for any pi: a
    simplex or interior-point run stopped by its time limit still proves a bound (objective units).
    """
    pi = np.asarray(row_dual, dtype=float).copy()
    lo_f, hi_f = np.isfinite(ar.row_lo), np.isfinite(ar.row_hi)
    pi[~hi_f] = np.maximum(pi[~hi_f], 0.0)
    pi[~lo_f] = np.minimum(pi[~lo_f], 0.0)
    pi[~lo_f & ~hi_f] = 0.0
    d = ar.c - ar.A.T @ pi
    if not (np.isfinite(ar.lo).all() and np.isfinite(ar.hi).all()):
        return -INF
    rows = np.where(pi > 0, pi * np.where(lo_f, ar.row_lo, 0.0), pi * np.where(hi_f, ar.row_hi, 0.0))
    return float(rows.sum() + np.minimum(d * ar.lo, d * ar.hi).sum())


def highs_lp(A: sp.spmatrix, cost: np.ndarray, col_lo: np.ndarray, col_hi: np.ndarray, row_lo: np.ndarray,
             row_hi: np.ndarray, integer: np.ndarray | None = None) -> Any:
    """A `highspy.HighsLp` of the model `min cost.x, row_lo <= A x <= row_hi, col_lo <= x <= col_hi`
    (infinite bounds may be numpy inf; `integer`: boolean mask of integer columns, None = an LP)."""
    import highspy

    inf = highspy.kHighsInf
    A = A.tocsc()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
    lp.col_cost_ = np.asarray(cost, float)
    lp.col_lower_ = np.where(np.isfinite(col_lo), col_lo, -inf).astype(float)
    lp.col_upper_ = np.where(np.isfinite(col_hi), col_hi, inf).astype(float)
    lp.row_lower_ = np.where(np.isfinite(row_lo), row_lo, -inf).astype(float)
    lp.row_upper_ = np.where(np.isfinite(row_hi), row_hi, inf).astype(float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(float)
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = A.shape[1], A.shape[0]
    if integer is not None and np.any(integer):
        lp.integrality_ = [highspy.HighsVarType.kInteger if b else highspy.HighsVarType.kContinuous
                           for b in integer]
    return lp


def _solve_highspy(ar: Arrays, time_limit: float, gap: float, threads: int, start: np.ndarray | None,
                   msg: bool, mip: bool = True, options: dict[str, Any] | None = None) -> _Run:
    import highspy

    t0 = time.perf_counter()
    h = new_highs(msg)
    h.setOptionValue("output_flag", bool(msg))
    h.setOptionValue("time_limit", float(max(time_limit, 0.5)))
    h.setOptionValue("mip_rel_gap", float(gap))
    h.setOptionValue("threads", int(threads))
    if not mip:
        h.setOptionValue("solver", "simplex")  # a vertex: integral on the TU assignment system
    for k, v in (options or {}).items():
        h.setOptionValue(k, v)
    n, mrows = ar.A.shape[1], ar.A.shape[0]
    h.passModel(highs_lp(ar.A, ar.c, ar.lo, ar.hi, ar.row_lo, ar.row_hi, ar.integer if mip else None))
    if start is not None and mip:
        sol = highspy.HighsSolution()
        sol.col_value = list(map(float, start))
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    st = h.getModelStatus()
    name = h.modelStatusToString(st)
    key = str(st).split(".")[-1]
    info = h.getInfo()
    status = _STATUS.get(key, name.lower())
    has_sol = info.primal_solution_status == 2 if hasattr(info, "primal_solution_status") else True
    values = np.array(h.getSolution().col_value) if has_sol and len(h.getSolution().col_value) == n else None
    obj = float(info.objective_function_value) if values is not None else INF
    row_dual = None
    if mip and ar.integer.any():
        bound = float(info.mip_dual_bound)
        g = float(info.mip_gap)
        nodes = int(info.mip_node_count)
    else:
        bound, g, nodes = obj, 0.0, 0
        sol_ = h.getSolution()
        if getattr(sol_, "dual_valid", False) and len(sol_.row_dual) == mrows:
            row_dual = np.asarray(sol_.row_dual, dtype=float)
    if status == "optimal":
        g = min(g, gap) if np.isfinite(g) else 0.0
    run = _Run(values, status, obj, bound, g, time.perf_counter() - t0, "HiGHS", _highs_version(), nodes,
               row_dual)
    if mip and values is not None and ar.integer.any() and not _objective_agrees(ar, values, obj):
        run = _misvalued(ar, run, time_limit, gap, threads, start, msg, options)
    return run


def _objective_agrees(ar: Arrays, values: np.ndarray, reported: float) -> bool:
    """Whether HiGHS's reported objective is the objective of the values it returned."""
    true = float(ar.c @ values)
    return abs(true - reported) <= 1e-6 * max(1.0, abs(true))


def _misvalued(ar: Arrays, run: _Run, time_limit: float, gap: float, threads: int, start: np.ndarray | None,
               msg: bool, options: dict[str, Any] | None) -> _Run:
    """HiGHS reported an objective that is not that of the values it returned. Seen with HiGHS 1.16 and
    a MIP start it values in its presolved space ("MIP start solution is feasible in the reduced space"):
    a 91-site set cover start came back as the plan, reported as 89 and "optimal", while 90 sites
    suffice; on the 5-row test instance a start of 11 comes back with the optimum's value 3.
    Its bound cannot be trusted: solve again without the start for the time left; if that fails, the
    plan's own cost with no proven bound."""
    true = float(ar.c @ run.values)
    left = time_limit - run.seconds
    bound, seconds, nodes = -INF, run.seconds, run.nodes
    if start is not None and left > 0.5:
        again = _solve_highspy(ar, left, gap, threads, None, msg, True, options)
        again.seconds += run.seconds
        if again.values is not None and again.objective <= true + 1e-9:
            return again
        # the start stays the better plan; the second run's bound holds for it
        bound, seconds, nodes = min(again.bound, true), again.seconds, run.nodes + again.nodes
    g = (true - bound) / max(abs(true), 1e-9) if np.isfinite(bound) else INF
    return _Run(run.values, "unproven", true, bound, g, seconds, run.name, run.version, nodes)


def _solve_pulp(ar: Arrays, time_limit: float, gap: float, threads: int, start: np.ndarray | None, msg: bool,
                solver: str, mip: bool = True) -> tuple[_Run, float]:
    """Build the same arrays as a PuLP model (transparent, CBC fallback) and solve it."""
    import pulp

    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulp\..*")
    tb = time.perf_counter()
    prob = pulp.LpProblem("safe_rooms", pulp.LpMinimize)
    n = ar.A.shape[1]
    vars_ = [pulp.LpVariable(ar.names[i], lowBound=float(ar.lo[i]), upBound=float(ar.hi[i]) if np.isfinite(ar.hi[i]) else None,
                             cat=pulp.LpInteger if (mip and ar.integer[i]) else pulp.LpContinuous) for i in range(n)]
    nzc = np.flatnonzero(ar.c)
    prob.setObjective(pulp.LpAffineExpression([(vars_[i], float(ar.c[i])) for i in nzc]))
    A = ar.A.tocsr()
    cons = {}
    for r in range(A.shape[0]):
        a, b = A.indptr[r], A.indptr[r + 1]
        expr = pulp.LpAffineExpression([(vars_[k], float(v)) for k, v in zip(A.indices[a:b], A.data[a:b])])
        lo, hi = ar.row_lo[r], ar.row_hi[r]
        nm = ar.row_names[r] if r < len(ar.row_names) else f"r{r}"
        if np.isfinite(lo) and np.isfinite(hi) and lo == hi:
            cons[nm] = pulp.LpConstraint(expr, pulp.LpConstraintEQ, rhs=float(lo))
        else:
            if np.isfinite(hi):
                cons[nm] = pulp.LpConstraint(expr, pulp.LpConstraintLE, rhs=float(hi))
            if np.isfinite(lo):
                cons[nm + "_lo"] = pulp.LpConstraint(expr, pulp.LpConstraintGE, rhs=float(lo))
    prob.extend(cons)
    build_s = time.perf_counter() - tb
    t0 = time.perf_counter()
    if start is not None:
        for v, val in zip(vars_, start):
            v.setInitialValue(float(val))
    if solver == "cbc":
        s = pulp.PULP_CBC_CMD(msg=msg, timeLimit=max(time_limit, 1.0), gapRel=gap, threads=threads,
                              warmStart=start is not None)
        name, version = "CBC", "2.10"
    else:
        s = _PulpHighsStart(msg=msg, timeLimit=max(time_limit, 0.5), gapRel=gap, threads=threads, start=start)
        name, version = "HiGHS (PuLP)", _highs_version()
    prob.solve(s)
    sec = time.perf_counter() - t0
    st = pulp.LpStatus[prob.status]
    vals = np.array([v.varValue if v.varValue is not None else np.nan for v in vars_])
    ok = prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible) and not np.isnan(vals).any()
    obj = float(pulp.value(prob.objective) or 0.0) if ok else INF
    status = {"Optimal": "optimal" if prob.sol_status == pulp.LpSolutionOptimal else "time limit",
              "Infeasible": "infeasible"}.get(st, st.lower())
    bound, g = obj, 0.0
    if isinstance(s, _PulpHighsStart) and s.info is not None:
        bound, g = s.info
        if ok and not _objective_agrees(ar, vals, s.reported):          # see `_misvalued`: no proof
            status, bound, g = "unproven", -INF, INF
            left = time_limit - (time.perf_counter() - t0)
            if start is not None and left > 0.5:                            # again without the start
                again, _ = _solve_pulp(ar, left, gap, threads, None, msg, solver, mip)
                if again.values is not None and again.objective <= obj + 1e-9:
                    again.seconds = time.perf_counter() - t0
                    return again, build_s
    elif status != "optimal":
        bound, g = -INF, INF
    return _Run(vals if ok else None, status, obj, bound, g, sec, name, version), build_s


try:  # in-memory HiGHS through PuLP, with a MIP start (PuLP 3.3's adapter has none)
    import pulp as _pulp

    class _PulpHighsStart(_pulp.HiGHS):  # type: ignore[misc,valid-type]
        def __init__(self, start: np.ndarray | None = None, **kw: Any) -> None:
            super().__init__(**kw)
            self.start = start
            self.info: tuple[float, float] | None = None
            self.reported = INF       # HiGHS's objective (checked against the values'; see `_misvalued`)

        def actualSolve(self, lp: Any) -> int:  # noqa: N802 - PuLP API
            import highspy

            self.createAndConfigureSolver(lp)
            self.buildSolverModel(lp)
            if self.start is not None:
                vs = lp.variables()
                idx = np.array([v.index for v in vs], dtype=np.int32)
                vals = np.array([float(v.varValue) if v.varValue is not None else 0.0 for v in vs])
                order = np.argsort(idx)
                lp.solverModel.setSolution(len(idx), idx[order], vals[order])
            self.callSolver(lp)
            status, sol_status = self.findSolutionValues(lp)
            info = lp.solverModel.getInfo()
            try:
                self.info = (float(info.mip_dual_bound), float(info.mip_gap))
                self.reported = float(info.objective_function_value)
            except Exception:  # pragma: no cover
                self.info = None
            for var in lp.variables():
                var.modified = False
            for constraint in lp._constraints.values():
                constraint.modifier = False
            lp.assignStatus(status, sol_status)
            del highspy
            return status
except Exception:  # pragma: no cover
    _PulpHighsStart = None  # type: ignore[assignment,misc]


COVER_HIGHS_OPTIONS: dict[str, Any] = {"mip_pool_soft_limit": 200, "mip_detect_symmetry": False}
"""HiGHS options for the pure cover model. Measured (LSCP, 3,000 rooms): the default cut pool
(10,000) costs about 100 MB of HiGHS memory on a 711 x 1,729 model; 200 cuts: 35 MB, and faster.
Symmetry detection off: 3 MB less on MCLP (3,000 rooms), no slower there."""

COVER_SEARCH_MIN_SITES = 1000
"""Pure cover models with at least this many usable sites go through a search instead of one MIP:
max-cover `_cover_search` (LP, core MIP on the LP's support, reduced-cost fixing, then the MIP from the
core's plan), cover-all `_cover_all_search` (LP, random covers, MIP over their union, proof attempts)."""

COVER_CORE_SHARE = 0.2
"""Share of the time limit for the core MIP of `_cover_search`."""

COVER_SEARCH_OPTIONS: dict[str, Any] = {"mip_allow_restart": False}
"""HiGHS options for the MIPs of `_cover_search`. Measured (MCLP, 10,000 rooms, p = 45, from the
optimal plan): 52 s with restarts (HiGHS restarts five times after its own reduced-cost fixing and
repeats the root's cut rounds, 5 to 12 s each), 13 s without."""

COVER_LP_OPTIONS: dict[str, Any] = {"simplex_strategy": 4}
"""The LP relaxation of the pure max-cover model by the primal simplex. Measured (MCLP, 10,000 rooms):
1.3 s against 3.4 s with the dual simplex, 2.5 s with the interior point method."""


def _integral_objective(ar: Arrays) -> bool:
    """Does every solution have an integer objective value (integer coefficients on the integer
    columns, none on the continuous ones)? Then a bound above incumbent - 1 proves the incumbent."""
    cint, ccon = ar.c[ar.integer], ar.c[~ar.integer]
    return bool(np.all(np.abs(cint - np.round(cint)) <= 1e-9) and np.all(np.abs(ccon) <= 0.0))


def _integral_run(run: _Run) -> _Run:
    """An integral objective: the bound rounded up (a MIP run stopped at bound > incumbent - 1 is proven)."""
    if np.isfinite(run.bound):
        run.bound = float(math.ceil(run.bound - 1e-6))
        if np.isfinite(run.objective):
            run.bound = min(run.bound, run.objective)
            run.gap = max(run.objective - run.bound, 0.0) / max(abs(run.objective), 1e-9)
    return run


def _with_upper(ar: Arrays, nx: int, keep: np.ndarray) -> Arrays:
    """`ar` with the site columns outside `keep` fixed to 0 (upper bound 0)."""
    import dataclasses

    hi = ar.hi.copy()
    hi[:nx] = np.where(keep, hi[:nx], 0.0)
    return dataclasses.replace(ar, hi=hi)


def _cover_lp(p: Problem, ar: Arrays, t_all: float, start_vec: np.ndarray | None, options: dict[str, Any],
              name: str, stats: dict[str, Any]) -> tuple[_Run, tuple[_Run, float] | None]:
    """The LP relaxation (primal simplex) that the cover searches start from, and, when it gives no
    optimal values and duals, the plain MIP in its place: (LP run, None) or (LP run, (MIP run, HiGHS s));
    the LP's status is then in `stats[name]`."""
    lp = _solve_highspy(ar, _left(p, t_all, 1.0, INF), 0.0, p.threads, None, p.msg, mip=False,
                        options={**COVER_LP_OPTIONS, **p.highs_options})
    if lp.status == "optimal" and lp.values is not None and lp.row_dual is not None:
        return lp, None
    stats[name] = dict(lp_status=lp.status)
    run = _solve_highspy(ar, _left(p, t_all, 1.0, INF), p.mip_gap, p.threads, start_vec, p.msg, True, options)
    return lp, (run, lp.seconds + run.seconds)


def _cover_search(p: Problem, c: Compiled, ar: Arrays, start_vec: np.ndarray | None, t_all: float,
                  stats: dict[str, Any]) -> tuple[_Run, float]:
    """The pure cover model (minimisation form `ar`) solved through its LP relaxation; (run, HiGHS s).

    1. LP relaxation (primal simplex): bound z, reduced costs d = c - A^T y.
    2. Core MIP: only the sites the LP opens at all (and the start plan's), for a share of the
       time limit: a good plan, value v (the LP support held 43 of the 45 optimal sites, MCLP at
       10,000 rooms; the core's optimum was 8 persons short of the whole model's).
    3. Reduced-cost fixing: any solution with site j open costs at least z + d_j (all terms of
       c x - z = d (x - x_LP) + y (A x - A x_LP) are >= 0 for optimal duals), so a site with
       d_j > v - z cannot be in a plan better than the core's; it is fixed closed (kept if the
       core plan uses it). The whole model's optimum is the reduced model's, and so is any bound.
    4. The reduced MIP from the core's plan.
    """
    J = c.J
    usable = ar.hi[:J] > 0.5
    opts = {**COVER_HIGHS_OPTIONS, **COVER_SEARCH_OPTIONS, **p.highs_options}
    lp, fallback = _cover_lp(p, ar, t_all, start_vec, opts, "cover_search", stats)
    if fallback is not None:
        return fallback
    seconds = lp.seconds
    z = float(lp.objective)
    d = ar.c - ar.A.T @ lp.row_dual
    fixed = ar.lo[:J] > 0.5
    core = usable & ((lp.values[:J] > 1e-9) | fixed)
    if start_vec is not None:
        core |= usable & (start_vec[:J] > 0.5)
    remaining = _left(p, t_all, 1.0, INF)
    core_run = _solve_highspy(_with_upper(ar, J, core), max(1.0, COVER_CORE_SHARE * remaining), p.mip_gap,
                              p.threads, start_vec, p.msg, True, opts)
    seconds += core_run.seconds
    start = core_run.values if core_run.values is not None else start_vec
    keep = usable
    if start is not None:
        v = float(ar.c @ start)
        tol = 1e-6 * max(1.0, abs(v))
        keep = usable & ((d[:J] <= v - z + tol) | (start[:J] > 0.5) | fixed)
    stats["cover_search"] = dict(lp_bound=z, lp_s=round(lp.seconds, 3), core_sites=int(core.sum()),
                                 core_objective=float(core_run.objective), core_status=core_run.status,
                                 core_s=round(core_run.seconds, 3), sites_kept=int(keep.sum()),
                                 sites_usable=int(usable.sum()))
    remaining = _left(p, t_all, 1.0, INF)
    run = _solve_highspy(_with_upper(ar, J, keep), remaining, p.mip_gap, p.threads, start, p.msg, True, opts)
    seconds += run.seconds
    if run.values is None and start is not None:   # time limit before the MIP had a plan: the core's
        run.values, run.objective = start, float(ar.c @ start)
        run.status = "time limit"
    if np.isfinite(run.bound):
        run.bound = max(run.bound, z) if np.isfinite(z) else run.bound
    return run, seconds


COVER_ALL_POOL = 6
"""Random covers per small merge of `_cover_all_search` (`planner.setcover.random_covers`)."""

COVER_ALL_MERGES = 6
"""Small merges per round of `_cover_all_search`; their plans, and those of the rounds before, are
merged again."""

COVER_ALL_KEEP = 18
"""Plans of small merges kept for the round's big merge of `_cover_all_search` (the newest; with the best
plan): about 400 to 500 sites, so that the big merge stays quick."""

COVER_ALL_ROUNDS = 20
"""Rounds of `_cover_all_search` before the whole MIP gets the time left; the rounds stop at half the
time limit."""

COVER_ALL_SLICE_LP = 10.0
"""Time limit of each merge MIP and each proof attempt of `_cover_all_search`, in LP relaxation times
(at least 2 s): a proof at the root node takes a few LP solves (measured, LSCP 10,000 rooms: LP
0.36 s, proof from an optimal plan 2.3 to 2.5 s at the root; from a plan one site worse, 30 s and
more)."""

COVER_ALL_SEED = 0
"""Seed of the random covers (the same station gives the same plan)."""


def _cover_all_arrays(ar: Arrays, J: int) -> tuple[sp.csr_matrix, np.ndarray] | None:
    """The cover rows (0/1, sites only) and each row's required count, or None when `ar` is not a
    pure set cover (other columns, rows with an upper limit or coefficients other than 1)."""
    if ar.A.shape[1] != J or ar.nz or ar.A.shape[0] == 0 or not np.isinf(ar.row_hi).all():
        return None
    A = sp.csr_matrix(ar.A)
    if A.nnz == 0 or not (A.data == 1.0).all() or not (ar.row_lo >= 1).all():
        return None
    return A, np.ceil(ar.row_lo - 1e-9)


def _cover_all_search(p: Problem, c: Compiled, ar: Arrays, rows: tuple[sp.csr_matrix, np.ndarray],
                      start_vec: np.ndarray | None, t_all: float, options: dict[str, Any],
                      stats: dict[str, Any]) -> tuple[_Run, float]:
    """The pure cover-all model (set covering) through solution merging; (run, HiGHS s).

    HiGHS alone spends most of its time on large set covers *finding* the optimal cover (LSCP at
    10,000 rooms: 24 to 88 s by random seed, against 2.4 s to prove it once given). A MIP over the
    union of a few plans is small and quick, and the better the plans the better its optimum:
    1. LP relaxation (primal simplex): values and reduced costs, to guide the random covers.
    2. Rounds: `COVER_ALL_MERGES` small merges, each a MIP over the union of `COVER_ALL_POOL` random
       covers (`planner.setcover`; measured: unions of about 380 sites, plans 1 to 3 sites above the
       optimum, 0.1 to 0.5 s each); then a MIP over the union of the plans of the newest
       `COVER_ALL_KEEP` small merges and the best plan; if that improved the best plan, a proof attempt:
       the whole MIP from it. A proof ends the search.
    3. Otherwise the whole MIP from the best plan for the time left.
    Each merge MIP and proof attempt is limited to `COVER_ALL_SLICE_LP` LP times. Every plan is the
    whole model's; the bound is the whole MIP's (at least the LP's).
    """
    from planner.setcover import random_covers

    J = c.J
    A, req = rows
    usable = ar.hi[:J] > 0.5
    fixed = ar.lo[:J] > 0.5
    cost = ar.c[:J]
    lp, fallback = _cover_lp(p, ar, t_all, start_vec, options, "cover_all_search", stats)
    if fallback is not None:
        return fallback
    seconds = lp.seconds
    d = (ar.c - ar.A.T @ lp.row_dual)[:J]
    rng = np.random.default_rng(COVER_ALL_SEED)
    best = start_vec[:J] > 0.5 if start_vec is not None else None
    slice_s = max(2.0, COVER_ALL_SLICE_LP * lp.seconds)
    log: list[dict[str, Any]] = []

    def vec(x: np.ndarray) -> np.ndarray:
        v = np.zeros(ar.A.shape[1])
        v[:J] = x
        return v

    def merge(plans: list[np.ndarray]) -> tuple[np.ndarray, int]:
        """The best plan over the union of `plans` (MIP from the cheapest of them), union size."""
        nonlocal seconds
        union = np.any(plans, axis=0)
        first = min(plans, key=lambda x: float(cost @ x))
        sub = _solve_highspy(_with_upper(ar, J, union), min(slice_s, _left(p, t_all, 1.0, INF)), p.mip_gap,
                             p.threads, vec(first), p.msg, True, options)
        seconds += sub.seconds
        plan = sub.values[:J] > 0.5 if sub.values is not None else first
        return (plan if cost @ plan <= cost @ first else first), int(union.sum())

    run: _Run | None = None
    found: list[np.ndarray] = []              # plans of the newest small merges
    for _ in range(COVER_ALL_ROUNDS):
        if time.perf_counter() - t_all + 4 * slice_s > 0.5 * p.time_limit_s:
            break
        t = time.perf_counter()
        plans = []
        for _m in range(COVER_ALL_MERGES):
            covers = random_covers(A, cost, req, usable, lp.values[:J], d, COVER_ALL_POOL, rng, fixed)
            if covers:
                plans.append(merge(covers)[0])
        if not plans:
            break
        found = (found + plans)[-COVER_ALL_KEEP:]
        plan, size = merge(found + ([best] if best is not None else []))
        entry: dict[str, Any] = dict(plans=[float(cost @ x) for x in plans], union_sites=size,
                                     merged=float(cost @ plan), merge_s=round(time.perf_counter() - t, 3))
        log.append(entry)
        if best is not None and cost @ plan >= cost @ best - 1e-9:
            continue                      # no better plan than the one a proof attempt already failed on
        best = plan
        run = _solve_highspy(ar, min(slice_s, _left(p, t_all, 1.0, INF)), p.mip_gap, p.threads, vec(best), p.msg,
                             True, options)
        seconds += run.seconds
        entry.update(proof_status=run.status, proof_s=round(run.seconds, 3))
        if run.values is not None and ar.c @ run.values < cost @ best - 1e-9:
            best = run.values[:J] > 0.5
        if run.status == "optimal":
            break
    stats["cover_all_search"] = dict(lp_bound=float(lp.objective), lp_s=round(lp.seconds, 3), rounds=log)
    if run is None or run.status != "optimal":
        last = _solve_highspy(ar, _left(p, t_all, 1.0, INF), p.mip_gap, p.threads,
                              vec(best) if best is not None else None, p.msg, True, options)
        seconds += last.seconds
        if last.values is None and best is not None:
            last.values, last.objective = vec(best), float(cost @ best)
        run = last
    if np.isfinite(run.bound):
        run.bound = max(run.bound, float(lp.objective))
    return run, seconds


def _run(ar: Arrays, p: Problem, time_limit: float, start: np.ndarray | None, mip: bool = True,
         defaults: dict[str, Any] | None = None) -> tuple[_Run, float]:
    if p.solver == "cbc" or p.backend == "pulp":
        return _solve_pulp(ar, time_limit, p.mip_gap, p.threads, start, p.msg, p.solver, mip)
    return _solve_highspy(ar, time_limit, p.mip_gap, p.threads, start, p.msg, mip,
                          {**(defaults or {}), **p.highs_options}), 0.0


# ==================================================================== assignment
def assign_fixed(c: Compiled, p: Problem, x: np.ndarray, time_limit: float = 60.0) -> tuple[np.ndarray | None, Arrays, _Run]:
    """Whole-person assignment for a fixed set of sites (y integer; a TU system, solved at the root).

    Returns (full column vector or None if infeasible, arrays, run).
    """
    walk = _group_walk(c)
    ar = build_arrays(c, x_fixed=x.astype(float), walk_obj=walk, only_sites=x > 0.5, all_scen=True)
    S = len(c.scen)
    if c.objective == "cover-all":
        need = np.flatnonzero(c.D.ravel() > 0)
        have = np.unique(c.qg[ar.yq].astype(np.int64) * S + ar.ys)
        if not np.isin(need, have).all():  # some occupied room reaches no open site
            return None, ar, _Run(None, "infeasible", INF, INF, INF, 0.0, "HiGHS", _highs_version())
    if ar.A.shape[1] == ar.nx + ar.nz or ar.A.shape[0] == 0:  # nothing to assign
        v = np.r_[ar.lo[:ar.ycol0], np.zeros(ar.A.shape[1] - ar.ycol0)]
        return v, ar, _Run(v, "optimal", 0.0, 0.0, 0.0, 0.0, "HiGHS", _highs_version())
    # LP first: a simplex vertex of this TU system is integral; integer y only as a fallback
    run = _solve_highspy(ar, time_limit, 0.0, p.threads, None, p.msg, mip=False)
    v = run.values
    if v is not None:
        y = v[ar.ycol0:ar.ycol0 + ar.ny]
        if np.abs(y - np.rint(y)).max(initial=0.0) <= 1e-6:
            v = v.copy()
            v[:ar.scol0] = np.rint(v[:ar.scol0])
            return v, ar, run
    if run.status == "infeasible":
        return None, ar, run
    run = _solve_highspy(ar, time_limit, 0.0, p.threads, None, p.msg, mip=True)
    return run.values, ar, run


def _group_walk(c: Compiled) -> np.ndarray:
    """Per usable pair: representative walk (bin upper edge, seconds)."""
    return np.where(c.qsip, 0.0, np.minimum(c.qbin * c.bin_s, c.reach_s))


def full_vector(c: Compiled, ar_model: Arrays, ar_fixed: Arrays, v_fixed: np.ndarray) -> np.ndarray:
    """A fixed-x solution (possibly built on the open sites only) on the MIP's columns."""
    S = len(c.scen)
    out = np.zeros(ar_model.A.shape[1])
    out[:ar_model.ycol0] = v_fixed[:ar_fixed.ycol0]
    full_key = ar_model.yq.astype(np.int64) * S + ar_model.ys
    sub_key = ar_fixed.yq.astype(np.int64) * S + ar_fixed.ys
    inm = np.isin(sub_key, full_key)
    pos = np.searchsorted(full_key, sub_key[inm])
    out[ar_model.ycol0 + pos] = v_fixed[ar_fixed.ycol0:ar_fixed.ycol0 + ar_fixed.ny][inm]
    if len(ar_fixed.S_key) and len(ar_model.S_key):
        inm = np.isin(ar_fixed.S_key, ar_model.S_key)
        o = np.argsort(ar_model.S_key)
        spos = o[np.searchsorted(ar_model.S_key[o], ar_fixed.S_key[inm])]
        out[ar_model.scol0 + spos] = v_fixed[ar_fixed.scol0:ar_fixed.scol0 + len(ar_fixed.S_key)][inm]
    return out


# ===================================================================== solve
def solve(problem: Problem, start: list[str] | None = None, progress: bool = True) -> Solution:
    """Solve the problem; returns the best plan found with its proven bound and gap.

    `start`: site ids of a known plan (a MIP start); None = LP rounding + local search.
    Raises `InfeasibleError` (with `explain_infeasible`'s words) when cover-all is impossible;
    when the budget is the reason, the error's `full_cover_cost` attribute holds the cost of
    the cheapest plan that shelters everyone reachable (currency).

    Cover-all with a budget is solved without the budget first: if that plan fits, it is the
    answer; if even its proven lower bound exceeds the budget, the budget is infeasible (and
    the director learns what full cover costs) without a long infeasibility proof.
    """
    p = problem
    if p.objective == "cover-all" and p.budget is not None:
        free = solve(p.replace(budget=None), start=start, progress=progress)
        cost = float(free.stats["cost"])
        if cost <= p.budget + 1e-6:
            free.stats["budget_slack"] = float(p.budget - cost)
            return free
        if free.solver["bound"] is not None and free.solver["bound"] > p.budget + 1.0:
            exc = InfeasibleError(
                f"Cover-all is impossible within the budget of {p.budget:,.0f}: the cheapest plan sheltering "
                f"everyone reachable costs {cost:,.0f} ({len(free.chosen)} rooms; no plan costs less than "
                f"{free.solver['bound']:,.0f}). Use --objective max-cover to shelter as many people as "
                "possible within the budget.")
            exc.full_cover_cost = cost  # type: ignore[attr-defined]
            exc.full_cover_plan = free  # type: ignore[attr-defined]
            raise exc
        return _solve(p, start, progress, budget_checked=free)
    return _solve(p, start, progress)


def _infeasible(p: Problem, c: Compiled, free: Solution | None) -> InfeasibleError:
    if free is not None and p.budget is not None:
        cost = float(free.stats["cost"])
        exc = InfeasibleError(
            f"Cover-all is impossible within the budget of {p.budget:,.0f}: the cheapest plan sheltering everyone "
            f"reachable costs {cost:,.0f} ({len(free.chosen)} rooms). Use --objective max-cover to shelter as "
            "many people as possible within the budget.")
        exc.full_cover_cost = cost  # type: ignore[attr-defined]
        exc.full_cover_plan = free  # type: ignore[attr-defined]
        return exc
    return InfeasibleError(explain_infeasible(p, _compiled=c))


def _solve(p: Problem, start: list[str] | None, progress: bool, budget_checked: Solution | None = None) -> Solution:
    t_all = time.perf_counter()
    timings: dict[str, float] = {}
    say = log if progress else (lambda *_: None)
    t = time.perf_counter()
    c = compile_problem(p)
    timings["compile_s"] = time.perf_counter() - t
    say(f"[planner] model: {c.stats['rooms_with_residents']} occupied rooms -> {c.G} groups, "
        f"{c.J} sites ({c.stats['sites_pruned']} pruned), {c.stats['usable_pairs']} pairs")
    if p.pure_cover and c.uncapacitated and c.G > 0:
        return _solve_pure(p, c, start, t_all, timings, say, budget_checked)
    if (p.lagrangian and start is None and p.objective == "cover-all" and p.solver == "highs"
            and (c.m < 2).all() and c.G > 0):
        t = time.perf_counter()
        cols = assignment_columns(c)
        if len(cols[0]) >= LAGRANGE_MIN_COLUMNS:   # the path needs the assignment columns only
            timings["build_s"] = time.perf_counter() - t
            sol = _solve_lagrangian(p, c, cols, t_all, timings, dict(c.stats), say)
            if sol is not None:
                return sol
            say("[planner] the Lagrangian start did not give a plan: back to the LP relaxation")
        del cols
    t = time.perf_counter()
    ar = build_arrays(c)
    timings["build_s"] = time.perf_counter() - t
    stats: dict[str, Any] = dict(c.stats)
    stats.update(variables=int(ar.A.shape[1]), rows=int(ar.A.shape[0]), nonzeros=int(ar.A.nnz),
                 binaries=int(ar.integer.sum()))
    # ---- start: given, or LP-guided rounding + local search, or greedy
    x0: np.ndarray | None = None
    start_vec = None
    start_fixed = None
    lp_run = None
    lp_bound = None
    highs_s = 0.0
    rounded = None
    t = time.perf_counter()
    if start is not None:
        x0 = np.maximum(np.isin(c.site_ids, [str(s) for s in start]).astype(float), c.fixed1)
    elif p.use_heuristic and c.G > 0:
        from planner.heuristic import greedy_compiled, improve_plan

        guide = None
        if p.lp_guide:
            tl = time.perf_counter()
            # the LP is the bound and the guide: it may take up to LP_SHARE of the time limit
            lp_limit = max(5.0, LP_SHARE * p.time_limit_s - (time.perf_counter() - t_all))
            lp = None
            if p.lp_colgen and ar.ny >= COLGEN_MIN_COLUMNS and p.solver == "highs":
                lp = _lp_colgen(c, ar, lp_limit, p.threads, p.msg)
                stats["lp_colgen"] = getattr(lp, "colgen", None)
                highs_s += lp.seconds
                if lp.status == "infeasible":   # artificials left: let the full LP decide
                    stats["lp_colgen_fallback"] = True
                    lp = None
            if lp is None:
                lp = _solve_highspy(ar, max(5.0, LP_SHARE * p.time_limit_s - (time.perf_counter() - t_all)),
                                    0.0, p.threads, None, p.msg, mip=False)
                highs_s += lp.seconds
            timings["lp_s"] = time.perf_counter() - tl
            stats["lp_status"] = lp.status
            if lp.status == "infeasible":
                if p.objective == "cover-all":
                    raise _infeasible(p, c, budget_checked)
            elif lp.values is not None:
                guide = np.clip(lp.values[:c.J], 0.0, 1.0)
                if lp.status == "optimal":
                    lp_bound = lp.objective
                    stats["lp_bound"] = lp_bound
                    lp_run = lp
            if lp.status != "optimal" and np.isfinite(lp.bound) and lp.values is not None and "lp_colgen" in stats:
                lp_bound = lp.bound                       # column generation stopped early: its best dual bound
                stats["lp_bound"] = lp_bound
            elif lp.status != "optimal" and lp.row_dual is not None:
                lp_bound = _dual_bound(ar, lp.row_dual)   # stopped early: still a valid bound
                stats["lp_bound"] = lp_bound
        if guide is not None and p.objective == "cover-all":
            x0 = np.maximum((guide > 1e-6).astype(float), c.fixed1)  # LP support: feasible by construction
            if c.budget is not None and c.cost @ x0 > c.budget + 1e-6:
                x0 = greedy_compiled(c, guide=guide)
        else:
            x0 = greedy_compiled(c, guide=guide)
        timings["heuristic_s"] = time.perf_counter() - t
        if x0 is not None:  # local search: close sites whose people fit elsewhere (same coverage, less cost)
            t2 = time.perf_counter()
            v0, ar0, run0 = assign_fixed(c, p, x0, time_limit=max(_left(p, t_all, 5.0, p.time_limit_s / 4),
                                                                  p.time_limit_s / 6))
            t_assign = time.perf_counter() - t2
            highs_s += run0.seconds
            if v0 is not None:
                stats["rounded_cost"] = float(c.cost @ x0)
                rounded = (x0.copy(), v0, ar0, run0)          # a plan with its assignment: the fallback
                # stop closing sites in time for the plan's own assignment (about as long as this one)
                deadline = t_all + (1.0 - WALL_MARGIN) * p.time_limit_s - 2.0 * t_assign - 1.0
                x1 = improve_plan(c, x0, v0[ar0.ycol0:ar0.ycol0 + ar0.ny], ar0.yq, ar0.ys, guide,
                                  deadline=deadline)
                if np.array_equal(x1 > 0.5, x0 > 0.5):
                    start_fixed = rounded                      # nothing closed: keep this assignment
                x0 = x1
            timings["local_search_s"] = time.perf_counter() - t2
    timings.setdefault("heuristic_s", time.perf_counter() - t)
    if x0 is not None:
        t = time.perf_counter()
        if start_fixed is not None:
            v0, ar0, run0 = start_fixed[1], start_fixed[2], start_fixed[3]
        else:
            v0, ar0, run0 = assign_fixed(c, p, x0, time_limit=max(_left(p, t_all, 5.0, p.time_limit_s / 4),
                                                                  p.time_limit_s / 6))
            highs_s += run0.seconds
            if v0 is None and rounded is not None:           # the improved plan's assignment failed in time:
                x0 = rounded[0]                              # keep the rounded plan and its assignment
                v0, ar0, run0 = rounded[1], rounded[2], rounded[3]
                stats["local_search_reverted"] = True
        timings["start_assign_s"] = time.perf_counter() - t
        if v0 is not None:
            start_fixed = (x0.copy(), v0, ar0, run0)
            start_vec = full_vector(c, ar, ar0, v0)
            stats["heuristic_cost"] = float(c.cost @ x0)
            stats["heuristic_sites"] = int(x0.sum())
            stats["heuristic_objective"] = _objective_value(c, ar, start_vec)
            say(f"[planner] start plan: {int(x0.sum())} sites, cost {c.cost @ x0:,.0f}, "
                f"objective {stats['heuristic_objective']:,.1f} ({time.perf_counter() - t_all:.1f} s so far)")
    # ---- MIP (skipped when the start is already proved within the gap by the LP bound)
    remaining = _left(p, t_all, 1.0, INF)
    t = time.perf_counter()
    start_obj = float(ar.c @ start_vec) if start_vec is not None else INF
    pulp_build = 0.0
    if (start_vec is not None and lp_bound is not None
            and start_obj - lp_bound <= p.mip_gap * max(abs(start_obj), 1e-9)):
        run = _Run(start_vec, "optimal", start_obj, lp_bound, (start_obj - lp_bound) / max(abs(start_obj), 1e-9),
                   0.0, "HiGHS", _highs_version())
        stats["mip_skipped"] = True
        say("[planner] the start plan is within the gap of the LP bound: no branching needed")
    elif start_vec is not None and lp_run is None and stats.get("lp_status") == "time limit":
        # the LP relaxation did not finish within its share of the time: the MIP's root (the same
        # LP, with cuts) cannot finish in the rest either, and HiGHS overruns its limit there
        # (measured 3x at 30,000 rooms). Keep the start plan and the bound from the LP's duals.
        run = _Run(start_vec, "time limit", start_obj, lp_bound if lp_bound is not None else -INF, INF,
                   0.0, "HiGHS", _highs_version())
        stats["mip_skipped"] = True
        say("[planner] the LP relaxation did not finish in time: the start plan is kept, no branching")
    else:
        if lp_run is not None and p.lazy_tighten and not p.tighten:
            ar, lp2 = _lazy_tighten(c, p, ar, lp_run, t_all, timings)
            highs_s += timings.get("lazy_tighten_highs_s", 0.0)
            if lp2 is not lp_run:
                lp_bound = max(lp_bound, lp2.objective) if lp_bound is not None else lp2.objective
                stats["lp_bound_tightened"] = lp2.objective
            stats.update(rows=int(ar.A.shape[0]), nonzeros=int(ar.A.nnz),
                         tighten_rows=int(ar.rows_by_kind.get("tighten", 0)))
            remaining = _left(p, t_all, 1.0, INF)
        say(f"[planner] solving {p.objective}: {ar.A.shape[1]} variables, {ar.A.shape[0]} rows, "
            f"{ar.A.nnz} non-zeros, time limit {remaining:.0f} s, gap {p.mip_gap:.1%}")
        run, pulp_build = _run(ar, p, max(1.0, remaining - WALL_MARGIN * p.time_limit_s),
                               start_vec if p.mip_start else None)
        highs_s += run.seconds
        if run.values is not None and start_vec is not None and float(ar.c @ start_vec) < run.objective - 1e-9:
            run.values, run.objective = start_vec, float(ar.c @ start_vec)  # ours was better
    timings["mip_s"] = time.perf_counter() - t
    if pulp_build:
        timings["pulp_build_s"] = pulp_build
    values = run.values
    if values is None and start_vec is not None and run.status != "infeasible":
        values = start_vec  # the solver found nothing better within the limit
    if lp_bound is not None and np.isfinite(lp_bound):
        run.bound = max(run.bound, lp_bound) if np.isfinite(run.bound) else lp_bound
    if values is None:
        if run.status == "infeasible":
            raise _infeasible(p, c, budget_checked)
        raise SolverError(f"the solver returned no plan (status: {run.status}); "
                          f"raise the time limit (now {p.time_limit_s:.0f} s) or try --solver cbc")
    primary = dict(objective=run.objective, bound=run.bound, gap=run.gap,
                   status=run.status)
    x = (values[:c.J] > 0.5).astype(float)
    # ---- max-cover second stage: least cost at the coverage found
    if p.objective == "max-cover" and p.lexicographic and c.G > 0:
        cover = _coverage(c, ar, values)
        remaining = _left(p, t_all, 1.0, INF)
        t = time.perf_counter()
        ar2 = build_arrays(c, stage2=True, cover_at_least=cover - 1e-6)
        v2 = np.asarray(values, dtype=float).copy()
        run2, _ = _run(ar2, p, min(remaining, max(5.0, 0.1 * p.time_limit_s)), v2)
        highs_s += run2.seconds
        timings["stage2_s"] = time.perf_counter() - t
        if run2.values is not None and (c.cost @ (run2.values[:c.J] > 0.5)) <= c.cost @ x + 1e-6:
            x = (run2.values[:c.J] > 0.5).astype(float)
        stats["stage2"] = dict(status=run2.status, cost=float(c.cost @ x), bound=run2.bound, gap=run2.gap)
    # ---- whole persons
    t = time.perf_counter()
    if start_fixed is not None and np.array_equal(start_fixed[0] > 0.5, x > 0.5):
        vf, arf, runf = start_fixed[1], start_fixed[2], start_fixed[3]  # the start's assignment, reused
    else:
        vf, arf, runf = assign_fixed(c, p, x, time_limit=max(10.0, p.time_limit_s / 2))
        highs_s += runf.seconds
    timings["assign_s"] = time.perf_counter() - t
    stats["highs_s"] = round(highs_s, 3)
    if vf is None:
        raise SolverError(f"the final whole-person assignment failed (status {runf.status}); this is a bug, "
                          "please report it with the station files")
    return _finish(c, p, x, vf, arf, run, primary, stats, timings, t_all, say)


def capacity_bound(c: Compiled) -> float:
    """A lower bound on the cost of every cover-all plan of `c` (currency), in O(pairs).

    In scenario s every group's residents need a place, and site j can hold at most
    h_js = min(capacity, the residents in its reach, its own residents + what its door admits
    from the earliest arrival bin on); so any plan's sites satisfy sum_j h_js x_j >= D_s.
    The cheapest fractional x with that one row (a knapsack LP: sites by cost per place,
    fixed sites in) bounds every plan; the bound is the largest over the scenarios.
    Where capacity drives the cost (Station Unity) it equals the LP relaxation's bound;
    -inf when it cannot be formed.
    """
    return capacity_knapsack(c)[0]


def capacity_knapsack(c: Compiled) -> tuple[float, int, float]:
    """The knapsack of `capacity_bound`: (bound in currency, its scenario index, the price per
    place of its last, fractional site in currency per person: the knapsack LP's dual; -1 and 0
    when no scenario gives a bound)."""
    from planner.lagrange import site_limits

    J, G = c.J, c.G
    if J == 0 or G == 0 or not len(c.qj):
        return -math.inf, -1, 0.0
    D = c.D.astype(float)
    everyone = [np.arange(G)]
    h = np.column_stack([site_limits(c, everyone, s).toarray()[0] for s in range(D.shape[1])])   # (J, S)
    fixed = np.asarray(c.fixed1, bool)
    cost = c.cost.astype(float)
    best, best_s, best_p = -math.inf, -1, 0.0
    for s in range(D.shape[1]):
        need = float(D[:, s].sum()) - float(h[fixed, s].sum())
        base = float(cost[fixed].sum())
        free = np.flatnonzero(~fixed & (h[:, s] > 0))
        if need <= 0:
            if base > best:
                best, best_s, best_p = base, s, 0.0
            continue
        order = free[np.argsort(cost[free] / h[free, s], kind="stable")]
        cum = np.cumsum(h[order, s])
        k = int(np.searchsorted(cum, need))
        if k >= len(order):
            continue                     # the row cannot be met: no bound from this scenario
        before = float(cum[k - 1]) if k else 0.0
        price = cost[order[k]] / h[order[k], s]
        val = base + float(cost[order[:k]].sum()) + (need - before) * price
        if val > best:
            best, best_s, best_p = val, s, float(price)
    return best, best_s, best_p


def _finish(c: Compiled, p: Problem, x: np.ndarray, vf: np.ndarray, arf: Arrays, run: _Run,
            primary: dict[str, Any], stats: dict[str, Any], timings: dict[str, float], t_all: float,
            say: Any, knapsack: float | None = None) -> Solution:
    """Rooms from groups, objective / bound / gap on the primary scale, own verification.

    `knapsack`: `capacity_bound(c)` when the caller has it already (currency; else computed here)."""
    t = time.perf_counter()
    sol = _make_solution(c, p, x, vf, arf)
    timings["solution_s"] = time.perf_counter() - t
    # objective on the primary scale (cost for cover-all; weighted persons for max-cover)
    if p.objective == "cover-all":
        objective = float(c.cost @ x)
        bound = float(run.bound) if np.isfinite(run.bound) else float("nan")
        # cheap and often as strong as the LP (needed where the LP did not finish)
        cb = capacity_bound(c) if knapsack is None else knapsack
        if np.isfinite(cb) and not (bound >= cb):
            bound = cb
            stats["bound_from"] = "capacity knapsack"
        bound = min(bound, objective)
        if np.isfinite(bound) and (c.cost >= 0).all():
            bound = max(bound, 0.0)   # costs are never negative: 0 is a bound (a dual bound may be weaker)
    else:
        objective = float(_coverage(c, arf, vf))
        bound = float(-run.bound) if np.isfinite(run.bound) else float("nan")
        bound = max(bound, objective)
    gap = abs(objective - bound) / max(abs(objective), 1e-9) if np.isfinite(bound) else float("inf")
    if objective == 0 and bound == 0:
        gap = 0.0
    status = primary["status"]
    if status == "optimal" and gap > p.mip_gap + 1e-6:
        status = "optimal"  # within solver tolerance; keep the solver's word but report the gap
    if status != "optimal":
        status = f"{status}: feasible"
    timings["total_s"] = time.perf_counter() - t_all
    stats.update({k: round(v, 3) for k, v in timings.items()})
    stats["cost"] = float(c.cost @ x)
    stats["nodes"] = run.nodes
    # JSON-safe: an unknown bound or gap is None, never NaN or infinity
    sol.solver = dict(name=run.name, version=run.version, status=status, objective=objective,
                      bound=bound if np.isfinite(bound) else None, gap=gap if np.isfinite(gap) else None,
                      seconds=round(time.perf_counter() - t_all, 3))
    sol.stats = stats
    t = time.perf_counter()
    breaches = verify(p, sol)
    stats["verify_s"] = round(time.perf_counter() - t, 3)
    if breaches:
        raise SolverError("the plan failed its own check: " + "; ".join(breaches[:5]))
    say(f"[planner] {status}: cost {stats['cost']:,.0f}, objective {objective:,.1f}, bound {bound:,.1f}, "
        f"gap {gap:.2%}, {sol.solver['seconds']:.1f} s")
    return sol


def _cover_start(c: Compiled, cm: CoverModel, x0: np.ndarray) -> np.ndarray:
    """A full column vector of the pure cover model from site choices `x0` (z and u filled in)."""
    ar = cm.ar
    v = np.zeros(ar.A.shape[1])
    v[:c.J] = x0
    if ar.nz:
        cnt = np.bincount(c.rg, weights=x0[c.rj], minlength=c.G)
        v[c.J:c.J + ar.nz] = (cnt[ar.z_groups] >= c.m[ar.z_groups] - 1e-9).astype(float)
    nu = ar.A.shape[1] - cm.ucol0
    if nu:
        u = np.minimum(np.asarray(cm.A_cover @ x0).ravel(), 1.0)
        v[cm.ucol0:] = u
        k = ar.rows_by_kind.get("cover-z", 0)
        if k:
            rows = ar.A.tocsr()[cm.A_cover.shape[0]:cm.A_cover.shape[0] + k]
            ucols = rows[:, cm.ucol0:].tocoo()
            zcols = rows[:, c.J:c.J + ar.nz].tocoo()
            zval = np.zeros(k)
            zval[zcols.row] = v[c.J + zcols.col]
            v[cm.ucol0 + ucols.col] = np.minimum(v[cm.ucol0 + ucols.col], zval[ucols.row])
    return v


def _solve_pure(p: Problem, c: Compiled, start: list[str] | None, t_all: float, timings: dict[str, float],
                say: Any, budget_checked: Solution | None) -> Solution:
    """Neither capacity nor door queue can bind: the pure set-cover / max-cover model on the sites
    (after removing dominated rows and sites), then everyone to the nearest chosen site."""
    t = time.perf_counter()
    cm = build_cover_model(c, reduce=p.cover_reduce)
    ar = cm.ar
    timings["build_s"] = time.perf_counter() - t
    stats: dict[str, Any] = dict(c.stats)
    stats.update(variables=int(ar.A.shape[1]), rows=int(ar.A.shape[0]), nonzeros=int(ar.A.nnz),
                 binaries=int(ar.integer.sum()), model="pure cover", **cm.stats)
    say(f"[planner] no capacity or door queue can bind: pure {p.objective} model, {cm.stats['cover_rows']} "
        f"cover rows (of {cm.stats['cover_rows_in']}), {cm.stats['sites_active']} sites (of {c.J})")
    start_vec = None
    if start is not None:
        x0 = np.maximum(np.isin(c.site_ids, [str(s_) for s_ in start]).astype(float), c.fixed1)
        start_vec = _cover_start(c, cm, x0)
    t = time.perf_counter()
    highspy_ = not (p.solver == "cbc" or p.backend == "pulp")
    integral = _integral_objective(ar)
    pulp_build = 0.0
    defaults = dict(COVER_HIGHS_OPTIONS)
    if integral and highspy_:     # whole-unit objective: bound > incumbent - 1 proves the incumbent
        defaults["mip_abs_gap"] = 1.0 - 1e-6
    big = int((ar.hi[:c.J] > 0.5).sum()) >= COVER_SEARCH_MIN_SITES
    cover_rows = _cover_all_arrays(ar, c.J) if highspy_ and p.cover_search and big and p.objective == "cover-all" \
        else None
    if highspy_ and p.cover_search and p.objective == "max-cover" and ar.nz == 0 and big:
        run, highs = _cover_search(p, c, ar, start_vec if p.mip_start else None, t_all, stats)
    elif cover_rows is not None:
        run, highs = _cover_all_search(p, c, ar, cover_rows, start_vec if p.mip_start else None, t_all,
                                       {**defaults, **p.highs_options}, stats)
    else:
        run, pulp_build = _run(ar, p, _left(p, t_all, 1.0, INF), start_vec if p.mip_start else None,
                               defaults=defaults)
        highs = run.seconds
    if integral:
        run = _integral_run(run)
    stats["integral_objective"] = integral
    timings["mip_s"] = time.perf_counter() - t
    if pulp_build:
        timings["pulp_build_s"] = pulp_build
    values = run.values
    if values is None and run.status != "infeasible":
        if start_vec is not None:
            values = start_vec
        elif p.objective == "cover-all" and c.budget is None:
            values = _cover_start(c, cm, np.maximum(ar.hi[:c.J], c.fixed1))  # every useful site: feasible
        else:
            values = _cover_start(c, cm, c.fixed1.astype(float))
    if values is None:
        raise _infeasible(p, c, budget_checked)
    primary = dict(objective=run.objective, bound=run.bound, gap=run.gap, status=run.status)
    x = (values[:c.J] > 0.5).astype(float)
    if p.objective == "max-cover" and p.lexicographic:
        v1 = _cover_start(c, cm, x)
        cover = float(cm.row_weight @ v1[cm.ucol0:])
        remaining = _left(p, t_all, 1.0, INF)
        t = time.perf_counter()
        cm2 = build_cover_model(c, reduce=p.cover_reduce, stage2=True, cover_at_least=cover - 1e-6)
        v2 = _cover_start(c, cm2, x)
        run2, _ = _run(cm2.ar, p, min(remaining, max(5.0, 0.1 * p.time_limit_s)), v2, defaults=COVER_HIGHS_OPTIONS)
        timings["stage2_s"] = time.perf_counter() - t
        highs += run2.seconds
        if run2.values is not None and (c.cost @ (run2.values[:c.J] > 0.5)) <= c.cost @ x + 1e-6:
            x2 = (run2.values[:c.J] > 0.5).astype(float)
            if float(cm.row_weight @ _cover_start(c, cm, x2)[cm.ucol0:]) >= cover - 1e-6:
                x = x2
        stats["stage2"] = dict(status=run2.status, cost=float(c.cost @ x), bound=run2.bound, gap=run2.gap)
    t = time.perf_counter()
    vf, arf = assign_nearest(c, x)
    timings["assign_s"] = time.perf_counter() - t
    stats["highs_s"] = round(highs, 3)
    return _finish(c, p, x, vf, arf, run, primary, stats, timings, t_all, say)


def _solve_lagrangian(p: Problem, c: Compiled, cols: tuple[np.ndarray, np.ndarray, np.ndarray], t_all: float,
                      timings: dict[str, float], stats: dict[str, Any], say: Any) -> Solution | None:
    """Cover-all on a model too large for one LP relaxation (see `planner.lagrange`).

    1. multipliers: the capacity knapsack's price per place; the sites whose Lagrangian problem
       pays (the knapsack's sites, adjusted for reach and door queues) are the first plan;
    2. a maximum flow finds whom they cannot shelter; their price rises by `LAGRANGE_BUMP` of the
       knapsack's price and the paying sites are taken again, while that helps; a small MIP over
       the last few and the closed sites in their reach adds sites for them (union: feasible);
    3. the bound: the capacity knapsack and the site LP with the Hall rows of the flows' minimum cuts;
    4. while the gap is not met, a local search by flows closes the least used sites.
    Measured at 30,000 rooms (was: LP relaxation by column generation, unfinished after 239 s, plan
    6.7 % above its bound): see docs/performance.md. Returns None when no plan came out (the caller
    falls back to the LP path).
    """
    from planner.lagrange import (close_sites, cut_bound, flow_vector, hall_cuts, lagrangian, repair_plan,
                                  residual_demand, shelter_flow, site_problems, start_prices)

    T = p.time_limit_s
    t = time.perf_counter()
    sp_ = site_problems(c, *cols)
    S = len(c.scen)
    # the model this path works on: sites, assignment columns, demand and capacity rows (the door
    # queues live in the flow networks and the site problems)
    stats.update(variables=int(c.J + len(cols[0])), rows=int(sp_.R + c.J * S), nonzeros=int(2 * len(cols[0]) + c.J * S),
                 binaries=int(c.J), model="lagrangian")
    knapsack = capacity_knapsack(c)
    cb = knapsack[0]
    lag = lagrangian(sp_, start_prices(c, sp_, knapsack))
    timings["lagrange_s"] = time.perf_counter() - t
    say(f"[planner] Lagrangian relaxation: bound {max(lag.bound, cb):,.0f}, {int(lag.open.sum())} sites pay "
        f"({time.perf_counter() - t_all:.1f} s so far)")
    highs_s, flow_s = 0.0, 0.0
    x = np.maximum(lag.open.astype(float), c.fixed1)
    t = time.perf_counter()
    cuts: list = []                    # minimum cuts of the flows: rows for the bound
    Y = shelter_flow(c, x, cuts)
    res = residual_demand(c, x, Y)
    flow_s += time.perf_counter() - t
    stats["lagrange_first_sites"] = int(x.sum())
    stats["lagrange_residual_persons"] = int(res.sum())
    # residents the paying sites cannot shelter: raise their price a little so that the sites around
    # them pay too (whole sites, chosen by what they earn from everyone in reach: room is made by
    # moving others), take the flow again, a few rounds; what is left goes to the repair MIP
    u1 = lag.u.copy()
    price = max(float(lag.u.max(initial=0.0)), 1.0)
    rounds = 0
    while (res.sum() > LAGRANGE_REPAIR_PERSONS and LAGRANGE_BUMP > 0 and rounds < LAGRANGE_BUMP_ROUNDS
           and time.perf_counter() - t_all + flow_s / max(rounds + 1, 1) < LAGRANGE_BUMP_SHARE * T):
        rounds += 1
        u1[res[sp_.row_g, sp_.row_s] > 0] += LAGRANGE_BUMP * price
        x1 = np.maximum(lagrangian(sp_, u1).open.astype(float), c.fixed1)
        if np.array_equal(x1 > 0.5, x > 0.5):
            continue
        t = time.perf_counter()
        Y1 = shelter_flow(c, x1, cuts)
        res1 = residual_demand(c, x1, Y1)
        flow_s += time.perf_counter() - t
        say(f"[planner] {int(res.sum())} persons left without a place by {int(x.sum())} sites; with their price "
            f"raised {int(x1.sum())} sites leave {int(res1.sum())}")
        if res1.sum() >= res.sum():
            break
        x, Y, res = x1, Y1, res1
    stats["lagrange_bump_rounds"] = rounds
    stats["lagrange_bump_sites"] = int(x.sum())
    stats["lagrange_bump_residual_persons"] = int(res.sum())
    if res.sum() > 0:
        t = time.perf_counter()
        x2 = repair_plan(c, x, res, p.threads, time_limit=max(5.0, LAGRANGE_REPAIR_SHARE * T))
        timings["repair_s"] = time.perf_counter() - t
        highs_s += timings["repair_s"]
        if x2 is None:
            return None
        x = x2
        t = time.perf_counter()
        Y = shelter_flow(c, x)
        res = residual_demand(c, x, Y)
        flow_s += time.perf_counter() - t
        if res.sum() > 0:
            return None
    say(f"[planner] start plan: {int(x.sum())} sites, cost {c.cost @ x:,.0f} ({time.perf_counter() - t_all:.1f} s so far)")
    stats["heuristic_cost"] = float(c.cost @ x)
    stats["heuristic_sites"] = int(x.sum())
    if c.budget is not None and c.cost @ x > c.budget + 1e-6:
        return None
    # ---- the bound: the capacity knapsack, strengthened by the Hall rows of the flows' minimum cuts
    t = time.perf_counter()
    bound = max(lag.bound, cb)
    if cuts:
        cbd = cut_bound(c, hall_cuts(c, cuts), p.threads, time_limit=max(5.0, 0.05 * T))
        stats["cut_bound"] = cbd
        bound = max(bound, cbd)
    timings["cut_bound_s"] = time.perf_counter() - t
    highs_s += timings["cut_bound_s"]          # the cut LP (HiGHS) with its rows: counted once, as HiGHS time
    # ---- local search by flows (only while the gap is not met): close the least used sites while everyone fits
    t = time.perf_counter()
    deadline = min(t_all + (1.0 - WALL_MARGIN) * T - 0.05 * T, time.perf_counter() + LAGRANGE_LOCAL_SEARCH_SHARE * T)
    used = np.zeros(c.J)
    np.add.at(used, c.qj, Y.sum(axis=1))
    util = used / np.maximum(c.cap, 1) / max(len(c.scen), 1)
    cand = np.flatnonzero((x > 0.5) & ~c.fixed1 & (c.cost > 0))
    cand = cand[np.lexsort((-c.cost[cand], util[cand]))]
    if float(c.cost @ x) - bound > p.mip_gap * float(c.cost @ x):
        x, Y, ls = close_sites(c, x, Y, cand, deadline)
        stats["local_search"] = ls
    flow_s += time.perf_counter() - t
    timings["local_search_s"] = time.perf_counter() - t
    vf, arf = flow_vector(c, x, Y)
    cost = float(c.cost @ x)
    timings["flow_s"] = flow_s
    gap = (cost - bound) / max(abs(cost), 1e-9)
    status = "optimal" if gap <= p.mip_gap + 1e-12 else "time limit"
    stats["lp_status"] = "lagrangian"
    stats["lp_bound"] = bound
    stats["mip_skipped"] = True
    stats["highs_s"] = round(highs_s, 3)
    stats["solver_s"] = round(highs_s + flow_s + timings["lagrange_s"], 3)
    run = _Run(vf, status, cost, bound, gap, highs_s, "HiGHS", _highs_version())
    primary = dict(objective=cost, bound=bound, gap=gap, status=status)
    return _finish(c, p, x, vf, arf, run, primary, stats, timings, t_all, say, knapsack=cb)


def _lp_colgen(c: Compiled, ar: Arrays, time_limit: float, threads: int, msg: bool, k0: int = 8,
               k_add: int = 4, rebuild: bool = False) -> _Run:
    """The LP relaxation of `ar` by column generation on the assignment columns (seconds; objective units).

    Most assignment columns are zero in the LP optimum (people go to a few cheap sites near them),
    and HiGHS's simplex on all of them is slow (10,000 rooms: 1.4 M columns, not finished in 200 s).
    Start from the `k0` cheapest sites per group and scenario (cost per place, then walk), solve,
    price every left-out column with the row duals (d = c - A'pi), add the `k_add` most negative per
    demand row, re-solve from the last basis (columns added to the same HiGHS instance), until no
    column prices out. Cover-all demand rows get an artificial column at a high cost so that every
    restricted LP is feasible. Every round's duals give a valid bound on the full LP (`_dual_bound`),
    so a run stopped by the time limit still reports one. Returns a run over `ar`'s columns.
    """
    import highspy

    t0 = time.perf_counter()
    S = len(c.scen)
    n = ar.A.shape[1]
    yc = np.arange(ar.ycol0, ar.ycol0 + ar.ny)
    yj = c.qj[ar.yq]
    # demand row of each y column (rows of kind "demand" come first, one per (g, s) with D > 0)
    gs_key = c.qg[ar.yq].astype(np.int64) * S + ar.ys
    _, drow = np.unique(gs_key, return_inverse=True)
    drow = np.asarray(drow).ravel()
    n_dem = int(drow.max()) + 1 if len(drow) else 0
    percap = c.cost[yj] / np.maximum(c.cap[yj], 1) + 1e-3 * _group_walk(c)[ar.yq]
    o = np.lexsort((percap, drow))
    start = np.r_[0, np.flatnonzero(np.diff(drow[o])) + 1]
    rank = np.arange(len(o)) - np.repeat(start, np.diff(np.r_[start, len(o)]))
    in_set = np.zeros(n, bool)
    in_set[:ar.ycol0] = True
    in_set[ar.scol0:] = True
    in_set[yc[o[rank < k0]]] = True
    o = np.lexsort((percap, _group_walk(c)[ar.yq], drow))        # and the k0 nearest (door queues favour them)
    in_set[yc[o[rank < k0]]] = True
    cover_all = c.objective == "cover-all"
    # cost of an unserved person: above what opening any site for one person costs, so that
    # artificials are used only where the restricted columns cannot serve the row
    big = 10.0 * float(np.max(np.abs(ar.c[:ar.nx]), initial=1.0)) + 1.0
    A = ar.A.tocsc()
    n_art = n_dem if cover_all else 0
    art = sp.csc_matrix((np.ones(n_art), (np.arange(n_art), np.arange(n_art))), shape=(A.shape[0], n_art))

    def fresh(cols: np.ndarray) -> Any:
        """A HiGHS instance holding the restricted LP on `cols` (+ artificials), presolved from scratch."""
        sub = sp.hstack([A[:, cols], art]).tocsc() if n_art else A[:, cols]
        h = new_highs(msg)
        h.setOptionValue("output_flag", bool(msg))
        h.setOptionValue("threads", int(threads))
        h.setOptionValue("solver", "simplex")
        h.passModel(highs_lp(sub, np.r_[ar.c[cols], np.full(n_art, big)], np.r_[ar.lo[cols], np.zeros(n_art)],
                             np.r_[ar.hi[cols], np.full(n_art, np.inf)], ar.row_lo, ar.row_hi))
        return h

    cols = np.flatnonzero(in_set)
    h = fresh(cols)
    t_h = time.perf_counter()           # HiGHS's clock starts with the instance
    hcol = np.r_[cols, np.full(n_art, -1)].astype(np.int64)   # ar column of each HiGHS column (-1: artificial)
    best = -INF
    status, obj, values, duals = "time limit", INF, None, None
    rounds = 0
    AT = A.T.tocsr()
    tol = 1e-7 * max(1.0, float(np.abs(ar.c).max(initial=1.0)))
    while True:
        left = time_limit - (time.perf_counter() - t0)
        if left <= 0.5:
            break
        # HiGHS's clock runs over all runs of one instance
        h.setOptionValue("time_limit", float(max(0.5, left + (time.perf_counter() - t_h))))
        h.run()
        rounds += 1
        key = str(h.getModelStatus()).split(".")[-1]
        sol_ = h.getSolution()
        if _CG_DEBUG:
            print("cg", rounds, round(time.perf_counter() - t0, 1), key, h.getInfo().objective_function_value,
                  len(hcol), getattr(sol_, "dual_valid", None), flush=True)
        if key != "kOptimal" or not getattr(sol_, "dual_valid", False):
            status = _STATUS.get(key, "time limit")
            break
        pi = np.asarray(sol_.row_dual, dtype=float)
        cv = np.asarray(sol_.col_value, dtype=float)
        duals = pi
        d = ar.c - AT @ pi
        best = max(best, _dual_bound(ar, pi))
        obj = float(h.getInfo().objective_function_value)
        if _CG_DEBUG:
            print("cg bound", best, flush=True)
        real = hcol >= 0
        values = np.zeros(n)
        values[hcol[real]] = cv[real]
        art_sum = float(cv[~real].sum())
        neg = (~in_set[yc]) & (d[yc] < -tol)
        if not neg.any():
            status = "optimal" if art_sum <= 1e-6 else "infeasible"
            break
        ni = np.flatnonzero(neg)
        oo = ni[np.lexsort((d[yc[ni]], drow[ni]))]
        st_ = np.r_[0, np.flatnonzero(np.diff(drow[oo])) + 1]
        rk = np.arange(len(oo)) - np.repeat(st_, np.diff(np.r_[st_, len(oo)]))
        new = yc[oo[rk < k_add]]
        in_set[new] = True
        if rebuild:   # large models: presolve the restricted LP again (a warm start on all rows is slower)
            cols = np.flatnonzero(in_set)
            h = fresh(cols)
            t_h = time.perf_counter()
            hcol = np.r_[cols, np.full(n_art, -1)].astype(np.int64)
        else:         # columns added to the same instance: HiGHS continues from the last basis
            blk = A[:, new]
            h.addCols(len(new), ar.c[new], ar.lo[new], ar.hi[new], int(blk.nnz), blk.indptr[:-1].astype(np.int32),
                      blk.indices.astype(np.int32), blk.data.astype(float))
            hcol = np.r_[hcol, new]
    bound = best
    if status == "optimal":
        bound = max(best, obj) if np.isfinite(best) else obj
    run = _Run(values, status, obj if status == "optimal" else INF, bound, 0.0, time.perf_counter() - t0, "HiGHS",
               _highs_version(), 0, duals)
    run.colgen = dict(rounds=rounds, columns=int(in_set[yc].sum()), of=int(ar.ny))  # type: ignore[attr-defined]
    return run


_CG_DEBUG = False
LAGRANGE_MIN_COLUMNS = 3_000_000
"""Assignment columns from which a cover-all model is solved through the Lagrangian relaxation
(`Problem.lagrangian`): 10,000 rooms have 1.3 M (their LP finishes in about a minute), 30,000 rooms 7.3 M."""
LAGRANGE_REPAIR_SHARE = 0.15
LAGRANGE_BUMP = 0.005
"""Price raise per round (share of the knapsack's price per place) for the residents the Lagrangian
sites cannot shelter, before the repair MIP. Measured at 10,000 rooms: 0.02 -> plan within 0.04 % of
the bound, 0.1 -> 1.2 %, 1.0 -> 3.6 % (too many sites open that the local search cannot close)."""
LAGRANGE_BUMP_ROUNDS = 20
LAGRANGE_LOCAL_SEARCH_SHARE = 0.5
"""Share of the time limit for the local search by flows on the Lagrangian path (`close_sites`;
the one-site-at-a-time local search of the LP path closed 0 to 1 site in 130 s at 30,000 rooms;
by flows, 42 s took the plan from 1,059.1 M to 1,056.1 M, gap 2.17 % -> 1.89 %)."""
LAGRANGE_REPAIR_PERSONS = 20
"""At most this many persons left without a place go straight to the repair MIP (a handful of
sites; a price raise would open more: measured at 10,000 rooms 2 persons -> 2 sites, the MIP 1)."""
LAGRANGE_BUMP_SHARE = 0.4
"""The price raising stops starting new rounds after this share of the time limit."""
"""Share of the time limit for the small MIP that completes the Lagrangian plan."""
COLGEN_MIN_COLUMNS = 100_000
"""Assignment columns from which the LP relaxation is solved by column generation."""
LP_SHARE = 0.6
"""Share of the time limit the heuristic's LP relaxation may take (it gives the bound and the guide;
measured at 10,000 rooms: dual simplex needs about 120 s, at a third of 180 s it stopped early)."""
WALL_MARGIN = 0.03
"""Share of the time limit kept free after the MIP for the whole-person assignment and the checks."""


def _left(p: Problem, t_all: float, floor: float, cap: float) -> float:
    """Seconds a HiGHS run may take: at most `cap`, at most what is left of the time limit, at least `floor`."""
    return max(floor, min(cap, p.time_limit_s - (time.perf_counter() - t_all)))


def _lazy_tighten(c: Compiled, p: Problem, ar: Arrays, lp: _Run, t_all: float,
                  timings: dict[str, float]) -> tuple[Arrays, _Run]:
    """Add the rows y <= min(d, q) x that the LP solution violates, re-solve, a few rounds.

    Valid inequalities only (the capacity rows already make the model exact): they raise the
    LP bound where capacities are tight, at a fraction of the cost of writing them all.
    """
    mask = np.zeros(ar.ny, bool)
    ar0, lp0 = ar, lp
    t = time.perf_counter()
    yj = c.qj[ar.yq]
    for _ in range(4):
        if time.perf_counter() - t_all > p.time_limit_s / 3:
            break
        v = lp.values
        y = v[ar.ycol0:ar.ycol0 + ar.ny]
        x = v[:ar.nx]
        ub = ar.hi[ar.ycol0:ar.ycol0 + ar.ny]
        viol = (y > ub * x[yj] + 1e-6 * np.maximum(ub, 1.0)) & (ub < c.cap[yj] - 1e-9) & ~mask
        if not viol.any():
            break
        mask |= viol
        ar2 = build_arrays(c, tight_cols=mask)
        left = max(2.0, p.time_limit_s / 3 - (time.perf_counter() - t_all))
        lp2 = _solve_highspy(ar2, left, 0.0, p.threads, None, p.msg, mip=False)
        timings["lazy_tighten_highs_s"] = timings.get("lazy_tighten_highs_s", 0.0) + lp2.seconds
        if lp2.status != "optimal" or lp2.values is None:
            break
        ar, lp = ar2, lp2
    timings["lazy_tighten_s"] = time.perf_counter() - t
    # keep the rows only if they raised the bound noticeably: measured, a handful of rows that
    # do not move the bound can still change HiGHS's search for the worse (300 rooms: 4 s -> 10 s)
    if lp is not lp0 and lp.objective - lp0.objective <= 0.1 * p.mip_gap * max(abs(lp0.objective), 1e-9):
        return ar0, lp0
    return ar, lp


def _coverage(c: Compiled, ar: Arrays, v: np.ndarray) -> float:
    y = v[ar.ycol0:ar.ycol0 + ar.ny]
    return float((c.w[c.qg[ar.yq]] * ar.ymult) @ y)


def _objective_value(c: Compiled, ar: Arrays, v: np.ndarray) -> float:
    if c.objective == "cover-all":
        return float(c.cost @ (v[:c.J] > 0.5))
    return _coverage(c, ar, v)


def _split_to_rooms(c: Compiled, dem: pd.DataFrame, g: np.ndarray, s: np.ndarray, j: np.ndarray,
                    amt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split group flows (group g, scenario s, site j, persons amt) to the group's rooms, whole persons.

    Per (group, scenario) the rooms' residents and the flows are laid end to end on one line
    (persons); every elementary piece where a room's interval meets a flow's interval is one
    assignment row. Vectorised: all (group, scenario) lines are concatenated into one.
    Returns (room position in `c.room_group`, scenario, site, persons).
    """
    S = len(c.scen)
    rg = c.room_group.to_numpy().astype(np.int64)
    Dr = dem.reindex(c.room_group.index).to_numpy().astype(np.int64)        # (rooms, S)
    ri, si = np.nonzero(Dr > 0)
    rkey = rg[ri] * S + si
    o = np.lexsort((ri, rkey))                                              # member order within a key
    ri, si, rkey = ri[o], si[o], rkey[o]
    d = Dr[ri, si]
    RE = np.cumsum(d)
    RS = RE - d
    ukey, first = np.unique(rkey, return_index=True)
    fkey = g.astype(np.int64) * S + s
    o = np.lexsort((j, fkey))
    fkey, fj, famt = fkey[o], j[o], amt[o].astype(np.int64)
    kpos = np.searchsorted(ukey, fkey)
    base = RS[first][kpos]
    seg_start = np.r_[True, fkey[1:] != fkey[:-1]]
    cum = np.cumsum(famt)
    seg_off = np.r_[0, cum][np.flatnonzero(seg_start)][np.cumsum(seg_start) - 1]
    FE = base + cum - seg_off
    FS = FE - famt
    pts = np.unique(np.r_[RS, RE, FS, FE])
    a_, b_ = pts[:-1], pts[1:]
    rix = np.searchsorted(RE, a_, side="right")
    fix = np.searchsorted(FE, a_, side="right")
    ok = (rix < len(RE)) & (fix < len(FE))
    ok[ok] &= (RS[rix[ok]] <= a_[ok]) & (FS[fix[ok]] <= a_[ok])
    rix, fix, n = rix[ok], fix[ok], (b_ - a_)[ok]
    # neighbouring pieces of the same room and flow (cannot happen with distinct points, kept safe)
    return ri[rix], si[rix], fj[fix], n


def _make_solution(c: Compiled, p: Problem, x: np.ndarray, v: np.ndarray, ar: Arrays) -> Solution:
    """Split group assignments to rooms integrally and list who is unsheltered (with a category). Vectorised."""
    y = np.rint(v[ar.ycol0:ar.ycol0 + ar.ny]).astype(np.int64)
    nzy = np.flatnonzero(y > 0)
    g = c.qg[ar.yq[nzy]]
    j = c.qj[ar.yq[nzy]]
    s = ar.ys[nzy]
    amt = y[nzy]
    dem = p.demand.reindex(columns=c.scen).fillna(0).clip(lower=0).round().astype(np.int64)
    rpos, sc, jj, n = _split_to_rooms(c, dem, g, s, j, amt)
    room_ids = c.room_group.index.to_numpy()
    asg = pd.DataFrame({"room_id": room_ids[rpos].astype(object),
                        "scenario": np.asarray(c.scen, dtype=object)[sc] if len(sc) else np.array([], dtype=object),
                        "site_id": c.site_ids[jj].astype(object), "residents": n.astype(np.int64)})
    if len(asg):
        asg = asg.groupby(["room_id", "scenario", "site_id"], sort=False, as_index=False)["residents"].sum()
        wk = c.pairs[["room_id", "site_id", "walk_s"]]
        asg = asg.merge(wk, on=["room_id", "site_id"], how="left")
    else:
        asg["walk_s"] = np.zeros(0)
    asg = asg.sort_values(["scenario", "room_id", "site_id"]).reset_index(drop=True)
    # unsheltered
    shel = asg.groupby(["room_id", "scenario"])["residents"].sum()
    long = dem.stack()
    long.index.names = ["room_id", "scenario"]
    long = long[long > 0]
    rest = long - shel.reindex(long.index).fillna(0).astype(np.int64)
    rest = rest[rest > 0]
    chosen_mask = x > 0.5
    rest_rooms = rest.index.get_level_values(0).to_numpy()
    pr = c.pairs[c.pairs["room_id"].isin(set(rest_rooms))]
    open_site = np.isin(pr["site_id"].to_numpy(), c.site_ids[chosen_mask])
    some_closed = pd.Series(~open_site, index=pr["room_id"].to_numpy()).groupby(level=0).any()
    unreach = np.isin(rest_rooms, np.asarray(c.unreachable, dtype=object))
    closed = some_closed.reindex(rest_rooms).fillna(False).to_numpy(dtype=bool)
    reasons = np.where(unreach, "unreachable", np.where(closed, "over budget", "capacity"))
    uns = pd.DataFrame({"room_id": rest_rooms.astype(object),
                        "scenario": rest.index.get_level_values(1).to_numpy().astype(object),
                        "residents": rest.to_numpy().astype(np.int64), "reason": reasons.astype(object)})
    return Solution(chosen=sorted(c.site_ids[chosen_mask].tolist()), assignments=asg, unsheltered=uns,
                    solver={}, stats={})


# ==================================================================== verify
_MAX_BREACHES = 20
"""At most this many breaches of one kind are spelled out by `verify`."""


def verify(p: Problem, sol: Solution) -> list[str]:
    """Own check of a solution against the problem (not a substitute for `planner check`).

    Capacity (persons), fluid door queue replayed on the real walk times (seconds), reach,
    budget (currency), demand, backup. Returns plain-language breaches (empty = fine).
    Vectorised: the fluid queue at a door (rate r persons/s, arrivals sorted by walk time t_k
    with n_k persons) empties at max_k (t_k + (n_k + ... + n_last) / r), the closed form of
    the replay clock = max(clock, t_k) + n_k / r.
    """
    out: list[str] = []
    sites = p.sites
    chosen = set(sol.chosen)
    asg = sol.assignments
    bad = set(asg["site_id"]) - chosen
    if bad:
        out.append(f"assignments to unconverted sites {sorted(bad)[:5]}")
    if p.protected & chosen - set(sites.index[sites["existing"]]):
        out.append(f"protected rooms converted: {sorted(p.protected & chosen)[:5]}")
    forced = set(sites.index[sites["existing"] | sites["required"]]) - p.protected
    if forced - chosen:
        out.append(f"existing/required sites not chosen: {sorted(forced - chosen)[:5]}")
    if (asg["walk_s"].isna() | (asg["walk_s"] > p.reach_s + 1e-6)).any():
        out.append("an assignment walks beyond the reach time")
    dem = p.demand
    got = asg.groupby(["room_id", "scenario"])["residents"].sum()
    if len(got):
        long = dem.stack()
        have = long.reindex(got.index).fillna(0).to_numpy()
        over = np.flatnonzero(got.to_numpy() > have)
        for k in over[:_MAX_BREACHES]:
            r, s_ = got.index[k]
            out.append(f"room {r} ({s_}) sends {got.iloc[k]} > its {have[k]:.0f} residents")
    load = asg.groupby(["site_id", "scenario"])["residents"].sum()
    if len(load):
        capv = sites["capacity"].reindex(load.index.get_level_values(0)).to_numpy()
        over = np.flatnonzero(load.to_numpy() > capv)
        for k in over[:_MAX_BREACHES]:
            j, s_ = load.index[k]
            out.append(f"site {j} ({s_}) holds {load.iloc[k]} > capacity {capv[k]}")
    if p.door_queue and len(asg):
        q = asg[~((asg["room_id"] == asg["site_id"]) & (asg["walk_s"] <= 1e-9))]
        r = sites["door_flow_pps"].reindex(q["site_id"]).to_numpy(dtype=float)
        fin = np.isfinite(r)
        q, r = q[fin], r[fin]
        if len(q):
            key = pd.factorize(pd.MultiIndex.from_arrays([q["site_id"].to_numpy(), q["scenario"].to_numpy()]))[0]
            tt = q["walk_s"].to_numpy(dtype=float)
            nn = q["residents"].to_numpy(dtype=float)
            o = np.lexsort((-tt, key))                       # per (site, scenario), latest arrival first
            key, tt, nn, r = key[o], tt[o], nn[o], r[o]
            start = np.r_[True, key[1:] != key[:-1]]
            seg = np.cumsum(start) - 1
            cum = np.cumsum(nn)
            suffix = cum - np.r_[0.0, cum][np.flatnonzero(start)][seg]   # persons arriving at or after t_k
            end = tt + suffix / np.maximum(r, 1e-12)
            clock = np.full(seg[-1] + 1, -np.inf)
            np.maximum.at(clock, seg, end)
            bad_k = np.flatnonzero(clock > p.reach_s + 1e-6)
            first_row = np.flatnonzero(start)
            for k in bad_k[:_MAX_BREACHES]:
                row = q.iloc[o[first_row[k]]]
                out.append(f"door queue at {row['site_id']} ({row['scenario']}) ends at {clock[k]:.1f} s "
                           f"> {p.reach_s:.0f} s")
    ch = sorted(chosen)
    cost = float(sites.loc[ch, "cost"].where(~sites.loc[ch, "existing"], 0.0).sum())
    if p.budget is not None and cost > p.budget + 1e-6:
        out.append(f"cost {cost:,.0f} over budget {p.budget:,.0f}")
    if p.objective == "cover-all":
        uns = sol.unsheltered
        if len(uns) and (uns["reason"] != "unreachable").any():
            out.append("cover-all plan leaves reachable residents unsheltered")
    return out


# ============================================================ infeasibility
def explain_infeasible(problem: Problem, _compiled: Compiled | None = None) -> str:
    """Why cover-all is impossible, in words a director understands."""
    p = problem
    c = _compiled or compile_problem(p)
    lines: list[str] = []
    if c.unreachable:
        lines.append(f"{len(c.unreachable)} occupied room(s) have no candidate safe room within "
                     f"{p.reach_s:.0f} s (e.g. {', '.join(c.unreachable[:5])}); they are reported as unsheltered "
                     "and do not block the plan.")
    # where: the most people that can be sheltered with every candidate converted (an LP; no budget,
    # no backup) -- the rooms it leaves short are where capacity or door throughput is lacking
    short: list[str] = []
    S = len(c.scen)
    try:
        cm = compile_problem(p.replace(objective="max-cover", budget=None, backup_k=1, weight=None))
        arm = build_arrays(cm, all_scen=True)
        lp = _solve_highspy(arm, max(10.0, p.time_limit_s / 2), 0.0, p.threads, None, False, mip=False)
        if lp.values is not None:
            y = lp.values[arm.ycol0:arm.ycol0 + arm.ny]
            got = np.zeros((cm.G, S))
            np.add.at(got, (cm.qg[arm.yq], arm.ys), y)
            lack = np.maximum(cm.D - got, 0.0)
            lack[lack < 1e-6] = 0.0
            rooms_of = pd.Series(cm.room_group.index.to_numpy(), index=cm.room_group.to_numpy())
            sector = p.room_sector
            for s in range(S):
                tot = float(lack[:, s].sum())
                if tot < 0.5:
                    continue
                gs = np.flatnonzero(lack[:, s] > 0)
                gs = gs[np.argsort(-lack[gs, s])]
                rooms = [r for g in gs for r in np.atleast_1d(rooms_of.loc[g]).tolist()]
                where = ""
                if sector is not None:
                    per = pd.Series(lack[gs, s], index=[str(sector.get(np.atleast_1d(rooms_of.loc[g])[0], "?"))
                                                         for g in gs]).groupby(level=0).sum().sort_values(ascending=False)
                    where = " in sector(s) " + ", ".join(f"{k} ({v:.0f})" for k, v in per.head(4).items())
                short.append(f"in scenario '{c.scen[s]}', even with every candidate room converted about "
                             f"{tot:.0f} residents cannot reach a safe room with space and get through its door "
                             f"within {p.reach_s:.0f} s{where} (rooms {', '.join(map(str, rooms[:6]))}"
                             f"{', ...' if len(rooms) > 6 else ''}).")
    except Exception as exc:  # the explanation must never hide the infeasibility itself
        short.append(f"(the capacity check failed: {exc})")
    lines += short
    if not short and p.budget is not None:
        free = p.replace(budget=None, time_limit_s=min(p.time_limit_s, 120.0), objective="cover-all")
        try:
            sol = solve(free, progress=False)
            lines.append(f"the budget of {p.budget:,.0f} is too small: the cheapest plan sheltering everyone "
                         f"reachable costs {sol.stats['cost']:,.0f} ({len(sol.chosen)} rooms, gap "
                         f"{sol.solver['gap']:.1%}).")
        except InfeasibleError as exc:
            lines.append(str(exc))
        except SolverError:
            lines.append(f"the budget of {p.budget:,.0f} may be too small (no plan found without it either "
                         "within the time limit)")
    if not short and (p.backup_k or 0) >= 2:
        lines.append(f"the backup rule (every room needs {p.backup_k} safe rooms within reach) may be what cannot "
                     "be met within the budget; try --backup 1.")
    if not lines or (len(lines) == 1 and c.unreachable):
        lines.append("the residents cannot all be sheltered: capacities and door queues of the safe rooms near "
                     "them are too small together (several rooms compete for the same safe rooms).")
    lines.append("Use --objective max-cover to shelter as many people as possible within the budget.")
    return "Cover-all is impossible: " + " ".join(lines)
