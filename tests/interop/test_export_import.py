"""Export to the update systems teams run and import their policies: each document validates against a schema
written from the system's API reference (tests/interop/schemas, sources named inside), a round trip gives the same
release sequence in the simulator, and AWS's documented exponential example notifies 10,000 devices in 43.75 min."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest
from pydantic import TypeAdapter

from fleetlab.interop.base import CannotExport, CannotImport
from fleetlab.interop.targets import (
    TARGETS,
    default_start,
    defer_mismatch,
    export_plan,
    failure_handling_mismatch,
    import_document,
    link_mismatch,
    poll_mismatch,
    staging_mismatch,
    start_mismatch,
    switch_mismatch,
    timeout_mismatch,
)
from sim.load import load_scenario, load_scenario_text
from sim.model.scenario import StrategySpec
from sim.run import simulate
from tests.conftest import ROOT, TINY_PLAN

SCHEMAS = Path(__file__).parent / "schemas"
START = datetime(2027, 1, 4, tzinfo=timezone.utc)
TINY = (ROOT / "scenarios" / "tiny.yaml").read_text()

# a plan each system expresses exactly, written as a scenario would
NATIVE = {
    "aws-iot-jobs": {"kind": "exponential", "base_rate_per_minute": 5, "increment_factor": 2,
                     "rate_increase": {"notified": 10}, "maximum_per_minute": 20,
                     "abort": [{"failure_type": "FAILED", "threshold": "10%", "min_executed": 5}]},
    "hawkbit": {"kind": "groups", "groups": [{"cohort": {"hardware": "nano"}, "share": "50%"},
                                             {"cohort": {"site_kind": "gym"}, "share": "100%"}, {"share": "100%"}],
                "success_threshold": "80%", "error_threshold": "20%"},
    "mender": {"kind": "phases", "phases": [{"batch": "5%", "start": "0s"}, {"batch": "15%", "start": "2d"},
                                            {"start": "4d"}]},
    "azure-adu": {"kind": "groups", "groups": 3, "rollback_policy": {"failed_share": "10%", "failed_count": 2}},
}


def plan(spec: dict):
    return TypeAdapter(StrategySpec).validate_python(spec)


def scenario_with(spec: dict, text: str = TINY):
    scenario = load_scenario_text(text)
    return scenario.model_copy(update={"strategy": plan(spec)})


def exported(target: str, spec: dict, approximate: bool = False):
    return export_plan(scenario_with(spec), "plan", plan(spec), target, START, approximate)


def validate(target: str, document: dict) -> None:
    schema = json.loads((SCHEMAS / f"{target}.schema.json").read_text())
    jsonschema.validate(document, schema, format_checker=jsonschema.FormatChecker())


def updates(scenario) -> list[tuple[float, str, int]]:
    return [(event.time, event.detail, event.devices) for event in simulate(scenario).timeline
            if event.kind == "update"]


@pytest.mark.parametrize("target", list(TARGETS))
def test_a_native_plan_exports_to_a_document_its_schema_accepts(target):
    document = exported(target, NATIVE[target], approximate=target == "azure-adu").document
    validate(target, document)
    assert "exported by fleetlab from scenario 'tiny'" in document["description"]


@pytest.mark.parametrize("target", list(TARGETS))
def test_export_then_import_releases_the_same_devices_at_the_same_times(target):
    original = NATIVE[target]
    document = exported(target, original, approximate=target == "azure-adu").document
    imported = import_document(json.dumps(document), target)
    assert plan(imported.strategy) == plan(original)
    assert updates(scenario_with(imported.strategy)) == updates(scenario_with(original))


def test_aws_documented_example_imported_notifies_10000_devices_in_43_75_minutes():
    # the AWS IoT Jobs developer guide's exponential rollout: base 50/min, x2 every 1,000 notified, cap 1,000/min
    document = {"jobExecutionsRolloutConfig": {"maximumPerMinute": 1000, "exponentialRate": {
        "baseRatePerMinute": 50, "incrementFactor": 2, "rateIncreaseCriteria": {"numberOfNotifiedThings": 1000}}}}
    validate("aws-iot-jobs", document)
    strategy = import_document(json.dumps(document), "aws-iot-jobs").strategy
    ten_thousand = TINY.replace("count: 10\n      cameras_per_site: 3", "count: 10000\n      cameras_per_site: 1")
    ten_thousand = ten_thousand[:ten_thousand.index("    stadium:")] + ten_thousand[ten_thousand.index("  hardware:"):]
    scenario = scenario_with(strategy, ten_thousand.replace("duration: 3d", "duration: 2h"))
    assert scenario.fleet.size == 10_000
    timeline = updates(scenario)
    assert sum(devices for _, _, devices in timeline) == 10_000
    assert timeline[-1][0] / 60 == pytest.approx(43.75, abs=1 / 60)


def test_what_a_target_cannot_express_is_refused_with_every_gap_listed():
    canary = {"kind": "canary"}
    with pytest.raises(CannotExport) as refused:
        exported("aws-iot-jobs", canary, approximate=True)
    assert "a canary plan" in str(refused.value) and "no approximation" in str(refused.value)
    waves = {"kind": "waves", "waves": ["10%", "100%"], "bake": "4h",
             "abort": {"threshold": "20%", "min_executed": 5}}
    with pytest.raises(CannotExport, match="Mender aborts a deployment only by hand"):
        exported("mender", waves)


def test_approximate_writes_what_was_approximated_into_the_description():
    waves = {"kind": "waves", "waves": ["10%", "100%"], "bake": "4h",
             "abort": {"threshold": "20%", "min_executed": 5}}
    result = exported("mender", waves, approximate=True)
    validate("mender", result.document)
    assert result.approximations == ["the abort rule (20% of at least 5 failed): Mender aborts a deployment only "
                                     "by hand: left out (the operator aborts)"]
    assert "approximated: the abort rule" in result.document["description"]
    assert [phase.get("batch_size") for phase in result.document["phases"]] == [10, None]
    assert [phase["start_ts"] for phase in result.document["phases"]] == ["2027-01-04T00:00:00Z",
                                                                          "2027-01-04T04:00:00Z"]


def test_hawkbit_rollback_policy_is_approximated_as_a_pause_at_the_lower_share():
    spec = {"kind": "groups", "groups": 2, "error_threshold": "50%",
            "rollback_policy": {"failed_share": "10%", "failed_count": 3}}
    document = exported("hawkbit", spec, approximate=True).document
    validate("hawkbit", document)
    assert document["errorCondition"] == {"condition": "THRESHOLD", "expression": "10"}


def test_an_aws_abort_criterion_fleetlab_does_not_count_apart_is_left_out_with_a_note():
    """A job aborting on FAILED or on TIMED_OUT (a common pair) was refused whole; a REJECTED criterion can never
    fire in the simulator, and a timed-out camera is FAILED there (counted by FAILED and ALL, by nothing alone), so
    the import leaves both out and says so; the timeout itself is the scenario's delivery."""
    criteria = [{"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 10,
                 "minNumberOfExecutedThings": 100},
                {"failureType": "TIMED_OUT", "action": "CANCEL", "thresholdPercentage": 20,
                 "minNumberOfExecutedThings": 50},
                {"failureType": "REJECTED", "action": "CANCEL", "thresholdPercentage": 5,
                 "minNumberOfExecutedThings": 10}]
    document = {"jobExecutionsRolloutConfig": {"maximumPerMinute": 100}, "abortConfig": {"criteriaList": criteria},
                "timeoutConfig": {"inProgressTimeoutInMinutes": 100}}
    validate("aws-iot-jobs", document)
    imported = import_document(json.dumps(document), "aws-iot-jobs")
    assert imported.strategy["abort"] == [{"failure_type": "FAILED", "threshold": "10%", "min_executed": 100}]
    assert any("criteriaList.1 (TIMED_OUT, 20% of at least 50) is left out" in note and "is FAILED in fleetlab" in note
               for note in imported.notes), imported.notes
    assert "timeoutConfig is the scenario's delivery: {in_progress_timeout: 100m} (not part of the plan)" in \
        imported.notes
    assert any("criteriaList.2 (REJECTED" in note for note in imported.notes)
    only_timeouts = {**document, "abortConfig": {"criteriaList": criteria[1:2]}}
    assert "abort" not in import_document(json.dumps(only_timeouts), "aws-iot-jobs").strategy


@pytest.mark.parametrize("target, document, says", [
    ("aws-iot-jobs", {}, "jobExecutionsRolloutConfig: missing"),
    ("aws-iot-jobs", {"jobExecutionsRolloutConfig": {"maximumPerMinute": 5000}}, "expected 1 to 1000"),
    ("aws-iot-jobs", {"jobExecutionsRolloutConfig": {}, "abortConfig": {"criteriaList": [
        {"failureType": "LATE", "action": "CANCEL", "thresholdPercentage": 5,
         "minNumberOfExecutedThings": 1}]}}, "abortConfig.criteriaList.0.failureType: expected FAILED, REJECTED"),
    ("hawkbit", {"groups": [{"targetFilterQuery": "attribute.colour==red"}]}, "groups.0.targetFilterQuery"),
    ("hawkbit", {"amountGroups": "four"}, "amountGroups: expected int"),
    ("hawkbit", {"groups": [{"targetPercentage": 50}, None]}, "groups.1: expected an object"),   # once AttributeError
    ("mender", {"phases": [{"batch_size": 0}, {}]}, "phases.0.batch_size: expected 1 to 100"),
    ("mender", {"phases": [{"start_ts": "tomorrow"}]}, "phases.0.start_ts: 'tomorrow' is not a time: write it as"),
    ("mender", {"phases": [0, {}]}, "phases.0: expected an object"),                     # once a TypeError
    ("mender", {"phases": [{"start_ts": "2027-01-04T02:00:00Z", "batch_size": 10},     # once a TypeError: naive
                           {"start_ts": "2027-01-05T02:00:00"}]}, "phases.1.start_ts: '2027-01-05T02:00:00' has no"),
    ("azure-adu", {"deployments": [{"groupId": "a", "rollbackPolicy": {"failure": {
        "devicesFailedPercentage": 5, "devicesFailedCount": 1}}}, {"groupId": "b"}]}, "different rollback policies"),
])
def test_an_import_names_the_key_it_cannot_use(target, document, says):
    with pytest.raises(CannotImport, match=says.replace(".", r"\.")):
        import_document(json.dumps(document), target)


def test_a_file_that_is_not_json_is_refused_with_its_line():
    with pytest.raises(CannotImport, match="line 2, column 1: not JSON"):
        import_document('{"a": 1,\n}', "hawkbit")


def test_the_default_start_is_the_scenarios_next_weekday_at_midnight_utc():
    scenario = load_scenario_text(TINY)       # start_weekday mon
    assert default_start(scenario, datetime(2026, 12, 3, 15, 0, tzinfo=timezone.utc)) == datetime(
        2026, 12, 7, tzinfo=timezone.utc)
    assert default_start(scenario, datetime(2026, 12, 7, 0, 1, tzinfo=timezone.utc)).day == 14


def test_a_document_nested_beyond_reason_is_refused_not_a_recursion_error():
    with pytest.raises(CannotImport, match="nested too deeply"):
        import_document("[" * 100_000 + "]" * 100_000, "mender")


def test_a_mender_import_writes_its_phase_starts_as_people_write_them():
    """A phase two days in was printed as `start: 172800s`."""
    document = {"name": "model-2.1", "artifact_name": "model-2.1", "devices": [],
                "phases": [{"batch_size": 5, "start_ts": "2027-01-04T02:00:00Z"},
                           {"batch_size": 15, "start_ts": "2027-01-06T02:00:00Z"},
                           {"start_ts": "2027-01-06T03:30:00Z"}]}
    validate("mender", document)
    phases = import_document(json.dumps(document), "mender").strategy["phases"]
    assert [phase["start"] for phase in phases] == ["0s", "2d", "2d 1h 30m"]


def test_a_start_other_than_the_simulated_one_is_noted_with_what_to_simulate():
    """`--start` on another weekday kept the plan's offsets, so the games and install windows the simulation showed
    met the rollout at other points, and nothing said so (tiny simulates from a Monday, 00:00 UTC)."""
    tiny = load_scenario(ROOT / "scenarios" / "tiny.yaml")
    monday = datetime(2027, 1, 4, tzinfo=timezone.utc)
    assert start_mismatch(tiny, monday) is None
    assert start_mismatch(tiny, monday.astimezone(timezone(timedelta(hours=5)))) is None   # the same moment
    assert "simulate with start_weekday: tue to see this start" in start_mismatch(tiny, monday + timedelta(days=1))
    later = start_mismatch(tiny, monday + timedelta(hours=2))
    assert "on a mon at 00:00 UTC (start_weekday, start_time)" in later
    assert "simulate with start_weekday: mon and start_time: '02:00' to see this start" in later
    afternoon = tiny.model_copy(update={"start_time": 15 * 3600.0})      # a scenario that starts at 15:00 UTC
    assert start_mismatch(afternoon, monday + timedelta(hours=15)) is None
    assert default_start(afternoon, monday) == monday + timedelta(days=7, hours=15)


def test_an_export_to_mender_notes_its_24_hour_links_when_the_scenario_simulated_longer_ones():
    """Mender's download links expire after 24 h; a scenario that simulated links that never expire did not show
    the downloads that take longer failing there."""
    tiny = load_scenario(ROOT / "scenarios" / "tiny.yaml")
    assert tiny.delivery.link_expiry is None
    said = link_mismatch(tiny, "mender")
    assert said is not None and "links that never expire" in said and "delivery.link_expiry: 1d" in said
    day = tiny.model_copy(update={"delivery": tiny.delivery.model_copy(update={"link_expiry": 86400.0})})
    assert link_mismatch(day, "mender") is None
    assert link_mismatch(tiny, "hawkbit") is None
    done = subprocess.run([sys.executable, "-m", "fleetlab.cli", "export", str(ROOT / "scenarios" / "tiny.yaml"),
                           "--to", "mender", "--approximate"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and "note: mender's download links expire 1d after" in done.stderr, done.stderr


def test_an_export_to_mender_notes_how_often_its_agents_ask_when_the_scenario_simulated_another_pace():
    """Mender's agents poll every 30 minutes by default: a scenario that told cameras at once did not show releases,
    halts and rollbacks waiting for check-ins; one that simulated another pace says what to set on the agents."""
    tiny = load_scenario(ROOT / "scenarios" / "tiny.yaml")
    assert tiny.fleet.poll_interval is None
    said = poll_mismatch(tiny, "mender")
    assert said is not None and "told at once" in said and "fleet.poll_interval: 30m" in said, said

    def polling(seconds: float):
        return tiny.model_copy(update={"fleet": tiny.fleet.model_copy(update={"poll_interval": seconds})})
    assert poll_mismatch(polling(1800.0), "mender") is None
    every_two_hours = poll_mismatch(polling(7200.0), "mender")
    assert every_two_hours is not None and "set UpdatePollIntervalSeconds in the agents' mender.conf to 7200" in \
        every_two_hours
    assert poll_mismatch(tiny, "hawkbit") is None and poll_mismatch(tiny, "aws-iot-jobs") is None
    done = subprocess.run([sys.executable, "-m", "fleetlab.cli", "export", str(ROOT / "scenarios" / "tiny.yaml"),
                           "--to", "mender", "--approximate"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and "note: mender's agents ask for deployments every 30m" in done.stderr, done.stderr


def test_an_export_to_mender_notes_its_agents_retry_window_when_the_fleet_has_games():
    """Mender's agents give a state script's 'retry later' 30 minutes by default: a scenario with games that let
    cameras wait out any game did not show the ones a game holds longer failing; one that simulated another limit
    says what to set; a fleet without games, or another target, says nothing."""
    late = load_scenario(ROOT / "scenarios" / "late-games-retry-later.yaml")
    assert late.delivery.defer_limit == 1800.0 and defer_mismatch(late, "mender") is None

    def deferring(limit: float | None, scenario=late):
        return scenario.model_copy(update={"delivery": scenario.delivery.model_copy(update={"defer_limit": limit})})
    said = defer_mismatch(deferring(None), "mender")
    assert said is not None and "wait out any game" in said and "delivery.defer_limit: 30m" in said, said
    longer = defer_mismatch(deferring(5400.0), "mender")
    assert longer is not None and "set StateScriptRetryTimeoutSeconds in the agents' mender.conf to 5400" in longer
    assert defer_mismatch(deferring(None), "hawkbit") is None
    without_games = load_scenario(ROOT / "scenarios" / "job-timeout-windows.yaml")
    assert defer_mismatch(without_games, "mender") is None
    done = subprocess.run([sys.executable, "-m", "fleetlab.cli", "export", str(ROOT / "scenarios" / "tiny.yaml"),
                           "--to", "mender", "--approximate"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and "note: mender's agents give up a state script's 'retry later' after 30m" in \
        done.stderr, done.stderr


def test_an_export_notes_when_the_scenario_simulated_cameras_that_stop_their_model_otherwise_than_the_target(
        tmp_path):
    """The four targets' devices stop the model for the switch (download_then_kill): a scenario that simulated
    kill_then_download or hand_over showed other hours without a model than those devices will have."""
    tiny = load_scenario(ROOT / "scenarios" / "tiny.yaml")
    assert all(switch_mismatch(tiny, target) is None for target in ("mender", "hawkbit", "azure-adu", "aws-iot-jobs"))
    text = (ROOT / "scenarios" / "tiny.yaml").read_text().replace(
        "artifact:", "delivery: {update_strategy: kill_then_download}\nartifact:", 1)
    killed = load_scenario_text(text)
    for target in ("mender", "hawkbit", "azure-adu", "aws-iot-jobs"):
        said = switch_mismatch(killed, target)
        assert said is not None and "simulated delivery.update_strategy: kill_then_download" in said, said
        assert "simulate with download_then_kill" in said, said
    scenario_file = tmp_path / "killed.yaml"
    scenario_file.write_text(text)
    done = subprocess.run([sys.executable, "-m", "fleetlab.cli", "export", str(scenario_file), "--to", "mender",
                           "--approximate"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and "mender installs into the inactive partition" in done.stderr, done.stderr


def test_an_export_of_a_staged_scenario_says_how_to_stage_there():
    """hawkBit stages with a download-only rollout created first; the other targets have none."""
    tiny = load_scenario(ROOT / "scenarios" / "tiny.yaml")
    assert staging_mismatch(tiny, "hawkbit") is None
    staged = tiny.model_copy(update={"delivery": tiny.delivery.model_copy(update={"stage_ahead": True})})
    said = staging_mismatch(staged, "hawkbit")
    assert said is not None and "create a rollout of type downloadonly" in said, said
    said = staging_mismatch(staged, "mender")
    assert said is not None and "mender has no download-only deployment" in said, said


def test_an_export_to_mender_notes_cameras_simulated_on_a_failing_candidate():
    """Mender rolls a device back on its own when the new system fails to commit: a scenario that left cameras on a
    failing candidate (do_nothing) showed what will not happen there."""
    tiny = load_scenario(ROOT / "scenarios" / "tiny.yaml")
    assert failure_handling_mismatch(tiny, "mender") is None
    left = tiny.model_copy(update={"delivery": tiny.delivery.model_copy(update={"failure_handling": "do_nothing"})})
    said = failure_handling_mismatch(left, "mender")
    assert said is not None and "mender rolls a device back on its own" in said, said
    assert failure_handling_mismatch(left, "aws-iot-jobs") is None


def test_an_aws_export_carries_the_in_progress_timeout_and_its_retries_and_an_import_says_where_they_go(tmp_path):
    """delivery.in_progress_timeout is the job's timeoutConfig, timeout_retries its TIMED_OUT retries; a timeout the
    service cannot take (not whole minutes, over 7 days) is a gap; other systems have no timeout, and the export
    says the simulated failures would not happen there."""
    text = (ROOT / "scenarios" / "tiny.yaml").read_text().replace(
        TINY_PLAN + "\n",
        "strategy: {kind: exponential, base_rate_per_minute: 5}\n")
    timed = load_scenario_text(text.replace("artifact:", "delivery: {in_progress_timeout: 12h, timeout_retries: 2}"
                                                         "\nartifact:", 1))
    start = datetime(2027, 1, 4, tzinfo=timezone.utc)
    document = export_plan(timed, "plan", timed.strategy, "aws-iot-jobs", start, approximate=False).document
    assert document["timeoutConfig"] == {"inProgressTimeoutInMinutes": 720}
    assert document["jobExecutionsRetryConfig"] == {"criteriaList": [{"failureType": "TIMED_OUT",
                                                                      "numberOfRetries": 2}]}
    validate("aws-iot-jobs", document)
    back = import_document(json.dumps(document), "aws-iot-jobs")
    assert "timeoutConfig is the scenario's delivery: {in_progress_timeout: 720m} (not part of the plan)" in back.notes
    assert any("is the scenario's delivery: {timeout_retries: 2}" in note for note in back.notes), back.notes
    odd = load_scenario_text(text.replace("artifact:", "delivery: {in_progress_timeout: 90s}\nartifact:", 1))
    with pytest.raises(CannotExport, match="whole minutes"):
        export_plan(odd, "plan", odd.strategy, "aws-iot-jobs", start, approximate=False)
    approximated = export_plan(odd, "plan", odd.strategy, "aws-iot-jobs", start, approximate=True)
    assert approximated.document["timeoutConfig"] == {"inProgressTimeoutInMinutes": 2}
    assert timeout_mismatch(timed, "aws-iot-jobs") is None
    said = timeout_mismatch(timed, "mender")
    assert said is not None and "mender has no such timeout" in said
    assert timeout_mismatch(load_scenario_text(text), "mender") is None


def test_an_exponential_plans_windows_are_the_jobs_maintenance_windows_both_ways():
    """Daily UTC windows export as cron starts every day and whole minutes, and import back exactly; a window on
    some weekdays only cannot be a daily window and is refused, not read as every day."""
    params = plan({"kind": "exponential", "base_rate_per_minute": 50, "windows": [
        {"start": "02:00", "duration": "4h"}, {"start": "23:30", "duration": "1h"}]})
    tiny = load_scenario(ROOT / "scenarios" / "tiny.yaml")
    start = datetime(2027, 1, 4, tzinfo=timezone.utc)
    document = export_plan(tiny, "plan", params, "aws-iot-jobs", start, approximate=False).document
    assert document["schedulingConfig"] == {"maintenanceWindows": [
        {"startTime": "cron(0 2 * * ? *)", "durationInMinutes": 240},
        {"startTime": "cron(30 23 * * ? *)", "durationInMinutes": 60}]}
    validate("aws-iot-jobs", document)
    back = import_document(json.dumps(document), "aws-iot-jobs")
    assert back.strategy["windows"] == [{"start": "02:00", "duration": "240m"}, {"start": "23:30", "duration": "60m"}]
    assert plan(back.strategy).windows == params.windows
    weekdays = {**document, "schedulingConfig": {"maintenanceWindows": [
        {"startTime": "cron(0 2 ? * MON-FRI *)", "durationInMinutes": 60}]}}
    with pytest.raises(CannotImport, match="fleetlab windows are daily in UTC"):
        import_document(json.dumps(weekdays), "aws-iot-jobs")
    not_a_list = {**document, "schedulingConfig": {"maintenanceWindows": "cron(0 2 * * ? *)"}}
    with pytest.raises(CannotImport, match="schedulingConfig.maintenanceWindows: expected list"):
        import_document(json.dumps(not_a_list), "aws-iot-jobs")
    too_long = plan({"kind": "exponential", "windows": [{"start": "02:00", "duration": "24h"}]})
    with pytest.raises(CannotExport, match="at most 1,430"):
        export_plan(tiny, "plan", too_long, "aws-iot-jobs", start, approximate=False)
