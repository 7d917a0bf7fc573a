"""The throttled device-hours of a run (`ThermalModel.throttled_hours`): against the closed form of a first-order
enclosure, and equal to the plain sweep of every device at every step that it replaced (chunked, per-chunk
constants, one cosine per (peak, UTC offset) pair), to the last bit."""

from __future__ import annotations

import math

import numpy as np
import pytest

import sim.world.thermal as thermal
from sim.world.fleet import build_layout
from sim.world.thermal import ThermalModel
from tests.conftest import scenario_from

pytestmark = pytest.mark.timeout(120)
HOUR = 3600.0


def model(changes: dict) -> ThermalModel:
    scenario = scenario_from(changes)
    return ThermalModel(scenario, build_layout(scenario.fleet, scenario.seed))


def test_a_hot_candidate_throttles_from_the_step_its_enclosure_passes_the_point_as_the_closed_form_says():
    # ambient 30 °C without a swing, 3 °C/W: 60 °C on the current model (10 W), 90 °C on the candidate (20 W), the
    # throttle point 85 °C, τ = 2 h: a camera switched at 10 h is above it once 90 − 30·e^(−k/2) > 85, k steps later
    found = model({"fleet": {"site_kinds": {"gym": {"ambient": {"mean": 30, "daily_swing": 0, "spread": 0}}},
                             "thermal": {"resistance": 3, "time_constant": "2h", "throttle_at": 85}},
                   "current": {"version": "1", "hardware": {"orin-nx": {"latency": "10ms", "power": 10}}},
                   "candidate": {"hardware": {"orin-nx": {"power": 20}}}})
    devices = found.layout.size
    start, end = np.full(devices, 10 * HOUR), np.full(devices, np.inf)
    first_hot = next(k for k in range(1, 100) if 90 - 30 * math.exp(-k / 2) > 85)   # steps after the switch's
    assert found.throttled_hours(start, end, 48 * HOUR) == pytest.approx(devices * (48 - (9 + first_hot)))
    # back on the current model at 30 h: it cools below the point after as many steps as 60 + 30·e^(−k/2) takes
    back = end.copy()
    back[: devices // 2] = 30 * HOUR
    cooling = next(k for k in range(1, 100) if 60 + (90 - 60) * math.exp(-k / 2) <= 85)
    half = devices // 2
    expected = (devices - half) * (48 - (9 + first_hot)) + half * (30 + cooling - 1 - (9 + first_hot))
    assert found.throttled_hours(start, back, 48 * HOUR) == pytest.approx(expected)
    assert found.throttled_hours(np.full(devices, np.inf), end, 48 * HOUR) == 0.0     # never on the candidate


def swept_every_device(found: ThermalModel, start, end, until, shadow_start=None, shadow_end=None,
                       step: float = HOUR) -> float:
    """The sweep it replaced: every device at every step, the ambient per site, the constants gathered each step."""
    layout, params = found.layout, found.params
    sites, hardware = layout.device_site, layout.device_hardware
    resistance = np.array(found.resistance)
    heat_current, heat_candidate = resistance * found.power_current, resistance * found.power_candidate
    heat_shadow = heat_current + found.shadow_cost * heat_candidate
    decay = np.exp(-step / np.array(found.time_constant))
    kinds = layout.site_kind
    peak, swing = found.kind_peak[kinds], found.kind_swing[kinds]
    mean = found.kind_mean[kinds] + layout.site_ambient_offset
    total, temperature = 0.0, np.empty(sites.shape)
    for index, moment in enumerate(np.arange(0.0, until, step)):
        phase = 2.0 * np.pi * ((moment + layout.site_utc_offset - peak) % thermal.DAY) / thermal.DAY
        ambient = mean + swing * np.cos(phase)
        heat = np.where((start <= moment) & (moment < end), heat_candidate[hardware], heat_current[hardware])
        if shadow_start is not None:
            heat = np.where((shadow_start <= moment) & (moment < shadow_end), heat_shadow[hardware], heat)
        steady = ambient[sites] + heat
        temperature = steady.copy() if index == 0 else steady + (temperature - steady) * decay[hardware]
        total += float(np.count_nonzero(temperature > params.throttle_at)) * min(step, until - moment) / 3600.0
    return total


def test_the_chunked_sweep_gives_the_plain_sweep_s_hours_to_the_last_bit(monkeypatch):
    monkeypatch.setattr(thermal, "THROTTLE_CHUNK", 7)      # many chunks, the last one short
    found = model({
        "fleet": {"site_kinds": {"gym": {"count": 30, "cameras_per_site": "2-5",
                                         "ambient": {"mean": 33, "daily_swing": 6, "peak": "15:00"}},
                                 "arena": {"count": 20, "cameras_per_site": 3, "uplink": {"median": "20Mbit/s"},
                                           "ambient": {"mean": 26, "daily_swing": 3, "peak": "19:30"}}},
                  "hardware": {"orin-nx": 0.6, "nano": 0.4},
                  "hardware_profiles": {"nano": {"thermal_resistance": 4.5, "thermal_time_constant": "40m"}},
                  "timezones": {"UTC-05:00": 0.5, "UTC+01:00": 0.3, "UTC+09:30": 0.2},
                  "thermal": {"resistance": 2.5, "time_constant": "90m", "throttle_at": 70}},
        "current": {"version": "1", "hardware": {"orin-nx": {"latency": "10ms", "power": 10},
                                                 "nano": {"latency": "40ms", "power": 6}}},
        "candidate": {"hardware": {"orin-nx": {"latency": "12ms", "power": 17}, "nano": {"latency": "45ms",
                                                                                         "power": 9}}}})
    devices = found.layout.size
    assert devices > 3 * 7 and len(set(found.layout.site_utc_offset.tolist())) == 3
    draw = np.random.default_rng(7)
    start = np.where(draw.random(devices) < 0.8, draw.uniform(0, 60 * HOUR, devices), np.inf)
    end = np.where(draw.random(devices) < 0.3, start + draw.uniform(0, 20 * HOUR, devices), np.inf)
    shadow_start = np.where(draw.random(devices) < 0.4, draw.uniform(0, 30 * HOUR, devices), np.inf)
    shadow_end = shadow_start + draw.uniform(0, 10 * HOUR, devices)
    until = 71.5 * HOUR                                  # a last step shorter than an hour
    plain = swept_every_device(found, start, end, until)
    assert plain > 0 and found.throttled_hours(start, end, until) == plain
    both = swept_every_device(found, start, end, until, shadow_start, shadow_end)
    assert both != plain and found.throttled_hours(start, end, until, shadow_start=shadow_start,
                                                   shadow_end=shadow_end) == both
