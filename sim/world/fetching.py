"""How a device in the rollout gets the artifact: from its site's cache over the LAN, or from the origin (one
seeder per site when there is a cache), on a download link that may expire; a corrupt download or an expired link
fetched again after the retry backoff; a power cut's reboot resuming what its resume rule kept.

The download part of the lifecycle (sim/world/device.py), which `Lifecycle` inherits: the steps call the
lifecycle's own (`_after`, `_finish`, `_downloaded_device`) through `self` (sim/world/lifecycle_parts.py declares
what they share).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.model import streams
from sim.model.lifecycle import DeviceState as S
from sim.world.lifecycle_parts import LifecycleParts
from sim.world.network import Download

if TYPE_CHECKING:
    from sim.world.device import Device


class Fetching(LifecycleParts):
    # --- from the origin or the site cache ------------------------------------------------------------------

    def _begin_download(self, device: Device) -> None:
        device.attempts += 1
        device.download_started = self.world.now
        setup = self.times.transfer_setup[self._hardware[device.id]]
        if setup > 0:
            self._after(device, setup, self._fetch)
        else:
            self._fetch(device)

    def _fetch(self, device: Device) -> None:
        """From the site cache over the LAN when it has the artifact, else from the origin (one seeder per site)."""
        if self.delivery.site_cache:
            if self.cache.ready(device.site):
                self._copy_from_cache(device)
                return
            if not self.cache.take_seeding(device.site, device.id):
                return   # waits for the site's seeder; woken by _cache_ready
            device.seeding = True
        size, delta = self.download_size(device.id)
        # protocol overhead: a link carries the payload at `transfer_efficiency` of its rate
        on_wire = size / self.times.transfer_efficiency[self._hardware[device.id]]
        device.download = Download(device.id, device.site, on_wire, self.artifact.checkpoint,
                                   self.artifact.resumable)
        device.download.delta = delta
        self.world.network.start(device.download)
        if self.links is not None:
            self._watch_link(device, self.links.issue(device.id, self.world.now))

    def download_size(self, device_id: int) -> tuple[float, bool]:
        """(bytes to fetch, whether they are the delta): a delta is a delta whatever its size, even the full's. The
        origin knows each camera's base version, so a plan's egress budget counts the same bytes (not the full image
        a camera fetches after a delta that did not apply: the origin could not know)."""
        if not (self.delivery.delta and self.artifact.delta_size) or device_id in self._delta_failed:
            return self.artifact.full_size, False
        mismatch = streams.uniform(self.world.seed, streams.DELTA_BASE, device_id) < self.delivery.base_mismatch
        return (self.artifact.full_size, False) if mismatch else (self.artifact.delta_size, True)

    def _fall_back_from_delta(self, device: Device) -> bool:
        """Once the delta is in: whether it does not apply, in which case the device is marked to fetch the full
        image (its delta bytes are wasted), from the origin as when it fetched the delta."""
        download = device.download
        if download is None or not download.delta or \
                streams.uniform(self.world.seed, streams.DELTA_APPLY, device.id) >= self.delivery.delta_apply_failure:
            return False
        self._delta_failed.add(device.id)
        device.download = None
        return True

    def _copy_from_cache(self, device: Device) -> None:
        """Over the site's LAN; under the game-day freeze in the first stretch with no game that the copy fits in (the
        freeze stops the uplink during games, and a LAN copy loads the same cameras)."""
        world, copying = self.world, self.artifact.full_size / self.delivery.lan_rate
        start = world.now
        if self.delivery.freeze_during_games:
            start = world.calendar.next_game_free(device.site, start, copying)
            if start >= world.scenario.duration:
                return   # never within the run: it stays downloading
        device.download_started = start     # its download is the copy, not the wait for the site's seeder
        self._after(device, start - world.now + copying, self._copied_from_cache)

    def _copied_from_cache(self, device: Device) -> None:
        self.world.recorder.lan_bytes += self.artifact.full_size
        self._downloaded_device(device)

    def _cache_ready(self, site: int) -> None:
        for waiting in self.cache.ready_now(site):
            device = self._device(waiting)
            if self.world.state(waiting) == S.DOWNLOADING:
                self._copy_from_cache(device)

    def _cache_abandoned(self, device: Device) -> None:
        """The seeder stopped (failed or cancelled): the next waiting camera of the site fetches instead."""
        if not device.seeding:
            return
        device.seeding = False
        successor = self.cache.hand_over(device.site)
        if successor is not None:
            self._fetch(self._device(successor))

    def _downloaded(self, download: Download) -> None:
        self._downloaded_device(self._device(download.device))

    def _attempts(self, device: Device) -> int:
        """The device's download attempts in the update's current execution (a retry after a failure counts afresh,
        while the draws that decide a corrupt copy go on by the device's attempts in all)."""
        return device.attempts - self._attempts_before.get(device.id, 0)

    def _backoff(self, attempts: int) -> float:
        retries = self.delivery.retries
        if retries is None:
            return 0.0
        return min(retries.backoff * retries.factor ** (attempts - 1), retries.max_backoff)

    # --- stopping and resuming ------------------------------------------------------------------------------

    def _drop_download(self, device: Device) -> None:
        if device.download is not None and device.download.active:
            self.world.network.stop(device.download)
        device.download = None

    def _give_up_download(self, device: Device) -> None:
        """The device stops fetching (called off, timed out, or to fetch again): the bytes in flight stop, its site's
        cache forgets it, and if it seeded the cache the next waiting camera of the site fetches instead."""
        self._drop_download(device)
        self.cache.forget(device.site, device.id)
        self._cache_abandoned(device)

    def _resume_download(self, device: Device) -> None:
        if device.download is None:
            self._fetch(device)   # was copying from the site cache, or waiting for it, when the power went
        elif self.links is not None and self.links.left(device.id, self.world.now) <= 0.0:
            self._renew_link(device)    # its link expired while it was dark (or waiting to ask for a new one)
        else:
            self.world.network.start(device.download)
            if self.links is not None:
                self._watch_link(device, self.links.left(device.id, self.world.now))

    # --- download links that expire (sim/world/links.py) ------------------------------------------------------

    def _watch_link(self, device: Device, works_for: float) -> None:
        self.world.after(works_for, self._link_expired, (device, device.generation, device.attempts))

    def _link_expired(self, device: Device, generation: int, attempts: int) -> None:
        """The attempt's link stopped working: the download keeps what its resume rule allows, and the device asks
        for a new link after the retry backoff, or fails once its attempts are spent."""
        if (generation, attempts) != (device.generation, device.attempts) or device.download is None \
                or not device.download.active:
            return      # that attempt's bytes are all in (verifying, or waiting to fetch again after a corrupt
            #             download), or a power cut or rollback took over (a reboot watches anew)
        device.download.done = self.world.network.stop(device.download)
        attempts = self._attempts(device)
        if attempts >= self.artifact.max_download_attempts:
            if not self._retry_left(device):      # else a new execution carries on from the bytes kept, on a new link
                self._drop_download(device)
                self._cache_abandoned(device)
            self._fail_or_retry(device, f"download link expired {attempts} times", self._renew_link)
            return
        self._after(device, self._backoff(attempts), self._renew_link)

    def _renew_link(self, device: Device) -> None:
        assert device.download is not None and not device.download.active and self.links is not None
        device.attempts += 1
        self.world.network.start(device.download)
        self._watch_link(device, self.links.issue(device.id, self.world.now))
