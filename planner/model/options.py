"""How a problem is solved: `SolveOptions` (algorithm switches, time limit, gap, threads, solver and
backend, tuning thresholds), the fixed tuning constants, and the time budget (`time_left`)."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import pulp

from planner.errors import InputError


@dataclass(frozen=True)
class SolveOptions:
    """How the optimiser solves a `Problem` (the model it solves is the problem's: these switches change
    the time taken, never the meaning of a plan). Every lever is on by default: each was measured to
    help (bench/bench_model.py, docs/performance.md); switching one off is for measurements.

    Parameters
    ----------
    time_limit_s, mip_gap, threads, solver
        Time limit (seconds), relative optimality gap (fraction), HiGHS threads, and the solver
        ("highs", "cbc"; with the PuLP backend any solver PuLP knows, see `pulp.listSolvers()`).
        None: the problem's own (`Problem.time_limit_s`, ...: the station's parameters).
    backend
        "highspy": the arrays passed to HiGHS in bulk (fast, the default); "pulp": the same model
        built as a PuLP `LpProblem` and solved through PuLP (always so for CBC).
    msg
        Show the solver's log.
    highs_options
        Extra HiGHS options for the MIP (e.g. {"mip_heuristic_effort": 0.3}).
    aggregate
        Rooms with identical reach (sites, arrival bins, shelter in place) and priority form one group.
    use_heuristic
        Build a start plan (LP-guided rounding and local search, or a greedy).
    tighten
        Add every row y <= min(d, q) x. Measured: same LP bound on generated stations (cover-all), LP
        2.5x slower.
    tighten_max_cover_below
        max-cover models with fewer assignment columns than this get every tightening row (as
        `tighten`) instead of the lazy rounds. Measured (generated 300-room stations, budgets at 25, 50
        and 75 % of the full-cover cost, 10 s): bound 2.3 % instead of 4.3 % above the plan (seed 2,
        25 %), proven optimal instead of 1.1 % (seed 2, 75 %), plan 890 instead of 867 persons (seed 3,
        25 %). Station Unity's what-ifs (about 390,000 columns) are above it. Lowered from 100,000 to
        40,000 (issue 21): on the generated 1,000-room stations (56,000 to 62,000 columns) the rows made the
        LP 5 times slower (14.5 s against 2.9 s, load 4) for the same bound, and it did not finish within
        the time limit: the solves reported no bound (docs/performance.md).
    max_cover_small_below
        max-cover models with fewer assignment columns than this are small: their LP relaxation may
        take `MAX_COVER_LP_SHARE` of the time limit, their least-cost second stage `STAGE2_SMALL_SHARE` of
        the first stage's time (none under 1 s), none when the LP did not finish. Station Unity's what-ifs
        are above it.
    mip_start
        Hand the start plan to HiGHS (else it is kept only as a fallback and for the gap test).
    queue_prune
        Queue rows only at bins where the door limit is below capacity and can bind.
    scenario_reduce
        Merge identical scenarios; drop (cover-all) scenarios implied by another.
    lazy_tighten
        Add only the tightening rows the LP relaxation violates (a few rounds).
    lp_colgen
        Solve the LP relaxation by column generation on the assignment columns when there are at
        least `colgen_min_columns`. Measured at 10,000 rooms: 58 s to the LP optimum, against no
        optimum after 200 s of HiGHS's dual simplex on all 1.3 M assignment columns.
    lagrangian
        Cover-all models with at least `lagrange_min_columns` assignment columns (30,000 rooms), where
        one LP relaxation does not finish in time: bound and start plan from the Lagrangian relaxation
        of the demand rows (`planner.model.lagrange`). Measured: see docs/performance.md.
    lp_guide
        Start from the LP relaxation: its support (cover-all) or an LP-weighted greedy (max-cover).
    warm_branch
        Let HiGHS branch after an LP relaxation started warm (`solve(warm=)`: a corridor round's re-solve,
        column generation on a large model). Off: the start plan is the round's plan, with the LP bound
        as its proof. Measured on Station Unity (309,000 columns): in none of 9 solves did HiGHS's MIP
        improve on the start plan within the 9 to 34 s it had (its presolve and root LP on all columns
        alone take about that), so a round ends when its LP and start plan are done
        (docs/performance.md).
    cold_branch
        Let HiGHS branch after a cold LP relaxation by column generation (large models). Off: a cover-all
        solve keeps its start plan with the LP bound, as after a warm LP (`warm_branch`); a max-cover solve
        (a budget's fallback) still branches. `planner.pipeline.plan_station` turns it
        off for the first solve of cover-all corridor rounds, whose plan each round re-plans (round 0).
        Measured on Station Unity: that solve branched for 34 s, 0 nodes, the start plan and the LP bound
        unchanged (and in the three sessions before: 25 to 40 s, no better plan).
    start_lp
        With a start plan (`solve(start=)`), solve the LP relaxation first, for the bound, as with a warm
        start (`solve(start=, warm=)`): the plan of the last run on the same inputs (`planner.reuse`), whose
        model has no LP basis to hand over (max-cover), is then kept like that run's own round kept it
        (LP unfinished: the start plan with the LP's dual bound; within the gap: no branching) instead of
        HiGHS branching from it for the whole time limit.
    lexicographic
        max-cover: a second solve for least cost at the coverage found.
    pure_cover
        When no capacity and no door queue can bind, solve the pure set-cover / max-cover model on
        the sites alone and send people to their nearest chosen site.
    cover_reduce
        Pure cover model: drop dominated cover rows and dominated sites before HiGHS.
    cover_search
        Pure cover models with at least `cover_search_min_sites` usable sites go through a search
        (`planner.model.coversearch`). Measured (MCLP, 10,000 rooms, p = 45): 15.2 s against 53.7 s.
    lagrange_min_columns, colgen_min_columns, cover_search_min_sites
        The thresholds above (assignment columns; usable sites).
    relocation_round_min_columns
        The displacement trade-off re-plans a relocation model with at least this many assignment columns
        (the proposal's model pairs times its scenarios, an upper bound) by rounding its LP relaxation
        (`planner.model.relocround`), as the main path keeps a large model's rounded plan with its LP bound,
        instead of one MIP of the whole model: on Station Unity (127,346 pairs, 3 scenarios) that MIP found
        nothing cheaper than the proposal in 60 or 240 s, the rounding a plan 2.6 % cheaper with fewer swaps
        in about 10 s. Smaller models keep the exact MIP.
    colgen_max_cover_min_columns
        max-cover models without every tightening row (`tighten_max_cover_below`) solve their LP relaxation by
        column generation from this many assignment columns (cover-all from `colgen_min_columns`). Measured
        (generated 1,000-room stations, 57,000 to 62,000 columns, 5 budgets, load 4): 0.9 to 2.6 s instead of
        1.3 to 3.3 s, the same plans; cover-all's LP there is slower by column generation (2.7 against 1.6 s).
    capacity_cuts
        Cover-all models with fewer assignment columns than `capacity_cuts_below` are first solved by
        capacity cuts (`planner.model.capcuts`: a MIP over the sites alone with the capacity knapsack and
        the Hall rows of maximum flows, for at most `cut_share` of the time limit); a plan it proves within
        the gap is the answer, else its plan and bound join the LP path's. Measured (generated 300-room
        stations, seeds 1-5): every seed proven within 0.06 % in 0.05 to 4 s (load 7), where the LP path
        stopped 1.1 to 2.1 % from its bound at 10 s (docs/performance.md). Below 40,000 columns (the
        300-room stations have 16,000 to 23,000): on the 1,000-room ones (56,000 to 62,000) the rounds do
        not fit everyone in 20 s and their time was lost to the LP path (gap 8.7 % instead of 8.1 % at
        seed 3, 10 s).
    flow_start
        Cover-all models the capacity cuts describe (`capcuts.applies`: no budget, corridor, exit-door or
        expected-share rows) start from the LP's support with its sites closed one at a time while a maximum
        flow still shelters everyone with no swap (`planner.model.flowsearch`), instead of the rounding at
        thresholds and the greedy local search, below `flow_start_below` assignment columns (the generated
        1,000-room stations have 56,000 to 62,000; Station Unity's first solve, 276,927, keeps its path: there
        the flows were not measured against the rounding). Measured: docs/performance.md.
    reduced_cost_fixing
        Before HiGHS branches (LP path, the whole LP relaxation solved to optimality), fix the sites that the LP's
        reduced costs say no plan better than the start can change (`lppath._fix_by_reduced_cost`).
    mc_swap
        max-cover start plans (LP path, below `mc_swap_below` assignment columns): from the greedy's plan, a
        swap search with exact (warm) assignments opens one site, or closes one and opens one or two of the
        `mc_swap_candidates` closed sites the LP likes best, while the weighted coverage rises, until
        `mc_swap_share` of the time limit (`planner.model.mcswap`). Station Unity's solves (270,000 columns
        and more) are above `mc_swap_below`. Measured: docs/performance.md.
    budget_lagrangian
        max-cover models with a budget below `budget_lagrangian_below` assignment columns (LP path): the LP bound
        raised by a Lagrangian that keeps the budget whole (the rows joining sites priced at the LP's duals, a 0/1
        knapsack over the budget; `planner.model.budgetlag`), before the swap search and the MIP. Station Unity's
        models (276,927 columns and more) are above `budget_lagrangian_below`. Measured: docs/performance.md.
    budget_lagrangian_fixing
        Also keep closed, when HiGHS branches, the sites the Lagrangian rules out for any plan as good as the start
        (off: measured on a quiet machine, generated 300 rooms seed 4 at 25 and 75 %, HiGHS took 2.0 and 2.3 s with
        those 3 and 4 sites more closed, 0.27 and 0.63 s without).
    lp_share
        Share of the time limit the heuristic's LP relaxation may take (it gives the bound and the
        guide; measured at 10,000 rooms: dual simplex needs about 120 s, at a third of 180 s it stopped).
    wall_margin
        Share of the time limit kept free after the MIP for the whole-person assignment and the checks.
    stage2_timed_from
        max-cover's least-cost second stage is shortened or skipped by the first stage's time
        (`STAGE2_SMALL_SHARE`, small models) only from this many assignment columns (the generated 300-room
        stations have 16,000 to 23,000). Below it the stage runs as on quick models: it takes milliseconds
        there, and the rule by the clock made the same inputs give other plans at other loads (a 40-room
        station of 1,060 columns at load 8: its first stage over 1 s, the stage skipped, a dearer plan than
        at a quiet moment; the sweep's local and Dask runs then differed).
    cover_budget
        A budget (currency) that a cover-all solve without one is only compared with (`orchestrate.solve` of a
        cover-all within a budget solves it without the budget first): when the LP bound already exceeds it, the
        answer is known (no plan within the budget shelters everyone) and, when its LP relaxation was solved by
        column generation (a large model), the start plan is kept with the LP bound, no branching: it only says
        what full cover would cost. A Station Unity what-if at 56.6 M CR spent 39 s branching there in a
        corridor round (its LP bounded every plan at 56.9 M).
    seed
        Seed of the randomised parts of the pure cover searches: the random covers of the set-cover
        search, and HiGHS's own `random_seed` in the pure cover models (the same seed gives the same
        plan; the bench varies it to report the worst seed). Exception: the set-cover search with 2
        or more threads races two workers, so which of several plans of the same cost it returns may
        depend on timing (a proven optimum's cost does not).
    """

    time_limit_s: float | None = None
    mip_gap: float | None = None
    threads: int | None = None
    solver: str | None = None
    backend: str = "highspy"
    msg: bool = False
    highs_options: dict[str, Any] = field(default_factory=dict)
    aggregate: bool = True
    use_heuristic: bool = True
    tighten: bool = False
    mip_start: bool = True
    queue_prune: bool = True
    scenario_reduce: bool = True
    lazy_tighten: bool = True
    lp_colgen: bool = True
    lagrangian: bool = True
    lp_guide: bool = True
    warm_branch: bool = False
    cold_branch: bool = True
    start_lp: bool = False
    lexicographic: bool = True
    pure_cover: bool = True
    cover_reduce: bool = True
    cover_search: bool = True
    lagrange_min_columns: int = 3_000_000
    colgen_min_columns: int = 100_000
    relocation_round_min_columns: int = 100_000
    colgen_max_cover_min_columns: int = 40_000
    tighten_max_cover_below: int = 40_000
    max_cover_small_below: int = 100_000
    cover_search_min_sites: int = 1000
    capacity_cuts: bool = True
    capacity_cuts_below: int = 40_000
    cut_share: float = 0.2
    flow_start: bool = True
    flow_start_below: int = 100_000
    reduced_cost_fixing: bool = True
    mc_swap: bool = True
    mc_swap_below: int = 100_000
    mc_swap_candidates: int = 12
    mc_swap_share: float = 0.1
    budget_lagrangian: bool = True
    budget_lagrangian_below: int = 100_000
    budget_lagrangian_fixing: bool = False
    lp_share: float = 0.6
    wall_margin: float = 0.03
    stage2_timed_from: int = 10_000
    cover_budget: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.backend not in ("highspy", "pulp"):
            raise InputError("<solve options>", "backend", f"is {self.backend!r}", "use 'highspy' or 'pulp'")
        if self.solver is not None and self.backend == "highspy" and self.solver not in ("highs", "cbc"):
            raise InputError("<solve options>", "solver", f"is {self.solver!r}",
                             "use 'highs' or 'cbc' (other PuLP solvers with backend='pulp')")
        if self.backend == "pulp" and self.solver not in (None, "highs", "cbc"):
            available = pulp.listSolvers(onlyAvailable=True)
            if self.solver not in available:
                raise InputError("--pulp-solver", str(self.solver), "is not a solver PuLP can run here",
                                 "use highs, cbc or one of " + ", ".join(available))
        if self.time_limit_s is not None and not self.time_limit_s > 0:
            raise InputError("<solve options>", "time_limit_s", f"is {self.time_limit_s}", "use a positive number of seconds")
        if self.mip_gap is not None and not 0 <= self.mip_gap < 1:
            raise InputError("<solve options>", "mip_gap", f"is {self.mip_gap}", "use a fraction in [0, 1)")
        if self.threads is not None and self.threads < 1:
            raise InputError("<solve options>", "threads", f"is {self.threads}", "use 1 or more")

    def with_defaults(self, time_limit_s: float, mip_gap: float, threads: int, solver: str) -> SolveOptions:
        """These options with every unset value (None) taken from the given defaults (a problem's
        station parameters: time limit in seconds, relative gap as a fraction, HiGHS threads, solver
        name; `Problem.solve_options` passes its own)."""
        return dataclasses.replace(
            self, time_limit_s=float(time_limit_s if self.time_limit_s is None else self.time_limit_s),
            mip_gap=float(mip_gap if self.mip_gap is None else self.mip_gap),
            threads=int(threads if self.threads is None else self.threads),
            solver=str(solver if self.solver is None else self.solver))

    def replace(self, **changes: Any) -> SolveOptions:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @property
    def limit_s(self) -> float:
        """The time limit (seconds; 60 when unset and not taken from a problem)."""
        return float(self.time_limit_s) if self.time_limit_s is not None else 60.0

    @property
    def gap(self) -> float:
        """The relative optimality gap (fraction; 0.01 when unset)."""
        return float(self.mip_gap) if self.mip_gap is not None else 0.01

    @property
    def n_threads(self) -> int:
        """HiGHS threads (2 when unset)."""
        return int(self.threads) if self.threads is not None else 2

    @property
    def solver_name(self) -> str:
        """The solver ("highs" when unset)."""
        return str(self.solver) if self.solver is not None else "highs"

    @property
    def uses_pulp(self) -> bool:
        """Whether models go through PuLP (the PuLP backend, or CBC)."""
        return self.backend == "pulp" or self.solver_name == "cbc"



COVER_HIGHS_OPTIONS: dict[str, Any] = {"mip_pool_soft_limit": 200, "mip_detect_symmetry": False}
"""HiGHS options for the pure cover model. Measured (LSCP, 3,000 rooms): the default cut pool
(10,000) costs about 100 MB of HiGHS memory on a 711 x 1,729 model; 200 cuts: 35 MB, and faster.
Symmetry detection off: 3 MB less on MCLP (3,000 rooms), no slower there."""


COVER_CORE_SHARE = 0.2
"""Share of the time limit for the core MIP of `cover_search`."""

COVER_SEARCH_OPTIONS: dict[str, Any] = {"mip_allow_restart": False}
"""HiGHS options for the MIPs of `cover_search`. Measured (MCLP, 10,000 rooms, p = 45, from the
optimal plan): 52 s with restarts (HiGHS restarts five times after its own reduced-cost fixing and
repeats the root's cut rounds, 5 to 12 s each), 13 s without."""

COVER_LP_OPTIONS: dict[str, Any] = {"simplex_strategy": 4}
"""The LP relaxation of the pure max-cover model by the primal simplex. Measured (MCLP, 10,000 rooms):
1.3 s against 3.4 s with the dual simplex, 2.5 s with the interior point method."""


MAX_COVER_LP_SHARE = 0.8
"""Share of the time limit the LP relaxation of a small max-cover model (below
`SolveOptions.max_cover_small_below` assignment columns) may take: without it the solve keeps the
greedy plan with a weak bound and the rest of the time is of no use (measured, generated 1,000-room
stations at 75 % of the full-cover cost, load 4 to 6: the LP took 5 to 6 s, more than 60 % of 10 s)."""

STAGE2_SMALL_SHARE = 0.25
"""max-cover's least-cost second stage on small models (below `SolveOptions.max_cover_small_below`
columns) may take this share of the first stage's time when that took 1 s or more; it is skipped when the
share is under 1 s (HiGHS's presolve and root take about that)."""


CUT_MASTER_GAP = 0.5
"""The capacity cuts' site MIP is solved to this share of the solve's gap (its plan must be within the
gap of the bound to be proven)."""


COVER_ALL_POOL = 6
"""Random covers per small merge of `cover_all_search` (`planner.model.setcover.random_covers`)."""

COVER_ALL_MERGES = 6
"""Small merges per round of `cover_all_search`; their plans, and those of the rounds before, are
merged again."""

COVER_ALL_KEEP = 18
"""Plans of small merges kept for the round's big merge of `cover_all_search` (the newest; with the best
plan): about 400 to 500 sites, so that the big merge stays quick."""

COVER_ALL_ROUNDS = 20
"""Rounds of `cover_all_search` before its searcher only makes proof attempts; the rounds stop
when a slice more would pass half the time limit."""

COVER_ALL_IDLE = 2
"""One worker: `cover_all_search`'s searcher makes a proof attempt after this many rounds in a row that
did not improve the best plan (the rounds go on after it)."""

COVER_ALL_SETTLE = 1
"""Two workers (`cover_all_search`): the best plan is settled once this many rounds (of either worker) begun
after it have ended without a better one; until then the second worker makes rounds of its own, then proof
attempts (a round is 2 to 3 s at 10,000 rooms on a quiet machine)."""

COVER_ALL_IDLE_PARALLEL = 8
"""With two workers (`cover_all_search`), the searcher makes a proof attempt after this many rounds in a
row that did not improve the best plan (the prover proves it meanwhile; the rounds go on after it).
Measured (LSCP 10,000 rooms, seed 1, load 4-6): after 2 (`COVER_ALL_IDLE`), its attempt spent 25 s on
a 91-site plan that its next round improved to 90; an attempt as soon as the plan settled (both workers
proving a 91-site plan, no rounds for 40 s) 108 s against 73-77 s; an attempt once 2 rounds begun after
the plan did not improve it, or after 4 idle rounds of its own: seed 11 at load 2 spent 26 s on a 91-site
plan its fifth round improved, 48.6 to 50.6 s in all."""

COVER_ALL_CORE_STALE = 16
"""With two workers and a core bound (`cover_all_search`), the prover makes rounds until the best plan has
outlived this many rounds (of either worker), then proof attempts: a plan the core bound does not prove is
more likely above the optimum than proven by an attempt (the core bound was the optimum on the 10,000-room
LSCP and on 23 of 24 small random covers), and an attempt on it holds a worker for 6 slices. Measured (LSCP
10,000 rooms, load 4-5): 90 after 2 to 8 rounds of either worker, the best plan 91 for up to 6 of them."""

COVER_ALL_SLICE_LP = 10.0
"""Time limit of each merge MIP of `cover_all_search`, and the unit of its proof attempts' limits
(`COVER_ALL_PROOF_STEPS`), in LP relaxation times (at least 2 s): a proof at the root node takes a few
LP solves (measured, LSCP 10,000 rooms: LP 0.36 s, proof from an optimal plan 2.3 to 2.5 s at the root
for the lucky HiGHS seeds; from a plan one site worse, 30 s and more)."""

COVER_ALL_PROOF_STEPS = (6, 12, 24)
"""Time limits of one worker's successive proof attempts in `cover_all_search`, in slices
(`COVER_ALL_SLICE_LP`; the last step repeats): a restart with a fresh HiGHS seed when an attempt runs
long. Measured (LSCP 10,000 rooms, from the optimal 90-site cover, 1 HiGHS thread,
`COVER_ALL_PROOF_OPTIONS`, CPU seconds at load 3-5): HiGHS seeds 0 to 12 proved it in 2.4 to 15.1 s
(mean 7.8), so the first attempt (6 slices, 22 s on a quiet machine) is rarely cut short; before, with
steps of 1, 2, 4, ... slices and HiGHS's strong branching, most attempts were stopped short of their proof."""

COVER_ALL_PROOF_OPTIONS: dict[str, Any] = {
    "mip_heuristic_effort": 0.0, "mip_heuristic_run_rins": False, "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False, "mip_heuristic_run_feasibility_jump": False,
    "mip_pscost_minreliable": 0}
"""HiGHS options for the proof attempts of `cover_all_search` (the merges find the plans; an attempt
needs the bound), and for the second run of `cover_search`'s final race. Measured (as above, seeds 0 to 5,
CPU seconds): with HiGHS's heuristics 4.2, more than 40, 4.4 and 30 s (seeds 0 to 3; sub-MIPs took 19
of seed 1's first 30 s at the root); without them 4.4, 22, 4.3, 14, 11 and more than 26 s. Without
HiGHS's reliability (strong) branching (`mip_pscost_minreliable` 0; measured 2026-12-07, CPU s, load
3-5): seeds 1, 3, 5, 7, 10 in 9.7, 15.1, 4.7, 9.9, 7.8 s instead of 12.8, 9.3, 18.8, 12.5, 12.3 s; the
seeds that prove at the root (0, 2) unchanged; every one of 13 seeds under 15.2 s (with it, 5 of 14 over
13 s). MCLP's final MIP (10,000 rooms, p = 45, from the optimal plan; HiGHS seeds 3 and 7922, CPU s):
14.8 and 9.3 s as before, 9.0 and 6.2 s without the heuristics, 9.6 and 7.4 s without strong branching."""

COVER_ALL_CORE_DUAL = 1e-9
"""`cover_all_search`'s core bound: the cover rows whose LP dual exceeds this (the rows the LP bound rests
on; the others may go without changing the LP bound). The MIP over those rows alone (every site) is a
relaxation of the whole model, so its bound is the whole model's. Measured (LSCP 10,000 rooms, 2,447 rows):
322 core rows, optimum 90 as the whole model's, proven at the root in 0.4 to 1.1 s CPU by each of HiGHS
seeds 0 to 7 (the whole model's proof: 2.4 to more than 15 s CPU by seed)."""

COVER_ALL_SEED = 0
"""Default seed of the random covers (`SolveOptions.seed`; the same station gives the same plan)."""

LAGRANGE_REPAIR_SHARE = 0.15
"""Share of the time limit for the small MIP that completes the Lagrangian plan."""
LAGRANGE_BUMP = 0.005
"""Price raise per round (share of the knapsack's price per place) for the residents the Lagrangian
sites cannot shelter, before the repair MIP. Measured at 10,000 rooms: 0.02 -> plan within 0.04 % of
the bound, 0.1 -> 1.2 %, 1.0 -> 3.6 % (too many sites open that the local search cannot close)."""
LAGRANGE_BUMP_ROUNDS = 20
LAGRANGE_BUMP_GROW = 1.5
"""The price raise grows by this factor after a round that left at least 80 % of the persons without a
place (or opened no site). Measured at 30,000 rooms (2026-12-07, from 2,086 persons without a place):
by 1.5, 14 rounds to 15 persons, repair 2 sites, 4,128 sites, 627.6 M; by 2, 9 rounds to 0 persons,
4,136 sites, 628.5 M; from 1 % by 1.2, 16 rounds, 4,130 sites, 627.7 M; by 1.5 down to 343 persons and
the repair MIP for them (41 s): 4,132 sites, 627.9 M. Without growth (before) the rounds ran out of
time with about 1,900 persons left and the repair MIP took 63 s (load 5)."""
LAGRANGE_LOCAL_SEARCH_SHARE = 1.0
"""Share of the time limit for the local search by flows on the Lagrangian path (`lagsearch.close_warm`;
it stops anyway when the time limit, less the margin for the rest, is reached). The one-site-at-a-time
local search of the LP path closed 0 to 1 site in 130 s at 30,000 rooms; by flows from nothing (3 s
then, 23 to 36 s per test on 2026-12-07's station), 42 s took the plan from 1,059.1 M to 1,056.1 M;
by flows started from the plan's (0.4 to 0.8 s per test, 2026-12-07), 100 s took 628.5 M to 621.0 M."""
LAGRANGE_LOCAL_SEARCH_PATIENCE = 60
"""A pass of the local search by flows (`lagpath._local_search`) stops after this many tests in a row that
closed nothing, once it has closed a site; the next pass takes the flow from nothing and the order again
(30,000 rooms on the product's model, 2026-12-07 evening, load 1.5 to 4: from 648.8 M, with 200 and one pass
9 sites closed then 200 failed tests; passes of 60 from the flow from nothing: 20, 3 and 2 sites, 643.6 M).
Before the passes (200): Measured at 30,000 rooms (2026-12-07, load 4-5, from 628.5 M): 53 sites closed in the first 229
tests (none in tests 8 to 119: the least used sites come first and cannot close), none in the 380 tests
after (609 in 200 s); from 627.6 M the first closing came after more than 200 tests."""
LAGRANGE_REPAIR_PERSONS = 20
"""At most this many persons left without a place go straight to the repair MIP (a handful of
sites; a price raise would open more: measured at 10,000 rooms 2 persons -> 2 sites, the MIP 1)."""
LAGRANGE_OPEN_FOR_SHARE = 0.6
"""The repair by minimum cuts (`lagrange.open_for`, when the repair MIP finds no sites) opens a site for each
part of the cuts while within this share of the time limit, and then on past it until everyone has a place
(a late plan rather than the LP path, which has none at 30,000 rooms). The
price rounds have no clock (`LAGRANGE_BUMP_ROUNDS`): a share of the limit stopped them at load 5 to 13."""
LAGRANGE_WINDOW_SHARE = 0.0
"""Share of the local search's time (`lagpath._local_search`) kept for the sub-MIPs on windows around the
places left over (`lagwindow.window_search`); they also get whatever the search leaves when it stalls. 0: in
the quiet window at 30,000 rooms (2026-12-08 03:43 UTC) 0.3 cost 5.3 M CR (the search closed 18 sites in 54 s
where it closes 53 in 86 s; the windows saved 0.14 M in 24 s), while at load 10 to 13 the windows after a
stalled search saved twice what the search did."""
LAGRANGE_WINDOW_GROUPS = 300
"""A window's groups (`lagwindow.window`): open sites are taken until their users are at least this many."""
LAGRANGE_WINDOW_CLOSED = 60
"""Closed sites a window may open (those its groups reach most)."""
LAGRANGE_WINDOW_S = 10.0
"""Time limit of one window's sub-MIP (seconds). Measured at 30,000 rooms from the plan after the local search,
90 s each, load 4 to 7 (groups, closed sites, seconds): (80, 20, 4) -1.86 M CR; (150, 40, 6) -1.57 M; (300, 60,
10) -2.01 M; (600, 100, 15) -1.85 M."""


def time_left(o: SolveOptions, t_all: float, floor: float, cap: float) -> float:
    """Seconds a HiGHS run may take: at most `cap` (s), at most what is left of the time limit since
    `t_all` (a `time.perf_counter()` reading), at least `floor` (s)."""
    return max(floor, min(cap, o.limit_s - (time.perf_counter() - t_all)))


