"""Checks against numbers worked out by hand."""

import pytest

from sim.model.lifecycle import DeviceState as S
from sim.world.fleet import build_layout
from sim.world.link import Uplinks
from tests.world.helpers import run_story


def test_constant_bandwidth_without_faults_downloads_in_size_over_bandwidth(make_scenario):
    scenario = make_scenario({"fleet": {"site_kinds": {"gym": {"count": 1, "cameras_per_site": 1}}}})
    story = run_story(scenario)
    # 100 MB over 8 Mbit/s (1 MB/s) is exactly 100 s
    assert story.first(0, S.VERIFYING) - story.first(0, S.DOWNLOADING) == pytest.approx(100.0, rel=1e-9)
    # ... all of it in the first 5-minute bin, and not a trickle of rounding after it
    assert [value > 0 for value in story.result.egress.series.values].count(True) == 1


def test_cameras_at_one_site_share_its_uplink(make_scenario):
    scenario = make_scenario({"fleet": {"site_kinds": {"gym": {"count": 1, "cameras_per_site": 4}}}})
    story = run_story(scenario)
    assert [story.first(device, S.VERIFYING) for device in range(4)] == pytest.approx([400.0] * 4)


def test_an_up_down_link_is_available_mtbf_over_mtbf_plus_mttr_in_the_long_run(make_scenario):
    scenario = make_scenario({"fleet": {"site_kinds": {"gym": {"count": 20, "outages": {"mtbf": "6h", "mttr": "2h"}}}}})
    layout = build_layout(scenario.fleet, 11)
    uplinks = Uplinks.for_scenario(scenario, layout, 11)
    moments = [minute * 60.0 for minute in range(0, 60 * 24 * 200, 7)]
    up = sum(uplinks.is_up(site, moment) for moment in moments for site in range(layout.sites))
    assert up / (len(moments) * layout.sites) == pytest.approx(6 / 8, abs=0.02)


def test_a_long_download_over_a_flaky_link_runs_at_availability_times_bandwidth(make_scenario):
    scenario = make_scenario({
        "duration": "120d",
        "fleet": {"site_kinds": {"gym": {"count": 1, "cameras_per_site": 1,
                                          "outages": {"mtbf": "3h", "mttr": "1h"}}},
                  "storage_free": {"median": "20TB", "max": "20TB", "sigma": 0}},     # room for it: no preflight fail
        "artifact": {"full_size": "5000GB", "checkpoint": "1kB"},   # 5,000,000 s of transfer at 1 MB/s
    })
    story = run_story(scenario)
    elapsed = story.first(0, S.VERIFYING) - story.first(0, S.DOWNLOADING)
    assert 5_000_000 / elapsed == pytest.approx(0.75, abs=0.02)


def test_n_devices_behind_an_egress_cap_all_finish_by_n_size_over_cap(make_scenario):
    scenario = make_scenario({"fleet": {
        "site_kinds": {"gym": {"count": 20, "cameras_per_site": 1, "uplink": {"median": "100Mbit/s"}}},
        "egress_cap": "50Mbit/s"}})
    story = run_story(scenario)
    bound = 20 * 100e6 / (50e6 / 8)   # N · size / C = 320 s
    finishes = [story.first(device, S.VERIFYING) for device in range(20)]
    assert max(finishes) <= bound * (1 + 1e-9)
    assert max(finishes) == pytest.approx(bound, rel=1e-6)   # the cap is used to the full
    assert story.result.egress.peak == pytest.approx(50e6 / 8, rel=1e-6)
