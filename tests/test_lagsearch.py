"""Maximum flows started from a known flow (planner.model.lagsearch) against flows from nothing.

- `augment_flow` from any flow that fits the sites (none, half of the maximum, the maximum of fewer
  sites) shelters exactly as many persons as `shelter_flow`, which is checked against the brute-force
  assignment in test_lagrange; its flow keeps every capacity and door-queue row, and its minimum cuts
  (the groups the source still reaches) are `shelter_flow`'s;
- `close_warm` returns a plan that shelters everyone with a flow that keeps every row, never costlier.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from planner.model.lagrange import flow_vector, residual_demand, shelter_flow
from planner.model.lagsearch import augment_flow, close_warm
from test_lagrange import _rows_hold, compiled
from test_model_bruteforce import random_instance


def _keeps_rows(c, x, Y) -> bool:
    c2 = replace(c, objective="max-cover", w=np.ones(c.G), m=np.zeros_like(c.m), budget=None)
    v, ar = flow_vector(c2, x, Y)
    return _rows_hold(ar, v)


@pytest.mark.parametrize("seed", range(16))
def test_augment_flow_reaches_the_maximum_from_any_start(seed: int) -> None:
    inst = random_instance(seed, n_rooms=14, n_sites=10, n_scen=2)
    c = compiled(inst)
    rng = np.random.default_rng(seed)
    x0 = (rng.uniform(size=c.J) < 0.4).astype(float)
    x = np.maximum(x0, (rng.uniform(size=c.J) < 0.5).astype(float))       # x0's sites and more
    cuts: list = []
    Y = shelter_flow(c, x, cuts)
    starts = [np.zeros_like(Y), Y // 2, shelter_flow(c, x0), Y]
    for Y0 in starts:
        cuts2: list = []
        Y2, short = augment_flow(c, x, Y0, cuts2)
        assert short == -1
        assert Y2.sum() == Y.sum()
        assert (Y2 >= 0).all() and (Y2[x[c.qj] < 0.5] == 0).all()
        assert _keeps_rows(c, x, Y2)
        assert [(s, list(g)) for s, g in cuts2] == [(s, list(g)) for s, g in cuts]
    # a start with flow at sites closed since: their pairs are left out
    x1 = x.copy()
    x1[np.flatnonzero(x > 0.5)[:1]] = 0.0
    Y3, _ = augment_flow(c, x1, Y)
    assert Y3.sum() == shelter_flow(c, x1).sum()
    assert (Y3[x1[c.qj] < 0.5] == 0).all() and _keeps_rows(c, x1, Y3)
    # scenarios in a given order, stopping at the first that leaves someone without a place
    res = residual_demand(c, x1, Y3).sum(axis=0)
    _, short = augment_flow(c, x1, Y, scen_order=[1, 0])
    assert short == (1 if res[1] > 0 else 0 if res[0] > 0 else -1)


@pytest.mark.parametrize("seed", range(12))
def test_close_warm_keeps_everyone_sheltered(seed: int) -> None:
    inst = random_instance(seed, n_rooms=14, n_sites=10, n_scen=2)
    c = compiled(inst)
    x = np.ones(c.J)
    Y = shelter_flow(c, x)
    if residual_demand(c, x, Y).sum() > 0:
        pytest.skip("no full cover exists")
    order = np.argsort(-c.cost)
    x2, Y2, st = close_warm(c, x, Y, order, time.perf_counter() + 30.0, batch=2)
    assert residual_demand(c, x2, Y2).sum() == 0
    assert Y2.sum() == c.D.sum() and _keeps_rows(c, x2, Y2)
    assert c.cost @ x2 <= c.cost @ x
    assert st["closed"] == int((x - x2).sum())
    # every site left open is needed: closing any one alone leaves someone without a place
    for j in np.flatnonzero(x2 > 0.5):
        x3 = x2.copy()
        x3[j] = 0.0
        assert residual_demand(c, x3).sum() > 0 or c.cost[j] == 0
