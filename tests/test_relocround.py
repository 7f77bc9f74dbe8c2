"""The displacement trade-off's re-plan of large relocation models by rounding the LP relaxation
(`planner.model.relocround`; docs/model.md, "The displacement trade-off"): the rounded plans are plans of the
relocation model, never below the brute-force optimum nor dearer than the proposal in the table, the LP
bounds hold, and on hand-made stations the rounding reaches the exact MIP's answer."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from test_corridors import choice_station
from test_relocation import _instance, _spare_bed_station, brute_force

from planner.model import SolveOptions
from planner.model.relocation import relocation_cost_bound, relocation_lp
from planner.model.relocround import relocation_breaches, rounded_relocation
from planner.pipeline import plan_station

ROUND_ALL = SolveOptions(relocation_round_min_columns=0)
"""Every model counts as large: the trade-off rounds its LP instead of solving the MIP."""


def test_rounded_plans_are_plans_of_the_model_and_the_bound_holds() -> None:
    """On the 40 brute-force instances of tests/test_relocation.py: the LP bound (cost + penalties, here cost
    alone) is at most the least cost; a rounded plan, when there is one, passes `verify` (inside) and the
    relocation rows, costs at least the least cost, and reaches it on most instances (17 of the 27 with a plan
    when written; 3 have no rounding: every site open forces every `repurpose` room out, beyond the beds)."""
    feasible = hits = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        p, rel, D, reach, room_ids = _instance(rng)
        rel = dataclasses.replace(rel, cross_sector_penalty=0.0)
        want = brute_force(D, reach, p.sites["capacity"].to_numpy(), p.sites["cost"].to_numpy(), rel, room_ids)
        if not np.isfinite(want):
            continue
        feasible += 1
        lp = relocation_lp(p, rel, 30.0, swaps=True, corridor=True)
        assert lp.bound <= want + 1e-6, seed
        got = rounded_relocation(p, rel, lp, start=list(p.sites.index))
        if got.solution is None:
            continue
        sol = got.solution
        assert got.cost >= want - 1e-6 and got.objective >= lp.bound - 1e-6, seed
        moves = sol.stats["relocations"]
        assert relocation_breaches(rel, moves, sol.chosen, p.demand) == [], seed
        assert int(moves["residents"].sum()) == sol.stats["displaced_residents"]
        assert sol.solver["status"] == "feasible" and sol.solver["bound"] <= got.cost + 1e-6
        hits += abs(got.cost - want) <= 1e-6
    assert feasible == 27 and hits >= 15, (feasible, hits)


def test_rounding_reaches_the_exact_optimum_on_the_hand_made_station(tmp_path) -> None:
    """`_spare_bed_station`: moving R3's 4 residents into R5's beds frees R3 for R2's people, one conversion
    less 4 x 6,000 CR. The trade-off with every model rounded (no MIP) finds that plan at the loosest cap, as
    the MIP does, never costs more than the proposal, and its points never rise with the cap."""
    import planner.displacement as disp

    run = plan_station(_spare_bed_station(tmp_path), phases=False)
    exact = disp.displacement_tradeoff(run)
    real = disp.plan_station

    def no_mip(*a, **k):
        raise AssertionError("a point was re-planned by the MIP although the model counts as large")

    disp.plan_station = no_mip
    try:
        rounded = disp.displacement_tradeoff(run, options=ROUND_ALL)
    finally:
        disp.plan_station = real
    cost = float(run.plan["totals"]["cost"])
    assert (rounded["cost"] <= cost + 1e-6).all()
    assert rounded["cost"].iloc[-1] == pytest.approx(exact["cost"].iloc[-1])
    assert int(rounded["displaced"].iloc[-1]) == int(exact["displaced"].iloc[-1]) == 4
    assert "rounding the LP relaxation" in rounded["note"].iloc[-1]
    assert (np.diff(rounded["cost"].to_numpy()) <= 1e-6).all()
    assert (rounded["displaced"] <= rounded["max_displaced"]).all()
    assert (rounded["bound"] <= rounded["cost"] + 1e-6).all()


def test_rounded_plan_at_a_tight_cap_keeps_the_cap(tmp_path) -> None:
    """The loosest cap's LP rounded at a cap below what it moves: the repurposed rooms are dropped until the
    residents moved fit the cap (here 0: nobody moves, the plan is a dual_use plan)."""
    from planner.displacement import _variant
    from planner.pipeline import relocation_guide

    st = _spare_bed_station(tmp_path)
    run = plan_station(st, phases=False)
    guide = relocation_guide(_variant(st, 4), run.reach, 30.0)
    assert guide is not None
    lp, problem, rel = guide
    for cap in (0, 3, 4):
        got = rounded_relocation(problem, dataclasses.replace(rel, max_displaced=cap), lp,
                                 start=list(run.solution.chosen))
        assert got.solution is not None and got.solution.stats["displaced_residents"] <= cap
        assert got.start_cost == pytest.approx(float(run.plan["totals"]["cost"]))


def test_corridor_rows_in_the_relocation_lp(tmp_path) -> None:
    """The proposal's corridor rows are soft (a slack at a penalty): the cost-only bound does not charge the
    slack, so the rows leave it unchanged (Station Unity: 55,039,272 CR either way); the LP that charges the
    penalties is at least as high with the rows as without, and below the cost plus penalties of the
    rounded plans and of the proposal assigned with the rows."""
    from planner import displacement as d
    from planner.corridorrounds import first_corridor_rows, limits_of
    from planner.pipeline import relocation_guide

    station = choice_station(tmp_path, quarters=2, toml="[model]\ncorridor_rounds = 3\n")
    run = plan_station(station)
    limits = limits_of(run.plan["solver"]["corridor"]["limits"])
    assert limits
    variant = d._variant(d.tradeoff_station(station)[0], 2)
    with_rows = relocation_guide(variant, run.reach, 30.0, limits=limits)
    without = relocation_guide(variant, run.reach, 30.0)
    assert with_rows is not None and without is not None
    (lp_r, prob_r, rel), (lp_0, prob_0, _) = with_rows, without
    assert prob_r.corridor_cuts is not None and prob_0.corridor_cuts is None
    assert lp_r.bound >= lp_0.bound - 1e-6
    cost_r = relocation_cost_bound(prob_r, rel, 30.0)
    cost_0 = relocation_cost_bound(first_corridor_rows(variant, prob_0, None)[0], rel, 30.0)
    assert cost_r == pytest.approx(cost_0)
    got = rounded_relocation(prob_r, rel, lp_r, start=list(run.solution.chosen))
    assert got.start_objective is not None and got.start_objective >= lp_r.bound - 1e-6
    assert got.start_cost == pytest.approx(float(run.plan["totals"]["cost"]))
    if got.solution is not None:
        assert got.objective >= lp_r.bound - 1e-6
    # the trade-off by rounding: no point cheaper than the proposal moving nobody (the rows kept)
    table = d.displacement_tradeoff(run, options=ROUND_ALL)
    cost = float(run.plan["totals"]["cost"])
    assert (table.loc[table["displaced"] == 0, "cost"] >= cost - 1e-6).all(), table
    assert (table["cost"] <= cost + 1e-6).all()


def test_points_are_made_monotone() -> None:
    """A tighter cap's plan that costs less than a looser cap's (roundings are not nested as optima are)
    replaces it there: it moves no more than the tighter cap allows."""
    from planner.displacement import _monotone

    rows = {0.0: dict(share=0.0, max_displaced=0, cost=100.0, displaced=0, rooms=3, repurposed_rooms=0,
                      status="optimal", gap=0.0, bound=90.0, note="a"),
            0.5: dict(share=0.5, max_displaced=5, cost=80.0, displaced=4, rooms=2, repurposed_rooms=1,
                      status="feasible", gap=0.1, bound=70.0, note="b"),
            1.0: dict(share=1.0, max_displaced=10, cost=85.0, displaced=8, rooms=2, repurposed_rooms=2,
                      status="feasible", gap=0.2, bound=68.0, note="c")}
    _monotone(rows)
    table = pd.DataFrame([rows[s] for s in sorted(rows)])
    assert list(table["cost"]) == [100.0, 80.0, 80.0]
    assert list(table["displaced"]) == [0, 4, 4]
    assert table["status"].iloc[-1] == "feasible" and table["bound"].iloc[-1] == 68.0
    assert "cap of 5" in table["note"].iloc[-1]


def test_tradeoff_words_say_a_rounded_saving_is_not_proven() -> None:
    from planner.displacement import TRADEOFF_COLUMNS
    from planner.workbook.displacement_sheet import tradeoff_words

    rows = [dict(share=s, max_displaced=int(100 * s), cost=c, displaced=m, rooms=3, repurposed_rooms=0,
                 status=st, gap=0.1, note="", bound=800.0)
            for s, c, m, st in ((0, 1000.0, 0, "optimal"), (1, 900.0, 40, "feasible"))]
    text = tradeoff_words(pd.DataFrame(rows, columns=TRADEOFF_COLUMNS), "CR")
    assert "saves 100 CR (10.00 %)" in text and "not proven least" in text and "save at most 200 CR" in text


def test_the_rounded_tradeoff_with_its_lp_in_a_worker_is_the_same_table(tmp_path, monkeypatch) -> None:
    """On large stations the LP the rounding needs starts in a worker process beside the cost-only bound
    (`relocation_guide_values`); the table is the one the LP solved in this process gives."""
    import planner.displacement as disp
    import planner.network.parallel as par

    run = plan_station(_spare_bed_station(tmp_path), phases=False)
    here = disp.displacement_tradeoff(run, options=ROUND_ALL)
    started = []
    real = par.Spawned

    def spy(fn, args, what):
        started.append(what)
        return real(fn, args, what)

    monkeypatch.setattr(disp, "AHEAD_MIN_PAIRS", 0)
    monkeypatch.setattr(disp, "Spawned", spy)
    ahead = disp.displacement_tradeoff(run, options=ROUND_ALL)
    cols = ["max_displaced", "cost", "displaced", "rooms", "repurposed_rooms", "status", "note"]
    pd.testing.assert_frame_equal(here[cols], ahead[cols])
    assert started == ["displacement re-plan's LP"]


def test_exit_headroom_limits_hosts_whose_every_open_pair_has_an_exit_row() -> None:
    """A host whose residents all leave by doors with exit-door rows (hard: at most `exit_cap` persons each)
    takes at most the doors' caps less its most occupants; a room with a pair to an open site without such a
    row, or whose rows are all to closed sites, is not limited."""
    from planner.model import Problem
    from planner.model.relocround import _exit_headroom

    D = pd.DataFrame({"s0": [3, 1, 2], "s1": [4, 0, 2]}, index=["r0", "r1", "r2"])
    times = np.array([[0.0, 10.0], [10.0, 20.0], [np.inf, 15.0]])
    p = Problem.from_cost_matrix(D, times, np.array([10, 10]), np.array([1.0, 1.0]), site_ids=["r0", "r1"])
    rows = pd.DataFrame({"room_id": ["r1", "r1", "r2", "r0"], "site_id": ["r0", "r1", "r1", "r1"],
                         "exit_door_id": ["d1", "d2", "d3", "d4"], "exit_cap": [3.0, 2.0, 5.0, 9.0]})
    p = p.replace(exit_rows=rows)
    both = _exit_headroom(p, np.array(["r0", "r1"]))
    assert both is not None
    assert both["r1"] == 3 + 2 - 1 and both["r2"] == 5 - 2 and "r0" not in both.index   # r0's pair to r0: no row
    one = _exit_headroom(p, np.array(["r0"]))
    assert one is not None and one["r1"] == 3 - 1 and "r2" not in one.index


def test_relocation_breaches_name_a_repurposed_room_that_keeps_its_residents() -> None:
    """The checks of a rounded plan's moves: a converted `repurpose` room must send all its residents out."""
    _, rel, D, _, room_ids = _instance(np.random.default_rng(1))       # one `repurpose` room with residents
    rep = rel.sources.index[~rel.sources["optional"].to_numpy(bool)]
    assert len(rep)
    demand = pd.DataFrame(D, index=room_ids, columns=["s0", "s1"])
    none = pd.DataFrame(columns=["from_room", "to_room", "residents", "present_s0", "present_s1"])
    assert any("keeps its" in b for b in relocation_breaches(rel, none, [rep[0]], demand))
    assert relocation_breaches(rel, none, [], demand) == []


def test_line_search_edges() -> None:
    """`roundline.line_search`, shared by the main path's swap rounding and this module: from `first` and the
    next (more sites), on while improving; when neither has a plan, towards more sites (where plans are), then
    the rest in order; no threshold starts after the deadline, not even the first."""
    import time

    from planner.model.roundline import line_search

    ths = (0.5, 0.3, 0.2, 0.1, 1e-6)

    def run(values: dict[float, float], deadline: float = np.inf) -> tuple[float, list[float]]:
        calls: list[float] = []

        def value(th: float) -> float:
            calls.append(th)
            return values[th]

        return line_search(value, ths, 0.3, deadline), calls

    inf = np.inf
    # one minimum at 0.1: 0.3, 0.2, 0.1, then 1e-6 (worse) ends the walk
    assert run({0.5: 9, 0.3: 7, 0.2: 5, 0.1: 4, 1e-6: 6}) == (4, [0.3, 0.2, 0.1, 1e-6])
    # 0.2 worse than 0.3: upwards, 0.5 worse again
    assert run({0.5: 8, 0.3: 7, 0.2: 9, 0.1: 1, 1e-6: 1}) == (7, [0.3, 0.2, 0.5])
    # 0.3 and 0.2 without a plan: towards more sites until one has, then on while improving
    assert run({0.5: inf, 0.3: inf, 0.2: inf, 0.1: 6, 1e-6: 5}) == (5, [0.3, 0.2, 0.1, 1e-6])
    # no plan below 0.3 (more sites) either: the rest in order (0.5; the walk's own calls repeat, callers cache)
    got, calls = run({0.5: 3, 0.3: inf, 0.2: inf, 0.1: inf, 1e-6: inf})
    assert got == 3 and calls[:4] == [0.3, 0.2, 0.1, 1e-6] and calls[-1] == 0.5
    # 0.2 without a plan, 0.3 with one: upwards (fewer sites)
    assert run({0.5: 6, 0.3: 7, 0.2: inf, 0.1: 1, 1e-6: 1}) == (6, [0.3, 0.2, 0.5])
    # past the deadline nothing starts
    assert run({t: 1.0 for t in ths}, deadline=time.perf_counter() - 1.0) == (inf, [])


def test_a_cached_point_is_not_reused_by_another_method(tmp_path, monkeypatch) -> None:
    """The points' cache key says how a point was re-planned (`displacement._method`): a trade-off whose models
    count as large (`relocation_round_min_columns`: the LP rounded) does not read the MIP's points back, nor the
    other way round; the same method on the same inputs does."""
    import planner.displacement as disp

    run = plan_station(_spare_bed_station(tmp_path), phases=False)
    cache = tmp_path / "cache"
    mip = disp.displacement_tradeoff(run, cache_dir=cache)
    assert not mip["note"].str.contains("read from the cache").any()
    rounded = disp.displacement_tradeoff(run, cache_dir=cache, options=ROUND_ALL)
    assert not rounded["note"].str.contains("read from the cache").any(), rounded["note"].tolist()
    assert rounded["note"].str.contains("rounding the LP relaxation").any()

    def no_solve(*a, **k):
        raise AssertionError("re-planned although the point is in the cache")

    monkeypatch.setattr(disp, "plan_station", no_solve)
    again = disp.displacement_tradeoff(run, cache_dir=cache)
    assert again["note"].str.contains("read from the cache").any()
    cols = ["max_displaced", "cost", "displaced", "rooms", "repurposed_rooms", "status"]
    pd.testing.assert_frame_equal(mip[cols], again[cols])
    monkeypatch.setattr(disp, "relocation_guide", no_solve)     # every rounded point from the cache: no LP again
    again_rounded = disp.displacement_tradeoff(run, cache_dir=cache, options=ROUND_ALL)
    assert again_rounded["note"].str.contains("read from the cache").any()
    pd.testing.assert_frame_equal(rounded[cols], again_rounded[cols])


def test_a_budget_the_plan_fits_reads_the_same_points(tmp_path, monkeypatch) -> None:
    """A trade-off at a budget the plan fits (a what-if above the proposal's cost, the same plan) reads the points
    the trade-off at another such budget re-planned (`displacement._keyed`: such a budget is no budget in the
    key); a budget below a cached point's cost does not take it (`_within`)."""
    import planner.displacement as disp

    run = plan_station(_spare_bed_station(tmp_path), phases=False)
    cost = float(run.plan["totals"]["cost"])
    cache = tmp_path / "cache"
    first = disp.displacement_tradeoff(run, cache_dir=cache)
    assert not first["note"].str.contains("read from the cache").any()
    solved = first[first["note"].str.startswith("re-planned")]
    assert len(solved), first["note"].tolist()

    def at(budget):
        st = dataclasses.replace(run.station, params=run.station.params.replace(budget=budget))
        return dataclasses.replace(run, station=st)

    def no_solve(*a, **k):
        raise AssertionError("re-planned although the point is in the cache")

    with monkeypatch.context() as m:
        m.setattr(disp, "plan_station", no_solve)
        for budget in (cost, 2 * cost + 1000.0):
            again = disp.displacement_tradeoff(at(budget), cache_dir=cache)
            cols = ["max_displaced", "cost", "displaced", "rooms", "status"]
            pd.testing.assert_frame_equal(first[cols], again[cols])
    v = disp._variant(run.station, 5)
    cheap = dataclasses.replace(v, params=v.params.replace(budget=cost - 1.0))
    assert disp._keyed(cheap, cost) is cheap and not disp._within({"cost": cost}, cheap)
    rich = dataclasses.replace(v, params=v.params.replace(budget=cost))
    assert disp._keyed(rich, cost).params.budget is None and disp._within({"cost": cost}, rich)
