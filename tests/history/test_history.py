"""Run history in SQLite and in a real PostgreSQL server: trends across runs, regressions against the last good run."""

import os
import shutil
import subprocess
import tempfile
import sys
from pathlib import Path

import pytest

from fleetlab.history import History, HistoryError, _redacted
from fleetlab.suite import run_suite
from tests.conftest import ROOT
from tests.history.postgres import server_binaries, start_postgres, stop_postgres


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    if server_binaries() is None:
        if os.environ.get("FLEETLAB_REQUIRE_SERVICES"):
            pytest.fail("PostgreSQL is not installed (apt-get install postgresql)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="fleetlab-pg-"))     # pytest's tmp is root-only; postgres must enter
    folder.chmod(0o755)
    try:
        server = start_postgres(folder / "server")
        yield server
        stop_postgres(server)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """A good run, then one whose plan bakes much longer: T95 regresses."""
    folder = tmp_path_factory.mktemp("scenarios")
    scenario = folder / "tiny.yaml"
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    scenario.write_text(text)
    good = run_suite([scenario], executor_spec="serial")
    scenario.write_text(text.replace("bake: 4h", "bake: 20h"))      # a slower plan: T95 a day later
    worse = run_suite([scenario], executor_spec="serial")
    worse = worse.model_copy(update={"started": "9999-01-01T00:00:00+00:00"})     # strictly later
    return good, worse


def exercise(store: History, good, worse) -> None:
    store.record(good)
    store.record(worse)
    trends = store.trends(worse)
    assert trends.baseline == good.run_id
    assert any(line.startswith("tiny · plan · t95:") and f"since run {good.run_id}" in line
               for line in trends.regressions), trends.regressions
    t95 = trends.series[("tiny", "t95")]["plan"]
    assert [run for run, _ in t95] == [good.run_id, worse.run_id] and t95[1][1] > t95[0][1]


def test_sqlite_history_shows_trends_and_flags_the_regression(tmp_path, two_runs):
    store = History(str(tmp_path / "history.sqlite"))
    exercise(store, *two_runs)
    store.close()


def test_postgresql_history_does_the_same(postgres, two_runs):
    store = History(postgres.url)
    exercise(store, *two_runs)
    store.close()


def test_a_run_is_stored_whole_or_not_at_all(tmp_path, two_runs):
    good, _ = two_runs
    store = History(str(tmp_path / "history.sqlite"))
    store.record(good)
    with pytest.raises(Exception):
        store.record(good)               # the same run id twice: refused
    assert len(store.runs()) == 1 and len(store.values(good.run_id)) > 0
    store.close()


def test_fleetlab_run_records_history_and_fleetlab_history_prints_trends(tmp_path):
    history = tmp_path / "h.sqlite"
    env = {**os.environ, "COLUMNS": "200"}
    for _ in range(2):
        done = subprocess.run([sys.executable, "-m", "fleetlab.cli", "run", str(ROOT / "scenarios" / "tiny.yaml"),
                               "--history", str(history), "--out", str(tmp_path / "report"), "--executor", "serial"],
                              capture_output=True, text=True, cwd=ROOT, timeout=300, env=env)
        assert done.returncode == 0, done.stderr
    shown = subprocess.run([sys.executable, "-m", "fleetlab.cli", "history", "--history", str(history)],
                           capture_output=True, text=True, cwd=ROOT, timeout=60, env=env)
    assert shown.returncode == 0 and "last 2 runs: GO GO" in shown.stdout
    assert "tiny" in shown.stdout and "t95" in shown.stdout and "→" in shown.stdout
    assert "No regression against the last good run" in (tmp_path / "report" / "index.html").read_text()


def test_an_unreachable_postgresql_is_a_clear_error_without_the_password():
    with pytest.raises(HistoryError) as error:
        History("postgresql://fleet:hunter2@127.0.0.1:9/history")
    assert "hunter2" not in str(error.value) and "fleet:***@127.0.0.1:9/history" in str(error.value)
    assert _redacted("postgresql://127.0.0.1/db") == "postgresql://127.0.0.1/db"
