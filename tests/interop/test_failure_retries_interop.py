"""`delivery.failure_retries` across the update systems: AWS IoT Jobs' retries for FAILED executions and Mender's
deployment `retries` carry it both ways; the systems that retry nothing on their own, and Mender's retries that
fetch the artifact again, are said on export."""

from __future__ import annotations

import json

from fleetlab.interop.targets import export_plan, import_document, retry_mismatch
from sim.load import load_scenario_text
from tests.conftest import TINY_PLAN
from tests.interop.test_export_import import START, TINY, validate

EXPONENTIAL = TINY.replace(
    TINY_PLAN + "\n",
    "strategy: {kind: exponential, base_rate_per_minute: 5}\n")


def with_delivery(text: str, delivery: str):
    assert "artifact:" in text
    return load_scenario_text(text.replace("artifact:", f"delivery: {delivery}\nartifact:", 1))


def test_aws_writes_failed_retries_beside_the_timeouts_and_reads_failed_and_all_back():
    both = with_delivery(EXPONENTIAL, "{in_progress_timeout: 12h, timeout_retries: 2, failure_retries: 3}")
    document = export_plan(both, "plan", both.strategy, "aws-iot-jobs", START, approximate=False).document
    assert document["jobExecutionsRetryConfig"] == {"criteriaList": [
        {"failureType": "TIMED_OUT", "numberOfRetries": 2}, {"failureType": "FAILED", "numberOfRetries": 3}]}
    validate("aws-iot-jobs", document)
    notes = import_document(json.dumps(document), "aws-iot-jobs").notes
    assert "jobExecutionsRetryConfig.criteriaList.1 is the scenario's delivery: {failure_retries: 3}" in notes, notes
    failed_only = with_delivery(EXPONENTIAL, "{failure_retries: 1}")       # no timeout: the retries alone
    document = export_plan(failed_only, "plan", failed_only.strategy, "aws-iot-jobs", START, approximate=False).document
    assert "timeoutConfig" not in document
    assert document["jobExecutionsRetryConfig"] == {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]}
    document["jobExecutionsRetryConfig"]["criteriaList"] = [{"failureType": "ALL", "numberOfRetries": 4}]
    notes = import_document(json.dumps(document), "aws-iot-jobs").notes
    assert ("jobExecutionsRetryConfig.criteriaList.0 is the scenario's delivery: {timeout_retries: 4, "
            "failure_retries: 4} (with the timeout)") in notes, notes
    document["jobExecutionsRetryConfig"]["criteriaList"] = [{"failureType": "REJECTED", "numberOfRetries": 4}]
    notes = import_document(json.dumps(document), "aws-iot-jobs").notes
    assert any("criteriaList.0 (REJECTED, 4 retries) is left out: expected failureType FAILED, TIMED_OUT or ALL "
               "with 0 to 10 retries" in note for note in notes), notes
    assert retry_mismatch(failed_only, "aws-iot-jobs") is None


def test_mender_writes_retries_and_says_each_fetches_the_artifact_again_and_reads_them_back():
    phases = with_delivery(TINY, "{failure_retries: 2}")
    document = export_plan(phases, "plan", phases.strategy, "mender", START, approximate=True).document
    assert document["retries"] == 2
    validate("mender", document)
    notes = import_document(json.dumps(document), "mender").notes
    assert "retries is the scenario's delivery: {failure_retries: 2} (not part of the plan)" in notes, notes
    said = retry_mismatch(phases, "mender")
    assert said is not None and "mender's agent fetches the artifact again for each retry: simulate with " \
        "delivery.retry_fetches_again: true" in said, said
    assert retry_mismatch(with_delivery(TINY, "{failure_retries: 2, retry_fetches_again: true}"), "mender") is None
    document["retries"] = 25
    notes = import_document(json.dumps(document), "mender").notes
    assert "retries: 25 is left out: fleetlab simulates 0 to 10 retries of a failed update " \
           "(delivery.failure_retries)" in notes, notes
    none = load_scenario_text(TINY)
    assert "retries" not in export_plan(none, "plan", none.strategy, "mender", START, approximate=True).document
    assert retry_mismatch(none, "mender") is None


def test_a_system_that_retries_nothing_on_its_own_is_said_to_leave_those_cameras_failed():
    phases = with_delivery(TINY, "{failure_retries: 2}")
    for target in ("hawkbit", "azure-adu"):
        said = retry_mismatch(phases, target)
        assert said is not None and f"{target} does not start a failed device's update again on its own" in said
