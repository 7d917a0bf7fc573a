"""Stopping a HIL run is a normal path, not an accident.

The first SIGINT/SIGTERM asks the run to stop releasing: the step in flight finishes or is undone (a transfer is cut
short; nothing is activated after the request), every touched rig is put back on its previous engine under its
lease, leases are released and the result is written with the verdict `interrupted`. A second signal hurries: waits
(soaks, cooling, a rig coming back) end at once, but rigs are still restored and released before the process exits.
"""

from __future__ import annotations

import threading


class Stopped(Exception):
    """Raised inside a rig's sequence once a stop was requested: the sequence ends at this step."""


class StopSignal:
    def __init__(self) -> None:
        self._requested = threading.Event()
        self._hurry = threading.Event()
        self.reason = ""

    def request(self, reason: str) -> None:
        """First call: stop releasing. Later calls: also stop waiting."""
        if self._requested.is_set():
            self._hurry.set()
            return
        self.reason = reason
        self._requested.set()

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    @property
    def hurry(self) -> bool:
        return self._hurry.is_set()

    def check(self) -> None:
        if self._requested.is_set():
            raise Stopped(self.reason)

    def sleep(self, seconds: float) -> bool:
        """Wait up to `seconds`; True when a stop was requested (the wait ends early)."""
        return self._requested.wait(max(0.0, seconds))

    def sleep_unless_hurried(self, seconds: float) -> bool:
        """A wait that a stop does not end (a rig coming back must still be waited for, to restore it), but a
        second signal does; True when hurried."""
        return self._hurry.wait(max(0.0, seconds))
