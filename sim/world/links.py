"""Download links that expire: an origin (Mender's, a CDN's signed URLs) hands each download attempt a link that
stops working a fixed time after it was issued (Mender: 24 h), however the download stands — paused by an outage, a
game or a power cut, a link keeps wall time. A download still going when its link expires ends that attempt: the
device asks for a new link and, if the artifact is resumable, goes on from its last checkpoint (sim/world/fetching.py
schedules and handles it; `delivery.link_expiry` turns it on).

Kept only while links expire, and only for the devices that fetch from the origin: nothing per device otherwise.
"""

from __future__ import annotations


class DownloadLinks:
    def __init__(self, expiry: float) -> None:
        self.expiry = expiry
        self._issued: dict[int, float] = {}

    def issue(self, device: int, now: float) -> float:
        """A fresh link for the device's attempt; returns the seconds it works."""
        self._issued[device] = now
        return self.expiry

    def left(self, device: int, now: float) -> float:
        """Seconds the device's link still works (0 once it expired)."""
        return max(0.0, self._issued[device] + self.expiry - now)
