"""`planner.files.read_npz`, the one reader of the caches' data-only ``.npz`` entries (`write_npz` the one
writer): the arrays of an entry of the asked format and key, else None, never an error for a bad file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner.files import read_npz, write_npz


def _entry(path: Path, fmt: str = "test-1", key: str = "k") -> dict[str, np.ndarray]:
    arrays = {"format": np.asarray(fmt), "key": np.asarray(key), "a": np.arange(5000, dtype=np.int64),
              "b": np.asarray(["x", "yz"], dtype=str)}
    assert write_npz(path, arrays) is None
    return arrays


def _read(path: Path, fmt: str = "test-1", key: str | None = "k", **kw) -> tuple[dict | None, list[str]]:
    said: list[str] = []
    return read_npz(path, fmt, key, ignored=said.append, **kw), said


def test_an_entry_of_the_format_and_key_is_read_whole(tmp_path):
    arrays = _entry(tmp_path / "e.npz")
    got, said = _read(tmp_path / "e.npz", need=("a", "b"))
    assert got is not None and not said and sorted(got) == sorted(arrays)
    assert all(np.array_equal(got[k], v) and got[k].dtype == v.dtype for k, v in arrays.items())
    assert _read(tmp_path / "e.npz", key=None)[0] is not None           # the key not checked
    some, _ = _read(tmp_path / "e.npz", only=lambda name: name == "a")    # only some arrays read
    assert some is not None and sorted(some) == ["a", "format", "key"] and np.array_equal(some["a"], arrays["a"])


def test_another_format_key_or_layout_is_none_and_said(tmp_path):
    _entry(tmp_path / "e.npz")
    for kw, reason in (({"fmt": "test-2"}, "another layout"), ({"key": "other"}, "another key"),
                       ({"need": ("a", "c")}, "no c")):
        got, said = _read(tmp_path / "e.npz", **kw)
        assert got is None and len(said) == 1 and said[0].startswith(reason), (kw, said)
    write_npz(tmp_path / "bare.npz", {"a": np.arange(3)})                  # no format at all
    assert _read(tmp_path / "bare.npz", key=None)[0] is None


def test_the_meta_layout_carries_format_and_key_in_json(tmp_path):
    meta = {"format": "state-1", "key": "abc", "chosen": ["S1"]}
    write_npz(tmp_path / "s.npz", {"meta": np.asarray(json.dumps(meta)), "shape": np.arange(6)})
    got, _ = _read(tmp_path / "s.npz", "state-1", "abc")
    assert got is not None and json.loads(str(got["meta"])) == meta and got["shape"].tolist() == list(range(6))
    assert _read(tmp_path / "s.npz", "state-1", "abd")[0] is None
    assert _read(tmp_path / "s.npz", "state-1", None)[0] is not None
    write_npz(tmp_path / "list.npz", {"meta": np.asarray(json.dumps(["state-1"]))})   # not a JSON object
    assert _read(tmp_path / "list.npz", "state-1", None)[0] is None


def test_missing_truncated_or_pickled_files_are_none_never_an_error(tmp_path):
    assert _read(tmp_path / "absent.npz") == (None, [])                   # missing: nothing said
    _entry(tmp_path / "e.npz")
    data = (tmp_path / "e.npz").read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 10, 0):
        (tmp_path / "t.npz").write_bytes(data[:cut])
        got, said = _read(tmp_path / "t.npz")
        assert got is None and len(said) == 1, cut
    (tmp_path / "n.npz").write_bytes(b"not an npz")
    assert _read(tmp_path / "n.npz")[0] is None
    np.savez(tmp_path / "p.npz", format=np.asarray("test-1"), key=np.asarray("k"),
             a=np.asarray([{"x": 1}], dtype=object))                     # an object array: read without pickle
    got, said = _read(tmp_path / "p.npz")
    assert got is None and said and "pickle" in said[0]
    (tmp_path / "dir.npz").mkdir()
    assert _read(tmp_path / "dir.npz")[0] is None


def test_a_read_only_cache_is_read_and_not_written(tmp_path):
    ro = tmp_path / "cache"
    arrays = _entry(ro / "e.npz")
    (ro / "e.npz").chmod(0o444)
    ro.chmod(0o555)
    try:
        got, said = _read(ro / "e.npz")
        assert got is not None and not said and np.array_equal(got["a"], arrays["a"])
        if os.geteuid() != 0:                                            # root writes into read-only folders
            assert write_npz(ro / "e.npz", {"format": np.asarray("test-1")}) is not None
            assert write_npz(ro / "f.npz", arrays) is not None and not (ro / "f.npz").exists()
            assert _read(ro / "e.npz")[0] is not None
    finally:
        ro.chmod(0o755)


@pytest.mark.parametrize("cut", [None, "half", "format", "key"])
def test_the_openings_cache_reads_back_only_its_own_whole_entry(tmp_path, cut):
    """`corridors`' openings entry through `read_npz`: read back as written; truncated, of another format or
    another key: None (worked out anew)."""
    from planner.corridors import _OPENINGS_CACHE, _read_openings, _write_openings

    openings = pd.DataFrame({"room_id": ["R1", "R2", "R2"], "site_id": ["S1", "S1", "S2"], "door_id": ["D1", "D2", "D1"]})
    path = tmp_path / "openings" / "e.npz"
    _write_openings(path, "key-1", openings)
    if cut == "half":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif cut == "format":
        with np.load(path) as z:
            arrays = dict(z)
        write_npz(path, arrays | {"format": np.asarray(_OPENINGS_CACHE + "-old")})
    got = _read_openings(path, "key-2" if cut == "key" else "key-1")
    if cut is None:
        assert got is not None and list(got.columns) == list(openings.columns)
        assert got.to_numpy().tolist() == openings.to_numpy().tolist()
    else:
        assert got is None
