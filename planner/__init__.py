"""safe-room planner: distributed safe rooms for a station, from floor plans to a construction proposal.

The public API (see docs/api.md for a worked example)::

    import planner

    station = planner.load_station("inputs/station-unity")    # or planner.Station.from_frames(...)
    run = planner.plan_station(station)                       # sites, reach table, costs, solve, check
    run.plan["totals"]["cost"], run.solution.chosen

or step by step: `reach_table`, `candidate_sites`, `site_costs`, `Problem.from_station`
(or `Problem.from_cost_matrix` for a time matrix of one's own), `solve`, `build_plan`,
`check_plan` (the independent checker).

Importing `planner` is light (the submodules load on first use) and quiet: progress goes to
the ``"planner"`` logger of the standard `logging` module, which shows nothing unless the caller
configures logging (the command line turns it on).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it; loaded on first access (PEP 562)
_EXPORTS: dict[str, str] = {
    "load_station": "planner.station",
    "Station": "planner.station",
    "Parameters": "planner.params",
    "Phase": "planner.params",
    "load_parameters": "planner.params",
    "reach_table": "planner.network",
    "ReachTable": "planner.network",
    "candidate_sites": "planner.sites",
    "site_costs": "planner.costs",
    "Problem": "planner.model",
    "Solution": "planner.model",
    "solve": "planner.model",
    "SolveOptions": "planner.model",
    "BudgetInfeasibleError": "planner.model",
    "FullCover": "planner.model",
    "build_plan": "planner.plan",
    "check_plan": "planner.check",
    "Breach": "planner.check",
    "plan_station": "planner.pipeline",
    "PlanRun": "planner.pipeline",
    "model_problem": "planner.pipeline",
    "finish_plan": "planner.pipeline",
    "propose": "planner.proposal",
    "sweep": "planner.sweep",
    "PlannerError": "planner.errors",
    "InputError": "planner.errors",
    "ValidationFailed": "planner.errors",
    "InfeasibleError": "planner.errors",
    "SolverError": "planner.errors",
    "OutputError": "planner.errors",
}

__all__ = [
    "__version__",
    "load_station", "Station", "Parameters", "Phase", "load_parameters",
    "reach_table", "ReachTable", "candidate_sites", "site_costs",
    "Problem", "Solution", "solve", "SolveOptions", "BudgetInfeasibleError", "FullCover", "build_plan",
    "check_plan", "Breach",
    "plan_station", "PlanRun", "model_problem", "finish_plan", "propose", "sweep",
    "PlannerError", "InputError", "ValidationFailed", "InfeasibleError", "SolverError", "OutputError",
]

if TYPE_CHECKING:  # what type checkers and editors see; at run time `__getattr__` loads on demand
    from planner.check import Breach, check_plan
    from planner.costs import site_costs
    from planner.errors import (InfeasibleError, InputError, OutputError, PlannerError, SolverError,
                                ValidationFailed)
    from planner.model import BudgetInfeasibleError, FullCover, Problem, Solution, SolveOptions, solve
    from planner.network import ReachTable, reach_table
    from planner.params import Parameters, Phase, load_parameters
    from planner.pipeline import PlanRun, finish_plan, model_problem, plan_station
    from planner.plan import build_plan
    from planner.proposal import propose
    from planner.sites import candidate_sites
    from planner.station import Station, load_station
    from planner.sweep import sweep


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'planner' has no attribute {name!r}")
    mod = importlib.import_module(module)
    # `sweep` names both a function and its module; importing a submodule makes it the package's
    # attribute, so `planner.sweep` is the module, which calls its `sweep` when called
    value = mod if module == f"planner.{name}" else getattr(mod, name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
