"""Fluid downloads: each download moves at a rate that changes only at events, and finishes when computed.

Two levels of sharing:
- a site's uplink rate is split equally among the site's active downloads;
- the origin's egress cap C scales every download by the same factor s = min(1, C / demand), where demand is the
  sum of the site rates that have downloads going.

Because s is common to all downloads, progress is tracked on one global "scaled clock" W(t) = ∫ s dt: a download
of own rate r that started at W0 with `done` bytes has done + r·(W − W0) bytes. Its finish is a fixed point in
W, kept in one heap; a change of s only moves the single wake-up of the heap's first entry. Nothing costs per byte or
per chunk, and a change at one site touches only that site's downloads (docs/architecture.md, Performance).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import simpy

from sim.world.link import Uplinks

INF = math.inf


@dataclass(slots=True, eq=False)
class Download:
    device: int
    site: int
    size: float                  # bytes this attempt must move
    checkpoint: float            # progress survives an interruption up to a multiple of this
    resumable: bool
    done: float = 0.0            # bytes done as of `w_mark`
    moved: float = 0.0           # bytes this download has pulled from the origin, all attempts
    w_mark: float = 0.0
    rate: float = 0.0            # own rate before the egress scale
    active: bool = False
    delta: bool = False          # a delta rather than the full artifact (for the byte accounting)


@dataclass
class EgressMeter:
    """Origin egress integrated into fixed bins (for peak, p95, cost and the report's curve)."""

    step: float
    bins: np.ndarray

    def add(self, start: float, end: float, rate: float) -> None:
        if rate <= 0.0 or end <= start:
            return
        index = int(start // self.step)
        while start < end and index < len(self.bins):
            boundary = min(end, (index + 1) * self.step)
            self.bins[index] += rate * (boundary - start)
            start, index = boundary, index + 1


@dataclass
class Network:
    env: simpy.Environment
    uplinks: Uplinks
    cap: float
    meter: EgressMeter
    on_finished: Callable[[Download], None]
    schedule: Callable[[float, Callable[..., None], tuple], None]
    w: float = 0.0
    w_time: float = 0.0
    scale: float = 1.0
    demand: float = 0.0
    moved_total: float = 0.0
    moved_delta: float = 0.0
    _heap: list[tuple[float, int, int, int]] = field(default_factory=list)   # (finish in W, seq, version, site)
    _site_version: dict[int, int] = field(default_factory=dict)
    _sites: dict[int, list[Download]] = field(default_factory=dict)
    _site_rate: dict[int, float] = field(default_factory=dict)
    _site_watch: dict[int, float] = field(default_factory=dict)
    _wakeup_at: float = INF
    _sequence: int = 0

    # --- clock ---------------------------------------------------------------------------------------------------

    def _advance(self) -> None:
        """Bring W and the egress meter up to now."""
        now = self.env.now
        if now > self.w_time:
            self.meter.add(self.w_time, now, self.scale * self.demand)
            self.w += self.scale * (now - self.w_time)
            self.w_time = now

    def _rescale(self) -> None:
        self.scale = min(1.0, self.cap / self.demand) if self.demand > 0 else 1.0
        self._plan_wakeup()

    def _settle(self, download: Download) -> None:
        gained = min(download.rate * (self.w - download.w_mark), download.size - download.done)
        if gained > 0.0:
            download.done += gained
            download.moved += gained
            self.moved_total += gained
            if download.delta:
                self.moved_delta += gained
        download.w_mark = self.w

    # --- downloads -------------------------------------------------------------------------------------------

    def start(self, download: Download) -> None:
        self._advance()
        download.active = True
        download.w_mark = self.w
        site = download.site
        members = self._sites.setdefault(site, [])
        if not members:
            rate = self.uplinks.rate(site, self.env.now)
            self._site_rate[site] = rate
            self.demand += rate
            self._watch(site)
        members.append(download)
        self._share(site)
        self._rescale()

    def stop(self, download: Download) -> float:
        """Interrupt a download (power cut, cancel); returns the bytes kept under its resume rule."""
        if not download.active:
            return download.done
        self._advance()
        self._settle(download)
        self._detach(download)
        self._rescale()
        return self._kept(download)

    def _kept(self, download: Download) -> float:
        if not download.resumable:
            return 0.0
        return math.floor(download.done / download.checkpoint) * download.checkpoint

    def _detach(self, download: Download) -> None:
        download.active = False
        members = self._sites[download.site]
        members.remove(download)
        if not members:
            self.demand -= self._site_rate.pop(download.site)
            self._site_version[download.site] = self._site_version.get(download.site, 0) + 1
            if not self._site_rate:   # nothing downloads: no float residue of the subtractions may remain
                self.demand = 0.0
        else:
            self._share(download.site)

    def _share(self, site: int) -> None:
        """Split the site's rate among its downloads and re-key the site's next finish.

        All downloads at a site move at the same rate, so the one with the least left finishes first: the heap
        holds one entry per site, not one per download.
        """
        members = self._sites[site]
        each = self._site_rate[site] / len(members)
        least = math.inf
        for download in members:
            self._settle(download)
            download.rate = each
            least = min(least, download.size - download.done)
        version = self._site_version.get(site, 0) + 1
        self._site_version[site] = version
        if each > 0.0:
            self._sequence += 1
            heapq.heappush(self._heap, (self.w + least / each, self._sequence, version, site))

    # --- site link changes --------------------------------------------------------------------------------------

    def _watch(self, site: int) -> None:
        change = self.uplinks.next_change(site, self.env.now)
        if change < INF and self._site_watch.get(site, INF) > change:
            self._site_watch[site] = change
            self.schedule(change - self.env.now, self._site_changed, (site, change))

    def _site_changed(self, site: int, planned: float) -> None:
        if self._site_watch.get(site) != planned:
            return
        del self._site_watch[site]
        members = self._sites.get(site)
        if not members:
            return  # nobody downloads here any more: stop sampling this site's link
        self._advance()
        old, new = self._site_rate[site], self.uplinks.rate(site, self.env.now)
        if new == 0.0 and old > 0.0:
            self._drop_connections(members)
        self._site_rate[site] = new
        self.demand += new - old
        self._share(site)
        self._rescale()
        self._watch(site)

    def _drop_connections(self, members: list[Download]) -> None:
        """The link went down: each download keeps what its resume rule allows; the rest was moved for nothing."""
        for download in members:
            self._settle(download)
            download.done = self._kept(download)

    # --- completions -----------------------------------------------------------------------------------------

    def _valid_top(self) -> tuple[float, int, int, int] | None:
        heap, versions = self._heap, self._site_version
        while heap and heap[0][2] != versions.get(heap[0][3]):
            heapq.heappop(heap)
        return heap[0] if heap else None

    def _plan_wakeup(self) -> None:
        top = self._valid_top()
        if top is None:
            return
        due = self.env.now + max(0.0, (top[0] - self.w) / self.scale)
        if due < self._wakeup_at - 1e-9:
            self._wakeup_at = due
            self.schedule(due - self.env.now, self._wake, (due,))

    def _wake(self, planned: float) -> None:
        if planned == self._wakeup_at:
            self._wakeup_at = INF
        self._advance()
        tolerance = 1e-9 * (1.0 + self.w)
        finished: list[Download] = []
        while (top := self._valid_top()) is not None and top[0] <= self.w + tolerance:
            heapq.heappop(self._heap)
            finished.extend(self._finish_due(top[3], tolerance))
        self._rescale()
        for download in finished:
            self.on_finished(download)

    def _finish_due(self, site: int, tolerance: float) -> list[Download]:
        """Complete the site's downloads that are due, and re-share the rest.

        The heap said the least-remaining download is due, so it finishes even if rounding left a few bytes
        (anything else could loop forever); others that are equally close finish with it.
        """
        due = []
        members = self._sites[site]
        for download in members:
            self._settle(download)
        least = min(download.size - download.done for download in members)
        for download in list(members):
            if download.size - download.done <= least + download.rate * tolerance + 1e-6:
                remainder = download.size - download.done     # count the exact remainder, not rounding
                self.moved_total += remainder
                download.moved += remainder
                if download.delta:
                    self.moved_delta += remainder
                download.done = download.size
                self._detach(download)
                due.append(download)
        if self._sites[site]:
            self._share(site)
        return due

    def unfinished_bytes(self) -> float:
        """Bytes moved by downloads still going: settles every active download to now."""
        self._advance()
        for members in self._sites.values():
            for download in members:
                self._settle(download)
        return sum(download.moved for members in self._sites.values() for download in members)
