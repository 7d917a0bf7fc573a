"""In-progress timeouts (`delivery.in_progress_timeout`, AWS IoT Jobs): the server ends an update that has not
reached an outcome in time; a camera downloading, verifying or waiting for its window fails "timed out", one installing
when its install ends, one activating or in its health check runs to its outcome; `timeout_retries` start it again
from what it has."""

import pytest

from sim.model.lifecycle import DeviceState as S
from tests.world.helpers import run_story

HOUR = 3600.0


def one_camera(make_scenario, **changes):
    """One camera, a 108 GB artifact at 1 MB/s: 30 hours of download (checkpoints of 1 MB)."""
    base = {"duration": "7d",
            "fleet": {"site_kinds": {"gym": {"count": 1, "cameras_per_site": 1}},
                      "storage_free": {"median": "300GB", "sigma": 0}},
            "artifact": {"full_size": "108GB"}}
    for key, value in changes.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return make_scenario(base)


def test_a_download_longer_than_the_timeout_fails_timed_out_at_the_timeout(make_scenario):
    story = run_story(one_camera(make_scenario, delivery={"in_progress_timeout": "12h"}))
    assert story.result.outcomes == {S.FAILED: 1}
    assert story.result.reasons == {"timed out after 12h 0m (delivery.in_progress_timeout)": 1}
    assert story.first(0, S.FAILED) == pytest.approx(12 * HOUR)
    assert story.result.bytes.total == pytest.approx(43.2e9) and story.result.bytes.wasted == pytest.approx(43.2e9)


def test_retries_carry_a_resumable_download_on_and_start_one_that_cannot_resume_over(make_scenario):
    """Two retries of 12 h: resumable, the 30-hour download ends at 30 h as without a timeout, nothing wasted; not
    resumable, each execution starts over and the third times out at 36 h, every byte wasted."""
    timeouts = {"in_progress_timeout": "12h", "timeout_retries": 2}
    resumable = run_story(one_camera(make_scenario, delivery=timeouts))
    assert resumable.result.outcomes == {S.COMMITTED: 1}
    assert resumable.first(0, S.VERIFYING) == pytest.approx(30 * HOUR)
    assert resumable.result.bytes.wasted == pytest.approx(0)
    starts_over = run_story(one_camera(make_scenario, delivery=timeouts, artifact={"resumable": False}))
    assert starts_over.result.reasons == {"timed out after 12h 0m (delivery.in_progress_timeout), 3 times": 1}
    assert starts_over.first(0, S.FAILED) == pytest.approx(36 * HOUR)
    assert starts_over.result.bytes.wasted == pytest.approx(starts_over.result.bytes.total) == pytest.approx(3 * 43.2e9)


def test_a_camera_waiting_for_its_install_window_past_the_timeout_fails_and_retries_can_outwait_it(make_scenario):
    """A small artifact fetched in minutes, the window at 20:00: with a 6-hour timeout the camera fails at 6 h,
    waiting for the window; with three retries (24 h in all) it activates at 20:00."""
    window = {"install_windows": [{"start": "20:00", "duration": "2h"}]}
    small = {"full_size": "100MB"}
    short = run_story(one_camera(make_scenario, fleet=window, artifact=small,
                                 delivery={"in_progress_timeout": "6h"}))
    assert short.result.outcomes == {S.FAILED: 1}
    assert short.first(0, S.FAILED) == pytest.approx(6 * HOUR)
    assert short.times(0, S.AWAITING_WINDOW) and short.times(0, S.AWAITING_WINDOW)[-1] < 6 * HOUR
    patient = run_story(one_camera(make_scenario, fleet=window, artifact=small,
                                   delivery={"in_progress_timeout": "6h", "timeout_retries": 3}))
    assert patient.result.outcomes == {S.COMMITTED: 1}
    assert patient.first(0, S.ACTIVATING) == pytest.approx(20 * HOUR)


def test_a_timeout_during_the_install_stops_the_camera_when_the_install_ends(make_scenario):
    """An in-place write must not be cut: the camera fails the moment its install ends, not mid-write."""
    plain = run_story(one_camera(make_scenario, artifact={"full_size": "2GB"}, fleet={"slots": "in_place"}))
    installing, installed = plain.first(0, S.INSTALLING), plain.first(0, S.AWAITING_WINDOW)
    assert installed > installing
    timeout = f"{(installing + installed) / 2:.3f}s"
    story = run_story(one_camera(make_scenario, artifact={"full_size": "2GB"}, fleet={"slots": "in_place"},
                                 delivery={"in_progress_timeout": timeout}))
    assert story.result.outcomes == {S.FAILED: 1}
    assert story.first(0, S.FAILED) == pytest.approx(installed)
    assert story.devices_reaching(S.BRICKED) == set()


def test_a_camera_in_its_health_check_at_the_timeout_runs_to_its_outcome(make_scenario):
    plain = run_story(one_camera(make_scenario, artifact={"full_size": "100MB"}))
    checking, committed = plain.first(0, S.HEALTH_CHECK), plain.first(0, S.COMMITTED)
    story = run_story(one_camera(make_scenario, artifact={"full_size": "100MB"},
                                 delivery={"in_progress_timeout": f"{(checking + committed) / 2:.3f}s"}))
    assert story.result.outcomes == {S.COMMITTED: 1}
    assert story.first(0, S.COMMITTED) == pytest.approx(committed)


def test_a_timed_out_seeder_hands_the_site_to_the_next_camera(make_scenario):
    """A site cache: the seeder's 30-hour fetch times out at 12 h; the next camera of the site fetches instead (and
    times out in turn, 12 h later: the uplink has not got faster)."""
    story = run_story(one_camera(make_scenario, delivery={"in_progress_timeout": "12h", "site_cache": True},
                                 fleet={"site_kinds": {"gym": {"count": 1, "cameras_per_site": 2}}}))
    failed = sorted(story.first(device, S.FAILED) for device in (0, 1))
    assert failed[0] == pytest.approx(12 * HOUR)
    assert story.result.outcomes == {S.FAILED: 2}
    assert all(reason.startswith("timed out") for reason in story.result.reasons)


def test_without_a_timeout_nothing_times_out_and_retries_alone_are_refused(make_scenario):
    from pydantic import ValidationError

    assert run_story(one_camera(make_scenario)).result.outcomes == {S.COMMITTED: 1}
    with pytest.raises(ValidationError, match="needs delivery.in_progress_timeout"):
        one_camera(make_scenario, delivery={"timeout_retries": 2})
    with pytest.raises(ValidationError, match="at least 1m"):
        one_camera(make_scenario, delivery={"in_progress_timeout": "30s"})
