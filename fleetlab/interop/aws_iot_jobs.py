"""AWS IoT Jobs (also Greengrass v2 deployments): `jobExecutionsRolloutConfig`, `abortConfig`, as CreateJob takes them.

fleetlab's `exponential` plan is this system's pacing, so it maps exactly: notifications per minute from a base rate,
multiplied by `incrementFactor` each time so many more things were notified (or succeeded), capped per minute, and
abort criteria that cancel queued executions while in-flight ones carry on.
Reference: https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html
"""

from __future__ import annotations

from typing import Any

from fleetlab.interop.base import CannotImport, Document, Gaps, Target, percent, require
from sim.model.strategy import StrategyParams

NAME = "aws-iot-jobs"
MAX_PER_MINUTE = 1000                 # the service's ceiling, and its default
FILL_IN = ("jobId", "targets (thing or group ARNs)", "document or documentSource (the job document)")
_FAILURE_TYPES = {"FAILED": "FAILED", "ALL": "ALL"}
_NEVER_SIMULATED = {"TIMED_OUT": "time out", "REJECTED": "reject a job"}     # failure types no simulated device has


def export_plan(plan: StrategyParams, target: Target, gaps: Gaps) -> Document:
    from sim.model.strategies.exponential import ExponentialParams

    if isinstance(plan, ExponentialParams):
        rate_increase = plan.rate_increase
        criteria = ({"numberOfNotifiedThings": rate_increase.notified} if rate_increase.notified is not None
                    else {"numberOfSucceededThings": rate_increase.succeeded})
        rollout: Document = {"maximumPerMinute": plan.maximum_per_minute,
                             "exponentialRate": {"baseRatePerMinute": plan.base_rate_per_minute,
                                                 "incrementFactor": plan.increment_factor,
                                                 "rateIncreaseCriteria": criteria}}
        document: Document = {"jobExecutionsRolloutConfig": rollout}
        if plan.abort:
            document["abortConfig"] = {"criteriaList": [_abort_criterion(rule, index, gaps)
                                                        for index, rule in enumerate(plan.abort)]}
        return document
    if plan.kind == "all_at_once":
        minutes = -(-target.fleet_size // MAX_PER_MINUTE)
        gaps.add(f"all {target.fleet_size:,} devices at once: a job notifies at most {MAX_PER_MINUTE:,} things a "
                 f"minute", f"maximumPerMinute {MAX_PER_MINUTE} ({minutes} min to notify the fleet)")
        return {"jobExecutionsRolloutConfig": {"maximumPerMinute": MAX_PER_MINUTE}}
    gaps.add(f"a {plan.kind} plan: one job has one notification rate and no timed batches, groups or canary "
             "judgement (run one job per wave, or plan with kind: exponential)")
    return {}


def _abort_criterion(rule: Any, index: int, gaps: Gaps) -> Document:
    failure_type = _FAILURE_TYPES.get(rule.failure_type)
    if failure_type is None:
        gaps.add(f"abort[{index}] counts only {rule.failure_type} devices: a job execution reports FAILED, "
                 "REJECTED or TIMED_OUT, not why", "failureType FAILED (a device that rolled back reports FAILED)")
        failure_type = "FAILED"
    return {"failureType": failure_type, "action": "CANCEL", "thresholdPercentage": percent(rule.threshold),
            "minNumberOfExecutedThings": rule.min_executed}


def import_document(document: Document, notes: list[str]) -> dict[str, Any]:
    rollout = require(document, "jobExecutionsRolloutConfig", dict)
    maximum = rollout.get("maximumPerMinute", MAX_PER_MINUTE)
    if not isinstance(maximum, int) or isinstance(maximum, bool) or not 1 <= maximum <= MAX_PER_MINUTE:
        raise CannotImport(f"jobExecutionsRolloutConfig.maximumPerMinute: expected 1 to 1000, got {maximum!r}")
    strategy: dict[str, Any] = {"kind": "exponential", "maximum_per_minute": maximum}
    if "exponentialRate" in rollout:
        where = "jobExecutionsRolloutConfig.exponentialRate"
        rate = require(rollout, "exponentialRate", dict, "jobExecutionsRolloutConfig")
        criteria = require(rate, "rateIncreaseCriteria", dict, where)
        if len(criteria) != 1 or next(iter(criteria)) not in ("numberOfNotifiedThings", "numberOfSucceededThings"):
            raise CannotImport(f"{where}.rateIncreaseCriteria: give exactly one of numberOfNotifiedThings or "
                               "numberOfSucceededThings")
        key = next(iter(criteria))
        count = require(criteria, key, int, f"{where}.rateIncreaseCriteria")
        strategy.update(base_rate_per_minute=require(rate, "baseRatePerMinute", int, where),
                        increment_factor=require(rate, "incrementFactor", (int, float), where),
                        rate_increase={"notified" if key == "numberOfNotifiedThings" else "succeeded": count})
    else:       # a constant rate: the exponential plan whose base is already its cap
        strategy.update(base_rate_per_minute=maximum)
    abort = document.get("abortConfig")
    if abort is not None:
        rules = []
        for index, criterion in enumerate(require(abort, "criteriaList", list, "abortConfig")):
            where = f"abortConfig.criteriaList.{index}"
            failure_type = require(criterion, "failureType", str, where)
            if criterion.get("action", "CANCEL") != "CANCEL":
                raise CannotImport(f"{where}.action: only CANCEL exists, got {criterion.get('action')!r}")
            rule = {"failure_type": failure_type,
                    "threshold": f"{require(criterion, 'thresholdPercentage', (int, float), where):g}%",
                    "min_executed": require(criterion, "minNumberOfExecutedThings", int, where)}
            if failure_type in _NEVER_SIMULATED:
                # the criterion cannot fire in the simulator: leaving it out changes no simulated run, and a real
                # job document (TIMED_OUT beside FAILED is common) imports instead of being refused
                never = _NEVER_SIMULATED[failure_type]
                notes.append(f"{where} ({failure_type}, {rule['threshold']} of at least {rule['min_executed']}) is "
                             f"left out: fleetlab devices fail or roll back, they never {never}, so it could never "
                             "abort a simulated job")
                continue
            if failure_type not in _FAILURE_TYPES:
                raise CannotImport(f"{where}.failureType: expected FAILED, REJECTED, TIMED_OUT or ALL, got "
                                   f"{failure_type!r}")
            rules.append(rule)
        if rules:
            strategy["abort"] = rules
    for ignored in ("timeoutConfig", "jobExecutionsRetryConfig", "schedulingConfig"):
        if ignored in document:
            notes.append(f"{ignored} is not part of the plan fleetlab simulates (device timeouts, retries and "
                         "job schedules are left out)")
    return strategy
