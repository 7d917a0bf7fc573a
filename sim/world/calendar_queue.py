"""A SimPy environment whose event queue stays small however many events are pending: a calendar of time buckets.

SimPy keeps every pending event in one binary heap. A big fleet has one to several pending events per camera
(its next step, its next power cut, its site's next link change): 80,000 at 100,000 cameras, 800,000 at a million.
A pop from a heap that size walks twenty levels of tuples scattered in memory, and cost 2.2 µs per event at 80,000
against 5.1 µs at 800,000 (measured here, pop + push of SimPy's entries), so the whole run grew faster than the fleet.

Here only the events of the current bucket (`BUCKET` simulated seconds) are open; a later event is appended to its
bucket's list, and a bucket opens when the clock reaches it. Open events are grouped by (time, priority): a rollout
releases thousands of cameras at one instant and their equal-length steps keep them in lockstep, so a bucket held
up to 20,000 events at a handful of distinct times (bench-100k); each group is one heap entry and a list read front
to back. SimPy orders events by (time, priority, event id) and the id grows with every schedule, so reading each
group in schedule order runs events in exactly SimPy's order, ties included, and a run is byte-identical to one on
SimPy's queue (tests/world/test_calendar_queue.py runs both). Like `simpy.rt.RealtimeEnvironment`, it changes how
the environment steps, not what events are: processes, timeouts and `run(until=...)` work unchanged.

Measured on bench-100k (py-spy, self time as a share of the run's samples): scheduling and stepping cost 22.3% on
SimPy's queue with Timeouts (its heap pop alone 10.9%), 16.0% on the calendar with `call_later`.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

import simpy
from simpy.core import EmptySchedule, Infinity, StopSimulation
from simpy.events import NORMAL, Event, EventPriority

BUCKET = 60.0    # simulated seconds per bucket: a wave's burst fits a few buckets, a day has 1,440

Key = tuple[float, int]                        # (time, priority)
Entry = tuple[float, int, Any]                 # (time, priority, event) waiting in a later bucket


class CalendarEnvironment(simpy.Environment):
    # The clock as a plain attribute (SimPy's is a property over `_now`): the model reads it several times per event.
    # `step` sets both; nothing else moves the clock.
    now: float = 0.0

    def __init__(self, initial_time: float = 0.0, bucket: float = BUCKET):
        super().__init__(initial_time)
        self.now = initial_time
        self._bucket = bucket
        self._keys: list[Key] = []                    # a heap of the distinct (time, priority) of the open buckets
        self._groups: dict[Key, list[Any]] = {}       # key -> [read position, event, event, …] in schedule order
        self._current: int | float = int(initial_time // bucket)   # the last bucket opened
        self._near_end = (self._current + 1) * bucket  # events before this time go straight to the open buckets
        self._far: dict[int | float, list[Entry]] = {}    # later buckets, in schedule order
        self._far_order: list[int | float] = []      # a heap of the keys of `_far`

    def schedule(self, event: Event, priority: EventPriority = NORMAL, delay: float = 0) -> None:
        at = self._now + delay
        if at < self._near_end:
            self._add_open(at, priority, event)
            return
        bucket_key = int(at // self._bucket) if at != Infinity else Infinity
        if bucket_key <= self._current:   # a rounding hair below the boundary: it belongs with the open buckets
            self._add_open(at, priority, event)
            return
        bucket = self._far.get(bucket_key)
        if bucket is None:
            self._far[bucket_key] = [(at, priority, event)]
            heapq.heappush(self._far_order, bucket_key)
        else:
            bucket.append((at, priority, event))

    def call_later(self, delay: float, function: Callable[..., None], args: tuple[Any, ...] = ()) -> None:
        """Call `function(*args)` `delay` seconds from now: a plain callback, in order with every other event (as a
        NORMAL-priority event scheduled now would be), without an Event object and its callbacks: nearly every
        event of a simulated rollout is one of these."""
        self.schedule((function, args), NORMAL, delay)  # type: ignore[arg-type]

    def _add_open(self, at: float, priority: int, event: Event) -> None:
        """Events of equal time and priority run in the order they were scheduled (SimPy's event id): a group of
        them is a list read front to back, so a burst of thousands costs one heap entry, not thousands."""
        key = (at, priority)
        group = self._groups.get(key)
        if group is None:
            self._groups[key] = [1, event]
            heapq.heappush(self._keys, key)
        else:
            group.append(event)

    def _open_next_bucket(self) -> None:
        """The open buckets are done: the earliest later bucket opens (its list is in schedule order)."""
        if not self._far_order:
            raise EmptySchedule()
        bucket_key = heapq.heappop(self._far_order)
        for at, priority, event in self._far.pop(bucket_key):
            self._add_open(at, priority, event)
        self._current = bucket_key if bucket_key != Infinity else self._current
        self._near_end = (bucket_key + 1) * self._bucket if bucket_key != Infinity else Infinity

    def peek(self) -> float:
        if self._keys:
            return self._keys[0][0]
        if self._far_order:
            return min(entry[0] for entry in self._far[self._far_order[0]])
        return Infinity

    def step(self) -> None:
        """SimPy's step, on the calendar: process the next event."""
        if not self._keys:
            self._open_next_bucket()
        key = self._keys[0]
        group = self._groups[key]
        position = group[0]
        event = group[position]
        if position + 1 == len(group):     # the group is done; a later one at the same key starts afresh
            heapq.heappop(self._keys)
            del self._groups[key]
        else:
            group[0] = position + 1
            group[position] = None
        self._now = self.now = key[0]
        if type(event) is tuple:      # a plain callback (call_later)
            event[0](*event[1])
            return
        callbacks, event.callbacks = event.callbacks, None
        try:
            for callback in callbacks:
                callback(event)
        except StopSimulation:
            event.callbacks = callbacks[callbacks.index(callback) + 1:]
            self.schedule(event, EventPriority(-1))   # as SimPy: first when the run resumes
            raise
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc
