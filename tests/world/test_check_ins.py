"""Agents that poll (`fleet.poll_interval`): a camera learns of its release, a promotion or a rollback at its next
check-in, each camera at its own phase; a dark site's cameras check in once it is back; a halt withdraws the releases
nobody picked up."""

import math

import pytest

from sim.model.lifecycle import DeviceState as S
from sim.model.strategy import Halt, Rollback, Update
from sim.world.controller import WITHDRAWN, Controller
from sim.world.device import Lifecycle
from sim.world.world import World
from tests.world.helpers import run_story

POLL = 1800.0
POLLING = {"fleet": {"poll_interval": "30m"}}


def by_hand(scenario):
    world = World(scenario, scenario.seed)
    lifecycle = Lifecycle(world)
    return world, lifecycle, Controller(world, lifecycle, scenario.strategy, lambda: None)


def test_each_camera_starts_at_its_own_check_in_and_the_same_one_under_every_plan(make_scenario):
    """All at once, 8 cameras: each starts downloading at the first check-in of its own phase, spread over the
    interval; told at once without polling. A plan that releases the first half later meets the same phases."""
    polling = run_story(make_scenario(POLLING))
    _, lifecycle, _ = by_hand(make_scenario(POLLING))
    assert lifecycle.check_ins is not None
    starts = [polling.first(device, S.DOWNLOADING) for device in range(8)]
    assert starts == [lifecycle.check_ins.scheduled(device, 0.0) for device in range(8)]
    assert all(0 <= start < POLL for start in starts) and len(set(starts)) == 8
    assert polling.result.outcomes == {S.COMMITTED: 8}
    told_at_once = run_story(make_scenario())
    assert all(told_at_once.first(device, S.DOWNLOADING) == 0 for device in range(8))
    later = run_story(make_scenario({**POLLING, "strategy": {"kind": "waves", "waves": ["50%", "100%"],
                                                              "bake": "3h"}}))
    for device in range(8):
        told = 0.0 if later.first(device, S.DOWNLOADING) < 3 * 3600 else 3 * 3600.0
        assert later.first(device, S.DOWNLOADING) == lifecycle.check_ins.scheduled(device, told)
        assert (later.first(device, S.DOWNLOADING) - starts[device]) % POLL == pytest.approx(0, abs=1e-6)


def test_cameras_of_a_dark_site_check_in_at_their_first_check_in_after_it_is_back(make_scenario):
    """Every site dark for the first 2 h: no camera can ask before 2 h, each starts at its first check-in after."""
    scenario = make_scenario({**POLLING, "faults": [{"kind": "outage", "at": "0s", "duration": "2h"}]})
    story = run_story(scenario)
    _, lifecycle, _ = by_hand(scenario)
    assert lifecycle.check_ins is not None
    for device in range(8):
        assert story.first(device, S.DOWNLOADING) == lifecycle.check_ins.scheduled(device, 7200.0) >= 7200


def test_a_halt_withdraws_the_releases_no_agent_has_picked_up(make_scenario):
    """Told at 0 and halted a quarter of an hour later: the cameras that checked in by then carry on, the others
    never start and say why; the halt event counts them."""
    world, lifecycle, controller = by_hand(make_scenario(POLLING))
    assert lifecycle.check_ins is not None
    controller._perform(Update(tuple(range(8))))
    world.env.run(until=900)
    picked_up = {device for device in range(8) if lifecycle.check_ins.scheduled(device, 0.0) <= 900}
    assert 0 < len(picked_up) < 8
    on_their_way = lifecycle.in_flight          # the withdrawn ones among them
    controller._perform(Halt("enough"))
    assert controller.in_flight_at_halt == on_their_way - (8 - len(picked_up))
    world.env.run(until=2 * 86400)
    assert {device for device in range(8) if world.state(device) == S.COMMITTED} == picked_up
    assert all(world.state(device) == S.IDLE and world.recorder.reasons[device] == WITHDRAWN
               for device in set(range(8)) - picked_up)
    assert controller.timeline[-1].kind == "halt" and controller.timeline[-1].devices == 8 - len(picked_up)
    assert lifecycle.in_flight == 0


def test_a_rollback_reaches_a_camera_at_its_next_check_in_and_drops_a_release_not_picked_up(make_scenario):
    world, lifecycle, controller = by_hand(make_scenario({**POLLING, "fleet": {
        **POLLING["fleet"], "site_kinds": {"gym": {"count": 1, "cameras_per_site": 2}}}}))
    check_ins = lifecycle.check_ins
    assert check_ins is not None
    controller._perform(Update((0,)))
    world.env.run(until=86400)
    assert world.state(0) == S.COMMITTED
    controller._perform(Update((1,)))
    controller._perform(Rollback((0, 1), "bad model"))
    assert world.state(1) == S.IDLE and not lifecycle.awaiting_check_in(1)     # withdrawn on the server at once
    assert world.state(0) == S.COMMITTED                                         # not told yet
    world.env.run(until=check_ins.scheduled(0, 86400.0) + 1)
    assert world.state(0) == S.ROLLING_BACK
    world.env.run(until=2 * 86400)
    assert world.state(0) == S.ROLLED_BACK and world.state(1) == S.IDLE
    assert lifecycle.in_flight == 0


def test_a_camera_whose_site_stays_dark_waits_for_its_check_in_and_says_so(make_scenario):
    story = run_story(make_scenario({**POLLING, "faults": [{"kind": "outage", "at": "0s", "duration": "30d"}]}))
    assert story.result.outcomes == {S.IDLE: 8}
    assert list(story.result.reasons) == [
        "waiting for its agent to check in (fleet.poll_interval; none while its site's uplink is down)"]
    assert story.moves == []


def test_the_check_ins_wait_no_longer_than_an_interval_when_the_site_is_up(make_scenario):
    _, lifecycle, _ = by_hand(make_scenario(POLLING))
    check_ins = lifecycle.check_ins
    assert check_ins is not None
    for device in range(8):
        for time in (0.0, 1.0, 1799.0, 5000.5, 86400.0):
            moment = check_ins.scheduled(device, time)
            assert time <= moment < time + POLL
            assert check_ins.scheduled(device, moment) == moment
            assert math.isclose((moment - check_ins.scheduled(device, 0.0)) % POLL, 0, abs_tol=1e-6) or math.isclose(
                (moment - check_ins.scheduled(device, 0.0)) % POLL, POLL, abs_tol=1e-6)


def test_a_promotion_reaches_a_shadowing_camera_at_its_next_check_in(make_scenario):
    """A shadow install waits in AWAITING_WINDOW; the promotion order is picked up at the camera's next check-in, and
    only then does it look for a window (the window is open all day here, so it activates at the check-in)."""
    world, lifecycle, controller = by_hand(make_scenario({**POLLING, "fleet": {
        **POLLING["fleet"], "site_kinds": {"gym": {"count": 1, "cameras_per_site": 1}}}}))
    check_ins = lifecycle.check_ins
    assert check_ins is not None
    controller._perform(Update((0,), shadow=True))
    world.env.run(until=86400)
    assert world.state(0) == S.AWAITING_WINDOW
    controller._perform(Update((0,)))
    assert world.state(0) == S.AWAITING_WINDOW and lifecycle.devices[0].shadow      # not told yet
    picked_up = check_ins.scheduled(0, 86400.0)
    world.env.run(until=picked_up + 1)
    assert world.state(0) == S.ACTIVATING and world.recorder.shadow_end[0] == picked_up
    world.env.run(until=2 * 86400)
    assert world.state(0) == S.COMMITTED
