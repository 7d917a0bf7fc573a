"""AWS IoT Jobs (also Greengrass v2 deployments): `jobExecutionsRolloutConfig`, `abortConfig`, as CreateJob takes them.

fleetlab's `exponential` plan is this system's pacing, so it maps exactly: notifications per minute from a base rate,
multiplied by `incrementFactor` each time so many more things were notified (or succeeded), capped per minute, and
abort criteria that cancel queued executions while in-flight ones carry on.
Reference: https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html
"""

from __future__ import annotations

import math
import re
from typing import Any

from fleetlab.interop.base import CannotImport, Document, Gaps, Target, percent, require
from sim.model.scenario import MOST_RETRIES
from sim.model.strategy import StrategyParams
from sim.model.units import format_clock

NAME = "aws-iot-jobs"
MAX_PER_MINUTE = 1000                 # the service's ceiling, and its default
MAX_TIMEOUT_MINUTES = 7 * 24 * 60     # the longest in-progress timeout a job takes
MAX_WINDOW_MINUTES = 1430             # the longest maintenance window
# a daily cron start: cron(MINUTE HOUR * * ? *) or cron(MINUTE HOUR ? * * *), in UTC
DAILY_CRON = re.compile(r"cron\(\s*(\d{1,2})\s+(\d{1,2})\s+(?:\*\s+\*\s+\?|\?\s+\*\s+\*)\s+\*\s*\)")
FILL_IN = ("jobId", "targets (thing or group ARNs)", "document or documentSource (the job document)")
# a retry criterion's failure type, as the scenario's delivery keys that retry it
_RETRY_KEYS = {"TIMED_OUT": ("timeout_retries",), "FAILED": ("failure_retries",),
               "ALL": ("timeout_retries", "failure_retries")}
_FAILURE_TYPES = {"FAILED": "FAILED", "ALL": "ALL"}
# failure types fleetlab does not count apart: why a criterion on one is left out of the imported plan
_LEFT_OUT = {"TIMED_OUT": "a camera that timed out (delivery.in_progress_timeout) is FAILED in fleetlab, its reason "
                          "'timed out': a FAILED or ALL criterion counts it, none counts it alone",
             "REJECTED": "fleetlab devices fail or roll back, they never reject a job, so it could never abort a "
                         "simulated job"}


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
        if plan.windows:
            document["schedulingConfig"] = {"maintenanceWindows": [_maintenance_window(window, index, gaps)
                                                                   for index, window in enumerate(plan.windows)]}
        return document | _execution_configs(target, gaps)
    if plan.kind == "all_at_once":
        minutes = -(-target.fleet_size // MAX_PER_MINUTE)
        gaps.add(f"all {target.fleet_size:,} devices at once: a job notifies at most {MAX_PER_MINUTE:,} things a "
                 f"minute", f"maximumPerMinute {MAX_PER_MINUTE} ({minutes} min to notify the fleet)")
        return {"jobExecutionsRolloutConfig": {"maximumPerMinute": MAX_PER_MINUTE}} | _execution_configs(target, gaps)
    gaps.add(f"a {plan.kind} plan: one job has one notification rate and no timed batches, groups or canary "
             "judgement (run one job per wave, or plan with kind: exponential)")
    return {}


def _maintenance_window(window: Any, index: int, gaps: Gaps) -> Document:
    """A daily UTC window as a cron start (EventBridge syntax, every day) and whole minutes, at most 1,430."""
    minutes = _whole_minutes(window.duration, MAX_WINDOW_MINUTES, f"windows[{index}] lasts", "a maintenance window",
                             "durationInMinutes", gaps)
    start = int(window.start)
    if start % 60:
        gaps.add(f"windows[{index}] starts at second {start % 60} of its minute: a cron start is whole minutes",
                 "the minute it starts in")
    return {"startTime": f"cron({start // 60 % 60} {start // 3600} * * ? *)", "durationInMinutes": minutes}


def _whole_minutes(seconds: float, most: int, what: str, theirs: str, key: str, gaps: Gaps) -> int:
    """A duration as the whole minutes the service takes, at most `most`: anything else is a gap, approximated by
    rounding up to a minute (and down to the most)."""
    minutes = seconds / 60
    if minutes == int(minutes) and minutes <= most:
        return int(minutes)
    whole = min(most, math.ceil(minutes))
    gaps.add(f"{what} {minutes:g} minutes: {theirs} is whole minutes, at most {most:,}", f"{key} {whole}")
    return whole


def _execution_configs(target: Target, gaps: Gaps) -> Document:
    """`delivery.in_progress_timeout` as the job's timeoutConfig, and `timeout_retries` and `failure_retries` as
    its retries for TIMED_OUT and FAILED executions."""
    document: Document = {}
    criteria = []
    if target.in_progress_timeout is not None:
        minutes = _whole_minutes(target.in_progress_timeout, MAX_TIMEOUT_MINUTES, "the in-progress timeout lasts",
                                 "a job's timeout", "inProgressTimeoutInMinutes", gaps)
        document["timeoutConfig"] = {"inProgressTimeoutInMinutes": minutes}
        if target.timeout_retries:
            criteria.append({"failureType": "TIMED_OUT", "numberOfRetries": target.timeout_retries})
    if target.failure_retries:
        criteria.append({"failureType": "FAILED", "numberOfRetries": target.failure_retries})
    if criteria:
        document["jobExecutionsRetryConfig"] = {"criteriaList": criteria}
    return document


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
            if failure_type in _LEFT_OUT:
                # a real job document (TIMED_OUT beside FAILED is common) imports instead of being refused
                notes.append(f"{where} ({failure_type}, {rule['threshold']} of at least {rule['min_executed']}) is "
                             f"left out: {_LEFT_OUT[failure_type]}")
                continue
            if failure_type not in _FAILURE_TYPES:
                raise CannotImport(f"{where}.failureType: expected FAILED, REJECTED, TIMED_OUT or ALL, got "
                                   f"{failure_type!r}")
            rules.append(rule)
        if rules:
            strategy["abort"] = rules
    notes.extend(_timeout_notes(document))
    scheduling = document.get("schedulingConfig")
    if scheduling is not None:
        windows = _import_windows(require(document, "schedulingConfig", dict))
        if windows:
            strategy["windows"] = windows
        left = sorted(set(scheduling) - {"maintenanceWindows"})
        if left:
            notes.append(f"schedulingConfig {', '.join(left)} left out: a simulated job starts with the run and "
                         "ends when its queue is empty")
    return strategy


def _import_windows(scheduling: Document) -> list[dict[str, str]]:
    """Daily maintenance windows, exactly; a cron start on some days only (or some months) cannot be a daily
    window, so it is refused rather than read as every day."""
    windows: list[dict[str, str]] = []
    if "maintenanceWindows" not in scheduling:
        return windows
    for index, window in enumerate(require(scheduling, "maintenanceWindows", list, "schedulingConfig")):
        where = f"schedulingConfig.maintenanceWindows.{index}"
        cron = require(window, "startTime", str, where)
        minutes = require(window, "durationInMinutes", int, where)
        found = DAILY_CRON.fullmatch(cron.strip())
        if found is None or int(found[1]) > 59 or int(found[2]) > 23:
            raise CannotImport(f"{where}.startTime: fleetlab windows are daily in UTC, written cron(MINUTE HOUR * * ? "
                               f"*); got {cron!r}")
        if not 1 <= minutes <= MAX_WINDOW_MINUTES:
            raise CannotImport(f"{where}.durationInMinutes: expected 1 to {MAX_WINDOW_MINUTES}, got {minutes}")
        windows.append({"start": format_clock(int(found[2]) * 3600 + int(found[1]) * 60), "duration": f"{minutes}m"})
    return windows


def _timeout_notes(document: Document) -> list[str]:
    """The job's timeout and TIMED_OUT retries belong in the scenario's `delivery:`, not its plan: said, not
    printed as strategy keys."""
    notes = []
    timeout = document.get("timeoutConfig")
    minutes = timeout.get("inProgressTimeoutInMinutes") if isinstance(timeout, dict) else None
    if isinstance(minutes, int) and not isinstance(minutes, bool) and 1 <= minutes <= MAX_TIMEOUT_MINUTES:
        notes.append(f"timeoutConfig is the scenario's delivery: {{in_progress_timeout: {minutes}m}} (not part of "
                     "the plan)")
    elif timeout is not None:
        notes.append(f"timeoutConfig.inProgressTimeoutInMinutes: expected 1 to {MAX_TIMEOUT_MINUTES}, got "
                     f"{minutes!r}: left out")
    retry = document.get("jobExecutionsRetryConfig")
    criteria = retry.get("criteriaList") if isinstance(retry, dict) else None
    for index, criterion in enumerate(criteria if isinstance(criteria, list) else []):
        kind = criterion.get("failureType") if isinstance(criterion, dict) else None
        count = criterion.get("numberOfRetries") if isinstance(criterion, dict) else None
        where = f"jobExecutionsRetryConfig.criteriaList.{index}"
        keys = _RETRY_KEYS.get(kind) if isinstance(kind, str) else None
        if keys is not None and isinstance(count, int) and not isinstance(count, bool) and 0 <= count <= MOST_RETRIES:
            said = ", ".join(f"{key}: {count}" for key in keys)
            notes.append(f"{where} is the scenario's delivery: {{{said}}}"
                         + (" (with the timeout)" if "timeout_retries" in keys else ""))
        else:
            notes.append(f"{where} ({kind}, {count!r} retries) is left out: expected failureType FAILED, TIMED_OUT "
                         f"or ALL with 0 to {MOST_RETRIES} retries")
    if retry is not None and not isinstance(criteria, list):
        notes.append("jobExecutionsRetryConfig without a criteriaList is left out")
    return notes
