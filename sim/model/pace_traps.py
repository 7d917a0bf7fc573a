"""Traps in a plan's pace: when it tells devices against how long a device takes to report, how long the run is
and when the agents let anything happen. A last release after the run, or too close to its end for a device to
commit; a bake shorter than the agents' poll interval; job windows or groups that cannot reach the fleet within the
run (a bake that judges nothing is sim/model/bake_traps.py's). sim/model/plan_traps.py gathers them with the other plan
rules.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from sim.model.fleet_traps import minutes_open, typical_download
from sim.model.scenario import Scenario
from sim.model.strategies.exponential import ExponentialParams
from sim.model.strategy import StrategyParams
from sim.model.units import format_duration

PlanWarning = tuple[str, str]          # (dotted key path, message)


def device_report_time(scenario: Scenario) -> float:
    """About how long from notification to a known outcome for a typical device: the wait for its agent's check-in,
    the download at the fleet's device-weighted median uplink (shared by a site's cameras), install, activation,
    health check and report."""
    fleet = scenario.fleet
    polling = fleet.poll_interval / 2 if fleet.poll_interval else 0.0     # the mean wait for a check-in
    return (polling + typical_download(scenario) + scenario.artifact.full_size / scenario.artifact.install_rate
            + fleet.activation_time + fleet.health_check + fleet.report_delay)


@dataclass(frozen=True)
class Release:
    """One step of a plan whose time is fixed in advance: when it tells its devices, the key that sets that time,
    how the time adds up, and what the step is called."""
    time: float
    key: str
    how: str
    label: str
    share: float        # the share of the fleet it tells (0 for a canary, a handful of cameras)


def plan_releases(plan: StrategyParams) -> list[Release] | None:
    """The steps of a plan told at fixed times, in order; None for plans whose pace depends on what devices report
    (groups, exponential, budgets, a shadow's hold)."""
    from sim.model.strategies.canary import CanaryParams
    from sim.model.strategies.phases import PhasesParams
    from sim.model.strategies.thermal_aware import ThermalAwareParams
    from sim.model.strategies.waves import WavesParams

    if isinstance(plan, (WavesParams, ThermalAwareParams)):
        bake, before = format_duration(plan.bake), [0.0, *plan.waves]
        return [Release(index * plan.bake, "bake", f"{index} bake{'s' if index > 1 else ''} of {bake}",
                        f"wave {index + 1} ({share:.0%})", share - before[index])
                for index, share in enumerate(plan.waves)]
    if isinstance(plan, PhasesParams):
        last = len(plan.phases) - 1
        rest = 1.0 - sum(phase.batch or 0.0 for phase in plan.phases)
        return [Release(phase.start, f"phases.{index}.start",
                        "the last phase's start" if index == last else f"phase {index + 1}'s start",
                        f"phase {index + 1}", rest if phase.batch is None else phase.batch)
                for index, phase in enumerate(plan.phases)]
    if isinstance(plan, CanaryParams):
        canary = math.ceil(plan.bake / plan.check_every) * plan.check_every   # judged at a look
        before = [0.0, *plan.then]
        after = [Release(canary + index * plan.bake_between, "bake_between" if index else "bake",
                         f"the canary's {format_duration(canary)} bake" +
                         (f", then {index} of {format_duration(plan.bake_between)}" if index else ""),
                         f"wave {index + 1} after the canary ({share:.0%})", share - before[index])
                for index, share in enumerate(plan.then)]
        return [Release(0.0, "bake", "the start", "the canary", 0.0)] + after
    return None


def _last_release(plan: StrategyParams) -> tuple[float, str, str] | None:
    """(the soonest moment the plan tells its last devices, the key that sets it, how that adds up); None when its
    pace is not fixed in advance or it tells everything at the start."""
    releases = plan_releases(plan)
    if not releases or releases[-1].time <= 0:
        return None
    last = releases[-1]
    return last.time, last.key, last.how


def _last_release_too_late(path: str, plan: StrategyParams, scenario: Scenario) -> Iterator[PlanWarning]:
    """A plan whose last wave comes after the run ends, or too close to its end for a device to commit: the result
    reads as a slow or stalled rollout when the duration is what is short."""
    found = _last_release(plan)
    if found is None:
        return
    last, key, how = found
    end, need = scenario.duration, device_report_time(scenario)
    if last >= end:
        yield (f"{path}.{key}", f"the plan tells its last devices at {format_duration(last)} at the soonest ({how}), "
               f"not before the run's {format_duration(end)} duration ends: they are never told")
    elif last + need > end:
        yield (f"{path}.{key}", f"the plan tells its last devices at {format_duration(last)} at the soonest ({how}), "
               f"{format_duration(end - last)} before the run ends, less than the about {format_duration(need)} a "
               "device needs to download, install, activate, pass its health check and report: they cannot commit "
               "within the run")


def _bake_before_check_ins(path: str, plan: StrategyParams, scenario: Scenario) -> Iterator[PlanWarning]:
    """A bake shorter than the agents' poll interval: when the look after it comes, part of the wave has not even
    learnt of its release (each camera checks in at its own phase of the interval), and the look judges the rest."""
    from sim.model.strategies.canary import CanaryParams
    from sim.model.strategies.thermal_aware import ThermalAwareParams
    from sim.model.strategies.waves import WavesParams

    poll = scenario.fleet.poll_interval
    if poll is None or not isinstance(plan, (WavesParams, ThermalAwareParams, CanaryParams)) or plan.bake >= poll:
        return
    judged = "a wave that has mostly not started" if plan.bake < poll / 2 else "only the cameras that have started"
    yield (f"{path}.bake", f"the {format_duration(plan.bake)} bake is shorter than the {format_duration(poll)} between "
           f"the agents' check-ins (fleet.poll_interval): when it ends, about {1 - plan.bake / poll:.0%} of the "
           f"wave's cameras have not yet learnt of their release, so the look after it judges {judged}")


def _windows_too_narrow(path: str, plan: StrategyParams, scenario: Scenario) -> Iterator[PlanWarning]:
    """Job windows that, at the capped rate, cannot notify the fleet within the run: the last devices are never
    told, and the result reads as a slow rollout."""
    if not isinstance(plan, ExponentialParams) or not plan.windows:
        return
    open_minutes = sum(minutes_open(plan.windows))
    per_day = open_minutes * plan.maximum_per_minute
    days = scenario.fleet.size / per_day
    if days * 86400 > scenario.duration:
        yield (f"{path}.windows", f"{format_duration(open_minutes * 60)} of windows a day at most "
               f"{plan.maximum_per_minute}/min notify at most {per_day:,} devices a day: the "
               f"{scenario.fleet.size:,}-camera fleet needs {days:.1f} days of them, longer than the run's "
               f"{format_duration(scenario.duration)}")


def _groups_past_the_run(path: str, plan: StrategyParams, scenario: Scenario) -> Iterator[PlanWarning]:
    """Groups open one after another, each once its devices have committed and reported: a count of groups whose
    sequence cannot end within the run, even at the soonest, leaves the last groups untold."""
    from sim.model.strategies.groups import GroupsParams

    if not isinstance(plan, GroupsParams) or not isinstance(plan.groups, int) or plan.success_threshold == 0:
        return
    count = min(plan.groups, scenario.fleet.size)
    each = device_report_time(scenario) + plan.check_every / 2       # the look after the reports, on average
    # a group commits inside an install window: a window holds as many groups as fit in it, one at least
    per_day = sum(max(1.0, window.duration // each) for window in scenario.fleet.install_windows)
    last = (count - 1) / per_day * 86400.0
    if last >= scenario.duration:
        yield (f"{path}.groups", f"{count} groups open one after another, each once {plan.success_threshold:.0%} of it "
               f"committed and reported (about {format_duration(each)} at the soonest: a device's time to commit and "
               f"report, and the next look, so about {per_day:g} a day in the install windows): the last group opens "
               f"after about {format_duration(last)}, not before the run's {format_duration(scenario.duration)} "
               "ends, so the last groups are never told")
