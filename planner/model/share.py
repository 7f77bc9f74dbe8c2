"""The expected share's ceiling: the most persons any plan can expect in time (issue 17).

`Problem.share_target` asks for the least-cost plan whose expected persons in time (residents
times each pair's probability, `Problem.share_pairs`) reach a share of every scenario's residents.
When no plan does, `most_expected_share` says how far it is: per scenario the largest expected share
with every candidate open (no budget: one LP, the exact most a fractional assignment reaches) or within
the budget (a MIP per scenario with whole sites: an LP relaxation would open a fraction of each room and
bound nothing), an upper bound on every plan of the model.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from planner.model.arrays import build_arrays
from planner.model.compile import compile_problem
from planner.model.constants import INF
from planner.model.highs import solve_highspy
from planner.model.options import SolveOptions
from planner.model.problem import Problem

__all__ = ["most_expected_share"]


def most_expected_share(problem: Problem, options: SolveOptions | None = None) -> dict[str, float]:
    """Per scenario (name -> share 0..1 of `share_residents`): an upper bound on the expected share of
    persons in time over every plan of `problem` (an expected-share problem, `Problem.share_on`) within
    its budget, its share row dropped: without a budget one LP maximising every scenario's expected
    persons (every candidate may open: exact for a fractional assignment); with a budget per scenario the
    MIP (whole sites; its proven bound when stopped by the time limit: seconds, the problem's per solve).
    A solve that ends without a bound gives 1 (no claim). Scenarios nobody lives in: 1."""
    if not problem.share_on:
        raise ValueError("most_expected_share needs an expected-share problem (share_target and share_pairs)")
    o = problem.solve_options(options)
    c = compile_problem(problem, o)
    res = problem.share_residents if problem.share_residents is not None else problem.demand.sum(axis=0)
    out: dict[str, float] = {}
    if c.G == 0 or not len(c.qg):
        return {s: (0.0 if float(res.get(s, 0.0)) > 0 else 1.0) for s in c.scen}
    ar = build_arrays(c, all_scen=True)
    row_hi = ar.row_hi.copy()
    row_hi[ar.share_rows] = INF                        # the row the target sets is what is maximised
    y = np.arange(ar.ycol0, ar.ycol0 + ar.ny)
    # without a budget every site may open: the scenarios do not compete, one LP maximises them all
    groups = [list(range(len(c.scen)))] if problem.budget is None else [[s] for s in range(len(c.scen))]
    for scen in groups:
        obj = np.zeros(ar.A.shape[1])
        mine = np.isin(ar.ys, scen)
        obj[y[mine]] = -c.share_p[ar.yq[mine], ar.ys[mine]]
        # with a budget the sites stay whole (an LP opens a fraction of each room it needs: no bound at all)
        mip = problem.budget is not None
        lp = dataclasses.replace(ar, c=obj, row_hi=row_hi, integer=ar.integer if mip else np.zeros_like(ar.integer))
        run = solve_highspy(lp, o.limit_s, 1e-4 if mip else 0.0, o.n_threads, None, o.msg, mip=mip)
        v = run.values if run.status == "optimal" and not mip else None
        for s in scen:
            name = c.scen[s]
            total = float(res.get(name, 0.0))
            got = float(c.share_p[ar.yq[ar.ys == s], s] @ v[y[ar.ys == s]]) if v is not None else (
                -float(run.bound) if len(scen) == 1 and np.isfinite(run.bound) else total)
            out[name] = 1.0 if total <= 0 else min(1.0, max(0.0, got / total))
    return out
