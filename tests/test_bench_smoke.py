"""Smoke tests of the benchmark harness (bench/): hand-made coverage data and one tiny station.

The real measurements are `make bench`; these only check that the harness runs and
that its engines agree on answers worked out by hand.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ is not an installed package

from bench.run import fit_power_law, markdown, run_suite
from bench.spopt_compare import load_coverage, save_coverage, solve_planner, solve_sparse

HAS_SPOPT = importlib.util.find_spec("spopt") is not None and importlib.util.find_spec("psutil") is not None


@pytest.fixture()
def tiny_coverage(tmp_path: Path) -> Path:
    """Rooms r0 (5 persons) -> s0; r1 (1) -> s0, s1; r2 (2) -> s1; r3 (0 persons) -> s2; s2 reaches nobody with residents.

    LSCP: 2 sites (s0 and s1). MCLP with p = 1: s0 covers 5 + 1 = 6 persons, s1 covers 3.
    """
    demand = pd.DataFrame({"night": [5, 1, 2, 0], "day": [3, 1, 0, 0]}, index=["r0", "r1", "r2", "r3"])
    pairs = pd.DataFrame({"room_id": ["r0", "r1", "r1", "r2", "r3", "r0"],
                          "site_id": ["s0", "s0", "s1", "s1", "s2", "s2"],
                          "walk_s": [10.0, 20.0, 30.0, 0.0, 5.0, 75.0]})  # the last is beyond reach
    path = tmp_path / "cov.npz"
    size = save_coverage(path, demand, pairs, ["s0", "s1", "s2"], reach_s=60.0)
    assert size == dict(rooms=3, sites=3, pairs=4, residents=8)
    return path


@pytest.mark.parametrize("solver", [solve_planner, solve_sparse])
def test_engines_by_hand(tiny_coverage: Path, solver) -> None:
    cov = load_coverage(tiny_coverage)
    assert list(cov["weight"]) == [5, 1, 2]  # the largest head count over the scenarios
    lscp = solver(cov, "lscp", time_limit_s=30)
    assert lscp["objective"] == 2 and lscp["sites_chosen"] == 2
    mclp = solver(cov, "mclp", p=1, time_limit_s=30)
    assert mclp["objective"] == pytest.approx(6.0)


@pytest.mark.skipif(not HAS_SPOPT, reason="spopt (the bench extra) is not installed")
def test_spopt_by_hand(tiny_coverage: Path) -> None:
    from bench.spopt_compare import solve_spopt

    cov = load_coverage(tiny_coverage)
    assert solve_spopt(cov, "lscp", time_limit_s=30)["objective"] == 2
    assert solve_spopt(cov, "mclp", p=1, time_limit_s=30)["objective"] == pytest.approx(6.0)


def test_power_law_fit_recovers_exponent() -> None:
    n = [1000, 3000, 10000, 30000]
    f = fit_power_law(n, [2e-4 * x ** 1.5 for x in n])
    assert f["exponent"] == pytest.approx(1.5, abs=1e-6) and f["r2"] == pytest.approx(1.0)
    assert fit_power_law([1000], [1.0]) is None


@pytest.mark.slow
def test_suite_on_a_tiny_station(tmp_path: Path) -> None:
    """The whole harness (child processes included) on a generated 30-room station."""
    res = run_suite([30], tmp_path / "results", tmp_path / "cache", spopt=HAS_SPOPT, limit=True,
                    label="smoke", timeout_s=300, compare_time_limit_s=30)
    assert (tmp_path / "results" / "smoke.md").exists()
    data = json.loads((tmp_path / "results" / "smoke.json").read_text())
    (run,) = data["runs"]
    assert "error" not in run, run
    assert set(run["times_s"]) == {"load", "reach", "model", "solve", "check", "workbook"}
    assert run["pipeline_peak_mb"] > 0 and run["model"]["variables"] > 0
    assert run["breaches"] == 0
    assert "limit" in run and run["limit"]["lp"]["bound"] is not None
    # LP relaxation bound <= plan (cover-all minimises cost)
    assert run["limit"]["lp"]["bound"] <= run["solver"]["objective"] + 1e-6
    assert [c["problem"] for c in res["compare"]] == ["lscp", "mclp"]
    for c in res["compare"]:
        assert c["same_as_reference"] is True, c
        if HAS_SPOPT:
            assert c["same_optimum"] is True, c
    text = markdown(data)
    assert "## Side by side with spopt" in text and "## The limit" in text
    assert np.isfinite(run["total_s"])


def test_seed_tables_show_the_worst_seed_next_to_the_median() -> None:
    from bench.run import seed_markdown

    rows = [dict(size=300, seed=s, case="cover-all", seconds=t, gap=g, breaches=0)
            for s, t, g in ((1, 1.0, 0.001), (2, 2.0, 0.002), (3, 9.5, 0.012))]
    cover = dict(size=10000, problem="lscp", spopt=dict(objective=90.0, status="optimal", wall_s=240.0),
                 seeds=[dict(seed=0, wall_s=10.0, objective=90.0, status="optimal"),
                        dict(seed=1, wall_s=30.0, objective=90.0, status="optimal"),
                        dict(seed=2, wall_s=12.0, objective=90.0, status="optimal")])
    text = "\n".join(seed_markdown(dict(seeds=rows, compare=[cover])))
    assert "| 300 | cover-all | 3 | 2.00 | 9.50 (3) | 1.20 % (3) | no | 0 | 3 s | no |" in text
    assert "| 10,000 | LSCP | 3 | 12.0 | 30.0 (1) | 240.0 | 8.0x | yes |" in text


def test_prediction_agreement_figures_by_hand():
    """bench.predict_agreement's figures on four hand-made assignments: within max(5 % of simulated, 2 s),
    predicted more than 5 s early, median of simulated minus predicted; per size class."""
    import pandas as pd

    from bench.predict_agreement import agreement_rows

    rows = pd.DataFrame({"room_id": list("ABCD"), "scenario": ["night"] * 4, "safe_room_id": ["S"] * 4,
                         "residents": [1, 1, 4, 12], "sim_last_s": [10.0, 50.0, 30.0, 40.0],
                         "simulated_file": [9.0, 44.0, 31.0, 47.0], "conservative": [12.0, 52.0, 33.0, 47.0],
                         "estimate": [9.0, 44.0, 31.0, 47.0]})
    t = agreement_rows(rows, "hand").set_index(["prediction", "group"])
    # estimate: A within (1 <= 2), B 6 s early (> 2.5 and > 5), C within, D 7 s late (> 2)
    assert t.loc[("estimate", "all"), "within_5pct_2s"] == 0.5
    assert t.loc[("estimate", "all"), "early_over_5s"] == 0.25
    assert t.loc[("estimate", "all"), "median_sim_minus_pred_s"] == 0.0      # median of 1, 6, -1, -7
    assert t.loc[("estimate", "size 1"), "n"] == 2 and t.loc[("estimate", "size 11-20"), "within_5pct_2s"] == 0.0
    # conservative: A 2 s late (<= 2 s) and B 2 s late of 50 (<= 2.5 s) are within, C (3 s) and D (7 s) not
    assert t.loc[("conservative", "all"), "within_5pct_2s"] == 0.5
