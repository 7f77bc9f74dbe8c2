"""Printable briefing PDFs: door placards (one page per occupied room) and the one-page briefing sheet.

Placards: reportlab's canvas with DejaVu Sans embedded (TrueType), so the text can be
extracted (pdftotext) and searched. Each deck's rooms are written once as PDF path operators in
plan metres (`_Deck.code`); a page draws the rooms in view (an STRtree query) under its own
transform, so no coordinate is formatted again per page. With reportlab's C accelerators
(`reportlab[accel]`) a page takes about 3 ms of CPU (Station Unity: 2,266 pages, 29.8 s of
CPU for the briefing before, 10 s after; see docs/performance.md).

Every number on a placard is plan.json's (`walk_s` as written there) or derived from it
(`walk_m`, see `planner.brief`); the second option's time is the reach table's walk to that
safe room (it is not in plan.json), rounded the way plan.json rounds.
"""

from __future__ import annotations

import itertools
import logging
import textwrap
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shapely
from matplotlib.patches import Rectangle

from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from planner.brief import Route, fmt_s
from planner.files import write_atomic
from planner.maps import KIND_COLOURS, OTHER_COLOUR
from planner.station import Station

logger = logging.getLogger(__name__)

PAPER_IN: dict[str, tuple[float, float]] = {"a4": (210 / 25.4, 297 / 25.4), "letter": (8.5, 11.0)}
"""Page sizes (inches, portrait)."""
ROUTE_STYLES = [("#000000", "-"), ("#0047ab", "--"), ("#c2410c", ":"), ("#6b21a8", "-.")]
"""Colour and line style of the routes of the scenario groups (distinct in black and white too)."""


def _scen(tx: dict[str, str], s: str) -> str:
    return tx.get(f"scenario.{s}", s)


def _fmt(tx: dict[str, str], key: str, **kw: object) -> str:
    try:
        return tx[key].format(**kw)
    except (KeyError, IndexError, ValueError):  # a translation with a broken placeholder: English text then
        return key


def _records(rows: pd.DataFrame | list[dict]) -> list[dict]:
    """One room's rows as plain dicts (a DataFrame's records, or the list as it is)."""
    return rows.to_dict("records") if isinstance(rows, pd.DataFrame) else list(rows)


def placard_groups(rows: pd.DataFrame | list[dict]) -> list[dict]:
    """The scenario rows of one room grouped by what they say (same safe room, walk and second
    option): [{scenarios: [...], row: first row}] in scenario order."""
    groups: list[dict] = []
    for r in _records(rows):
        key = (r["safe_room_id"], r["walk_s"] if pd.notna(r["walk_s"]) else None, r["split"], r["unsheltered"],
               r["second_id"], int(r["residents"]) > 0)
        for g in groups:
            if g["key"] == key:
                g["scenarios"].append(r["scenario"])
                break
        else:
            groups.append({"key": key, "scenarios": [r["scenario"]], "row": r})
    return groups


def placard_lines(rows: pd.DataFrame | list[dict], tx: dict[str, str]) -> list[tuple[str, str]]:
    """The text of one room's placard as (style, text) lines; styles: banner, room, lead, safe,
    detail, second, rules. Plain data, so the text can be tested without a PDF."""
    rows = _records(rows)
    r0 = rows[0]
    out = [("banner", tx["placard.banner"]),
           ("room", _fmt(tx, "placard.room", room=r0["room_id"], name=r0["name"], deck=int(r0["deck"]),
                         sector=r0["sector"]))]
    out.append(("lead", tx["placard.from_here"]))
    for g in placard_groups(rows):
        r = g["row"]
        label = " / ".join(_scen(tx, s) for s in g["scenarios"])
        if r["safe_room_id"] == "":
            if int(r["residents"]) == 0 and r["second_id"]:
                out.append(("safe", f"{r['second_id']}  {r.get('second_name', '')}  ({label})"))
                out.append(("detail", _fmt(tx, "placard.nearest", s=fmt_s(round(float(r["second_walk_s"]), 2)))))
            else:
                out.append(("safe", f"-  ({label})"))
                out.append(("detail", tx["placard.none"]))
            continue
        if r["in_place"]:
            out.append(("safe", f"{r['safe_room_id']}  ({label})"))
            out.append(("detail", tx["placard.stay"] + ": " + tx["placard.walk_in_place"]))
        else:
            out.append(("safe", f"{r['safe_room_id']}  {r['safe_name']}  ({label})"))
            walk = _fmt(tx, "placard.walk", s=fmt_s(r["walk_s"]), m=f"{r['walk_m']:.0f}", door=r["door_id"] or "-")
            if pd.notna(r["safe_deck"]) and int(r["safe_deck"]) != int(r["deck"]):
                walk += ", " + _fmt(tx, "placard.other_deck", deck=int(r["safe_deck"]))
            out.append(("detail", walk))
        if r["split"]:
            out.append(("detail", _fmt(tx, "placard.also", rooms=r["split"])))
        if int(r["unsheltered"]) > 0:
            out.append(("detail", _fmt(tx, "placard.unsheltered", n=int(r["unsheltered"]))))
        if r["second_id"]:
            out.append(("second", _fmt(tx, "placard.second", room=r["second_id"], name=r.get("second_name", ""),
                                       s=fmt_s(round(float(r["second_walk_s"]), 2))).replace(" ()", "")))
        else:
            out.append(("second", tx["placard.no_second"]))
    out.append(("rules", tx["placard.rules"]))
    return out


_STYLE = {  # style -> (font size pt, bold, gap before (pt))
    "room": (15, False, 10),
    "lead": (14, False, 6),
    "safe": (24, True, 12),
    "detail": (14, False, 2),
    "second": (12, False, 4),
}
_FONTS: dict[bool, str] = {}


def _fonts() -> dict[bool, str]:
    """Register DejaVu Sans (matplotlib's bundled TrueType fonts: every Latin, Greek and Cyrillic
    letter) with reportlab once; {bold: font name}."""
    if not _FONTS:
        ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        pdfmetrics.registerFont(TTFont("PlannerSans", str(ttf / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont("PlannerSans-Bold", str(ttf / "DejaVuSans-Bold.ttf")))
        _FONTS.update({False: "PlannerSans", True: "PlannerSans-Bold"})
    return _FONTS


def _hex(c: str) -> tuple[float, float, float]:
    c = c.lstrip("#")
    return tuple(int(c[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


class _Deck:
    """The rooms of one deck prepared for drawing: rings per room (plan metres), an STRtree."""

    def __init__(self, station: Station, deck: int, safe_ids: set[str]):
        rooms = station.rooms[station.rooms["deck"] == deck]
        self.ids = rooms["room_id"].astype(str).to_numpy()
        self.geom = rooms.geometry.to_numpy()
        self.tree = shapely.STRtree(self.geom)
        kind = rooms["kind"].astype(str).to_numpy()
        self.fill = pd.Series(kind).map(KIND_COLOURS).fillna(OTHER_COLOUR).to_numpy()
        self.is_safe = np.isin(self.ids, list(safe_ids))
        pos = pd.Series(np.arange(len(self.ids)), index=self.ids)
        self.pos = pos[~pos.index.duplicated()]
        self.centre = shapely.get_coordinates(shapely.point_on_surface(self.geom))
        parts, part_of = shapely.get_parts(self.geom, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
        cuts = np.flatnonzero(np.diff(ring_idx)) + 1
        ring_xy = np.split(coords, cuts) if len(coords) else []
        owner = part_of[ring_part]
        self.rings: list[list[np.ndarray]] = [[] for _ in range(len(self.ids))]
        for k, xy in zip(owner[np.unique(ring_idx)] if len(coords) else [], ring_xy):
            self.rings[int(k)].append(xy)
        self.code = [_path_code(r) for r in self.rings]
        self.fill_rgb = [_hex(f) for f in self.fill]


class _Code:
    """A path already written as PDF path operators (what `Canvas.drawPath` takes from a path object)."""

    def __init__(self, code: str) -> None:
        self.code = code

    def getCode(self) -> str:  # noqa: N802 - reportlab's path protocol
        return self.code


def _path_code(rings: list[np.ndarray]) -> str:
    """PDF path operators (m, l, h) of a room's rings in plan metres, to the millimetre: written once
    per deck and drawn on every page under that page's transform."""
    parts = []
    for ring in rings:
        xy = np.round(np.asarray(ring, dtype=float), 3) + 0.0   # + 0.0: no "-0"
        pts = [f"{x:g} {y:g}" for x, y in xy.tolist()]
        if pts:
            parts.append(pts[0] + " m " + " l ".join(pts[1:]) + (" l h" if len(pts) > 1 else " h"))
    return " ".join(parts)


def _first_leg(rt: Route) -> np.ndarray:
    """Mask of the route's vertices before it first leaves the room's deck."""
    off = np.flatnonzero(rt.deck != rt.deck[0])
    on = np.ones(len(rt.deck), dtype=bool)
    if len(off):
        on[off[0]:] = False
    return on


def _draw_routes(c: Canvas, routes: list[tuple[Route, str, str]], tr: Callable[[np.ndarray], np.ndarray],
                 tx: dict[str, str], fonts: dict[bool, str]) -> None:
    """The routes' first legs (on the room's deck) with `tr` mapping plan metres to page points; a
    route that leaves the deck ends in a dot naming the safe room's deck."""
    c.setLineCap(1)
    for rt, colour, ls in routes:
        on = _first_leg(rt)
        q = tr(rt.xy[on])
        if len(q) < 2:
            continue
        c.setStrokeColorRGB(*_hex(colour))
        c.setLineWidth(3.4)
        c.setDash({"-": [], "--": [9, 5], ":": [2, 5], "-.": [9, 4, 2, 4]}[ls])
        p = c.beginPath()
        p.moveTo(*q[0])
        for x, y in q[1:]:
            p.lineTo(x, y)
        c.drawPath(p, stroke=1, fill=0)
        if not on.all():  # leaves the deck by stairs: mark the point
            c.setDash([])
            c.setFillColorRGB(*_hex(colour))
            c.circle(*q[-1], 5, stroke=0, fill=1)
            c.setFont(fonts[True], 9)
            c.drawString(q[-1][0] + 6, q[-1][1] + 6, _fmt(tx, "placard.other_deck", deck=int(rt.deck[-1])))


_YOU_RGB = _hex("#ffd60a")
_TARGET_RGB = _hex("#7bd88f")


def _draw_map(c: Canvas, deck: _Deck, box: tuple[float, float, float, float], room_id: str, targets: list[str],
              routes: list[tuple[Route, str, str]], tx: dict[str, str], fonts: dict[bool, str]) -> None:
    """The neighbourhood map into `box` (x, y, width, height; points) of the canvas `c`."""
    bx, by, bw, bh = box
    i = int(deck.pos[room_id])
    home_deck = None
    pts = [deck.centre[i:i + 1]]
    for rt, _, _ in routes:
        home_deck = rt.deck[0] if home_deck is None else home_deck
        pts.append(rt.xy[_first_leg(rt)])
    xy = np.vstack(pts)
    lo, hi = xy.min(axis=0) - 8.0, xy.max(axis=0) + 8.0
    cx, cy = (lo + hi) / 2
    scale = min(bw / max(hi[0] - lo[0], 40.0), bh / max(hi[1] - lo[1], 40.0 * bh / bw))  # points per metre
    half_w, half_h = bw / scale / 2, bh / scale / 2

    def tr(p: np.ndarray) -> np.ndarray:
        return np.c_[bx + bw / 2 + (p[:, 0] - cx) * scale, by + bh / 2 + (p[:, 1] - cy) * scale]

    c.saveState()
    clip = c.beginPath()
    clip.rect(bx, by, bw, bh)
    c.clipPath(clip, stroke=1, fill=0)
    sel = np.sort(deck.tree.query(shapely.box(cx - half_w, cy - half_h, cx + half_w, cy + half_h)))
    # the rooms in plan metres under this page's transform (the deck's paths are written once; line
    # widths divided by the scale are the same on paper)
    c.saveState()
    c.transform(scale, 0, 0, scale, bx + bw / 2 - cx * scale, by + bh / 2 - cy * scale)
    c.setLineWidth(0.6 / scale)
    c.setStrokeColorRGB(0.33, 0.33, 0.33)
    for j in sel:
        rid = deck.ids[j]
        c.setFillColorRGB(*(_YOU_RGB if rid == room_id else (_TARGET_RGB if rid in targets else deck.fill_rgb[j])))
        c.drawPath(_Code(deck.code[j]), stroke=1, fill=1, fillMode=0)
    c.setLineWidth(2.2 / scale)
    c.setStrokeColorRGB(0, 0, 0)
    for j in sel[deck.is_safe[sel]]:
        c.drawPath(_Code(deck.code[j]), stroke=1, fill=0)
    c.restoreState()
    _draw_routes(c, routes, tr, tx, fonts)
    c.setDash([])
    you = tr(deck.centre[i:i + 1])[0]
    c.setFillColorRGB(0, 0, 0)
    c.circle(you[0], you[1], 5, stroke=0, fill=1)
    c.setFont(fonts[True], 10)
    c.drawString(you[0] + 7, you[1] + 5, tx["placard.you"])
    c.setFont(fonts[True], 11)
    for t in targets:
        j = deck.pos.get(t)
        if j is None:
            continue
        x, y = tr(deck.centre[int(j):int(j) + 1])[0]
        w = c.stringWidth(t, fonts[True], 11)
        c.setFillColorRGB(1, 1, 1)
        c.setStrokeColorRGB(0, 0, 0)
        c.setLineWidth(1.2)
        c.rect(x - w / 2 - 3, y - 5, w + 6, 16, stroke=1, fill=1)
        c.setFillColorRGB(0, 0, 0)
        c.drawCentredString(x, y, t)
    c.restoreState()
    # scale bar (a round length near a fifth of the width) and the plan north arrow
    span_m = bw / scale
    bar = float(10 ** np.floor(np.log10(span_m / 5)))
    bar *= 5 if span_m / 5 >= 5 * bar else (2 if span_m / 5 >= 2 * bar else 1)
    c.setLineWidth(4)
    c.setStrokeColorRGB(0, 0, 0)
    c.line(bx + 10, by + 12, bx + 10 + bar * scale, by + 12)
    c.setFont(fonts[True], 9)
    c.setFillColorRGB(0, 0, 0)
    c.drawCentredString(bx + 10 + bar * scale / 2, by + 18, f"{bar:g} m")
    ax_, ay_ = bx + bw - 18, by + bh - 40
    p = c.beginPath()
    p.moveTo(ax_, ay_ + 26)
    p.lineTo(ax_ - 7, ay_ + 6)
    p.lineTo(ax_ + 7, ay_ + 6)
    p.close()
    c.drawPath(p, stroke=0, fill=1)
    c.drawCentredString(ax_, ay_ - 6, "N (+y)")


def _static_form(c: Canvas, tx: dict[str, str], footer: str, size: tuple[float, float]) -> tuple[str, int]:
    """What every placard page of a document shows alike, as one form XObject of `c`: the black banner
    with its text, the rules at the foot and the footer line. Returns (form name, number of rule lines)."""
    fonts = _fonts()
    W, H = size
    m = 36.0
    c.beginForm("placard-static")
    c.setFillColorRGB(0, 0, 0)
    c.rect(0, H - 64, W, 64, stroke=0, fill=1)
    c.setFillColorRGB(1, 1, 1)
    banner = tx["placard.banner"]
    bs = 26.0
    while bs > 12 and c.stringWidth(banner, fonts[True], bs) > W - 2 * m:
        bs -= 1
    c.setFont(fonts[True], bs)
    c.drawCentredString(W / 2, H - 42, banner)
    c.setFillColorRGB(0, 0, 0)
    rule_lines = simpleSplit(tx["placard.rules"], fonts[True], 13, W - 2 * m)
    ry = 30 + 15.6 * len(rule_lines)
    for part in rule_lines:
        c.setFont(fonts[True], 13)
        c.drawString(m, ry, part)
        ry -= 15.6
    c.setFont(fonts[False], 7)
    c.setFillColorRGB(0.2, 0.2, 0.2)
    c.drawString(m, 16, footer)
    c.endForm()
    return "placard-static", len(rule_lines)


def _page(c: Canvas, rows: list[dict], deck: _Deck, routes: dict[tuple[str, str], Route], tx: dict[str, str],
          static: tuple[str, int], size: tuple[float, float]) -> None:
    """One placard page on the canvas `c`; `static`: `_static_form`'s (banner, rules and footer)."""
    fonts = _fonts()
    W, H = size
    m = 36.0
    room_id = str(rows[0]["room_id"])
    lines = placard_lines(rows, tx)
    c.doForm(static[0])
    c.setFillColorRGB(0, 0, 0)
    y = H - 64 - 8
    for style, text in lines[1:]:
        if style == "rules":
            continue
        size_pt, bold, gap = _STYLE[style]
        y -= gap
        for part in simpleSplit(text, fonts[bold], size_pt, W - 2 * m) or [""]:
            y -= size_pt * 1.2
            c.setFont(fonts[bold], size_pt)
            c.drawString(m, y, part)
    # the map between the text and the rules
    top = y - 26
    bottom = 30 + 15.6 * static[1] + 22
    if top - bottom >= 120:
        c.setFont(fonts[False], 10)
        c.setFillColorRGB(0.2, 0.2, 0.2)   # the footer's grey (the footer is drawn before it on every page)
        c.drawString(m, top + 6, tx["placard.map_title"])
        groups = placard_groups(rows)
        rts, targets = [], []
        for k, g in enumerate(groups):
            r = g["row"]
            sid = r["safe_room_id"] or (r["second_id"] if int(r["residents"]) == 0 else "")
            if not sid or r["in_place"]:
                continue
            targets.append(sid)
            rt = routes.get((room_id, sid))
            if rt is not None:
                colour, ls = ROUTE_STYLES[k % len(ROUTE_STYLES)]
                rts.append((rt, colour, ls))
        _draw_map(c, deck, (m, bottom, W - 2 * m, top - bottom), room_id, targets, rts, tx, fonts)
    c.showPage()


def write_placards(path: Path, station: Station, plan: dict, briefs: pd.DataFrame,
                   routes: dict[tuple[str, str], Route], tx: dict[str, str], paper: str = "a4") -> int:
    """Write one placard page per room of `briefs` (rooms of one or several decks) into the PDF `path`
    (reportlab; DejaVu Sans embedded, so the text can be extracted).

    Parameters
    ----------
    path : the PDF to write (written under a temporary name, then moved into place).
    briefs : `planner.brief.add_routes` rows (with `walk_m`).
    routes : `planner.brief.add_routes` routes; routes of rows without one are not drawn.
    tx : strings (`planner.brief.strings`).
    paper : "a4" or "letter".

    Returns
    -------
    The number of pages written.
    """
    path = Path(path)
    if paper not in PAPER_IN:
        raise ValueError(f"paper must be one of {sorted(PAPER_IN)}")
    size = (PAPER_IN[paper][0] * 72.0, PAPER_IN[paper][1] * 72.0)
    safe_ids = {str(s["room_id"]) for s in plan.get("safe_rooms", [])}
    names = {str(s["room_id"]): str(s.get("name", "")) for s in plan.get("safe_rooms", [])}
    b = briefs.copy()
    b["second_name"] = b["second_id"].map(names).fillna("")
    p = station.params
    footer = _fmt(tx, "placard.footer", station=station.title, created=str(plan.get("created", ""))[:10],
                  reach=f"{p.reach_s:g}", speed=f"{p.walk_speed_m_s:g}")
    n = 0

    def draw(tmp: Path) -> None:
        nonlocal n
        c = Canvas(str(tmp), pagesize=size, pageCompression=1, invariant=1)
        c.setTitle(f"{station.title}: door placards")
        c.setCreator("safe-room planner")
        static = _static_form(c, tx, footer, size)
        for deck, rows in b.groupby("deck", sort=True):
            d = _Deck(station, int(deck), safe_ids)
            recs = rows.to_dict("records")     # plain dicts: a page reads its rows many times
            recs.sort(key=lambda r: r["room_id"])   # stable: each room's rows in their order
            for _, rr in itertools.groupby(recs, key=lambda r: r["room_id"]):
                _page(c, list(rr), d, routes, tx, static, size)
                n += 1
        c.save()

    write_atomic(path, draw, overwrite=True, what="placards PDF")
    return n


# ---------------------------------------------------------------------------- briefing sheet
def sheet_numbers(plan: dict, tx: dict[str, str]) -> list[tuple[str, str]]:
    """The network in numbers, from plan.json: (label, value) rows."""
    t = plan.get("totals", {}) or {}
    safe = plan.get("safe_rooms", []) or []
    rows = [(tx["sheet.safe_rooms"], f"{len(safe):,}"),
            (tx["sheet.places"], f"{sum(int(s.get('capacity', 0) or 0) for s in safe):,}"),
            (tx["sheet.converted"], f"{int(t.get('rooms_converted', 0) or 0):,}"),
            (tx["sheet.existing"], f"{int(t.get('existing_safe_rooms', 0) or 0):,}")]
    for s, v in (t.get("scenarios", {}) or {}).items():
        res, sh = int(v.get("residents", 0) or 0), int(v.get("sheltered", 0) or 0)
        share = f" ({100.0 * sh / res:.1f} %)" if res else ""
        rows.append((_fmt(tx, "sheet.sheltered", scenario=_scen(tx, s)), f"{sh:,} / {res:,}{share}"))
    if "max_walk_s" in t:
        rows.append((tx["sheet.worst_walk"], f"{fmt_s(float(t['max_walk_s']))} s"))
    reach = (plan.get("parameters", {}) or {}).get("reach_s")
    if reach is not None:
        rows.append((tx["sheet.reach"], f"{float(reach):g} s"))
    if "min_options_in_reach" in t:
        rows.append((tx["sheet.options"], f"{int(t['min_options_in_reach'])}"))
    return rows


def write_briefing_sheet(path: Path, station_title: str, plan: dict, simulation: dict[str, dict] | None,
                         tx: dict[str, str], paper: str = "a4") -> Path:
    """The one-page briefing sheet for delegations (PDF): numbers, arrival curve, what to do.

    `simulation`: `planner.brief.read_simulation`'s dict or None (the curve panel then says no
    simulation was run)."""
    path = Path(path)
    w, h = PAPER_IN[paper]
    with plt.rc_context({"pdf.fonttype": 42, "font.family": "DejaVu Sans"}):  # TrueType: extractable text
        fig = plt.figure(figsize=(w, h))
        fig.add_artist(Rectangle((0, 0.93), 1, 0.07, transform=fig.transFigure, color="black"))
        title = _fmt(tx, "sheet.title", station=station_title)
        fig.text(0.5, 0.965, title, color="white", fontsize=17 if len(title) < 48 else 13, fontweight="bold",
                 ha="center", va="center")
        fig.text(0.07, 0.895, tx["sheet.numbers"], fontsize=15, fontweight="bold")
        y = 0.86
        for label, value in sheet_numbers(plan, tx):
            fig.text(0.07, y, label, fontsize=11)
            fig.text(0.93, y, value, fontsize=11, fontweight="bold", ha="right")
            y -= 0.026
        ax = fig.add_axes((0.12, y - 0.30, 0.8, 0.25))
        fig.text(0.07, y - 0.02, tx["sheet.curve"], fontsize=15, fontweight="bold")
        if simulation and any("curve" in s for s in simulation.values()):
            for k, (name, s) in enumerate(simulation.items()):
                if "curve" not in s:
                    continue
                c = s["curve"]
                colour, ls = ROUTE_STYLES[k % len(ROUTE_STYLES)]
                extra = f", {s['agents']:,} people" if "agents" in s else ""
                ax.plot(c[:, 0], 100 * c[:, 1], color=colour, linestyle=ls, linewidth=2,
                        label=f"{_scen(tx, name)}{extra}")
            reach = (plan.get("parameters", {}) or {}).get("reach_s")
            if reach is not None:
                ax.axvline(float(reach), color="#888888", linewidth=1)
            ax.set_ylim(0, 100)
            ax.set_xlim(left=0)
            ax.set_xlabel(tx["sheet.curve_x"])
            ax.set_ylabel(tx["sheet.curve_y"] + " (%)")
            ax.grid(alpha=0.3)
            ax.legend(loc="lower right", fontsize=9)
        else:
            ax.axis("off")
            fig.text(0.07, y - 0.07, "\n".join(textwrap.wrap(tx["sheet.no_simulation"], 80)), fontsize=11,
                     va="top")
        y2 = y - 0.38
        fig.text(0.07, y2, tx["sheet.what_to_do"], fontsize=15, fontweight="bold")
        y2 -= 0.035
        for k in range(1, 10):
            step = tx.get(f"sheet.step{k}")
            if not step:
                break
            for j, part in enumerate(textwrap.wrap(step, 78)):
                fig.text(0.07, y2, f"{k}." if j == 0 else "", fontsize=12, fontweight="bold")
                fig.text(0.11, y2, part, fontsize=12)
                y2 -= 0.024
            y2 -= 0.006
        fig.text(0.07, 0.02, _fmt(tx, "sheet.footer", created=str(plan.get("created", ""))[:10],
                                  version=str(plan.get("planner_version", ""))), fontsize=8, color="#333333")
        try:
            write_atomic(path, lambda tmp: fig.savefig(tmp, format="pdf", metadata={"Creator": "safe-room planner",
                                                                                     "Title": title}),
                         overwrite=True, what="briefing sheet")
        finally:
            plt.close(fig)
    return path
