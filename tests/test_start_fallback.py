"""A cover-all start plan when the LP relaxation stopped at its time limit and its support does not shelter
everyone (`lppath._start_assignment`): the greedy's sites are added, so the solve has a start plan (generated
3,000 rooms at 10 s under load had none, and no plan at all). Simulated on small instances: the LP's guide
cut to one site and its status set to "time limit"."""

from __future__ import annotations

import numpy as np
import pytest
from test_model_bruteforce import brute_force, random_instance

import planner.model as M
from planner.model import lppath
from planner.progress import set_quiet

set_quiet(True)


@pytest.mark.parametrize("seed", [0, 1, 3, 5])
def test_a_timed_out_lp_whose_support_does_not_fit_still_gives_a_start(monkeypatch, seed: int) -> None:
    inst = random_instance(seed, n_rooms=10, n_sites=8)
    best = brute_force(inst, "cover-all", None, 1)
    if best is None:
        pytest.skip("no full cover")
    p = M.Problem.from_cost_matrix(inst["demand"], inst["times"], inst["capacity"], inst["cost"],
                                   door_flow_pps=inst["door_flow_pps"], room_ids=inst["room_ids"],
                                   site_ids=inst["site_ids"], door_queue=True, mip_gap=0.0, time_limit_s=30)
    free = M.solve(p, progress=False, options=M.SolveOptions(capacity_cuts=False, flow_start=False))
    real = lppath._lp_relaxation

    def stopped(st):
        guide = real(st)
        st.stats["lp_status"] = "time limit"
        st.lp_run = None
        if guide is None:
            return None
        cut = np.zeros_like(guide)
        cut[int(np.argmax(guide))] = 1.0          # one site: no station here fits everyone into one
        return cut

    monkeypatch.setattr(lppath, "_lp_relaxation", stopped)
    sol = M.solve(p, progress=False, options=M.SolveOptions(capacity_cuts=False, flow_start=False))
    assert sol.stats.get("start_greedy_added") is True
    assert sol.stats["heuristic_sites"] >= 2
    assert sol.stats["cost"] >= best[0][0] - 1e-6     # a plan (kept with no branching: the LP "stopped")
    sheltered = sol.assignments.groupby("scenario")["residents"].sum()
    assert sheltered.to_dict() == free.assignments.groupby("scenario")["residents"].sum().to_dict()  # all
