"""fleetlab backtest: a scenario simulated beside a past rollout's records.

The past rollouts here are simulated runs of the library's 10k fleet written as the update systems write their
records (one seed the backtest does not use): of the scenario itself, nothing is off; of the same fleet with a plan
that bakes twice as long, or with uplinks six times slower, the backtest says which measure is off and which way."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetlab.backtest import observe
from fleetlab.past_rollout import _position, read_past_rollout
from sim.load import load_scenario_text
from sim.model.errors import ScenarioError
from sim.model.lifecycle import DeviceState as S
from sim.run import simulate
from tests.conftest import ROOT

FLEET = ROOT / "scenarios" / "fleet-10k-500mb.yaml"
START = datetime(2026, 3, 2, tzinfo=timezone.utc)   # a Monday at 00:00 UTC, where the scenario starts
PAST_SEED = 99          # the past rollout's luck: a seed the backtest (seeds 1 to 4) does not run
ENDED = {S.COMMITTED: "succeeded", S.FAILED: "failed", S.ROLLED_BACK: "failed", S.BRICKED: "failed"}


def fleetlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fleetlab.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def past_rollout(*edits: tuple[str, str]) -> list[tuple[str, str, float | None, float | None]]:
    """(device, outcome, told, finished) per camera of one simulated rollout of the fleet, `edits` made to its file;
    times in seconds since the epoch."""
    text = FLEET.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    told: dict[int, float] = {}
    ended: dict[int, tuple[float, S]] = {}

    def seen(time: float, device: int, old: S, new: S, reason: str) -> None:
        told.setdefault(device, time)
        if new in ENDED:
            ended[device] = (time, new)

    result = simulate(load_scenario_text(text, "past.yaml"), PAST_SEED, on_transition=seen)
    base = START.timestamp()
    rows = []
    for device in range(result.devices):
        time, state = ended.get(device, (None, None))
        outcome = ENDED[state] if state is not None else "unfinished"
        rows.append((f"cam-{device:05d}", outcome, base + told[device] if device in told else None,
                     base + time if time is not None else None))
    return rows


AWS = {"succeeded": "SUCCEEDED", "failed": "FAILED", "unfinished": "IN_PROGRESS"}


def as_aws(rows, iso: bool = False, pages: int = 1) -> str:
    def when(moment):
        return datetime.fromtimestamp(moment, timezone.utc).isoformat() if iso else moment

    summaries = []
    for device, outcome, told, finished in rows:
        summary = {"status": AWS[outcome], "queuedAt": when(told or START.timestamp()), "executionNumber": 1}
        if finished is not None:
            summary["lastUpdatedAt"] = when(finished)
        summaries.append({"thingArn": f"arn:aws:iot:eu-west-1:123456789012:thing/{device}",
                          "jobExecutionSummary": summary})
    size = -(-len(summaries) // pages)
    documents = [{"executionSummaries": summaries[i:i + size]} for i in range(0, len(summaries), size)]
    return json.dumps(documents[0] if pages == 1 else documents, indent=2)


def as_mender(rows) -> str:
    status = {"succeeded": "success", "failed": "failure", "unfinished": "downloading"}
    devices = [{"id": device, "status": status[outcome], "log": False,
                "created": datetime.fromtimestamp(told or START.timestamp(), timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%S.%fZ"),
                **({"finished": datetime.fromtimestamp(finished, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
                   if finished is not None else {})} for device, outcome, told, finished in rows]
    devices.append({"id": "had-it-already", "status": "already-installed", "created": "2026-03-02T00:00:00Z",
                    "finished": "2026-03-02T00:00:00Z"})      # not part of the rollout: left out
    return json.dumps(devices)


def as_csv(rows) -> str:
    sink = io.StringIO()
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow(["device", "status", "finished_at", "told_at"])
    for device, outcome, told, finished in rows:
        writer.writerow([device, outcome, "" if finished is None else repr(finished),
                         "" if told is None else datetime.fromtimestamp(told, timezone.utc).isoformat()])
    return sink.getvalue()


@pytest.fixture(scope="module")
def as_planned():
    return past_rollout()


def backtest(tmp_path, text: str, source: str = "aws-iot-jobs", *more: str) -> subprocess.CompletedProcess:
    records = tmp_path / "records"
    records.write_text(text)
    return fleetlab("backtest", str(FLEET), "--records", str(records), "--from", source, "--start",
                    START.isoformat(), "--seeds", "4", *more)


def rows_of(done: subprocess.CompletedProcess) -> dict[str, dict]:
    return {row["measure"]: row for row in json.loads(done.stdout)["rows"]}


def test_a_rollout_that_went_as_the_scenario_says_is_within_the_spread(as_planned, tmp_path):
    done = backtest(tmp_path, as_aws(as_planned), "aws-iot-jobs", "--json", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(done.stdout)
    assert document["passed"] and document["seeds"] == [1, 2, 3, 4]
    written = json.loads((tmp_path / "out" / "backtest.json").read_text())
    curves = written.pop("curves")           # the file adds the curves compared, sample by sample
    assert document == written
    assert len(curves["past"]) == len(curves["median"]) == len(curves["p5"]) == len(curves["p95"]) > 24
    assert all(low <= middle <= high for low, middle, high in zip(curves["p5"], curves["median"], curves["p95"]))
    assert curves["past"][-1] == pytest.approx(rows_of(done)["coverage_at_end"]["observed"])
    svg = (tmp_path / "out" / "coverage.svg").read_text()
    assert svg.startswith("<svg") and all(text in svg for text in ("past rollout", "simulated median", "4 seeds"))
    assert document["records"]["devices"] == len(as_planned) and document["records"]["start"] == "2026-03-02T00:00:00Z"
    rows = rows_of(done)
    assert set(rows) == {"t50", "t90", "t95", "t99", "failed_share", "coverage_at_end", "coverage_curve"}
    assert not any(row["off"] for row in rows.values()), rows
    assert rows["t95"]["observed"] > 0 and rows["t95"]["p5"] <= rows["t95"]["median"] <= rows["t95"]["p95"]
    said = " ".join(done.stderr.split())
    assert "7 of 7 measures within 10% of the simulated spread" in said
    assert document["warnings"] == ["4 seeds make a narrow spread (p5 and p95 are the extreme seeds): 10 or more "
                                    "judge the past more fairly"] and "warning: 4 seeds make" in said


def test_a_plan_that_baked_twice_as_long_is_off_and_the_simulator_faster(tmp_path):
    done = backtest(tmp_path, as_aws(past_rollout(("  bake: 12h", "  bake: 24h"))), "aws-iot-jobs", "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    rows = rows_of(done)
    assert rows["t50"]["off"] and rows["t50"]["verdict"].startswith("the simulator is faster: its slowest seeds")
    assert rows["t50"]["observed"] > rows["t50"]["p95"] * 1.1
    assert not rows["failed_share"]["off"]        # the same cameras fail, only later
    said = " ".join(done.stderr.split())
    assert "OFF: the simulator is faster" in said and "; off: T50: the simulator is faster" in said


def test_slower_uplinks_that_the_quantiles_hide_part_the_coverage_curves(tmp_path):
    """The plan's waves and install windows set T50-T99 whatever the uplinks: six times slower gym uplinks move
    none of them past the tolerance, and the curve between them shows it."""
    slow = past_rollout(("median: 6Mbit/s, sigma: 0.8", "median: 1Mbit/s, sigma: 0.8"))
    done = backtest(tmp_path, as_aws(slow), "aws-iot-jobs", "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    rows = rows_of(done)
    assert [name for name, row in rows.items() if row["off"]] == ["coverage_curve"], rows
    assert rows["coverage_curve"]["observed"] > 3 * rows["coverage_curve"]["p95"]
    assert rows["coverage_curve"]["verdict"].startswith("the simulator is ahead by ")


def test_every_format_reads_the_same_rollout(as_planned, tmp_path):
    """The API's epoch seconds, CLI v2's RFC 3339 pages, a Mender device list (with a device that had the artifact
    already, left out) and a CSV: one past rollout, the same figures."""
    texts = {"aws.json": ("aws-iot-jobs", as_aws(as_planned)),
             "aws-v2.json": ("aws-iot-jobs", as_aws(as_planned, iso=True, pages=3)),
             "mender.json": ("mender", as_mender(as_planned)), "past.csv": ("csv", as_csv(as_planned))}
    observed = {}
    for name, (source, text) in texts.items():
        (tmp_path / name).write_text(text)
        rollout = read_past_rollout(tmp_path / name, source)
        observed[name] = observe(rollout, START.timestamp())
        assert rollout.count("succeeded") == sum(outcome == "succeeded" for _, outcome, _, _ in as_planned)
    first = observed["aws.json"]
    for name, found in observed.items():
        assert found.devices == first.devices and found.failed_share == first.failed_share, name
        assert found.times == pytest.approx(first.times, abs=1e-3), name       # Mender's microseconds
    assert read_past_rollout(tmp_path / "mender.json", "mender").left_out == {"already-installed": 1}


def test_a_retried_thing_is_where_its_newest_execution_left_it_told_when_its_first_was_queued(tmp_path):
    executions = [("cam-1", 1, "FAILED", 0, 600), ("cam-1", 2, "SUCCEEDED", 3600, 4200), ("cam-2", 1, "REMOVED", 0, 60),
                  ("cam-3", 1, "SUCCEEDED", 1800, 2400)]
    base = START.timestamp()
    (tmp_path / "aws.json").write_text(json.dumps({"executionSummaries": [
        {"thingArn": f"arn:aws:iot:eu-west-1:1:thing/{thing}", "jobExecutionSummary": {
            "status": status, "executionNumber": number, "queuedAt": base + queued, "lastUpdatedAt": base + updated}}
        for thing, number, status, queued, updated in executions]}))
    rollout = read_past_rollout(tmp_path / "aws.json", "aws-iot-jobs")
    assert [(record.device, record.outcome, record.told_at - base, record.finished_at - base)
            for record in rollout.records] == [("cam-1", "succeeded", 0, 4200), ("cam-3", "succeeded", 1800, 2400)]
    assert rollout.left_out == {"REMOVED": 1}


MENDER_BAD_STATUS = """[
  {"id": "cam-1", "status": "success", "created": "2026-03-01T00:00:00Z", "finished": "2026-03-01T05:00:00Z"},
  {"id": "cam-2",
   "status": "sucess", "created": "2026-03-01T00:00:00Z"}
]
"""


@pytest.mark.parametrize("source, text, says", [
    ("mender", MENDER_BAD_STATUS, "records:4:14: [1].status: unknown status 'sucess'; one of success, failure"),
    ("aws-iot-jobs", '{"executionSummaries": [\n {"thingArn": "t/1",\n  "jobExecutionSummary": {"status": '
                     '"SUCCEEDED", "queuedAt": 1}}]}',
     "records:3:26: executionSummaries[0].jobExecutionSummary.lastUpdatedAt: lastUpdatedAt: missing: a device "
     "that succeeded or failed needs the time it finished"),
    ("csv", "device,status,finished_at\ncam-1,succeeded,2026-03-01T05:00:00Z\ncam-2,failed,2026-03-01 05:00\n",
     "records:3:3: finished_at: '2026-03-01 05:00' has no UTC offset"),
    ("csv", "device,state,finished_at\n", "records:1:1: status: the header names no status column"),
    ("mender", '[{"id": "x", "status": "already-installed"}]', "no device of the rollout in the file (left out: "
                                                             "already-installed 1)"),
    ("aws-iot-jobs", '{"executionSummaries": [}', "records:1:25: (top): not JSON: Expecting value"),
    ("mender", '[{"id": "cam-1", "status": "pending"},\n {"id": "cam-1", "status": "pending"}]',
     "records:2:9: [1].id: device 'cam-1' is listed twice (also on line 1)"),
    ("csv", "device,status,finished_at\ncam-1,unfinished,\ncam-1,unfinished,\n",
     "records:3:1: device: device 'cam-1' is listed twice (also on line 2)"),
    ("mender", '{"devices": []}', "records:1:1: (top): expected the deployment's device list"),
])
def test_records_that_cannot_be_read_are_refused_at_their_line_and_key(tmp_path, source, text, says):
    done = backtest(tmp_path, text, source)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert says in " ".join(done.stderr.split()), done.stderr


def test_without_a_start_the_first_device_told_starts_it_and_without_any_it_must_be_given(tmp_path):
    text = "device,status,finished_at,told_at\ncam-1,succeeded,2026-03-01T05:00:00Z,2026-03-01T01:00:00Z\n"
    (tmp_path / "records").write_text(text)
    assert observe(read_past_rollout(tmp_path / "records", "csv")).times["t50"] == 4 * 3600
    (tmp_path / "untold").write_text("device,status,finished_at\ncam-1,succeeded,2026-03-01T05:00:00Z\n")
    done = fleetlab("backtest", str(FLEET), "--records", str(tmp_path / "untold"), "--from", "csv")
    assert done.returncode == 2 and "do not say when any device was told: give --start" in done.stderr, done.stderr
    early = fleetlab("backtest", str(FLEET), "--records", str(tmp_path / "untold"), "--from", "csv", "--start",
                     "2026-03-01T06:00:00")
    assert early.returncode == 2 and "succeeded 1h 0m before the start" in early.stderr, early.stderr


def test_a_past_that_started_at_another_hour_is_warned_of_with_the_keys_that_align_it(tmp_path):
    """The scenario runs from Monday 00:00 UTC; a rollout begun on a Wednesday at 15:00 met its night windows nine
    hours later into its day. The warning names the keys; with them set, it is gone."""
    records = tmp_path / "records"
    records.write_text("device,status,finished_at,told_at\ncam-1,succeeded,2026-03-05T02:30:00Z,"
                       "2026-03-04T15:00:00Z\n")
    done = fleetlab("backtest", str(FLEET), "--records", str(records), "--from", "csv", "--seeds", "1", "--json")
    warnings = json.loads(done.stdout)["warnings"]
    assert ("the past rollout started on a wed at 15:00 UTC and the scenario starts on a mon at 00:00 UTC: its "
            "windows, games and daily patterns fall at other hours of the run; set start_weekday: wed and "
            "start_time: '15:00'") in warnings, warnings
    aligned = tmp_path / "aligned.yaml"
    aligned.write_text(FLEET.read_text().replace("start_weekday: mon\n", "start_weekday: wed\nstart_time: '15:00'\n"))
    done = fleetlab("backtest", str(aligned), "--records", str(records), "--from", "csv", "--seeds", "1", "--json")
    assert not any("started on a" in warning for warning in json.loads(done.stdout)["warnings"]), done.stdout


@pytest.mark.parametrize("indent", [None, 2])
def test_a_json_path_is_found_at_its_line_and_column(indent):
    document = {"a": [1, {"b": "x,]}", "c": [True, {"d": None}]}], "e": {"f": {"g": 2.5}}}
    text = json.dumps(document, indent=indent)
    for path, value in ((["a", 1, "c", 1, "d"], None), (["a", 1, "b"], "x,]}"), (["e", "f", "g"], 2.5),
                        (["a", 0], 1)):
        line, column = _position(text, path)
        offset = sum(len(row) + 1 for row in text.split("\n")[:line - 1]) + column - 1
        assert text[offset:].startswith(json.dumps(value)), (path, text[offset:offset + 10])


ODD = [None, True, 0, -1, 1e308, float("nan"), "", "NaN", "1e999", "2026-13-45T00:00:00Z", "💥", [], {}, "x" * 500]
SMALL = [("cam-1", "succeeded", 1772409600.0, 1772416800.0), ("cam-2", "failed", 1772409600.0, 1772420400.0),
         ("cam-3", "unfinished", 1772413200.0, None)]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(data=st.data())
def test_mutated_records_are_read_or_refused_never_crash(data, tmp_path_factory):
    source = data.draw(st.sampled_from(["aws-iot-jobs", "mender"]))
    document = json.loads(as_aws(SMALL) if source == "aws-iot-jobs" else as_mender(SMALL))
    for _ in range(data.draw(st.integers(1, 3))):
        node, parent, key = document, None, None
        while isinstance(node, (dict, list)) and node and data.draw(st.booleans()):
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            parent, key = node, data.draw(st.sampled_from(keys))
            node = node[key]
        if parent is None:
            document = data.draw(st.sampled_from(ODD))
        elif data.draw(st.booleans()):
            del parent[key]
        else:
            parent[key] = data.draw(st.sampled_from(ODD))
    path = tmp_path_factory.mktemp("mutated") / "records"
    path.write_text(json.dumps(document))
    try:
        rollout = read_past_rollout(path, source)
    except ScenarioError as error:
        assert all(problem.message and problem.file == str(path) for problem in error.problems)
        return
    try:
        observe(rollout, START.timestamp())
    except ValueError as error:          # a time before the start: the command says it, exit 2
        assert "before the start" in str(error)
