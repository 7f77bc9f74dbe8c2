"""Errors for people: every error names the file, the feature, what is wrong and the fix.

Exit codes used by the CLI (stable contract):

=====  =====================================================================
0      success
1      `planner check` found breaches in a plan
2      invalid input (files, features, parameters, command-line options)
3      no feasible plan (e.g. cover-all impossible within the budget)
4      the solver failed or returned no plan
5      output could not be written
=====  =====================================================================
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_BREACH = 1
EXIT_INPUT = 2
EXIT_INFEASIBLE = 3
EXIT_SOLVER = 4
EXIT_OUTPUT = 5


class PlannerError(Exception):
    """Base class: carries an exit code and a message meant for a person."""

    exit_code = EXIT_INPUT

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.args[0] if self.args else self.__class__.__name__


class InputError(PlannerError):
    """Bad input. `file`: the file; `feature`: the feature/key/id; `problem`; `fix`."""

    exit_code = EXIT_INPUT

    def __init__(self, file: str, feature: str, problem: str, fix: str = "") -> None:
        self.file, self.feature, self.problem, self.fix = str(file), str(feature), problem, fix
        msg = f"{self.file}: {self.feature} {problem}"
        if fix:
            msg += f". Fix: {fix}"
        super().__init__(msg)


class ValidationFailed(PlannerError):
    """Validation found one or more errors; `findings` holds them all."""

    exit_code = EXIT_INPUT

    MAX_LINES = 60
    """Errors listed one by one in the message; the rest are counted."""

    def __init__(self, findings: list) -> None:
        self.findings = findings
        errors = [f for f in findings if getattr(f, "level", "error") == "error"]
        lines = [f"{len(errors)} error(s) in the station inputs:"] + [f"  - {f}" for f in errors[:self.MAX_LINES]]
        if len(errors) > self.MAX_LINES:
            lines.append(f"  ... and {len(errors) - self.MAX_LINES:,} more (fix the ones above first)")
        super().__init__("\n".join(lines))


class InfeasibleError(PlannerError):
    """No plan satisfies the requirements; the message says why in plain words."""

    exit_code = EXIT_INFEASIBLE


class SolverError(PlannerError):
    """The solver failed or returned no usable plan."""

    exit_code = EXIT_SOLVER


class OutputError(PlannerError):
    """An output could not be written (nothing already written was touched)."""

    exit_code = EXIT_OUTPUT
