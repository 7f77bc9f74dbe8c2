"""Cached values of formula cells and table bodies, written into the saved .xlsx file (openpyxl
writes formulas without values)."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any, Callable
from xml.sax.saxutils import escape as xml_escape

from planner import xlsxrows

# ------------------------------------------------------------------ cached values
_CELL_F = re.compile(r'<c r="([A-Z]+[0-9]+)"([^>]*)><f>([^<]*)</f>(?:<v\s*/>|<v></v>)</c>')
"""A formula cell without a value as openpyxl writes it: ``<v/>`` (et_xmlfile) or ``<v></v>`` (lxml).
The formula text has no ``<`` (XML-escaped), so a cell that does not match fails fast instead of
scanning on to a later cell."""


def _inject_cached(path: Path, cache: dict[str, dict[str, Any]],
                   bodies: dict[str, tuple[int, str]] | None = None) -> None:
    """Give formula cells their cached values (openpyxl writes none), and splice in the table bodies, in place.

    Viewers that do not calculate (Excel's Protected View for a mailed file, previews,
    pandas) then show the planner's figures; Excel and LibreOffice still recalculate
    (fullCalcOnLoad is set).
    """
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
          "p": "http://schemas.openxmlformats.org/package/2006/relationships"}
    with zipfile.ZipFile(path) as zin:
        book = ET.fromstring(zin.read("xl/workbook.xml"))
        rels = ET.fromstring(zin.read("xl/_rels/workbook.xml.rels"))
        target = {r.get("Id"): r.get("Target") for r in rels.findall("p:Relationship", ns)}
        part_of: dict[str | None, str] = {}
        for sh in book.findall("m:sheets/m:sheet", ns):
            t = str(target[sh.get(f"{{{ns['r']}}}id")]).lstrip("/")
            part_of[sh.get("name")] = t if t.startswith("xl/") else "xl/" + t
        items = [(info, zin.read(info.filename)) for info in zin.infolist()]
    parts = {part_of[name]: vals for name, vals in cache.items() if name in part_of and vals}
    body_of = {part_of[name]: b for name, b in (bodies or {}).items() if name in part_of}

    def fill(vals: dict[str, Any]) -> Callable[[re.Match], str]:
        def sub(m: re.Match) -> str:
            v = vals.get(m.group(1))
            if v is None:
                return m.group(0)
            attrs = re.sub(r'\st="[^"]*"', "", m.group(2))
            if isinstance(v, bool):
                return f'<c r="{m.group(1)}"{attrs} t="b"><f>{m.group(3)}</f><v>{int(v)}</v></c>'
            if isinstance(v, (int, float)):
                return f'<c r="{m.group(1)}"{attrs}><f>{m.group(3)}</f><v>{repr(float(v)) if isinstance(v, float) else v}</v></c>'
            return f'<c r="{m.group(1)}"{attrs} t="str"><f>{m.group(3)}</f><v>{xml_escape(str(v))}</v></c>'
        return sub

    tmp = path.with_name(path.name + ".cache")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for info, data in items:
            if info.filename in parts or info.filename in body_of:
                xml = data.decode("utf-8")
                if info.filename in parts:
                    xml = _CELL_F.sub(fill(parts[info.filename]), xml)
                if info.filename in body_of:  # after the cached values: the body has its own
                    xml = xlsxrows.splice(xml, *body_of[info.filename])
                data = xml.encode("utf-8")
            zout.writestr(info, data)
    os.replace(tmp, path)
