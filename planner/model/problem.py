"""The problem data: demand, reach pairs and candidate sites (`Problem`), and a plan (`Solution`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from planner.errors import InputError

INF = float("inf")
EPS = 1e-9
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
    (`planner.model.lagrange`). Measured at 30,000 rooms: see docs/performance.md."""
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
    (`cover_search`). Measured (MCLP, 10,000 rooms, p = 45): 15.2 s end to end against 53.7 s before."""
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
            ii, jj = np.nonzero(np.isfinite(t) & (t <= reach_s + EPS))
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
            pairs = pairs[~((pairs["room_id"].astype(str) == pairs["site_id"].astype(str)) & (pairs["walk_s"] <= EPS))]
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


