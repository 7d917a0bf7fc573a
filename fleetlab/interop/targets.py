"""The update systems fleetlab exports to and imports from, and the two operations on a scenario's plan."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import ModuleType
from typing import Any

from pydantic import TypeAdapter, ValidationError

from fleetlab.interop import aws_iot_jobs, azure_adu, hawkbit, mender
from fleetlab.interop.base import CannotImport, Document, Exported, Gaps, Target
from sim.model.scenario import Scenario, StrategySpec
from sim.model.strategy import StrategyParams
from sim.model.units import exact_duration

_MODULES: tuple[ModuleType, ...] = (aws_iot_jobs, hawkbit, mender, azure_adu)
TARGETS: dict[str, ModuleType] = {module.NAME: module for module in _MODULES}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def fill_in(target: str) -> tuple[str, ...]:
    """What the exported document leaves for the team to fill in: names only their system knows."""
    names: tuple[str, ...] = TARGETS[target].FILL_IN
    return names


@dataclass(frozen=True)
class Imported:
    strategy: dict[str, Any]
    notes: list[str]


def default_start(scenario: Scenario, today: datetime) -> datetime:
    """The next scenario weekday at its start time (UTC) after today: when an exported rollout starts unless told."""
    days = (WEEKDAYS.index(scenario.start_weekday) - today.weekday() - 1) % 7 + 1
    return (datetime(today.year, today.month, today.day, tzinfo=timezone.utc) + timedelta(days=days)
            + timedelta(seconds=scenario.start_time))


def start_mismatch(scenario: Scenario, start: datetime) -> str | None:
    """What differs when the rollout starts at `start` rather than when the scenario simulated it (its start
    weekday at its start time, UTC): the plan's offsets are kept, so games, install windows and busy hours meet it
    elsewhere."""
    utc = start.astimezone(timezone.utc)
    weekday, clock = WEEKDAYS[utc.weekday()], utc.hour * 3600 + utc.minute * 60 + utc.second
    simulated = (datetime(2026, 1, 5, tzinfo=timezone.utc)        # a Monday: the weekday, then the time of day
                 + timedelta(days=WEEKDAYS.index(scenario.start_weekday), seconds=scenario.start_time))
    if (weekday, clock) == (WEEKDAYS[simulated.weekday()], simulated.hour * 3600 + simulated.minute * 60):
        return None
    advice = (f"simulate with start_weekday: {weekday}" + (f" and start_time: '{utc:%H:%M}'" if clock else "")
              + " to see this start" if utc.second == 0 else "a simulated run starts on a whole minute")
    return (f"--start is {utc:%a %Y-%m-%d %H:%M} UTC, and the scenario simulated a start on a "
            f"{WEEKDAYS[simulated.weekday()]} at {simulated:%H:%M} UTC (start_weekday, start_time): its games, "
            "install windows and daily patterns fall at other points of this plan; " + advice)


LINK_EXPIRY = {"mender": 24 * 3600.0}      # a target's download links stop working this long after issue


def link_mismatch(scenario: Scenario, target: str) -> str | None:
    """When the target's download links expire sooner than the scenario simulated (`delivery.link_expiry`): the
    downloads that take longer than a link fail or start over there, which the simulation did not show."""
    lasts = LINK_EXPIRY.get(target)
    simulated = scenario.delivery.link_expiry
    if lasts is None or (simulated is not None and simulated <= lasts):
        return None
    return (f"{target}'s download links expire {exact_duration(lasts)} after they are issued, and the scenario "
            f"simulated links that {'never expire' if simulated is None else 'last ' + exact_duration(simulated)}: "
            f"simulate with delivery.link_expiry: {exact_duration(lasts)} to see the downloads that take longer")


# how often a target's agents ask for deployments by default, and where that is set on the device
POLL_INTERVAL = {"mender": (30 * 60.0, "UpdatePollIntervalSeconds in the agents' mender.conf")}


def poll_mismatch(scenario: Scenario, target: str) -> str | None:
    """When the target's agents poll for deployments and the scenario simulated another pace (`fleet.poll_interval`,
    none: told at once): every release, halt and rollback there reaches a camera at its next check-in."""
    known = POLL_INTERVAL.get(target)
    simulated = scenario.fleet.poll_interval
    if known is None:
        return None
    default, where = known
    if simulated is None:
        return (f"{target}'s agents ask for deployments every {exact_duration(default)} by default ({where}), and the "
                "scenario simulated cameras told at once: simulate with fleet.poll_interval: "
                f"{exact_duration(default)} to see the releases, halts and rollbacks waiting for check-ins")
    if simulated == default:
        return None
    return (f"the scenario simulated agents that check in every {exact_duration(simulated)}: set {where} to "
            f"{simulated:g} (the default is {default:g})")


# how long a target's agents retry a state script that answers "retry later" (a busy camera), and where it is set
RETRY_LATER = {"mender": (30 * 60.0, "StateScriptRetryTimeoutSeconds in the agents' mender.conf")}


def defer_mismatch(scenario: Scenario, target: str) -> str | None:
    """When the target's agents give up a "retry later" after a while (Mender's state scripts, the usual way to
    keep an update off a camera during a game) and the scenario simulated another limit (`delivery.defer_limit`,
    none: a camera waits out any game). Only for fleets with games: without one nothing is held."""
    known = RETRY_LATER.get(target)
    if known is None or not any(kind.games for kind in scenario.fleet.site_kinds.values()):
        return None
    default, where = known
    simulated = scenario.delivery.defer_limit
    if simulated is None:
        return (f"{target}'s agents give up a state script's 'retry later' after {exact_duration(default)} by default "
                f"({where}), and the scenario simulated cameras that wait out any game: simulate with "
                f"delivery.defer_limit: {exact_duration(default)} to see the cameras a game holds longer fail")
    if simulated == default:
        return None
    return (f"the scenario simulated cameras that put an update off for a game at most {exact_duration(simulated)}: "
            f"set {where} to {simulated:g} (the default is {default:g})")


TIMES_OUT = {"aws-iot-jobs"}      # the targets whose jobs have an in-progress timeout (exported with the plan)


def timeout_mismatch(scenario: Scenario, target: str) -> str | None:
    """A scenario that simulated an in-progress timeout, exported to a system without one: there the cameras take as
    long as they need, so the simulated 'timed out' failures would not happen."""
    timeout = scenario.delivery.in_progress_timeout
    if timeout is None or target in TIMES_OUT:
        return None
    return (f"the scenario simulated updates timed out after {exact_duration(timeout)} (delivery.in_progress_timeout); "
            f"{target} has no such timeout, so there a camera takes as long as it needs: simulate without it to see "
            "that")


# the targets that start a failed device's update again on their own (exported with the plan): whether a retry
# there fetches the artifact again (Mender's agent streams it anew; an IoT job leaves it to the job handler)
RETRY_FETCHES_AGAIN = {"aws-iot-jobs": None, "mender": True}


def retry_mismatch(scenario: Scenario, target: str) -> str | None:
    """A scenario that simulated failed updates started again (`delivery.failure_retries`): a target that retries
    none on its own leaves those cameras failed, and Mender's retries fetch the artifact anew."""
    delivery = scenario.delivery
    retries = delivery.failure_retries
    if not retries:
        return None
    simulated = f"the scenario simulated failed updates started again up to {retries} times (delivery.failure_retries)"
    if target not in RETRY_FETCHES_AGAIN:
        return (f"{simulated}; {target} does not start a failed device's update again on its own: simulate without "
                "retries to see those cameras stay failed")
    if RETRY_FETCHES_AGAIN[target] and not delivery.retry_fetches_again:
        return (f"{simulated}, each carrying on from what the camera had; {target}'s agent fetches the artifact "
                "again for each retry: simulate with delivery.retry_fetches_again: true to see the egress and time "
                "that costs")
    return None


# when a target's devices stop the running model: each switches after it has the update (download_then_kill)
SWITCH_ORDER = {
    "mender": "mender installs into the inactive partition while the running system serves, and stops it only for "
              "the reboot",
    "hawkbit": "hawkbit leaves it to the device's update client, and the usual clients install while the model runs "
               "and stop it for the switch",
    "azure-adu": "Device Update's agent downloads and installs before it applies the update",
    "aws-iot-jobs": "an IoT job leaves it to the device's job handler (Greengrass fetches a component's artifacts "
                    "before it restarts the component)",
}


def switch_mismatch(scenario: Scenario, target: str) -> str | None:
    """A scenario that simulated another of balena's update strategies than download_then_kill, exported to a system
    whose devices stop the model only for the switch: the simulated hours without a model are not what happens
    there (more of them, or fewer, as the strategy was)."""
    strategy = scenario.delivery.update_strategy
    if strategy == "download_then_kill" or target not in SWITCH_ORDER:
        return None
    return (f"the scenario simulated delivery.update_strategy: {strategy} (when a camera stops its model); "
            f"{SWITCH_ORDER[target]}: simulate with download_then_kill to see the hours without a model there "
            "(service_lost_device_hours)")


def failure_handling_mismatch(scenario: Scenario, target: str) -> str | None:
    """A scenario that simulated cameras left on a failing candidate (do_nothing), exported to Mender, whose devices
    roll back on their own when the new system fails to commit."""
    if scenario.delivery.failure_handling == "rollback" or target != "mender":
        return None
    return ("the scenario simulated cameras left on a candidate that fails its health check "
            "(delivery.failure_handling: do_nothing); mender rolls a device back on its own when the update fails to "
            "commit: simulate with rollback to see that")


def staging_mismatch(scenario: Scenario, target: str) -> str | None:
    """A scenario that staged the update ahead (`delivery.stage_ahead`): on hawkBit that is a download-only rollout to
    create first; the other targets have no such deployment, so there the cameras fetch when the plan releases them."""
    if not scenario.delivery.stage_ahead:
        return None
    if target == "hawkbit":
        return ("the scenario staged the update ahead (delivery.stage_ahead): create a rollout of type downloadonly to "
                "the same targets before this one, which then only installs")
    return (f"the scenario staged the update ahead (delivery.stage_ahead); {target} has no download-only deployment, "
            "so there each camera fetches when the plan releases it: simulate without stage_ahead to see that")


def export_plan(scenario: Scenario, plan_name: str, plan: StrategyParams, target: str, start: datetime,
                approximate: bool) -> Exported:
    """The target's configuration document for one plan of the scenario, with what was approximated."""
    module = TARGETS[target]
    context = Target(scenario=scenario.name, fleet_size=scenario.fleet.size,
                     current_version=scenario.current.version if scenario.current else "0.0",
                     candidate_version=scenario.candidate.version, start=start,
                     in_progress_timeout=scenario.delivery.in_progress_timeout,
                     timeout_retries=scenario.delivery.timeout_retries,
                     failure_retries=scenario.delivery.failure_retries)
    gaps = Gaps()
    document: Document = module.export_plan(plan, context, gaps)
    approximations = gaps.settle(target, approximate)
    description = f"exported by fleetlab from scenario {scenario.name!r}, plan {plan_name!r}"
    if approximations:
        description += "; approximated: " + "; ".join(approximations)
    return Exported(target, {"description": description, **document}, approximations)


def import_document(text: str, source: str) -> Imported:
    """The fleetlab strategy equivalent to a target's document (JSON, as the systems' APIs take it)."""
    document = _parse(text)
    notes: list[str] = []
    importer: Callable[[Document, list[str]], dict[str, Any]] = TARGETS[source].import_document
    strategy = importer(document, notes)
    try:
        TypeAdapter(StrategySpec).validate_python(strategy)
    except ValidationError as error:
        first = error.errors()[0]
        raise CannotImport(f"the policy gives a plan fleetlab refuses: {'.'.join(map(str, first['loc'][1:]))}: "
                           f"{first['msg']}") from None
    return Imported(strategy, notes)


def _parse(text: str) -> Document:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise CannotImport(f"line {error.lineno}, column {error.colno}: not JSON: {error.msg}") from None
    except RecursionError:      # json's decoder recurses per level: [[[[…]]]] a hundred thousand deep
        raise CannotImport("(top): nested too deeply to be an update policy") from None
    if not isinstance(document, dict):
        raise CannotImport("(top): expected a JSON object")
    return document
