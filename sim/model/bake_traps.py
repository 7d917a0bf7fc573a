"""Bakes that judge nothing: a step of a plan told before the cameras of the step before it have reported a health
check, so the gate between them has no outcome of theirs to look at. Two tiers: before the soonest any camera can
report (a lower bound the simulator never beats, and meets to the second where install windows close), or, failing
that, before a typical camera reports at the fleet's median uplink in any of the fleet's timezones (an estimate: the
bake then judges only the cameras on the fastest uplinks). sim/model/plan_traps.py gathers the rule with the other
plan rules; docs/interop.md lists it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from sim.model.fleet_traps import switch_time, typical_download
from sim.model.pace_traps import PlanWarning, Release, plan_releases
from sim.model.scenario import Scenario
from sim.model.strategy import StrategyParams
from sim.model.units import format_clock, format_duration, format_size

DAY = 86400.0
FASTER = 1.1       # the typical tier flags a step only if a camera this much faster than typical also misses


def _zone_report(scenario: Scenario, ready: float, offset: float) -> tuple[float, float, float]:
    """(when a camera ready to switch at `ready`, in the timezone whose local time is `offset` seconds after simulated
    time (its UTC offset and the run's start time: Scenario.clock_offsets), has reported its health
    check at the soonest, when it switches, the local clock time of the window it switches in): the first install
    window with room for the shortest switch and the check (as the lifecycle's activation waits), then the switch,
    the check and the report delay. Games count as none; inf when no window has that room."""
    fleet = scenario.fleet
    need = _shortest_switch(scenario) + fleet.health_check
    switch, opening = math.inf, math.inf
    local = ready + offset
    for window in fleet.install_windows:
        if window.duration < need:
            continue                    # never fits: a fleet rule says so
        opens = math.floor((local - window.start) / DAY) * DAY + window.start     # the last opening ≤ local
        at = ready if local + need <= opens + window.duration else opens + DAY - offset    # now, or its next opening
        if at < switch:
            switch, opening = at, window.start
    return switch + need + fleet.report_delay, switch, opening


def _shortest_switch(scenario: Scenario) -> float:
    return min(switch_time(scenario, name) for name in scenario.fleet.hardware)


def _steps(scenario: Scenario, ready: float, switch: float, zone: str, opening: float) -> str:
    """How a report time adds up: the window's opening waited for, if any, then the switch, the check, the report."""
    fleet = scenario.fleet
    opened = f"the {format_clock(opening)} install window in {zone} opens at {format_duration(switch)}, then " \
        if switch > ready else ""
    return (f"{opened}the {format_duration(_shortest_switch(scenario))} switch, the "
            f"{format_duration(fleet.health_check)} health check and the {format_duration(fleet.report_delay)} report "
            "delay")


def first_health_report(scenario: Scenario, ready: float) -> tuple[float, str]:
    """The soonest a camera ready to switch at `ready` can have run the candidate through its health check and
    reported, in any of the fleet's timezones, and how that adds up (a lower bound the simulator never beats)."""
    zones = [(*_zone_report(scenario, ready, offset), zone)
             for zone, (offset, _) in zip(scenario.fleet.timezones, scenario.clock_offsets())]
    report, switch, opening, zone = min(zones, key=lambda found: found[0])
    return report, "" if math.isinf(report) else _steps(scenario, ready, switch, zone, opening)


@dataclass(frozen=True)
class TypicalReport:
    ready: float                     # when a typical camera of the step is ready to switch
    download: float                  # its download, sharing its site's uplink
    sharing: float                   # the cameras of its site fetching at once, itself included
    # (timezone, share of the fleet, report time, switch time, the window's local opening), soonest report first
    zones: list[tuple[str, float, float, float, float]]

    def reported_by(self, time: float) -> float:
        """The share of the fleet in the timezones whose typical camera of the step has reported by `time`."""
        return sum(zone[1] for zone in self.zones if zone[2] <= time)


def typical_health_report(scenario: Scenario, step: Release, faster: float = 1.0) -> TypicalReport:
    """About when a typical camera told in `step` has reported its health check, timezone by timezone: its agent's
    mean wait for a check-in, its download at the fleet's device-weighted median uplink shared with the cameras of
    its site that fetch at once (every camera under stage_ahead, from the start; else those of the same step: itself
    and its share of the rest; a site cache's seeder alone) and no faster than the origin's egress cap shared by every
    download at once, its install, then its timezone's first window, the switch, the check and the report. `faster`
    divides the download: the rule asks again of a camera a tenth faster, so that a typical one just missing a
    window's close is not called blind."""
    fleet, delivery, size = scenario.fleet, scenario.delivery, scenario.download_size
    per_site = fleet.size / sum(kind.count for kind in fleet.site_kinds.values())
    at_once = 1.0 if delivery.stage_ahead else step.share       # the share of the fleet fetching with it
    sharing = 1.0 if delivery.site_cache else 1.0 + (per_site - 1.0) * at_once    # a cache's seeder fetches alone
    download = typical_download(scenario, size, alone=True) * sharing
    if fleet.egress_cap is not None:     # the origin's cap, shared by every camera (or seeder) fetching at once
        sites = fleet.size / per_site
        fetching = sites * (1.0 - (1.0 - at_once) ** per_site) if delivery.site_cache else fleet.size * at_once
        download = max(download, fetching * size / fleet.egress_cap)
    download /= faster
    polling = fleet.poll_interval / 2 if fleet.poll_interval else 0.0
    fetched = polling + download + scenario.artifact.full_size / scenario.artifact.install_rate
    # staged ahead, every camera fetched from the start and switches once released; else it fetches when told
    ready = max(step.time, fetched) if delivery.stage_ahead else step.time + fetched
    zones = [(zone, share, *_zone_report(scenario, ready, offset))
             for zone, (offset, share) in zip(fleet.timezones, scenario.clock_offsets())]
    return TypicalReport(ready, download, sharing, sorted(zones, key=lambda found: found[2]))


def _gated(plan: StrategyParams) -> bool:
    from sim.model.strategies.canary import CanaryParams

    return isinstance(plan, CanaryParams) or bool(getattr(plan, "abort", None) or getattr(plan, "sequential", None))


def blind_bake(path: str, plan: StrategyParams, scenario: Scenario) -> Iterator[PlanWarning]:
    """A step told before the cameras of the step before it can have reported: the bake between them sees none of
    their outcomes (or, typically, only those of the cameras on the fastest uplinks), and the gate first hears of a
    failing candidate after the next step is out. Only plans with a gate: without one a bake paces the egress, and
    judging is left to whoever watches."""
    releases = plan_releases(plan)
    if not releases or not _gated(plan):
        return
    soonest: list[tuple[Release, Release, float, str]] = []
    typical: list[tuple[Release, Release, TypicalReport]] = []
    for earlier, later in zip(releases, releases[1:]):
        if later.time >= scenario.duration:
            break                       # never told: the last-release rule's warning
        report, steps = first_health_report(scenario, earlier.time)
        if math.isinf(report):
            return                      # no window holds a switch and its check: the fleet rule's warning
        if later.time < report:
            soonest.append((earlier, later, report, steps))
        elif (usual := typical_health_report(scenario, earlier)).reported_by(later.time) == 0 and \
                typical_health_report(scenario, earlier, FASTER).reported_by(later.time) == 0:
            typical.append((earlier, later, usual))
    if soonest:
        earlier, later, report, steps = soonest[0]
        also = _also(step for _, step, _, _ in soonest[1:])
        yield (f"{path}.{later.key}",
               f"{_told(later)}, before any camera of {earlier.label} can have reported a health check: the soonest "
               f"is {format_duration(report)} ({steps}). The bake between them sees none of {earlier.label}'s "
               f"outcomes, so {later.label} is told whatever the candidate does there{also}")
    elif typical:
        earlier, later, usual = typical[0]
        yield (f"{path}.{later.key}",
               f"{_told(later)}, before a typical camera of {earlier.label} has reported a health check in any "
               f"timezone: at the fleet's median uplink a camera fetches the "
               f"{format_size(scenario.download_size)} in about {format_duration(usual.download)}"
               f"{_sharing(scenario, usual)}, installs, and reports at about {_zone_times(scenario, usual)}. The bake "
               f"between them judges only the cameras of {earlier.label} on the fastest uplinks"
               f"{_also(step for _, step, _ in typical[1:])}")


def _zone_times(scenario: Scenario, usual: TypicalReport) -> str:
    """'1d 7h (the 01:00 install window in UTC-06:00 opens at 1d 7h, then …)', with the other timezones' times."""
    (zone, _, report, switch, opening), *others = usual.zones
    first = f"{format_duration(report)} ({_steps(scenario, usual.ready, switch, zone, opening)})"
    if not others:
        return first
    shares = "; ".join(f"{format_duration(time)} in {name} ({share:.0%} of the fleet)" for name, share, time, *_ in
                       others)
    return f"{first} in {zone} ({usual.zones[0][1]:.0%} of the fleet); {shares}"


def _told(step: Release) -> str:
    return f"{step.label} is told at {format_duration(step.time)} ({step.how})"


def _also(steps: Iterator[Release]) -> str:
    more = [f"{step.label} at {format_duration(step.time)}" for step in steps]
    return f"; so {'is' if len(more) == 1 else 'are'} {', '.join(more)}" if more else ""


def _sharing(scenario: Scenario, usual: TypicalReport) -> str:
    if scenario.delivery.stage_ahead:
        return (f" (staged ahead: all of its site's about {usual.sharing:.1f} cameras fetch at once on its uplink, "
                "where a wave fetched alone shares it with fewer)")
    if usual.sharing >= 1.5:
        return f" (its site's uplink shared with about {usual.sharing - 1:.1f} other cameras of the same step)"
    return ""
