"""spopt's San Francisco instance (205 tracts x 16 stores, radius 5,000 m, population weights) through
`Problem.from_cost_matrix`: LSCP 8 sites, MCLP with 4 sites 875,247 people (spopt's own test data,
`tests/data/spopt/`), and the same optima from an independent PuLP model written here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pulp
import pytest

from planner.model import Problem, solve
from planner.model.highs import HighsWithStart
from planner.progress import set_quiet

set_quiet(True)

DATA = Path(__file__).parent / "data" / "spopt"
RADIUS_M = 5000.0


@pytest.fixture(scope="module")
def sf() -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    dist = pd.read_csv(DATA / "sf_distance_m.csv", dtype={"tract": str}, index_col="tract")
    pop = pd.read_csv(DATA / "sf_population.csv", dtype={"tract": str}).set_index("tract")["population"]
    assert dist.shape == (205, 16) and (pop.index == dist.index).all()
    return dist.to_numpy(), pop.to_numpy(), list(dist.index), list(dist.columns)


def reference(A: np.ndarray, w: np.ndarray | None, p: int | None) -> float:
    """LSCP (w None: fewest sites covering every row) or MCLP (most weight covered by p sites)."""
    n, m = A.shape
    prob = pulp.LpProblem("ref", pulp.LpMinimize if w is None else pulp.LpMaximize)
    x = [prob.add_variable(f"x{j}", cat=pulp.LpBinary) for j in range(m)]
    if w is None:
        prob += pulp.lpSum(x)
        for i in range(n):
            prob += pulp.lpSum(x[j] for j in np.flatnonzero(A[i])) >= 1
    else:
        y = [prob.add_variable(f"y{i}", cat=pulp.LpBinary) for i in range(n)]
        prob += pulp.lpSum(float(w[i]) * y[i] for i in range(n))
        prob += pulp.lpSum(x) == p
        for i in range(n):
            prob += y[i] <= pulp.lpSum(x[j] for j in np.flatnonzero(A[i]))
    prob.solve(HighsWithStart(msg=False, start=False, gapRel=0.0))
    return float(pulp.value(prob.objective))


def test_lscp_eight_stores(sf) -> None:
    dist, _, tracts, stores = sf
    p = Problem.from_cost_matrix(np.ones(len(tracts)), dist, reach_s=RADIUS_M, room_ids=tracts, site_ids=stores,
                                 objective="cover-all", mip_gap=0.0)
    sol = solve(p, progress=False)
    assert len(sol.chosen) == 8 and sol.stats["cost"] == 8.0
    assert sol.solver["status"] == "optimal" and sol.solver["bound"] == pytest.approx(8.0)
    assert reference(dist <= RADIUS_M, None, None) == 8.0
    covered = (dist[:, np.isin(stores, sol.chosen)] <= RADIUS_M).any(axis=1)
    assert covered.all() and len(sol.unsheltered) == 0


@pytest.mark.parametrize("form", ["persons", "float weights", "weight argument"])
def test_mclp_four_stores_cover_875247_people(sf, form: str) -> None:
    dist, pop, tracts, stores = sf
    if form == "persons":            # population as whole persons, unlimited capacity
        kw: dict = dict(demand=pop)
    elif form == "float weights":    # population as (non-integer) weights: each tract one person
        kw = dict(demand=pop / 1000.0)
    else:                            # one person per tract, weighted by its population
        kw = dict(demand=np.ones(len(pop)), weight=pop.astype(float))
    p = Problem.from_cost_matrix(times=dist, reach_s=RADIUS_M, room_ids=tracts, site_ids=stores,
                                 objective="max-cover", budget=4, mip_gap=0.0, **kw)
    sol = solve(p, progress=False)
    assert len(sol.chosen) == 4
    scale = 1000.0 if form == "float weights" else 1.0
    assert sol.solver["objective"] * scale == pytest.approx(875_247.0)
    assert sol.solver["status"] == "optimal"
    covered = (dist[:, np.isin(stores, sol.chosen)] <= RADIUS_M).any(axis=1)
    assert int((~covered).sum()) == 21                    # spopt's n_cli_uncov
    assert float(pop[covered].sum()) == 875_247.0
    assert reference(dist <= RADIUS_M, pop, 4) == 875_247.0
