"""Fluid downloads: each download moves at a rate that changes only at events, and finishes when computed.

Two levels of sharing:
- a site's uplink rate is split equally among the site's active downloads;
- the origin's egress cap C is shared between the sites that have downloads going, by one of two rules
  (`fleet.egress_sharing`):
  - `fair` (max-min, water-filling; the default): a site whose uplink is below the level L gets all of it, the
    others get L each, where L solves Σ min(r_i, L) = C — what TCP flows through a CDN approach;
  - `proportional`: every site's rate is scaled by the same factor s = min(1, C / Σ r_i).

Progress is tracked on two global clocks, so a change of the sharing moves no download individually:
- the scaled clock W(t) = ∫ s dt for sites that get their own rate r (s = 1 under `fair`): a download of own rate r/n
  that started at W0 with `done` bytes has done + r/n·(W − W0) bytes;
- the level clock Λ(t) = ∫ L dt for capped sites (`fair` only): their downloads have done + (Λ − Λ0)/n bytes.
A site's next finish is a fixed point on its clock, kept in that clock's heap; a change of s or L only moves the
wake-up of the heaps' first entries. Under `fair`, only the sites that cross the level when it moves are re-keyed
(two heaps of site rates find them). Nothing costs per byte or per chunk, and a change at one site touches only that
site's downloads (docs/architecture.md, Performance).
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
    w_mark: float = 0.0          # its site's clock (W, or Λ when the site is capped) when `done` was last settled
    rate: float = 0.0            # bytes per unit of its site's clock
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
    fair: bool = True
    w: float = 0.0               # the scaled clock W
    lam: float = 0.0             # the level clock Λ
    w_time: float = 0.0
    scale: float = 1.0           # s: 1 under `fair`
    level: float = INF           # L: the share of each capped site (`fair`)
    demand: float = 0.0          # Σ r of the sites that run at their own (scaled) rate
    moving_free: int = 0         # how many of those sites have r > 0: none, and `demand` is exactly zero
    moved_total: float = 0.0
    moved_delta: float = 0.0
    _heap: list[tuple[float, int, int, int]] = field(default_factory=list)        # (finish on W, seq, version, site)
    _level_heap: list[tuple[float, int, int, int]] = field(default_factory=list)  # (finish on Λ, …)
    _site_version: list[int] = field(init=False)     # per site: the version its finish-heap entries must carry
    _sites: dict[int, list[Download]] = field(default_factory=dict)
    _site_rate: dict[int, float] = field(default_factory=dict)
    _site_watch: dict[int, float] = field(default_factory=dict)
    _capped: set[int] = field(default_factory=set)
    _free_by_rate: list[tuple[float, int, int]] = field(default_factory=list)     # (−r, site, rate version)
    _capped_by_rate: list[tuple[float, int, int]] = field(default_factory=list)   # (r, site, rate version)
    _rate_version: list[int] = field(init=False)     # per site: the version its rate-heap entries must carry
    _wakeup_at: float = INF
    _sequence: int = 0
    _filling: bool = field(init=False)     # water-filling is on: the fair rule with a finite cap

    def __post_init__(self) -> None:
        self._filling = self.fair and self.cap != INF
        # lists by site id, not dicts: every look at a heap's top checks one; at a million cameras (300,000 sites)
        # the lists cost ~15 MB less peak memory (the run's time did not move beyond noise)
        self._site_version = [0] * self.uplinks.layout.sites
        self._rate_version = [0] * self.uplinks.layout.sites

    # --- clocks --------------------------------------------------------------------------------------------------

    def _advance(self) -> None:
        """Bring W, Λ and the egress meter up to now."""
        now = self.env.now
        if now > self.w_time:
            spent = now - self.w_time
            if self._capped:
                self.meter.add(self.w_time, now, self.scale * self.demand + self.level * len(self._capped))
                self.lam += self.level * spent
            else:
                self.meter.add(self.w_time, now, self.scale * self.demand)
            self.w += self.scale * spent
            self.w_time = now

    def _clock(self, site: int) -> float:
        return self.lam if site in self._capped else self.w

    def _change_demand(self, old: float, new: float) -> None:
        """A free site's rate goes from `old` to `new` (0 when it joins or leaves the free sites).

        When no free site moves any more (the last ones are down in an outage) the demand is set to exactly zero:
        the sum of additions and subtractions would leave a float residue (±1e-9 to 1e-6 B/s) that the meter
        records as traffic, and an egress percentile over the bins with traffic counted those bins."""
        self.moving_free += (new > 0.0) - (old > 0.0)
        if self.moving_free:
            self.demand += new - old
        else:
            self.demand = 0.0

    def _rescale(self) -> None:
        if self.fair:
            self._fill_level()
        else:
            self.scale = min(1.0, self.cap / self.demand) if self.demand > 0 else 1.0
        self._plan_wakeup()

    def _settle(self, download: Download) -> None:
        self._settle_on(download, self._clock(download.site))

    def _settle_on(self, download: Download, clock: float) -> None:
        """Bring the download's `done` up to its site's clock reading `clock`."""
        gained = min(download.rate * (clock - download.w_mark), download.size - download.done)
        if gained > 0.0:
            download.done += gained
            download.moved += gained
            self.moved_total += gained
            if download.delta:
                self.moved_delta += gained
        download.w_mark = clock

    # --- water-filling (fair) ----------------------------------------------------------------------------------

    def _index_rate(self, site: int) -> None:
        """(Re)file the site's rate in the heap of its class, for the water-filling."""
        version = self._rate_version[site] + 1
        self._rate_version[site] = version
        rate = self._site_rate[site]
        if site in self._capped:
            heapq.heappush(self._capped_by_rate, (rate, site, version))
        else:
            heapq.heappush(self._free_by_rate, (-rate, site, version))

    def _top(self, heap: list[tuple[float, int, int]]) -> tuple[float, int, int] | None:
        versions = self._rate_version     # a site that stops downloading bumps its version: no look at its members
        while heap:
            top = heap[0]
            if top[2] == versions[top[1]]:
                return top
            heapq.heappop(heap)
        return None

    def _fill_level(self) -> None:
        """Move sites across the level until it is max-min fair: every capped site's uplink at or above L, every
        other below it, with Σ min(r, L) = C. Only the sites that cross are touched."""
        if not self._filling:
            return
        for _ in range(4 * len(self._sites) + 8):       # each pass moves one site across; it settles in a few
            level = (self.cap - self.demand) / len(self._capped) if self._capped else INF
            lowest = self._top(self._capped_by_rate)
            if lowest is not None and lowest[0] < level:
                self._move(lowest[1], capped=False)
                continue
            highest = self._top(self._free_by_rate)
            over = self.demand > self.cap if not self._capped else highest is not None and -highest[0] > level
            if highest is not None and over:
                self._move(highest[1], capped=True)
                continue
            self.level = level
            return
        raise AssertionError("the water-filling did not settle")   # a bug, never an input's doing

    def _move(self, site: int, capped: bool) -> None:
        """Settle the site's downloads on the clock they ran on, then put it on the other one."""
        for download in self._sites[site]:
            self._settle(download)
        if capped:
            self._capped.add(site)
            self._change_demand(self._site_rate[site], 0.0)
        else:
            self._capped.discard(site)
            self._change_demand(0.0, self._site_rate[site])
            if not self._capped:
                self.lam = 0.0
        for download in self._sites[site]:
            download.w_mark = self._clock(site)
        self._index_rate(site)
        self._share(site)

    # --- downloads -------------------------------------------------------------------------------------------

    def start(self, download: Download) -> None:
        self._advance()
        download.active = True
        site = download.site
        members = self._sites.get(site)
        if members is None:
            members = self._sites[site] = []
        if not members:
            rate = self.uplinks.rate(site, self.env.now)
            self._site_rate[site] = rate
            self._change_demand(0.0, rate)
            if self._filling:
                self._index_rate(site)
            self._watch(site)
        download.w_mark = self._clock(site)
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
        site = download.site
        members = self._sites[site]
        members.remove(download)
        if not members:
            rate = self._site_rate.pop(site)
            if site in self._capped:
                self._capped.discard(site)
                if not self._capped:
                    self.lam = 0.0
            else:
                self._change_demand(rate, 0.0)
            self._site_version[site] += 1
            self._rate_version[site] += 1
        else:
            self._share(site)

    def _share(self, site: int) -> None:
        """Split the site's rate among its downloads and re-key the site's next finish on its clock.

        All downloads at a site move at the same rate, so the one with the least left finishes first: the heaps
        hold one entry per site, not one per download.
        """
        members = self._sites[site]
        capped = site in self._capped
        each = (1.0 if capped else self._site_rate[site]) / len(members)
        clock = self.lam if capped else self.w
        least = math.inf
        settle = self._settle_on
        for download in members:
            settle(download, clock)
            download.rate = each
            remaining = download.size - download.done
            if remaining < least:
                least = remaining
        version = self._site_version[site] + 1
        self._site_version[site] = version
        if each > 0.0:
            self._sequence += 1
            entry = (clock + least / each, self._sequence, version, site)
            heapq.heappush(self._level_heap if capped else self._heap, entry)

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
        if site not in self._capped:
            self._change_demand(old, new)
        if self._filling:
            self._index_rate(site)
        self._share(site)
        self._rescale()
        self._watch(site)

    def _drop_connections(self, members: list[Download]) -> None:
        """The link went down: each download keeps what its resume rule allows; the rest was moved for nothing."""
        for download in members:
            self._settle(download)
            download.done = self._kept(download)

    # --- completions -----------------------------------------------------------------------------------------

    def _valid_top(self, heap: list[tuple[float, int, int, int]]) -> tuple[float, int, int, int] | None:
        versions = self._site_version
        while heap:
            top = heap[0]
            if top[2] == versions[top[3]]:
                return top
            heapq.heappop(heap)
        return None

    def _plan_wakeup(self) -> None:
        due = INF
        top = self._valid_top(self._heap)
        if top is not None and self.scale > 0:
            due = self.env.now + max(0.0, (top[0] - self.w) / self.scale)
        top = self._valid_top(self._level_heap)
        if top is not None and self._capped and self.level > 0:
            due = min(due, self.env.now + max(0.0, (top[0] - self.lam) / self.level))
        if due < self._wakeup_at - 1e-9:
            self._wakeup_at = due
            self.schedule(due - self.env.now, self._wake, (due,))

    def _wake(self, planned: float) -> None:
        if planned == self._wakeup_at:
            self._wakeup_at = INF
        self._advance()
        finished: list[Download] = []
        for heap, clock in ((self._heap, self.w), (self._level_heap, self.lam)):
            tolerance = 1e-9 * (1.0 + clock)
            while (top := self._valid_top(heap)) is not None and top[0] <= clock + tolerance:
                heapq.heappop(heap)
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
