"""Issue 18, data loss and leftovers: every output is atomic, never overwrites, and a failed or
interrupted run removes only what it created itself. One regression test per defect."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import corridor_layout, write_station

from planner.cli import main
from planner.errors import OutputError
from planner.files import PARTIAL, remove_stale_partials, staged_folder, write_atomic

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    rooms, doors, res = corridor_layout(["storage", "quarters", "storage", "quarters"],
                                        residents={"R2": 3, "R4": 2, "C": 1})
    return write_station(tmp_path_factory.mktemp("rel") / "tiny", rooms, doors, res)


def _tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) if folder.exists() else []


# ------------------------------------------------------------------ staged folders
def test_failed_run_keeps_the_report_another_run_wrote_into_the_root_it_created(tmp_path):
    root = tmp_path / "new-root"
    with pytest.raises(RuntimeError), staged_folder(root, "first") as first:  # creates `root`
        with staged_folder(root, "second") as second:  # another run finishes meanwhile
            (second.path / "report.txt").write_text("second's report")
        raise RuntimeError("the first run fails")
    assert (root / "second" / "report.txt").read_text() == "second's report"
    assert not first.path.exists() and _tree(root) == ["second", "second/report.txt"]


def test_failed_run_removes_the_empty_root_it_created(tmp_path):
    root = tmp_path / "a" / "b"
    with pytest.raises(RuntimeError), staged_folder(root, "x"):
        raise RuntimeError
    assert not (tmp_path / "a").exists()


def test_dangling_symlink_at_the_report_name_is_neither_followed_nor_replaced(tmp_path):
    root = tmp_path / "reports"
    root.mkdir()
    (root / "rep").symlink_to(tmp_path / "nowhere")
    with staged_folder(root, "rep") as f:
        (f.path / "a.txt").write_text("report")
    assert f.final == root / "rep-2" and (root / "rep-2" / "a.txt").read_text() == "report"
    assert (root / "rep").is_symlink() and not (tmp_path / "nowhere").exists()


def test_stale_partials_of_dead_runs_are_removed_live_ones_kept(tmp_path):
    import fcntl

    root = tmp_path / "r"
    root.mkdir()
    dead = root / f".x{PARTIAL}dead"
    live = root / f".y{PARTIAL}live"
    dead.mkdir()
    live.mkdir()
    (dead / "half.xlsx").write_text("half")
    fd = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a live run holds the lock on its folder
    try:
        assert remove_stale_partials(root) == [dead]
        assert live.exists() and not dead.exists()
    finally:
        os.close(fd)


# ------------------------------------------------------------------ single files
def test_write_atomic_never_overwrites_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "r.xlsx"
    target.write_text("keep")
    with pytest.raises(OutputError, match="exists"):
        write_atomic(target, lambda tmp: tmp.write_text("new"))
    assert target.read_text() == "keep"
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(OutputError, match="exists"):
        write_atomic(tmp_path / "dangling", lambda tmp: tmp.write_text("new"))
    with pytest.raises(OutputError, match="folder"):
        write_atomic(tmp_path, lambda tmp: tmp.write_text("new"))

    def fails(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match="No space"):
        write_atomic(tmp_path / "new.csv", fails)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling", "r.xlsx"]


def test_solve_out_refuses_a_file_and_an_existing_plan(tiny, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("keep")
    assert main(["--quiet", "solve", str(tiny), "--out", str(afile)]) == 5
    assert main(["--quiet", "solve", str(tiny), "--out", str(afile / "sub")]) == 5
    assert afile.read_text() == "keep"
    out = tmp_path / "plans"
    out.mkdir()
    (out / "plan.json").write_text("{}")
    assert main(["--quiet", "solve", str(tiny), "--out", str(out)]) == 5
    assert (out / "plan.json").read_text() == "{}" and _tree(out) == ["plan.json"]
    err = capsys.readouterr().err
    assert "internal error" not in err and "Fix:" in err
    assert main(["--quiet", "solve", str(tiny), "--out", str(tmp_path / "new" / "p")]) == 0
    assert _tree(tmp_path / "new") == ["p", "p/plan.json"]


def test_reach_out_format_from_the_suffix_and_never_overwrites(tiny, tmp_path, capsys):
    xlsx = tmp_path / "r.xlsx"
    xlsx.write_bytes(b"PK workbook")
    assert main(["--quiet", "reach", str(tiny), "--out", str(xlsx)]) == 2  # no table format for .xlsx
    assert xlsx.read_bytes() == b"PK workbook"
    csv = tmp_path / "r.csv"
    csv.write_text("old")
    assert main(["--quiet", "reach", str(tiny), "--out", str(csv)]) == 5
    assert csv.read_text() == "old"
    assert main(["--quiet", "reach", str(tiny), "--out", str(tmp_path)]) == 2  # a folder has no suffix
    err = capsys.readouterr().err
    assert "internal error" not in err
    assert main(["--quiet", "reach", str(tiny), "--out", str(tmp_path / "new.csv")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.csv", "r.csv", "r.xlsx"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_solve_and_reach_into_a_read_only_folder(tiny, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert main(["--quiet", "solve", str(tiny), "--out", str(ro)]) == 5
        assert main(["--quiet", "reach", str(tiny), "--out", str(ro / "r.csv")]) == 5
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


# ------------------------------------------------------------------ signals and processes
_RUNNER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import planner.pipeline, planner.proposal
    from planner.cli import main
    stage, ready = sys.argv[1], Path(sys.argv[2])
    def pause(real):
        def f(*a, **k):
            ready.write_text("ready")
            time.sleep(120)
            return real(*a, **k)
        return f
    if stage == "solve":
        planner.pipeline.plan_station = pause(planner.pipeline.plan_station)
    else:
        planner.proposal.write_outputs = pause(planner.proposal.write_outputs)
    sys.exit(main(["--quiet", "propose", *sys.argv[3:]]))
""")


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.slow
@pytest.mark.parametrize(("stage", "sig"), [("solve", signal.SIGTERM), ("solve", signal.SIGKILL),
                                           ("write", signal.SIGINT), ("write", signal.SIGTERM),
                                           ("write", signal.SIGHUP), ("write", signal.SIGKILL)])
def test_two_proposals_into_one_new_folder_one_interrupted(tiny, tmp_path, stage, sig):
    """Run A starts first (and creates --out), run B finishes, A is interrupted at `stage`: B's
    report is intact, and after the next run no partial folder is left."""
    out = tmp_path / "new-reports"
    ready = tmp_path / "ready"
    args = [str(tiny), "--out", str(out), "--whatif-budgets", "0"]
    a = subprocess.Popen([sys.executable, "-c", _RUNNER, stage, str(ready), *args], env=_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.time()
        while not ready.exists():
            assert a.poll() is None, a.communicate()
            assert time.time() - t0 < 120
            time.sleep(0.1)
        if stage == "write":
            assert [p.name for p in out.iterdir() if PARTIAL in p.name]  # A is writing
        assert main(["--quiet", "propose", *args]) == 0  # B
        (b_report,) = [p for p in out.iterdir() if not p.name.startswith(".")]
        b_files = _tree(b_report)
        assert any(f.endswith(".xlsx") for f in b_files) and "plan.json" in b_files
        a.send_signal(sig)
        _, err = a.communicate(timeout=60)
    finally:
        if a.poll() is None:
            a.kill()
            a.wait()
    assert a.returncode == (-9 if sig == signal.SIGKILL else 128 + sig), err
    if sig != signal.SIGKILL:
        assert "Traceback" not in err and "interrupted" in err
        assert not [p for p in out.iterdir() if PARTIAL in p.name]  # cleaned up at once
    assert _tree(b_report) == b_files and json.loads((b_report / "plan.json").read_text())["safe_rooms"]
    assert main(["--quiet", "propose", *args]) == 0  # the next run removes a dead run's partial folder
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert len([p for p in out.iterdir()]) == 2


_FORKER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from planner.network import _fork_map
    folder = Path(sys.argv[1])
    def work(i):
        (folder / f"worker-{os.getpid()}").write_text(str(i))
        time.sleep(120)
        return i
    _fork_map(work, [0, 1, 2, 3], 2)
""")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return "\nState:\tZ" not in fh.read()
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_reach_workers_die_with_their_parent(tmp_path, sig):
    parent = subprocess.Popen([sys.executable, "-c", _FORKER, str(tmp_path)], env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t0 = time.time()
    while len(list(tmp_path.glob("worker-*"))) < 2:
        assert parent.poll() is None and time.time() - t0 < 60
        time.sleep(0.05)
    pids = [int(p.name.split("-")[1]) for p in tmp_path.glob("worker-*")]
    assert all(_alive(p) for p in pids)
    parent.send_signal(sig)
    parent.wait(timeout=30)
    t0 = time.time()
    while any(_alive(p) for p in pids) and time.time() - t0 < 10:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids)


# ------------------------------------------------------------------ require and the what-if sweep
def test_required_room_no_longer_breaks_the_proposal(tiny, tmp_path):
    """A required room used to make every proposal fail after the solve: the what-if budget grid began
    below its cost and the monotone sweep raised."""
    out = tmp_path / "reports"
    assert main(["--quiet", "propose", str(tiny), "--require", "R4", "--out", str(out), "--whatif-budgets", "4"]) == 0
    (folder,) = out.iterdir()
    plan = json.loads((folder / "plan.json").read_text())
    assert "R4" in {r["room_id"] for r in plan["safe_rooms"]}


def test_budget_grid_starts_at_the_cost_of_what_is_required():
    import pandas as pd

    from planner.sweep import budget_grid, required_cost

    costs = pd.DataFrame({"total_cost": [100.0, 250.0, 900.0, 0.0]}, index=["A", "B", "C", "E"])
    assert required_cost(costs, ["C", "E"]) == 900.0
    grid = budget_grid(costs, 4, full_cover_cost=1500.0, floor=required_cost(costs, ["C", "E"]))
    assert grid[0] == 900.0 and grid[-1] == 1500.0


def test_a_budget_without_a_plan_is_a_row_not_a_failure():
    import pandas as pd

    from planner.sweep import _row, enforce_monotone

    def res(b: float, cost: float, n: int) -> dict:
        plan = {"totals": {"cost": cost, "scenarios": {"night": {"sheltered": n, "share": n / 10}}},
                "safe_rooms": [], "solver": {}}
        return {"budget": b, "plan": plan, "chosen": [], "weighted": float(n), "seconds": 0.0}

    kept = enforce_monotone([100.0, 500.0, 900.0], {1: [res(500.0, 480.0, 4)], 2: [res(900.0, 880.0, 9)]},
                            ["night"], pd.Series(dtype=float))
    assert kept[0]["plan"] is None and "no plan" in kept[0]["error"]
    assert [k["plan"]["totals"]["cost"] for k in kept[1:]] == [480.0, 880.0]
    row = _row(kept[0], ["night"])
    assert "no plan was found at the budget 100" in row["status"]


@pytest.mark.slow
def test_outputs_begun_early_are_the_outputs_drawn_after(tiny, tmp_path, monkeypatch):
    """Issue 21: `propose` begins the briefing and the sector maps in forked workers as soon as the plan is
    made (`EarlyOutputs`); every file is the one `write_outputs` draws in one process afterwards, and a
    failure before the outputs kills the workers and leaves no folder behind."""
    import planner.proposal as prop
    from planner.pipeline import plan_station
    from planner.station import load_station

    station = load_station(tiny)
    run = plan_station(station)
    began: list[list[str]] = []
    real = prop.EarlyOutputs.__init__

    def spy(self, run, folder, name, tasks, workers):
        began.append(list(tasks))
        real(self, run, folder, name, tasks, workers)
    monkeypatch.setattr(prop.EarlyOutputs, "__init__", spy)
    monkeypatch.setattr(prop, "proposal_name", lambda *a: "tiny")     # the workbook's name: no time in it
    monkeypatch.setattr(prop, "output_workers", lambda: 2)
    early = prop.propose(station, out_root=tmp_path / "early", run=run)
    assert early.name == "tiny"
    assert began and began[0][0] == "briefing" and all(t.startswith("sector:") for t in began[0][1:])
    monkeypatch.setattr(prop, "output_workers", lambda: 1)
    late = prop.propose(station, out_root=tmp_path / "late", run=run)
    assert len(began) == 1
    _same_outputs(early, late)
    monkeypatch.setattr(prop, "output_workers", lambda: 2)
    monkeypatch.setattr(prop, "add_target_speed", lambda *a: (_ for _ in ()).throw(RuntimeError("fails")))
    with pytest.raises(RuntimeError):
        prop.propose(station, out_root=tmp_path / "failed", run=run)
    assert len(began) == 2 and not (tmp_path / "failed").exists()


def _same_outputs(early: Path, late: Path) -> None:
    """The proposal folders `early` and `late` hold the same files, byte for byte but for the workbook's and
    the briefing sheet's creation times (the GeoPackage not compared)."""
    import re
    import zipfile

    files = _tree(early)
    assert files == _tree(late) and any(f.startswith("placards-") for f in files) and "map.html" in files
    for f in files:
        a, b = early / f, late / f
        if f.endswith(".xlsx"):      # the workbook's creation time aside
            za, zb = zipfile.ZipFile(a), zipfile.ZipFile(b)
            assert [n for n in za.namelist() if za.read(n) != zb.read(n)] in ([], ["docProps/core.xml"]), f
        elif not f.endswith(".gpkg"):           # the briefing sheet's creation time (matplotlib's) aside
            assert re.sub(rb"/CreationDate \(D:\d+Z\)", b"", a.read_bytes()) == \
                re.sub(rb"/CreationDate \(D:\d+Z\)", b"", b.read_bytes()), f


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_early_outputs_of_a_failed_worker_are_drawn_here_and_a_failure_kills_them_first(tiny, tmp_path, monkeypatch):
    """`EarlyOutputs` (one `network.parallel._Forked` call for the briefing, one for the sector maps): workers
    that die leave their parts to this process, which draws the same files; a failure before the outputs
    kills the workers before the staged folder is removed."""
    import planner.files
    import planner.proposal as prop
    from planner.pipeline import plan_station
    from planner.station import load_station

    station = load_station(tiny)
    run = plan_station(station)
    monkeypatch.setattr(prop, "proposal_name", lambda *a: "tiny")     # the workbook's name: no time in it
    monkeypatch.setattr(prop, "output_workers", lambda: 1)
    late = prop.propose(station, out_root=tmp_path / "late", run=run)
    parent, real = os.getpid(), prop._draw_all
    here: list[list[str]] = []

    def dies(draw, tasks):
        if os.getpid() != parent:
            os._exit(3)
        here.append(list(tasks))
        return real(draw, tasks)
    monkeypatch.setattr(prop, "_draw_all", dies)
    monkeypatch.setattr(prop, "output_workers", lambda: 2)
    early = prop.propose(station, out_root=tmp_path / "early", run=run)
    assert here[0] == ["briefing"] and len(here) == 2 and all(t.startswith("sector:") for t in here[1])
    _same_outputs(early, late)

    pids: list[int] = []
    real_init = prop.EarlyOutputs.__init__

    def spy(self, *args):
        real_init(self, *args)
        pids.extend(p.pid for c in self._calls for p in c.pool._processes.values())
        assert pids and all(_alive(p) for p in pids)
    monkeypatch.setattr(prop.EarlyOutputs, "__init__", spy)
    monkeypatch.setattr(prop, "_draw_all", lambda draw, tasks: time.sleep(60) if os.getpid() != parent else 1 / 0)
    monkeypatch.setattr(prop, "add_target_speed", lambda *a: (_ for _ in ()).throw(RuntimeError("fails")))
    alive: list[list[bool]] = []
    rmtree = planner.files.shutil.rmtree

    def removing(path, *args, **kw):
        if pids:
            alive.append([_alive(p) for p in pids])
        return rmtree(path, *args, **kw)
    monkeypatch.setattr(planner.files.shutil, "rmtree", removing)
    t0 = time.time()
    with pytest.raises(RuntimeError):
        prop.propose(station, out_root=tmp_path / "failed", run=run)
    assert len(pids) == 2 and alive == [[False, False]] and not (tmp_path / "failed").exists()
    assert time.time() - t0 < 30          # the sleeping workers were not waited for
