"""Each plan trap has a scenario that triggers it and one that does not; the warning names its key and number."""

from __future__ import annotations

import pytest

from sim.load import load_scenario_text, plan_warnings
from sim.model.plan_traps import notified_curve
from sim.model.plan_traps import plan_warnings as traps
from sim.model.strategies.exponential import ExponentialParams
from tests.conftest import ROOT, TINY_PLAN

TINY = (ROOT / "scenarios" / "tiny.yaml").read_text()
PLAN = TINY_PLAN + "\n"
BIG_FLEET = ("count: 10\n      cameras_per_site: 3", "count: 2000\n      cameras_per_site: 3")


def scenario(strategy: str, *replacements: tuple[str, str]):
    text = TINY.replace(PLAN, strategy)
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return load_scenario_text(text)


def keys(found) -> list[str]:
    return [key for key, _ in traps(found)]


CASES = {
    "aws abort reached after most of the fleet was notified": (
        "strategy:\n  kind: exponential\n  base_rate_per_minute: 100\n  rate_increase: {notified: 100}\n"
        "  abort: [{threshold: 5%, min_executed: 50}]\n",
        "strategy:\n  kind: exponential\n  base_rate_per_minute: 2\n  increment_factor: 1.1\n"
        "  rate_increase: {notified: 1000}\n  maximum_per_minute: 2\n  abort: [{threshold: 5%, min_executed: 5}]\n",
        "strategy.abort.0.min_executed", "the abort can only cancel the rest", (BIG_FLEET,)),
    "rate grows on succeeded things behind a night window": (
        "strategy:\n  kind: exponential\n  rate_increase: {succeeded: 20}\n",
        "strategy:\n  kind: exponential\n  rate_increase: {notified: 20}\n",
        # tiny's cameras are at UTC-05:00 and UTC-08:00: their 02:00 windows open 7 and 10 hours after midnight UTC
        "strategy.rate_increase.succeeded",
        "stays at its base 10/min for 7.0 h (4,200 devices), until the 02:00 window opens in UTC-05:00", ()),
    "hawkBit success 100% where devices never report": (
        "strategy:\n  kind: groups\n  groups: 4\n  success_threshold: 100%\n",
        "strategy:\n  kind: groups\n  groups: 4\n  success_threshold: 95%\n",
        "strategy.success_threshold", "power cuts per device a day", ()),
    "canary too small for a stratum": (
        "strategy:\n  kind: canary\n  detect_failure_rate: 2%\n  min_per_stratum: 2\n",
        "strategy:\n  kind: canary\n  detect_failure_rate: 2%\n  stratify: false\n",
        "strategy.detect_failure_rate", "below the stated confidence 95%", (BIG_FLEET,)),
    "a wave that rounds to zero devices": (
        "strategy:\n  kind: waves\n  waves: [10%, 11%, 100%]\n",
        "strategy:\n  kind: waves\n  waves: [10%, 20%, 100%]\n",
        "strategy.waves.1", "rounds to 0 new devices", ()),
    "a first wave smaller than the abort's minimum": (
        "strategy:\n  kind: waves\n  waves: [10%, 100%]\n  abort: {threshold: 20%, min_executed: 10}\n",
        PLAN, "strategy.abort.min_executed", "cannot stop the first wave", ()),
    "waves that roll back on an abort they do not have": (
        "strategy:\n  kind: waves\n  waves: [10%, 50%, 100%]\n  rollback_on_abort: true\n",
        "strategy:\n  kind: waves\n  waves: [10%, 50%, 100%]\n  rollback_on_abort: true\n"
        "  sequential: {acceptable: 1%}\n",
        "strategy.rollback_on_abort", "never halts and never rolls anything back", ()),
    "phases that roll back on an abort they do not have": (
        "strategy:\n  kind: phases\n  phases: [{batch: 10%}, {start: 1d}]\n  rollback_on_abort: true\n",
        "strategy:\n  kind: phases\n  phases: [{batch: 10%}, {start: 1d}]\n  rollback_on_abort: true\n"
        "  abort: {threshold: 20%, min_executed: 4}\n",
        "strategy.rollback_on_abort", "never halts and never rolls anything back", ()),
    "waves that stop short of the fleet": (
        "strategy:\n  kind: waves\n  waves: [10%, 50%]\n",
        "strategy:\n  kind: waves\n  waves: [10%, 100%]\n",
        "strategy.waves.1", "the last wave is 50%: about 20 of the 40 devices are never told", ()),
    "a canary whose waves after it stop short": (
        "strategy:\n  kind: canary\n  detect_failure_rate: 10%\n  stratify: false\n  then: [25%, 90%]\n",
        "strategy:\n  kind: canary\n  detect_failure_rate: 10%\n  stratify: false\n  then: [25%, 100%]\n",
        "strategy.then.1", "the other 10% of the devices after the canary are never told", ()),
    "waves whose last one comes after the run": (
        "strategy:\n  kind: waves\n  waves: [10%, 50%, 100%]\n  bake: 2d\n",
        "strategy:\n  kind: waves\n  waves: [10%, 50%, 100%]\n  bake: 1d\n",
        "strategy.bake", "at 4d 0h at the soonest (2 bakes of 2d 0h), not before the run's 3d 0h duration ends", ()),
    "waves whose last one comes too close to the end to commit": (
        "strategy:\n  kind: waves\n  waves: [10%, 50%, 100%]\n  bake: 35h 55m\n",
        "strategy:\n  kind: waves\n  waves: [10%, 50%, 100%]\n  bake: 35h\n",
        "strategy.bake", "10m 0s before the run ends, less than the about", ()),
    "a phase that starts after the run": (
        "strategy:\n  kind: phases\n  phases: [{batch: 10%}, {start: 4d}]\n",
        "strategy:\n  kind: phases\n  phases: [{batch: 10%}, {start: 2d}]\n",
        "strategy.phases.1.start", "(the last phase's start), not before the run's 3d 0h duration ends", ()),
    "a canary whose waves come after the run": (
        "strategy:\n  kind: canary\n  detect_failure_rate: 10%\n  stratify: false\n  bake_between: 3d\n",
        "strategy:\n  kind: canary\n  detect_failure_rate: 10%\n  stratify: false\n  bake_between: 1d\n",
        "strategy.bake_between", "the canary's 1d 0h bake, then 1 of 3d 0h", ()),
    "a byte budget smaller than one download": (
        "strategy:\n  kind: budgeted\n  global_per_hour: 40MB\n",
        "strategy:\n  kind: budgeted\n  global_per_hour: 50MB\n",
        "strategy.global_per_hour", "40.00 MB is less than one camera's download (50.00 MB): no camera is ever "
        "released", ()),
    "a site budget smaller than the full image where bases do not match": (
        "strategy:\n  kind: budgeted\n  site_per_day: 30MB\n",
        "strategy:\n  kind: budgeted\n  site_per_day: 50MB\n",
        "strategy.site_per_day", "(about 20%) need the full image and are never released",
        (("artifact:\n", "delivery: {delta: true, base_mismatch: 20%}\nartifact:\n  delta_size: 10MB\n"),)),
    "a canary with nothing to judge it": (
        "strategy:\n  kind: canary\n  detect_failure_rate: 10%\n  stratify: false\n  judge: null\n  abort: null\n",
        "strategy:\n  kind: canary\n  detect_failure_rate: 10%\n  stratify: false\n  judge: null\n",
        "strategy.judge", "nothing can halt this canary", ()),
    "job windows too narrow to notify the fleet within the run": (
        "strategy:\n  kind: exponential\n  maximum_per_minute: 5\n  base_rate_per_minute: 5\n"
        "  windows: [{start: \"02:00\", duration: 1m}]\n",
        "strategy:\n  kind: exponential\n  maximum_per_minute: 50\n  base_rate_per_minute: 5\n"
        "  windows: [{start: \"02:00\", duration: 1m}]\n",
        "strategy.windows", "1m 0s of windows a day at most 5/min notify at most 5 devices a day: the 40-camera "
        "fleet needs 8.0 days of them, longer than the run's 3d 0h", ()),
    "more groups than the run can open one after another": (
        "strategy:\n  kind: groups\n  groups: 40\n",
        "strategy:\n  kind: groups\n  groups: 20\n",
        "strategy.groups", "so about 9 a day in the install windows): the last group opens after about 4d 8h, not "
        "before the run's 3d 0h ends, so the last groups are never told", ()),
    "a rollback on halt that cannot reach the failed cameras": (
        PLAN + "  rollback_on_abort: true\n", PLAN, "strategy.rollback_on_abort",
        "the cameras that passed go back to the old model, and the ones it halted for stay on the failing candidate",
        (("artifact:", "delivery: {failure_handling: do_nothing}\nartifact:"),)),
    "a canary rolled back on halt that cannot reach its failed cameras": (
        "strategy:\n  kind: canary\n  detect_failure_rate: 10%\n  stratify: false\n",
        "strategy:\n  kind: canary\n  detect_failure_rate: 10%\n  stratify: false\n  rollback_on_halt: false\n",
        "strategy.rollback_on_halt", "rollback_on_halt rolls back the cameras the plan released when it halts",
        (("artifact:", "delivery: {failure_handling: do_nothing}\nartifact:"),)),
    "a bake shorter than the agents' poll interval": (
        "strategy:\n  kind: waves\n  waves: [10%, 100%]\n  bake: 20m\n",
        "strategy:\n  kind: waves\n  waves: [10%, 100%]\n  bake: 1h\n",
        "strategy.bake", "the 20m 0s bake is shorter than the 1h 0m between the agents' check-ins "
        "(fleet.poll_interval): when it ends, about 67% of the wave's cameras have not yet learnt of their release, "
        "so the look after it judges a wave that has mostly not started",
        (("fleet:\n", "fleet:\n  poll_interval: 1h\n"),)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_trap_is_flagged_with_its_key_and_a_sound_plan_is_not(name):
    trapped, sound, key, says, replacements = CASES[name]
    found = traps(scenario(trapped, *replacements))
    assert [k for k, _ in found] == [key], found
    assert says in found[0][1], found[0][1]
    assert keys(scenario(sound, *replacements)) == []


def test_the_success_rule_is_quiet_on_a_fleet_where_every_device_reports():
    calm = ("power_loss_per_day: 0.01", "power_loss_per_day: 0"), ("      outages: {mtbf: 2d, mttr: 1h}\n", "")
    assert keys(scenario("strategy:\n  kind: groups\n  success_threshold: 100%\n", *calm)) == []


def test_the_notified_curve_is_the_iot_jobs_example():
    curve = notified_curve(ExponentialParams(base_rate_per_minute=50, increment_factor=2,
                                             rate_increase={"notified": 1000}, maximum_per_minute=1000), 10_000)
    assert curve[19] == 1000 and curve[29] == 2000 and len(curve) == 44     # the last minute is the 44th


def test_warnings_come_with_the_file_line_of_their_key(tmp_path):
    path = tmp_path / "trap.yaml"
    path.write_text(TINY.replace(PLAN, "strategy:\n  kind: waves\n  waves: [10%, 11%, 100%]\n"))
    _, warnings = plan_warnings(path)
    line = path.read_text().splitlines().index("  waves: [10%, 11%, 100%]") + 1
    assert [(w.line, w.path) for w in warnings] == [(line, "strategy.waves.1")]


def test_an_install_window_shorter_than_a_switch_and_its_health_check_is_flagged():
    """Nothing activated in a 5-minute window (1 min switch + 10 min health check), and the run only said its
    devices were waiting for a window."""
    window = ('    - {start: "02:00", duration: 4h}', '    - {start: "02:00", duration: 5m}')
    [(key, says)] = traps(scenario(PLAN, window))
    assert key == "fleet.install_windows.0.duration"
    assert "shorter than the 11m 0s a device needs in it" in says and "no device ever activates" in says
    slow_nano = ("  power_loss_per_day: 0.01", "  power_loss_per_day: 0.01\n  hardware_profiles:\n"
                 "    nano: {activation_time: 4h}")
    [(_, says)] = traps(scenario(PLAN, slow_nano))                 # the 4h window fits every board but the nano
    assert "no nano device ever activates in it" in says
    assert keys(scenario(PLAN)) == []


@pytest.mark.parametrize("dead, key", [
    (('daily_pattern: {"00:00": 1.0, "17:00": 0.5, "22:00": 1.0}', 'daily_pattern: {"00:00": 0, "17:00": 0}'),
     "fleet.site_kinds.gym.daily_pattern"),
    (("uplink: {median: 8Mbit/s, sigma: 0.5}", "uplink: {median: 8Mbit/s, sigma: 0.5, min: 0bit/s, max: 0bit/s}"),
     "fleet.site_kinds.gym.uplink.max"),
])
def test_an_uplink_that_never_carries_anything_is_flagged(dead, key):
    """The gyms' cameras never downloaded, and the run said only 'still downloading: slow uplink'."""
    [(found, says)] = traps(scenario(PLAN, dead))
    assert found == key and "no gym camera ever downloads" in says
    assert keys(scenario(PLAN, (dead[0], dead[0].replace("0.5", "0")))) == []   # a dark evening is no trap


def test_a_delta_no_smaller_than_the_full_image_is_flagged_with_the_bytes_and_egress_it_adds():
    """A retrained model's binary delta can outgrow the image; delta delivery then costs more than the full one."""
    text = (ROOT / "scenarios" / "delta-and-site-cache.yaml").read_text()
    assert "delta_size: 120MB" in text and "site_cache: true" in text
    assert [key for key, _ in traps(load_scenario_text(text))] == []
    [(key, says)] = traps(load_scenario_text(text.replace("delta_size: 120MB", "delta_size: 600MB")))
    assert key == "artifact.delta_size"
    # 100 MB more for each of the 515 sites' seeders (a site cache), 90% of them on the delta's base
    assert "the delta (600.00 MB) is not smaller than the full image (500.00 MB)" in says
    assert "about 46.35 GB more from the origin ($4.17 of egress)" in says, says
    without_cache = traps(load_scenario_text(text.replace("delta_size: 120MB", "delta_size: 600MB")
                                             .replace("site_cache: true", "site_cache: false")))
    assert "more from the origin" in without_cache[0][1] and "46.35 GB" not in without_cache[0][1]


def test_deltas_that_often_do_not_apply_are_flagged_when_they_average_the_full_image_and_the_simulator_agrees():
    """A 120 MB delta of a 500 MB image: with 80% of deltas not applying, a camera fetches 120 MB + 80% of 500 MB =
    520 MB on average, more than the image; at 70% (470 MB) the rule is quiet. The simulated origin bytes agree."""
    from sim.run import simulate

    text = (ROOT / "scenarios" / "delta-and-site-cache.yaml").read_text().replace("site_cache: true",
                                                                                 "site_cache: false")
    often = load_scenario_text(text.replace("delta: true", "delta: true\n  delta_apply_failure: 80%"))
    [(key, says)] = traps(often)
    assert key == "delivery.delta_apply_failure"
    assert "the 120.00 MB delta, followed by the 500.00 MB image where it does not apply (80%), averages " \
           "520.00 MB a camera" in says, says
    assert traps(load_scenario_text(text.replace("delta: true", "delta: true\n  delta_apply_failure: 70%"))) == []
    delta_run, full_run = simulate(often), simulate(often.model_copy(update={
        "delivery": often.delivery.model_copy(update={"delta": False})}))
    assert delta_run.bytes.total > full_run.bytes.total


def test_a_time_scale_that_soaks_the_rigs_longer_than_a_night_is_flagged():
    """`time_scale: 1000` for 0.001: the 1h bake soaked 41 days on the rigs, and `fleetlab hil` looked hung."""
    text = (ROOT / "scenarios" / "hil-orin-candidate.yaml").read_text()
    assert "time_scale: 0.001 " in text
    [(key, says)] = traps(load_scenario_text(text.replace("time_scale: 0.001 ", "time_scale: 1000 ")))
    assert key == "hil.time_scale" and "soaks 41d 16h on the rigs, longer than a night" in says
    assert traps(load_scenario_text(text)) == []


def test_free_storage_a_good_share_of_the_fleet_lacks_is_flagged_with_the_share_the_simulator_meets():
    """A 50 MB update (100 MB with its slot) on cameras with a median of 120 MB free, σ 0.5: about a third fail
    'insufficient storage' the moment they are released, and an abort rule may read them as the candidate failing.
    The share the warning gives is the one the simulated fleet meets."""
    from sim.model.lifecycle import DeviceState
    from sim.model.plan_traps import short_of_storage
    from sim.run import simulate

    tight = ("storage_free: {median: 4GB}", "storage_free: {median: 120MB, sigma: 0.5}")
    [(key, says)] = traps(scenario(PLAN, tight))
    assert key == "fleet.storage_free"
    assert "about 36% of cameras have less free storage than the update needs (100.00 MB: the 50.00 MB download " \
           "and the 50.00 MB slot)" in says, says
    big = scenario("strategy:\n  kind: all_at_once\n", tight, BIG_FLEET)
    result = simulate(big)
    failed = result.reasons.get("insufficient storage", 0)
    assert failed / result.devices == pytest.approx(short_of_storage(big), abs=0.03)
    assert result.outcomes.get(DeviceState.FAILED) == failed
    assert keys(scenario(PLAN)) == []          # 4 GB for 100 MB: nobody short
    assert keys(scenario(PLAN, ("storage_free: {median: 4GB}", "storage_free: {median: 4GB, max: 90MB}"))) == \
        ["fleet.storage_free"]                  # the clip leaves every camera short


def test_links_that_expire_before_a_download_that_cannot_resume_ends_are_flagged_with_the_share_that_fails():
    """A 500 MB artifact that cannot resume, on links of 30 minutes: a gym uplink (median 8 Mbit/s = 1 MB/s, σ 0.5)
    needs 278 kB/s to fetch it within one, at its best hour (the pattern's 1.0). The share below that is small; on
    links of 5 minutes (1.67 MB/s) it is most of them, and the simulated gyms fail as the warning says."""
    from sim.model.lifecycle import DeviceState
    from sim.run import simulate

    big = ("full_size: 50MB\n  resumable: true", "full_size: 500MB\n  resumable: false")
    plan = "strategy:\n  kind: all_at_once\n"
    assert keys(scenario(plan, big, ("artifact:", "delivery: {link_expiry: 30m}\n\nartifact:"))) == []
    short = scenario(plan, big, ("artifact:", "delivery: {link_expiry: 5m}\n\nartifact:"))
    (gym_key, gyms), (stadium_key, stadiums) = traps(short)      # stadiums: 20 Mbit/s, σ 0.6 (the default)
    assert gym_key == stadium_key == "delivery.link_expiry"
    assert "on about 85% of the gym sites even one camera alone cannot fetch the 500.00 MB within a link" in gyms, gyms
    assert "on about 25% of the stadium sites" in stadiums, stadiums
    assert keys(scenario(plan, ("full_size: 50MB\n  resumable: true", "full_size: 500MB\n  resumable: true"),
                         ("artifact:", "delivery: {link_expiry: 5m}\n\nartifact:"))) == []     # resumable: no trap
    result = simulate(short)
    gyms_failed = sum(1 for outcome in result.stragglers if outcome.cohort[1] == "gym"
                      and outcome.state == DeviceState.FAILED and outcome.reason.startswith("download link expired"))
    assert gyms_failed >= 0.85 * 30 * 0.9, gyms_failed      # 30 gym cameras; sharing makes it more, never fewer


def test_a_bake_shorter_than_the_check_ins_leaves_the_share_it_says_unstarted_in_the_simulator():
    """Agents that check in hourly, a first wave of 10% and a bake of 20 minutes: the warning says about 67% of the
    wave has not learnt of its release when the bake ends; the simulated wave of 601 cameras agrees within 5 points."""
    from sim.model.lifecycle import DeviceState
    from tests.world.helpers import run_story

    plan = "strategy:\n  kind: waves\n  waves: [10%, 100%]\n  bake: 20m\n"
    polling = scenario(plan, BIG_FLEET, ("fleet:\n", "fleet:\n  poll_interval: 1h\n"))
    (_, said), = traps(polling)
    assert "about 67% of the wave's cameras" in said
    story = run_story(polling)
    first_wave = story.result.timeline[0].devices
    started = {move.device for move in story.moves if move.target == DeviceState.DOWNLOADING and move.time <= 1200}
    assert first_wave > 500 and abs((1 - len(started) / first_wave) - 0.67) < 0.05, len(started)


def test_a_timeout_shorter_than_the_wait_for_a_window_fails_healthy_cameras_as_the_warning_says():
    """tiny's windows are 02:00–06:00 local: closed 20 h at a stretch. A 12-hour timeout: the cameras of the second
    wave, told at 11:00 UTC (06:00 in UTC-05:00, as their window closes), wait 20 h and fail 'timed out'; one retry
    (24 h in all) outwaits the gap, and the warning goes quiet. A timeout shorter than the download itself says so."""
    from sim.run import simulate

    plan = "strategy:\n  kind: waves\n  waves: [10%, 100%]\n  bake: 11h\n"
    short = scenario(plan, ("artifact:", "delivery: {in_progress_timeout: 12h}\n\nartifact:"))
    (key, said), = traps(short)
    assert key == "delivery.in_progress_timeout"
    assert "closed for 20h 0m at a stretch, longer than the 12h 0m the server gives an update" in said, said
    assert "whose download ends within 8h 0m after the windows close fail 'timed out'" in said, said
    timed_out = {why: count for why, count in simulate(short).reasons.items() if why.startswith("timed out")}
    assert sum(timed_out.values()) >= 5, timed_out
    retried = scenario(plan, ("artifact:", "delivery: {in_progress_timeout: 12h, timeout_retries: 1}\n\nartifact:"))
    assert keys(retried) == []
    assert not any(why.startswith("timed out") for why in simulate(retried).reasons)
    (_, downloading), = traps(scenario(plan, ("artifact:", "delivery: {in_progress_timeout: 1m}\n\nartifact:")))
    assert "needs about 2m 13s to fetch the 50.00 MB, longer than the 1m 0s" in downloading, downloading
    (_, delta), = traps(scenario(plan, ("artifact:", "delivery: {in_progress_timeout: 1m, delta: true}\n\nartifact:"),
                                 ("full_size: 50MB", "full_size: 50MB\n  delta_size: 5MB")))
    assert "closed for 20h 0m" in delta and "to fetch" not in delta, delta     # the 5 MB delta takes 13 s


def test_groups_the_run_cannot_open_are_untold_in_the_simulator_and_a_count_it_can_are_all_opened():
    """tiny's 4-hour night windows hold about 9 groups a night: 40 groups of one device leave groups untold after 3
    days (the warning's case), 20 groups all open."""
    from sim.run import simulate

    def opened(count: int) -> int:
        run = simulate(scenario(f"strategy:\n  kind: groups\n  groups: {count}\n"))
        return sum(1 for event in run.timeline if event.kind == "update")

    assert opened(40) < 40 and opened(20) == 20


def test_a_byte_budget_with_polling_agents_is_flagged_and_the_simulated_origin_exceeds_it_as_said():
    """global_per_hour: 100MB with agents checking in every 2 hours: releases of up to three hours start within one
    (the warning's 3.0×); the simulated origin carries more than the budget in some hour, never more than said."""
    import numpy as np

    from sim.run import simulate

    plan = "strategy:\n  kind: budgeted\n  global_per_hour: 100MB\n  tick: 1m\n"
    polling = scenario(plan, ("fleet:\n", "fleet:\n  poll_interval: 2h\n"))
    [(key, said)] = traps(polling)
    assert key == "strategy.global_per_hour" and "up to about 3.0× the global_per_hour budget" in said, said
    assert traps(scenario(plan)) == []
    worst = 0.0
    for seed in range(4):
        series = simulate(polling, seed).egress.series
        per_bin = np.array(series.values) * series.step
        worst = max(worst, np.convolve(per_bin, np.ones(int(3600 / series.step)), "valid").max() / 100e6)
    assert 1.0 < worst <= 3.0, worst


def test_kill_then_download_is_flagged_with_the_wait_the_simulator_meets_and_quiet_where_it_costs_little():
    """tiny's windows are closed 20 h at a stretch and its stadiums have games: killed at the start of its update,
    each camera runs no model through its download and its wait for a window, which the simulator finds no longer
    than the closed stretch; the fleet loses far more than the switches alone. Windows open all day and no games:
    a couple of minutes' download, quiet."""
    from sim.model.lifecycle import DeviceState as S
    from tests.world.helpers import run_story

    kill = ("artifact:", "delivery: {update_strategy: kill_then_download}\n\nartifact:")
    killed = scenario(PLAN, kill)
    (key, said), = traps(killed)
    assert key == "delivery.update_strategy"
    assert "about 2m 13s for the 50.00 MB at the fleet's median uplink" in said, said
    assert "up to 20h 0m: the windows are closed that long" in said and "the stadium cameras run none" in said, said
    story = run_story(killed)
    committed = story.devices_reaching(S.COMMITTED)
    assert len(committed) >= 30
    waits = [story.first(device, S.ACTIVATING) - story.first(device, S.AWAITING_WINDOW) for device in committed]
    assert max(waits) <= 20 * 3600 + 60
    at_switch = run_story(scenario(PLAN)).result.service_lost_device_hours
    assert story.result.service_lost_device_hours > 20 * at_switch
    all_day = ('    - {start: "02:00", duration: 4h}', '    - {start: "00:00", duration: 24h}')
    no_games = ('      games: {days: [sat, sun], start: "14:00", duration: 3h, probability: 50%}\n', '')
    open_all_day = scenario(PLAN, kill, all_day, no_games)
    assert keys(open_all_day) == []
