"""The relocation extension of the integer program (docs/model.md, "Conversion modes and relocation").

Used when some repurpose-mode candidate room has residents (`RelocationInputs.active`).
The base model (`planner.model.build_arrays`, rooms not aggregated, no scenario
reduction) is built on an upper bound of every room's occupants (a host room may gain up
to its spare beds in every scenario); then

- the demand rows get their true right-hand side `d_rs` and the relocation terms:
  `sum_j y_rjs + d_rs x_r [r repurposed source] - sum_i p_irs = d_rs` (cover-all; `<=` in
  max-cover), so a converted repurpose room's occupants leave it and arrive at their hosts;
- columns `m_ik` (residents of source i moved to host k, whole persons) and `p_iks`
  (of them, present in scenario s: the source's occupants of scenario s);
- rows `sum_k m_ik = R_i x_i` (all residents move out, none if not converted),
  `sum_k p_iks = d_is x_i`, `p_iks <= m_ik`, beds `sum_i m_ik <= spare_k (1 - x_k)`
  (a repurposed host that is converted hosts nobody; other hosts `<= spare_k`), and the cap
  `sum_i R_i x_i <= max_displaced`;
- objective: the site costs (which carry the relocation cost per resident of repurposed
  rooms) + `cross_sector_penalty` per resident moved to another sector.

Assignments are integer here (moving people breaks the unimodularity the base model relies on).
The model goes to HiGHS as arrays in one MIP (no column generation): it is meant for the
stations where moving people is a real option (hundreds of rooms), and for the director's
displacement trade-off.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from planner.errors import InfeasibleError, InputError, SolverError
from planner.model.arrays import Arrays, build_arrays
from planner.model.colgen import lp_colgen
from planner.model.compile import compile_problem, group_walk
from planner.model.highs import highs_threads_reset, solve_highspy
from planner.model.options import SolveOptions
from planner.model.problem import INF, BudgetInfeasibleError, FullCover, Problem, Solution
from planner.model.result import make_solution, verify
from planner.progress import log

MOVES_COLUMNS = ["from_room", "to_room", "residents"]


@dataclasses.dataclass
class RelocationInputs:
    """What the relocation extension needs (plain data; room ids as text; built from a station by
    `planner.relocation.relocation_tables`).

    - `sources`: index room_id of candidate rooms in mode `repurpose` or `either` with
      residents; columns `residents` (persons), `sector`, `optional` (mode `either`: the
      optimiser decides), `extra_cost` (currency: what repurposing an `either` room adds to
      its dual_use cost) and one column per scenario (occupants in that scenario, persons).
    - `hosts`: index room_id of rooms with spare beds; columns `spare` (beds minus
      residents), `sector`, `repurpose` (bool: a repurpose-mode candidate, which cannot
      host once converted; an `either` room with residents is a source and cannot host
      once repurposed).
    - `moves`: allowed moves `source`, `host`, `cross_sector` (bool).
    - `max_displaced`: hard limit on residents moved (persons), None = none.
    - `cross_sector_penalty`: objective weight per resident moved to another sector (currency).
    """

    sources: pd.DataFrame
    hosts: pd.DataFrame
    moves: pd.DataFrame
    scenarios: list[str]
    max_displaced: int | None = None
    cross_sector_penalty: float = 0.0
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def active(self) -> bool:
        """Whether the model needs relocation variables (some room that may be repurposed has residents)."""
        return len(self.sources) > 0


def demand_after(demand: pd.DataFrame, moves: pd.DataFrame) -> pd.DataFrame:
    """Occupants per room and scenario after the moves (`relocation_table` rows, persons)."""
    out = demand.copy()
    for s in demand.columns:
        col = f"present_{s}"
        if not len(moves) or col not in moves.columns:
            continue
        n = moves[col].astype(np.int64)
        gone = n.groupby(moves["from_room"].astype(str).to_numpy()).sum()
        come = n.groupby(moves["to_room"].astype(str).to_numpy()).sum()
        out[s] = (out[s] - gone.reindex(out.index).fillna(0).astype(np.int64)
                  + come.reindex(out.index).fillna(0).astype(np.int64))
    return out


@dataclasses.dataclass
class RelocationModel:
    """The extended MIP and the maps back to rooms (internal; also read by tests)."""

    ar: Arrays
    compiled: Any
    demand: pd.DataFrame          # occupants before any move (room x scenario, persons)
    src: np.ndarray               # source room ids (modelled)
    src_x: np.ndarray             # "repurposed" flag column of each source (x, or q for `either`)
    extra: np.ndarray             # cost added by repurposing each source (currency; `either` only)
    mv_src: np.ndarray            # per move column: source position
    mv_host: np.ndarray           # per move column: host room id
    m_col0: int
    p_col: np.ndarray             # per presence column: (move position, scenario)
    p_col0: int
    residents: np.ndarray         # R_i per source (persons)


def _optional(sources: pd.DataFrame) -> np.ndarray:
    """Per source row: mode `either` (the optimiser decides whether it is repurposed; `optional` column),
    False for every row when the column is absent (all `repurpose`)."""
    if "optional" not in sources.columns:
        return np.zeros(len(sources), dtype=bool)
    return sources["optional"].to_numpy(dtype=bool)


def build_relocation_model(p: Problem, rel: RelocationInputs) -> RelocationModel:
    """The MIP of the module docstring as arrays (vectorised; scipy sparse)."""
    scen = p.scenarios
    S = len(scen)
    dem = p.demand.reindex(columns=scen).fillna(0).clip(lower=0).round().astype(np.int64)
    hosts = rel.hosts[rel.hosts.index.isin(dem.index)]
    up = dem.copy()
    if len(hosts):
        up.loc[hosts.index, :] = up.loc[hosts.index, :].to_numpy() + hosts["spare"].to_numpy()[:, None]
    if p.objective != "cover-all" and p.backup_k >= 2:
        raise InputError("<scenario>", "[model] backup_k with max-cover and repurposed rooms",
                         "is not supported: a backup requirement that switches with coverage cannot follow "
                         "residents who move", "use cover-all, backup_k = 1, or dual_use modes")
    p2 = p.replace(demand=up)
    c = compile_problem(p2, SolveOptions(aggregate=False, scenario_reduce=False, tighten=False))
    # no-swap rows with each room's occupants before any move (a host's new residents are not counted:
    # the rows only charge swaps its first residents must make) and none at the `repurpose` sources,
    # whose residents leave them by design; an `either` source's row gets + own q_j (below): no own
    # residents once it is repurposed (docs/model.md)
    own = np.zeros_like(c.D)
    own[c.room_group.to_numpy()] = dem.reindex(c.room_group.index).fillna(0).to_numpy(dtype=np.int64)
    c.swap_own = own
    c.swap_skip = np.isin(c.site_ids, rel.sources.index[~_optional(rel.sources)].astype(str))
    ar = build_arrays(c, walk_obj=group_walk(c))
    ar.integer[ar.ycol0:ar.ycol0 + ar.ny] = True
    sidx = pd.Series(np.arange(c.J), index=c.site_ids)
    grp = c.room_group                               # room -> group (one room per group)
    # ---- demand rows: true right-hand sides
    yg = c.qg[ar.yq]
    ukey = np.unique(yg.astype(np.int64) * S + ar.ys)
    n_dem = ar.rows_by_kind.get("demand", 0)
    assert n_dem == len(ukey)
    base = dem.reindex(grp.index).to_numpy()
    dval = base[_room_of_group(grp, ukey // S), ukey % S]
    rlo, rhi = ar.row_lo.copy(), ar.row_hi.copy()
    if c.objective == "cover-all":
        rlo[:n_dem] = dval
    rhi[:n_dem] = dval

    def drow(room_ids: np.ndarray, s: np.ndarray) -> np.ndarray:
        g = grp.reindex(room_ids).to_numpy(dtype=float)
        key = np.where(np.isfinite(g), g, -1).astype(np.int64) * S + s
        pos = np.searchsorted(ukey, key)
        ok = (pos < len(ukey)) & np.isfinite(g)
        ok[ok] &= ukey[pos[ok]] == key[ok]
        return np.where(ok, pos, -1)

    # ---- sources that can be modelled: converted sites with their demand rows
    srcs = rel.sources[rel.sources.index.isin(sidx.index)]
    Dsrc = srcs[scen].to_numpy(dtype=np.int64) if S else np.zeros((len(srcs), 0), np.int64)
    si_, ss_ = np.nonzero(Dsrc > 0)
    rows_src = drow(srcs.index.to_numpy()[si_], ss_)
    if (rows_src < 0).any():   # occupants with no usable pair at all: they stay (nothing to model)
        raise SolverError("relocation model: a repurposed room's occupants have no demand row "
                          f"({srcs.index[si_[rows_src < 0][0]]}); please report this")
    site_of_src = sidx.reindex(srcs.index).to_numpy(dtype=np.int64)
    R = srcs["residents"].to_numpy(dtype=np.int64)
    opt = _optional(srcs)
    # ---- moves to hosts that have demand rows in every scenario
    mv = rel.moves[rel.moves["source"].isin(srcs.index) & rel.moves["host"].isin(hosts.index)]
    hrows_all = np.stack([drow(mv["host"].to_numpy(), np.full(len(mv), s)) for s in range(S)], axis=1) \
        if len(mv) else np.zeros((0, S), np.int64)
    ok = (hrows_all >= 0).all(axis=1) if len(mv) else np.zeros(0, bool)
    mv, hrows_all = mv[ok], hrows_all[ok]
    mv_src = pd.Series(np.arange(len(srcs)), index=srcs.index).reindex(mv["source"]).to_numpy(dtype=np.int64)
    mv_host = mv["host"].to_numpy().astype(str)
    spare = hosts["spare"].reindex(mv_host).to_numpy(dtype=np.int64)
    nm = len(mv)
    # presence columns: move x scenario where the source has occupants
    pm, ps = np.nonzero(Dsrc[mv_src] > 0) if nm else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    npc = len(pm)
    ncol0 = ar.A.shape[1]
    oq = np.flatnonzero(opt)
    nq = len(oq)
    q0 = ncol0
    src_x = site_of_src.copy()                      # the "repurposed" flag column of each source
    src_x[oq] = q0 + np.arange(nq)
    m0, p0 = q0 + nq, q0 + nq + nm
    ncol = p0 + npc
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lo_r: list[np.ndarray] = []
    hi_r: list[np.ndarray] = []
    n = 0

    def add(r: np.ndarray, cidx: np.ndarray, v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        nonlocal n
        rows.append(r + n)
        cols.append(cidx)
        vals.append(v)
        lo_r.append(np.asarray(lo, float))
        hi_r.append(np.asarray(hi, float))
        n += len(lo)

    # demand rows: + d_is x_i on the source's rows, - p_iks on the host's rows (rows of the base matrix)
    extra_r = np.r_[rows_src, hrows_all[pm, ps] if npc else np.zeros(0, np.int64)]
    extra_c = np.r_[src_x[si_], p0 + np.arange(npc)]
    extra_v = np.r_[Dsrc[si_, ss_].astype(float), -np.ones(npc)]
    # the no-swap row of an `either` source: others <= (cap - own) x_j + own q_j + v (repurposed: cap x_j)
    sw0 = _row_of_kind(ar, "swap")
    if sw0 is not None and ar.nv and nq:
        q_of_site = pd.Series(q0 + np.arange(nq), index=site_of_src[oq])
        vq = q_of_site.reindex(ar.v_key // S).to_numpy(dtype=float)
        k = np.flatnonzero(np.isfinite(vq))
        extra_r = np.r_[extra_r, sw0 + k]
        extra_c = np.r_[extra_c, vq[k].astype(np.int64)]
        extra_v = np.r_[extra_v, -ar.hi[ar.vcol0 + k]]
    ns = len(srcs)
    # q_i <= x_i for `either` sources
    add(np.r_[np.arange(nq), np.arange(nq)], np.r_[q0 + np.arange(nq), site_of_src[oq]],
        np.r_[np.ones(nq), -np.ones(nq)], np.full(nq, -INF), np.zeros(nq))
    # sum_k m_ik - R_i x_i = 0
    add(np.r_[mv_src, np.arange(ns)], np.r_[m0 + np.arange(nm), src_x], np.r_[np.ones(nm), -R.astype(float)],
        np.zeros(ns), np.zeros(ns))
    # sum_k p_iks - d_is x_i = 0 (per source and scenario with occupants)
    key_is = si_ * max(S, 1) + ss_
    pkey = mv_src[pm] * max(S, 1) + ps
    prow = np.searchsorted(key_is, pkey)
    add(np.r_[prow, np.arange(len(si_))], np.r_[p0 + np.arange(npc), src_x[si_]],
        np.r_[np.ones(npc), -Dsrc[si_, ss_].astype(float)], np.zeros(len(si_)), np.zeros(len(si_)))
    # p_iks - m_ik <= 0
    add(np.r_[np.arange(npc), np.arange(npc)], np.r_[p0 + np.arange(npc), m0 + pm],
        np.r_[np.ones(npc), -np.ones(npc)], np.full(npc, -INF), np.zeros(npc))
    # beds: sum_i m_ik (+ spare_k x_k for a repurpose-mode host that is a site) <= spare_k
    uh, hpos = np.unique(mv_host, return_inverse=True)
    hsp = hosts["spare"].reindex(uh).to_numpy(dtype=float)
    hx = sidx.reindex(uh).to_numpy(dtype=float)
    hrep = hosts["repurpose"].reindex(uh).fillna(False).to_numpy(dtype=bool) & np.isfinite(hx)
    hcol = np.where(hrep, np.nan_to_num(hx, nan=-1), -1).astype(np.int64)
    is_src = pd.Series(src_x, index=srcs.index).reindex(uh).to_numpy(dtype=float)   # a host that may be repurposed
    hcol = np.where(np.isfinite(is_src), np.nan_to_num(is_src, nan=-1), hcol).astype(np.int64)
    hr = np.flatnonzero(hcol >= 0)
    add(np.r_[hpos, hr], np.r_[m0 + np.arange(nm), hcol[hr]], np.r_[np.ones(nm), hsp[hr]],
        np.full(len(uh), -INF), hsp)
    # displacement cap
    if rel.max_displaced is not None and ns:
        add(np.zeros(ns, np.int64), src_x, R.astype(float), np.array([-INF]), np.array([float(rel.max_displaced)]))
    obj = np.r_[ar.c, np.zeros(nq + nm + npc)]
    cross = mv["cross_sector"].to_numpy(dtype=bool)
    pen = float(rel.cross_sector_penalty)
    extra = srcs["extra_cost"].to_numpy(dtype=float)[oq] if "extra_cost" in srcs.columns else np.zeros(nq)
    if c.objective == "cover-all":
        scale = 1.0
    else:
        wmin = float(c.w[c.w > 0].min()) if (c.w > 0).any() else 1.0
        scale = 0.25 * wmin / (float(c.cost.sum()) + 1.0)
    obj[q0:m0] = scale * extra
    obj[m0:p0] = scale * pen * cross
    if c.budget is not None and nq:   # the budget row pays for repurposing too
        bud = _row_of_kind(ar, "budget")
        if bud is not None:
            extra_r = np.r_[extra_r, np.full(nq, bud)]
            extra_c = np.r_[extra_c, q0 + np.arange(nq)]
            extra_v = np.r_[extra_v, extra]
    # ---- assemble: base rows (+ demand coefficients) on top of the new rows
    A0 = ar.A.tocoo()
    nb = A0.shape[0]
    r_all = np.r_[A0.row, extra_r, nb + np.concatenate(rows)] if rows else A0.row
    c_all = np.r_[A0.col, extra_c, np.concatenate(cols)]
    v_all = np.r_[A0.data, extra_v, np.concatenate(vals)]
    A = sp.csc_matrix((v_all, (r_all, c_all)), shape=(nb + n, ncol))
    A.sum_duplicates()
    ub_m = np.minimum(R[mv_src], spare).astype(float)
    ub_p = np.minimum(Dsrc[mv_src[pm], ps], spare[pm]).astype(float) if npc else np.zeros(0)
    ar2 = dataclasses.replace(
        ar, c=obj, lo=np.r_[ar.lo, np.zeros(nq + nm + npc)], hi=np.r_[ar.hi, np.ones(nq), ub_m, ub_p],
        integer=np.r_[ar.integer, np.ones(nq + nm + npc, bool)], A=A, row_lo=np.r_[rlo, np.concatenate(lo_r)],
        row_hi=np.r_[rhi, np.concatenate(hi_r)], names=[f"v{k}" for k in range(ncol)],
        row_names=[f"r{k}" for k in range(nb + n)])
    return RelocationModel(ar=ar2, compiled=c, demand=dem, src=srcs.index.to_numpy().astype(str), src_x=src_x,
                           extra=np.where(opt, srcs["extra_cost"].to_numpy(dtype=float) if "extra_cost" in srcs.columns
                                          else 0.0, 0.0),
                           mv_src=mv_src, mv_host=mv_host, m_col0=m0, p_col=np.stack([pm, ps], axis=1) if npc
                           else np.zeros((0, 2), np.int64), p_col0=p0, residents=R)


def _row_of_kind(ar: Arrays, kind: str) -> int | None:
    """First row of the block `kind` of `build_arrays` (rows are added in the order of `rows_by_kind`)."""
    start = 0
    for k, n in ar.rows_by_kind.items():
        if k == kind:
            return start
        start += n
    return None


def _room_of_group(grp: pd.Series, g: np.ndarray) -> np.ndarray:
    """Row position in `grp.index` of the room of each group (one room per group)."""
    pos = np.empty(len(grp), np.int64)
    pos[grp.to_numpy()] = np.arange(len(grp))
    return pos[g]


def relocation_table(rm: RelocationModel, v: np.ndarray, scen: list[str]) -> pd.DataFrame:
    """The moves of a solution: from_room, to_room, residents, present_<scenario> (persons)."""
    m = np.rint(v[rm.m_col0:rm.p_col0]).astype(np.int64)
    pv = np.rint(v[rm.p_col0:rm.p_col0 + len(rm.p_col)]).astype(np.int64)
    keep = np.flatnonzero(m > 0)
    out = pd.DataFrame({"from_room": rm.src[rm.mv_src[keep]].astype(object), "to_room": rm.mv_host[keep].astype(object),
                        "residents": m[keep]})
    pres = np.zeros((len(m), len(scen)), np.int64)
    if len(rm.p_col):
        np.add.at(pres, (rm.p_col[:, 0], rm.p_col[:, 1]), pv)
    for k, s in enumerate(scen):
        out[f"present_{s}"] = pres[keep, k]
    return out.sort_values(["from_room", "to_room"]).reset_index(drop=True)


def relocation_start(rm: RelocationModel, chosen: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """A partial MIP start: the sites `chosen` converted (every other site not), nobody repurposed
    or moved; HiGHS completes the assignments. A plan that moves nobody (the proposal's, for the
    displacement trade-off) is such a start; it is feasible when none of its rooms is a stated
    `repurpose` room with residents (else HiGHS drops it and searches on its own)."""
    c = rm.compiled
    x = np.isin(np.asarray(c.site_ids).astype(str), [str(k) for k in chosen]).astype(float)
    q = rm.src_x[rm.src_x >= c.J]                  # `either` flags
    n = rm.ar.A.shape[1]
    extra = np.r_[q, np.arange(rm.m_col0, n)].astype(np.int64)
    return np.r_[np.arange(c.J), extra], np.r_[x, np.zeros(len(extra))]


def solve_relocating(p: Problem, rel: RelocationInputs, progress: bool = True,
                     options: SolveOptions | None = None, start: list[str] | None = None) -> Solution:
    """Solve the problem with the relocation extension; the Solution's `stats["relocations"]` holds
    the moves (`relocation_table`) and `stats["displaced_residents"]` their total (persons).

    Raises InfeasibleError when no plan shelters everyone (cover-all) or the cap and the spare
    beds leave no plan; with a budget, a `BudgetInfeasibleError` whose `full_cover` is the plan
    without the budget (when there is one). `options`: time limit, gap, threads, HiGHS options
    (default the problem's). `start`: site ids of a known plan without moves (a warm start: the
    proposal's plan for the displacement trade-off)."""
    o = p.solve_options(options)
    say = log if progress else (lambda *_: None)
    t_all = time.perf_counter()
    rm = build_relocation_model(p, rel)
    c, ar = rm.compiled, rm.ar
    say(f"[planner] relocation model: {len(rm.src)} repurposed rooms with residents, "
        f"{len(rm.mv_host)} possible moves, {ar.A.shape[1]:,} columns, {ar.A.shape[0]:,} rows")
    # occupied rooms with no safe room within reach have no demand row (nor are they hosts): as in the
    # base model they are reported unsheltered ("unreachable") and do not block a cover-all plan
    run = solve_highspy(ar, o.limit_s, o.gap, o.n_threads, relocation_start(rm, start) if start else None, o.msg,
                        mip=True, options=o.highs_options)
    if run.values is None:
        if run.status == "infeasible" or run.status.startswith("infeasible"):
            msg = _infeasible_words(p, rel)
            if p.budget is not None and c.objective == "cover-all":
                try:
                    free = solve_relocating(p.replace(budget=None), rel, progress=False, options=o, start=start)
                except InfeasibleError:
                    free = None
                if free is not None:
                    raise BudgetInfeasibleError(msg, FullCover(cost=float(free.stats["cost"]), solution=free,
                                                               bound=free.solver.get("bound")))
            raise InfeasibleError(msg)
        raise SolverError(f"HiGHS found no plan with relocation ({run.status}) in {o.limit_s:.0f} s; "
                          "raise [model] time_limit_s")
    v = run.values
    x = (v[:c.J] > 0.5).astype(float)
    moves = relocation_table(rm, v, p.scenarios)
    after = demand_after(rm.demand, moves)
    pa = p.replace(demand=after)
    sol = make_solution(c, pa, x, v, ar)
    flags = v[rm.src_x] > 0.5
    repurposed = sorted(rm.src[flags].tolist())
    cost = float(c.cost @ x) + float(rm.extra[flags].sum())
    # the swap penalty the plan pays (the MIP's bound is on cost plus penalty: less it, a bound on the cost
    # of every plan with no more swap penalty, as in `result.finish`)
    swap_pen = float(ar.c[ar.vcol0:ar.vcol0 + ar.nv] @ v[ar.vcol0:ar.vcol0 + ar.nv]) if ar.nv else 0.0
    if c.objective == "cover-all":
        objective = cost
        bound = min(float(run.bound) - swap_pen, objective) if np.isfinite(run.bound) else float("nan")
    else:
        objective = float(sol.assignments.merge(pd.Series(p.weight, name="w"), left_on="room_id", right_index=True)
                          .eval("residents * w").sum()) if len(sol.assignments) else 0.0
        bound = float("nan")
    gap = abs(objective - bound) / max(abs(objective), 1e-9) if np.isfinite(bound) else float(run.gap)
    status = run.status if run.status == "optimal" else f"{run.status}: feasible"
    sol.solver = {"name": run.name, "version": run.version, "status": status, "objective": objective,
                  "bound": bound if np.isfinite(bound) else None, "gap": gap if np.isfinite(gap) else None,
                  "seconds": round(time.perf_counter() - t_all, 3)}
    if ar.nv:
        sol.solver["swap_penalty"] = round(swap_pen, 6)
    sol.stats = {"cost": cost, "relocations": moves, "repurposed": repurposed,
                 "displaced_residents": int(moves["residents"].sum()),
                 "relocation_model": {"sources": len(rm.src), "moves": len(rm.mv_host), "columns": int(ar.A.shape[1]),
                                      "rows": int(ar.A.shape[0])}, "nodes": run.nodes}
    breaches = verify(pa, sol)
    if breaches:
        raise SolverError("the relocation plan failed its own check: " + "; ".join(breaches[:5]))
    say(f"[planner] {status}: cost {cost:,.0f}, {sol.stats['displaced_residents']:,} residents moved, "
        f"{sol.solver['seconds']:.1f} s")
    return sol


@dataclasses.dataclass
class RelocationLP:
    """The LP relaxation of a relocation model (`bound_arrays`), kept for the re-plan that rounds it
    (`planner.model.relocround`): `bound` (currency; -inf when none is proven), the model `rm`, the LP's
    `values` on the columns of `bound_arrays(rm)` (None when no restricted LP was solved), its `status`
    and `seconds`; `swaps`: the objective charged the no-swap slacks too."""

    bound: float
    rm: RelocationModel
    values: np.ndarray | None
    status: str
    seconds: float
    swaps: bool = False
    corridor: bool = False


def relocation_lp(p: Problem, rel: RelocationInputs, time_limit_s: float, threads: int = 1,
                  swaps: bool = False, corridor: bool = False,
                  solved: Callable[[], dict[str, Any] | None] | None = None) -> RelocationLP:
    """The LP of `relocation_cost_bound`, with its solution and model (`RelocationLP`); `corridor`: the
    objective also charges the corridor rows' slacks (`bound_arrays`): with `swaps`, the relocation model's
    own objective less its walk tie-break and cross-sector preference (the re-plan's guide). `solved`: the
    same LP solved elsewhere (a worker process), called once the model is built: its values, bound, status
    and seconds, and the LP is not solved again (None: it is solved here)."""
    if p.objective != "cover-all":
        raise ValueError("relocation_cost_bound: only for cover-all (max-cover has no cost to bound)")
    rm = build_relocation_model(p.replace(budget=None), rel)
    got = solved() if solved is not None else None
    if got is not None:
        return RelocationLP(bound=float(got["bound"]), rm=rm, values=got["values"], status=str(got["status"]),
                            seconds=float(got["seconds"]), swaps=swaps, corridor=corridor)
    with highs_threads_reset():   # its own thread count, whatever the process's HiGHS solved with before
        run = lp_colgen(rm.compiled, bound_arrays(rm, swaps, corridor), float(time_limit_s), int(threads), False)
    return RelocationLP(bound=float(run.bound) if np.isfinite(run.bound) else -INF, rm=rm, values=run.values,
                        status=run.status, seconds=run.seconds, swaps=swaps, corridor=corridor)


def relocation_cost_bound(p: Problem, rel: RelocationInputs, time_limit_s: float, threads: int = 1,
                          swaps: bool = False) -> float:
    """A proven lower bound on the cost (currency) of every cover-all plan of the relocation model.

    The LP relaxation of `bound_arrays` (the model of `solve_relocating` relaxed: no budget row, no
    move columns, objective the plan's cost alone) by column generation on the assignment columns
    (`colgen.lp_colgen`): every round's row duals prove a bound, so a run stopped by `time_limit_s`
    (seconds) still returns one (possibly -inf). Station Unity's displacement trade-off at 100 %:
    55,071,538 CR (the whole model's LP: 55,071,521 with the tie-breaks, in 2 to 3 times the time)
    against 123 s for the MIP, whose plan costs 55,436,518 (0.66 % above).
    `swaps`: the objective also charges the no-swap slacks (`swap_penalty` per person): a bound on cost
    plus swap penalty (`swap_penalty_paid` measures a plan's penalty the same way).
    `relocation_lp`: the same LP with its solution, for the re-plan that rounds it.
    """
    return relocation_lp(p, rel, time_limit_s, threads, swaps).bound


def swap_penalty_paid(p: Problem, rel: RelocationInputs, assignments: pd.DataFrame) -> float:
    """The swap penalty (currency) a plan that moves nobody pays in the relocation model's objective, or
    more: per converted site with residents, not a `repurpose` source, and scenario, `swap_penalty` per person of
    max(others coming in - max(capacity - own residents, 0), 0). `assignments`: room_id, scenario,
    site_id, residents (persons)."""
    a = assignments[(assignments["residents"] > 0)
                    & (assignments["room_id"].astype(str) != assignments["site_id"].astype(str))]
    if not len(a) or p.swap_penalty <= 0:
        return 0.0
    inn = a.groupby(["site_id", "scenario"])["residents"].sum()
    sid = inn.index.get_level_values(0).astype(str)
    sc = inn.index.get_level_values(1).astype(str)
    dem = p.demand
    own = np.array([float(dem.at[j, k]) if j in dem.index and k in dem.columns else 0.0 for j, k in zip(sid, sc)])
    cap = p.sites["capacity"].reindex(sid).fillna(0).to_numpy(dtype=float)
    v = np.maximum(inn.to_numpy(dtype=float) - np.maximum(cap - own, 0.0), 0.0)
    v[(own <= 0) | np.isin(sid, rel.sources.index[~_optional(rel.sources)].astype(str))] = 0.0   # `repurpose` sources: no row
    return float(p.swap_penalty * v.sum())


def bound_arrays(rm: RelocationModel, swaps: bool = False, corridor: bool = False) -> Arrays:
    """A relaxation of the relocation model `rm` whose LP bounds its plans' cost (currency).

    The objective is the cost alone: site costs plus what repurposing an `either` room adds (no walk
    tie-break, no cross-sector penalty, which are not part of the cost). The move columns m_ik go,
    and with them every row they are in (all residents of a repurposed room move out; p_iks <= m_ik;
    the beds of each host): each of those rows only restricts, so every plan of the model is a plan
    of the relaxation with the same cost (drop its m). What stays: a repurposed room's occupants
    leave its demand rows and arrive in the demand rows of hosts it may send them to (p_iks, at most
    the host's spare beds each). The LP is about half the size of the model's (Unity: 65,000 fewer
    rows) and, on Unity, gives the same bound. `swaps`: the objective also charges the no-swap slacks;
    `corridor`: the corridor rows' slacks (without, those soft rows cost nothing and bound nothing)."""
    ar, c = rm.ar, rm.compiled
    cost = np.zeros(ar.A.shape[1])
    cost[:ar.nx] = c.cost
    opt = rm.src_x >= ar.nx                        # the `either` flags q (x columns come first)
    cost[rm.src_x[opt]] = rm.extra[opt]
    if swaps:   # and the no-swap slacks' penalty (a bound on cost plus penalty)
        cost[ar.vcol0:ar.vcol0 + ar.nv] = ar.c[ar.vcol0:ar.vcol0 + ar.nv]
    if corridor:   # and the corridor rows' slacks
        cost[ar.ucol0:ar.ucol0 + ar.nu] = ar.c[ar.ucol0:ar.ucol0 + ar.nu]
    A = ar.A.tocsc()
    m_cols = np.arange(rm.m_col0, rm.p_col0)
    base_rows = sum(ar.rows_by_kind.values())      # the base model's rows come first, untouched
    touched = np.diff(A[:, m_cols].tocsr().indptr) > 0
    keep_r = ~(touched & (np.arange(A.shape[0]) >= base_rows))
    keep_c = np.ones(A.shape[1], bool)
    keep_c[m_cols] = False
    return dataclasses.replace(ar, A=A[keep_r][:, keep_c].tocsc(), c=cost[keep_c], lo=ar.lo[keep_c], hi=ar.hi[keep_c],
                               integer=ar.integer[keep_c], row_lo=ar.row_lo[keep_r], row_hi=ar.row_hi[keep_r],
                               names=[], row_names=[])


def _infeasible_words(p: Problem, rel: RelocationInputs) -> str:
    """Why no plan exists with relocation, in words a director understands."""
    need = int(rel.sources["residents"].sum())
    spare = int(rel.hosts["spare"].sum())
    cap = "no limit" if rel.max_displaced is None else f"at most {rel.max_displaced:,}"
    return (f"No plan shelters everyone with the conversion modes as stated: repurposed rooms hold {need:,} "
            f"residents, rooms with spare beds take {spare:,}, and the displacement limit allows {cap}. "
            "Fix: declare `beds` (or [capacity] berth_area_m2) where there is room, raise [model] max_displaced, "
            "or set the quarters to dual_use in [model] modes.")
