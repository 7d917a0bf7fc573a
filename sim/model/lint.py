"""Checks that need the whole scenario (names that refer to other sections, bounds on known metrics).

Each finding is (dotted path, message); the loader attaches file positions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

from sim.model.cohort import Cohort
from sim.model.gates import METRICS, parse_bound, unmeetable
from sim.model.hil_results import hil_metrics
from sim.model.scenario import Scenario
from sim.model.units import format_duration


def _cohort_findings(path: str, cohort: Cohort, scenario: Scenario) -> Iterator[tuple[str, str]]:
    known: dict[str, list[str]] = {
        "hardware": list(scenario.fleet.hardware), "site_kind": list(scenario.fleet.site_kinds),
        "camera_angle": list(scenario.fleet.camera_angles),
    }
    for field, names in known.items():
        value = getattr(cohort, field)
        if value is not None and value not in names:
            yield f"{path}.{field}", f"unknown {field} {value!r}; the fleet has {', '.join(sorted(names))}"


def check(scenario: Scenario) -> list[tuple[str, str]]:
    """Every cross-reference problem in the scenario, in file order."""
    findings: list[tuple[str, str]] = []
    models = [("candidate", scenario.candidate)] + ([("current", scenario.current)] if scenario.current else [])
    for section, model in models:
        for hardware in scenario.fleet.hardware:
            if hardware not in model.hardware:
                findings.append((f"{section}.hardware", f"no latency and power given for fleet hardware {hardware!r}"))
        for index, defect in enumerate(model.defects):
            findings.extend(_cohort_findings(f"{section}.defects.{index}.cohort", defect.cohort, scenario))
    for index, fault in enumerate(scenario.faults):
        findings.extend(_cohort_findings(f"faults.{index}.cohort", fault.cohort, scenario))
        if fault.kind == "outage" and fault.duration <= 0:
            findings.append((f"faults.{index}.duration", "an outage needs a duration longer than zero"))
        if fault.kind == "outage":      # a site's uplink is shared by all its cameras, whatever their hardware
            for field in ("hardware", "camera_angle"):
                if getattr(fault.cohort, field) is not None:
                    findings.append((f"faults.{index}.cohort.{field}", f"an outage takes a whole site's uplink "
                                     f"down: it can select sites by site_kind, not cameras by {field}"))
        if fault.at >= scenario.duration:
            findings.append((f"faults.{index}.at", "this fault comes after the scenario's duration: it never happens"))
        if fault.share == 0:
            findings.append((f"faults.{index}.share", "a share of 0% hits no site or device: this fault never happens"))
    if scenario.delivery.delta and scenario.artifact.delta_size is None:
        findings.append(("delivery.delta", "delta delivery needs artifact.delta_size"))
    if scenario.delivery.stage_ahead and scenario.fleet.slots != "ab":
        findings.append(("delivery.stage_ahead", "staging ahead installs into the inactive slot while the current "
                                                 "model runs: it needs fleet.slots: ab (an in-place install overwrites "
                                                 "the running model)"))
    for name in scenario.alternatives:     # named on --strategies (comma-separated) and --grid plan=A,B
        if name == "plan":
            findings.append(("alternatives.plan", "'plan' names the scenario's own strategy: give this one another "
                                                  "name (compare and sweep could never reach it)"))
        elif not re.fullmatch(PLAN_NAME, name):
            findings.append((f"alternatives.{name}", f"a plan's name is letters, digits, '_' and '-' (got "
                                                     f"{name!r}): --strategies and --grid list names with commas"))
    plans = [("strategy", scenario.strategy)] + [(f"alternatives.{name}", plan)
                                                  for name, plan in scenario.alternatives.items()]
    for path, plan in plans:
        findings.extend(_plan_findings(path, plan, scenario))
    for metric, shows in scenario.findings.items():
        if metric not in scenario.expect:
            findings.append((f"findings.{metric}", f"a finding names an expectation; expect: has no {metric!r}"))
        elif not shows.strip():     # the report prints it beside the row as the reason the row is expected
            findings.append((f"findings.{metric}", "say what the finding shows: the report prints it beside the row"))
    for metric, raw in scenario.expect.items():
        if metric not in METRICS:
            continue  # reported with a suggestion by the loader's key check
        try:
            never = unmeetable(parse_bound(metric, raw))
        except ValueError as error:
            findings.append((f"expect.{metric}", str(error)))
            continue
        if never:
            findings.append((f"expect.{metric}", never))
        if metric in RIG_METRICS and scenario.hil is None:    # no run of this scenario ever measures it
            findings.append((f"expect.{metric}", f"{metric} is measured on rigs, and this scenario has no hil: "
                             "part: the bound would never be judged (add a hil: part, or remove it)"))
    return findings


RIG_METRICS = frozenset(hil_metrics([]))      # the bounds only a run on rigs measures


def _plan_findings(path: str, plan: object, scenario: Scenario) -> Iterator[tuple[str, str]]:
    from sim.model.strategies.budgeted import BudgetedParams
    from sim.model.strategies.groups import GroupsParams
    from sim.model.strategies.phases import PhasesParams, phase_sizes

    if isinstance(plan, PhasesParams):
        for index, devices in enumerate(phase_sizes(plan, scenario.fleet.size)):
            if devices <= 0:
                yield (f"{path}.phases.{index}.batch",
                       f"this phase rounds to zero of about {scenario.fleet.size} devices")
    if isinstance(plan, BudgetedParams) and scenario.delivery.stage_ahead:
        yield (f"{path}.kind", "a byte budget paces the downloads the plan releases, and delivery.stage_ahead fetches "
                               "every camera's bytes at the start: there is nothing left for the budget to pace")
    if isinstance(plan, GroupsParams) and isinstance(plan.groups, list):
        for index, group in enumerate(plan.groups):
            yield from _cohort_findings(f"{path}.groups.{index}.cohort", group.cohort, scenario)


BYTES_PER_DEVICE = 2048          # measured peak ~1.4 kB a device at a million (make bench), with room to spare
PLAN_NAME = r"[A-Za-z0-9][A-Za-z0-9_-]*"      # no dots: a key path splits on them
BYTES_PER_HOUR = 2048            # per simulated hour: the hourly state counts and the 5-minute egress bins, kept
                                 # for the result and written as JSON (measured ~1.4 kB, tiny at 2,000 and 10,000 days)
BASE_BYTES = 300 * 2**20         # the interpreter, numpy, SimPy and the rest before any device exists


def _memory_parts(scenario: Scenario) -> tuple[int, int]:
    """(devices at most, simulated hours): what the estimate scales with."""
    devices = sum(kind.count * kind.cameras_per_site[1] for kind in scenario.fleet.site_kinds.values())
    return devices, math.ceil(scenario.duration / 3600)


def memory_needed(scenario: Scenario) -> int:
    """About how much memory simulating this fleet over its duration takes."""
    devices, hours = _memory_parts(scenario)
    return BASE_BYTES + devices * BYTES_PER_DEVICE + hours * BYTES_PER_HOUR


def memory_findings(scenario: Scenario, available: int | None) -> list[tuple[str, str]]:
    """A run that cannot fit in `available` bytes, refused where most of the estimate comes from: the largest site
    kind, or the duration (a result keeps its series for every hour of it)."""
    needed = memory_needed(scenario)
    if available is None or needed <= available:
        return []
    than = f"more than the {available / 2**30:.1f} GiB this machine has available"
    devices, hours = _memory_parts(scenario)
    if hours * BYTES_PER_HOUR > devices * BYTES_PER_DEVICE:
        return [("duration", f"{format_duration(scenario.duration)} of simulated time needs about "
                             f"{needed / 2**30:.1f} GiB ({BYTES_PER_HOUR:,} bytes an hour for the result's series), "
                             + than)]
    largest = max(scenario.fleet.site_kinds, key=lambda name: scenario.fleet.site_kinds[name].count *
                  scenario.fleet.site_kinds[name].cameras_per_site[1])
    return [(f"fleet.site_kinds.{largest}.count",
             f"a fleet of up to {devices:,} devices needs about {needed / 2**30:.1f} GiB "
             f"({BYTES_PER_DEVICE:,} bytes a device), " + than)]


def unknown_metrics(scenario: Scenario) -> list[str]:
    return [metric for metric in scenario.expect if metric not in METRICS]
