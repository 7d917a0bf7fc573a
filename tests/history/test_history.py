"""Run history in SQLite and in a real PostgreSQL server: trends across runs, regressions against the last good run."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetlab.cli import app
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
    scenario.write_text(text.replace("bake: 8h", "bake: 20h"))      # a slower plan: T95 a day later
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
    assert ("tiny", "t95_never") not in trends.series       # every seed reached T95 in both runs: no such series


def test_sqlite_history_shows_trends_and_flags_the_regression(tmp_path, two_runs):
    store = History(str(tmp_path / "history.sqlite"))
    exercise(store, *two_runs)
    store.close()


def test_a_mean_over_more_seeds_is_not_compared_with_one_seed(tmp_path, two_runs):
    good, worse = two_runs
    more_seeds = worse.model_copy(update={"scenarios": [outcome.model_copy(update={"plans": [
        plan.model_copy(update={"runs": 3}) for plan in outcome.plans]}) for outcome in worse.scenarios]})
    store = History(str(tmp_path / "history.sqlite"))
    store.record(good)
    store.record(more_seeds)
    assert store.trends(more_seeds).regressions == []       # the same numbers over one seed are a regression
    store.close()


def test_a_good_run_of_other_scenarios_does_not_hide_a_regression(tmp_path, two_runs):
    """The last GO run before the worse one measured only another scenario (someone ran one file): each number is
    compared with the last GO run that measured it. Once the subset run was the baseline, and the regression of
    tiny's T95 — nothing to compare it with there — went unflagged."""
    good, worse = two_runs
    other = tmp_path / "other.yaml"
    other.write_text((ROOT / "scenarios" / "tiny.yaml").read_text().replace("name: tiny", "name: other"))
    subset = run_suite([other], executor_spec="serial")
    subset = subset.model_copy(update={"started": "5000-01-01T00:00:00+00:00"})    # between the two
    assert subset.verdict == "GO"
    store = History(str(tmp_path / "history.sqlite"))
    for run in (good, subset, worse):
        store.record(run)
    trends = store.trends(worse)
    assert trends.baseline == subset.run_id
    assert any(line.startswith("tiny · plan · t95:") and f"since run {good.run_id}" in line
               for line in trends.regressions), trends.regressions
    # the run's report plots its own scenarios' trends; `fleetlab history` (no run of its own) every scenario's
    assert {scenario for scenario, _ in trends.series} == {"tiny"}
    assert {scenario for scenario, _ in store.trends().series} == {"tiny", "other"}
    store.close()


def test_a_plan_that_stops_reaching_t95_on_some_seeds_is_a_regression(tmp_path, two_runs):
    """fleet-10k's naive_waves reached T95 on 1 seed of 3, at the 2d 7h the plan reaches on all: the history kept
    the mean over the seeds that reached it, and a plan that stopped reaching T95 on most seeds read as unchanged."""
    good, _ = two_runs

    def over_three_seeds(run, never: int, run_id: str, started: str):
        outcomes = [outcome.model_copy(update={"plans": [plan.model_copy(update={"runs": 3, "metrics": {
            **plan.metrics, "t95": {**plan.metrics["t95"], "missing": never}}}) for plan in outcome.plans]})
            for outcome in run.scenarios]
        return run.model_copy(update={"scenarios": outcomes, "run_id": run_id, "started": started})

    before = over_three_seeds(good, 0, "20261201-000000-aaaaaa", "2026-12-01T00:00:00+00:00")
    after = over_three_seeds(good, 2, "20261202-000000-bbbbbb", "2026-12-02T00:00:00+00:00")
    store = History(str(tmp_path / "history.sqlite"))
    store.record(before)
    store.record(after)
    trends = store.trends(after)
    assert trends.regressions == [f"tiny · plan · t95: not reached on 2 of 3 seeds (was 0) since run {before.run_id}"]
    assert [value for _, value in trends.series[("tiny", "t95_never")]["plan"]] == [0.0, 2.0]
    store.close()
    # `fleetlab history` says out of how many seeds: "2" alone could be 2 of 2 or 2 of 20
    shown = CliRunner().invoke(app, ["history", "--history", str(tmp_path / "history.sqlite")],
                               env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    row = next(line for line in shown.output.splitlines() if "seeds without a T95" in line)
    assert "0 of 3 → 2 of 3" in row, shown.output
    # the same for a script: each point with the seeds it is over
    as_json = CliRunner().invoke(app, ["history", "--history", str(tmp_path / "history.sqlite"), "--json"])
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    assert [run["run_id"] for run in document["runs"]] == [before.run_id, after.run_id]
    never = next(item for item in document["series"] if item["metric"] == "t95_never" and item["subject"] == "plan")
    assert [(point["value"], point["seeds"]) for point in never["points"]] == [(0.0, 3.0), (2.0, 3.0)]


def test_postgresql_history_does_the_same(postgres, two_runs):
    store = History(postgres.url)
    exercise(store, *two_runs)
    store.close()


def test_a_run_is_stored_whole_or_not_at_all(tmp_path, two_runs):
    good, _ = two_runs
    store = History(str(tmp_path / "history.sqlite"))
    store.record(good)
    with pytest.raises(HistoryError):
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
    assert "tiny" in shown.stdout and "T95 (mean where reached)" in shown.stdout and "→" in shown.stdout
    assert "No regression against the last good run" in (tmp_path / "report" / "index.html").read_text()
    misspelt = subprocess.run([sys.executable, "-m", "fleetlab.cli", "history", "--history", str(history),
                               "--scenario", "tinny"], capture_output=True, text=True, cwd=ROOT, timeout=60, env=env)
    assert misspelt.returncode == 2 and "--scenario tinny: not in the last 2 runs" in misspelt.stderr
    assert "recorded: tiny" in misspelt.stderr and "Traceback" not in misspelt.stderr


def test_an_unreachable_postgresql_is_a_clear_error_without_the_password():
    with pytest.raises(HistoryError) as error:
        History("postgresql://fleet:hunter2@127.0.0.1:9/history")
    assert "hunter2" not in str(error.value) and "fleet:***@127.0.0.1:9/history" in str(error.value)
    assert _redacted("postgresql://127.0.0.1/db") == "postgresql://127.0.0.1/db"


def fleetlab_run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fleetlab.cli", "run", str(ROOT / "scenarios" / "tiny.yaml"),
                           "--executor", "serial", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize("damage", ["corrupted", "locked"])
def test_a_broken_history_is_a_warning_and_the_report_and_verdict_stand(tmp_path, damage):
    """(A read-only file cannot be shown here: these tests run as root, who writes anyway.)"""
    database = tmp_path / "history.sqlite"
    holder = None
    if damage == "corrupted":
        database.write_bytes(b"this is not a database" * 100)
    else:                                  # another process is in the middle of a long write
        History(str(database)).close()
        holder = sqlite3.connect(str(database), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
    try:
        done = fleetlab_run("--history", str(database), "--out", str(tmp_path / "report"), cwd=tmp_path)
    finally:
        if holder is not None:
            holder.execute("ROLLBACK")
            holder.close()
    assert done.returncode == 0, done.stdout + done.stderr         # tiny's bounds hold: GO, whatever the history
    assert "Traceback" not in done.stderr and "warning: history not updated: cannot" in done.stderr
    assert str(database) in done.stderr
    report = tmp_path / "report"
    assert (report / "result.json").exists() and "History not updated" in (report / "index.html").read_text()


@pytest.mark.parametrize("location, says", [
    ("mysql://ci:secret@db/fleet", "--history: mysql://ci:***@db/fleet: a history is a SQLite file or a "
                                   "postgresql:// URL"),
    ("{folder}", "--history: {folder}: a folder; name a SQLite file"),
])
def test_a_history_location_no_history_can_have_is_refused_before_the_run(tmp_path, location, says):
    """`--history mysql://…` ran the suite and wrote a SQLite file at './mysql:/…'; a folder ran it and warned after."""
    location, says = location.format(folder=tmp_path), says.format(folder=tmp_path)
    done = fleetlab_run("--history", location, "--out", str(tmp_path / "report"), cwd=tmp_path)
    assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "report").exists() and not (tmp_path / "mysql:").exists()
    shown = subprocess.run([sys.executable, "-m", "fleetlab.cli", "history", "--history", location],
                           capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert shown.returncode == 2 and says.removeprefix("--history: ") in shown.stderr, shown.stderr


FLOOD = """
import sys
sys.path.insert(0, sys.argv[1])
from fleetlab.history import History
from fleetlab.suite_results import SuiteResult
result = SuiteResult.model_validate_json(open(sys.argv[2]).read())
store = History(sys.argv[3])
for number in range(100000):
    store.record(result.model_copy(update={"run_id": f"flood-{number}"}))
    print(number, flush=True)
"""


def test_a_run_killed_mid_write_leaves_the_earlier_runs_readable(tmp_path, two_runs):
    database, saved = tmp_path / "history.sqlite", tmp_path / "run.json"
    store = History(str(database))
    store.record(two_runs[0])
    store.close()
    saved.write_text(two_runs[1].model_dump_json())
    writer = subprocess.Popen([sys.executable, "-c", FLOOD, str(ROOT), str(saved), str(database)],
                              stdout=subprocess.PIPE, text=True)
    for _ in range(20):                # let it write a few runs, then pull the plug mid-write
        writer.stdout.readline()
    writer.kill()
    writer.wait(timeout=30)
    store = History(str(database))
    runs = store.runs(limit=100000)
    store.close()
    assert two_runs[0].run_id in [run for run, _, _ in runs] and len(runs) >= 20


def test_passwords_are_redacted_wherever_they_sit_in_a_url():
    assert _redacted("postgresql://fleet:hunter2@db/history") == "postgresql://fleet:***@db/history"
    assert "hunter2" not in _redacted("cannot reach postgresql://db/history?user=fleet&password=hunter2&x=1 now")
    assert "password=***" in _redacted("postgresql://db/history?password=hunter2")


def test_fleetlab_history_in_an_empty_folder_creates_nothing(tmp_path):
    done = subprocess.run([sys.executable, "-m", "fleetlab.cli", "history"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2 and "no history here yet" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_missing_rigs_file_is_refused_before_anything_runs(tmp_path):
    done = subprocess.run([sys.executable, "-m", "fleetlab.cli", "run", "scenarios", "--mode", "both", "--rigs",
                           "rigs/no-such-lab.yaml", "--history", "", "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2 and "rigs/lab.example.yaml is an example inventory" in done.stderr
    assert not (tmp_path / "r").exists()          # nothing was simulated first
