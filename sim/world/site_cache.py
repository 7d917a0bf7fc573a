"""The site cache: one camera per site fetches the artifact from the origin, the others copy it over the LAN."""

from __future__ import annotations


class SiteCache:
    """Per site: who fetches from the origin, who waits for it, and whether the artifact is there."""

    def __init__(self) -> None:
        self._seeder: dict[int, int] = {}
        self._waiting: dict[int, list[int]] = {}
        self._ready: set[int] = set()

    def ready(self, site: int) -> bool:
        return site in self._ready

    def take_seeding(self, site: int, device: int) -> bool:
        """True if `device` is (or becomes) the site's seeder; otherwise it joins the waiting list."""
        if self._seeder.get(site, device) == device:
            self._seeder[site] = device
            return True
        self._waiting.setdefault(site, []).append(device)
        return False

    def mark_ready(self, site: int) -> None:
        self._ready.add(site)
        self._seeder.pop(site, None)

    def ready_now(self, site: int) -> list[int]:
        return self._waiting.pop(site, [])

    def hand_over(self, site: int) -> int | None:
        self._seeder.pop(site, None)
        waiting = self._waiting.get(site)
        if not waiting:
            return None
        return waiting.pop(0)   # it takes the seeding itself when it fetches

    def is_waiting(self, site: int, device: int) -> bool:
        return device in self._waiting.get(site, ())

    def forget(self, site: int, device: int) -> None:
        if self.is_waiting(site, device):
            self._waiting[site].remove(device)
