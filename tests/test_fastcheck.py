"""The faster independent check (issue 21) finds what the slow one found: the raster walks split at the door
nodes against a Dijkstra over the whole lattice, the exit caps on integer codes against the pandas
version they replaced, the raster walks in a forked worker against the same check in one process, and
the worker handle's fallbacks."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest

from conftest import corridor_layout, write_station
from planner.station import load_station


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from planner.generate import generate_station

    return load_station(generate_station(300, 4, tmp_path_factory.mktemp("gen") / "s"))   # two decks, stairs


def _pairs(station, every: int = 1):
    """Walking reach pairs of every `every`-th safe room."""
    from planner.network import reach_table

    pr = reach_table(station, cache=False).pairs
    pr = pr[pr["walk_s"] > 0][["room_id", "site_id"]]
    return pr[pr["site_id"].isin(pr["site_id"].drop_duplicates().iloc[::every])]


def _same_walks(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert len(a) == len(b) and (a[["room_id", "site_id"]].to_numpy() == b[["room_id", "site_id"]].to_numpy()).all()
    fa, fb = np.isfinite(a["walk_s"].to_numpy()), np.isfinite(b["walk_s"].to_numpy())
    assert (fa == fb).all()
    assert np.abs(a["walk_s"].to_numpy()[fa] - b["walk_s"].to_numpy()[fb]).max(initial=0.0) < 1e-9
    assert (a["door_id"].to_numpy() == b["door_id"].to_numpy()).all()


def test_raster_walks_split_at_the_doors_equal_the_whole_lattice(tmp_path, generated):
    import planner.walkgrid as wg

    rooms, doors, res = corridor_layout(["quarters", "storage", "quarters", "storage", "quarters"],
                                        residents={"R1": 2, "R3": 2, "R5": 2})
    small = load_station(write_station(tmp_path / "s", rooms, doors, res))
    for station, every in ((small, 1), (generated, 5)):
        grid = wg.build_grid(station, 0.5)
        pr = _pairs(station, every)
        pr = pd.concat([pr, pd.DataFrame({"room_id": ["nowhere"], "site_id": [pr["site_id"].iat[0]]})])
        _same_walks(wg.grid_walks(station, pr, grid=grid), wg._grid_walks_direct(station, pr, grid))
        # per safe room limits (the checker's): walks beyond them inf in both
        sites = pr["site_id"].drop_duplicates()
        limit = pd.Series(np.linspace(5.0, 40.0, len(sites)), index=sites.to_numpy())
        fast = wg.grid_walks(station, pr, grid=grid, limit_s=limit)
        _same_walks(fast, wg._grid_walks_direct(station, pr, grid, limit_s=limit))
        assert np.isinf(fast["walk_s"]).any() and np.isfinite(fast["walk_s"]).any()


def _exit_caps_reference(room, site, dw, n, rd, sel, d, capacity, T):
    """`queues._exit_caps`' choice of K per (room, door) as it was written with pandas (before issue 21)."""
    df = pd.DataFrame({"room": room[sel], "door": d, "dw": dw[sel], "r": rd, "n": n[sel],
                       "cap": (capacity.reindex(site[sel]).fillna(0).to_numpy(dtype=float)
                               if capacity is not None else np.full(len(sel), np.inf))})
    df = df.sort_values(["room", "door", "dw"], kind="stable")
    k = np.floor(df["r"].to_numpy() * np.maximum(0.0, T - df["dw"].to_numpy()) + 1e-6)
    df["k"] = np.minimum(k, df["n"].to_numpy())
    df["places"] = df.groupby(["room", "door"], sort=False)["cap"].cumsum()
    df["value"] = np.minimum(df["k"], df["places"]) if capacity is not None else -df["dw"]
    best = df.sort_values(["room", "door", "value", "dw"], ascending=[True, True, False, True],
                          kind="stable").drop_duplicates(["room", "door"])
    k_door = pd.Series(best["k"].to_numpy(), index=pd.MultiIndex.from_arrays([best["room"], best["door"]]))
    return k_door.reindex(pd.MultiIndex.from_arrays([room[sel], d])).to_numpy(dtype=float)


def test_exit_caps_on_integer_codes_equal_the_pandas_version(generated, monkeypatch):
    import planner.queues as q
    from planner.checkqueue import _capacities
    from planner.network import reach_table
    from planner.network.paths import exit_doors

    p = generated.params
    pairs = reach_table(generated, cache=False).pairs
    seen = []
    real = q._exit_caps

    def spy(room, site, dw, n, r, sip, T, params, capacity, flow, widest_door, doors):
        out, door, r_out = real(room, site, dw, n, r, sip, T, params, capacity, flow, widest_door, doors)
        sel = np.flatnonzero(np.isfinite(out))
        want = _exit_caps_reference(room, site, dw, n, r_out[sel], sel, door[sel], capacity, T)
        seen.append(len(sel))
        assert np.array_equal(out[sel], want)
        return out, door, r_out

    monkeypatch.setattr(q, "_exit_caps", spy)
    for cap in (_capacities(generated, p), None):
        for doors in (exit_doors(generated), None):
            q.model_pairs(pairs, generated.demand(), q.door_flows(generated), p, capacity=cap, exit_doors=doors)
    assert len(seen) == 4 and min(seen) > 100


def test_forked_worker_result_and_fallbacks(monkeypatch):
    import planner.network.parallel as par

    assert par._Forked(lambda: 6 * 7, "test").result() == 42
    parent = os.getpid()
    # the worker dies: the result is computed here
    dies = par._Forked(lambda: os._exit(3) if os.getpid() != parent else "here", "test")
    assert dies.result() == "here"
    # no fork: computed here, when asked
    monkeypatch.setattr(par.mp, "get_all_start_methods", lambda: ["spawn"])
    calls = []
    h = par._Forked(lambda: calls.append(1) or "late", "test")
    assert not calls and h.result() == "late" and calls == [1]


def test_forked_worker_dropped_unread_is_stopped():
    import gc

    import planner.network.parallel as par

    h = par._Forked(lambda: time.sleep(60), "test")
    assert h.pool is not None
    procs = list(h.pool._processes.values())
    assert procs and procs[0].is_alive()
    del h
    gc.collect()
    procs[0].join(timeout=10)
    assert not procs[0].is_alive()


def test_check_with_the_raster_in_a_worker_equals_one_process(tmp_path, monkeypatch):
    import planner.checkqueue as cq
    from planner.check import check_plan
    from test_queues import _plan, _reach

    rooms, doors, res = corridor_layout(["quarters", "storage", "storage", "storage"], residents={"R1": 3})
    station = load_station(write_station(tmp_path / "s", rooms, doors, res))
    walks = {("R1", "R4"): 2.0, ("R1", "R1"): 0.0, ("R2", "R2"): 0.0, ("R3", "R3"): 0.0, ("R4", "R4"): 0.0}
    plan = _plan(station, [("R1", s, "R4", 3) for s in station.scenarios], ["R4"], walks)
    reach = _reach(walks, {("R1", "R4"): "D4"})
    monkeypatch.setenv("PLANNER_REACH_WORKERS", "1")
    one = check_plan(station, plan, reach=reach)
    monkeypatch.setenv("PLANNER_REACH_WORKERS", "2")
    monkeypatch.setattr(cq, "FORK_MIN_PAIRS", 1)
    started = []
    real = cq._Forked
    monkeypatch.setattr(cq, "_Forked", lambda fn, what: started.append(what) or real(fn, what))
    two = check_plan(station, plan, reach=reach)
    assert started == ["independent walks"]
    assert [str(b) for b in one] == [str(b) for b in two]
    assert any(b.kind == "walk-independent" for b in two)


def test_exit_doors_of_multi_door_rooms_only_time_the_pairs_alike(generated):
    from planner.checkqueue import _capacities, timed_pairs
    from planner.queues import door_flows, model_pairs, multi_door_exits
    from planner.network import reach_table
    from planner.network.paths import exit_doors, walk_graph

    g = walk_graph(generated)
    pairs = reach_table(generated, cache=False, graph=g).pairs
    asked = []
    every = exit_doors(generated, g)
    some = multi_door_exits(generated, lambda rows: asked.append(len(rows)) or every(rows))
    p = generated.params     # every pair's walk path followed (timed_pairs itself asks only multi-door rooms)
    full = model_pairs(pairs, generated.demand(), door_flows(generated), p, capacity=_capacities(generated, p),
                       exit_doors=every)
    pd.testing.assert_frame_equal(full, timed_pairs(generated, pairs, p, doors=some), check_exact=True)
    assert asked and 0 < asked[0] < len(pairs)


class _Spy:
    """Parameters that record the names read from them."""

    def __init__(self, params, seen: set[str]) -> None:
        self._params, self._seen = params, seen

    def __getattr__(self, name):
        self._seen.add(name)
        return getattr(self._params, name)


def test_exit_doors_are_found_once_per_pair_and_read_only_their_parameters(generated, monkeypatch):
    """`exit_doors` (issue 21: a what-if asked for the same pairs' doors five times) keeps each pair's door
    for the station objects with the same rooms and doors and `EXIT_DOOR_PARAMETERS`: the same doors as
    `assignment_paths` of all the rows at once, whatever rows are asked with them; `assignment_paths` reads
    no other parameter (a new one would have to join the key); the checker's own (`memo=False`) is not shared."""
    import dataclasses

    import planner.network.paths as paths

    generated = load_station(generated.folder)      # its own tables: nothing kept from the other tests
    pairs = _pairs(generated, 3)
    pairs = pd.concat([pairs, pairs.iloc[:5], pd.DataFrame({"room_id": ["nowhere", pairs["room_id"].iat[0]],
                                                            "site_id": [pairs["site_id"].iat[0]] * 2})])
    pairs = pairs.reset_index(drop=True)
    seen: set[str] = set()
    spy = dataclasses.replace(generated, params=_Spy(generated.params, seen))
    want = paths.assignment_paths(spy, pairs).exit_door
    assert seen and seen <= set(paths.EXIT_DOOR_PARAMETERS)
    asked: list[int] = []
    real = paths.assignment_paths
    monkeypatch.setattr(paths, "assignment_paths", lambda st, rows, graph=None: asked.append(len(rows)) or
                        real(st, rows, graph=graph))
    other = dataclasses.replace(generated, params=generated.params.replace(budget=1.0, slow_walker_speed_m_s=0.5))
    half = pairs.iloc[::2]
    assert list(paths.exit_doors(generated)(half)) == list(want[::2])
    assert list(paths.exit_doors(other)(pairs)) == list(want)      # only the other half computed
    assert list(paths.exit_doors(generated)(pairs.iloc[::-1])) == list(want[::-1])
    assert asked == [len(half.drop_duplicates()), len(pairs.drop_duplicates()) - len(half.drop_duplicates())]
    own = paths.exit_doors(generated, memo=False)
    assert list(own(pairs)) == list(want) and len(asked) == 3
    slow = dataclasses.replace(generated, params=generated.params.replace(walk_speed_m_s=0.9))
    paths.exit_doors(slow)(half)
    assert len(asked) == 4                                        # another walking speed: its own doors


def test_the_exit_door_memo_asks_each_new_pair_once_in_the_order_first_asked():
    """`network.paths._DoorMemo` (the memo as arrays, issue 21): the doors of any rows equal a dict's of the
    pairs asked; `find` gets each pair not known yet once, in the order first asked."""
    import numpy as np

    from planner.network.paths import _DoorMemo

    rng = np.random.default_rng(3)
    memo, ref, calls = _DoorMemo(), {}, []

    def find(room, site):
        calls.append(list(zip(room, site)))
        return np.asarray([f"D{r}-{s}" for r, s in zip(room, site)], dtype=object)
    for n in (0, 7, 40, 40, 300):
        room = np.asarray([f"R{i}" for i in rng.integers(0, 12, n)], dtype=object)
        site = np.asarray([f"R{i}" for i in rng.integers(0, 9, n)], dtype=object)
        new = list(dict.fromkeys(k for k in zip(room, site) if k not in ref))
        got = memo.doors(room, site, find)
        ref.update({k: f"D{k[0]}-{k[1]}" for k in new})
        assert got.dtype == object and got.tolist() == [ref[k] for k in zip(room, site)]
        assert (calls.pop() if new else []) == new and not calls
