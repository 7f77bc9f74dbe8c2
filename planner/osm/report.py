"""The OSM import's report and the scenario template it writes (see `planner.osm`)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from planner.indoor import (
    DoorInference,
    Mapping,
    inference_markdown,
    md_table,
)


# ------------------------------------------------------------------------ report
@dataclass
class OsmImportReport:
    """What `import_osm` did (tables are DataFrames for tests and the CLI)."""

    out_dir: Path
    source: str
    crs: str
    epsg: int | None
    features: int
    rooms: int
    levels: pd.DataFrame               # level, deck, rooms, doors
    categories: pd.DataFrame           # category, kind, rule, count
    dropped: pd.DataFrame              # osm_id, name, level, reason
    doors_from_nodes: int
    doors_from_passages: int
    doors_dropped: pd.DataFrame        # osm_id, level, reason
    vertical_links: int
    buildings: pd.DataFrame            # building, rooms, levels, imported
    repairs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    candidate_rooms: int = 0
    inference: DoorInference | None = None

    def __str__(self) -> str:
        inf = len(self.inference.inferred) if self.inference is not None else 0
        lines = [f"imported {self.source} -> {self.out_dir} ({self.crs})",
                 f"  features: {self.features}; rooms: {self.rooms}; not imported: {len(self.dropped)}",
                 f"  doors: {self.doors_from_nodes} from door nodes, {self.doors_from_passages} from passage ways, "
                 f"{inf} inferred; {len(self.doors_dropped)} door feature(s) dropped",
                 f"  vertical links: {self.vertical_links}; candidate rooms: {self.candidate_rooms}; "
                 f"repairs: {len(self.repairs)}"]
        lines += [f"  warning: {w}" for w in self.warnings]
        lines.append(f"  details: {self.out_dir / 'import_report.md'}")
        return "\n".join(lines)


def report_markdown(r: OsmImportReport, mp: Mapping) -> str:
    """The import report as Markdown (import_report.md)."""
    w = io.StringIO()
    w.write(f"# OpenStreetMap import report\n\nSource: `{Path(r.source).name}`  \n")
    w.write(f"Coordinate reference system: **{r.crs}** (WGS84 projected to the local UTM zone, metres; recorded "
            "as the GeoJSON \"crs\" member)  \nKind mapping: " + mp.source + "\n\n## Summary\n\n")
    inf = len(r.inference.inferred) if r.inference is not None else 0
    w.write(f"- features read: {r.features}; rooms: {r.rooms}; features not imported: {len(r.dropped)}\n"
            f"- doors: {r.doors_from_nodes} from door nodes, {r.doors_from_passages} from passage ways, "
            f"{inf} inferred (flagged `inferred`)\n- vertical links (stairs/lifts on consecutive levels, by name or "
            f"overlap): {r.vertical_links}\n- candidate rooms: {r.candidate_rooms}\n\n")
    if r.warnings:
        w.write("## Warnings\n\n" + "".join(f"- {x}\n" for x in r.warnings) + "\n")
    w.write("## Buildings\n\n" + md_table(r.buildings))
    w.write("\n## Levels and decks\n\n" + md_table(r.levels))
    w.write("\n## Tags -> kinds\n\n" + md_table(r.categories))
    w.write("\n## Repairs\n\n" + ("".join(f"- {x}\n" for x in r.repairs) if r.repairs else "(none)\n"))
    w.write("\n## Features not imported as rooms\n\n" + md_table(r.dropped, 300))
    w.write("\n## Door features dropped\n\n" + md_table(r.doors_dropped, 300))
    if r.inference is not None:
        w.write(inference_markdown(r.inference))
    return w.getvalue()


SCENARIO_TEMPLATE = """\
# Scenario for the building imported from {source} (planner import-osm; see import_report.md).
# Every parameter has a default in planner/params.py; uncomment to override.

[station]
station_title = "{title}"
deck_word = "level"

#
# [capacity]
# Room kinds that may become safe rooms; this import has {cand} room(s) of these kinds.
# candidate_kinds = ["storage", "quarters", "recreation"]
#
# [model]
# objective = "max-cover"
# budget = 2_000_000
"""
