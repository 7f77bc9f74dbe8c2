"""Measured margins: extra seconds added to the predicted arrival of some (room, safe room) pairs.

A margin is a stricter requirement than the queue model's own prediction: where a pedestrian
simulation showed a room's residents arriving later than the model predicted (an unmodelled
queue in a corridor, a stall), `planner propose --verify` (`planner.verify`) records what it
measured beyond the prediction plus a safety term, and the next plan is made with those
seconds added to that pair's arrival time. The optimiser (`planner.queues.model_pairs`
through `planner.pipeline`) and the independent checker (`planner.checkqueue`) both add
them, in the same place: to the time the room's last walker reaches the safe room's door
(`out_ij`, which must be within the reach time) and to the time of the room's batch in that
door's fluid queue (`b_ij`).

A margin table is plain data, one row per margin (plan.json `margins`):

- `room_id`: the room whose residents walk ("" = every room);
- `site_id`: the safe room they walk to ("" = every safe room);
- `extra_s`: seconds added (finite, zero or more);
- optional provenance: `round`, `scenario`, `door_id` (the safe room's door the pair enters by),
  `cause`, `predicted_s`, `simulated_s`, `measured_s` (simulated minus predicted), `safety_s`.

The seconds of every row that matches a pair add up (a room-wide row, a safe-room-wide row and
the pair's own row). This module sits at the inputs level (numpy and pandas only).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from planner.errors import InputError

__all__ = ["MARGIN_KEYS", "margin_table", "margin_rows", "pair_margin_s", "merge_margins"]

MARGIN_KEYS: tuple[str, ...] = ("room_id", "site_id", "extra_s")
"""The columns a margin must have (the rest is provenance)."""
_PROVENANCE: tuple[str, ...] = ("round", "scenario", "door_id", "cause", "predicted_s", "simulated_s", "measured_s",
                                "safety_s")


def margin_table(rows: Iterable[Mapping[str, Any]] | pd.DataFrame | None, source: str = "margins") -> pd.DataFrame:
    """Margins as a DataFrame (room_id, site_id, extra_s and any provenance columns), validated.

    Parameters
    ----------
    rows : iterable of mappings, DataFrame or None
        One margin per row (see the module docstring); None or empty: no margins.
    source : str
        Where the rows come from, for error messages (e.g. "plan.json margins").

    Returns
    -------
    pandas.DataFrame
        room_id and site_id as str ("" = any), extra_s as float seconds; one row per input row.

    Raises
    ------
    InputError
        A row without room_id/site_id/extra_s, or whose extra_s is not a finite number of zero or
        more seconds (a negative margin would loosen the promise).
    """
    if rows is None:
        rows = []
    df = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if df.empty:
        return pd.DataFrame({"room_id": pd.Series(dtype=str), "site_id": pd.Series(dtype=str),
                             "extra_s": pd.Series(dtype=float)})
    missing = [k for k in MARGIN_KEYS if k not in df.columns]
    if missing:
        raise InputError(source, ", ".join(missing), "is missing from the margins",
                         "give every margin a room_id, a site_id (\"\" for any) and extra_s in seconds")
    for c in ("room_id", "site_id"):
        df[c] = df[c].where(df[c].notna(), "").astype(str)
    extra = pd.to_numeric(df["extra_s"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(extra) | (extra < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(source, f"margin of room {df['room_id'].iat[i] or '*'} -> {df['site_id'].iat[i] or '*'}",
                         f"has extra_s {df['extra_s'].iat[i]!r}: not a finite number of zero or more seconds",
                         "a margin only adds seconds; remove it or give a non-negative number")
    df["extra_s"] = extra
    return df.reset_index(drop=True)


def margin_rows(margins: pd.DataFrame) -> list[dict[str, Any]]:
    """The margins as plan.json rows (plain JSON values, seconds rounded to 0.01 s upwards)."""
    out = []
    for rec in margins.to_dict(orient="records"):
        row: dict[str, Any] = {"room_id": str(rec["room_id"]), "site_id": str(rec["site_id"]),
                               "extra_s": math.ceil(float(rec["extra_s"]) * 100 - 1e-9) / 100}
        for k in _PROVENANCE:
            v = rec.get(k)
            if v is None or (isinstance(v, float) and not math.isfinite(v)):
                continue
            row[k] = round(float(v), 2) if isinstance(v, (float, np.floating)) else (
                int(v) if isinstance(v, (int, np.integer)) else str(v))
        out.append(row)
    return out


def pair_margin_s(margins: pd.DataFrame | None, room_ids: Any, site_ids: Any) -> np.ndarray:
    """Seconds added to each (room, safe room) pair: the sum of the margins that match it (its own
    row, its room's row with site "", its safe room's row with room "" and a row with both ""); 0
    without margins."""
    if margins is None or not len(margins):                  # no margins: nothing to match (no text work)
        return np.zeros(len(room_ids))
    rooms = pd.Index(np.asarray(room_ids, dtype=object).astype(str))
    sites = pd.Index(np.asarray(site_ids, dtype=object).astype(str))
    if not len(rooms):
        return np.zeros(len(rooms))
    m = margins.groupby(["room_id", "site_id"])["extra_s"].sum()
    blank = pd.Index([""] * len(rooms))
    total = np.zeros(len(rooms))
    for r, s in ((rooms, sites), (rooms, blank), (blank, sites), (blank, blank)):
        total += m.reindex(pd.MultiIndex.from_arrays([r, s])).fillna(0.0).to_numpy(dtype=float)
    return total


def merge_margins(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """`old` with the rows of `new` appended (both `margin_table`s); matching rows add up."""
    if not len(old):
        return new.reset_index(drop=True)
    if not len(new):
        return old.reset_index(drop=True)
    return pd.concat([old, new], ignore_index=True)
