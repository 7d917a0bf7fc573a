"""The fleet's layout, drawn once from (scenario, seed): sites, their uplinks and clocks, and the cameras at each.

Kept as numpy arrays (a few dozen bytes per device) because a million devices must fit in a couple of GB.
The layout does not depend on the strategy, so every strategy meets the same fleet.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sim.model import streams
from sim.model.fleet_spec import Fleet


@dataclass(frozen=True)
class HotLists:
    site_kind: list[int]
    site_utc_offset: list[float]
    device_site: list[int]
    device_hardware: bytes        # a byte per device: the model index (a list would cost 8)
    site_ambient_offset: list[float]


@dataclass(frozen=True)
class FleetLayout:
    kind_names: tuple[str, ...]
    hardware_names: tuple[str, ...]
    angle_names: tuple[str, ...]
    site_kind: np.ndarray          # int16 [sites] (fleet_spec.MAX_SITE_KINDS)
    site_first_device: np.ndarray  # int64 [sites + 1]: devices of site s are first[s]..first[s+1]-1
    site_bandwidth: np.ndarray     # float64 [sites], bytes/s before the daily pattern
    site_utc_offset: np.ndarray    # float64 [sites], seconds added to simulated time to get local time
    site_ambient_offset: np.ndarray  # float64 [sites], °C this site runs above its kind's mean
    device_site: np.ndarray        # int32 [devices]
    device_hardware: np.ndarray    # uint8 [devices] (fleet_spec.MAX_HARDWARE)
    device_angle: np.ndarray       # uint8 [devices] (fleet_spec.MAX_ANGLES)
    device_storage: np.ndarray     # float64 [devices], free bytes

    def hot_lists(self) -> "HotLists":
        """Python lists of the columns the event loop reads per event (numpy scalar indexing is ~10× slower).

        Made once and shared by everyone who asks: each copy of `device_site` as a list costs ~40 bytes per device
        (a pointer and an int object), which at a million cameras is 40 MB per copy."""
        return self._hot_lists

    @cached_property
    def _hot_lists(self) -> "HotLists":
        site_ids = list(range(self.sites))        # one int object per site, shared by its cameras' entries
        return HotLists(self.site_kind.tolist(), self.site_utc_offset.tolist(),
                        [site_ids[site] for site in self.device_site.tolist()],
                        self.device_hardware.tobytes(), self.site_ambient_offset.tolist())

    @property
    def size(self) -> int:
        return int(self.device_site.shape[0])

    @property
    def sites(self) -> int:
        return int(self.site_kind.shape[0])

    def cohort(self, device: int) -> tuple[str, str, str]:
        """(hardware, site kind, camera angle) of one device."""
        site = self.device_site[device]
        return (self.hardware_names[self.device_hardware[device]], self.kind_names[self.site_kind[site]],
                self.angle_names[self.device_angle[device]])

    def cohorts(self) -> tuple[tuple[str, str, str], ...]:
        """(hardware, site kind, camera angle) per device; equal cohorts are one shared tuple (a fleet has a few
        dozen distinct ones, so a million devices cost a pointer each rather than a tuple each)."""
        kinds = self.site_kind[self.device_site]
        shared: dict[tuple[int, int, int], tuple[str, str, str]] = {}

        def named(key: tuple[int, int, int]) -> tuple[str, str, str]:
            found = shared.get(key)
            if found is None:
                found = shared[key] = (self.hardware_names[key[0]], self.kind_names[key[1]], self.angle_names[key[2]])
            return found

        return tuple(map(named, zip(self.device_hardware.tolist(), kinds.tolist(), self.device_angle.tolist())))

    def cohort_codes(self) -> array:
        """One number per device naming its cohort (equal cohorts, equal numbers), 2 bytes each where they fit: the
        simulator asks a device's cohort on its hot path, and one index into this is cheaper than the three columns
        (hardware, site kind, angle) it encodes, whose look-ups grew 16.5× for 10× the fleet."""
        kinds, angles = len(self.kind_names), len(self.angle_names)
        codes = (self.device_hardware.astype(np.int64) * kinds + self.site_kind[self.device_site]) * angles \
            + self.device_angle
        wide = len(self.hardware_names) * kinds * angles > 0xFFFF
        return array("I" if wide else "H", codes.astype(np.uint32 if wide else np.uint16).tobytes())

    def devices_of(self, site: int) -> range:
        return range(int(self.site_first_device[site]), int(self.site_first_device[site + 1]))


def _lognormal(rng: np.random.Generator, median: float, sigma: float, low: float, high: float, n: int) -> np.ndarray:
    return np.clip(median * np.exp(sigma * rng.standard_normal(n)), low, high)


def _pick(rng: np.random.Generator, shares: dict[str, float], n: int) -> np.ndarray:
    weights = np.array(list(shares.values()), dtype=np.float64)
    return rng.choice(len(weights), size=n, p=weights / weights.sum())


def build_layout(fleet: Fleet, seed: int, start_time: float = 0.0) -> FleetLayout:
    """Draw every site and device of the fleet; deterministic in (fleet, seed). `start_time`: the time of day (UTC)
    simulated time 0 falls at, added to every site's offset from simulated time to its local time."""
    rng = streams.generator(seed, streams.FLEET)
    offsets = [(offset + start_time, share) for offset, share in fleet.utc_offsets()]
    zone_seconds = np.array([offset for offset, _ in offsets], dtype=np.float64)
    zone_shares = {str(index): share for index, (_, share) in enumerate(offsets)}
    kinds, cameras, bandwidth, ambient = [], [], [], []
    for index, kind in enumerate(fleet.site_kinds.values()):
        low, high = kind.cameras_per_site
        kinds.append(np.full(kind.count, index, dtype=np.int16))
        cameras.append(rng.integers(low, high + 1, size=kind.count))
        uplink = kind.uplink
        bandwidth.append(_lognormal(rng, uplink.median, uplink.sigma, uplink.min, uplink.max, kind.count))
        ambient.append(rng.normal(0.0, kind.ambient.spread, kind.count) if kind.ambient.spread else
                       np.zeros(kind.count))
    site_kind = np.concatenate(kinds)
    per_site = np.concatenate(cameras)
    first = np.zeros(site_kind.shape[0] + 1, dtype=np.int64)
    np.cumsum(per_site, out=first[1:])
    size = int(first[-1])
    storage = fleet.storage_free
    return FleetLayout(
        kind_names=tuple(fleet.site_kinds), hardware_names=tuple(fleet.hardware),
        angle_names=tuple(fleet.camera_angles),
        site_kind=site_kind, site_first_device=first, site_bandwidth=np.concatenate(bandwidth),
        site_utc_offset=zone_seconds[_pick(rng, zone_shares, site_kind.shape[0])],
        site_ambient_offset=np.concatenate(ambient),
        device_site=np.repeat(np.arange(site_kind.shape[0], dtype=np.int32), per_site),
        device_hardware=_pick(rng, fleet.hardware, size).astype(np.uint8),
        device_angle=_pick(rng, fleet.camera_angles, size).astype(np.uint8),
        device_storage=_lognormal(rng, storage.median, storage.sigma, storage.min, storage.max, size),
    )
