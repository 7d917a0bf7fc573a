"""Sharing the origin's egress cap: max-min fair by default (water-filling), proportional as an option; closed forms
worked out by hand, and the properties both rules keep."""

import pytest

from sim.model.lifecycle import DeviceState as S
from tests.world.helpers import run_story

MBIT = 1e6 / 8      # bytes per second in one Mbit/s


def finishes(story, devices):
    return [story.first(device, S.VERIFYING) - story.first(device, S.DOWNLOADING) for device in devices]


def lognormal_fleet(sharing):
    """1,000 sites, one camera each, uplinks log-normal (median 20 Mbit/s, σ = 1, none below 2 Mbit/s), 100 MB each,
    an origin of 1 Gbit/s, everyone at once: the per-site fair share (1 Mbit/s) is below every uplink."""
    return {"fleet": {"site_kinds": {"gym": {"count": 1000, "cameras_per_site": 1,
                                             "uplink": {"median": "20Mbit/s", "sigma": 1, "min": "2Mbit/s"}}},
                      "egress_cap": "1Gbit/s", "egress_sharing": sharing}}


def test_fair_sharing_finishes_every_device_when_the_cap_allows(make_scenario):
    story = run_story(make_scenario(lognormal_fleet("fair")))
    done = finishes(story, range(story.result.devices))
    assert max(done) == pytest.approx(800.0, rel=0.005)    # 1,000 × 100 MB over 1 Gbit/s
    assert min(done) == pytest.approx(800.0, rel=0.005)


def test_proportional_sharing_slows_the_slow_sites_with_the_rest(make_scenario):
    story = run_story(make_scenario(lognormal_fleet("proportional")))
    assert max(finishes(story, range(story.result.devices))) > 1000.0


def two_classes(sharing):
    """10 slow sites (4 Mbit/s) and 10 fast ones (100 Mbit/s), one camera each, 100 MB each, cap 100 Mbit/s."""
    return {"fleet": {"site_kinds": {
        "gym": {"count": 10, "cameras_per_site": 1, "uplink": {"median": "4Mbit/s", "sigma": 0}},
        "stadium": {"count": 10, "cameras_per_site": 1, "uplink": {"median": "100Mbit/s", "sigma": 0}}},
        "egress_cap": "100Mbit/s", "egress_sharing": sharing}}


def slow_and_fast(story):
    layout_kinds = [move for move in story.moves if move.target == S.DOWNLOADING]
    devices = sorted({move.device for move in layout_kinds})
    times = dict(zip(devices, finishes(story, devices)))
    return sorted(set(round(value, 6) for value in times.values()))


def test_two_classes_finish_when_water_filling_says(make_scenario):
    # the level: 10 × 4 + 10 × L = 100 → L = 6 Mbit/s, above the slow uplinks: they keep all of theirs
    story = run_story(make_scenario(two_classes("fair")))
    assert slow_and_fast(story) == pytest.approx([100 / (6 * 1e6 / 8 / 1e6), 100 / (4 * 1e6 / 8 / 1e6)], rel=1e-6)


def test_two_classes_under_the_proportional_rule(make_scenario):
    # s = 100 / 1040: fast at 9.615 Mbit/s finish at 83.2 s; slow moved 4 MB by then, the other 96 MB at 4 Mbit/s
    story = run_story(make_scenario(two_classes("proportional")))
    fast = 100 / (100 * 100 / 1040 / 8)
    slow = fast + (100 - fast * 4 * 100 / 1040 / 8) / (4 / 8)
    assert slow_and_fast(story) == pytest.approx([fast, slow], rel=1e-6)


@pytest.mark.parametrize("sharing", ["fair", "proportional"])
def test_bytes_are_conserved_and_the_cap_is_never_exceeded(make_scenario, sharing):
    changes = lognormal_fleet(sharing)
    changes["fleet"]["site_kinds"]["gym"]["count"] = 200
    changes["fleet"]["site_kinds"]["gym"]["cameras_per_site"] = "1-4"
    changes["fleet"]["site_kinds"]["gym"]["outages"] = {"mtbf": "20m", "mttr": "5m"}
    changes["fleet"]["egress_cap"] = "300Mbit/s"
    changes["artifact"] = {"full_size": "100MB", "engine_build": "0s", "checkpoint": "1kB"}
    result = run_story(make_scenario(changes)).result
    committed = result.outcomes.get(S.COMMITTED, 0)
    assert committed == result.devices
    assert result.bytes.useful == pytest.approx(committed * 100e6, rel=1e-9)
    assert result.bytes.total == pytest.approx(result.bytes.useful + result.bytes.wasted, rel=1e-9)
    assert result.egress.peak <= 300 * MBIT * (1 + 1e-9)
