"""Phasing: nested sets, crew-time / room / budget limits per phase, and the optimum against brute force.

The problems are hand-made stand-ins for `model.Problem` (same fields), so these tests do not
depend on the optimiser. Coverage for the brute force is an independent LP (scipy linprog, queue
rows written as plain suffix sums), not the phasing module's own rows.
"""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from planner.params import Parameters, Phase
from planner.phases import coverage, phase_breaches, phase_table, plan_phases


def make_problem(seed: int, n_sites: int = 5, n_rooms: int = 8, flow: float = 0.15, queue: bool = True):
    rng = np.random.default_rng(seed)
    sites = [f"S{j}" for j in range(n_sites)]
    rooms = [f"R{i}" for i in range(n_rooms)]
    demand = pd.DataFrame({"night": rng.integers(0, 12, n_rooms), "day": rng.integers(0, 12, n_rooms)},
                          index=pd.Index(rooms, name="room_id"))
    weight = pd.Series(np.where(rng.random(n_rooms) < 0.25, 3.0, 1.0), index=demand.index)
    rows = []
    for r in rooms:
        k = rng.integers(1, min(4, n_sites + 1))
        for j in rng.choice(n_sites, size=k, replace=False):
            rows.append({"room_id": r, "site_id": sites[j], "walk_s": float(rng.integers(5, 60)), "door_id": "d"})
    pairs = pd.DataFrame(rows)
    site_df = pd.DataFrame({"capacity": rng.integers(4, 15, n_sites), "door_flow_pps": flow,
                            "cost": rng.integers(1, 10, n_sites) * 1000.0, "existing": False, "required": False},
                           index=pd.Index(sites, name="site_id"))
    costs = pd.DataFrame({"total_cost": site_df["cost"], "labour_h": rng.integers(10, 100, n_sites) * 1.0},
                         index=site_df.index)
    costs["crew_days"] = (costs["labour_h"] / 32.0).round(2)
    prob = SimpleNamespace(demand=demand, weight=weight, pairs=pairs, sites=site_df, reach_s=60.0,
                           door_queue=queue, queue_bin_s=1.0, time_limit_s=30.0, mip_gap=1e-7,
                           solver="highs", threads=1, objective="max-cover", budget=None, backup_k=1)
    return prob, costs


def lp_coverage(prob, built: set[str]) -> tuple[float, dict[str, float]]:
    """Independent LP: max weighted people with the sites `built`; queues as suffix sums."""
    p = prob.pairs[prob.pairs["site_id"].isin(built)]
    if p.empty:
        return 0.0, {s: 0.0 for s in prob.demand.columns}
    total, per = 0.0, {}
    for s in prob.demand.columns:
        n = len(p)
        d = prob.demand[s].reindex(p["room_id"]).to_numpy(float)
        w = prob.weight.reindex(p["room_id"]).to_numpy(float)
        A, b = [], []
        for r, idx in p.groupby("room_id").indices.items():
            row = np.zeros(n); row[idx] = 1; A.append(row); b.append(prob.demand.at[r, s])
        for j, idx in p.groupby("site_id").indices.items():
            row = np.zeros(n); row[idx] = 1; A.append(row); b.append(prob.sites.at[j, "capacity"])
            if prob.door_queue:
                walks = p["walk_s"].to_numpy()[idx]
                for tau in np.unique(walks):
                    row = np.zeros(n); row[idx[walks >= tau]] = 1; A.append(row)
                    b.append(np.floor(prob.sites.at[j, "door_flow_pps"] * (prob.reach_s - tau) + 1e-9))
        res = linprog(-w, A_ub=np.array(A), b_ub=np.array(b), bounds=list(zip([0] * n, d)), method="highs")
        total += -res.fun
        per[s] = float(res.x.sum())
    return total, per


def brute_force(prob, costs, params) -> float:
    sites = list(prob.sites.index)
    K = len(params.phases)
    cache = {}
    best = -1.0
    for assign in itertools.product(range(1, K + 2), repeat=len(sites)):
        ph = pd.Series(assign, index=sites)
        if phase_breaches(ph, costs, params, prob):
            continue
        val = 0.0
        for k in range(K):
            key = frozenset(s for s, p in ph.items() if p <= k + 1)
            if key not in cache:
                cache[key] = lp_coverage(prob, set(key))[0]
            val += params.phases[k].duration_days * cache[key]
        best = max(best, val)
    return best


def value(prob, ph, params) -> float:
    return sum(params.phases[k].duration_days * lp_coverage(prob, {s for s, p in ph.items() if p <= k + 1})[0]
               for k in range(len(params.phases)))


PARAMS = [
    Parameters(crews=2, crews_per_room_max=1, phases=[Phase("P1", max_rooms=2, max_days=2.0, duration_days=3.0),
                                                      Phase("P2", max_rooms=2, budget=12000.0, duration_days=30.0)]),
    Parameters(crews=1, crews_per_room_max=2, phases=[Phase("P1", max_days=1.5, duration_days=10.0),
                                                      Phase("P2", max_days=2.0, crews=2, duration_days=20.0)]),
    Parameters(crews=3, phases=[Phase("P1", max_rooms=1, duration_days=5.0), Phase("P2", budget=9000.0, duration_days=5.0),
                                Phase("P3", max_rooms=1, duration_days=5.0)]),
]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("pi", range(len(PARAMS)))
def test_phased_optimum_matches_brute_force(seed, pi):
    params = PARAMS[pi]
    prob, costs = make_problem(seed, n_sites=5 if len(params.phases) < 3 else 4)
    chosen = list(prob.sites.index)
    ph = plan_phases(prob, chosen, costs, params)
    assert list(ph.index) == chosen and ph.between(1, len(params.phases) + 1).all()
    assert phase_breaches(ph, costs, params, prob) == []
    best = brute_force(prob, costs, params)
    assert value(prob, ph, params) == pytest.approx(best, rel=1e-6, abs=1e-6)


def test_nested_sets_and_limits_in_phase_table():
    params = PARAMS[0]
    prob, costs = make_problem(5)
    chosen = list(prob.sites.index)
    ph = plan_phases(prob, chosen, costs, params)
    tab = phase_table(prob, ph, costs, params)
    # nested: the cumulative room count and coverage never decrease; every site appears once
    assert (np.diff(tab["rooms_total"]) >= 0).all()
    for s in prob.demand.columns:
        assert (np.diff(tab[f"sheltered_{s}"]) >= 0).all()
    listed = [x for ids in tab["site_ids"] for x in ids.split(", ") if x]
    assert sorted(listed) == sorted(chosen)
    assert tab["rooms_total"].iloc[-1] == len(chosen)
    for k, phase in enumerate(params.phases):
        row = tab.iloc[k]
        if phase.max_rooms is not None:
            assert row["rooms"] <= phase.max_rooms
        if phase.max_days is not None:
            crews = phase.crews or params.crews
            assert row["crew_days"] <= crews * phase.max_days + 1e-9
            assert row["work_days"] <= phase.max_days + 1e-9
        if phase.budget is not None:
            assert row["cost_total"] <= phase.budget + 1e-6
    assert (tab["start_day"].iloc[1:].to_numpy() == tab["end_day"].iloc[:-1].to_numpy()).all()
    # the last row shelters what the independent LP gives with every site
    _, per = lp_coverage(prob, set(chosen))
    for s in prob.demand.columns:
        assert tab[f"sheltered_{s}"].iloc[-1] == pytest.approx(per[s], abs=1e-6)


def test_remaining_phase_and_existing_sites():
    prob, costs = make_problem(7)
    prob.sites.loc["S0", "existing"] = True
    params = Parameters(phases=[Phase("P1", max_rooms=1, duration_days=3.0)])
    chosen = list(prob.sites.index)
    ph = plan_phases(prob, chosen, costs, params)
    assert ph["S0"] == 1  # existing: there from the start, counts for no room limit
    assert (ph.drop("S0") == 1).sum() == 1
    assert (ph.drop("S0") == 2).sum() == len(chosen) - 2  # the rest: "remaining" phase K+1
    tab = phase_table(prob, ph, costs, params)
    assert list(tab["name"]) == ["P1", "Remaining"]
    assert tab["rooms"].tolist() == [1, len(chosen) - 2]


def test_no_phases_declared_everything_phase_1():
    prob, costs = make_problem(1)
    ph = plan_phases(prob, list(prob.sites.index), costs, Parameters())
    assert (ph == 1).all()


def test_crew_time_rule_long_room_needs_several_crews():
    """A room of 3 crew-days fits a 2-day phase only when two crews may share it."""
    prob, costs = make_problem(2, n_sites=2)
    costs["crew_days"] = [3.0, 0.5]
    one = Parameters(crews=4, crews_per_room_max=1, phases=[Phase("P1", max_days=2.0)])
    two = Parameters(crews=4, crews_per_room_max=2, phases=[Phase("P1", max_days=2.0)])
    chosen = list(prob.sites.index)
    assert plan_phases(prob, chosen, costs, one)["S0"] == 2
    assert plan_phases(prob, chosen, costs, two)["S0"] == 1


def test_priority_people_first():
    """Phase 1 holds one room: the one sheltering the delegates wins over a larger crowd of weight 1."""
    demand = pd.DataFrame({"night": [5, 6]}, index=pd.Index(["A", "B"], name="room_id"))
    pairs = pd.DataFrame({"room_id": ["A", "B"], "site_id": ["SA", "SB"], "walk_s": [10.0, 10.0], "door_id": "d"})
    sites = pd.DataFrame({"capacity": [10, 10], "door_flow_pps": 1.0, "cost": 1.0, "existing": False,
                          "required": False}, index=pd.Index(["SA", "SB"], name="site_id"))
    costs = pd.DataFrame({"total_cost": [1.0, 1.0], "labour_h": 1.0, "crew_days": 0.1}, index=sites.index)
    params = Parameters(phases=[Phase("P1", max_rooms=1, duration_days=3.0)])
    base = dict(demand=demand, pairs=pairs, sites=sites, reach_s=60.0, door_queue=True, queue_bin_s=1.0,
                time_limit_s=10.0, mip_gap=1e-7, solver="highs", threads=1)
    flat = SimpleNamespace(weight=pd.Series(1.0, index=demand.index), **base)
    vip = SimpleNamespace(weight=pd.Series([5.0, 1.0], index=demand.index), **base)
    assert plan_phases(flat, ["SA", "SB"], costs, params).to_dict() == {"SA": 2, "SB": 1}
    assert plan_phases(vip, ["SA", "SB"], costs, params).to_dict() == {"SA": 1, "SB": 2}


def test_coverage_queue_by_hand():
    """One site, door 0.1 p/s, reach 60 s: a room 40 s away gets floor(0.1 x 20) = 2 people in."""
    demand = pd.DataFrame({"night": [9]}, index=pd.Index(["A"], name="room_id"))
    pairs = pd.DataFrame({"room_id": ["A"], "site_id": ["S"], "walk_s": [39.2], "door_id": ["d"]})
    sites = pd.DataFrame({"capacity": [50], "door_flow_pps": [0.1], "cost": [1.0], "existing": [False]},
                         index=pd.Index(["S"], name="site_id"))
    prob = SimpleNamespace(demand=demand, weight=pd.Series(1.0, index=demand.index), pairs=pairs, sites=sites,
                           reach_s=60.0, door_queue=True, queue_bin_s=1.0, time_limit_s=10.0, mip_gap=1e-7,
                           solver="highs", threads=1)
    assert coverage(prob, ["S"])["night"] == 2  # walk rounded up to 40 s: 20 s of door time


@pytest.mark.slow
def test_with_the_real_model_on_a_generated_station(tmp_path):
    """End to end: model plan -> phases; the last phase shelters what the plan shelters."""
    pytest.importorskip("planner.model")
    gen = pytest.importorskip("planner.generate")
    from planner.pipeline import plan_station
    from planner.progress import set_quiet
    from planner.station import load_station

    set_quiet(True)
    st = load_station(gen.generate_station(60, 7, tmp_path / "gen"))
    st.params = st.params.replace(crews=2, phases=[Phase("Phase 1", max_rooms=2, max_days=2.0, duration_days=3.0),
                                                   Phase("Month 1", max_days=5.0, duration_days=30.0)])
    run = plan_station(st, check=False)
    ph = plan_phases(run.problem, run.solution.chosen, run.costs, st.params, time_limit_s=20)
    assert phase_breaches(ph, run.costs, st.params, run.problem) == []
    tab = phase_table(run.problem, ph, run.costs, st.params)
    assert tab["rooms_total"].iloc[-1] == len(run.solution.chosen)
    for s in st.scenarios:
        assert tab[f"sheltered_{s}"].iloc[-1] == run.plan["totals"]["scenarios"][s]["sheltered"]
        assert (np.diff(tab[f"sheltered_{s}"]) >= 0).all()


@pytest.mark.parametrize("seed", range(6))
def test_greedy_start_respects_limits(seed):
    from planner.phasecover import site_data as _site_data
    from planner.phases import _greedy_phases, phase_limits

    prob, costs = make_problem(seed)
    params = Parameters(crews=1, phases=[Phase("P1", max_rooms=2, max_days=1.0), Phase("P2", budget=5000.0),
                                         Phase("P3", max_days=2.0, budget=9000.0)])
    sd = _site_data(prob, list(prob.sites.index), costs)
    value = pd.Series(np.random.default_rng(seed).random(len(sd)), index=sd.index)
    ph = pd.Series(_greedy_phases(sd, phase_limits(params), value))
    assert phase_breaches(ph, costs, params, prob) == []


@pytest.mark.parametrize("seed", range(6))
def test_flow_coverage_equals_the_lp(seed):
    """Coverage by maximum flows (weights taken heaviest first) equals the assignment LP (highspy) and
    the independent LP (scipy linprog, queues as plain suffix sums), weighted and per scenario."""
    from planner.phasecover import Coverage as _Coverage, CoverageLP as _CoverageLP, site_data as _site_data

    prob, costs = make_problem(seed, n_sites=6, n_rooms=12, flow=0.1 + 0.05 * (seed % 3), queue=seed != 5)
    ids = list(prob.sites.index)
    sd = _site_data(prob, ids, costs)
    by_flow = _CoverageLP(prob, _Coverage(prob, sd), sd)
    by_lp = _CoverageLP(prob, _Coverage(prob, sd), sd)
    assert by_flow.flow.ok
    by_lp.flow.ok = False
    rng = np.random.default_rng(seed)
    for _ in range(4):
        built = [s for s in ids if rng.random() < 0.6] or ids[:1]
        f, lp = by_flow.solve(built), by_lp.solve(built)
        ref_total, ref_per = lp_coverage(prob, set(built))
        assert f[0] == pytest.approx(lp[0], abs=1e-6) == pytest.approx(ref_total, abs=1e-6)
        assert f[2].to_dict() == lp[2].to_dict()
        for s in prob.demand.columns:
            assert f[2][s] == pytest.approx(ref_per[s], abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("pi", range(len(PARAMS)))
def test_phasing_reports_objective_bound_and_gap(seed, pi, monkeypatch):
    """The MIP (highspy) and the greedy phasing both report an objective, a bound and a gap; the bound
    is at least the brute-force optimum (so it is a proof), the objective that of the phasing returned."""
    import planner.phases as phases_mod

    params = PARAMS[pi]
    prob, costs = make_problem(seed, n_sites=5 if len(params.phases) < 3 else 4)
    chosen = list(prob.sites.index)
    best = brute_force(prob, costs, params)
    tie = 1e-4 * len(chosen) * len(params.phases)     # the tie-break bonus, at most
    for greedy in (False, True):
        if greedy:
            monkeypatch.setattr(phases_mod, "MAX_PHASE_Y", 0)
        ph = plan_phases(prob, chosen, costs, params)
        info = ph.attrs["solver"]
        assert info["method"].startswith("greedy" if greedy else "MIP")
        assert phase_breaches(ph, costs, params, prob) == []
        assert info["objective"] == pytest.approx(value(prob, ph, params), abs=tie + 1e-6)
        assert info["bound"] >= best - 1e-6
        assert info["bound"] >= info["objective"] - 1e-9
        assert info["gap"] == pytest.approx((info["bound"] - info["objective"]) / info["objective"], abs=1e-9)
        if not greedy:
            assert info["objective"] == pytest.approx(best, abs=tie + 1e-6)
            assert info["gap"] <= 1e-4 + 1e-9
