"""Local-time calendars of sites: daily install windows and the games during which nothing may be disturbed.

Simulated time 0 is `scenario.start_time` UTC (midnight by default) on `scenario.start_weekday`; a site's local
time is simulated time plus its UTC offset and the start time (`site_utc_offset`, sim/world/fleet.py). Whether a
site has a game on a given day is drawn from the site's own stream, so it is the same under every strategy.
"""

from __future__ import annotations

import math

from sim.model import streams
from sim.model.fleet_spec import WEEKDAYS, Games
from sim.model.scenario import Scenario
from sim.world.fleet import FleetLayout

DAY = 86400.0
SEARCH_DAYS = 60


class SiteCalendar:
    def __init__(self, scenario: Scenario, layout: FleetLayout, seed: int):
        self.layout = layout
        self.seed = seed
        self.first_weekday = WEEKDAYS.index(scenario.start_weekday)
        self.horizon = scenario.duration
        self.windows = sorted((window.start, window.duration) for window in scenario.fleet.install_windows)
        self.games: list[Games | None] = [kind.games for kind in scenario.fleet.site_kinds.values()]
        self._hot = layout.hot_lists()

    def _offset(self, site: int) -> float:
        return self._hot.site_utc_offset[site]

    def _has_games(self, site: int) -> bool:
        return self.games[self._hot.site_kind[site]] is not None

    def game_interval(self, site: int, local_day: int) -> tuple[float, float] | None:
        """(start, end) in local seconds of the game at `site` on `local_day`, or None."""
        games = self.games[self._hot.site_kind[site]]
        if games is None:
            return None
        weekday = WEEKDAYS[(self.first_weekday + local_day) % 7]
        if weekday not in games.days:
            return None
        if games.probability < 1.0 and \
                streams.uniform(self.seed, streams.GAME, site, local_day + 1000) >= games.probability:
            return None
        start = local_day * DAY + games.start
        return (start, start + games.duration)

    def _games_between(self, site: int, local_start: float, local_end: float) -> list[tuple[float, float]]:
        first_day = math.floor(local_start / DAY) - 1   # a game may start the day before and run past midnight
        last_day = math.floor(local_end / DAY)
        found = (self.game_interval(site, day) for day in range(first_day, last_day + 1))
        return [game for game in found if game and game[0] < local_end and game[1] > local_start]

    def game_during(self, site: int, start: float, end: float) -> bool:
        """Whether a game at the site overlaps the simulated interval [start, end]."""
        if not self._has_games(site):
            return False
        offset = self._offset(site)
        return bool(self._games_between(site, start + offset, max(end, start) + offset + 1e-9))

    def game_seconds(self, site: int, start: float, end: float) -> float:
        """How many seconds of the simulated interval [start, end] a game at the site was on."""
        games = self.games[self._hot.site_kind[site]]
        if games is None or end <= start:
            return 0.0
        offset = self._offset(site)
        local_start, local_end = start + offset, end + offset
        # most intervals asked about (a camera's switch, a minute in its install window) miss the games' hours of any
        # day: known from the time of day alone, without drawing which days have a game
        if (games.start - local_start) % DAY >= end - start and (local_start - games.start) % DAY >= games.duration:
            return 0.0
        return sum(min(local_end, game_end) - max(local_start, game_start)
                   for game_start, game_end in self._games_between(site, local_start, local_end))

    def game_at(self, site: int, time: float) -> bool:
        if not self._has_games(site):
            return False
        local = time + self._offset(site)
        return bool(self._games_between(site, local, local + 1e-9))

    def next_game_edge(self, site: int, time: float) -> float:
        """The next start or end of a game at the site after `time`, looking as far as the run's end (inf when there
        is none). Not a week ahead only: with games on some days by chance, the next can be weeks away, and the
        uplink's next change under the freeze must still be seen (a download once ran through such a game).

        A site kind's games start at one local time and last at most a day, so a day's game ends before the next
        day's starts: the first day with an edge after `time` holds the earliest."""
        if not self._has_games(site):
            return math.inf
        offset = self._offset(site)
        local = time + offset
        for day in range(math.floor(local / DAY) - 1, math.floor((self.horizon + offset) / DAY) + 1):
            game = self.game_interval(site, day)
            if game is not None:
                for edge in game:
                    if edge > local:
                        return edge - offset
        return math.inf

    def next_game_free(self, site: int, time: float, need: float) -> float:
        """The earliest time ≥ `time` that starts `need` seconds with no game at the site."""
        offset = self._offset(site)
        found = self._fit(site, time + offset, time + offset + SEARCH_DAYS * DAY, need)
        return math.inf if found is None else found - offset

    def next_activation(self, site: int, time: float, need: float) -> float:
        """The earliest simulated time ≥ `time` that starts `need` seconds inside an install window with no game.

        Returns inf when no such moment exists within SEARCH_DAYS (a straggler waiting for a window).
        """
        offset = self._offset(site)
        local = time + offset
        today = math.floor(local / DAY)
        for day in range(today - 1, today + SEARCH_DAYS):
            for window_start, window_length in self.windows:
                start = max(local, day * DAY + window_start)
                end = day * DAY + window_start + window_length
                found = self._fit(site, start, end, need)
                if found is not None:
                    return found - offset
        return math.inf

    def next_window(self, site: int, time: float, need: float) -> float:
        """The earliest simulated time ≥ `time` that starts `need` seconds inside an install window, game or not:
        when the window alone would let a camera switch (a game's hold counts from it: delivery.defer_limit)."""
        offset = self._offset(site)
        local = time + offset
        soonest = math.inf
        for window_start, window_length in self.windows:
            if window_length < need:
                continue
            # when it last opened, as next_activation reckons a window (day × DAY + start), so that a hold's
            # length, the difference of the two, is exact
            opened = math.floor((local - window_start) / DAY) * DAY + window_start
            soonest = min(soonest, local if local + need <= opened + window_length else opened + DAY)
        return soonest - offset

    def _fit(self, site: int, start: float, end: float, need: float) -> float | None:
        if not self._has_games(site):
            return start if start + need <= end else None
        while start + need <= end:
            clashes = self._games_between(site, start, start + need)
            if not clashes:
                return start
            start = max(game_end for _, game_end in clashes)
        return None
