"""The arithmetic of a calibration: the thermal step fit, the build split, and per-hardware numbers in the
simulated lifecycle and thermal model."""

import math

import numpy as np
import pytest

from hil.calibration import _build_split, _median_of, _thermal
from hil.thermal_fit import fit_step_response
from sim.model.calibration import ThermalMeasured
from sim.model.lifecycle import DeviceState as S
from sim.world.world import World
from tests.conftest import scenario_from
from tests.world.helpers import run_story


@pytest.mark.parametrize("tau", [5.0, 60.0, 300.0])
def test_the_step_fit_recovers_settled_temperature_and_time_constant_through_noise(tau):
    rng = np.random.default_rng(3)
    times = np.arange(0.0, 2 * tau, tau / 40)
    truth = 70.0 + (40.0 - 70.0) * np.exp(-times / tau)
    fit = fit_step_response(list(times), list(truth + rng.normal(0, 0.1, times.size)))
    assert fit is not None
    assert fit.time_constant == pytest.approx(tau, rel=0.05) and fit.settled == pytest.approx(70.0, abs=0.5)


def test_the_step_fit_refuses_flat_or_short_curves():
    assert fit_step_response([0, 1, 2, 3], [40, 40, 40, 40]) is None
    assert fit_step_response([0, 1, 2], [40, 41, 42]) is None


def test_two_builds_of_different_sizes_split_into_fixed_and_per_byte():
    fixed, rate = _build_split(candidate_seconds=1.0 + 50e6 / 25e6, candidate_bytes=50e6, other_seconds=1.0 + 0.1e6 /
                               25e6, other_bytes=0.1e6)
    assert fixed == pytest.approx(1.0) and rate == pytest.approx(25e6)
    assert _build_split(3.0, 50e6, 2.8, 48e6) == (2.9, None)          # sizes alike: one fixed cost
    assert _build_split(3.0, 50e6, None, None) == (3.0, None)
    assert _build_split(3.0, 50e6, 3.5, 1e5) == (3.0, None)           # the size made no difference


def test_thermal_resistance_and_ambient_from_the_load_step():
    found = _thermal({"idle_temperature": 40.0, "loaded_temperature": 70.0, "idle_power_mw": 4000,
                      "loaded_power_mw": 14000, "time_constant": 60.0, "thermal_samples": 240})
    assert found["resistance"] == pytest.approx(3.0) and found["ambient"] == pytest.approx(28.0)
    assert _thermal({"idle_temperature": 40.0, "loaded_temperature": 39.0, "idle_power_mw": 4000,
                     "loaded_power_mw": 14000, "time_constant": 60.0}) is None      # no heating: nothing to fit


def test_the_median_over_rigs_of_a_count_is_a_count():
    # two rigs that took 8 and 9 thermal samples once made 8.5, which the profile refused (a calibration lost)
    one = _thermal({"idle_temperature": 40.0, "loaded_temperature": 60.0, "idle_power_mw": 4000.0,
                    "loaded_power_mw": 14000.0, "time_constant": 30.0, "thermal_samples": 8})
    other = {**one, "samples": 9, "idle": 41.0}
    both = _median_of([{"thermal": one}, {"thermal": other}])["thermal"]
    assert both["samples"] == 8 and isinstance(both["samples"], int) and both["idle"] == 40.5
    ThermalMeasured.model_validate(both)


def test_numbers_no_profile_can_hold_are_a_calibration_error_naming_the_hardware(monkeypatch):
    from types import SimpleNamespace

    import hil.calibration as calibration

    monkeypatch.setattr(calibration, "rig_numbers", lambda result, rig, scenario: {
        "current": {}, "candidate": {}, "activation": -1.0})
    result = SimpleNamespace(rig="orin-a", hardware="orin-nx", facts={})
    scenario = SimpleNamespace(current_model=SimpleNamespace(version="1"), candidate=SimpleNamespace(version="2"))
    with pytest.raises(calibration.CalibrationError, match=r"^orin-nx: the rigs' numbers do not make a calibration "
                                                           r"profile \(transfer: Field required"):
        calibration.from_run([result], [SimpleNamespace(name="orin-a")], scenario)


def test_a_hardware_profile_changes_that_hardwares_phases_in_the_simulator():
    profile = {"transfer_setup": "30s", "activation_time": "7m", "engine_build": "1m", "engine_build_rate": "1MB/s",
               "install_rate": "100MB/s"}
    calibrated = scenario_from({"fleet": {"hardware": {"orin-nx": 0.5, "nano": 0.5},
                                          "hardware_profiles": {"orin-nx": profile}},
                                "candidate": {"hardware": {"nano": {"latency": "40ms", "power": 8}}}})
    story = run_story(calibrated)
    size = calibrated.artifact.full_size
    hardware = list(calibrated.fleet.hardware)
    from sim.world.fleet import build_layout

    layout = build_layout(calibrated.fleet, calibrated.seed)
    for device in range(layout.size):
        name = hardware[layout.device_hardware[device]]
        installing = story.first(device, S.AWAITING_WINDOW) - story.first(device, S.INSTALLING)
        activating = story.first(device, S.HEALTH_CHECK) - story.first(device, S.ACTIVATING)
        if name == "orin-nx":
            assert installing == pytest.approx(size / 100e6 + 60 + size / 1e6)
            assert activating == pytest.approx(420.0)
        else:         # the fleet-wide numbers
            assert installing == pytest.approx(size / calibrated.artifact.install_rate)
            assert activating == pytest.approx(calibrated.fleet.activation_time)
    assert {hardware[h] for h in layout.device_hardware.tolist()} == {"orin-nx", "nano"}


def test_per_hardware_thermal_constants_reach_the_thermal_model():
    base = scenario_from({"current": {"version": "1", "hardware": {"orin-nx": {"latency": "10ms", "power": 6}}}})
    hot = scenario_from({"current": {"version": "1", "hardware": {"orin-nx": {"latency": "10ms", "power": 6}}},
                         "fleet": {"hardware_profiles": {"orin-nx": {"thermal_resistance": 6.0,
                                                                     "thermal_time_constant": "30s"}}}})
    world, plain = World(hot, 1), World(base, 1)
    rise = world.thermal.after_switch(0, 0.0, 30.0) - world.thermal.steady_temperature(0, 0.0, candidate=False)
    assert rise == pytest.approx(6.0 * (10 - 6) * (1 - math.exp(-1)))
    assert plain.thermal.resistance == [base.fleet.thermal.resistance]


def test_a_phase_measured_at_zero_is_off_and_its_json_stays_json():
    """(predicted − measured) / 0 is infinite: fidelity.json once carried `Infinity`, which JSON has not."""
    import json

    from sim.model.fidelity import FidelityRow

    row = FidelityRow(rig="a", hardware="nano", phase="rollback", unit="s", predicted=4.0, measured=0.0)
    assert row.off and row.error_text == "measured 0"
    written = json.dumps([row.as_json()], allow_nan=False)
    assert json.loads(written)[0]["error"] is None and json.loads(written)[0]["off"] is True
    exact = FidelityRow(rig="a", hardware="nano", phase="total", unit="s", predicted=11.0, measured=10.0)
    assert exact.as_json()["error"] == pytest.approx(0.1) and exact.error_text == "+10.0%"


def test_a_small_time_further_off_than_the_tolerance_is_within_a_second():
    """A 79 kB download on a virtual rig: predicted 0.0085 s, measured 0.0100 s — 15% off, flagged OFF beside a
    build predicted at 5 minutes and measured at 0.7 s. A time is off only when it also misses by over a second."""
    from sim.model.fidelity import FidelityRow

    small = FidelityRow(rig="a", hardware="nano", phase="download", unit="s", predicted=0.0085, measured=0.0100)
    assert not small.off and small.within_text == "within 1 s" and small.error_text == "-15.0%"
    close = FidelityRow(rig="a", hardware="nano", phase="download", unit="s", predicted=10.5, measured=10.0)
    assert not close.off and close.within_text == "within 10%"
    assert FidelityRow(rig="a", hardware="nano", phase="install + build", unit="s", predicted=300.0, measured=0.68).off
    assert FidelityRow(rig="a", hardware="nano", phase="latency p50", unit="ms", predicted=0.0012, measured=0.001).off


def test_a_rigs_fleet_is_told_at_once_as_the_rig_is_over_ssh():
    """The rig controller tells a rig over SSH at once: its one-camera fleet has no agent polling for orders, so the
    predicted download starts when the release does."""
    from fleetlab.fidelity import rig_scenario
    from sim.model.hil_results import RigResult

    polling = scenario_from({"fleet": {"poll_interval": "2h"}})
    rig = RigResult(rig="orin-a", hardware="orin-nx", wave=0, verdict="passed")
    own = rig_scenario(polling, rig, link_rate=1e6, model_bytes=5e6, ambient=None)
    assert own.fleet.poll_interval is None
    story = run_story(own)
    assert story.first(0, S.DOWNLOADING) == 0.0


def test_each_models_memory_is_its_run_less_the_rest_and_the_boards_adds_back_the_current_model():
    from hil.calibration import _memory

    gib = 2.0**30
    rest = {"idle_memory_bytes": 1.0 * gib, "total_memory_bytes": 4.0 * gib}
    held = _memory(rest, {"current_memory_bytes": 1.5 * gib, "candidate_memory_bytes": 1.9 * gib})
    assert held == {"board": 3.5 * gib, "current": 0.5 * gib, "candidate": pytest.approx(0.9 * gib)}
    # a run that held no more than rest measured nothing (and the board, counted back from the current model, too)
    assert _memory(rest, {"current_memory_bytes": 0.9 * gib, "candidate_memory_bytes": 1.9 * gib}) == \
        {"board": None, "current": None, "candidate": pytest.approx(0.9 * gib)}
    assert _memory({}, {"current_memory_bytes": 1.5 * gib}) == {"board": None, "current": None, "candidate": None}


def test_a_rigs_download_is_compared_per_copy_when_a_corrupt_one_was_sent_again():
    """The one-camera simulation has no corruption: a rig that sent three copies (two arrived corrupt) is compared on
    each copy's mean flow and check, its setup once; a result from before copies were counted reads as one copy."""
    from fleetlab.fidelity import measured_phases
    from sim.model.hil_results import RigResult, StepResult

    def rig(transfer_numbers: dict) -> RigResult:
        steps = [StepResult(name="transfer", started=0.0, seconds=4.0, outcome="passed", numbers=transfer_numbers),
                 StepResult(name="build", started=4.0, seconds=1.0, outcome="passed"),
                 StepResult(name="activate", started=5.0, seconds=0.5, outcome="passed")]
        return RigResult(rig="orin-a", hardware="orin-nx", wave=0, verdict="passed", steps=steps)

    numbers = {"setup_seconds": 0.1, "flow_seconds": 3.0, "verify_seconds": 0.3, "install_seconds": 0.2}
    assert measured_phases(rig({**numbers, "copies": 3.0})) == pytest.approx(
        {"download": 1.1, "verify": 0.1, "install + build": 1.2, "activate": 0.5})
    assert measured_phases(rig(numbers))["download"] == pytest.approx(3.1)
