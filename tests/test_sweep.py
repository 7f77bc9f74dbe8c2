"""Budget sweeps: monotone curve, every plan checked, local pool == Dask, report folder, budget grid.

The monotone rule is tested on synthetic plans (no solver); the end-to-end tests use a small
hand-made corridor station and need the optimiser (`planner.model`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from conftest import corridor_layout, write_station
from planner.sweep import budget_grid, enforce_monotone, parse_budget_range
from planner.errors import InputError


# ------------------------------------------------------------------ the rule, without a solver
def _fake(budget: float, cost: float, night: int, day: int) -> dict:
    plan = {"totals": {"cost": cost, "budget": budget,
                       "scenarios": {"night": {"sheltered": night, "residents": 10},
                                     "day": {"sheltered": day, "residents": 10}}},
            "parameters": {"budget": budget}, "assignments": []}
    return {"budget": budget, "plan": plan, "weighted": float(night + day), "chosen": []}


def test_monotone_rule_replaces_a_worse_plan_by_the_smaller_budgets():
    bs = [10.0, 20.0, 30.0]
    cands = {0: [_fake(10, 9, 4, 4)], 1: [_fake(20, 18, 3, 6)], 2: [_fake(30, 25, 5, 5)]}
    kept = enforce_monotone(bs, cands, ["night", "day"], pd.Series(dtype=float))
    night = [k["plan"]["totals"]["scenarios"]["night"]["sheltered"] for k in kept]
    day = [k["plan"]["totals"]["scenarios"]["day"]["sheltered"] for k in kept]
    assert night == [4, 4, 5] and day == [4, 4, 5]
    assert kept[1]["plan"]["totals"]["budget"] == 20.0  # carried plan relabelled with its budget
    assert kept[1]["plan"]["totals"]["cost"] == 9
    assert "carried" in kept[1]["source"]


def test_monotone_rule_prefers_the_better_dominating_plan():
    bs = [10.0, 20.0]
    cands = {0: [_fake(10, 9, 4, 4)], 1: [_fake(20, 18, 4, 5), _fake(20, 12, 4, 6)]}
    kept = enforce_monotone(bs, cands, ["night", "day"], pd.Series(dtype=float))
    assert kept[1]["plan"]["totals"]["cost"] == 12


def test_parse_budget_range():
    assert parse_budget_range("1e6:3e6:3") == [1e6, 2e6, 3e6]
    with pytest.raises(InputError):
        parse_budget_range("1e6:3e6")
    with pytest.raises(InputError):
        parse_budget_range("5:1:3")


def test_budget_grid_from_costs():
    costs = pd.DataFrame({"total_cost": [0.0, 123_456.0, 300_000.0, 500_000.0]})
    g = budget_grid(costs, 5, full_cover_cost=654_321.0)
    assert g[0] == pytest.approx(124_000.0) and g[-1] >= 654_321.0 and g == sorted(g) and len(g) == 5


# ------------------------------------------------------------------ end to end (needs the optimiser)
KINDS = ["quarters", "storage", "quarters", "storage", "quarters", "recreation", "quarters", "storage"]
RESIDENTS = {"R1": 3, "R3": 5, "R5": 2, "R7": 4}


# The module fixtures are expensive (Unity: 40 s; sweep: a few s each): under pytest-xdist (make test) the
# module's tests run on one worker, so the fixture is built once.
pytestmark = pytest.mark.xdist_group("test_sweep")

@pytest.fixture(scope="module")
def station_dir(tmp_path_factory) -> Path:
    rooms, doors, rows = corridor_layout(KINDS, residents=RESIDENTS)
    for r in rows:  # day: people move to the recreation room
        if r["room_id"] == "R6":
            r["day"] = 6
        elif r["room_id"] in RESIDENTS:
            r["day"] = max(0, r["day"] - 2)
    toml = "[model]\ntime_limit_s = 20.0\nsweep_time_limit_s = 20.0\nmip_gap = 0.0\n"
    return write_station(tmp_path_factory.mktemp("sweep") / "corridor", rooms, doors, rows, toml)


@pytest.fixture(scope="module")
def station(station_dir):
    pytest.importorskip("planner.model")
    pytest.importorskip("planner.network")
    from planner.progress import set_quiet
    from planner.station import load_station

    set_quiet(True)
    return load_station(station_dir)


@pytest.fixture(scope="module")
def prepared(station):
    from planner.pipeline import prepare

    return prepare(station)


@pytest.fixture(scope="module")
def budgets(station, prepared):
    from planner.sweep import full_cover_plan

    _, reach, costs = prepared
    fc = full_cover_plan(station, reach)
    assert fc is not None
    g = budget_grid(costs, 5, full_cover_cost=float(fc["plan"]["totals"]["cost"]))
    return sorted(set(g + [0.0]))


@pytest.fixture(scope="module")
def local_table(station, prepared, budgets):
    from planner.sweep import sweep

    return sweep(station, budgets, workers=2, reach=prepared[1])


@pytest.mark.slow
def test_sweep_monotone_and_checked(station, local_table, budgets):
    t = local_table
    assert list(t["budget"]) == sorted(budgets)
    for s in station.scenarios:
        assert (np.diff(t[f"sheltered_{s}"]) >= 0).all(), t[["budget", f"sheltered_{s}"]]
    assert (t["cost"] <= t["budget"] + 1e-6).all()
    assert t[[f"share_{s}" for s in station.scenarios]].iloc[-1].min() == pytest.approx(1.0)
    assert t["sheltered_night"].iloc[0] == 0  # budget 0 converts nothing
    try:
        from planner.check import check_plan
    except ImportError:
        pytest.skip("planner.check not written yet")
    import dataclasses

    for b, plan in zip(t["budget"], t.attrs["plans"]):
        st = dataclasses.replace(station, params=station.params.replace(budget=float(b),
                                                                         objective=plan["objective"]))
        assert check_plan(st, plan) == [], f"budget {b}"


@pytest.fixture(scope="module")
def dask_address():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def _same_plans(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = ["budget", "cost", "rooms"] + [c for c in a.columns if c.startswith("sheltered_")]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    assert list(a["chosen"]) == list(b["chosen"])


@pytest.mark.slow
def test_dask_and_local_pool_give_identical_plans(station, prepared, budgets, local_table, dask_address):
    from planner.sweep import sweep

    t = sweep(station, budgets, scheduler=dask_address, reach=prepared[1])
    _same_plans(t, local_table)


@pytest.mark.slow
@pytest.mark.parametrize("n_rooms,seed", [(40, 3), (60, 7)])
def test_generated_station_dask_equals_local_and_plans_check(tmp_path, dask_address, n_rooms, seed):
    pytest.importorskip("planner.model")
    gen = pytest.importorskip("planner.generate")
    import dataclasses

    from planner.pipeline import prepare
    from planner.progress import set_quiet
    from planner.station import load_station
    from planner.sweep import full_cover_plan, sweep

    set_quiet(True)
    st = load_station(gen.generate_station(n_rooms, seed, tmp_path / "gen"))
    _, reach, costs = prepare(st)
    fc = full_cover_plan(st, reach)
    bs = budget_grid(costs, 4, full_cover_cost=float(fc["plan"]["totals"]["cost"]))
    local = sweep(st, bs, workers=2, reach=reach, full_cover=fc)
    remote = sweep(st, bs, scheduler=dask_address, reach=reach, full_cover=fc)
    _same_plans(local, remote)
    for s in st.scenarios:
        assert (np.diff(local[f"sheltered_{s}"]) >= 0).all()
    try:
        from planner.check import check_plan
    except ImportError:
        return
    for b, plan in zip(local["budget"], local.attrs["plans"]):
        sb = dataclasses.replace(st, params=st.params.replace(budget=float(b), objective=plan["objective"]))
        assert check_plan(sb, plan) == [], f"budget {b}"


@pytest.mark.slow
def test_run_sweep_command_writes_a_new_folder(station, tmp_path):
    from planner.sweep import run_sweep_command

    out = tmp_path / "reports"
    f1 = run_sweep_command(station, budgets=[0.0, 1e6], out_root=out, workers=1)
    f2 = run_sweep_command(station, budgets=[0.0, 1e6], out_root=out, workers=1)
    assert f1 != f2 and f1.exists() and f2.exists()
    for f in (f1, f2):
        names = {p.name for p in f.iterdir()}
        assert {"sweep.csv", "sweep.json", "budget-coverage.png", "plans"} <= names
        assert any(n.endswith(".xlsx") for n in names)
    rows = json.loads((f1 / "sweep.json").read_text())["rows"]
    assert [r["budget"] for r in rows] == [0.0, 1e6]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no partial folder left behind


def test_quick_sweep_for_a_proposal(station, prepared):
    from planner.pipeline import plan_station
    from planner.sweep import quick_sweep

    run = plan_station(station, reach=prepared[1], check=False)
    t = quick_sweep(run, n=3, time_limit_s=10.0, workers=1)
    assert len(t) == 3 and t["chosen"].map(lambda c: isinstance(c, str)).all()  # spreadsheet-ready
    assert t["share_night"].iloc[-1] == pytest.approx(1.0) and "plans" not in t.attrs
    for s in station.scenarios:
        assert (np.diff(t[f"sheltered_{s}"]) >= 0).all()


def test_whatif_table_drops_the_plans_and_leaves_the_sweeps_table_as_it_was():
    """`whatif_table` (issue 21: pandas deep-copies a frame's attrs at every copy and column read, so the
    sheet no longer carries its plans there): the spreadsheet table has no plans and list-free cells; the
    sweep's own table keeps its plans and its other attrs, and so does the copy's other attrs."""
    from planner.sweep import whatif_table

    plans = [{"totals": {"cost": 1.0}}, None]
    table = pd.DataFrame({"budget": [1.0, 2.0], "chosen": [["A", "B"], []]})
    table.attrs.update(plans=plans, note="n")
    out = whatif_table(table)
    assert list(out["chosen"]) == ["A, B", ""] and out.attrs == {"note": "n"}
    assert table.attrs["plans"] is plans and table.attrs["note"] == "n" and table["chosen"][0] == ["A", "B"]


def test_whatif_cache_gives_the_plans_of_an_uncached_sweep(station, prepared, budgets, local_table, tmp_path,
                                                         monkeypatch):
    """A sweep with a cache folder solves and stores each budget; the same sweep again reads every budget
    back without a solve and gives the same table and plans as the sweep without a cache; another time
    limit (another key) is solved again."""
    import planner.sweep as sw

    cache = tmp_path / "whatif"
    first = sw.sweep(station, budgets, workers=1, reach=prepared[1], cache_dir=cache)
    stored = sorted(cache.glob("*.json"))
    assert stored, "nothing was cached"

    def no_solve(*a, **k):
        raise AssertionError("a cached budget was solved again")

    import planner.sweeprun

    monkeypatch.setattr(planner.sweeprun, "solve_budget", no_solve)   # where the runner finds it
    again = sw.sweep(station, budgets, workers=1, reach=prepared[1], cache_dir=cache)
    cols = [c for c in local_table.columns if c not in ("seconds", "source")]
    pd.testing.assert_frame_equal(again[cols], first[cols])
    pd.testing.assert_frame_equal(again[cols], local_table[cols])
    for a, b in zip(again.attrs["plans"], first.attrs["plans"]):
        assert (a is None) == (b is None)
        if a is not None:
            assert a["safe_rooms"] == b["safe_rooms"] and a["assignments"] == b["assignments"]
    assert any("what-if cache" in s for s in again["source"])
    with pytest.raises(AssertionError, match="solved again"):
        sw.sweep(station, budgets, workers=1, reach=prepared[1], cache_dir=cache, time_limit_s=7.0)


def test_budgets_from_shared_model_inputs_equal_their_own(station, prepared, budgets):
    """A sweep's budgets solved from the model inputs made once (`model_inputs_for`) give the plans
    solved from scratch (rooms, cost, assignments, unsheltered), and the shared inputs are not changed."""
    import dataclasses

    from planner.pipeline import model_inputs_for, plan_station

    reach = prepared[1]
    inputs = model_inputs_for(station, reach)
    before = {k: getattr(inputs, k).copy() for k in ("sites", "costs", "timed", "model_sites")}
    for b in budgets[1:3] + [None]:
        st = dataclasses.replace(station, params=station.params.replace(budget=b, objective="max-cover" if b else
                                                                         "cover-all"))
        own = plan_station(st, reach=reach, phases=False, check=False).plan
        shared = plan_station(st, reach=reach, phases=False, check=False, inputs=inputs).plan
        for key in ("safe_rooms", "assignments", "unsheltered"):
            assert shared[key] == own[key], (b, key)
        assert shared["totals"]["cost"] == own["totals"]["cost"]
    for k, v in before.items():
        pd.testing.assert_frame_equal(getattr(inputs, k), v)


def test_warm_chain_passes_each_budgets_basis_to_the_next(monkeypatch):
    """`solve_chain`: budgets one after the other, the first cold within `chain_first_s`, each later one from the
    LP basis of the one before (the last basis kept when a budget gave none); each result carries its own
    first solve's basis (the what-if sheet keeps them, `planner.reuse.remember_sheet_bases`)."""
    import planner.sweeprun as sr

    seen = []

    def fake(station, reach, spec, inputs=None, warm=None, keep_warm=False, warm_branch=False):
        assert keep_warm and warm_branch == (spec["budget"] == 1.0)        # only the first may branch
        seen.append((spec["budget"], spec["time_limit_s"], warm))
        return {"budget": spec["budget"], "plan": {}, "warm": None if spec["budget"] == 2.0 else f"basis {spec['budget']}"}

    monkeypatch.setattr(sr, "solve_budget", fake)
    specs = [{"budget": b, "time_limit_s": 10.0, "chain": True, "chain_first_s": 60.0} for b in (1.0, 2.0, 3.0)]
    out = sr.solve_chain(None, None, specs)
    assert seen == [(1.0, 60.0, None), (2.0, 10.0, "basis 1.0"), (3.0, 10.0, "basis 1.0")]
    assert [r["budget"] for r in out] == [1.0, 2.0, 3.0]
    assert [r["warm"] for r in out] == ["basis 1.0", None, "basis 3.0"]
    seen.clear()          # a head basis (the what-if sheet's nearest) starts the first, still within chain_first_s
    sr.solve_chain(None, None, specs, head="sheet basis")
    assert seen[0] == (1.0, 60.0, "sheet basis") and seen[1] == (2.0, 10.0, "basis 1.0")
    runner = sr._Runner(None, None, 1, None, heads=lambda b: f"head {b}")
    monkeypatch.setattr(sr, "solve_chain", lambda st, rc, ch, inputs=None, head=None: [dict(s, head=head) for s in ch])
    assert [r["head"] for r in runner._run_chains(specs, "budgets")] == ["head 1.0"] * 3


def test_a_budget_hands_on_its_first_solves_basis_not_its_rounds(monkeypatch):
    """`solve_budget(keep_warm=True)` hands the next budget the LP basis of its first solve (whose corridor rows,
    those known before it, the next budget's first solve has too), not the one after its corridor rounds (more
    rows: the next budget's first solve could not start from it); the final one when the first gave none."""
    import types

    import planner.sweeprun as sr

    runs = iter([types.SimpleNamespace(first_warm="first", solution=types.SimpleNamespace(warm="after rounds", chosen=[]),
                                       plan={}),
                 types.SimpleNamespace(first_warm=None, solution=types.SimpleNamespace(warm="after rounds", chosen=[]),
                                       plan={})])
    monkeypatch.setattr(sr, "plan_station", lambda *a, **k: next(runs))
    monkeypatch.setattr(sr, "_station_for", lambda station, spec: station)
    spec = {"budget": 1.0, "objective": "max-cover", "start_from": None, "round": 1, "time_limit_s": 10.0}
    assert sr.solve_budget(None, None, spec, keep_warm=True)["warm"] == "first"
    assert sr.solve_budget(None, None, spec, keep_warm=True)["warm"] == "after rounds"


def test_warm_chains_give_the_independent_sweeps_plans(station, prepared, budgets, local_table):
    """On a station whose every budget is solved to its gap, the sweep as warm chains (2 workers: two chains
    in worker processes) keeps the same people sheltered per budget as the independent sweep."""
    from planner.sweep import sweep

    chained = sweep(station, budgets, workers=2, reach=prepared[1], chain=True)
    cols = [c for c in local_table.columns if c.startswith("sheltered_")] + ["budget", "weighted_sheltered"]
    pd.testing.assert_frame_equal(chained[cols], local_table[cols])


@settings(max_examples=150, deadline=None)
@given(hs.lists(hs.floats(0, 1e8, allow_nan=False), min_size=0, max_size=9), hs.integers(1, 5), hs.booleans())
def test_chain_parts_are_the_most_even_contiguous_split(budgets, k, rounds):
    """`chain_parts`: at most k contiguous, non-empty runs covering every budget in order, and no contiguous
    split into at most k runs has a smaller largest `budget_work` (brute force over every set of cuts)."""
    import itertools

    from planner.sweeprun import budget_work, chain_parts

    budgets = sorted(budgets)
    parts = chain_parts(budgets, k, rounds)
    n = len(budgets)
    assert [int(i) for p in parts for i in p] == list(range(n))
    assert all(len(p) for p in parts) and len(parts) <= max(1, k) and (n == 0) == (not parts)
    if not n:
        return
    w = budget_work(budgets, rounds)
    got = max(w[p].sum() for p in parts)
    best = min(max(w[a:b].sum() for a, b in zip((0, *cuts), (*cuts, n)))
               for m in range(min(k, n)) for cuts in itertools.combinations(range(1, n), m))
    assert got <= best + 1e-9 * max(1.0, best)


@settings(max_examples=150, deadline=None)
@given(hs.lists(hs.floats(0, 1e8, allow_nan=False), min_size=0, max_size=9), hs.integers(1, 4), hs.booleans(),
       hs.floats(0, 5))
def test_chain_queue_is_a_contiguous_split_no_slower_than_one_chain_per_worker(budgets, k, rounds, head):
    """`chain_queue`: contiguous, non-empty chains covering every budget in order; its expected wall time on k
    workers (longest first, each chain `head` more) is no more than that of `chain_parts`' split into m chains
    for any m from k up (one chain per worker among them), and no less than its heaviest chain or the work
    shared evenly; without rounds exactly `chain_parts`' equal counts."""
    from planner.sweeprun import budget_work, chain_parts, chain_queue, lpt_span

    budgets = sorted(budgets)
    parts = chain_queue(budgets, k, rounds, head)
    n = len(budgets)
    assert [int(i) for p in parts for i in p] == list(range(n)) and all(len(p) for p in parts)
    if not n:
        assert parts == []
        return
    if not rounds:
        assert [p.tolist() for p in parts] == [p.tolist() for p in chain_parts(budgets, k, False)]
        return
    w = budget_work(budgets, rounds)

    def span(ps):
        return lpt_span(sorted((float(w[p].sum()) + head for p in ps), reverse=True), k)
    got = span(parts)
    assert got <= span(chain_parts(budgets, k, rounds)) * (1 + 1e-9) + 1e-9
    for m in range(min(k, n), n + 1):                      # every m it weighs: none better
        assert got <= span(chain_parts(budgets, m, rounds)) * (1 + 1e-9) + 1e-9
    # and the LPT wall time is never below the obvious bounds of any split into those chains
    assert got >= max(float(w[p].sum()) + head for p in parts) - 1e-9
    assert got >= (float(w.sum()) + head * len(parts)) / min(k, len(parts)) - 1e-6


def test_lpt_span_by_hand():
    """Loads 5, 4, 3, 3 on 2 workers, each taking the next when free: 5 | 4, then 3 on the second (7), then 3 on
    the first (8): 8; on 1 worker the sum; on 4 the largest."""
    from planner.sweeprun import lpt_span

    assert lpt_span([5, 4, 3, 3], 2) == 8 and lpt_span([5, 4, 3, 3], 1) == 15 and lpt_span([5, 4, 3, 3], 4) == 5
    assert lpt_span([], 2) == 0


def test_chain_queue_gives_station_unitys_heavy_budgets_a_worker_each():
    """Station Unity's 11 solved budgets of a 12-budget sweep (quiet, 2026-12-07, 22:25 UTC), on 2 workers: the
    two below full cover took 68 and 88 s in one chain (157 s) while the other chain's nine took 46 s. As a queue
    the top two budgets each head a chain of their own and start first; by those measured seconds the sweep's
    wall time goes from 157 s to at most 114 s (each chain's head 3.5 s more)."""
    from planner.sweeprun import chain_parts, chain_queue, lpt_span

    budgets = [91_100, 5.74e6, 11.4e6, 17.1e6, 22.7e6, 28.4e6, 34e6, 39.7e6, 45.3e6, 50.9e6, 56.6e6]
    measured = np.array([3.9, 3.55, 2.27, 2.49, 3.84, 3.77, 6.48, 8.22, 10.09, 68.04, 87.74])   # seconds
    parts = chain_queue(budgets, 2)
    assert [10] in [p.tolist() for p in parts] and [9] in [p.tolist() for p in parts]
    old = chain_parts(budgets, 2)
    assert max(measured[p].sum() for p in old) == pytest.approx(155.78)

    def wall(ps):
        return lpt_span(sorted((float(measured[p].sum()) + 3.5 for p in ps), reverse=True), 2)
    assert wall(parts) <= 114.0 < wall(old)


def test_chain_parts_balance_station_unitys_sweep():
    """Station Unity's 12-budget sweep (11 solved) on 2 workers: equal counts gave chains of 6 and 5 budgets
    whose solves took 44 and 120 s (quiet, 2026-12-07: the budgets near full cover run corridor rounds); by
    expected work the top two budgets (28 and 51 s then) get a chain of their own."""
    from planner.sweeprun import budget_work, chain_parts

    budgets = [91_100, 5.58e6, 11.1e6, 16.6e6, 22.1e6, 27.6e6, 33.1e6, 38.5e6, 44e6, 49.5e6, 55e6]
    assert [list(map(int, p)) for p in chain_parts(budgets, 2)] == [list(range(9)), [9, 10]]
    assert budget_work([0.0, 1.0]).tolist() == [1.0, 18.0] and budget_work([0.0, 0.0]).tolist() == [1.0, 1.0]
    assert budget_work([0.0, 1.0], rounds=False).tolist() == [1.0, 1.0]
    # without corridor rounds (the what-if sheet's budgets) equal counts, as numpy.array_split: the earlier longer
    for n in range(1, 9):
        assert [p.tolist() for p in chain_parts(list(range(n)), 2, rounds=False)] == \
            [p.tolist() for p in np.array_split(np.arange(n), 2) if len(p)]
    measured = np.array([24.6, 3.9, 3.2, 3.7, 4.1, 4.4, 8.0, 11.7, 20.8, 28.2, 51.2])   # seconds, that sweep
    assert max(measured[p].sum() for p in chain_parts(budgets, 2)) < 0.75 * measured[6:].sum()
