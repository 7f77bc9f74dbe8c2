"""The pure cover path: the set-cover / max-cover model, then everyone to the nearest chosen site."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from planner.model.compile import Compiled
from planner.model.cover import assign_nearest, build_cover_model, cover_start
from planner.model.coversearch import cover_all_arrays, cover_all_search, cover_search
from planner.model.highs import integral_objective, integral_run, run_model
from planner.model.options import COVER_HIGHS_OPTIONS, SolveOptions, time_left
from planner.model.problem import INF, ModelInfeasible, Problem, Solution
from planner.model.result import finish


def solve_pure(p: Problem, o: SolveOptions, c: Compiled, start: list[str] | None, t_all: float, timings: dict[str, float],
                say: Callable[[str], None]) -> Solution:
    """Neither capacity nor door queue can bind: the pure set-cover / max-cover model on the sites
    (after removing dominated rows and sites), then everyone to the nearest chosen site. Raises
    `ModelInfeasible` when the model has no solution (the caller explains why)."""
    t = time.perf_counter()
    cm = build_cover_model(c, reduce=o.cover_reduce)
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
        start_vec = cover_start(c, cm, x0)
    t = time.perf_counter()
    highspy_ = not (o.solver_name == "cbc" or o.backend == "pulp")
    integral = integral_objective(ar)
    pulp_build = 0.0
    defaults = {**COVER_HIGHS_OPTIONS, "random_seed": int(o.seed)}
    if integral and highspy_:     # whole-unit objective: bound > incumbent - 1 proves the incumbent
        defaults["mip_abs_gap"] = 1.0 - 1e-6
    big = int((ar.hi[:c.J] > 0.5).sum()) >= o.cover_search_min_sites
    cover_rows = cover_all_arrays(ar, c.J) if highspy_ and o.cover_search and big and p.objective == "cover-all" \
        else None
    if highspy_ and o.cover_search and p.objective == "max-cover" and ar.nz == 0 and big:
        run, highs = cover_search(o, c, ar, start_vec if o.mip_start else None, t_all, stats)
    elif cover_rows is not None:
        run, highs = cover_all_search(o, c, ar, cover_rows, start_vec if o.mip_start else None, t_all,
                                       {**defaults, **o.highs_options}, stats)
    else:
        run, pulp_build = run_model(ar, o, time_left(o, t_all, 1.0, INF), start_vec if o.mip_start else None,
                               defaults=defaults)
        highs = run.seconds
    if integral:
        run = integral_run(run)
    stats["integral_objective"] = integral
    timings["mip_s"] = time.perf_counter() - t
    if pulp_build:
        timings["pulp_build_s"] = pulp_build
    values = run.values
    if values is None and run.status != "infeasible":
        if start_vec is not None:
            values = start_vec
        elif p.objective == "cover-all" and c.budget is None:
            values = cover_start(c, cm, np.maximum(ar.hi[:c.J], c.fixed1))  # every useful site: feasible
        else:
            values = cover_start(c, cm, c.fixed1.astype(float))
    if values is None:
        raise ModelInfeasible("the pure cover model")
    primary = dict(objective=run.objective, bound=run.bound, gap=run.gap, status=run.status)
    x = (values[:c.J] > 0.5).astype(float)
    if p.objective == "max-cover" and o.lexicographic:
        v1 = cover_start(c, cm, x)
        cover = float(cm.row_weight @ v1[cm.ucol0:])
        remaining = time_left(o, t_all, 1.0, INF)
        t = time.perf_counter()
        cm2 = build_cover_model(c, reduce=o.cover_reduce, stage2=True, cover_at_least=cover - 1e-6)
        v2 = cover_start(c, cm2, x)
        run2, _ = run_model(cm2.ar, o, min(remaining, max(5.0, 0.1 * o.limit_s)), v2, defaults=COVER_HIGHS_OPTIONS)
        timings["stage2_s"] = time.perf_counter() - t
        highs += run2.seconds
        if run2.values is not None and (c.cost @ (run2.values[:c.J] > 0.5)) <= c.cost @ x + 1e-6:
            x2 = (run2.values[:c.J] > 0.5).astype(float)
            if float(cm.row_weight @ cover_start(c, cm, x2)[cm.ucol0:]) >= cover - 1e-6:
                x = x2
        stats["stage2"] = dict(status=run2.status, cost=float(c.cost @ x), bound=run2.bound, gap=run2.gap)
    t = time.perf_counter()
    vf, arf = assign_nearest(c, x)
    timings["assign_s"] = time.perf_counter() - t
    stats["highs_s"] = round(highs, 3)
    return finish(c, p, o, x, vf, arf, run, primary, stats, timings, t_all, say)

