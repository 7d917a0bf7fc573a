"""Traps in the fleet and delivery a plan runs on, whatever the plan: an uplink that never carries anything, an
install window too short to activate in, free storage a good share of the cameras lack, download links that expire
before a download that cannot resume ends, a delta no smaller than the image it replaces, an in-progress timeout
shorter than a download or the wait for an install window, cameras that stop their model for their whole update, a
board short of memory for the models it must hold.
sim/model/plan_traps.py gathers them (`fleet_warnings`) with the plan's own traps."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Protocol

from sim.model.memory import memory_shortfall
from sim.model.scenario import Scenario
from sim.model.strategies.shadow import ShadowParams
from sim.model.units import format_duration, format_size

PlanWarning = tuple[str, str]          # (dotted key path, message)


def _uplinks_that_never_carry(scenario: Scenario) -> Iterator[PlanWarning]:
    """A site kind whose uplink is zero all day (every `daily_pattern` multiplier 0, or `uplink.max: 0`): none of its
    cameras ever downloads, and the run only reported them as still downloading on a slow uplink."""
    for name, kind in scenario.fleet.site_kinds.items():
        where = f"fleet.site_kinds.{name}"
        if kind.uplink.max == 0:
            yield f"{where}.uplink.max", f"an uplink of at most 0: no {name} camera ever downloads"
        elif not any(kind.daily_pattern.values()):
            yield (f"{where}.daily_pattern", f"the multiplier is 0 at every time of day: the {name} sites' uplinks "
                                             f"never carry anything, and no {name} camera ever downloads")


def switch_time(scenario: Scenario, hardware: str) -> float:
    """A camera's activation on this hardware: its measured profile's (`fleetlab calibrate`), else the fleet's."""
    profile = scenario.fleet.hardware_profiles.get(hardware)
    measured = profile.activation_time if profile is not None else None
    return scenario.fleet.activation_time if measured is None else measured


def _windows_too_short(scenario: Scenario) -> Iterator[PlanWarning]:
    """A window shorter than a device's switch and health check: no device of that hardware ever activates in it
    (the simulator reports them as waiting for a window, without saying why)."""
    fleet = scenario.fleet
    need = {name: switch_time(scenario, name) + fleet.health_check for name in fleet.hardware}
    for index, window in enumerate(fleet.install_windows):
        short = sorted(name for name, seconds in need.items() if seconds > window.duration)
        if not short:
            continue
        longest = max(need[name] for name in short)
        who = "no device" if len(short) == len(need) else "no " + ", ".join(short) + " device"
        yield (f"fleet.install_windows.{index}.duration",
               f"a {format_duration(window.duration)} window is shorter than the {format_duration(longest)} a "
               f"device needs in it (activation, then the {format_duration(fleet.health_check)} health check): "
               f"{who} ever activates in it")


NOTABLE_SHARE = 0.05      # a share of cameras bound to fail (no room, a link too short) worth a warning


def share_below(median: float, sigma: float, low: float, high: float, value: float) -> float:
    """The share of a log-normal spread around `median` (σ `sigma`), clipped to [low, high], that lies below
    `value` (a clip moves what is below `low` up to it, still below a `value` above `low`)."""
    if high < value:
        return 1.0
    if low >= value:
        return 0.0
    if sigma == 0 or median <= 0:
        return 1.0 if min(max(median, low), high) < value else 0.0
    return 0.5 * (1.0 + math.erf(math.log(value / median) / (sigma * math.sqrt(2.0))))


def short_of_storage(scenario: Scenario) -> float:
    """The share of cameras whose free storage is below what the update needs: the download and the new slot."""
    storage = scenario.fleet.storage_free
    return share_below(storage.median, storage.sigma, storage.min, storage.max, scenario.artifact.storage_needed)


def _links_too_short(scenario: Scenario) -> Iterator[PlanWarning]:
    """Links that expire before a download that cannot resume can end: each new link starts it over, and the camera
    fails after its attempts. Counted for a camera alone on its site's uplink at the pattern's best hour, so the
    share is the least that fail."""
    expiry, artifact = scenario.delivery.link_expiry, scenario.artifact
    if expiry is None or artifact.resumable:
        return
    for name, kind in scenario.fleet.site_kinds.items():
        best = max(kind.daily_pattern.values())
        if best <= 0:
            continue        # an uplink that never carries anything has its own warning
        uplink = kind.uplink
        share = share_below(uplink.median, uplink.sigma, uplink.min, uplink.max, artifact.full_size / expiry / best)
        if share >= NOTABLE_SHARE:
            yield ("delivery.link_expiry",
                   f"a link works {format_duration(expiry)} and the artifact cannot resume (artifact.resumable: "
                   f"false): on about {share:.0%} of the {name} sites even one camera alone cannot fetch the "
                   f"{format_size(artifact.full_size)} within a link, so each attempt starts over and those cameras "
                   f"fail after {artifact.max_download_attempts} attempts")


def _storage_too_small(scenario: Scenario) -> Iterator[PlanWarning]:
    """Free storage that a good share of the fleet lacks: those cameras fail 'insufficient storage' the moment they
    are released, and an abort rule may read them as the candidate failing."""
    share = short_of_storage(scenario)
    if share < NOTABLE_SHARE:
        return
    artifact = scenario.artifact
    yield ("fleet.storage_free",
           f"about {share:.0%} of cameras have less free storage than the update needs ("
           f"{format_size(artifact.storage_needed)}: the {format_size(artifact.full_size)} download and the "
           f"{format_size(artifact.installed_size or artifact.full_size)} slot): they fail 'insufficient storage' "
           "when released")


def _delta_not_smaller(scenario: Scenario) -> Iterator[PlanWarning]:
    """Delta delivery of a delta no smaller than the full image: retrained weights and a rebuilt engine change
    nearly every byte, and a binary delta of them can outgrow the image (ROLLOUT-FACTS: deltas save 30–90% for small
    changes and can be larger for big ones). The simulator sends what the file says, so the plan pays for it."""
    artifact, delivery = scenario.artifact, scenario.delivery
    expected = delta_fetch(scenario)
    if expected is None or artifact.delta_size is None or expected < artifact.full_size:
        return
    extra = (expected - artifact.full_size) * origin_fetchers(scenario) * (1 - delivery.base_mismatch)
    if artifact.delta_size >= artifact.full_size:
        key, what = "artifact.delta_size", (f"the delta ({format_size(artifact.delta_size)}) is not smaller than the "
                                           f"full image ({format_size(artifact.full_size)})")
    else:
        key, what = "delivery.delta_apply_failure", (
            f"the {format_size(artifact.delta_size)} delta, followed by the {format_size(artifact.full_size)} image "
            f"where it does not apply ({delivery.delta_apply_failure:.0%}), averages {format_size(expected)} a "
            "camera, not less than the full image")
    yield (key, f"{what}: delta delivery sends about {format_size(extra)} more from the origin "
                f"(${extra * scenario.pricing.egress_per_gb / 1e9:,.2f} of egress) than sending the full image "
                "(delivery.delta: false)")


def delta_fetch(scenario: Scenario) -> float | None:
    """What a camera on a known base fetches under delta delivery, on average: the delta, followed by the full image
    where it does not apply; None without delta delivery."""
    artifact, delivery = scenario.artifact, scenario.delivery
    if not delivery.delta or artifact.delta_size is None:
        return None
    return artifact.delta_size + delivery.delta_apply_failure * artifact.full_size


def origin_fetchers(scenario: Scenario) -> float:
    """How many cameras fetch from the origin, expected: every one, or with a site cache one a site (the rest copy
    over the LAN)."""
    fleet = scenario.fleet
    if scenario.delivery.site_cache:
        return float(sum(kind.count for kind in fleet.site_kinds.values()))
    return sum(fleet.site_kind_devices().values())


def fleet_origin_bytes(scenario: Scenario) -> float:
    """About what the origin sends for the whole fleet's update (no retry, no corrupt copy counted)."""
    full, delta = scenario.artifact.full_size, delta_fetch(scenario)
    mismatch = scenario.delivery.base_mismatch
    each = full if delta is None else (1 - mismatch) * delta + mismatch * full
    return each * origin_fetchers(scenario)


def typical_download(scenario: Scenario, size: float | None = None, alone: bool = False) -> float:
    """Seconds a camera takes to fetch `size` (the full artifact) at the fleet's device-weighted median uplink, shared
    by its site's cameras, or `alone` on it (a site cache's seeder)."""
    fleet = scenario.fleet
    per_kind = fleet.site_kind_devices()
    devices = sum(per_kind.values())
    if alone:
        rate = sum(per_kind[name] * kind.uplink.median for name, kind in fleet.site_kinds.items()) / devices
    else:
        rate = sum(kind.count * kind.uplink.median for kind in fleet.site_kinds.values()) / devices
    return (scenario.artifact.full_size if size is None else size) / rate


class DailyWindow(Protocol):
    start: float        # seconds after midnight
    duration: float


def minutes_open(windows: Sequence[DailyWindow]) -> list[bool]:
    """For each minute of a day, whether one of these daily windows is open."""
    return [any((minute * 60.0 - window.start) % 86400.0 < window.duration for window in windows)
            for minute in range(1440)]


def longest_closed(scenario: Scenario) -> float:
    """The longest stretch of a day (to the minute) with no install window open."""
    minutes = 1440
    open_minutes = minutes_open(scenario.fleet.install_windows)
    if not any(open_minutes):
        return 86400.0
    longest = run = 0
    for is_open in open_minutes + open_minutes:       # twice round the clock: a stretch may span midnight
        run = 0 if is_open else run + 1
        longest = max(longest, run)
    return min(longest, minutes) * 60.0


def _timeout_too_short(scenario: Scenario) -> Iterator[PlanWarning]:
    """An in-progress timeout (with its retries) shorter than a typical download, or than the wait for an install
    window: healthy cameras fail 'timed out', and an abort rule reads them as the candidate failing."""
    delivery = scenario.delivery
    if delivery.in_progress_timeout is None:
        return
    budget = delivery.in_progress_timeout * (1 + delivery.timeout_retries)
    given = (f"the {format_duration(budget)} the server gives an update (delivery.in_progress_timeout"
             + (f" × {1 + delivery.timeout_retries} executions)" if delivery.timeout_retries else ")"))
    size = scenario.download_size
    # with a site cache the seeder fetches alone on its site's uplink, and the others copy over the LAN
    download = typical_download(scenario, size, alone=delivery.site_cache)
    gap = longest_closed(scenario)
    if download >= budget:
        yield ("delivery.in_progress_timeout",
               f"a camera at the fleet's median uplink needs about {format_duration(download)} to fetch the "
               f"{format_size(size)}, longer than {given}: about half the cameras fail 'timed out' while "
               "downloading")
    elif gap > budget:
        yield ("delivery.in_progress_timeout",
               f"the install windows are closed for {format_duration(gap)} at a stretch, longer than {given}: at "
               f"least the cameras whose download ends within {format_duration(gap - budget)} after the windows "
               "close fail 'timed out' waiting for the next one")


KILLED_FOR_LONG = 3600.0     # a camera without a model for longer than this through its update is worth a warning


def _killed_for_long(scenario: Scenario) -> Iterator[PlanWarning]:
    """`kill_then_download` (balena's strategy for devices short of memory) on thin uplinks or with install windows:
    each camera runs no model through its whole download and its wait for a window, hours where download_then_kill
    costs a minute's switch; and the freeze for games holds the download, not the model. How long each waits for a
    window depends on when the plan releases it: the rule says the longest, the simulator the sum."""
    delivery, fleet = scenario.delivery, scenario.fleet
    if delivery.update_strategy != "kill_then_download":
        return
    size = scenario.download_size
    download = typical_download(scenario, size, alone=delivery.site_cache)
    closed = longest_closed(scenario)
    with_games = sorted(name for name, kind in fleet.site_kinds.items() if kind.games is not None)
    if download + closed + fleet.activation_time < KILLED_FOR_LONG and not with_games:
        return
    wait = (f", its wait for an install window (up to {format_duration(closed)}: the windows are closed that long)"
            if closed else "")
    games = (f"; the {', '.join(with_games)} cameras run none through the games in that time"
             + (" (the freeze holds their downloads, not their models)" if delivery.freeze_during_games else "")
             if with_games else "")
    yield ("delivery.update_strategy",
           f"kill_then_download stops a camera's model when its update starts: each then runs none through its "
           f"download (about {format_duration(download)} for the {format_size(size)} at the fleet's median "
           f"uplink){wait} and the {format_duration(fleet.activation_time)} switch, where download_then_kill stops "
           f"it for the switch alone{games}; `fleetlab sim` counts the hours (service_lost_device_hours)")


def _short_of_memory(scenario: Scenario) -> Iterator[PlanWarning]:
    """A board that cannot hold the candidate (beside the current model under hand_over; sim/model/memory.py): every
    camera of that hardware fails its health check out of memory, and an abort rule reads it as the candidate
    failing. A shadow runs both models by design: its cameras on such a board fail as it starts."""
    shadow = any(isinstance(plan, ShadowParams) for plan in (scenario.strategy, *scenario.alternatives.values()))
    for hardware in scenario.fleet.hardware:
        short = memory_shortfall(scenario, hardware)
        if short is not None:
            cure = (" (download_then_kill holds one model at a time)" if short.beside_current else
                    ": the candidate must shrink (a smaller engine, FP16 or INT8) or the board's other services")
            yield (f"fleet.hardware_profiles.{hardware}.memory",
                   f"a {hardware} board must hold {short.held}, {format_size(short.needed)} in all, and leaves "
                   f"{format_size(short.available)} for models: every {hardware} camera's candidate is killed out of "
                   f"memory and fails its health check, however good the model{cure}")
        elif shadow:
            both = memory_shortfall(scenario, hardware, beside_current=True)
            if both is not None:
                yield (f"fleet.hardware_profiles.{hardware}.memory",
                       f"a shadow runs the candidate beside the current model, {format_size(both.needed)} in all, "
                       f"and a {hardware} board leaves {format_size(both.available)} for models: its shadow cameras "
                       "fail as the candidate starts, out of memory, and report no agreement, so a stratum of them "
                       "never has its reports and the shadow halts inconclusive")


def _fetching_again_without_retries(scenario: Scenario) -> Iterator[PlanWarning]:
    """`delivery.retry_fetches_again` with no retry to fetch in: allowed (a sweep over failure_retries passes 0), but
    alone it does nothing."""
    delivery = scenario.delivery
    if delivery.retry_fetches_again and not delivery.failure_retries:
        yield ("delivery.retry_fetches_again", "no failed update is started again (delivery.failure_retries: 0), so "
               "nothing is fetched again: set failure_retries, or leave this out")


def fleet_warnings(scenario: Scenario) -> list[PlanWarning]:
    """Every trap in the fleet and its delivery, in a fixed order."""
    return [warning for rule in (_uplinks_that_never_carry, _windows_too_short, _storage_too_small, _links_too_short,
                                 _delta_not_smaller, _timeout_too_short, _killed_for_long, _short_of_memory,
                                 _fetching_again_without_retries)
            for warning in rule(scenario)]
