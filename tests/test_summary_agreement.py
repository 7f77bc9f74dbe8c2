"""The workbook's Summary agrees with plan.json and with itself on a small station whose plan
moves residents (issue 20: "the numbers in the Summary agree with plan.json and with each other")."""

from __future__ import annotations

import json
import re

import openpyxl
import pandas as pd
import pytest
from conftest import corridor_layout, write_station

from planner.proposal import propose
from planner.station import load_station


def _station(tmp_path):
    rooms, doors, res = corridor_layout(["quarters", "quarters", "quarters", "storage", "quarters"],
                                        residents={"R1": 4, "R2": 2, "R3": 3, "R5": 1})
    beds = {"R2": 8, "R5": 4}
    for r in rooms:
        if r["room_id"] in beds:
            r["beds"] = beds[r["room_id"]]
    rows = [{**r, "day": max(0, r["night"] - 1)} for r in res]
    folder = write_station(tmp_path / "st", rooms, doors, rows, '[model]\nmodes = {quarters = "repurpose"}\n')
    return load_station(folder)


def _labelled(ws, first_col: int = 1) -> dict[str, object]:
    """Column A label -> column B value (cached values) of the Summary's key figures."""
    out: dict[str, object] = {}
    for row in ws.iter_rows(min_row=1, max_row=ws.max_row):
        a = row[first_col - 1].value
        if isinstance(a, str) and a not in out and len(row) > first_col:
            out[a] = row[first_col].value
    return out


def _table_after(ws, title: str) -> tuple[list[str], list[list[object]]]:
    """(header, rows) of the table under the heading `title` in column A (up to the first empty row)."""
    rows = list(ws.iter_rows(values_only=True))
    k = next(i for i, r in enumerate(rows) if r[0] == title)
    head = [h for h in rows[k + 1] if h is not None]
    body = []
    for r in rows[k + 2:]:
        if r[0] is None:
            break
        body.append(list(r[:len(head)]))
    return head, body


@pytest.mark.slow
def test_summary_numbers_agree_with_plan_json_and_each_other(tmp_path) -> None:
    st = _station(tmp_path)
    folder = propose(st, out_root=tmp_path / "out")
    plan = json.loads((folder / "plan.json").read_text())
    (xlsx,) = folder.glob("*.xlsx")
    wb = openpyxl.load_workbook(xlsx, data_only=True)
    ws = wb["Summary"]
    fig = _labelled(ws)
    tot = plan["totals"]
    moved = sum(int(m["residents"]) for m in plan["relocations"])
    assert moved > 0, "the station must make the plan move residents for this test to mean anything"
    new = [r for r in plan["safe_rooms"] if not r["existing"]]
    # key figures = plan.json
    assert fig["Total cost"] == pytest.approx(tot["cost"], abs=0.005)
    assert fig["Total cost"] == pytest.approx(sum(r["cost"] for r in plan["safe_rooms"]), abs=0.01)
    assert fig["Residents displaced"] == tot["displaced_residents"] == moved
    assert fig["Safe rooms to convert"] == len(new)
    assert fig["Existing safe rooms kept"] == len(plan["safe_rooms"]) - len(new)
    assert fig["Worst walk to a safe room"] == pytest.approx(tot["max_walk_s"])
    # what guaranteeing 99.5 % of walkers with spread speeds would take = plan.json's promise
    pm = tot["promise"]
    assert pm["target_share"] == 0.995 and pm["target_speed_m_s"] == pytest.approx(0.685, abs=5e-4)
    assert set(pm["short_at_target_speed"]) == set(tot["scenarios"])
    blocked = any(n > 0 for n in pm["short_at_target_speed"].values())
    assert fig["Guaranteeing 99.5 % of walkers with spread speeds"] == ("no budget buys it" if blocked
                                                                         else "cost not computed")
    # people sheltered per scenario = plan.json totals = the assignments
    head, body = _table_after(ws, "People sheltered per occupancy scenario")
    a = pd.DataFrame(plan["assignments"]).groupby("scenario")["residents"].sum()
    assert [r[0] for r in body] == list(tot["scenarios"])
    for s, res, sh, share, short in body:
        assert res == tot["scenarios"][s]["residents"] and sh == tot["scenarios"][s]["sheltered"] == int(a[s])
        assert short == res - sh and share == pytest.approx(sh / res)
    # conversion modes: rooms and displaced residents add up to the plan's
    head, body = _table_after(ws, "Conversion modes and displacement")
    modes = pd.DataFrame(body, columns=head)
    assert int(modes["Rooms converted"].sum()) == len(new)
    per_mode = pd.Series([r["mode"] for r in new]).value_counts()
    assert modes.groupby("Mode")["Rooms converted"].sum().to_dict() == per_mode.to_dict()
    assert int(modes["Residents displaced"].sum()) == moved
    # who is displaced by sector: each row from the relocations and the rooms' sectors; total = moved
    head, body = _table_after(ws, "Who is displaced, by sector, and where they go")
    sec = st.rooms.drop_duplicates("room_id").set_index("room_id")["sector"].astype(str)
    rel = pd.DataFrame(plan["relocations"]).assign(
        f=lambda d: sec.reindex(d["from_room"]).to_numpy(), t=lambda d: sec.reindex(d["to_room"]).to_numpy())
    want = rel.groupby(["f", "t"])["residents"].sum().to_dict()
    got = {(str(r[0]), str(r[1])): r[2] for r in body if r[0] != "Total"}
    assert got == {(str(k[0]), str(k[1])): int(v) for k, v in want.items()}
    total_row = next(r for r in body if r[0] == "Total")
    assert total_row[2] == moved
    # the recommendation says the same numbers
    text = ws["A5"].value
    assert f"{tot['cost']:,.0f} {tot['currency']}" in text
    assert f"{moved:,} residents are displaced" in text
    assert re.search(rf"Convert {len(new)} rooms?\b", text)
    # the Safe rooms sheet: one row per room, its mode as in plan.json, total = plan cost
    sr = wb["Safe rooms"]
    rows = list(sr.iter_rows(values_only=True))
    hi = next(i for i, r in enumerate(rows) if r and "Conversion mode" in r)
    h = list(rows[hi])
    by_id = {r[h.index("Room id")]: r for r in rows[hi + 1:] if r[h.index("Room id")] in {x["room_id"] for x in plan["safe_rooms"]}}
    assert set(by_id) == {x["room_id"] for x in plan["safe_rooms"]}
    for x in plan["safe_rooms"]:
        assert by_id[x["room_id"]][h.index("Conversion mode")] == x["mode"]
    # the Displacement sheet states the same displacement
    intro = wb["Displacement"]["A2"].value
    assert f"The proposal itself moves {moved:,}." in intro
