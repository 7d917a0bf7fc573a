"""Site uplinks: a base bandwidth, a daily pattern in local time, outages, and scripted regional faults.

The outage process of a site (alternating exponential up and down periods, MTBF/MTTR) is generated from the
site's own stream, period by period, only when somebody asks about that site: a site nobody downloads from costs
nothing, and because periods are drawn in order from fixed counters, a site has the same outages whichever
strategy runs and whenever it is asked (docs/architecture.md, Performance: link state is sampled lazily, only
while it matters).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sim.model import streams
from sim.model.scenario import Scenario
from sim.world.fleet import FleetLayout

if TYPE_CHECKING:
    from sim.world.calendar import SiteCalendar

INF = math.inf
DAY = 86400.0


@dataclass(slots=True)
class _OutageState:
    site: int
    up: bool
    change_at: float     # simulated time of the next flip
    counter: int         # index of the period that ends at change_at


@dataclass(frozen=True)
class _Pattern:
    starts: tuple[float, ...]       # seconds after local midnight, sorted
    multipliers: tuple[float, ...]

    def at(self, local: float) -> float:
        index = bisect.bisect_right(self.starts, local % DAY) - 1
        return self.multipliers[index]  # index -1 wraps to the last entry, which runs past midnight

    def next_boundary(self, local: float) -> float:
        """Local time of the next change of multiplier strictly after `local` (inf for a flat pattern)."""
        if len(self.starts) == 1:
            return INF
        day_start = local - local % DAY
        index = bisect.bisect_right(self.starts, local % DAY)
        if index < len(self.starts):
            return day_start + self.starts[index]
        return day_start + DAY + self.starts[0]


@dataclass
class Uplinks:
    """Answers, for any site and any time not earlier than the last question about that site, its link rate."""

    layout: FleetLayout
    seed: int
    patterns: list[_Pattern]
    outages: list[tuple[float, float] | None]          # (mtbf, mttr) per site kind
    fault_windows: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    freeze: "SiteCalendar | None" = None     # games pause artifact traffic (game-day freeze)
    horizon: float = INF                     # the run's end: a report that would leave later is never heard
    _state: dict[int, _OutageState] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._hot = self.layout.hot_lists()
        self._bandwidth = self.layout.site_bandwidth.tolist()

    @classmethod
    def for_scenario(cls, scenario: Scenario, layout: FleetLayout, seed: int,
                     calendar: "SiteCalendar | None" = None) -> "Uplinks":
        patterns, outages = [], []
        for kind in scenario.fleet.site_kinds.values():
            starts = tuple(int(key[:2]) * 3600.0 + int(key[3:]) * 60.0 for key in kind.daily_pattern)
            patterns.append(_Pattern(starts, tuple(kind.daily_pattern.values())))
            outages.append((kind.outages.mtbf, kind.outages.mttr) if kind.outages else None)
        freeze = calendar if scenario.delivery.freeze_during_games else None
        links = cls(layout, seed, patterns, outages, freeze=freeze, horizon=scenario.duration)
        links._add_scripted_outages(scenario)
        return links

    def _add_scripted_outages(self, scenario: Scenario) -> None:
        for number, fault in enumerate(scenario.faults):
            if fault.kind != "outage":
                continue
            for site in range(self.layout.sites):
                kind = self.layout.kind_names[self.layout.site_kind[site]]
                if fault.cohort.site_kind not in (None, kind):
                    continue
                if streams.uniform(self.seed, streams.FAULT, site, number) < fault.share:
                    self.fault_windows.setdefault(site, []).append((fault.at, fault.at + fault.duration))

    # --- the natural outage process ---------------------------------------------------------------------------

    def _outage_state(self, site: int, time: float) -> _OutageState | None:
        params = self.outages[self._hot.site_kind[site]]
        if params is None:
            return None
        state = self._state.get(site)
        if state is None:
            mtbf, mttr = params
            up = streams.uniform(self.seed, streams.OUTAGE, site, 0) < mtbf / (mtbf + mttr)
            first = streams.exponential(self.seed, streams.OUTAGE, site, 1, mtbf if up else mttr)
            state = self._state[site] = _OutageState(site, up, first, 1)
        self._advance(state, params, time)
        return state

    def _advance(self, state: _OutageState, params: tuple[float, float], time: float) -> None:
        while state.change_at <= time:
            state.up = not state.up
            state.counter += 1
            mean = params[0] if state.up else params[1]
            state.change_at += streams.exponential(self.seed, streams.OUTAGE, state.site, state.counter, mean)

    # --- questions ---------------------------------------------------------------------------------------------

    def _in_fault(self, site: int, time: float) -> bool:
        windows = self.fault_windows.get(site)
        if not windows:
            return False
        return any(start <= time < end for start, end in windows)

    def is_up(self, site: int, time: float) -> bool:
        state = self._outage_state(site, time)
        return (state is None or state.up) and not self._in_fault(site, time)

    def rate(self, site: int, time: float) -> float:
        """Bytes per second the site's uplink carries for the artifact at `time` (0 while down or frozen)."""
        if not self.is_up(site, time) or (self.freeze is not None and self.freeze.game_at(site, time)):
            return 0.0
        pattern = self.patterns[self._hot.site_kind[site]]
        if len(pattern.starts) == 1:
            return self._bandwidth[site] * pattern.multipliers[0]
        return self._bandwidth[site] * pattern.at(time + self._hot.site_utc_offset[site])

    def next_change(self, site: int, time: float) -> float:
        """The first time after `time` at which the rate may change."""
        offset = self._hot.site_utc_offset[site]
        candidates = [self.patterns[self._hot.site_kind[site]].next_boundary(time + offset) - offset]
        state = self._outage_state(site, time)
        if state is not None:
            candidates.append(state.change_at)
        for start, end in self.fault_windows.get(site, ()):
            candidates.extend(edge for edge in (start, end) if edge > time)
        if self.freeze is not None:
            candidates.append(self.freeze.next_game_edge(site, time))
        return min(candidates)

    def next_up(self, site: int, time: float) -> float:
        """The earliest time not before `time` at which the site's uplink is up (when a report gets out).

        Looks ahead on a copy of the outage state, so later questions about `time` itself still see the present.
        """
        stored = self._outage_state(site, time)
        params = self.outages[self._hot.site_kind[site]]
        ahead = None if stored is None else _OutageState(stored.site, stored.up, stored.change_at, stored.counter)
        probe = time
        for _ in range(100_000):
            if (ahead is None or ahead.up) and not self._in_fault(site, probe):
                return probe
            edges = [ahead.change_at] if ahead is not None and not ahead.up else []
            edges.extend(end for start, end in self.fault_windows.get(site, ()) if start <= probe < end)
            probe = max(probe, min(edges))
            if probe > self.horizon:
                # Never heard, as a report leaving later would be; and the outages past the end are not drawn (a
                # scripted outage of years once made every report from its sites walk its natural outages to there)
                return INF
            if ahead is not None and params is not None:
                self._advance(ahead, params, probe)
        return INF
