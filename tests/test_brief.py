"""Briefing material: per-room briefings, routes, placards (PDF), the briefing sheet, the interactive
map (in a real headless Chromium when installed), the `brief` verb and the proposal hook.

The station is a hand-made corridor (rooms R1..R6 above a corridor C, one door each), so every
route is known: from room Ri's door Di along the corridor to the safe room's door Dj, and the
metres are the plan's seconds times the walking speed (no reaction time, no stairs).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import corridor_layout, write_station

from planner.brief import add_routes, fmt_s, read_simulation, room_briefs, strings
from planner.cli import main
from planner.pipeline import plan_station
from planner.placards import placard_lines, sheet_numbers, write_briefing_sheet, write_placards
from planner.station import load_station
from planner.webmap import map_data, render_html

PDFTOTEXT = shutil.which("pdftotext")
CHROMIUM = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
needs_pdftotext = pytest.mark.skipif(PDFTOTEXT is None, reason="pdftotext (Debian package poppler-utils) is not "
                                     "installed: apt-get install poppler-utils (.ci/run installs it)")

KINDS = ["storage", "quarters", "quarters", "quarters", "storage", "quarters"]
RESIDENTS = {"R2": 3, "R3": 2, "R4": 4, "R6": 1}
TOML = """
[model]
backup_k = 2
"""


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    """(station folder, station, plan, reach) of the corridor, planned by the pipeline."""
    rooms, doors, res = corridor_layout(KINDS, residents=RESIDENTS, room_w=6.0)
    res = [dict(r, day=(r["day"] if r["room_id"] != "R6" else 0)) for r in res]  # R6 empty by day
    folder = write_station(tmp_path_factory.mktemp("brief") / "corridor", rooms, doors, res, TOML)
    station = load_station(folder)
    run = plan_station(station)
    plan = json.loads(json.dumps(run.plan))  # as plan.json would hold it
    (folder / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    return folder, station, plan, run.reach


def _assignments(plan):
    return {(a["room_id"], a["scenario"]): a for a in plan["assignments"]}


def test_room_briefs_are_plan_json(planned):
    _, station, plan, reach = planned
    b = room_briefs(station, plan, reach)
    occupied = sorted(RESIDENTS)
    assert sorted(b["room_id"].unique()) == occupied
    assert len(b) == len(occupied) * len(station.scenarios)
    asg = _assignments(plan)
    chosen = {s["room_id"] for s in plan["safe_rooms"]}
    pairs = reach.pairs.set_index(["room_id", "site_id"])
    for r in b.itertuples():
        a = asg.get((r.room_id, r.scenario))
        if a is None:  # R6 by day: nobody there, nobody assigned
            assert r.residents == 0 and r.safe_room_id == "" and math.isnan(r.walk_s)
            continue
        assert r.safe_room_id == a["safe_room_id"] and r.walk_s == a["walk_s"]
        assert r.door_id == pairs.loc[(r.room_id, r.safe_room_id), "door_id"]
        if r.second_id:  # another chosen safe room in reach, with the reach table's time
            assert r.second_id in chosen and r.second_id != r.safe_room_id
            assert r.second_walk_s == pytest.approx(pairs.loc[(r.room_id, r.second_id), "walk_s"])
    # backup_k = 2: every occupied room has a second option
    assert (b.loc[b["residents"] > 0, "second_id"] != "").all()


def test_routes_go_door_to_door_and_metres_follow_the_plan(planned):
    _, station, plan, reach = planned
    b, routes = add_routes(room_briefs(station, plan, reach), station)
    doors = station.doors.set_index("door_id")
    v = station.params.walk_speed_m_s
    for r in b[b["safe_room_id"] != ""].itertuples():
        rt = routes[(r.room_id, r.safe_room_id)]
        if r.in_place:
            assert len(rt.xy) == 1 and r.walk_m == 0
            continue
        i, j = r.room_id[1:], r.safe_room_id[1:]
        assert rt.exact and rt.doors == [f"D{i}", f"D{j}"]
        mid = [np.asarray(doors.at[d, "geometry"].interpolate(0.5, normalized=True).coords[0]) for d in rt.doors]
        assert np.allclose(rt.xy[1:3], mid)  # room centre, its door, the safe room's door, its centre
        assert r.walk_m == round(r.walk_s * v)  # reaction 0 s, no stairs
        # the drawn route is not longer than the plan's walk (the walk is from the farthest point)
        assert rt.network_s <= r.walk_s + 1e-6


def test_placard_lines_carry_plan_numbers(planned):
    _, station, plan, reach = planned
    b, _ = add_routes(room_briefs(station, plan, reach), station)
    tx = strings("en")
    for rid, rows in b.groupby("room_id"):
        text = "\n".join(t for _, t in placard_lines(rows, tx))
        assert rid in text
        for r in rows.itertuples():
            if r.safe_room_id:
                assert r.safe_room_id in text
                if not r.in_place:
                    assert f"walk {fmt_s(r.walk_s)} s, {r.walk_m:.0f} m" in text


def test_fmt_s_is_plan_json_rounding():
    assert fmt_s(43.2) == "43.2" and fmt_s(43.21) == "43.21" and fmt_s(0.0) == "0" and fmt_s(12.0) == "12"
    assert fmt_s(float("nan")) == "-"


def _pdf_pages(path: Path) -> list[str]:
    text = subprocess.run([PDFTOTEXT, "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout
    pages = text.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


@needs_pdftotext
@pytest.mark.parametrize("paper,lang", [("a4", "en"), ("letter", "de")])
def test_placards_pdf_one_page_per_room_with_plan_numbers(planned, tmp_path, paper, lang):
    _, station, plan, reach = planned
    b, routes = add_routes(room_briefs(station, plan, reach), station)
    tx = strings(lang)
    n = write_placards(tmp_path / "p.pdf", station, plan, b, routes, tx, paper=paper)
    pages = _pdf_pages(tmp_path / "p.pdf")
    assert n == len(pages) == len(RESIDENTS)
    info = subprocess.run(["pdfinfo", str(tmp_path / "p.pdf")], capture_output=True, text=True).stdout
    assert ("595.276 x 841.89" in info) if paper == "a4" else ("612 x 792" in info)
    asg = _assignments(plan)
    second = {(r.room_id, r.scenario): r for r in b.itertuples()}
    reach_s = station.params.reach_s
    for rid, page in zip(sorted(RESIDENTS), pages):
        flat = " ".join(page.split())
        assert rid in flat
        assert tx["placard.banner"] in flat
        allowed = set()
        for sc in station.scenarios:
            a = asg.get((rid, sc))
            if a:
                assert a["safe_room_id"] in flat and f"{fmt_s(a['walk_s'])} s" in flat
                allowed.add(fmt_s(a["walk_s"]))
            r = second[(rid, sc)]
            if r.second_id:
                allowed.add(fmt_s(round(r.second_walk_s, 2)))
        # every number of seconds on the page is plan.json's (or the reach table's second option)
        shown = set(re.findall(r"(\d+(?:\.\d+)?) s\b", flat)) - {f"{reach_s:g}"}
        assert shown <= allowed, (rid, shown - allowed)
    if lang == "de":
        assert "Schutzraum" in pages[0]


@needs_pdftotext
def test_briefing_sheet_numbers_and_curve(planned, tmp_path):
    _, station, plan, _ = planned
    tx = strings("en")
    write_briefing_sheet(tmp_path / "a.pdf", station.title, plan, None, tx)
    (page,) = _pdf_pages(tmp_path / "a.pdf")
    flat = " ".join(page.split())
    assert "No evacuation simulation" in flat
    assert f"{len(plan['safe_rooms'])}" in flat and f"{fmt_s(plan['totals']['max_walk_s'])} s" in flat
    for _label, value in sheet_numbers(plan, tx):
        assert " ".join(value.split()) in flat
    sim = tmp_path / "simulation.json"
    sim.write_text(json.dumps({"scenarios": {"night": {"agents": 10, "share_within_reach": 1.0,
                                                       "last_arrival_s": 40.0, "curve": [[0, 0], [20, 0.5], [40, 1]]},
                                             "day": "broken", "evening": {"curve": "nonsense"}}}))
    s = read_simulation(sim)
    assert list(s) == ["night"] and s["night"]["agents"] == 10  # nothing well formed in the others
    assert s["night"]["curve"].shape == (3, 2) and s["night"]["last_arrival_s"] == 40.0
    write_briefing_sheet(tmp_path / "b.pdf", station.title, plan, s, tx)
    (page,) = _pdf_pages(tmp_path / "b.pdf")
    assert "No evacuation simulation" not in page and "Arrival curve" in page


def test_read_simulation_is_defensive(tmp_path):
    assert read_simulation(tmp_path / "missing.json") is None
    for bad in ("{", "[]", '{"scenarios": 3}', '{"scenarios": {"x": {"curve": [[1]]}}}', '{"scenarios": {}}'):
        (tmp_path / "s.json").write_text(bad)
        assert read_simulation(tmp_path / "s.json") is None


def test_strings_have_every_english_key_and_placeholders():
    en = strings("en")
    for lang in ("de",):
        tx = strings(lang)
        assert set(tx) == set(en)
        for k, v in en.items():
            assert set(re.findall(r"{\w+}", v)) == set(re.findall(r"{\w+}", tx[k])), (lang, k)


def test_map_numbers_equal_plan_json(planned):
    _, station, plan, reach = planned
    b, routes = add_routes(room_briefs(station, plan, reach), station)
    data = map_data(station, plan, b, routes, strings("en"))
    rooms = {r["id"]: r for r in data["rooms"]}
    for a in plan["assignments"]:
        got = rooms[a["room_id"]]["a"][a["scenario"]]
        assert [a["safe_room_id"], a["residents"], fmt_s(a["walk_s"])] in got
    for s in plan["safe_rooms"]:
        d = data["safe"][s["room_id"]]
        assert d["capacity"] == s["capacity"] and d["phase"] == s["phase"]
        for sc in station.scenarios:
            mine = [a for a in plan["assignments"] if a["safe_room_id"] == s["room_id"] and a["scenario"] == sc]
            assert d["assigned"][sc] == [sum(a["residents"] for a in mine), len({a["room_id"] for a in mine})]
    page = render_html(data)
    # self-contained: no URL the browser would fetch (the SVG namespace is a name, not a fetch)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "default-src 'none'" in page
    assert re.findall(r"https?://[^'\"\s]+", page) == ["http://www.w3.org/2000/svg"]


def test_map_draws_relocations(planned):
    """plan.json relocations become one arrow per move within a deck (from the centroid of the room
    left to that of the new home; the page's y axis points down)."""
    _, station, plan, reach = planned
    b, routes = add_routes(room_briefs(station, plan, reach), station)
    assert map_data(station, plan, b, routes, strings("en"))["moves"] == {}
    moved = {**plan, "relocations": [{"from_room": "R4", "to_room": "R2", "residents": 3,
                                      "present": {"night": 3, "day": 3}}]}
    data = map_data(station, moved, b, routes, strings("en"))
    c = station.rooms.set_index("room_id").geometry.centroid
    assert data["moves"] == {"0": [[round(c["R4"].x, 1), round(-c["R4"].y, 1), round(c["R2"].x, 1),
                                     round(-c["R2"].y, 1), 3, "R4", "R2"]]}
    assert '"moves"' in render_html(data)


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run",
                           f"--user-data-dir={profile}", "--proxy-server=http://127.0.0.1:9",  # no network at all
                           "--virtual-time-budget=5000", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium: apt-get install chromium (.ci/run installs it) "
                    "to open the interactive map in a real headless browser")
def test_map_in_headless_chromium(planned, tmp_path):
    folder, station, plan, reach = planned
    assert main(["--quiet", "brief", str(folder), str(folder / "plan.json"), "--out", str(tmp_path / "b"),
                 "--no-placards"]) == 0
    page = (tmp_path / "b" / "map.html").resolve()
    asg = _assignments(plan)
    room = "R4"
    url = f"{page.as_uri()}#room={room}"
    (tmp_path / "prof").mkdir()
    dom = _chromium(["--dump-dom", url], tmp_path / "prof").stdout
    assert 'data-ready="1"' in dom, "the page's script did not finish"
    m = re.search(r'<div id="result" data-room="([^"]*)">(.*?)</aside>', dom, re.S)
    assert m and m.group(1) == room
    for sc in station.scenarios:
        a = asg[(room, sc)]
        block = re.search(rf'data-scenario="{sc}">(.*?)</div>', m.group(2), re.S).group(1)
        assert a["safe_room_id"] in block and f'<span class="walk">{fmt_s(a["walk_s"])}</span> s' in block
    assert dom.count('class="route"') >= 1 or all(asg[(room, sc)]["safe_room_id"] == room for sc in station.scenarios)
    # an unknown room says so
    dom = _chromium(["--dump-dom", f"{page.as_uri()}#room=NOPE"], tmp_path / "prof").stdout
    assert "No room NOPE" in dom
    shot = tmp_path / "map.png"
    _chromium(["--hide-scrollbars", "--window-size=1200,760", f"--screenshot={shot}", url], tmp_path / "prof")
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5_000


def test_brief_verb_errors_are_for_people(planned, tmp_path, capsys):
    folder, *_ = planned
    plan = str(folder / "plan.json")
    assert main(["--quiet", "brief", str(folder), plan, "--out", str(tmp_path / "x"), "--rooms", "R2,NOPE"]) == 2
    assert "NOPE" in capsys.readouterr().err
    assert main(["--quiet", "brief", str(folder), plan, "--out", str(tmp_path / "x"), "--lang", "xx"]) == 2
    assert "xx.toml" in capsys.readouterr().err
    assert main(["--quiet", "brief", str(folder), str(tmp_path / "none.json"), "--out", str(tmp_path / "x")]) == 2


@needs_pdftotext
def test_brief_verb_writes_per_deck_placards_for_chosen_rooms(planned, tmp_path):
    folder, *_ = planned
    out = tmp_path / "b"
    assert main(["--quiet", "brief", str(folder), str(folder / "plan.json"), "--out", str(out),
                 "--rooms", "R2,R6"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["briefing-sheet.pdf", "map.html", "placards-deck-0.pdf"]
    pages = _pdf_pages(out / "placards-deck-0.pdf")
    assert len(pages) == 2 and "R2" in pages[0] and "R6" in pages[1]


def test_proposal_survives_a_failing_briefing(planned, tmp_path, monkeypatch, capsys):
    import planner.briefing

    folder, *_ = planned

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(planner.briefing, "write_briefing", boom)
    reports = tmp_path / "reports"
    assert main(["propose", str(folder), "--out", str(reports), "--whatif-budgets", "0"]) == 0
    err = capsys.readouterr().err
    assert "briefing material was not written" in err and "disk on fire" in err
    (prop,) = [p for p in reports.iterdir() if not p.name.startswith(".")]
    names = {p.name for p in prop.iterdir()}
    assert "plan.json" in names and "map.html" not in names


def test_unsheltered_people_are_told_plainly(planned):
    _, station, plan, reach = planned
    p = json.loads(json.dumps(plan))
    gone = [a for a in p["assignments"] if a["room_id"] == "R4" and a["scenario"] == "night"]
    p["assignments"] = [a for a in p["assignments"] if a not in gone]
    p["unsheltered"] = [{"room_id": "R4", "scenario": "night", "residents": 4, "reason": "door queue"}]
    b = room_briefs(station, p, reach, rooms=["R4"])
    night = b[b["scenario"] == "night"].iloc[0]
    assert night["safe_room_id"] == "" and night["unsheltered"] == 4
    text = "\n".join(t for _, t in placard_lines(b, strings("en")))
    assert "No safe room assigned in this scenario" in text and "(night)" in text
    for a in p["assignments"]:  # the other scenarios still say where to go
        if a["room_id"] == "R4":
            assert a["safe_room_id"] in text and f"{fmt_s(a['walk_s'])} s" in text
