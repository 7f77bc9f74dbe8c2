"""Sub-MIPs on windows of a Lagrangian plan (planner.model.lagwindow) against HiGHS on the full model.

Small random stations with exit-door rows (test_lagexit's):
- a window of every site and every group is the whole cover-all model: its plan costs exactly the optimum
  of HiGHS's MIP of the full model (gap 0);
- any window's plan, the rest of the flow fixed, shelters everyone within every row (capacity, door queue,
  exit door) and never costs more; the window search from a plan that shelters everyone likewise, and it
  improves some plans.
"""

from __future__ import annotations

import numpy as np
import pytest

import planner.model as M
from planner.model.lagrange import residual_demand, shelter_flow
from planner.model.lagwindow import solve_window, window, window_search
from test_lagexit import _keeps_rows, exact_optimum, exit_problem


def _start(seed: int) -> tuple[M.Problem, M.Compiled, np.ndarray, np.ndarray] | None:
    p = exit_problem(seed, n_rooms=10, n_sites=8 + seed % 4)
    c = M.compile_problem(p)
    x = np.ones(c.J)
    Y = shelter_flow(c, x)
    if residual_demand(c, x, Y).sum() > 0:
        return None                                   # no full cover exists
    return p, c, x, Y


@pytest.mark.parametrize("seed", range(10))
def test_a_window_of_everything_is_the_exact_optimum(seed: int) -> None:
    got = _start(seed)
    if got is None:
        pytest.skip("no full cover exists")
    p, c, x, Y = got
    opt = exact_optimum(p)
    x2, Y2, info = solve_window(c, x, Y, np.arange(c.J), np.arange(c.G), 30.0)
    if x2 is None:
        x2, Y2 = x, Y
    assert float(c.cost @ x2) == pytest.approx(opt, abs=1e-6 * max(1.0, opt))
    assert residual_demand(c, x2, Y2).sum() == 0 and _keeps_rows(c, x2, Y2)


def test_windows_keep_everyone_sheltered_and_never_cost_more() -> None:
    improved = 0
    for seed in range(12):
        got = _start(seed)
        if got is None:
            continue
        _, c, x, Y = got
        for j in np.flatnonzero(x > 0.5)[:4]:
            if Y[c.qj == j].sum() == 0:
                continue
            sites, groups = window(c, x, Y, int(j), max_groups=3, max_closed=2)
            assert j in sites and len(groups)
            x2, Y2, _ = solve_window(c, x, Y, sites, groups, 10.0)
            if x2 is None:
                continue
            improved += 1
            assert float(c.cost @ x2) < float(c.cost @ x)
            assert residual_demand(c, x2, Y2).sum() == 0 and _keeps_rows(c, x2, Y2)
        x3, Y3, out = window_search(c, x, Y, float("inf"), max_groups=4, max_closed=3)
        assert residual_demand(c, x3, Y3).sum() == 0 and _keeps_rows(c, x3, Y3)
        assert float(c.cost @ x3) <= float(c.cost @ x) + 1e-9 and out["windows"] >= 1
        improved += out["improved"] > 0
    assert improved >= 3
