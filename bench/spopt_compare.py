"""Side by side with PySAL spopt: LSCP and MCLP on the same coverage data.

The coverage data of a station is its reach table: the pairs (room, site, walk_s)
within the reach time, restricted to rooms with residents that reach at least one
candidate site (a room nobody can reach would make the LSCP infeasible for both).
`save_coverage` writes it to an ``.npz`` file; every solve then runs in its own
process (`python -m bench.spopt_compare ...`, started by `bench.run`) so that its
peak memory is clean.

- LSCP: the least number of sites such that every room with residents has a chosen
  site within the reach time.
- MCLP: the most residents within the reach time of `p` chosen sites.

Engines:

- ``spopt``: a dense cost matrix (rooms x sites, seconds; ``10 x reach`` where out of
  reach), `spopt.locate.LSCP.from_cost_matrix` / `MCLP.from_cost_matrix`, solved with
  HiGHS through PuLP (`pulp.HiGHS`, in memory), `results=True` as spopt does by default.
- ``planner``: `planner.model.Problem.from_cost_matrix` on the sparse pairs with a unit
  cost per site, no capacity limit (capacity 10^9 persons), no door queue, backup 1,
  weight = residents; LSCP = ``cover-all``, MCLP = ``max-cover`` with budget `p`
  (single stage: coverage only, like spopt), then `planner.model.solve`.
- ``sparse`` (reference, the limit): the textbook LSCP / MCLP rows built with scipy.sparse
  from the pairs and handed to highspy as arrays; what an engine that projects out the
  assignment variables when capacity and queues cannot bind would reach.

Both run with a relative gap of 0 so that both must prove the optimum.

Memory: peak resident set (VmHWM, reset after the imports and the coverage data were
loaded) and its growth over the resident set at that point (the fair figure: spopt's
imports alone are heavier than ours).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

BIG_CAPACITY = 10**9
"""Capacity of a site when capacities are switched off (persons)."""


def _rss_mb() -> float:
    """Current resident set size (MB)."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:  # pragma: no cover - /proc fallback
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    """Peak resident set size of this process (MB): VmHWM of /proc/self/status.

    Not `getrusage`: its ru_maxrss survives exec and so reports the parent's size
    in a freshly started child process.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / (1024 if sys.platform == "darwin" else 1)


def _reset_peak() -> None:
    """Reset the peak resident set (VmHWM) to the current size, where Linux allows it."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:  # pragma: no cover
        pass


# ------------------------------------------------------------------ coverage data
def save_coverage(path: Path, demand: Any, pairs: Any, site_ids: list[str], reach_s: float) -> dict[str, int]:
    """Write the coverage data of a station to `path` (.npz); returns its size.

    `demand`: DataFrame (index room_id, one column per scenario, persons); the weight of
    a room is its largest head count over the scenarios. `pairs`: room_id, site_id,
    walk_s (seconds, within reach). `site_ids`: every candidate site (columns of the
    cost matrix, in this order). Rooms without residents or without a site in reach
    are left out.
    """
    import pandas as pd

    w = demand.max(axis=1).fillna(0).astype(np.int64)
    w = w[w > 0]
    pr = pairs[["room_id", "site_id", "walk_s"]].copy()
    pr["room_id"] = pr["room_id"].astype(str)
    pr["site_id"] = pr["site_id"].astype(str)
    sids = pd.Index([str(s) for s in site_ids])
    pr = pr[pr["room_id"].isin(w.index.astype(str)) & pr["site_id"].isin(sids) & (pr["walk_s"] <= reach_s)]
    rooms = pd.Index(sorted(set(pr["room_id"])))
    w = w.reindex(rooms).astype(np.int64)
    np.savez_compressed(path, room_ids=rooms.to_numpy().astype(str), site_ids=sids.to_numpy().astype(str),
                        weight=w.to_numpy(), ri=rooms.get_indexer(pr["room_id"]).astype(np.int32),
                        sj=sids.get_indexer(pr["site_id"]).astype(np.int32),
                        walk_s=pr["walk_s"].to_numpy(float), reach_s=np.array(float(reach_s)))
    return dict(rooms=len(rooms), sites=len(sids), pairs=len(pr), residents=int(w.sum()))


def load_coverage(path: Path) -> dict[str, Any]:
    """The arrays written by `save_coverage`."""
    with np.load(path) as z:
        d = {k: z[k] for k in z.files}
    d["reach_s"] = float(d["reach_s"])
    return d


# ------------------------------------------------------------------ the two engines
def solve_planner(cov: dict[str, Any], problem: str, p: int | None = None, time_limit_s: float = 600.0,
                  threads: int = 2, seed: int = 0) -> dict[str, Any]:
    """LSCP or MCLP with the planner's engine on sparse pairs; returns objective and timings (seconds).
    `seed`: `SolveOptions.seed` (the random covers and HiGHS's random seed)."""
    import pandas as pd

    from planner.model import Problem, SolveOptions, solve
    from planner.progress import set_quiet

    set_quiet(True)
    t0 = time.perf_counter()
    rooms = cov["room_ids"].astype(object)
    sids = cov["site_ids"].astype(object)
    dem = pd.DataFrame({"residents": cov["weight"]}, index=pd.Index(rooms, name="room_id"))
    pairs = pd.DataFrame({"room_id": rooms[cov["ri"]], "site_id": sids[cov["sj"]], "walk_s": cov["walk_s"]})
    n = len(sids)
    opts: dict[str, Any] = dict(reach_s=cov["reach_s"], backup_k=1, time_limit_s=time_limit_s, mip_gap=0.0,
                                threads=threads)
    if problem == "lscp":
        opts.update(objective="cover-all")
    else:
        opts.update(objective="max-cover", budget=float(p))
    prob = Problem.from_cost_matrix(dem, pairs, capacity=pd.Series(BIG_CAPACITY, index=sids),
                                    cost=pd.Series(1.0, index=sids), site_ids=list(sids), **opts)
    t1 = time.perf_counter()
    sol = solve(prob, progress=False, options=SolveOptions(lexicographic=False, seed=seed))
    t2 = time.perf_counter()
    obj = float(len(sol.chosen)) if problem == "lscp" else float(sol.solver["objective"])
    st = sol.stats
    return dict(objective=obj, status=sol.solver["status"], bound=sol.solver["bound"], gap=sol.solver["gap"],
                sites_chosen=len(sol.chosen), build_s=t1 - t0 + st.get("compile_s", 0) + st.get("build_s", 0),
                solve_s=t2 - t1 - st.get("compile_s", 0) - st.get("build_s", 0),
                highs_s=st.get("highs_s", st.get("mip_s", 0.0) + st.get("assign_s", 0.0) + st.get("start_assign_s", 0.0)),
                wall_s=t2 - t0, variables=st.get("variables"), rows=st.get("rows"), nonzeros=st.get("nonzeros"),
                groups=st.get("groups"), n_sites=n)


def solve_spopt(cov: dict[str, Any], problem: str, p: int | None = None, time_limit_s: float = 600.0,
                threads: int = 2) -> dict[str, Any]:
    """LSCP or MCLP with spopt's `from_cost_matrix` (dense) and HiGHS through PuLP; seconds."""
    import warnings

    import pulp
    from spopt.locate import LSCP, MCLP

    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    reach = cov["reach_s"]
    n_r, n_s = len(cov["room_ids"]), len(cov["site_ids"])
    cm = np.full((n_r, n_s), 10.0 * reach)
    cm[cov["ri"], cov["sj"]] = cov["walk_s"]
    if problem == "lscp":
        m = LSCP.from_cost_matrix(cm, service_radius=reach)
    else:
        m = MCLP.from_cost_matrix(cm, weights=cov["weight"].astype(float), service_radius=reach, p_facilities=int(p))
    t1 = time.perf_counter()
    solver = pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=0.0, threads=threads)
    m.solve(solver)
    t2 = time.perf_counter()
    obj = float(pulp.value(m.problem.objective))
    n_chosen = int(sum(1 for v in m.fac_vars if (v.value() or 0) > 0.5))
    return dict(objective=obj, status=pulp.LpStatus[m.problem.status].lower(), sites_chosen=n_chosen,
                build_s=t1 - t0, solve_s=t2 - t1, wall_s=t2 - t0, variables=len(m.problem.variables()),
                rows=len(m.problem.constraints), nonzeros=int(n_r * n_s + (n_s if problem == "mclp" else 0)),
                n_sites=n_s)


def solve_sparse(cov: dict[str, Any], problem: str, p: int | None = None, time_limit_s: float = 600.0,
                 threads: int = 2) -> dict[str, Any]:
    """Reference: the textbook LSCP / MCLP rows built sparse (scipy) and handed to highspy in bulk; seconds.

    LSCP: min sum x_j, sum_{j in reach(i)} x_j >= 1. MCLP: max sum w_i u_i, u_i <= sum_{j in reach(i)} x_j,
    0 <= u_i <= 1, sum x_j <= p. What an engine that projects out the assignment variables can reach.
    """
    import highspy
    import scipy.sparse as sp

    t0 = time.perf_counter()
    nr, ns = len(cov["room_ids"]), len(cov["site_ids"])
    inf = highspy.kHighsInf
    A = sp.csr_matrix((np.ones(len(cov["ri"])), (cov["ri"], cov["sj"])), shape=(nr, ns))
    A.sum_duplicates()
    A.data[:] = 1.0
    if problem == "lscp":
        M = A.tocsc()
        cost, lo, hi = np.ones(ns), np.zeros(ns), np.ones(ns)
        rlo, rhi = np.ones(nr), np.full(nr, inf)
        integer = np.ones(ns, bool)
    else:
        M = sp.vstack([sp.hstack([-A, sp.identity(nr, format="csr")]),
                       sp.hstack([sp.csr_matrix(np.ones((1, ns))), sp.csr_matrix((1, nr))])]).tocsc()
        cost = np.r_[np.zeros(ns), -cov["weight"].astype(float)]
        lo, hi = np.zeros(ns + nr), np.ones(ns + nr)
        rlo, rhi = np.r_[np.full(nr, -inf), -inf], np.r_[np.zeros(nr), float(p)]
        integer = np.r_[np.ones(ns, bool), np.zeros(nr, bool)]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("threads", int(threads))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = M.shape[1], M.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lo, hi
    lp.row_lower_, lp.row_upper_ = rlo, rhi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = M.indptr.astype(np.int32)
    lp.a_matrix_.index_ = M.indices.astype(np.int32)
    lp.a_matrix_.value_ = M.data.astype(float)
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = M.shape[1], M.shape[0]
    lp.integrality_ = [highspy.HighsVarType.kInteger if b else highspy.HighsVarType.kContinuous for b in integer]
    h.passModel(lp)
    t1 = time.perf_counter()
    h.run()
    t2 = time.perf_counter()
    info = h.getInfo()
    x = np.asarray(h.getSolution().col_value)[:ns]
    obj = float(info.objective_function_value)
    return dict(objective=obj if problem == "lscp" else -obj, status=h.modelStatusToString(h.getModelStatus()).lower(),
                sites_chosen=int((x > 0.5).sum()), build_s=t1 - t0, solve_s=t2 - t1, wall_s=t2 - t0,
                variables=M.shape[1], rows=M.shape[0], nonzeros=int(M.nnz), n_sites=ns)


ENGINES = {"planner": solve_planner, "spopt": solve_spopt, "sparse": solve_sparse}


def run_one(coverage: Path, problem: str, engine: str, p: int | None = None, time_limit_s: float = 600.0,
            threads: int = 2, seed: int = 0) -> dict[str, Any]:
    """One solve in this process, with memory figures (MB) and seconds."""
    if engine == "spopt":  # import before the baseline: imports are not the model's memory
        import pulp  # noqa: F401
        import spopt.locate  # noqa: F401
    elif engine == "planner":
        import planner.model  # noqa: F401
    else:
        import highspy  # noqa: F401
        import scipy.sparse  # noqa: F401
    cov = load_coverage(coverage)
    _reset_peak()
    base = _rss_mb()
    kw: dict[str, Any] = dict(seed=seed) if engine == "planner" else {}
    out = ENGINES[engine](cov, problem, p=p, time_limit_s=time_limit_s, threads=threads, **kw)
    peak = _peak_mb()
    out.update(engine=engine, problem=problem, p=p, seed=seed, rss_base_mb=round(base, 1), peak_mb=round(peak, 1),
               model_mb=round(max(peak - base, 0.0), 1), rooms=len(cov["room_ids"]), pairs=len(cov["ri"]))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="One LSCP/MCLP solve on saved coverage data; prints one JSON line.")
    ap.add_argument("coverage", type=Path)
    ap.add_argument("--problem", choices=["lscp", "mclp"], required=True)
    ap.add_argument("--engine", choices=sorted(ENGINES), required=True)
    ap.add_argument("--p", type=int, default=None, help="MCLP: number of sites")
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0, help="planner: SolveOptions.seed")
    ap.add_argument("--json", type=Path, default=None, help="write the result here (else stdout)")
    a = ap.parse_args(argv)
    if a.problem == "mclp" and a.p is None:
        ap.error("--p is required for mclp")
    out = run_one(a.coverage, a.problem, a.engine, a.p, a.time_limit, a.threads, a.seed)
    text = json.dumps(out, default=float)
    if a.json:
        a.json.write_text(text)
    else:
        print(text)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
