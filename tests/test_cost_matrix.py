"""`Problem.from_cost_matrix` validated: weights, unlimited capacity, clear errors, memory in any time unit."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from planner.errors import InputError
from planner.model import Problem, compile_problem, solve
from planner.progress import set_quiet

set_quiet(True)

INF = np.inf


def test_capacity_none_is_unlimited_and_cost_none_counts_sites() -> None:
    # 50 people, one site reaches all: unlimited capacity shelters everyone in it
    p = Problem.from_cost_matrix([30, 20], [[5.0, INF], [5.0, 7.0]], reach_s=10)
    c = compile_problem(p)
    assert c.uncapacitated and (c.cap >= 50).all()
    sol = solve(p, progress=False)
    assert sol.chosen == ["j0"] and sol.stats["cost"] == 1.0
    assert int(sol.assignments["residents"].sum()) == 50


def test_float_demand_is_a_weight_not_truncated() -> None:
    # max-cover with one site: 0.6 + 0.7 (site j1) beats 0.9 (site j0); truncated to int both were 0
    t = [[1.0, INF], [INF, 1.0], [INF, 1.0]]
    p = Problem.from_cost_matrix([0.9, 0.6, 0.7], t, reach_s=5, objective="max-cover", budget=1)
    sol = solve(p, progress=False)
    assert sol.chosen == ["j1"] and sol.solver["objective"] == pytest.approx(1.3)
    # with an explicit weight the two multiply
    p = Problem.from_cost_matrix([0.9, 0.6, 0.7], t, reach_s=5, objective="max-cover", budget=1,
                                 weight=[3.0, 1.0, 1.0])
    assert solve(p, progress=False).chosen == ["j0"]


def test_non_integer_demand_needs_unlimited_capacity_and_one_scenario() -> None:
    with pytest.raises(InputError, match="non-integer"):
        Problem.from_cost_matrix([1.5, 2.0], [[1.0], [1.0]], capacity=[10], reach_s=5)
    with pytest.raises(InputError, match="non-integer"):
        Problem.from_cost_matrix([[1.5, 1.0], [2.0, 2.0]], [[1.0], [1.0]], reach_s=5)
    with pytest.raises(InputError, match="negative"):
        Problem.from_cost_matrix([-1, 2], [[1.0], [1.0]], reach_s=5)


def test_shapes_are_checked() -> None:
    with pytest.raises(InputError, match="shape"):
        Problem.from_cost_matrix([1, 2, 3], [[1.0], [1.0]], reach_s=5)
    with pytest.raises(InputError, match="capacity"):
        Problem.from_cost_matrix([1, 2], [[1.0, 2.0], [1.0, 2.0]], capacity=[5], reach_s=5)


def test_no_coverable_demand_is_a_clear_error() -> None:
    # a matrix in milliseconds against a reach in seconds: nothing is in reach
    with pytest.raises(InputError, match="same unit"):
        Problem.from_cost_matrix([3, 4], [[12_000.0, 30_000.0], [45_000.0, 9_000.0]], reach_s=60)


def test_memory_does_not_grow_with_the_time_unit_without_door_queues() -> None:
    rng = np.random.default_rng(0)
    n, m = 300, 2000
    t_s = rng.uniform(0, 120, (n, m))
    peaks = []
    for scale in (1.0, 1000.0):                       # seconds, then milliseconds (60,001 bins a site)
        p = Problem.from_cost_matrix(rng.integers(1, 5, n), t_s * scale, capacity=np.full(m, 10),
                                     cost=np.ones(m), reach_s=60 * scale)
        tracemalloc.start()
        c = compile_problem(p)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert c.nb == int(60 * scale) + 1
    # a dense sites x bins matrix in milliseconds would take 2000 x 60,001 x 8 bytes = 960 MB
    assert peaks[1] < 2 * peaks[0] + 20e6, peaks


def test_groups_and_plan_do_not_depend_on_the_time_unit_or_bin_without_door_queues() -> None:
    """Without door queues the arrival bins play no part: rooms reaching the same sites form one group
    whatever the walks, so seconds, milliseconds and a 0.01 s bin give the same model and plan."""
    rng = np.random.default_rng(3)
    n, m = 40, 12
    reach = rng.uniform(size=(n, m)) < 0.3
    reach[np.arange(n), rng.integers(0, m, n)] = True
    reach[n // 2:] = reach[:n // 2]                   # every room has a twin with the same sites
    t_s = np.where(reach, rng.uniform(1, 59, (n, m)), np.inf)
    demand, cost = rng.integers(1, 5, n), np.round(rng.uniform(1, 3, m), 1)
    sizes, costs = set(), set()
    for scale, bin_s in ((1.0, 1.0), (1000.0, 1.0), (1.0, 0.01)):
        p = Problem.from_cost_matrix(demand, t_s * scale, capacity=np.full(m, 25), cost=cost,
                                     reach_s=60 * scale, queue_bin_s=bin_s, door_queue=False, mip_gap=0.0)
        c = compile_problem(p)
        sizes.add(c.G)
        costs.add(round(float(solve(p, progress=False).stats["cost"]), 6))
    assert len(sizes) == 1 and sizes.pop() <= n // 2
    assert len(costs) == 1
