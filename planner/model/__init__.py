"""The optimiser: which candidate rooms to convert, and who shelters where.

The package's parts, imported one way (each module only imports the ones above it):

- `problem`: the problem data (`Problem`), a plan (`Solution`), the full-cover result of a budget that
  cannot pay for cover-all (`FullCover`, carried by `BudgetInfeasibleError`);
- `compile`: the problem in index form (`Compiled`): pruning, aggregation, arrival bins and queue
  capacities (the only place they are computed);
- `arrays`: the MIP as arrays (`Arrays`, `build_arrays`);
- `highs`: the solver adapter (highspy arrays in bulk; PuLP with HiGHS, CBC or another solver);
- `options`: how to solve (`SolveOptions`: switches, time limit, gap, threads, solver, backend,
  thresholds), the fixed tuning constants and the time budget;
- `heuristic`, `lagrange`, `setcover`, `colgen`, `cover`, `coversearch`, `assign`, `bounds`:
  the algorithms;
- `result`: result assembly and the optimiser's own check (`verify`);
- `pure`, `lagpath`, `lppath`, `orchestrate`: the solve paths and `solve`;
- `relocation`: the extension for rooms whose residents move out (`solve_relocating`; docs/model.md).

The mathematical model and the solve strategy are described in `planner.model.orchestrate`.
"""

from planner.model.arrays import Arrays, BlockNames, assignment_columns, build_arrays, full_vector
from planner.model.assign import assign_fixed
from planner.model.bounds import capacity_bound, capacity_knapsack
from planner.model.compile import Compiled, compile_problem, group_walk
from planner.model.cover import CoverModel, assign_nearest, build_cover_model
from planner.model.highs import Run, highs_lp, new_highs
from planner.model.orchestrate import explain_infeasible, solve
from planner.model.options import SolveOptions
from planner.model.problem import BudgetInfeasibleError, FullCover, Problem, Solution
from planner.model.result import verify

__all__ = ["Arrays", "BlockNames", "BudgetInfeasibleError", "Compiled", "CoverModel", "FullCover", "Problem", "Run",
           "Solution", "SolveOptions", "assign_fixed",
           "assign_nearest", "assignment_columns", "build_arrays", "build_cover_model", "capacity_bound",
           "capacity_knapsack", "compile_problem", "explain_infeasible", "full_vector", "group_walk", "highs_lp",
           "new_highs", "solve", "verify"]
