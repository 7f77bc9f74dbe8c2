"""The cover-all start plan by maximum flows (planner.model.flowsearch) against independent LPs.

- `FlowCheck` says a site subset shelters everyone exactly when an assignment LP written from the
  definitions does: with door queues and the no-swap rule held hard (`test_capcuts.sheltered_no_swap`),
  and with exit-door rows (the feasibility LP of `test_exitdoor`), over site subsets of random instances;
- `flow_drop` returns a plan that fits, from which no single site can be closed, and None when its start
  does not fit;
- `solve` takes the path (cover-all) and agrees with brute force at gap 0, and gives the same cost with
  the option off.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from scipy.optimize import linprog
from test_capcuts import in_model_order, instance, problem, sheltered_no_swap
from test_exitdoor import exit_instance
from test_model_bruteforce import assignment_value, brute_force

import planner.model as M
from planner.model.flowsearch import FlowCheck, applies, flow_drop
from planner.progress import set_quiet

set_quiet(True)


def _fits(inst, c: M.Compiled, chosen: np.ndarray, most: float) -> bool:
    """From the definitions: the sites `chosen` (model order) shelter, with the no-swap rule, as many as
    every site does (`most`), and everyone without it (an assignment exists)."""
    mine = in_model_order(inst, c, chosen)
    return (sheltered_no_swap(inst, mine) >= most - 1e-6
            and assignment_value(inst, mine, np.zeros(len(inst["room_ids"]), int), True) is not None)


@pytest.mark.parametrize("seed", range(5))
def test_flow_check_agrees_with_the_no_swap_lp(seed: int) -> None:
    inst = instance(seed)
    c = M.compile_problem(problem(inst, no_swap=True))
    assert applies(c) and c.swap_rule
    fc = FlowCheck(c)
    most = sheltered_no_swap(inst, np.ones(len(inst["site_ids"]), bool))
    rng = np.random.default_rng(seed)
    fits = 0
    for _ in range(24):
        chosen = np.maximum(rng.uniform(size=c.J) < rng.uniform(0.4, 0.9), np.asarray(c.fixed1, bool))
        want = _fits(inst, c, chosen, most)
        assert (fc.short(chosen.astype(float)) < 0) == want
        fits += want
    assert 0 < fits < 24     # both answers occur


def test_flow_check_with_forced_swaps() -> None:
    """Instances where even every site open leaves someone without a place under the no-swap rule (a room
    that is a site is full with its own residents and another room reaches only it): a plan fits when it
    shelters as many under the rule as every site does and everyone without it."""
    seen = 0
    for seed in range(40):
        inst = instance(seed)
        inst["capacity"][0] = max(int(inst["demand"][0].max()), 1)
        inst["times"][2, :] = np.inf
        inst["times"][2, 0] = 5.0
        inst["demand"][2] = np.maximum(inst["demand"][2], 1)
        c = M.compile_problem(problem(inst, no_swap=True))
        if c.J < 3:
            continue
        fc = FlowCheck(c)
        if not fc.forced.any() or assignment_value(inst, np.ones(len(inst["site_ids"]), bool),
                                                   np.zeros(len(inst["room_ids"]), int), True) is None:
            continue
        seen += 1
        most = sheltered_no_swap(inst, np.ones(len(inst["site_ids"]), bool))
        for x in itertools.product((False, True), repeat=c.J):
            chosen = np.maximum(np.array(x), np.asarray(c.fixed1, bool))
            assert (fc.short(chosen.astype(float)) < 0) == _fits(inst, c, chosen, most), (seed, x)
        if seen >= 3:
            break
    assert seen >= 3


def _fits_exit_lp(d, open_: np.ndarray) -> bool:
    """Everyone placed within capacity and the per-(room, door) caps (an LP from the definitions)."""
    dem, walk_ok, door, cap, K = d["dem"], d["walk_ok"], d["door"], d["cap"], d["K"]
    n, m = walk_ok.shape
    S = dem.shape[1]
    var = [(i, j, s) for s in range(S) for i in range(n) for j in range(m) if walk_ok[i, j] and open_[j]]
    if not var:
        return not dem.sum()
    A_eq = np.zeros((n * S, len(var)))
    for v, (i, _j, s) in enumerate(var):
        A_eq[s * n + i, v] = 1
    rows = [[1.0 if (vj == j and vs == s) else 0.0 for (_, vj, vs) in var] for j in range(m) for s in range(S)]
    b = [float(cap[j]) for j in range(m) for _ in range(S)]
    for (i, dd), kk in K.items():
        for s in range(S):
            rows.append([1.0 if (vi == i and vs == s and door[vi, vj] == dd) else 0.0 for (vi, vj, vs) in var])
            b.append(kk)
    res = linprog(np.zeros(len(var)), A_ub=np.array(rows), b_ub=np.array(b), A_eq=A_eq,
                  b_eq=dem.T.ravel().astype(float), bounds=(0, None), method="highs")
    return bool(res.status == 0)


@pytest.mark.parametrize("seed", range(6))
def test_flow_check_knows_exit_door_rows(seed: int) -> None:
    p, d = exit_instance(seed)
    c = M.compile_problem(p)
    assert applies(c) and len(c.exit_id)
    fc = FlowCheck(c)
    for x in itertools.product((0.0, 1.0), repeat=c.J):
        xv = np.maximum(np.array(x), c.fixed1)
        open_ = np.isin(d["sid"], c.site_ids[xv > 0.5])
        assert (fc.short(xv) < 0) == _fits_exit_lp(d, open_), x


@pytest.mark.parametrize("seed", range(4))
def test_flow_drop_gives_a_plan_from_which_no_site_closes(seed: int) -> None:
    inst = instance(seed, n_rooms=12, n_sites=9)
    c = M.compile_problem(problem(inst, no_swap=True))
    fc = FlowCheck(c)
    everything = np.ones(c.J)
    if fc.short(everything) >= 0:
        x, info = flow_drop(c, everything, np.arange(c.J), time.perf_counter() + 10)
        assert x is None and not info["fits"]
        return
    order = np.argsort(-c.cost)
    x, info = flow_drop(c, everything, order, time.perf_counter() + 10)
    assert x is not None and info["fits"] and fc.short(x) < 0
    for j in np.flatnonzero((x > 0.5) & ~np.asarray(c.fixed1, bool) & (c.cost > 0)):
        x2 = x.copy()
        x2[j] = 0.0
        assert fc.short(x2) >= 0
    assert info["cost"] == pytest.approx(float(c.cost @ x))


@pytest.mark.parametrize("seed", range(4))
def test_solve_with_the_flow_start_matches_brute_force(seed: int) -> None:
    inst = instance(seed)
    p = problem(inst, no_swap=False, mip_gap=0.0, time_limit_s=20)
    best = brute_force(inst, "cover-all", None, 1)
    opts = M.SolveOptions(capacity_cuts=False)      # the LP path itself
    if best is None:
        return
    on = M.solve(p, progress=False, options=opts)
    off = M.solve(p, progress=False, options=opts.replace(flow_start=False))
    assert on.stats["flow_drop"]["fits"] and "flow_drop" not in off.stats
    assert on.stats["cost"] == pytest.approx(best[0][0])
    assert off.stats["cost"] == pytest.approx(best[0][0])
