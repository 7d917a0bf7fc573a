"""Delivery options and activation rules, told as stories on tiny fleets."""

import pytest

from sim.model.lifecycle import DeviceState as S
from tests.world.helpers import run_story

ONE_SITE = {"gym": {"count": 1, "cameras_per_site": 4}}


def test_with_a_site_cache_one_camera_fetches_and_the_others_copy_over_the_lan(make_scenario):
    story = run_story(make_scenario({"fleet": {"site_kinds": ONE_SITE}, "delivery": {"site_cache": True}}))
    assert story.result.outcomes == {S.COMMITTED: 4}
    assert story.result.bytes.total == pytest.approx(100e6)          # one origin download for the site
    assert story.result.bytes.lan == pytest.approx(3 * 100e6)
    assert sorted(story.first(device, S.VERIFYING) for device in range(4))[1] == pytest.approx(100 + 1 + 2)


def test_delta_updates_move_the_delta_and_fall_back_to_full_for_other_bases(make_scenario):
    story = run_story(make_scenario({"fleet": {"site_kinds": {"gym": {"count": 10, "cameras_per_site": 2}}},
                                     "artifact": {"delta_size": "20MB"},
                                     "delivery": {"delta": True, "base_mismatch": "25%"}}))
    moved = story.result.bytes
    fallbacks = round((moved.full) / 100e6)
    assert moved.delta == pytest.approx((20 - fallbacks) * 20e6)
    assert 0 < fallbacks < 20 and moved.total == pytest.approx(moved.full + moved.delta)


def test_a_delta_that_does_not_apply_is_wasted_and_the_full_image_fetched_after_it(make_scenario):
    """20 cameras, every base known to the origin (no mismatch), 40% of deltas not applying: those cameras move the
    20 MB delta, then the 100 MB image; the delta bytes are wasted, and they commit later than the others."""
    delta = {"fleet": {"site_kinds": {"gym": {"count": 20, "cameras_per_site": 1}}},
             "artifact": {"delta_size": "20MB"}, "delivery": {"delta": True, "base_mismatch": "0%"}}
    clean = run_story(make_scenario(delta))
    story = run_story(make_scenario({**delta, "delivery": {**delta["delivery"], "delta_apply_failure": "40%"}}))
    refetched = {move.device for move in story.moves if move.reason == "delta did not apply: fetching the full image"}
    assert 0 < len(refetched) < 20
    moved = story.result.bytes
    assert moved.delta == pytest.approx(20 * 20e6) and moved.full == pytest.approx(len(refetched) * 100e6)
    assert moved.wasted == pytest.approx(len(refetched) * 20e6)
    assert moved.useful == pytest.approx((20 - len(refetched)) * 20e6 + len(refetched) * 100e6)
    assert story.result.outcomes == clean.result.outcomes == {S.COMMITTED: 20}
    for device in refetched:
        assert story.first(device, S.COMMITTED) > clean.first(device, S.COMMITTED)
        verifying = story.times(device, S.VERIFYING)
        assert len(verifying) == 2 and verifying[1] - verifying[0] >= 100e6 / 1e6     # 100 MB at 8 Mbit/s


def test_a_delta_as_large_as_the_full_image_is_still_counted_as_delta_bytes(make_scenario):
    """A delta was told from a full download by its size: one of the full image's size (a retrained model's) was
    counted as full bytes, and bytes.delta read 0."""
    story = run_story(make_scenario({"fleet": {"site_kinds": {"gym": {"count": 10, "cameras_per_site": 2}}},
                                     "artifact": {"delta_size": "100MB"},
                                     "delivery": {"delta": True, "base_mismatch": 0}}))
    moved = story.result.bytes
    assert moved.delta == pytest.approx(20 * 100e6) and moved.full == pytest.approx(0.0, abs=1.0)


def test_retries_wait_with_backoff_after_a_corrupt_download(make_scenario):
    story = run_story(make_scenario({"fleet": {"site_kinds": {"gym": {"count": 1, "cameras_per_site": 1}}},
                                     "artifact": {"corruption_rate": 1.0, "max_download_attempts": 3},
                                     "delivery": {"retries": {"backoff": "10m", "factor": 3}}}))
    verifies = story.times(0, S.VERIFYING)
    # 100 s download, 1 s verify, then waits of 10 min and 30 min before the next tries
    assert verifies == pytest.approx([100, 100 + 1 + 600 + 100, 100 + 1 + 600 + 100 + 1 + 1800 + 100])


def test_cool_only_activation_waits_for_a_cool_moment(make_scenario):
    hot_afternoons = {"gym": {"count": 2, "cameras_per_site": 1,
                              "ambient": {"mean": 40, "daily_swing": 15, "peak": "12:00", "spread": 0}}}
    windows = [{"start": "11:00", "duration": "2h"}, {"start": "21:00", "duration": "2h"}]
    changes = {"fleet": {"site_kinds": hot_afternoons, "install_windows": windows},
               "candidate": {"hardware": {"orin-nx": {"latency": "10ms", "power": 15}}}}
    eager = run_story(make_scenario({**changes, "strategy": {"kind": "all_at_once"}}))
    cool = run_story(make_scenario({**changes, "strategy": {"kind": "thermal_aware", "waves": ["100%"],
                                                            "max_temperature": 75}}))
    assert eager.result.reasons == {"health check: over temperature": 2}   # 54.5 + 45 °C at 11:00
    assert cool.result.outcomes == {S.COMMITTED: 2}
    for device in range(2):
        hour = (cool.first(device, S.ACTIVATING) % 86400) / 3600
        assert hour < 6 or hour > 18                                         # activated in the cool of night


def test_a_shadow_install_never_activates_until_promoted_and_heats_the_box(make_scenario):
    from sim.model.strategy import Update
    from sim.world.controller import Controller
    from sim.world.device import Lifecycle
    from sim.world.world import World
    scenario = make_scenario({"fleet": {"site_kinds": {"gym": {"count": 1, "cameras_per_site": 1}}}})
    world = World(scenario, 1)
    lifecycle = Lifecycle(world)
    controller = Controller(world, lifecycle, scenario.strategy, lambda: None)
    controller._perform(Update((0,), shadow=True))
    world.env.run(until=86400)
    assert world.state(0) == S.AWAITING_WINDOW
    shadowing = controller.telemetry.sample((0,), ())
    assert shadowing["agreement"].canary and shadowing["fps"].canary[0] < 100 * 0.75   # lost frames
    controller._perform(Update((0,)))
    world.env.run(until=2 * 86400)
    assert world.state(0) == S.COMMITTED


def long_download(make_scenario, **changes):
    """One camera, a 108 GB artifact at 1 MB/s: 30 hours of download, longer than a 24-hour link."""
    base = {"duration": "7d",
            "fleet": {"site_kinds": {"gym": {"count": 1, "cameras_per_site": 1}},
                      "storage_free": {"median": "300GB", "sigma": 0}},
            "artifact": {"full_size": "108GB"},
            "delivery": {"link_expiry": "24h"}}
    for key, value in changes.items():
        base[key] = {**base[key], **value} if isinstance(value, dict) else value
    return make_scenario(base)


def test_an_expired_link_ends_the_attempt_and_a_resumable_download_goes_on_from_its_checkpoint(make_scenario):
    """Mender's download links last 24 h: a 30-hour download gets a second link at 24 h and finishes at 30 h, every
    byte kept (the checkpoints of 1 MB fall on the byte count at 1 MB/s)."""
    story = run_story(long_download(make_scenario))
    assert story.first(0, S.VERIFYING) == pytest.approx(30 * 3600)
    assert story.result.bytes.total == pytest.approx(108e9) and story.result.bytes.wasted == pytest.approx(0)
    assert story.result.outcomes == {S.COMMITTED: 1}
    no_expiry = run_story(long_download(make_scenario, delivery={"link_expiry": None}))
    assert no_expiry.first(0, S.VERIFYING) == pytest.approx(30 * 3600)


def test_a_download_that_cannot_finish_within_one_link_and_cannot_resume_fails_after_its_attempts(make_scenario):
    """Not resumable: each new link starts over, 24 h each, and the camera fails after its 5 attempts (5 days),
    every byte wasted. Without expiring links it finished at 30 h."""
    story = run_story(long_download(make_scenario, artifact={"resumable": False}))
    assert story.result.outcomes == {S.FAILED: 1}
    assert story.result.reasons == {"download link expired 5 times": 1}
    assert story.first(0, S.FAILED) == pytest.approx(5 * 86400)
    assert story.result.bytes.total == pytest.approx(5 * 86.4e9) and story.result.bytes.wasted == pytest.approx(
        story.result.bytes.total)
    resumable_off = run_story(long_download(make_scenario, artifact={"resumable": False},
                                            delivery={"link_expiry": None}))
    assert resumable_off.first(0, S.VERIFYING) == pytest.approx(30 * 3600)


def test_a_link_keeps_wall_time_while_the_camera_is_dark(make_scenario):
    """Checkpoints every 10 GB. Dark from 10 h to 12 h (then a 2-minute reboot): 36 GB done, 30 GB kept; resumed at
    43,320 s on the link issued at 0, which still expires at 24 h with 73.08 GB done, 70 GB kept; a new link, and the
    last 38 GB end at 124,400 s. Had the reboot brought a new link, it would have finished at 121,320 s."""
    story = run_story(long_download(make_scenario, artifact={"checkpoint": "10GB"},
                                    faults=[{"kind": "power_cut", "at": "10h", "duration": "2h"}]))
    assert story.first(0, S.VERIFYING) == pytest.approx(124_400)
    assert story.result.bytes.wasted == pytest.approx(6e9 + 3.08e9)
