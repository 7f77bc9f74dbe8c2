"""The problem data: demand, reach pairs and candidate sites (`Problem`), and a plan (`Solution`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from numpy.typing import ArrayLike

import numpy as np
import pandas as pd
import pulp

from planner.errors import InfeasibleError, InputError
from planner.model.arrays import build_arrays
from planner.model.compile import compile_problem
from planner.model.constants import EPS, INF
from planner.model.highs import pulp_model
from planner.model.options import SolveOptions
from planner.model.warm import AssignBasis, LpWarm

__all__ = ["EPS", "INF", "BudgetInfeasibleError", "FullCover", "ModelInfeasible", "Problem", "Solution",
           "exit_rows_of"]


@dataclass
class Problem:
    """Everything the optimiser needs (plain data); how it is solved is `SolveOptions`.

    Parameters
    ----------
    demand
        Index room_id, one integer column per scenario (persons).
    pairs
        room_id, site_id, walk_s (seconds; within reach only). A pair with room_id == site_id and
        walk_s == 0 is shelter in place (no door queue).
    sites
        Index site_id with capacity (persons), door_flow_pps (persons/s), cost (currency), existing
        (bool), required (bool), displaced (persons, the tie-break).
    weight
        Priority per room (default 1).
    reach_s, queue_bin_s
        Reach time and the door queue's arrival bin (seconds).
    objective, budget, backup_k, door_queue
        "cover-all" or "max-cover"; budget (currency, None: none); safe rooms each occupied room
        needs in reach; model the door queues.
    backup_goal
        Backup coverage as an objective (0 or 1: off): at the plan's cost (cover-all) or coverage
        within the budget (max-cover), maximise the residents with at least this many converted
        safe rooms in reach (`planner.model.backupgoal`; spopt's LSCP-B for 2).
    time_limit_s, mip_gap, solver, threads
        The station's solver parameters (seconds, fraction, "highs" or "cbc", HiGHS threads):
        what `SolveOptions` leaves unset.
    protected
        Site ids never to convert (unless existing).
    room_sector
        Sector per room (index room_id), for explanations.
    """

    demand: pd.DataFrame
    pairs: pd.DataFrame
    sites: pd.DataFrame
    weight: pd.Series | None = None
    reach_s: float = 60.0
    objective: str = "cover-all"
    budget: float | None = None
    backup_k: int = 1
    backup_goal: int = 0
    door_queue: bool = True
    queue_bin_s: float = 1.0
    time_limit_s: float = 60.0
    mip_gap: float = 0.01
    solver: str = "highs"
    threads: int = 2
    protected: set[str] = field(default_factory=set)
    room_sector: pd.Series | None = None
    no_swap: bool = False
    """Prefer sheltering a converted room's own residents in it (`from_station`: on with
    `shelter_in_place`): in the whole-person assignment (with the walk tie-break) every person
    sheltering in place earns a reward larger than any walk tie-break, so a room sends its people
    away while others come in only when the chosen rooms need it (issue 17). The site choice's
    objective is unchanged. Not a hard row: on Station Unity `y_jj,s >= min(d, c) x_j` made cover-all
    infeasible (rooms whose only safe rooms in time are occupied candidates)."""
    swap_penalty: float = 0.0
    """No swaps in the site choice (issue 17; docs/model.md): per site j and scenario s with own
    residents, ``others into j <= max(cap_j - own_js, 0) x_j + v_js``, and each person of the slack
    `v_js` (own residents who must leave while others come in) costs this much in the objective
    (currency per person; cover-all, and max-cover's least-cost stage). 0 = no such rows.
    `from_station`: `swap_penalty_rooms` x the most expensive candidate's cost."""
    swap_penalty_persons: float = 0.0
    """The same for max-cover, in sheltered persons per person (times the smallest priority weight):
    below 1 a swap that shelters more people is still made. 0 = off."""
    corridor_cuts: pd.DataFrame | None = None
    """Corridor rows (issue 17; docs/model.md): columns cut (int), room_id, site_id, scenario: the
    (room, safe room) pairs whose walk passes the opening of cut `cut` in that scenario. Per cut
    ``sum of y over its pairs - u_cut <= corridor_rhs[cut]``, the slack `u_cut` (persons) charged
    `corridor_penalty` each (cover-all; max-cover `corridor_penalty_persons`). A pair of a room
    aggregated with others counts the whole group (safe side). None: no corridor rows."""
    corridor_rhs: np.ndarray | None = None
    """Persons each corridor cut admits (indexed by `corridor_cuts.cut`)."""
    corridor_penalty: float = 0.0
    """Currency per person over a corridor row's limit (cover-all, max-cover's least-cost stage)."""
    corridor_penalty_persons: float = 1.0
    """Sheltered persons per person over a corridor row's limit (max-cover)."""
    exit_rows: pd.DataFrame | None = None
    """Exit-door rows (issue 17; docs/model.md): columns room_id, site_id, exit_door_id, exit_cap: the
    pairs of a room that leave it by door `exit_door_id`, whose residents may be at most `exit_cap`
    persons (`planner.queues.model_pairs`' K_d). Per (room, door) and scenario a hard row
    ``sum of y over those pairs <= exit_cap``; such rooms are never aggregated with others (a room
    leaving by one door only needs no row beyond its demand bound; the row is kept, it costs little
    and `planner.pipeline` reads the doors from here). None: no rows."""

    share_target: float = 0.0
    """Expected share (issue 17; docs/model.md): with `share_pairs` (cover-all only), per scenario s one
    row ``sum over assignments of prob x y >= share_target x share_residents[s]`` (persons), written with
    everyone reachable sheltered as ``sum of (1 - prob) x y <= demand_s - share_target x
    share_residents[s]`` (at most so many expected late: only pairs below 1 in it). 0: off."""
    share_pairs: pd.DataFrame | None = None
    """Expected share: columns room_id, site_id, prob and optionally scenario: the probability (0..1) that a
    person of the room assigned to the site is in time (in that scenario; without the column the same in
    all: `planner.queues.pair_share_probabilities`); pairs not listed count 0, sheltering in place 1."""
    share_residents: pd.Series | None = None
    """Expected share: residents per scenario (persons; all of them, also those no plan brings in)."""

    def __post_init__(self) -> None:
        if self.objective not in ("cover-all", "max-cover"):
            raise InputError("<problem>", "objective", f"is {self.objective!r}", "use 'cover-all' or 'max-cover'")
        if not 0 <= int(self.backup_goal) <= 100:
            raise InputError("<problem>", "backup_goal", f"is {self.backup_goal}", "use 0 (off) to 100 safe rooms")
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
        if self.share_target and not 0.0 < float(self.share_target) < 1.0:
            raise InputError("<problem>", "share_target", f"is {self.share_target}", "use a share above 0 and below 1")

    @property
    def share_on(self) -> bool:
        """Whether the model has the expected-share rows (`share_target` above 0 with `share_pairs`)."""
        return float(self.share_target or 0.0) > 0.0 and self.share_pairs is not None

    @property
    def scenarios(self) -> list[str]:
        return [str(c) for c in self.demand.columns]

    def replace(self, **changes: Any) -> Problem:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def solve_options(self, options: SolveOptions | None = None) -> SolveOptions:
        """`options` (default: all defaults) with every unset value taken from this problem's
        solver parameters (`time_limit_s`, `mip_gap`, `threads`, `solver`)."""
        return (options or SolveOptions()).with_defaults(self.time_limit_s, self.mip_gap, self.threads, self.solver)

    def to_pulp(self, options: SolveOptions | None = None) -> pulp.LpProblem:
        """The whole model as a PuLP `LpProblem` (minimisation) that can be inspected, extended,
        written (``writeLP``, ``writeMPS``) and solved with any solver PuLP supports.

        It is the model the optimiser branches on (the LP path; docs/model.md): binaries ``x_<site>``
        (convert the site), ``z_<i>`` (max-cover: group i has its backups), continuous ``y_<i>``
        (persons of a room group sheltered at a site in a scenario) and ``S_<i>`` (door-queue suffix
        sums), ``v_<i>`` (no-swap slacks), ``u_<i>`` (corridor-row slacks, with `corridor_cuts`), rows
        ``demand_*``, ``queue_*``, ``swap_*``, ``corridor_*``, ``capacity_*``,
        ``queue-x_*``, ``backup_*``, ``budget_*``.
        Objective: cover-all, cost (currency) plus a displacement tie-break worth less than 1;
        max-cover, minus the priority-weighted persons sheltered (summed over scenarios) plus a
        cost tie-break worth less than the smallest weight. Rooms with identical reach are grouped
        and identical scenarios merged (`options`: `SolveOptions` aggregate / scenario_reduce).
        Phases are not part of it (`planner.phases` stages a plan afterwards).
        """
        o = self.solve_options(options)
        c = compile_problem(self, o)
        ar = build_arrays(c)
        site_names = [_pulp_name(f"x_{sid}") for sid in c.site_ids]
        names = list(ar.names)
        if len(set(site_names)) == len(site_names) and not set(site_names) & set(names[ar.nx:]):
            names[:ar.nx] = site_names          # else (ids equal once cleaned) the column numbers
        ar = dataclasses.replace(ar, names=names)
        prob, _ = pulp_model(ar, mip=True, name=f"safe_rooms_{self.objective.replace('-', '_')}")
        return prob

    # ------------------------------------------------------------ constructors
    @classmethod
    def from_cost_matrix(cls, demand: ArrayLike | pd.DataFrame, times: ArrayLike | pd.DataFrame,
                         capacity: ArrayLike | pd.Series | None = None, cost: ArrayLike | pd.Series | None = None,
                         door_flow_pps: ArrayLike | pd.Series | None = None,
                         existing: ArrayLike | pd.Series | None = None, required: ArrayLike | pd.Series | None = None,
                         displaced: ArrayLike | pd.Series | None = None, weight: ArrayLike | pd.Series | None = None,
                         reach_s: float = 60.0, room_ids: list[str] | None = None,
                         site_ids: list[str] | None = None, **fields: Any) -> Problem:
        """A problem from a cost matrix, spopt-style (`spopt.locate.LSCP/MCLP.from_cost_matrix`).

        The model (see `planner.model.orchestrate` and docs): choose sites `x_j` in {0, 1} and
        assignments `y_ij >= 0` (persons of demand point i at site j, only where `times[i, j] <= reach_s`)
        so that every site holds at most its capacity, its door admits its arrivals in time (a fluid
        queue, when `door_flow_pps` is given), the budget holds and every point has `backup_k` open
        sites in reach; then

        - ``objective="cover-all"`` (LSCP with capacities): everyone reachable sheltered, least cost;
          with unit costs and no capacity this is spopt's LSCP (fewest sites);
        - ``objective="max-cover"`` (MCLP with capacities): most priority-weighted persons sheltered
          within ``budget``; with unit costs, ``budget=p`` and no capacity this is spopt's MCLP.

        Parameters
        ----------
        demand
            Persons per demand point: a DataFrame (index room_id, one column per scenario) or an
            array (n_points,) or (n_points, n_scenarios). Non-integer values (populations, weights)
            are allowed with one scenario and unlimited capacity: each point then counts as one
            person of priority weight = its value (times `weight`), so max-cover maximises the
            weighted total (spopt's MCLP objective).
        times
            Travel times (any unit consistent with `reach_s`; seconds in the planner): an array
            (n_points, n_sites), ``np.inf`` or NaN where unreachable, or a DataFrame of pairs with
            columns room_id, site_id, walk_s. A point and a site with the same id at time 0 shelter
            in place (no door queue).
        capacity
            Persons per site; None: unlimited.
        cost
            Conversion cost per site (currency); None: 1 per site (spopt: the number of sites).
        door_flow_pps
            Door throughput per site (persons per time unit); None: no door limit (queues off).
        existing, required
            Sites already converted (cost 0) or that must be converted (bool per site).
        displaced
            Tie-break per site (persons displaced; smaller preferred among equal costs).
        weight
            Priority per demand point (default 1).
        reach_s
            The reach (coverage radius) in the unit of `times`.
        room_ids, site_ids
            Ids of the points and sites (default ``r0..``, ``j0..``).
        **fields
            Other `Problem` fields: objective, budget (currency), backup_k, queue_bin_s (time
            unit), time_limit_s, mip_gap, solver, threads, protected.

        Raises
        ------
        InputError
            Shapes that do not match, negative or non-finite demand, non-integer demand where
            capacities or scenarios need whole persons, or no demand point with a site in reach.

        Memory is independent of the time unit without door queues (the arrival bins then hold
        no per-bin arrays); with door queues it grows with ``reach_s / queue_bin_s``.
        """
        dem, w_extra = _demand_frame(demand, room_ids, capacity is None and door_flow_pps is None)
        if isinstance(times, pd.DataFrame) and {"room_id", "site_id", "walk_s"} <= set(times.columns):
            pairs = times[["room_id", "site_id", "walk_s"]].copy()
            sids = site_ids or (list(capacity.index) if isinstance(capacity, pd.Series)
                                else sorted(pairs["site_id"].astype(str).unique()))
        else:
            t = np.asarray(times, dtype=float)
            if t.ndim != 2 or t.shape[0] != len(dem):
                raise InputError("<cost matrix>", "times", f"has shape {t.shape}, demand has {len(dem)} points",
                                 "pass an array of shape (n_points, n_sites)")
            sids = site_ids or [f"j{k}" for k in range(t.shape[1])]
            if len(sids) != t.shape[1]:
                raise InputError("<cost matrix>", "site_ids", f"has {len(sids)} ids for {t.shape[1]} sites",
                                 "give one id per column of times")
            ii, jj = np.nonzero(np.isfinite(t) & (t <= reach_s + EPS))
            pairs = pd.DataFrame({"room_id": dem.index.to_numpy()[ii], "site_id": np.asarray(sids, dtype=object)[jj],
                                  "walk_s": t[ii, jj]})
        sids = [str(s) for s in sids]
        _check_coverable(dem, pairs, reach_s)
        n = len(sids)

        def col(v: ArrayLike | pd.Series | None, default: float | bool, name: str) -> np.ndarray:
            if v is None:
                return np.full(n, default)
            out = v.reindex(sids).to_numpy() if isinstance(v, pd.Series) else np.asarray(v)
            if out.shape != (n,):
                raise InputError("<cost matrix>", name, f"has shape {out.shape} for {n} sites", "give one value per site")
            return out

        unlimited = int(max(float(dem.sum(axis=0).max()) if dem.size else 0.0, 0.0)) + 1
        sites = pd.DataFrame({"capacity": col(capacity, unlimited, "capacity").astype(np.int64),
                              "cost": col(cost, 1.0, "cost").astype(float),
                              "door_flow_pps": col(door_flow_pps, INF, "door_flow_pps").astype(float),
                              "existing": col(existing, False, "existing").astype(bool),
                              "required": col(required, False, "required").astype(bool),
                              "displaced": col(displaced, 0.0, "displaced").astype(float)},
                             index=pd.Index(sids, name="site_id"))
        w = None
        if weight is not None:
            w = weight if isinstance(weight, pd.Series) else pd.Series(np.asarray(weight, float), index=dem.index)
        if w_extra is not None:
            w = w_extra if w is None else w.reindex(dem.index).fillna(1.0) * w_extra
        if door_flow_pps is None:
            fields.setdefault("door_queue", False)
        return cls(demand=dem, pairs=pairs, sites=sites, weight=w, reach_s=reach_s, **fields)

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
                                    backup_goal=p.backup_goal,
                                    door_queue=p.door_queue, queue_bin_s=p.queue_bin_s, time_limit_s=p.time_limit_s,
                                    mip_gap=p.mip_gap, solver=p.solver, threads=p.threads, protected=protected,
                                    no_swap=bool(p.shelter_in_place))
        convertible = ~s["existing"].astype(bool) & ~s.index.isin(sorted(protected))
        most = float(s.loc[convertible, "cost"].max()) if convertible.any() else 0.0
        opts.update(swap_penalty=float(p.swap_penalty_rooms) * max(most, 0.0) if np.isfinite(most) else 0.0,
                    swap_penalty_persons=float(p.swap_penalty_persons),
                    corridor_penalty=float(p.corridor_penalty_rooms) * max(most, 0.0) if np.isfinite(most) else 0.0)
        tab = reach.pairs if hasattr(reach, "pairs") else reach
        opts["exit_rows"] = exit_rows_of(tab)
        opts.update(overrides)
        pairs = reach.pairs[["room_id", "site_id", "walk_s"]] if hasattr(reach, "pairs") else reach
        if not p.shelter_in_place:
            pairs = pairs[~((pairs["room_id"].astype(str) == pairs["site_id"].astype(str)) & (pairs["walk_s"] <= EPS))]
        opts.setdefault("room_sector", pd.Series(station.rooms["sector"].astype(str).to_numpy(),
                                                 index=station.rooms["room_id"].astype(str).to_numpy()))
        return cls(demand=station.demand(), pairs=pairs, sites=s, weight=station.priority(), **opts)


def exit_rows_of(timed: pd.DataFrame) -> pd.DataFrame | None:
    """`Problem.exit_rows` from the timed pairs (`planner.queues.model_pairs`: exit_cap, exit_door_id):
    the pairs of exit-cap rooms with the door they leave by and its cap; None when there are none."""
    if "exit_door_id" not in timed.columns or "exit_cap" not in timed.columns:
        return None
    k = timed["exit_cap"].to_numpy(dtype=float)
    d = timed["exit_door_id"].fillna("").astype(str)
    sel = np.isfinite(k) & (d != "").to_numpy()
    if not sel.any():
        return None
    return pd.DataFrame({"room_id": timed["room_id"].astype(str).to_numpy()[sel],
                         "site_id": timed["site_id"].astype(str).to_numpy()[sel], "exit_door_id": d.to_numpy()[sel],
                         "exit_cap": k[sel]})


class ModelInfeasible(Exception):
    """The model has no solution (a signal inside the optimiser: `solve` turns it into an
    `InfeasibleError` that says why). `lack`: (groups, scenarios) persons the most any plan can do leaves
    without a place, when the raiser knows it (the Lagrangian path's maximum flow with every site open):
    the explanation then needs no LP of its own."""

    def __init__(self, *args: object, lack: np.ndarray | None = None) -> None:
        super().__init__(*args)
        self.lack = lack


@dataclass
class Solution:
    """A plan: sites chosen, who shelters where (whole persons), who does not, and how good it is."""

    chosen: list[str]
    assignments: pd.DataFrame
    unsheltered: pd.DataFrame
    solver: dict[str, Any]
    stats: dict[str, Any] = field(default_factory=dict)
    warm: LpWarm | None = field(default=None, repr=False, compare=False)
    """The LP relaxation's column set and basis (column generation only), to start a re-solve of the same
    model with more corridor rows (`solve(warm=)`; issue 21)."""
    assign_basis: AssignBasis | None = field(default=None, repr=False, compare=False)
    """The whole-person assignment's last bases (LP path), to start the next corridor round's assignment of
    the same safe rooms (`solve(keep=)`; issue 21)."""

    @property
    def cost(self) -> float:
        return float(self.stats.get("cost", float("nan")))




@dataclass
class FullCover:
    """The cheapest plan found that shelters everyone reachable, the budget ignored.

    `cost` in currency; `bound`: a proven lower bound on that cost (currency; None: unknown)."""

    cost: float
    solution: Solution
    bound: float | None = None


class BudgetInfeasibleError(InfeasibleError):
    """Cover-all is impossible within the budget; `full_cover` is what sheltering everyone costs."""

    def __init__(self, message: str, full_cover: FullCover) -> None:
        super().__init__(message)
        self.full_cover = full_cover


def _demand_frame(demand: ArrayLike | pd.DataFrame, room_ids: list[str] | None,
                  weights_ok: bool) -> tuple[pd.DataFrame, pd.Series | None]:
    """Demand as whole persons (index room_id, one column per scenario), and, when non-integer values
    were given as weights (`weights_ok`: one scenario, unlimited capacity, no door), the weight per
    point (each point then one person)."""
    if isinstance(demand, pd.DataFrame):
        dem = demand.copy()
    else:
        arr = np.asarray(demand)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise InputError("<cost matrix>", "demand", f"has shape {arr.shape}", "pass (n_points,) or (n_points, n_scenarios)")
        rids = room_ids or [f"r{i}" for i in range(arr.shape[0])]
        if len(rids) != arr.shape[0]:
            raise InputError("<cost matrix>", "room_ids", f"has {len(rids)} ids for {arr.shape[0]} points",
                             "give one id per row of demand")
        dem = pd.DataFrame(arr, index=rids, columns=[f"s{k}" for k in range(arr.shape[1])])
    dem.index = dem.index.astype(str)
    try:
        vals = dem.to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise InputError("<cost matrix>", "demand", "is not numeric", "pass numbers of persons") from None
    if not np.isfinite(vals).all() or (vals < 0).any():
        raise InputError("<cost matrix>", "demand", "has negative, infinite or missing values",
                         "pass persons >= 0 for every point")
    if np.all(vals == np.round(vals)):
        return dem.astype(np.int64), None
    if not weights_ok or vals.shape[1] != 1:
        raise InputError("<cost matrix>", "demand", "has non-integer values",
                         "whole persons are needed with capacities, door limits or several scenarios: round them, "
                         "or pass one scenario with capacity=None to use them as weights")
    weight = pd.Series(vals[:, 0], index=dem.index)
    return pd.DataFrame((vals > 0).astype(np.int64), index=dem.index, columns=dem.columns), weight


def _check_coverable(dem: pd.DataFrame, pairs: pd.DataFrame, reach_s: float) -> None:
    """An error when demand exists but no point with demand has a site within `reach_s`."""
    has = dem.index[dem.to_numpy().sum(axis=1) > 0]
    near = pairs["walk_s"].to_numpy(dtype=float) <= reach_s + EPS
    if len(has) and not pairs["room_id"].astype(str)[near].isin(has).any():
        raise InputError("<cost matrix>", "times", f"put no site within reach_s={reach_s:g} of any point with demand",
                         "raise reach_s or check that times and reach_s use the same unit")


def _pulp_name(name: str) -> str:
    """The name PuLP writes for `name` (characters illegal in LP files replaced by '_')."""
    return "".join("_" if ch in pulp.LpElement.illegal_chars else ch for ch in name)
