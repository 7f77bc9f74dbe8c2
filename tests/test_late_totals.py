"""plan.json `totals.late_by_corridors` checked against the replay (`planner.checkqueue.check_late_totals`):
the figures must be whole numbers of persons; true/false are not counts (in Python `True == 1`, so a plan
saying `"residents": true` for one late resident passed)."""

from __future__ import annotations

import dataclasses

from test_corridors import choice_station

from planner.checkqueue import check_late_totals
from planner.pipeline import plan_station


def test_late_totals_must_be_counts_not_true_or_false(tmp_path) -> None:
    station = choice_station(tmp_path)
    done = plan_station(dataclasses.replace(station, params=station.params.replace(corridor_rounds=3)), check=False)
    assert done.plan["totals"]["late_by_corridors"] == {"residents": 0, "by_scenario": {"night": 0, "day": 0}}
    assert check_late_totals(station, done.plan) == []
    for wrong, where in (({"residents": False, "by_scenario": {"night": 0, "day": 0}}, "totals.late_by_corridors"),
                         ({"residents": 0, "by_scenario": {"night": False, "day": 0}},
                          "totals.late_by_corridors.by_scenario.night")):
        bad = dict(done.plan, totals=dict(done.plan["totals"], late_by_corridors=wrong))
        assert [b[1] for b in check_late_totals(station, bad)] == [where], wrong
