"""Progress goes through stdlib logging: library calls are quiet, the CLI shows stage lines."""

import io
import logging

from conftest import corridor_layout

from planner import progress
from planner.cli import main


def _progress_handlers() -> list[logging.Handler]:
    return [h for h in progress.logger.handlers if h.get_name() == progress._HANDLER_NAME]


def test_library_calls_are_quiet_by_default(capsys) -> None:
    with progress.stage("quiet work"):
        progress.log("a line nobody asked for")
    assert list(progress.bar([1, 2, 3], "items")) == [1, 2, 3]
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err == ""
    assert not progress.showing_progress()


def test_enable_progress_shows_stage_lines_with_their_time() -> None:
    buf = io.StringIO()
    progress.enable_progress(buf)
    try:
        assert progress.showing_progress()
        with progress.stage("counting"):
            progress.log("one line")
    finally:
        progress.disable_progress()
    lines = buf.getvalue().splitlines()
    assert lines[0] == "[planner] counting ..."
    assert lines[1] == "one line"
    assert lines[2].startswith("[planner] counting: done in ") and lines[2].endswith(" s")
    assert not _progress_handlers() and not progress.showing_progress()
    # enabling twice keeps one handler (no doubled lines)
    progress.enable_progress(io.StringIO())
    progress.enable_progress(buf)
    try:
        assert len(_progress_handlers()) == 1
    finally:
        progress.disable_progress()


def test_messages_reach_a_caller_configured_logger(caplog) -> None:
    with caplog.at_level(logging.INFO, logger="planner"):
        with progress.stage("routed"):
            pass
    assert [r.name for r in caplog.records] == ["planner", "planner"]
    assert "routed" in caplog.records[0].getMessage()


def test_cli_shows_progress_unless_quiet_and_leaves_the_logger_as_it_was(make_station, capsys, tmp_path,
                                                                          monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the CLI's reach cache goes under the working directory
    monkeypatch.delenv("PLANNER_CACHE_DIR", raising=False)
    rooms, doors, residents = corridor_layout(["storage", "quarters"], residents={"R2": 2})
    folder = make_station(rooms, doors, residents)
    assert main(["validate", str(folder)]) == 0
    assert main(["reach", str(folder)]) == 0
    err = capsys.readouterr().err
    assert "[planner] " in err and ": done in " in err
    assert not _progress_handlers()
    assert main(["--quiet", "reach", str(folder)]) == 0
    assert "[planner]" not in capsys.readouterr().err
    assert list((tmp_path / ".cache" / "reach").glob("*.npz")), "the CLI keeps its reach cache"
