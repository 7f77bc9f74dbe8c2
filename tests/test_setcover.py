"""Random covers for set covering (planner.model.setcover): every cover is feasible and has no redundant site.

Property tests on random 0/1 matrices with required counts of 1 or 2 per row, some unusable and
some fixed sites; the checks are written here, independently of the module.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.model.setcover import complete, drop_redundant, random_covers


def _instance(seed: int, m: int, n: int, density: float):
    rng = np.random.default_rng(seed)
    A = (rng.random((m, n)) < density)
    usable = rng.random(n) < 0.85
    usable[:2] = True
    for i in range(m):                     # every row gets at least two usable sites
        A[i, rng.choice(np.flatnonzero(usable), 2, replace=False)] = True
    req = np.where(rng.random(m) < 0.2, 2.0, 1.0)
    cost = np.round(rng.uniform(1, 10, n))
    fixed = usable & (rng.random(n) < 0.05)
    return sp.csr_matrix(A.astype(float)), req, usable, cost, fixed, rng


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), m=st.integers(1, 40), n=st.integers(3, 30),
       density=st.floats(0.02, 0.5))
def test_random_covers_are_feasible_and_irredundant(seed: int, m: int, n: int, density: float) -> None:
    A, req, usable, cost, fixed, rng = _instance(seed, m, n, density)
    x_lp = rng.random(n) * usable
    covers = random_covers(A, cost, req, usable, x_lp, rng.random(n), 5, rng, fixed)
    assert len(covers) == 5                          # every row can be served: no cover is dropped
    dense = A.toarray()
    for x in covers:
        assert x.dtype == bool and not (x & ~usable).any() and (x >= fixed).all()
        have = dense @ x
        assert (have >= req).all()
        for j in np.flatnonzero(x & ~fixed):         # closing any non-fixed open site breaks a row
            assert (have - dense[:, j] < req).any()


def test_complete_leaves_a_row_short_when_no_usable_site_serves_it() -> None:
    A = sp.csr_matrix(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]))
    usable = np.array([False, True, True])
    x = complete(A, sp.csr_matrix(A.T), np.ones(3), np.ones(2), usable, np.zeros(3, bool))
    assert x.tolist() == [False, True, False]        # row 0 stays short; row 1 by the first cheapest site


def test_drop_redundant_closes_the_most_expensive_first() -> None:
    # two sites cover the same single row: the dearer one closes
    A = sp.csr_matrix(np.array([[1.0, 1.0]]))
    x = np.array([True, True])
    drop_redundant(A, sp.csr_matrix(A.T), np.array([5.0, 2.0]), np.ones(1), x, np.random.default_rng(0))
    assert x.tolist() == [False, True]
