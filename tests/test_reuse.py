"""Reuse between runs (issue 21, `planner.reuse`): the run's final state (plan, corridor rows, LP basis),
full coverage's cost and plan, and the what-if sheet's plans, each read back on the same inputs only."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from planner.model import SolveOptions
from planner.pipeline import plan_station
from planner.reuse import (RunState, known_full_cover, load_state, nearest_sheet_plan, remember_sheet, reuse_dir,
                           save_state, state_key)

from test_corridors import choice_station

COLGEN = SolveOptions(colgen_min_columns=0)
"""Column generation (and so an LP basis to keep) also on the small station."""


def spy_solve(monkeypatch, record):
    """Replace `planner.pipeline.solve` by one that calls `record(problem, kwargs)` first; returns the real one."""
    import planner.pipeline

    real = planner.pipeline.solve

    def spy(problem, **kw):
        record(problem, kw)
        return real(problem, **kw)

    monkeypatch.setattr(planner.pipeline, "solve", spy)
    return real


def _states(tmp_path):
    return sorted((tmp_path / "cache" / "reuse").glob("state-*.npz"))


def test_second_run_starts_from_the_first_runs_final_state(tmp_path):
    """The second run on the same inputs solves once from the first's final state: its corridor rows (no
    rounds), its safe rooms as the start and its LP basis (the LP starts warm, no branching); same plan, same
    cost, nobody late, checked; plan.json says where the rows came from."""
    station = choice_station(tmp_path)
    cache = tmp_path / "cache" / "reach"
    first = plan_station(station, cache_dir=cache, check=False, options=COLGEN)
    assert len(first.plan["solver"]["corridor"]["rounds"]) == 2 and len(_states(tmp_path)) == 1
    state = load_state(reuse_dir(cache, station), state_key(station, None, COLGEN))
    assert state is not None and state.warm is not None and state.chosen == sorted(first.solution.chosen)
    assert [{"door_id": d, "scenario": s, "persons": v} for (d, s), v in sorted(state.limits.items())] \
        == first.plan["solver"]["corridor"]["limits"]
    again = plan_station(station, cache_dir=cache, check=True, options=COLGEN)
    cor = again.plan["solver"]["corridor"]
    assert len(cor["rounds"]) == 1 and cor["rounds"][0]["late_residents"] == 0
    assert cor["reused"]["rounds"] == first.plan["solver"]["corridor"]["rounds"]
    assert again.solution.stats["lp_colgen"]["warm"] == 1 and again.solution.stats.get("mip_skipped") == "warm"
    assert again.solution.chosen == first.solution.chosen
    assert again.plan["totals"]["cost"] == pytest.approx(first.plan["totals"]["cost"])
    assert cor["limits"] == first.plan["solver"]["corridor"]["limits"] and not again.breaches


def test_state_missed_on_a_changed_parameter_or_input(tmp_path):
    """Another parameter, or an edited input file, is another key: the run solves from scratch (its rounds)."""
    station = choice_station(tmp_path)
    cache = tmp_path / "cache" / "reach"
    plan_station(station, cache_dir=cache, check=False)
    other = dataclasses.replace(station, params=station.params.replace(corridor_penalty_rooms=
                                                                       station.params.corridor_penalty_rooms + 1))
    assert state_key(other) != state_key(station)
    run = plan_station(other, cache_dir=cache, check=False)
    assert "reused" not in run.plan["solver"]["corridor"] and len(_states(tmp_path)) == 2
    key = state_key(station)
    path = next(p for p in station.files.values() if p.suffix == ".csv")
    path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")   # an edit (same figures)
    assert state_key(station) != key and load_state(reuse_dir(cache, station), state_key(station)) is None


def test_corrupt_or_crafted_state_is_ignored(tmp_path):
    """A damaged state file, or one whose basis codes are out of HiGHS's range, is ignored (logged) and the
    run solves as without it; a state under another key is never read."""
    station = choice_station(tmp_path)
    cache = tmp_path / "cache" / "reach"
    first = plan_station(station, cache_dir=cache, check=False, options=COLGEN)
    folder, key = reuse_dir(cache, station), state_key(station, None, COLGEN)
    state = load_state(folder, key)
    assert state is not None and state.warm is not None
    bad = dataclasses.replace(state.warm, row_status=np.full_like(state.warm.row_status, 9))
    save_state(folder, key, dataclasses.replace(state, warm=bad))
    assert load_state(folder, key) is None
    save_state(folder, "0" * 64, state)                     # another key's file holds this one's
    (folder / f"state-{'0' * 64}.npz").replace(folder / f"state-{key}.npz")
    assert load_state(folder, key) is None
    (folder / f"state-{key}.npz").write_bytes(b"not an npz")
    assert load_state(folder, key) is None
    again = plan_station(station, cache_dir=cache, check=True, options=COLGEN)
    cor = again.plan["solver"]["corridor"]        # the rows from the corridor cache, no plan or basis
    assert "reused" not in cor and cor["limits"] == first.plan["solver"]["corridor"]["limits"]
    assert cor["rounds"][0]["rows"] == 2 and cor["rounds"][-1]["late_residents"] == 0 and not again.breaches
    assert load_state(folder, key) is not None           # written again


def test_whatif_below_the_known_full_cover_goes_straight_to_max_cover(tmp_path, monkeypatch):
    """A what-if whose budget is below the proven bound of the full-cover plan a proposal on the same inputs
    made solves no cover-all: max-cover (from the what-if sheet's plan when the sheet has one at that budget,
    else from its own LP and greedy), the same notes and plan.json fields as when it learns the full cover's
    cost itself, and the proposal's plan as the run's full-cover plan."""

    station = choice_station(tmp_path)
    cache = tmp_path / "cache" / "reach"
    proposal = plan_station(station, cache_dir=cache, check=False)
    folder = reuse_dir(cache, station)
    fc = known_full_cover(folder, station)
    cost = float(proposal.plan["totals"]["cost"])
    rounds = proposal.plan["solver"]["corridor"]["rounds"]       # the first solve had no corridor rows
    assert fc is not None and fc["plan"]["totals"]["cost"] == pytest.approx(cost)
    assert fc["first"]["cost"] == pytest.approx(rounds[0]["cost"]) and fc["first"]["rooms"] == rounds[0]["rooms"]
    budget = 0.9 * float(fc["first"]["bound"])               # one store room fits, not full cover
    below = dataclasses.replace(station, params=station.params.replace(budget=budget))
    cold = plan_station(below, check=False)                  # no cache: cover-all first, then max-cover
    remember_sheet(folder, station, None, [{"budget": 0.5 * budget, "cost": 0.0, "chosen": []},
                                           {"budget": budget * 2, "cost": cost, "chosen": ["S1"]}])
    assert nearest_sheet_plan(folder, station, None, budget) == {"budget": 0.5 * budget, "cost": 0.0, "chosen": []}
    seen = []
    spy_solve(monkeypatch, lambda problem, kw: seen.append((problem.objective, kw.get("start"))))
    fast = plan_station(below, cache_dir=cache, check=True)
    assert seen and all(obj == "max-cover" for obj, _ in seen) and seen[0][1] is None   # a lower budget's: no start
    assert fast.plan["objective"] == cold.plan["objective"] == "max-cover"
    assert fast.plan["totals"]["full_cover_cost"] == pytest.approx(cold.plan["totals"]["full_cover_cost"])
    assert fast.full_cover_plan is fc["plan"] or fast.full_cover_plan == fc["plan"]
    assert fast.notes == cold.notes and fast.notes[0].startswith("Cover-all is impossible within the budget of")
    assert fast.plan["totals"]["scenarios"] == cold.plan["totals"]["scenarios"]     # as many sheltered
    assert fast.plan["solver"]["corridor"]["rounds"][0]["rows"] == 0     # not the proposal's rows: its own
    assert fast.plan["totals"]["cost"] <= budget + 1e-6 and not fast.breaches
    seen.clear()
    second = plan_station(below, cache_dir=cache, check=True)     # its own final state now
    assert all(obj == "max-cover" for obj, _ in seen) and second.solution.chosen == fast.solution.chosen
    assert second.notes == fast.notes
    # a what-if at one of the sheet's budgets starts from the sheet's plan there (its LP gives the bound)
    remember_sheet(folder, station, None, [{"budget": 0.8 * budget, "cost": 0.0, "chosen": []}])
    at_sheet = dataclasses.replace(station, params=station.params.replace(budget=0.8 * budget))
    seen.clear()
    sheet_run = plan_station(at_sheet, cache_dir=cache, check=True)
    assert seen[0] == ("max-cover", []) and sheet_run.plan["totals"]["cost"] <= 0.8 * budget + 1e-6
    assert sheet_run.plan["totals"]["scenarios"] == plan_station(at_sheet, check=False).plan["totals"]["scenarios"]


def test_reuse_entries_need_a_cache_and_files(tmp_path):
    """No cache folder (or a station built in memory): nothing read or written."""
    station = choice_station(tmp_path)
    assert reuse_dir(None, station) is None
    save_state(None, "k", RunState(limits={}, chosen=[], objective="cover-all"))
    assert load_state(None, "k") is None and nearest_sheet_plan(None, station, None, 1e9) is None
    assert known_full_cover(None, station) is None


@pytest.mark.parametrize("budget", [None, 1e9])
def test_sweep_takes_the_proposals_full_cover_plan_and_the_sheet_is_kept(tmp_path, budget):
    """`planner sweep`'s full-cover plan is the proposal's on the same inputs (checked, not solved again), also
    when the station has a budget the proposal fitted in (Station Unity's 100 M CR: it was judged without one
    and solved again, 209 s); the proposal's what-if sheet keeps its plans for the what-ifs
    (`nearest_sheet_plan`)."""
    from planner.sweep import full_cover_plan, quick_sweep, whatif_cache_dir

    station = choice_station(tmp_path)
    station = dataclasses.replace(station, params=station.params.replace(budget=budget))
    cache = tmp_path / "cache" / "reach"
    run = plan_station(station, cache_dir=cache, check=False)
    got = full_cover_plan(station, run.reach, 10.0, cache_dir=whatif_cache_dir(cache))
    assert got is not None and got["seconds"] == 0.0 and got["chosen"] == sorted(run.solution.chosen)
    assert got["plan"]["totals"]["cost"] == pytest.approx(run.plan["totals"]["cost"])
    table = quick_sweep(run, n=3, time_limit_s=5.0, workers=1, cache_dir=whatif_cache_dir(cache))
    assert len(table) >= 2
    cost = float(run.plan["totals"]["cost"])
    near = nearest_sheet_plan(reuse_dir(cache, station), station, None, cost - 1.0)
    assert near is not None and near["budget"] < cost and near["cost"] <= near["budget"] + 1e-6


def test_whatif_cache_keeps_a_budget_without_a_plan(tmp_path):
    """A what-if budget that found no plan in its time is kept too (with its error): a second run on the same
    inputs goes on to its warm start from the neighbour, as the first did, instead of failing it again."""
    from planner.sweep import _Cache

    station = choice_station(tmp_path)
    cache = _Cache(station, tmp_path / "whatif")
    spec = {"budget": 1.0, "objective": "max-cover", "start": None, "time_limit_s": 1.0, "check": False,
            "start_from": None, "round": 1, "margins": None, "corridor_limits": None}
    cache.put(spec, {"budget": 1.0, "plan": None, "chosen": None, "error": "no plan (time limit)", "seconds": 1.0})
    got = cache.get(spec)
    assert got is not None and got["plan"] is None and got["error"] == "no plan (time limit)" and got["cached"]
    cache.put(dict(spec, budget=2.0), {"budget": 2.0, "plan": None, "chosen": None, "error": None})
    assert cache.get(dict(spec, budget=2.0)) is None
    # a warm chain's result carries its LP basis (`solve_chain`): not kept in the JSON cache
    cache.put(dict(spec, budget=3.0), {"budget": 3.0, "plan": {}, "chosen": [], "error": None, "warm": object()})
    got = cache.get(dict(spec, budget=3.0))
    assert got is not None and "warm" not in got


def test_start_lp_bounds_a_start_plan_without_branching(tmp_path):
    """`SolveOptions(start_lp=True)` (a stored plan without a basis to hand over): the LP relaxation is solved
    for the bound first (then the plan is kept when within the gap, else HiGHS branches from it, never to a
    dearer plan); without it, a start skips the LP."""
    from planner.model import solve

    station = choice_station(tmp_path)
    run = plan_station(station, check=False, options=COLGEN)
    start = sorted(run.solution.chosen)
    plain = solve(run.problem, start=start, options=COLGEN)
    kept = solve(run.problem, start=start, options=dataclasses.replace(COLGEN, start_lp=True))
    assert "lp_status" not in plain.stats and kept.stats["lp_status"] == "optimal"
    assert kept.stats["lp_bound"] <= kept.cost + 1e-6 and kept.cost <= run.solution.cost + 1e-6


def test_sheet_bases_round_trip_and_nearest_budget(tmp_path):
    """The what-if sheet's LP bases are read back by the nearest budget (`nearest_sheet_basis`), whole; none
    stored, another layout or a damaged file: None (logged), never an error."""
    from planner.reuse import nearest_sheet_basis, remember_sheet_bases

    station = choice_station(tmp_path)
    cache = tmp_path / "cache" / "reach"
    run = plan_station(station, cache_dir=cache, check=False, options=COLGEN)
    w = run.solution.warm if run.solution.warm is not None else run.first_warm
    assert w is not None
    folder = reuse_dir(cache, station)
    assert nearest_sheet_basis(folder, station, None, 1e6) is None
    other = dataclasses.replace(w, cold_s=w.cold_s + 7.0)
    remember_sheet_bases(folder, station, None, {1e6: w, 3e6: other})
    near = nearest_sheet_basis(folder, station, None, 2.6e6)
    assert near is not None and near.cold_s == other.cold_s
    assert np.array_equal(near.row_status, other.row_status) and np.array_equal(near.yq, other.yq)
    assert near.row_blocks == other.row_blocks and near.shape == other.shape
    assert nearest_sheet_basis(folder, station, None, 1.1e6).cold_s == w.cold_s
    remember_sheet_bases(folder, station, None, {})                    # a sheet read from the cache: kept
    assert nearest_sheet_basis(folder, station, None, 1e6) is not None
    path = next(folder.glob("sheet-bases-*.npz"))
    path.write_bytes(b"not an npz")
    assert nearest_sheet_basis(folder, station, None, 1e6) is None


def test_whatif_starts_its_lp_from_the_sheets_basis(tmp_path, monkeypatch):
    """A what-if below full cover's bound starts its max-cover LP from the what-if sheet's basis at the nearest
    budget (made with the proposal's corridor rows, which the what-if's first solve does not have: the basis
    is rebalanced, `planner.model.warm`) and ends at the plan a cold what-if gives; the proposal's sheet keeps
    its bases (`quick_sweep`)."""
    import planner.pipeline
    import planner.sweeprun
    from planner.reuse import nearest_sheet_basis
    from planner.sweep import quick_sweep, whatif_cache_dir

    station = choice_station(tmp_path)
    cache = tmp_path / "cache" / "reach"
    proposal = plan_station(station, cache_dir=cache, check=False, options=COLGEN)
    assert proposal.plan["solver"]["corridor"]["limits"]           # the sheet solves with these rows
    real_plan = planner.sweeprun.plan_station
    monkeypatch.setattr(planner.sweeprun, "plan_station", lambda *a, **k: real_plan(*a, **k, options=COLGEN))
    quick_sweep(proposal, n=4, time_limit_s=10.0, workers=1, cache_dir=whatif_cache_dir(cache))
    folder = reuse_dir(cache, station)
    fc = known_full_cover(folder, station)
    budget = 0.9 * float(fc["first"]["bound"])
    assert nearest_sheet_basis(folder, station, None, budget) is not None
    below = dataclasses.replace(station, params=station.params.replace(budget=budget))
    seen = []
    real = planner.pipeline.solve

    def spy(problem, **kw):
        sol = real(problem, **kw)
        seen.append((problem.objective, kw.get("warm") is not None, sol))
        return sol

    monkeypatch.setattr(planner.pipeline, "solve", spy)
    fast = plan_station(below, cache_dir=cache, check=True, options=COLGEN)
    objective, warmed, first = seen[0]
    assert objective == "max-cover" and warmed and first.stats["lp_colgen"]["warm"] == 1
    assert first.stats.get("mip_skipped") != "warm"           # another budget's basis: it may branch
    cold = plan_station(below, check=True, options=COLGEN)
    assert fast.plan["totals"]["scenarios"] == cold.plan["totals"]["scenarios"] and not fast.breaches
    assert fast.plan["totals"]["cost"] <= budget + 1e-6


def test_first_options_branch_only_after_another_budgets_basis():
    """`first_options`: a start plan comes with its LP; after a basis of another budget (a chain's first budget,
    the what-if sheet's) the first solve may branch, never after the last run's own (a re-solve)."""
    from planner.firstsolve import Skip, first_options

    state = RunState(limits={}, chosen=["S1"], objective="cover-all")
    sheet = Skip(["words"], 1.0, None, None, None, warm=object())
    assert first_options(None, None, None, False) is None
    assert first_options(None, state, None, True) == SolveOptions(start_lp=True)
    assert first_options(None, None, None, True) == SolveOptions(warm_branch=True)
    assert first_options(None, None, sheet, False) == SolveOptions(warm_branch=True)
    assert first_options(COLGEN, None, dataclasses.replace(sheet, start=["S1"]), False) == \
        dataclasses.replace(COLGEN, start_lp=True, warm_branch=True)

    assert first_options(None, None, None, False, rounds_follow=True) == SolveOptions(cold_branch=False)
    assert first_options(None, state, None, False, rounds_follow=True) == SolveOptions(start_lp=True)
    assert first_options(None, None, sheet, False, rounds_follow=True) == SolveOptions(warm_branch=True)


def test_round_zero_of_the_corridor_rounds_does_not_branch_after_a_cold_lp(tmp_path, monkeypatch):
    """`plan_station` solves the first cover-all of corridor rounds with `cold_branch` off, the rounds as asked."""

    station = choice_station(tmp_path)
    seen = []
    spy_solve(monkeypatch, lambda problem, kw: seen.append(kw.get("options")))
    plan_station(station, check=False, options=COLGEN)
    assert len(seen) >= 2 and seen[0].cold_branch is False and all(o is COLGEN for o in seen[1:])


def test_whatif_sheet_solves_an_unknown_full_cover_plan_once(tmp_path, monkeypatch):
    """A what-if whose full-cover plan is not known (max-cover, no proposal on these inputs) solves it for its
    what-if sheet once: the next what-if's sheet reads it from the what-if cache (Station Unity: 38 to 44 s in
    every what-if before)."""
    import planner.sweep
    from planner.sweep import quick_sweep, whatif_cache_dir

    station = choice_station(tmp_path)
    cache = tmp_path / "cache" / "reach"
    free = plan_station(station, check=False)
    budget = 0.5 * float(free.plan["totals"]["cost"])
    seen: list[dict] = []
    real = planner.sweep.solve_budget

    def spy(st, reach, spec):
        seen.append(spec)
        return real(st, reach, spec)

    monkeypatch.setattr(planner.sweep, "solve_budget", spy)
    tables, known = [], []
    for b in (budget, 0.9 * budget, 0.8 * budget):   # the first falls back (and knows full cover's plan),
        below = dataclasses.replace(station, params=station.params.replace(budget=b))  # the others skip cover-all
        run = plan_station(below, cache_dir=cache, check=False)
        assert run.plan["objective"] == "max-cover"
        known.append(run.full_cover_plan is not None)
        tables.append(quick_sweep(run, n=3, time_limit_s=5.0, workers=1, cache_dir=whatif_cache_dir(cache)))
    assert known == [True, False, False]
    assert [s["budget"] for s in seen if s["budget"] is None] == [None]     # the full-cover plan, solved once
    assert list(tables[1]["budget"]) == list(tables[2]["budget"]) and list(tables[1]["cost"]) == list(tables[2]["cost"])


def test_a_fallback_to_max_cover_starts_its_lp_from_the_sheets_basis(tmp_path, monkeypatch):
    """A what-if whose corridor rows make full cover dearer than its budget (S1's cost + 1,000: S1 alone fits
    without the rows, round 1's rows need S2 and S3) re-plans max-cover in that round from the what-if sheet's
    LP basis at the nearest budget (a max-cover basis; the cover-all round's own does not fit a max-cover model
    and its LP started cold: 30 s on Station Unity at 56.6 M CR), to the plan a cold what-if makes."""
    import planner.pipeline
    import planner.sweeprun
    from planner.costs import site_costs
    from planner.reuse import nearest_sheet_basis
    from planner.sites import candidate_sites
    from planner.sweep import quick_sweep, whatif_cache_dir

    station = choice_station(tmp_path)
    station = dataclasses.replace(station, params=station.params.replace(corridor_rounds=3))
    cache = tmp_path / "cache" / "reach"
    proposal = plan_station(station, cache_dir=cache, check=False, options=COLGEN)
    real_plan = planner.sweeprun.plan_station
    monkeypatch.setattr(planner.sweeprun, "plan_station", lambda *a, **k: real_plan(*a, **k, options=COLGEN))
    quick_sweep(proposal, n=4, time_limit_s=10.0, workers=1, cache_dir=whatif_cache_dir(cache))
    budget = float(site_costs(candidate_sites(station), station)["total_cost"]["S1"]) + 1000.0
    sheet = nearest_sheet_basis(reuse_dir(cache, station), station, None, budget)
    assert sheet is not None
    st = dataclasses.replace(station, params=station.params.replace(budget=budget))
    seen = []
    real = spy_solve(monkeypatch, lambda problem, kw: seen.append((problem.objective, kw.get("warm"))))
    run = plan_station(st, cache_dir=cache, check=True, options=COLGEN)
    monkeypatch.setattr(planner.pipeline, "solve", real)
    rounds = run.plan["solver"]["corridor"]["rounds"]
    assert rounds[1].get("fell_back") == "max-cover" and run.plan["objective"] == "max-cover"
    backs = [w for obj, w in seen if obj == "max-cover"]
    assert backs and backs[0] is not None and backs[0].cold_s == sheet.cold_s
    assert np.array_equal(backs[0].row_status, sheet.row_status)
    cold = plan_station(st, check=True, options=COLGEN)
    assert run.plan["totals"]["scenarios"] == cold.plan["totals"]["scenarios"] and not run.breaches


def test_a_whatif_starts_from_the_proposals_final_state(tmp_path, monkeypatch):
    """A cover-all what-if on the proposal's inputs: at a budget its plan fits, it is that plan, solved once from
    the proposal's final state (its rooms as the start, its rows, its basis; no rounds), checked, and plan.json
    says so; below the plan's cost the first cover-all LP starts from the proposal's basis (it started cold:
    16 s on Station Unity), and the plan is the one a cold what-if makes."""
    import planner.pipeline

    station = choice_station(tmp_path)
    station = dataclasses.replace(station, params=station.params.replace(corridor_rounds=3))
    cache = tmp_path / "cache" / "reach"
    proposal = plan_station(station, cache_dir=cache, check=False, options=COLGEN)
    assert proposal.plan["objective"] == "cover-all" and len(proposal.plan["solver"]["corridor"]["rounds"]) > 1
    cost = float(proposal.plan["totals"]["cost"])
    state = load_state(reuse_dir(cache, station), state_key(station, None, COLGEN))
    assert state is not None and state.warm is not None
    seen = []
    real = spy_solve(monkeypatch, lambda problem, kw: seen.append((problem.objective, problem.budget, kw.get("start"),
                                                                   kw.get("warm"))))
    above = dataclasses.replace(station, params=station.params.replace(budget=cost + 5000.0))
    run = plan_station(above, cache_dir=cache, check=True, options=COLGEN)
    assert len(seen) == 1 and sorted(seen[0][2]) == sorted(proposal.solution.chosen) and seen[0][3] is not None
    assert np.array_equal(seen[0][3].row_status, state.warm.row_status)
    assert sorted(run.solution.chosen) == sorted(proposal.solution.chosen) and not run.breaches
    cor = run.plan["solver"]["corridor"]
    assert "the proposal on the same inputs" in cor["reused"]["note"] and len(cor["rounds"]) == 1
    assert cor["limits"] == proposal.plan["solver"]["corridor"]["limits"]
    seen.clear()
    below_budget = 0.5 * (cost + float(proposal.plan["solver"]["corridor"]["rounds"][0]["cost"]))
    below = dataclasses.replace(station, params=station.params.replace(budget=below_budget))
    warm_run = plan_station(below, cache_dir=cache, check=True, options=COLGEN)
    assert seen[0][0] == "cover-all" and seen[0][2] is None and seen[0][3] is not None
    assert np.array_equal(seen[0][3].row_status, state.warm.row_status)
    monkeypatch.setattr(planner.pipeline, "solve", real)
    cold = plan_station(below, check=True, options=COLGEN)
    assert warm_run.plan["objective"] == cold.plan["objective"] and not warm_run.breaches
    assert warm_run.plan["totals"]["scenarios"] == cold.plan["totals"]["scenarios"]


def test_the_full_cover_plans_verdict_is_kept_for_that_plan_only(tmp_path, monkeypatch):
    """`checked_full_cover` checks the proposal's full-cover plan once: the next what-if on the same inputs
    reads the verdict (kept for that plan's content, inputs, parameters and version); a changed plan in the
    cache is checked again, and one with a breach is not taken."""
    import json

    import planner.reuse
    from planner.reuse import checked_full_cover

    station = choice_station(tmp_path)
    cache = tmp_path / "cache" / "reach"
    proposal = plan_station(station, cache_dir=cache, check=False)
    folder = reuse_dir(cache, station)
    calls = []
    real = planner.reuse.check_plan
    monkeypatch.setattr(planner.reuse, "check_plan", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = checked_full_cover(folder, station)
    again = checked_full_cover(folder, station)
    assert first is not None and again == first and len(calls) == 1
    assert first["totals"]["cost"] == pytest.approx(proposal.plan["totals"]["cost"])
    entry = next(p for p in folder.glob("*.json") if '"plan"' in p.read_text() and '"first"' in p.read_text())
    stored = json.loads(entry.read_text())
    stored["plan"]["assignments"][0]["residents"] += 50                    # a tampered plan: over capacity
    entry.write_text(json.dumps(stored))
    assert checked_full_cover(folder, station) is None and len(calls) == 2
