"""Tuning thresholds of the optimiser and the time budget."""

from __future__ import annotations

import time
from typing import Any

from planner.model.problem import Problem

COVER_HIGHS_OPTIONS: dict[str, Any] = {"mip_pool_soft_limit": 200, "mip_detect_symmetry": False}
"""HiGHS options for the pure cover model. Measured (LSCP, 3,000 rooms): the default cut pool
(10,000) costs about 100 MB of HiGHS memory on a 711 x 1,729 model; 200 cuts: 35 MB, and faster.
Symmetry detection off: 3 MB less on MCLP (3,000 rooms), no slower there."""

COVER_SEARCH_MIN_SITES = 1000
"""Pure cover models with at least this many usable sites go through a search instead of one MIP:
max-cover `cover_search` (LP, core MIP on the LP's support, reduced-cost fixing, then the MIP from the
core's plan), cover-all `cover_all_search` (LP, random covers, MIP over their union, proof attempts)."""

COVER_CORE_SHARE = 0.2
"""Share of the time limit for the core MIP of `cover_search`."""

COVER_SEARCH_OPTIONS: dict[str, Any] = {"mip_allow_restart": False}
"""HiGHS options for the MIPs of `cover_search`. Measured (MCLP, 10,000 rooms, p = 45, from the
optimal plan): 52 s with restarts (HiGHS restarts five times after its own reduced-cost fixing and
repeats the root's cut rounds, 5 to 12 s each), 13 s without."""

COVER_LP_OPTIONS: dict[str, Any] = {"simplex_strategy": 4}
"""The LP relaxation of the pure max-cover model by the primal simplex. Measured (MCLP, 10,000 rooms):
1.3 s against 3.4 s with the dual simplex, 2.5 s with the interior point method."""


COVER_ALL_POOL = 6
"""Random covers per small merge of `cover_all_search` (`planner.model.setcover.random_covers`)."""

COVER_ALL_MERGES = 6
"""Small merges per round of `cover_all_search`; their plans, and those of the rounds before, are
merged again."""

COVER_ALL_KEEP = 18
"""Plans of small merges kept for the round's big merge of `cover_all_search` (the newest; with the best
plan): about 400 to 500 sites, so that the big merge stays quick."""

COVER_ALL_ROUNDS = 20
"""Rounds of `cover_all_search` before the whole MIP gets the time left; the rounds stop at half the
time limit."""

COVER_ALL_SLICE_LP = 10.0
"""Time limit of each merge MIP and each proof attempt of `cover_all_search`, in LP relaxation times
(at least 2 s): a proof at the root node takes a few LP solves (measured, LSCP 10,000 rooms: LP
0.36 s, proof from an optimal plan 2.3 to 2.5 s at the root; from a plan one site worse, 30 s and
more)."""

COVER_ALL_SEED = 0
"""Seed of the random covers (the same station gives the same plan)."""

_CG_DEBUG = False
LAGRANGE_MIN_COLUMNS = 3_000_000
"""Assignment columns from which a cover-all model is solved through the Lagrangian relaxation
(`Problem.lagrangian`): 10,000 rooms have 1.3 M (their LP finishes in about a minute), 30,000 rooms 7.3 M."""
LAGRANGE_REPAIR_SHARE = 0.15
LAGRANGE_BUMP = 0.005
"""Price raise per round (share of the knapsack's price per place) for the residents the Lagrangian
sites cannot shelter, before the repair MIP. Measured at 10,000 rooms: 0.02 -> plan within 0.04 % of
the bound, 0.1 -> 1.2 %, 1.0 -> 3.6 % (too many sites open that the local search cannot close)."""
LAGRANGE_BUMP_ROUNDS = 20
LAGRANGE_LOCAL_SEARCH_SHARE = 0.5
"""Share of the time limit for the local search by flows on the Lagrangian path (`close_sites`;
the one-site-at-a-time local search of the LP path closed 0 to 1 site in 130 s at 30,000 rooms;
by flows, 42 s took the plan from 1,059.1 M to 1,056.1 M, gap 2.17 % -> 1.89 %)."""
LAGRANGE_REPAIR_PERSONS = 20
"""At most this many persons left without a place go straight to the repair MIP (a handful of
sites; a price raise would open more: measured at 10,000 rooms 2 persons -> 2 sites, the MIP 1)."""
LAGRANGE_BUMP_SHARE = 0.4
"""The price raising stops starting new rounds after this share of the time limit."""
"""Share of the time limit for the small MIP that completes the Lagrangian plan."""
COLGEN_MIN_COLUMNS = 100_000
"""Assignment columns from which the LP relaxation is solved by column generation."""
LP_SHARE = 0.6
"""Share of the time limit the heuristic's LP relaxation may take (it gives the bound and the guide;
measured at 10,000 rooms: dual simplex needs about 120 s, at a third of 180 s it stopped early)."""
WALL_MARGIN = 0.03
"""Share of the time limit kept free after the MIP for the whole-person assignment and the checks."""


def time_left(p: Problem, t_all: float, floor: float, cap: float) -> float:
    """Seconds a HiGHS run may take: at most `cap`, at most what is left of the time limit, at least `floor`."""
    return max(floor, min(cap, p.time_limit_s - (time.perf_counter() - t_all)))


