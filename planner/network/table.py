"""The reach table's result type, `ReachTable` (moved from `planner/network.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from planner.cells import safe_csv_frame
from planner.files import write_atomic


# ---------------------------------------------------------------------------- results
@dataclass
class ReachTable:
    """Walking times (seconds) from rooms to candidate safe rooms.

    - `pairs`: columns room_id, site_id, walk_s, door_id; only ``walk_s <= reach_s``.
      `door_id` is the site's door the room's people enter by ("" = shelter in place).
    - `rooms`: index room_id (every room): `leg_s` (farthest point to its nearest door,
      reaction included; inf without a door), `best_site_id` (None when no site within
      twice the reach), `best_walk_s` (inf beyond twice the reach).
    - `key`: hash of the inputs (cache key).
    """

    pairs: pd.DataFrame
    rooms: pd.DataFrame
    key: str = ""

    def options_in_reach(self) -> pd.Series:
        """Number of candidate sites within reach, per room (index room_id, every room)."""
        n = self.pairs.groupby("room_id").size()
        return n.reindex(self.rooms.index, fill_value=0).astype(int).rename("options_in_reach")

    def matrix(self) -> dict[tuple[str, str], float]:
        """{(room_id, site_id): walk_s} for the pairs within reach."""
        p = self.pairs
        return dict(zip(zip(p["room_id"], p["site_id"]), p["walk_s"]))

    def write(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write `pairs` to CSV (texts as text, see `planner.cells`) or Parquet, atomically and
        without overwriting (`planner.files.write_atomic`)."""
        path = Path(path)
        if path.suffix.lower() == ".parquet":
            return write_atomic(path, lambda tmp: self.pairs.to_parquet(tmp, index=False), overwrite=overwrite)
        return write_atomic(path, lambda tmp: safe_csv_frame(self.pairs).to_csv(tmp, index=False), overwrite=overwrite)


