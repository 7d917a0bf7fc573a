"""The device update lifecycle, driven by scheduled callbacks.

Each step schedules the next one through `world.after`, tagged with the device's generation number. A fault
(power cut, rollback, cancellation) is an interrupt with a cause: it bumps the generation, which voids the step in
flight, then decides from the current state where the device resumes — the remaining work is resumed, not redone
(SimPy's machine-shop pattern, without a generator object per device: a million live generators cost gigabytes).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sim.model import streams
from sim.model.device_times import DeviceTimes
from sim.model.lifecycle import CORRUPT_DOWNLOAD, HELD_BY_A_GAME, IN_FLIGHT, LEFT_ON_CANDIDATE
from sim.model.lifecycle import DeviceState as S
from sim.model.memory import OUT_OF_MEMORY
from sim.model.units import format_duration
from sim.world.check_ins import CheckIns
from sim.world.defects import CohortDefects
from sim.world.fetching import Fetching
from sim.world.health import CRASHED, HealthCheck
from sim.world.links import DownloadLinks
from sim.world.network import Download
from sim.world.power import POWER_CUT
from sim.world.power_cuts import PowerCuts
from sim.world.server_side import ServerSide
from sim.world.service_loss import ServiceLoss
from sim.world.site_cache import SiteCache
from sim.world.staging import Staging
from sim.world.world import World

COOL_RETRY = 1800.0     # seconds between looks for a cooler moment to activate
Step = Callable[["Device"], None]


@dataclass(slots=True, eq=False)
class Device:
    """Per-device state that only exists while the device is part of the rollout."""

    id: int
    site: int
    generation: int = 0
    attempts: int = 0
    download: Download | None = None
    download_started: float = 0.0
    install_started: float = 0.0
    exposure_since: float = -1.0
    cut_counter: int = 0
    shadow: bool = False               # installed to run beside the current model; waits for promotion
    cool_below: float | None = None    # activate only when predicted to stay below this temperature
    seeding: bool = False              # fetching from the origin for its site's cache
    executions: int = 0                # in-progress timeouts: the server's executions of this update so far
    timed_out: bool = False            # timed out while installing: stops when the install ends


class Lifecycle(Fetching, ServerSide, Staging, PowerCuts):
    """A device's way through the update, from its release to its outcome; how it gets the bytes is the part in
    sim/world/fetching.py, what the server decides about it (orders at check-ins, withdrawals, timeouts) the part in
    sim/world/server_side.py (one object: the steps call each other across the files through `self`)."""

    def __init__(self, world: World):
        self.world = world
        scenario = world.scenario
        self.fleet = scenario.fleet
        self.artifact = scenario.artifact
        self.storage_needed = self.artifact.storage_needed
        self.times = DeviceTimes.of(scenario)          # per hardware model (calibrated boards differ)
        self._hardware = world.layout.hot_lists().device_hardware
        self.cut_rate = self.fleet.power_loss_per_day / 86400.0
        # by device id (a list: a dict of a million entries costs ~40 bytes per device more), and the order they
        # joined in, for sums that must add up in the same order every run
        self.devices: list[Device | None] = [None] * world.layout.size
        self._joined = array("i")
        self.in_flight = 0
        self.delivery = scenario.delivery
        self.cache = SiteCache()
        expiry = self.delivery.link_expiry
        self.links = DownloadLinks(expiry) if expiry is not None else None
        self.defects = CohortDefects(world.layout, scenario.candidate.defects)
        self.health = HealthCheck(world, self.defects)
        self._device_site = world.layout.hot_lists().device_site
        world.on_download_finished = self._downloaded
        poll = self.fleet.poll_interval
        self.check_ins = CheckIns(poll, world.seed, world.uplinks, self._device_site) if poll is not None else None
        self._unstarted: set[int] = set()   # released, their agent not checked in yet (only with a poll interval)
        self._delta_failed: set[int] = set()
        self._staged: set[int] = set()              # staged ahead, not released by the plan yet (sim/world/staging.py)
        self._staged_unreleased: set[int] = set()   # staged, released, their agent not checked in since (a halt
                                                    # withdraws these releases; sim/world/staging.py)
        self._failure_retries: dict[int, int] = {}     # device -> new executions after a failure (server_side.py)
        self._attempts_before: dict[int, int] = {}     # device -> its download attempts before its latest execution
        self._useful_counted: dict[int, float] = {}    # device -> bytes of its verified copy counted useful (kept
                                                       # only when a retry fetches again: it may drop the copy)
        self._retries_queued: dict[int, tuple[int, str]] = {}    # device -> (generation, why it failed) of a retry
                                                                # its agent has not picked up yet
        strategy = self.delivery.update_strategy
        self._stop_at_start = strategy == "kill_then_download"
        self._stop_at_switch = strategy != "hand_over"
        self.service_loss = ServiceLoss(world.calendar, scenario.duration)

    def staged(self, device_id: int) -> bool:
        return device_id in self._staged

    def joined(self) -> Iterator[Device]:
        """Every device that has joined the rollout, in the order it joined."""
        devices = self.devices
        return (devices[device_id] for device_id in self._joined)  # type: ignore[misc]

    def _device(self, device_id: int) -> Device:
        device = self.devices[device_id]
        assert device is not None, f"device {device_id} has not joined the rollout"
        return device

    # --- entry points ---------------------------------------------------------------------------------------

    def release(self, device_id: int, shadow: bool = False, cool_below: float | None = None) -> None:
        """The controller tells this device to update (or, for a device shadowing the candidate, to promote it)."""
        known = self.devices[device_id]
        if known is not None:
            if device_id in self._staged:
                self._order_release(known, shadow, cool_below)
            elif known.shadow and not shadow:
                self._on_order(known, lambda device: self._promote(device, cool_below))
            return
        device = self._join(device_id, shadow, cool_below)
        if self.check_ins is None:
            self._start(device)
        else:
            self._unstarted.add(device_id)
            self._on_order(device, self._picked_up)

    def _join(self, device_id: int, shadow: bool, cool_below: float | None) -> Device:
        device = Device(device_id, self._device_site[device_id], shadow=shadow, cool_below=cool_below)
        self.devices[device_id] = device
        self._joined.append(device_id)
        self.in_flight += 1
        return device

    def _start(self, device: Device) -> None:
        world, device_id = self.world, device.id
        world.move(device_id, S.DOWNLOADING)
        if float(world.layout.device_storage[device_id]) < self.storage_needed:
            # the agent's preflight, as on a rig (hil/preflight.py): no byte is fetched for a camera that cannot
            # hold the update, and its failure reports at once rather than a download later
            self._finish(device, S.FAILED, "insufficient storage")
            return
        if self._stop_at_start and not device.shadow:      # a shadow runs beside the current model by design
            self.service_loss.stop(device, self.world.now)
        self._begin_download(device)
        if self.delivery.in_progress_timeout is not None and device.id not in self._staged:   # timed from its release
            self._start_timeout(device)
        self._plan_power_cut(device)

    def _promote(self, device: Device, cool_below: float | None) -> None:
        device.shadow, device.cool_below = False, cool_below
        self.world.recorder.shadow_end[device.id] = self.world.now
        if self.world.state(device.id) == S.AWAITING_WINDOW:
            device.generation += 1
            self._await_window(device)

    def interrupt(self, device_id: int, cause: str, dark_for: float = 0.0) -> None:
        """A power cut (the device dark for `dark_for` before it reboots), or the controller rolling the device back
        (cause starts with 'rollback'; a polling agent learns of it at its next check-in)."""
        device = self.devices[device_id]
        if device is None:
            return
        if cause == POWER_CUT:
            state = self.world.state(device_id)
            if state in IN_FLIGHT or state == S.ROLLING_BACK:
                self._power_cut(device, state, dark_for)
        elif device_id in self._unstarted:
            self._withdraw(device, cause)       # the server drops the release its agent has not picked up
        else:
            self._on_order(device, lambda known: self._roll_back_if_running(known, cause))

    def _roll_back_if_running(self, device: Device, cause: str) -> None:
        state = self.world.state(device.id)
        if state in IN_FLIGHT or state == S.COMMITTED:
            self._roll_back_on_request(device, state, cause)

    # --- verify, install (the download before them: sim/world/fetching.py) ----------------------------------

    def _downloaded_device(self, device: Device) -> None:
        world = self.world
        # under the freeze nothing moves during a game (the uplink stops, LAN copies wait), however long the download
        # was held paused through one
        if not self.delivery.freeze_during_games and \
                world.calendar.game_during(device.site, device.download_started, world.now):
            world.recorder.downloads_during_games += 1
        world.move(device.id, S.VERIFYING)
        self._after(device, self.times.verify[self._hardware[device.id]], self._verified)

    def _verified(self, device: Device) -> None:
        world = self.world
        rate = self.artifact.corruption_rate
        corrupt = rate > 0 and streams.uniform(world.seed, streams.CORRUPT, device.id, device.attempts) < rate
        if corrupt:
            attempts = self._attempts(device)
            if attempts >= self.artifact.max_download_attempts:
                self._cache_abandoned(device)
                reason = f"{CORRUPT_DOWNLOAD} {attempts} times"
                if self._retry_left(device):
                    world.move(device.id, S.DOWNLOADING, f"{reason}: retried (delivery.failure_retries)")
                self._fail_or_retry(device, reason, self._begin_download)
                return
            world.move(device.id, S.DOWNLOADING, "checksum mismatch")
            self._after(device, self._backoff(attempts), self._begin_download)
            return
        if self.delivery.delta_apply_failure and self._fall_back_from_delta(device):
            world.move(device.id, S.DOWNLOADING, "delta did not apply: fetching the full image")
            self._begin_download(device)
            return
        if device.download is not None:
            world.recorder.useful_bytes += device.download.size
            if self.delivery.retry_fetches_again:       # a retry may drop this copy (sim/world/server_side.py)
                self._useful_counted[device.id] = device.download.size
        device.download = None
        if device.seeding:
            device.seeding = False
            self.cache.mark_ready(device.site)
            self._cache_ready(device.site)
        world.move(device.id, S.INSTALLING)
        self._begin_install(device)

    def _begin_install(self, device: Device) -> None:
        world = self.world
        if self.delivery.freeze_during_games:
            start = world.calendar.next_game_free(device.site, world.now, self._install_time(device))
            if start > world.now:   # a game is on or would be: install after it
                if self._held_too_long(device, world.now, start, "install"):
                    return
                if start < world.scenario.duration:
                    self._after(device, start - world.now, self._begin_install)
                return
        device.install_started = world.now
        self._after(device, self._install_time(device), self._installed)

    def _install_time(self, device: Device) -> float:
        return self.times.install[self._hardware[device.id]]

    def _activation_delay(self, device: Device) -> float:
        return self.times.activation[self._hardware[device.id]]

    def _installed(self, device: Device) -> None:
        world = self.world
        if world.calendar.game_during(device.site, device.install_started, world.now):
            world.recorder.installs_during_games += 1
        world.move(device.id, S.AWAITING_WINDOW)
        if device.timed_out:
            device.timed_out = False
            self._time_out(device, S.AWAITING_WINDOW)
            if world.state(device.id) != S.AWAITING_WINDOW:
                return
        self._await_window(device)

    # --- activation and health ----------------------------------------------------------------------------

    def _await_window(self, device: Device) -> None:
        world = self.world
        if device.id in self._staged:
            return   # installed ahead; switches once the plan releases it
        if device.shadow:
            problem = self.health.shadow_problem(device.id)
            if problem:      # the board cannot hold both models: the candidate is killed as it starts
                self._finish(device, S.FAILED, problem)
                return
            world.recorder.shadow_start[device.id] = world.now
            return   # runs beside the current model until promoted (release without shadow)
        start = self._activation_time(device)
        if start < world.scenario.duration:
            self._after(device, start - world.now, self._activate)

    def _activation_time(self, device: Device) -> float:
        """The next window moment with no game — and, when asked, cool enough to stay below `cool_below`; inf when
        a game holds the camera past `delivery.defer_limit` (it gives up then, scheduled here)."""
        world, moment = self.world, self.world.now
        need = self._activation_delay(device) + self.fleet.health_check
        deferring = self.delivery.defer_limit is not None
        while moment < world.scenario.duration:
            if deferring:
                ready = world.calendar.next_window(device.site, moment, need)
                moment = world.calendar.next_activation(device.site, ready, need) if ready < float("inf") else ready
                if self._held_too_long(device, ready, moment, "switch"):
                    return float("inf")
            else:
                moment = world.calendar.next_activation(device.site, moment, need)
            if device.cool_below is None or moment == float("inf") or \
                    world.thermal.after_switch(device.id, moment, self.fleet.health_check) < device.cool_below:
                return moment
            moment += COOL_RETRY
        return float("inf")

    def _held_too_long(self, device: Device, ready: float, start: float, step: str) -> bool:
        """Whether a game holding the camera's `step` from `ready` to `start` outlasts `delivery.defer_limit`, as a
        Mender state script answering 'retry later' runs out of its retry window: then the camera gives up at the
        limit's end and fails its update, the candidate never switched to (so the current model is kept)."""
        limit = self.delivery.defer_limit
        if limit is None or ready == float("inf") or start - ready <= limit:   # inf: no window ever, no game to blame
            return False
        give_up = ready + limit
        if give_up < self.world.scenario.duration:
            reason = (f"{HELD_BY_A_GAME} past delivery.defer_limit ({format_duration(limit)}): the {step} given up, "
                      "the current model kept")
            again = self._await_window if step == "switch" else self._begin_install
            self._after(device, give_up - self.world.now, lambda held: self._fail_or_retry(held, reason, again))
        return True

    def _activate(self, device: Device) -> None:
        self.world.move(device.id, S.ACTIVATING)
        if self._stop_at_switch:
            self.service_loss.stop(device, self.world.now)
        self._after(device, self._activation_delay(device), self._check_health)

    def _check_health(self, device: Device) -> None:
        world = self.world
        world.move(device.id, S.HEALTH_CHECK)
        self.service_loss.running(device, world.now)
        world.recorder.candidate_start[device.id] = world.now
        world.recorder.candidate_end[device.id] = float("inf")
        if self.defects.exposed(device.id):
            device.exposure_since = world.now
        self._after(device, self.fleet.health_check, self._judge)

    def _judge(self, device: Device) -> None:
        problem = self.health.problem(device.id)
        if not problem:
            self._finish(device, S.COMMITTED)
        elif self.delivery.failure_handling == "rollback":
            self._start_rollback(device, problem)
        else:
            self._leave_failing(device, problem)

    def _leave_failing(self, device: Device, problem: str) -> None:
        """Greengrass' DO_NOTHING: the update is reported FAILED with the candidate left running (its exposure and
        heat go on, counted to the run's end); a crashed inference service, or one the board had no memory for,
        leaves the camera with no model at all."""
        self._finish(device, S.FAILED, f"{problem}; {LEFT_ON_CANDIDATE}")
        if problem == CRASHED or problem.startswith(OUT_OF_MEMORY):     # the candidate's service is gone
            self.service_loss.stop(device, self.world.now)

    # --- rollback and endings -------------------------------------------------------------------------------

    def _start_rollback(self, device: Device, reason: str) -> None:
        self._end_exposure(device)
        self.service_loss.stop(device, self.world.now)
        self.world.move(device.id, S.ROLLING_BACK, reason)
        self._after(device, self.times.rollback[self._hardware[device.id]], self._rolled_back)

    def _rolled_back(self, device: Device) -> None:
        self._finish(device, S.ROLLED_BACK)

    def _roll_back_on_request(self, device: Device, state: S, cause: str) -> None:
        device.generation += 1
        if state in (S.ACTIVATING, S.HEALTH_CHECK, S.COMMITTED):
            if state == S.COMMITTED:
                self.in_flight += 1
            self._start_rollback(device, cause)
            return
        self._give_up_download(device)
        if device.shadow and state == S.AWAITING_WINDOW:
            self.world.recorder.shadow_end[device.id] = self.world.now
        self._finish(device, S.IDLE, cause)

    def _finish(self, device: Device, state: S, reason: str = "") -> None:
        world = self.world
        world.move(device.id, state, reason, device.id not in self._staged)   # staged: heard of at its release
        if self._useful_counted:
            self._useful_counted.pop(device.id, None)    # no retry after an outcome: a million entries otherwise
        if state in (S.ROLLED_BACK, S.BRICKED):
            self._end_exposure(device)
            world.recorder.candidate_end[device.id] = world.now
        if state == S.BRICKED:       # nothing bootable: no model to the run's end
            self.service_loss.stop(device, world.now)
        elif self.service_loss.without_model(device.id):    # rolled back, or failed or called off before the switch
            restarted = world.now if state == S.ROLLED_BACK else world.now + self._activation_delay(device)
            self.service_loss.running(device, restarted)
        self.in_flight -= 1
        world.on_settled(device.id)

    def _end_exposure(self, device: Device) -> None:
        if device.exposure_since >= 0:
            self.world.recorder.exposure_seconds += self.world.now - device.exposure_since
            device.exposure_since = -1.0

    # --- plumbing -------------------------------------------------------------------------------------------

    def _after(self, device: Device, delay: float, step: Step) -> None:
        self.world.after(delay, self._step, (device, device.generation, step))

    def _step(self, device: Device, generation: int, step: Step) -> None:
        if generation == device.generation:
            step(device)
