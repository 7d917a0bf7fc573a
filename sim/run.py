"""simulate(scenario, seed) -> RunResult: one simulated rollout, start to end.

The run covers `scenario.duration`; with `stop_when_settled` it ends as soon as the strategy has finished and no
device is in flight (faster, but then time-integrated measures cover a horizon that depends on the plan).
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

# numpy imports these on first use, which for a run is mid-run: a stop signal landing in the import of
# numpy.random's Cython modules lost its exception (the handler's SystemExit was swallowed and the command ran on,
# fleetlab/interrupts.StopCheck). Imported with this module, before any run starts.
import numpy.ma  # noqa: F401 — np.quantile's np.unique reaches for it
import numpy.random  # noqa: F401 — streams.generator's first draw

from sim.model import streams
from sim.model.lifecycle import DeviceState as S
from sim.model.results import BlastRadius, ByteCounts, Coverage, DeviceOutcome, Egress, RunResult, Series, TimelineEvent
from sim.model.scenario import Scenario
from sim.model.units import format_duration
from sim.provenance import provenance
from sim.world.controller import Controller
from sim.world.device import POWER_CUT, Lifecycle
from sim.world.probes import TransitionHook
from sim.world.world import SAMPLE_STEP, World

STRAGGLER_SAMPLE = 50
Progress = Callable[[float], None]


def simulate(scenario: Scenario, seed: int | None = None, on_transition: TransitionHook | None = None,
             progress: Progress | None = None) -> RunResult:
    """Run the scenario's strategy against its simulated fleet. `seed` defaults to the scenario's own."""
    seed = scenario.seed if seed is None else seed
    if not 0 <= seed <= streams.MAX_SEED:
        raise ValueError(f"seed {seed}: a seed is 0 to {streams.MAX_SEED:,} (others would repeat other seeds' runs)")
    world = World(scenario, seed, on_transition)
    lifecycle = Lifecycle(world)
    stop = world.env.event()

    def stop_if_settled(*_: object) -> None:
        if scenario.stop_when_settled and controller.finished and lifecycle.in_flight == 0 and not stop.triggered:
            stop.succeed()

    controller = Controller(world, lifecycle, scenario.strategy, stop_if_settled)
    world.on_settled = stop_if_settled
    _schedule_faults(world, lifecycle, controller)
    _schedule_samples(world, progress)
    def end_of_scenario() -> None:
        if not stop.triggered:
            stop.succeed()

    world.after(scenario.duration, end_of_scenario)
    if scenario.delivery.stage_ahead:
        world.after(0.0, lifecycle.stage_everyone)      # before the plan's first release
    world.after(0.0, controller.begin)
    with _cyclic_gc_paused():
        world.env.run(until=stop)
    return _result(world, lifecycle, controller, seed)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """The event loop allocates millions of short-lived, acyclic objects (events, callbacks); letting the cyclic
    collector walk the whole live fleet again and again costs a third of the run at 100,000 devices."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _schedule_samples(world: World, progress: Progress | None) -> None:
    def sample() -> None:
        world.recorder.sample(world.now)
        if progress is not None:
            progress(min(1.0, world.now / world.scenario.duration))
        if world.now + SAMPLE_STEP <= world.scenario.duration:
            world.after(SAMPLE_STEP, sample)

    world.after(0.0, sample)


def _schedule_faults(world: World, lifecycle: Lifecycle, controller: Controller) -> None:
    layout = world.layout
    for number, fault in enumerate(world.scenario.faults):
        if fault.kind == "outage":   # the uplinks already know; record it on the timeline when it starts
            world.after(fault.at, controller.timeline.append,
                        (TimelineEvent(time=fault.at, kind="fault",
                                       detail=f"regional outage for {format_duration(fault.duration)}"),))
            continue
        chosen = streams.uniform_array(world.seed, streams.FAULT, np.arange(layout.size), 1000 + number) < fault.share
        matches = np.array([fault.cohort.matches(*cohort) for cohort in layout.cohorts()]) & chosen
        victims = np.flatnonzero(matches).tolist()

        def cut(victims: list[int] = victims, dark_for: float = fault.duration) -> None:
            detail = f"power cut, dark for {format_duration(dark_for)}" if dark_for else "power cut"
            controller.timeline.append(TimelineEvent(time=world.now, kind="fault", detail=detail,
                                                     devices=len(victims)))
            for device in victims:
                lifecycle.interrupt(device, POWER_CUT, dark_for)

        world.after(fault.at, cut)


# --- assembling the result ---------------------------------------------------------------------------------------

def _quantile_times(world: World) -> dict[str, float | None]:
    """T50..T99: the first time the net number of committed devices reached that share of the fleet."""
    commits = np.frombuffer(world.recorder.commits, dtype=np.float64)
    uncommits = np.frombuffer(world.recorder.uncommits, dtype=np.float64)
    # one byte per step and no copy kept longer than needed: at a million devices each float column is 8 MB
    steps = np.concatenate([np.ones(commits.size, dtype=np.int8), np.full(uncommits.size, -1, dtype=np.int8)])
    times = np.concatenate([commits, uncommits])
    order = np.lexsort((-steps, times))          # at equal times count commits first: coverage is a step up
    times = times[order]
    running = np.cumsum(steps[order], dtype=np.int64)
    del steps, order
    size = world.layout.size
    found: dict[str, float | None] = {}
    for name, share in (("t50", 0.5), ("t90", 0.9), ("t95", 0.95), ("t99", 0.99)):
        need = math.ceil(share * size)
        first = int(np.argmax(running >= need)) if running.size else 0
        found[name] = float(times[first]) if running.size and running[first] >= need else None
    return found


def _coverage(world: World) -> Coverage:
    size = max(world.layout.size, 1)
    committed = [sample[S.COMMITTED] / size for sample in world.recorder.samples]
    final = world.recorder.counts[S.COMMITTED] / size
    return Coverage(series=Series(step=SAMPLE_STEP, values=committed), final=final,
                    **_quantile_times(world))


def _egress(world: World) -> tuple[Egress, ByteCounts]:
    network = world.network
    unfinished = network.unfinished_bytes()
    bins = network.meter.bins[: int(math.ceil(world.now / network.meter.step))]   # the last one up to the end
    rates = bins / network.meter.step
    busy = rates[rates > 0]
    total = network.moved_total
    useful = world.recorder.useful_bytes
    counts = ByteCounts(total=total, useful=useful, wasted=max(0.0, total - useful - unfinished),
                        full=total - network.moved_delta, delta=network.moved_delta, unfinished=unfinished,
                        lan=world.recorder.lan_bytes)
    egress = Egress(peak=float(rates.max(initial=0.0)), p95=float(np.percentile(busy, 95)) if busy.size else 0.0,
                    cost=total / 1e9 * world.scenario.pricing.egress_per_gb,
                    series=Series(step=network.meter.step, values=[float(value) for value in rates]))
    return egress, counts


def _straggler_reason(world: World, controller: Controller, device: int) -> str:
    state = world.state(device)
    if state == S.IDLE and controller.lifecycle.awaiting_check_in(device):
        return "waiting for its agent to check in (fleet.poll_interval; none while its site's uplink is down)"
    if state in (S.FAILED, S.ROLLED_BACK, S.BRICKED) or (state == S.IDLE and controller.released[device]):
        return world.recorder.reasons.get(device, state.name.lower())
    if state == S.IDLE:
        return "not released: rollout halted" if controller.halted else "not released by the plan"
    if state == S.DOWNLOADING:
        return _download_hold(world, int(world.layout.device_site[device]))
    joined = controller.lifecycle.devices[device]
    if state == S.INSTALLING and world.uplinks.freeze is not None and joined is not None:
        installing = controller.lifecycle.times.install[int(world.layout.device_hardware[device])]
        held = joined.install_started + installing <= world.now     # no install of its own under way
        if held and world.uplinks.freeze.game_during(joined.site, world.now, world.now + installing):
            return "waiting for a game to end to install (freeze_during_games)"
    if state == S.AWAITING_WINDOW:
        if controller.lifecycle.staged(device):
            return "staged ahead, not released: rollout halted" if controller.halted else \
                "staged ahead, not released by the plan"
        if joined is not None and joined.shadow:
            return "waiting for promotion: running as a shadow"
        if joined is not None and joined.cool_below is not None:     # a thermal-aware plan's condition
            return (f"waiting for an install window without a game, cool enough to stay below "
                    f"{joined.cool_below:g} °C")
        return "waiting for an install window without a game"
    return f"still {state.name.lower()} at the end"


def _download_hold(world: World, site: int) -> str:
    """Why a camera still downloading has not finished, as its site's uplink stands at the end."""
    uplinks, now = world.uplinks, world.now
    if not uplinks.is_up(site, now):
        return "still downloading: uplink down"
    if uplinks.freeze is not None and uplinks.freeze.game_at(site, now):
        return "still downloading: paused for a game (freeze_during_games)"
    if uplinks.rate(site, now) == 0.0:      # a daily_pattern multiplier of 0 at this hour
        return "still downloading: the uplink carries nothing at this hour (daily_pattern)"
    return "still downloading: slow uplink"


def _stragglers(world: World, controller: Controller) -> tuple[dict[str, int], list[DeviceOutcome]]:
    states = np.frombuffer(bytes(world.states), dtype=np.uint8)
    pending = np.flatnonzero(states != S.COMMITTED)
    reasons: dict[str, int] = {}
    never = pending[(states[pending] == S.IDLE) & ~controller.released[pending]]
    if never.size:
        key = "not released: rollout halted" if controller.halted else "not released by the plan"
        reasons[key] = int(never.size)
    for device in np.setdiff1d(pending, never, assume_unique=True).tolist():
        reason = _straggler_reason(world, controller, device)
        reasons[reason] = reasons.get(reason, 0) + 1
    sample = [DeviceOutcome(device=device, cohort=world.layout.cohort(device),
                            site=int(world.layout.device_site[device]), state=world.state(device),
                            reason=_straggler_reason(world, controller, device))
              for device in pending[:STRAGGLER_SAMPLE].tolist()]
    return dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))), sample


def _exposure_hours(world: World, lifecycle: Lifecycle) -> float:
    open_seconds = sum(world.now - device.exposure_since for device in lifecycle.joined()
                       if device.exposure_since >= 0)
    return (world.recorder.exposure_seconds + open_seconds) / 3600.0


def _left_failing(world: World) -> int:
    """Devices whose failed health check left the candidate running (delivery.failure_handling: do_nothing)."""
    if world.scenario.delivery.failure_handling == "rollback":
        return 0
    recorder = world.recorder
    failed = np.frombuffer(world.states, dtype=np.uint8) == int(S.FAILED)
    return int(np.count_nonzero(failed & np.isfinite(recorder.candidate_start) & np.isinf(recorder.candidate_end)))


def _throttled_hours(world: World) -> float:
    recorder = world.recorder
    shadow = (recorder.shadow_start, recorder.shadow_end) if recorder.shadowing else (None, None)
    return world.thermal.throttled_hours(recorder.candidate_start, recorder.candidate_end, world.now,
                                         shadow_start=shadow[0], shadow_end=shadow[1])


def _blast(world: World, controller: Controller) -> BlastRadius:
    ran = int(np.count_nonzero(np.isfinite(world.recorder.candidate_start)))
    first = world.recorder.first_failure
    halted = controller.halt_time
    return BlastRadius(released_before_halt=controller.released_count, ran_candidate=ran,
                       in_flight_at_halt=controller.in_flight_at_halt if controller.halted else 0,
                       first_failure=first,
                       failure_to_halt=halted - first if halted is not None and first is not None else None)


def _result(world: World, lifecycle: Lifecycle, controller: Controller, seed: int) -> RunResult:
    scenario, recorder = world.scenario, world.recorder
    recorder.sample(world.now)
    egress, byte_counts = _egress(world)
    reasons, sample = _stragglers(world, controller)
    counts = recorder.counts
    on_candidate = counts[S.COMMITTED] + counts[S.HEALTH_CHECK] + _left_failing(world)
    controller.timeline.append(TimelineEvent(time=world.now, kind="end"))
    step_values = list(zip(*recorder.samples))
    service_loss = lifecycle.service_loss
    service_loss.close(world.now)
    return RunResult(
        source="sim", strategy=scenario.strategy.kind, devices=world.layout.size, sites=world.layout.sites,
        simulated=world.now, coverage=_coverage(world),
        outcomes={state: counts[state] for state in S if counts[state]},
        reasons=reasons, stragglers=sample, bytes=byte_counts, egress=egress,
        exposure_device_hours=_exposure_hours(world, lifecycle),
        downloads_during_games=recorder.downloads_during_games,
        installs_during_games=recorder.installs_during_games,
        retried_failures=recorder.retried_failures,
        throttled_device_hours=_throttled_hours(world),
        service_lost_device_hours=service_loss.seconds / 3600.0,
        service_lost_in_games_device_hours=service_loss.in_games / 3600.0,
        blast=_blast(world, controller),
        final_versions={scenario.candidate.version: on_candidate,
                        scenario.current_model.version: world.layout.size - on_candidate - counts[S.BRICKED],
                        "bricked": counts[S.BRICKED]},
        halted=controller.halted, halt_reason=controller.halt_reason, halt_time=controller.halt_time,
        timeline=sorted(controller.timeline, key=lambda event: event.time),
        state_counts={state.name: Series(step=SAMPLE_STEP, values=[float(v) for v in step_values[state]])
                      for state in S},
        events_processed=world.events,
        provenance=provenance(scenario, seed),
    )
