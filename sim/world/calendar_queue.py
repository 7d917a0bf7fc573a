"""A SimPy environment whose event queue stays small however many events are pending: a calendar of time buckets.

SimPy keeps every pending event in one binary heap. A big fleet has one to several pending events per camera
(its next step, its next power cut, its site's next link change): 80,000 at 100,000 cameras, 800,000 at a million.
A pop from a heap that size walks twenty levels of tuples scattered in memory, and cost 2.2 µs per event at 80,000
against 5.1 µs at 800,000 (measured here, pop + push of SimPy's entries), so the whole run grew faster than the fleet.

Here only the events of the current bucket (`BUCKET` simulated seconds) are in a heap; a later event is appended to
its bucket's list, and a bucket is heapified when the clock reaches it. The entries are SimPy's own
(time, priority, event id, event) and the heap compares them exactly as SimPy's does, so events run in the same
order as under `simpy.Environment`, ties included, and a run is byte-identical to one on SimPy's queue
(tests/world/test_calendar_queue.py runs both). Like `simpy.rt.RealtimeEnvironment`, it changes how the
environment steps, not what events are: processes, timeouts and `run(until=...)` work unchanged.
"""

from __future__ import annotations

import heapq
from typing import Any

import simpy
from simpy.core import EmptySchedule, Infinity, StopSimulation
from simpy.events import NORMAL, Event, EventPriority

BUCKET = 60.0    # simulated seconds per bucket: a wave's burst fits a few buckets, a day has 1,440

Entry = tuple[float, int, int, Any]


class CalendarEnvironment(simpy.Environment):
    def __init__(self, initial_time: float = 0.0, bucket: float = BUCKET):
        super().__init__(initial_time)
        self._bucket = bucket
        self._near: list[Entry] = []                 # a heap: the events of buckets up to `_current`
        self._current: int | float = int(initial_time // bucket)   # the last bucket opened
        self._near_end = (self._current + 1) * bucket  # events before this time go straight into `_near`
        self._far: dict[int | float, list[Entry]] = {}    # later buckets, unordered until opened
        self._far_order: list[int | float] = []      # a heap of the keys of `_far`

    def schedule(self, event: Event, priority: EventPriority = NORMAL, delay: float = 0) -> None:
        at = self._now + delay
        entry = (at, priority, next(self._eid), event)
        if at < self._near_end:
            heapq.heappush(self._near, entry)
            return
        key = int(at // self._bucket) if at != Infinity else Infinity
        if key <= self._current:       # a rounding hair below the boundary: it belongs with the open buckets
            heapq.heappush(self._near, entry)
            return
        bucket = self._far.get(key)
        if bucket is None:
            self._far[key] = [entry]
            heapq.heappush(self._far_order, key)
        else:
            bucket.append(entry)

    def _open_next_bucket(self) -> None:
        """The open buckets are done: the earliest later bucket becomes the heap."""
        if not self._far_order:
            raise EmptySchedule()
        key = heapq.heappop(self._far_order)
        near = self._far.pop(key)
        heapq.heapify(near)
        self._near = near
        self._current = key if key != Infinity else self._current
        self._near_end = (key + 1) * self._bucket if key != Infinity else Infinity

    def peek(self) -> float:
        if self._near:
            return self._near[0][0]
        if self._far_order:
            return min(self._far[self._far_order[0]])[0]
        return Infinity

    def step(self) -> None:
        """SimPy's step, on the calendar: process the next event."""
        if not self._near:
            self._open_next_bucket()
        self._now, _, _, event = heapq.heappop(self._near)
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
