"""Plans that load fine and are not: each warning names the key and the number that shows the trap. Some rules look
at the rest of the scenario the plan runs in: an uplink that never carries anything, an install window too short to
activate in, free storage a good share of the cameras lack, download links that expire before a download that
cannot resume ends, a delta no smaller than the image it replaces, an in-progress timeout shorter than a download or
the wait for a window, an `expect:` bound every run meets (or one asking for an exact time or size, which almost none
does), and a `hil.time_scale` that soaks the rigs longer than a night.

`fleetlab lint` prints them with file positions, `validate` prints them as warnings, the report lists them.
Every rule has a scenario that triggers it and one that does not (tests/model/test_plan_traps.py, and
tests/app/test_scenario_errors.py for the bounds).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from sim.model.bake_traps import blind_bake
from sim.model.defer_traps import held_past_defer_limit, retries_fetch_during_games
from sim.model.fleet_traps import (  # noqa: F401  (short_of_storage: read by the tests)
    fleet_warnings,
    minutes_open,
    short_of_storage,
)
from sim.model.gates import COVERAGE_TIMES, exact_on_a_continuum, parse_bound, unbreakable
from sim.model.pace_traps import (
    _bake_before_check_ins,
    _groups_past_the_run,
    _last_release,
    _last_release_too_late,
    _windows_too_narrow,
    device_report_time,
)
from sim.model.scenario import Scenario
from sim.model.staging_traps import can_halt, staging_pays_up_front
from sim.model.strategies.exponential import ExponentialParams, raised_rate
from sim.model.strategy import StrategyParams
from sim.model.units import format_clock, format_duration, format_size

PlanWarning = tuple[str, str]          # (dotted key path, message)
MOST_OF_THE_FLEET = 0.5            # an abort that first looks after this share was notified comes too late


def plan_warnings(scenario: Scenario) -> list[PlanWarning]:
    """Every trap in the scenario's plan and its alternatives, in file order."""
    plans = [("strategy", scenario.strategy)] + [(f"alternatives.{name}", plan)
                                                  for name, plan in scenario.alternatives.items()]
    found: list[PlanWarning] = []
    for path, plan in plans:
        for rule in RULES:
            found.extend(rule(path, plan, scenario))
    return (fleet_warnings(scenario)
            + list(held_past_defer_limit(scenario))
            + list(retries_fetch_during_games(scenario))
            + found
            + list(_unbreakable_bounds(scenario))
            + list(_time_bounds_past_the_run(scenario))
            + list(_rigs_soak_too_long(scenario)))


RIG_SOAK_LIMIT = 86400.0     # a nightly job's night


def _rigs_soak_too_long(scenario: Scenario) -> Iterator[PlanWarning]:
    """`hil.time_scale` that makes the plan's bakes soak longer than a night on the rigs (1000 for 0.001: a 1h bake
    soaked 41 days, and `fleetlab hil` looked hung)."""
    found = _last_release(scenario.strategy)
    if scenario.hil is None or found is None:
        return
    last, _, how = found
    soak = last * scenario.hil.time_scale
    if soak > RIG_SOAK_LIMIT:
        yield ("hil.time_scale", f"{scenario.hil.time_scale:g} real seconds per scenario second: the plan's "
                                 f"{format_duration(last)} before its last release ({how}) soaks "
                                 f"{format_duration(soak)} on the rigs, longer than a night")


def _unbreakable_bounds(scenario: Scenario) -> Iterator[PlanWarning]:
    """An expectation every run meets (`bricked: ">= 0"`) reads as a guard and never breaks; one that asks for an
    exact time or size (`t95: "3d"`) breaks on every run."""
    for metric, raw in scenario.expect.items():
        try:
            bound = parse_bound(metric, raw)
        except ValueError:
            continue        # an unknown metric or unreadable bound is the loader's error, not a warning
        if found := unbreakable(bound) or exact_on_a_continuum(bound):
            yield f"expect.{metric}", found


def _time_bounds_past_the_run(scenario: Scenario) -> Iterator[PlanWarning]:
    """A ceiling on a coverage time longer than the run (`t95: "< 20d"` in a 14-day run): a time after the run's
    end is never measured and counts as never reached, which breaks the bound, so it holds only within the run: the
    file reads as allowing 20 days and the verdict allows 14. A floor at or past the run's end (`t95: "> 20d"`)
    breaks in every run."""
    for metric, raw in scenario.expect.items():
        if metric not in COVERAGE_TIMES:
            continue
        try:
            bound = parse_bound(metric, raw)
        except ValueError:
            continue        # the loader's error, not a warning
        run = format_duration(scenario.duration)
        if bound.op in ("<", "<=") and bound.value > scenario.duration:
            yield (f"expect.{metric}", f"{bound.text!r} reaches past the run's {run} (duration): a {metric.upper()} "
                   f"after the run's end is never measured and breaks the bound, so it holds only within {run}; a "
                   f"duration of at least {format_duration(bound.value)} judges it as written")
        elif bound.op in (">", ">=") and bound.value >= scenario.duration:     # "==": exact_on_a_continuum
            yield (f"expect.{metric}", f"no run can meet {bound.text!r}: a {metric.upper()} is measured only within "
                   f"the run's {run} (duration), and one never reached breaks the bound")


def notified_curve(plan: ExponentialParams, size: int) -> list[int]:
    """Devices notified by the end of each minute under an IoT-jobs rate growing on *notified* things (the
    strategy's own rate increase, minute by minute)."""
    told, rate, mark, curve = 0.0, float(plan.base_rate_per_minute), 0, []
    while told < size:
        told = min(size, told + min(rate, plan.maximum_per_minute))
        curve.append(int(told))
        rate, mark = raised_rate(plan, rate, mark, int(told))
    return curve


def _late_abort(path: str, plan: StrategyParams, scenario: Scenario) -> Iterator[PlanWarning]:
    if not isinstance(plan, ExponentialParams) or not plan.abort or plan.rate_increase.notified is None:
        return
    size = scenario.fleet.size
    curve = notified_curve(plan, size)
    lag = device_report_time(scenario)
    for index, rule in enumerate(plan.abort):
        minute = next((m for m, told in enumerate(curve) if told >= rule.min_executed), len(curve) - 1)
        first_look = minute + 1 + math.ceil(lag / 60)
        told = curve[min(first_look, len(curve) - 1)]
        if told >= MOST_OF_THE_FLEET * size:
            yield (f"{path}.abort.{index}.min_executed",
                   f"{rule.min_executed} executed things are known about {first_look} min in (a device reports "
                   f"about {lag / 60:.0f} min after it is notified), when the rate has already notified {told:,} of "
                   f"{size:,} devices ({told / size:.0%}): the abort can only cancel the rest")


def _succeeded_behind_window(path: str, plan: StrategyParams, scenario: Scenario) -> Iterator[PlanWarning]:
    if not isinstance(plan, ExponentialParams) or plan.rate_increase.succeeded is None:
        return
    open_all_day = any(window.duration >= 86400 for window in scenario.fleet.install_windows)
    if open_all_day:
        return
    # the soonest any timezone's first window opens after the run's start (each zone's local clock: its offset and
    # the start time); it once read the window's local time as hours from the start, whatever the zones
    waits = [((window.start - offset) % 86400.0, window.start, zone) for window in scenario.fleet.install_windows
             for zone, (offset, _) in zip(scenario.fleet.timezones, scenario.clock_offsets())]
    wait, opening, zone = min(waits)
    hours = wait / 3600
    yield (f"{path}.rate_increase.succeeded",
           f"the rate grows on succeeded things, but installs wait for the windows: a rollout started at "
           f"{format_clock(scenario.start_time)} UTC stays at its base {plan.base_rate_per_minute}/min for "
           f"{hours:.1f} h ({plan.base_rate_per_minute * wait / 60:,.0f} devices), until the "
           f"{format_clock(opening)} window opens in {zone}, and grows only while windows are open")


def _never_reporting(scenario: Scenario) -> list[str]:
    reasons = []
    if any(defect.failure_rate > 0 for defect in scenario.candidate.defects):
        worst = max(defect.failure_rate for defect in scenario.candidate.defects)
        reasons.append(f"a candidate defect fails {worst:.1%} of its devices")
    if scenario.fleet.power_loss_per_day > 0:
        reasons.append(f"{scenario.fleet.power_loss_per_day:g} power cuts per device a day")
    if any(kind.outages is not None for kind in scenario.fleet.site_kinds.values()):
        reasons.append("site uplinks go down")
    if scenario.faults:
        reasons.append(f"{len(scenario.faults)} scripted fault{'s' if len(scenario.faults) > 1 else ''}")
    if scenario.artifact.corruption_rate > 0:
        reasons.append(f"{scenario.artifact.corruption_rate:.1%} of downloads are corrupt")
    return reasons


def _success_never_reached(path: str, plan: StrategyParams, scenario: Scenario) -> Iterator[PlanWarning]:
    from sim.model.strategies.groups import GroupsParams

    if not isinstance(plan, GroupsParams) or plan.success_threshold < 1.0:
        return
    reasons = _never_reporting(scenario)
    if reasons:
        count = plan.groups if isinstance(plan.groups, int) else len(plan.groups)
        yield (f"{path}.success_threshold",
               f"the next group opens only when 100% of a group (about {scenario.fleet.size // count:,} devices) "
               f"committed, and on this fleet some devices never do ({'; '.join(reasons)}): one of them stalls "
               "the rollout for good")


def _small_canary(path: str, plan: StrategyParams, scenario: Scenario) -> Iterator[PlanWarning]:
    from sim.model.strategies.canary import CanaryParams, detection_size

    if not isinstance(plan, CanaryParams):
        return
    size, p = scenario.fleet.size, plan.detect_failure_rate
    wanted = detection_size(p, plan.confidence)
    if not plan.stratify:
        counts = {"the fleet": min(wanted, size)}
    else:
        counts = {name: min(wanted if plan.per_stratum else max(plan.min_per_stratum, round(wanted * share)),
                            int(share * size) // 2 or 1)
                  for name, share in _strata(scenario, plan.stratum).items()}
    name, n = min(counts.items(), key=lambda item: item[1])
    seen = 1 - (1 - p) ** n
    if seen < plan.confidence:
        where = name if name == "the fleet" else f"stratum {name}"
        yield (f"{path}.detect_failure_rate",
               f"{where} gets about {n} canary devices: it sees a {p:.1%} failure rate confined to it with "
               f"probability 1 − (1 − p)^n = {seen:.0%}, below the stated confidence {plan.confidence:.0%} "
               f"(it needs {wanted}; per_stratum: true gives every stratum that many)")


def _strata(scenario: Scenario, stratum: str) -> dict[str, float]:
    """Expected share of the fleet in each stratum (cohort axes are drawn independently)."""
    axes = scenario.fleet.axis_shares()
    if stratum != "cohort":
        return axes[stratum]
    return {f"{h}/{s}/{a}": hs * ss * as_ for h, hs in axes["hardware"].items()
            for s, ss in axes["site_kind"].items() for a, as_ in axes["camera_angle"].items()}


def _empty_or_unwatched_waves(path: str, plan: StrategyParams, scenario: Scenario) -> Iterator[PlanWarning]:
    from sim.model.strategies.waves import WavesParams

    if not isinstance(plan, WavesParams):
        return
    size, before = scenario.fleet.size, 0
    for index, share in enumerate(plan.waves):
        upto = round(share * size)
        if upto <= before:
            yield (f"{path}.waves.{index}",
                   f"wave {index + 1} ({share:.2%}) rounds to {upto - before} new devices on a fleet of about "
                   f"{size:,}: it releases nothing")
        before = max(before, upto)
    first = round(plan.waves[0] * size)
    if plan.abort is not None and 0 < first < plan.abort.min_executed:
        yield (f"{path}.abort.min_executed",
               f"the first wave has about {first} devices, fewer than the {plan.abort.min_executed} outcomes the "
               "abort rule needs: it cannot stop the first wave, whatever fails")


def _last_wave_short_of_the_fleet(path: str, plan: StrategyParams, scenario: Scenario) -> Iterator[PlanWarning]:
    """Cumulative waves that stop short of 100% tell the rest of the fleet nothing: T95 never comes, and the run
    reads as a stalled rollout rather than the partial one the file asked for (a typo for the last wave, mostly)."""
    key = "waves" if hasattr(plan, "waves") else "then" if hasattr(plan, "then") else None
    shares: list[float] = list(getattr(plan, key)) if key else []
    if not shares or shares[-1] >= 1.0:
        return
    size, last = scenario.fleet.size, shares[-1]
    first = "shadow sample" if plan.kind == "shadow" else "canary"
    never = (f"about {round((1 - last) * size):,} of the {size:,} devices" if key == "waves" else
             f"the other {1 - last:.0%} of the devices after the {first}")
    yield (f"{path}.{key}.{len(shares) - 1}",
           f"the last wave is {last:.0%}: {never} are never told (end with 100%, unless a partial rollout is the "
           "plan)")


def _nothing_can_halt(path: str, plan: StrategyParams, scenario: Scenario) -> Iterator[PlanWarning]:
    """A plan that asks for a rollback (or is a canary) with no rule that can ever halt it: it reads as guarded
    and sends a failing candidate to the whole fleet."""
    from sim.model.strategies.canary import CanaryParams
    from sim.model.strategies.phases import PhasesParams
    from sim.model.strategies.waves import WavesParams

    if isinstance(plan, WavesParams) and plan.rollback_on_abort and not can_halt(plan):
        yield (f"{path}.rollback_on_abort",
               "rollback_on_abort is set, but the plan has no abort: rule and no sequential: test, so it never "
               "halts and never rolls anything back: a failing candidate goes to the whole fleet")
    elif isinstance(plan, PhasesParams) and plan.rollback_on_abort and not can_halt(plan):
        yield (f"{path}.rollback_on_abort",
               "rollback_on_abort is set, but the plan has no abort: rule, so it never halts and never rolls "
               "anything back: a failing candidate goes to the whole fleet")
    elif isinstance(plan, CanaryParams) and not can_halt(plan):
        yield (f"{path}.judge",
               "no judge, analysis, sequential test or abort rule: nothing can halt this canary, so it only "
               "delays the waves after it, and a failing candidate goes to the whole fleet")


def _budget_below_one_download(path: str, plan: StrategyParams, scenario: Scenario) -> Iterator[PlanWarning]:
    """A byte budget smaller than one camera's download: those cameras are never released, and the run reads as
    a slow rollout."""
    from sim.model.strategies.budgeted import BudgetedParams

    if not isinstance(plan, BudgetedParams):
        return
    artifact, delivery = scenario.artifact, scenario.delivery
    full, delta = artifact.full_size, artifact.delta_size if delivery.delta and artifact.delta_size else None
    sizes = [full] if delta is None else [delta] if delivery.base_mismatch == 0 else [delta, full]
    for key in ("global_per_hour", "global_per_day", "site_per_hour", "site_per_day"):
        limit = getattr(plan, key)
        if limit is None or limit >= max(sizes):
            continue
        who = ("no camera is ever released" if limit < min(sizes) else
               f"the cameras whose base does not match the delta (about {delivery.base_mismatch:.0%}) need the full "
               "image and are never released")
        yield (f"{path}.{key}", f"{format_size(limit)} is less than one camera's download "
                                f"({format_size(max(sizes))}): {who}")


def _budget_behind_check_ins(path: str, plan: StrategyParams, scenario: Scenario) -> Iterator[PlanWarning]:
    """A byte budget charged when the plan releases a camera, while polling agents start their downloads up to a
    poll interval later: the releases of several budget windows can start in one, and the origin carries more than
    the budget says."""
    from sim.model.strategies.budgeted import BudgetedParams

    poll = scenario.fleet.poll_interval
    if poll is None or not isinstance(plan, BudgetedParams):
        return
    for key, window in (("global_per_hour", 3600.0), ("site_per_hour", 3600.0), ("global_per_day", 86400.0),
                        ("site_per_day", 86400.0)):
        factor = 1 + poll / window
        if getattr(plan, key) is None or factor < 1.1:
            continue
        yield (f"{path}.{key}", f"the budget is charged when a camera is released, but the agents pick a release up "
               f"as much as {format_duration(poll)} later (fleet.poll_interval): the releases of about {factor:.1f} "
               f"budget windows can start downloading in one, up to about {factor:.1f}× the {key} budget")


def _rollback_past_the_failures(path: str, plan: StrategyParams, scenario: Scenario) -> Iterator[PlanWarning]:
    """A plan that rolls back what it released when it halts, on a fleet whose cameras keep a candidate that fails its
    health check (Greengrass' DO_NOTHING): the rollback reaches the cameras that passed and none of those it halted
    for, which stay on the failing candidate until a new deployment."""
    key = "rollback_on_halt" if plan.kind == "canary" else "rollback_on_abort"
    if scenario.delivery.failure_handling != "do_nothing" or not getattr(plan, key, False):
        return
    yield (f"{path}.{key}",
           f"{key} rolls back the cameras the plan released when it halts, but delivery.failure_handling: do_nothing "
           "leaves a camera whose candidate fails its health check on the candidate, reported FAILED and out of the "
           "rollback's reach: the cameras that passed go back to the old model, and the ones it halted for stay on "
           "the failing candidate (a crashed one with no model at all) until a new deployment")


RULES = (_late_abort, _succeeded_behind_window, _success_never_reached, _small_canary, _empty_or_unwatched_waves,
         _last_wave_short_of_the_fleet, _last_release_too_late, _nothing_can_halt, _budget_below_one_download,
         _bake_before_check_ins, blind_bake, _windows_too_narrow, _groups_past_the_run, _budget_behind_check_ins,
         _rollback_past_the_failures, staging_pays_up_front)
