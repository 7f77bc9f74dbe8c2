"""A folder of JSON results keyed by what produced them (`JsonCache`): the what-if budgets
(`planner.sweep`) and the Displacement sheet's re-planned points (`planner.displacement`).

A key is the SHA-256 of a JSON payload that names everything the result depends on (the station's
input files' hash, the parameters, the start, the margins, the planner's version, ...). A result
that cannot be read is treated as absent (solved again); one that cannot be written only costs
time (logged)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from planner.errors import PlannerError
from planner.plan import write_json_atomic
from planner.progress import log

__all__ = ["JsonCache"]


class JsonCache:
    """JSON results in `folder` (None: no cache; nothing is read or written), one file per key."""

    def __init__(self, folder: str | Path | None, what: str) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.what = what

    @staticmethod
    def key(payload: dict[str, Any]) -> str:
        """SHA-256 (hex) of `payload` as sorted JSON (values JSON cannot hold are written as text)."""
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def get(self, key: str) -> Any:
        """The result stored under `key`, or None (no cache, absent or unreadable)."""
        if self.folder is None:
            return None
        try:
            return json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, key: str, result: Any) -> None:
        """Store `result` under `key` (replacing an older entry); a failure is logged, not raised."""
        if self.folder is None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.folder / f"{key}.json", result, overwrite=True)
        except (OSError, PlannerError) as exc:
            log(f"[planner] the {self.what} cache was not written ({exc})")
