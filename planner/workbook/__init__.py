"""The proposal workbook (openpyxl): what the director reads, edits and forwards.

Sheets, in order: Summary, Safe rooms, Coverage, Phases, Budget what-if,
Displacement, Assumptions, Map. The cost lines on "Safe rooms" are live formulas written from
`planner.costs` (one definition for Python and the spreadsheet): each refers to
the room's driver cells and to the parameter cells of "Assumptions", so a
director who edits a unit cost sees every total follow, and a spreadsheet
recalculating the file shows the totals the planner printed, to the cent.

One module per sheet group: `style` (shared cell and style helpers), `assumptions`, `rooms`
(Safe rooms, Coverage), `phasing` (Phases), `whatif` (Budget what-if), `displacement_sheet`,
`summary`, `verification` (Verification, Arrival curve), `cached` (cached formula values written
into the saved file) and `assemble` (`write_workbook`, the Map sheet).
"""

from __future__ import annotations

from planner.workbook.assemble import write_workbook
from planner.workbook.style import ASSUMPTIONS, SAFE_SHEET
from planner.workbook.summary import promise_text, recommendation
from planner.workbook.verification import (
           verification_sheets,
           write_verification_workbook,
)
from planner.workbook.whatif import budget_whatif

__all__ = ["ASSUMPTIONS", "SAFE_SHEET", "budget_whatif", "promise_text", "recommendation",
           "verification_sheets", "write_verification_workbook", "write_workbook"]
