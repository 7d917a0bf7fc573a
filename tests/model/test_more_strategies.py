"""The industry's plans, stepped by hand: feed Observations, read the actions."""

import random
from dataclasses import replace
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from sim.model.lifecycle import DeviceState as S
from sim.model.strategies.budgeted import BudgetedParams
from sim.model.strategies.canary import CanaryParams, choose_canary
from sim.model.strategies.exponential import ExponentialParams
from sim.model.strategies.groups import GroupsParams
from sim.model.strategies.phases import PhasesParams, phase_sizes
from sim.model.strategies.shadow import ShadowParams
from sim.model.strategies.thermal_aware import ThermalAwareParams
from sim.model.strategy import FleetView, Halt, Observation, Rollback, Sample, Samples, Soak, Update, start

ANGLES = ("overhead", "sideline", "goal")


def fleet(size: int, sites: int = 1) -> FleetView:
    cohorts = tuple(("orin", "gym", ANGLES[device % 3]) for device in range(size))
    return FleetView(size, cohorts, random.Random(0), sites=tuple(device % sites for device in range(size)),
                     artifact_bytes=100e6, egress_price_per_byte=0.09e-9)


def seen(time=0.0, released=0, outcomes=None, samples=None, **counts) -> Observation:
    return Observation(time=time, released=released, outcomes=MappingProxyType(outcomes or {}),
                       samples=samples or {}, **counts)


def test_phases_release_batches_at_their_offsets_and_the_last_takes_the_rest():
    params = PhasesParams(phases=[{"batch": "5%", "start": "0s"}, {"batch": "15%", "start": "2d"},
                                  {"start": "4d"}], check_every="1d", watch_after_last="1d")
    assert phase_sizes(params, 100) == [5, 15, 80]
    rollout = start(params, fleet(100))
    first = next(rollout)
    assert len(first.devices) == 5
    assert [rollout.send(seen()), rollout.send(seen())] == [Soak(86400.0), Soak(86400.0)]
    second = rollout.send(seen())
    assert len(second.devices) == 15
    rollout.send(seen())
    rollout.send(seen())
    assert len(rollout.send(seen()).devices) == 80


@pytest.mark.parametrize("phases, says", [
    ([{"batch": "60%"}, {"batch": "60%"}], "the batches add up to 120%, more than 100%"),
    ([{"batch": "10%"}, {"batch": "20%", "start": "2d"}, {"start": "1d"}],
     "phases.2 starts at 1d 0h, before phases.1 (2d 0h): start offsets must not decrease"),
    ([{"batch": "10%"}, {"start": "1d"}, {"start": "2d"}],
     "phases.1 leaves out its batch: only the last phase may (it takes the rest)"),
])
def test_phases_that_cannot_be_released_in_order_are_refused_naming_the_phase(phases, says):
    """The rule's words once named no phase ('phase start offsets must not decrease'), in a plan of ten."""
    with pytest.raises(ValidationError) as refused:
        PhasesParams(phases=phases)
    [problem] = refused.value.errors()
    assert problem["loc"] == ("phases",) and problem["msg"] == f"Value error, {says}"


def release_times(params, size: int, outcomes=None) -> tuple[list[float], object]:
    """Drive a plan with empty observations; the time each device was released, and the last action."""
    rollout, clock, times = start(params, fleet(size)), 0.0, []
    action = next(rollout)
    while True:
        if isinstance(action, Update):
            times += [clock] * len(action.devices)
        elif isinstance(action, Soak):
            clock += action.duration
        else:
            return times, action
        try:
            action = rollout.send(seen(time=clock, released=len(times), outcomes=outcomes or {}))
        except StopIteration:
            return times, None


def test_exponential_notifies_the_nth_device_when_the_rate_has_paid_for_it_and_caps_the_rate():
    params = ExponentialParams(base_rate_per_minute=2, increment_factor=2, rate_increase={"notified": 2},
                               maximum_per_minute=5)
    times, _ = release_times(params, 8)
    # 2/min: 30 s, 60 s; then 4/min: +15 s each; then 8/min capped at 5/min: +12 s each
    assert times == pytest.approx([30, 60, 75, 90, 102, 114, 126, 138])


def test_exponential_notifies_only_inside_its_daily_windows_at_its_rate_there():
    """AWS IoT Jobs' maintenance windows: 60/min from 02:00 to 02:30 UTC each day; 2,500 devices take three nights
    (1,800 a night), none told outside a window, and the n-th device of a night at n seconds after 02:00."""
    params = ExponentialParams(base_rate_per_minute=60, maximum_per_minute=60,
                               windows=[{"start": "02:00", "duration": "30m"}])
    times, _ = release_times(params, 2500)
    day = 86400.0
    assert all(7200 <= time % day <= 9000 for time in times), sorted({time % day for time in times})[:5]
    nights = [sum(1 for time in times if int(time // day) == night) for night in range(3)]
    assert nights == [1800, 700, 0], nights
    assert times[:3] == pytest.approx([7201, 7202, 7203])
    assert times[1800] == pytest.approx(day + 7201)
    without, _ = release_times(ExponentialParams(base_rate_per_minute=60, maximum_per_minute=60), 2500)
    assert without[-1] == pytest.approx(2500)


def test_an_exponential_window_past_midnight_and_two_windows_a_day_are_read_as_written():
    from sim.model.strategies.exponential import window_at

    params = ExponentialParams(windows=[{"start": "23:00", "duration": "2h"}, {"start": "12:00", "duration": "1h"}])
    assert window_at(params.windows, 0.0) == (True, 3600.0)                 # the 23:00 window of the day before
    assert window_at(params.windows, 3600.0) == (False, 12 * 3600.0)
    assert window_at(params.windows, 12.5 * 3600) == (True, 13 * 3600.0)
    assert window_at(params.windows, 14 * 3600.0) == (False, 23 * 3600.0)
    assert window_at([], 5.0) == (True, float("inf"))
    with pytest.raises(ValidationError, match="a rollout window lasts more than zero and at most 24h"):
        ExponentialParams(windows=[{"start": "02:00", "duration": "25h"}])


def test_exponential_abort_stops_the_queue_and_says_the_in_flight_carry_on():
    params = ExponentialParams(base_rate_per_minute=10, abort=[{"threshold": "20%", "min_executed": 3}])
    rollout = start(params, fleet(100))
    told, action = [], next(rollout)
    while not isinstance(action, Halt):
        if isinstance(action, Update):
            told += action.devices
        outcomes = {device: S.FAILED for device in told[:3]}
        action = rollout.send(seen(released=len(told), in_progress=len(told) - len(outcomes), outcomes=outcomes,
                                   failed=len(outcomes)))      # as the controller counts them
    assert len(told) == 10            # the criteria look once a minute: 10/min were notified by then
    assert "90 queued devices cancelled, 7 in flight carry on" in action.reason


@pytest.mark.parametrize("params", [
    ExponentialParams(base_rate_per_minute=10, abort=[{"threshold": "20%", "min_executed": 3}]),
    PhasesParams(phases=[{"batch": "10%", "start": "0s"}, {"start": "1h"}], abort={"threshold": "20%",
                                                                                 "min_executed": 3}),
    ThermalAwareParams(max_temperature=80, waves=["10%", "100%"], abort={"threshold": "20%", "min_executed": 3}),
    CanaryParams(stratify=False, then=["50%", "100%"], abort={"threshold": "20%", "min_executed": 3}),
])
def test_an_abort_look_reads_the_controllers_totals_not_each_device(params, monkeypatch):
    """The abort rules of exponential, phases, thermal_aware and the canary's waves counted every device told so
    far, one by one, at every look: 40% of a 100,000-camera run (phases 10.6 s against 6.3 s of CPU; exponential
    15.6 s against 8.3 s, and growing with the fleet's square at its look a minute). The totals the controller keeps
    say the same (the outcomes of every device told); a look now costs nothing per device."""
    examined = []
    count = Observation.count

    def counting(self, devices):
        devices = list(devices)
        examined.append(len(devices))
        return count(self, devices)

    monkeypatch.setattr(Observation, "count", counting)
    rollout = start(params, fleet(3_000))
    told, action, canary = [], next(rollout), None
    while not isinstance(action, Halt):
        if isinstance(action, Update):
            told += action.devices
            canary = canary or len(told)
        failed = 10 if canary and len(told) > canary else 0    # the first release passes; what follows fails
        outcomes = {device: S.FAILED for device in told[-failed:]} if failed else {}
        action = rollout.send(seen(released=len(told), in_progress=len(told) - failed, outcomes=outcomes,
                                   failed=failed, samples={}))
    assert "abort" in action.reason and "10 of 10 reported devices failed" in action.reason, action.reason
    assert max(examined, default=0) <= canary, (max(examined), canary)   # only the canary's bake counts, its own


def test_groups_open_the_next_group_on_success_and_pause_on_errors():
    rollout = start(GroupsParams(groups=2, success_threshold="50%", error_threshold="50%"), fleet(20))
    first = next(rollout)
    assert isinstance(rollout.send(seen()), Soak)
    done = {device: S.COMMITTED for device in first.devices[:5]}
    second = rollout.send(seen(outcomes=done))
    assert isinstance(second, Update) and not set(second.devices) & set(first.devices)
    rollout.send(seen())
    broken = {device: S.ROLLED_BACK for device in second.devices[:5]}
    assert isinstance(rollout.send(seen(outcomes=broken)), Halt)


def test_more_groups_than_devices_are_one_device_each_and_no_empty_group():
    """200,000,000 groups on 3 devices once built 200 million slices and soaked once per empty group."""
    from sim.model.strategies.groups import split_groups

    assert split_groups(GroupsParams(groups=200_000_000), fleet(3)) == [[device] for device in fleet(3).shuffled()]
    rollout = start(GroupsParams(groups=5), fleet(3))
    updates = [next(rollout)]
    with pytest.raises(StopIteration):          # the plan ends after the third group
        for _ in range(20):
            action = rollout.send(seen(outcomes={device: S.COMMITTED for update in updates
                                                 for device in update.devices}))
            if isinstance(action, Update):
                updates.append(action)
    assert [len(update.devices) for update in updates] == [1, 1, 1]


def test_plans_look_at_most_once_a_second_and_a_shadow_stratum_needs_a_report():
    """check_every: 1e-9h (3.6 µs) never let a 3-day scenario finish; min_reports: 0 took the median of nothing."""
    required = {"phases": [{"batch": "100%"}], "waves": ["100%"]}
    for params, key in ((GroupsParams, "check_every"), (PhasesParams, "check_every"), (ShadowParams, "check_every"),
                        (BudgetedParams, "tick"), (ThermalAwareParams, "check_every")):
        needs = {name: value for name, value in required.items() if name in params.model_fields}
        with pytest.raises(ValidationError, match="at least 1s: a plan looks at its fleet at most once a second"):
            params.model_validate({key: "999ms", **needs})
        assert getattr(params.model_validate({key: "1s", **needs}), key) == 1.0
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        ShadowParams(min_reports=0)


def test_groups_roll_a_group_back_under_its_policy():
    params = GroupsParams(groups=2, rollback_policy={"failed_share": "20%", "failed_count": 2})
    rollout = start(params, fleet(20))
    first = next(rollout)
    rollout.send(seen())
    outcomes = {first.devices[0]: S.FAILED, first.devices[1]: S.FAILED, first.devices[2]: S.COMMITTED}
    action = rollout.send(seen(outcomes=outcomes))
    assert isinstance(action, Rollback) and set(action.devices) == set(first.devices)


def test_a_stratified_canary_covers_every_stratum_and_a_random_one_need_not():
    stratified = choose_canary(CanaryParams(stratum="camera_angle", min_per_stratum=5), fleet(300))
    assert set(stratified) == {(angle,) for angle in ANGLES}
    assert all(len(members) >= 5 for members in stratified.values())
    plain = choose_canary(CanaryParams(stratify=False, detect_failure_rate="5%", confidence="95%"), fleet(300))
    assert list(plain) == [("all",)] and len(plain[("all",)]) == 59


def test_a_canary_whose_stratum_fails_the_judge_is_rolled_back_and_halted():
    params = CanaryParams(stratum="camera_angle", min_per_stratum=12, bake="1h", check_every="1h", abort=None)
    rollout = start(params, fleet(300))
    update = next(rollout)
    assert isinstance(update, Update) and update.label.startswith("canary")
    assert isinstance(rollout.send(seen()), Soak)
    action = rollout.send(seen())
    healthy = Samples(tuple([0.90 + i * 1e-4 for i in range(12)]), tuple([0.90 + i * 1e-4 for i in range(40)]))
    sick = Samples(tuple([0.75 + i * 1e-4 for i in range(12)]), healthy.control)
    answers = iter([healthy, sick])
    while isinstance(action, Sample):
        action = rollout.send(seen(samples={"detection_rate": next(answers)}))
    assert isinstance(action, Rollback)
    assert "stratum" in action.reason and "detection_rate Low" in action.reason
    assert isinstance(rollout.send(seen()), Halt)


def test_shadow_installs_without_acting_and_halts_when_agreement_drops():
    rollout = start(ShadowParams(sample="10%", stratum="camera_angle", min_reports=2), fleet(60))
    first = next(rollout)
    assert first.shadow
    assert isinstance(rollout.send(seen()), Soak)
    action = rollout.send(seen())
    low = {"agreement": Samples((0.90, 0.91, 0.92), ())}
    while isinstance(action, Sample):
        action = rollout.send(seen(samples=low))
    assert isinstance(action, Rollback) and isinstance(rollout.send(seen()), Halt)


def test_shadow_promotes_after_agreement_holds():
    rollout = start(ShadowParams(sample="10%", stratum="camera_angle", min_reports=2, hold="2h",
                                 check_every="1h"), fleet(60))
    first = next(rollout)
    good = {"agreement": Samples((0.995, 0.996, 0.997), ())}
    action = rollout.send(seen())
    while not (isinstance(action, Update) and not action.shadow):
        action = rollout.send(seen(samples=good) if isinstance(action, Sample) else seen())
    assert action.label == "promote shadow sample" and action.devices == first.devices


def test_shadow_promotion_builds_the_samples_set_once_not_once_per_camera(monkeypatch):
    """The waves after a promotion were built by testing each camera against a set of the shadow sample made anew
    for it: 33 s for a 100,000-camera fleet, hours at a million. Counted rather than timed (a busy machine's timings
    are noise at this size): the sets the plan builds from start to its first wave after promotion."""
    import builtins

    import sim.model.strategies.shadow as module

    built = []

    def counting_set(*args):
        built.append(1)
        return builtins.set(*args)

    monkeypatch.setattr(module, "set", counting_set, raising=False)
    rollout = start(ShadowParams(hold="1h", check_every="1h"), fleet(3_000))
    action = sample = next(rollout)
    good = {"agreement": Samples((0.999,) * 50, ())}
    while not (isinstance(action, Update) and action.label.startswith("wave")):
        action = rollout.send(seen(samples=good))
    assert len(action.devices) > 500 and not builtins.set(action.devices) & builtins.set(sample.devices)
    assert len(built) <= 3, len(built)


def test_thermal_aware_asks_for_cool_activation():
    update = next(start(ThermalAwareParams(max_temperature=78), fleet(100)))
    assert update.cool_below == 78


def test_budgeted_releases_no_more_than_the_hourly_budget_and_stops_at_the_cost_cap():
    rollout = start(BudgetedParams(global_per_hour="1GB", cost_cap="$0.2", tick="1h"), fleet(100))
    first = next(rollout)
    assert len(first.devices) == 10           # 1 GB per hour / 100 MB per device
    assert isinstance(rollout.send(seen()), Soak)
    second = rollout.send(seen())
    assert len(second.devices) == 10
    rollout.send(seen())
    last = rollout.send(seen())             # $0.20 at $0.09/GB buys 2.2 GB: 22 devices in all
    assert isinstance(last, Update) and len(last.devices) == 2
    halt = rollout.send(seen())
    assert isinstance(halt, Halt) and "cost cap reached: 22 devices released, 78 left" in halt.reason


def test_budgeted_counts_each_devices_own_download_and_sets_aside_one_larger_than_the_budget():
    """Deltas of 40 MB, full images of 100 MB where a base does not match, one of 300 MB: each hour's releases fit
    the 200 MB budget by their own sizes, and the one that never can does not hold up the rest."""
    def size(device: int) -> float:
        return 300e6 if device == 3 else 100e6 if device % 2 else 40e6

    rollout = start(BudgetedParams(global_per_hour="200MB", tick="1h"), replace(fleet(20), device_bytes=size))
    released: list[int] = []
    action = next(rollout)
    while True:
        if isinstance(action, Update):
            assert sum(size(device) for device in action.devices) <= 200e6
            released.extend(action.devices)
        try:
            action = rollout.send(seen())
        except StopIteration:
            break
    assert sorted(released) == [device for device in range(20) if device != 3]


def test_budgeted_ends_when_every_camera_is_larger_than_its_sites_budget():
    """100 MB cameras under a 50 MB site budget were skipped and queued again every tick: the plan never ended."""
    rollout = start(BudgetedParams(site_per_hour="50MB", tick="1h"), fleet(10, sites=2))
    actions = [next(rollout)]
    with pytest.raises(StopIteration):
        for _ in range(5):
            actions.append(rollout.send(seen()))
    assert actions == [Soak(3600.0)]            # nothing released, and the plan is over


def test_budgeted_keeps_each_site_within_its_own_budget():
    rollout = start(BudgetedParams(site_per_hour="200MB", tick="1h"), fleet(30, sites=3))
    first = next(rollout)
    per_site = {}
    for device in first.devices:
        per_site[device % 3] = per_site.get(device % 3, 0) + 1
    assert per_site == {0: 2, 1: 2, 2: 2}


def test_the_canary_release_counts_its_devices_and_strata_in_good_english():
    """'canary (20 devices, 1 strata)', and '1 devices' on a fleet of one."""
    unstratified = start(CanaryParams(stratify=False, detect_failure_rate="10%"), fleet(300))
    assert next(unstratified).label == "canary (29 devices, 1 stratum)"
    assert next(start(CanaryParams(stratify=False), fleet(1))).label == "canary (1 device, 1 stratum)"
    assert next(start(CanaryParams(stratum="camera_angle", min_per_stratum=5), fleet(300))).label.endswith(
        "devices, 3 strata)")


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 3), st.sampled_from([1.0, 4e7, 5e8, 1.5e6])),
                max_size=60))
def test_the_budget_ledgers_running_sums_are_a_recount_of_its_window(steps):
    """The budgeted plan keeps each window's bytes as running sums (a recount of a day's releases at every tick was
    70% of a 100,000-camera run): after any releases over time, each sum is exactly the recount."""
    from sim.model.strategies.budgeted import DAY, HOUR, _Ledger

    ledger, released, now = _Ledger(), [], 0.0
    for minutes, site, size in steps:
        now += minutes * 600.0
        ledger.move_to(now)
        ledger.add(now, site, size)
        released.append((now, site, size))
        for window, span in ((ledger.hour, HOUR), (ledger.day, DAY)):
            inside = [(site_, size_) for time, site_, size_ in released if time > now - span]
            assert window.used == sum(size_ for _, size_ in inside)
            for each in range(4):
                assert window.by_site.get(each, 0.0) == sum(size_ for site_, size_ in inside if site_ == each)
