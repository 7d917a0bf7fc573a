"""A retry window shorter than the games that hold a camera: `delivery.defer_limit` (Mender's state-script "retry
later" window, StateScriptRetryTimeoutSeconds) against the games that meet a site's install windows. A camera ready to
switch while a game is on puts the switch off (under the freeze, an install too); one still held when the limit runs
out fails its update, healthy or not, and an abort rule reads it as the candidate failing. sim/model/plan_traps.py
gathers this after the other delivery traps (sim/model/fleet_traps.py).

How long a game can hold a switch is found on a minute grid of three weeks of local time (games on their weekdays,
every one played: the worst case; a game's length rounded up to the minute): the longest wait from a minute at which
a window has room for the switch and its health check to the first such minute with no game over it. Windows and
games start on the minute and a game's end is rounded up; a minute counts as held when a switch starting at any of
its seconds would meet a game, so no simulated camera is held longer than the grid's longest (tests/model/
test_defer_traps.py holds the simulator to it), and the grid's is at most a minute longer than a camera's can be.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate

from sim.model.device_times import DeviceTimes
from sim.model.fleet_spec import Games, InstallWindow
from sim.model.fleet_traps import PlanWarning, switch_time
from sim.model.scenario import MOST_RETRIES, Scenario
from sim.model.units import format_clock, format_duration

DAY_MINUTES = 1440
WEEK_MINUTES = 7 * DAY_MINUTES
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class GameHold:
    """The longest a game holds a switch: `seconds` (inf: no window ever has room after the games), starting at
    `ready` (a minute of the week from Monday 00:00, local time), with the switch free again at `free` (-1: never)."""

    seconds: float
    ready: int
    free: int


def _game_minutes(games: Games, days: int) -> bytearray:
    """1 for each minute (from a Monday 00:00, local time) that one of these games is on, over `days` days."""
    on = bytearray(days * DAY_MINUTES)
    first, length = round(games.start / 60), math.ceil(games.duration / 60)
    for day in range(days):
        if WEEKDAYS[day % 7] in games.days:
            start = day * DAY_MINUTES + first
            end = min(start + length, len(on))
            on[start:end] = b"\x01" * (end - start)
    return on


def _room_to_switch(windows: Sequence[InstallWindow], need: float) -> list[bool]:
    """For each minute of a day, whether a switch of `need` seconds starting then ends inside an install window."""
    return [any((minute * 60.0 - window.start) % 86400.0 <= window.duration - need for window in windows)
            for minute in range(DAY_MINUTES)]


def longest_game_hold(games: Games, windows: Sequence[InstallWindow], need: float) -> GameHold | None:
    """The longest wait a game puts on a switch needing `need` seconds in a window, or None when no game ever
    meets a moment a camera could switch at."""
    days = 21                          # ready in the middle week; the week before holds games running past midnight
    game = _game_minutes(games, days)
    # a minute clashes when a switch starting at any second of it meets a game: one minute more than the switch
    span = math.ceil(need / 60) + 1
    clashes = [0, *accumulate(game)]   # games on at minutes [a, b): clashes[b] - clashes[a]
    room = _room_to_switch(windows, need)
    total = len(game)
    free_at = [-1] * (total + 1)       # the first minute ≥ m a switch could start with no game over it
    for minute in range(total - 1, -1, -1):
        end = minute + span
        clear = room[minute % DAY_MINUTES] and end <= total and clashes[end] == clashes[minute]
        free_at[minute] = minute if clear else free_at[minute + 1]
    worst: GameHold | None = None
    for minute in range(WEEK_MINUTES, 2 * WEEK_MINUTES):
        if not room[minute % DAY_MINUTES] or free_at[minute] == minute:
            continue
        free = free_at[minute]
        seconds = math.inf if free < 0 else (free - minute) * 60.0
        if worst is None or seconds > worst.seconds:
            worst = GameHold(seconds, minute - WEEK_MINUTES, -1 if free < 0 else free - WEEK_MINUTES)
    return worst


def _when(minute: int) -> str:
    day, of_day = divmod(minute, DAY_MINUTES)
    return f"{of_day // 60:02d}:{of_day % 60:02d} on {WEEKDAYS[day % 7]}"


def _longest_switch_hold(scenario: Scenario, games: Games) -> GameHold | None:
    """The longest these games hold a switch on any of the fleet's hardware (each has its own switch time)."""
    fleet = scenario.fleet
    needs = sorted({switch_time(scenario, name) + fleet.health_check for name in fleet.hardware})
    holds = [found for need in needs if (found := longest_game_hold(games, fleet.install_windows, need))]
    return max(holds, key=lambda found: found.seconds, default=None)


def held_past_defer_limit(scenario: Scenario) -> Iterator[PlanWarning]:
    """A site kind whose games hold a camera's switch (or, under the freeze, its install) longer than
    `delivery.defer_limit` lets it wait, its retries after a failure included (`delivery.failure_retries`: each
    new attempt puts the step off for the limit again, so they cover (1 + retries) × the limit at least): those
    cameras fail their update where, without the limit, they switch after the game."""
    delivery, fleet = scenario.delivery, scenario.fleet
    if delivery.defer_limit is None:
        return
    retries = delivery.failure_retries
    limit = delivery.defer_limit * (1 + retries)
    waits = f"the {format_duration(delivery.defer_limit)} a camera puts it off (delivery.defer_limit)"
    if retries:
        waits += f" in each of its {1 + retries} attempts (delivery.failure_retries: {retries})"
    longest_install = max(DeviceTimes.of(scenario).install)
    for name, kind in fleet.site_kinds.items():
        games = kind.games
        if games is None:
            continue
        hold = _longest_switch_hold(scenario, games)
        held, enough = [], 0.0
        if hold is not None and hold.seconds > limit:
            enough = hold.seconds
            if hold.free < 0:
                held.append(f"a camera's switch for good (one ready at {_when(hold.ready)} never is free to switch: "
                            "no install window has room to switch after the games)")
            else:
                held.append(f"a camera's switch up to {format_duration(hold.seconds)} (one ready at "
                            f"{_when(hold.ready)} is free to switch at {_when(hold.free)})")
        install_hold = games.duration + longest_install     # an install ready just before a game would run into
        if delivery.freeze_during_games and install_hold > limit:
            enough = max(enough, install_hold)
            held.append(f"under freeze_during_games, an install that would run into a game up to "
                        f"{format_duration(install_hold)} (the game's {format_duration(games.duration)} and the "
                        f"{format_duration(longest_install)} install)")
        if not held:
            continue
        if enough == math.inf:
            cure = "install windows clear of the games let them switch after the game"
        else:
            attempts = math.ceil(enough / delivery.defer_limit)
            again = attempts - 1
            more = (f" or {again} retr{'y' if again == 1 else 'ies'} (delivery.failure_retries)"
                    if again <= MOST_RETRIES else "")
            cure = (f"a limit of at least {format_duration(enough / (1 + retries))}{more}, or install windows clear "
                    "of the games, lets them update after the game")
        days = ", ".join(games.days)
        yield ("delivery.defer_limit",
               f"the {name} sites' games ({days} from {format_clock(games.start)} for "
               f"{format_duration(games.duration)}) hold {' and '.join(held)}, longer than {waits}: such cameras "
               f"give up and fail their update, however healthy the candidate, and an abort rule counts them; {cure}")


def retries_fetch_during_games(scenario: Scenario) -> Iterator[PlanWarning]:
    """Retries that fetch the artifact again (`delivery.retry_fetches_again`) after a game held a camera past
    `delivery.defer_limit`: the camera gives up while the game is on, and its retry fetches (and installs) at its
    next check-in, the game still on, unless `delivery.freeze_during_games` keeps downloads and installs off games."""
    delivery, fleet = scenario.delivery, scenario.fleet
    limit = delivery.defer_limit
    if not delivery.retry_fetches_again or limit is None or delivery.freeze_during_games:
        return
    kinds = [name for name, kind in fleet.site_kinds.items()
             if kind.games is not None and (hold := _longest_switch_hold(scenario, kind.games)) is not None
             and hold.seconds > limit]
    if not kinds:
        return
    when = ("at once" if fleet.poll_interval is None
            else f"at its next check-in (within {format_duration(fleet.poll_interval)}, fleet.poll_interval)")
    yield ("delivery.retry_fetches_again",
           f"the games at the {', '.join(kinds)} sites hold a camera's switch past delivery.defer_limit "
           f"({format_duration(limit)}): it gives up while the game is on, and its retry fetches the artifact again "
           f"{when}, so its download and install can run while the game is still on (downloads_during_games); "
           "freeze_during_games (a Mender Download_Enter state script answering 'retry later' during games) keeps "
           "them after it")
