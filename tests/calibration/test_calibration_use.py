"""A scenario's `calibration:`: the measured numbers taken in, conflicts named at both places, overrides explicit,
provenance and board warnings shown. Handwritten calibration files: no rig needed here (tests/hil/test_calibration.py
measures real ones)."""

import pytest

from sim.load import load_scenario
from sim.model.device_times import DeviceTimes
from sim.model.errors import ScenarioError
from tests.conftest import ROOT

CALIBRATION = """\
schema_version: 1
fleetlab: "0.1.0"
git_sha: abc123
measured: "2026-12-03T20:00:00+00:00"
profiles:
  orin-nx:
    rigs: [orin-a]
    board: NVIDIA Jetson Orin NX Engineering Reference Developer Kit
    jetpack: "6"
    tensorrt: "8.6.1"
    measured: "2026-12-03T20:00:00+00:00"
    transfer: {link_rate: 20Mbit/s, throughput: 2.3MB/s, efficiency: 0.92, setup: 0.4s}
    verify: {fixed: 0.2s, rate: 150MB/s}
    install_rate: 300MB/s
    engine_build: {fixed: 1.1s, rate: 40MB/s}
    activation: 2.5s
    rollback: 3s
    current: {version: "2.0", size: 100kB, latency: {p50: 1.1ms, p99: 2ms}, power: 9}
    candidate: {version: "2.1", size: 50MB, latency: {p50: 1.3ms, p99: 2.4ms}, power: 9.5}
    thermal: {idle: 35, loaded: 45, idle_power: 4, loaded_power: 10, resistance: 1.6, time_constant: 90s,
              ambient: 28.6}
"""


def tiny_with(folder, calibration_line: str = "calibration: calibration.yaml", keep_orin: bool = False,
              calibration: str = CALIBRATION):
    (folder / "calibration.yaml").write_text(calibration)
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    if not keep_orin:
        text = text.replace("    orin-nx: {latency: 12ms, power: 12}\n", "")
    path = folder / "scenario.yaml"
    path.write_text(calibration_line + "\n" + text)
    return path


def test_the_files_numbers_reach_the_simulated_devices_of_that_hardware_only(tmp_path):
    scenario = load_scenario(tiny_with(tmp_path))
    times = DeviceTimes.of(scenario)
    orin, nano = list(scenario.fleet.hardware).index("orin-nx"), list(scenario.fleet.hardware).index("nano")
    size = scenario.artifact.full_size
    assert times.activation[orin] == 2.5 and times.rollback[orin] == 3.0
    assert times.transfer_efficiency[orin] == 0.92 and times.transfer_setup[orin] == 0.4
    assert times.install[orin] == pytest.approx(size / 300e6 + 1.1 + size / 40e6)
    assert times.verify[orin] == pytest.approx(0.2 + size / 150e6)
    # nano is not in the file: the scenario's fleet-wide numbers stand
    assert times.activation[nano] == scenario.fleet.activation_time
    assert times.install[nano] == pytest.approx(size / scenario.artifact.install_rate + scenario.artifact.engine_build)
    assert scenario.candidate.hardware["orin-nx"].latency == pytest.approx(0.0013)
    assert scenario.current_model.hardware["orin-nx"].power == 9.0
    assert scenario.current_model.hardware["nano"] == scenario.candidate.hardware["nano"]
    assert scenario.fleet.hardware_profiles["orin-nx"].thermal_time_constant == 90.0
    assert all(source == "rig orin-a (JetPack 6, TensorRT 8.6.1), 2026-12-03T20:00:00+00:00"
               for source in scenario.calibration.applied.values())
    assert "nano: not in calibration.yaml; the scenario's own numbers are used" in scenario.calibration.warnings


def test_a_number_in_both_places_is_an_error_naming_both_lines(tmp_path):
    with pytest.raises(ScenarioError) as raised:
        load_scenario(tiny_with(tmp_path, keep_orin=True))
    text = str(raised.value)
    assert "scenario.yaml:" in text and "candidate.hardware.orin-nx.latency: also measured in" in text
    assert "calibration.yaml:19:" in text and "(profiles.orin-nx.candidate.latency.p50)" in text
    assert "list candidate.hardware.orin-nx.latency under calibration.override" in text


def test_an_explicit_override_keeps_the_scenarios_value(tmp_path):
    line = ("calibration: {file: calibration.yaml, override: [candidate.hardware.orin-nx.latency, "
            "candidate.hardware.orin-nx.power]}")
    scenario = load_scenario(tiny_with(tmp_path, line, keep_orin=True))
    assert scenario.candidate.hardware["orin-nx"].latency == pytest.approx(0.012)
    assert scenario.calibration.applied["candidate.hardware.orin-nx.latency"] == "the scenario (override)"
    assert scenario.current_model.hardware["orin-nx"].latency == pytest.approx(0.0011)   # not overridden: measured


def test_a_calibration_from_another_board_is_a_warning_in_the_report(tmp_path):
    other = CALIBRATION.replace("NVIDIA Jetson Orin NX Engineering Reference Developer Kit",
                                "NVIDIA Jetson AGX Orin Developer Kit")
    path = tiny_with(tmp_path, calibration=other)
    scenario = load_scenario(path)
    assert any("calibrated on a NVIDIA Jetson AGX Orin Developer Kit (orin-a), not a orin-nx" in warning
               for warning in scenario.calibration.warnings)
    from tests.hil.test_cli import fleetlab

    done = fleetlab("run", str(path), "--mode", "sim", "--seeds", "1", "--out", str(tmp_path / "report"))
    assert done.returncode in (0, 1), done.stdout + done.stderr
    page = (tmp_path / "report" / "index.html").read_text()
    assert "Calibrated numbers" in page and "not a orin-nx: its numbers describe another board" in page
    assert "orin-nx: 15 numbers from rig orin-a" in page


@pytest.mark.parametrize("change, expected", [
    (("schema_version: 1", "schema_version: 2"), "calibration.yaml:1:1: schema_version: Input should be 1"),
    (("activation: 2.5s", "activation: 2.5"), "calibration.yaml:16:5: profiles.orin-nx.activation: "),
    (("    rollback: 3s\n", ""), "profiles.orin-nx.rollback: required key is missing"),
    (("latency: {p50: 1.3ms", "latency: {p50: 0ms"),       # frames per second are its inverse
     "calibration.yaml:19:55: profiles.orin-nx.candidate.latency.p50: Input should be greater than 0"),
    (("latency: {p50: 1.3ms", "latency: {p50: 9ms"),       # a hand edit past the tail
     "calibration.yaml:19:45: profiles.orin-nx.candidate.latency: p50 is above p99"),
    (('    measured: "2026-12-03T20:00:00+00:00"', "    measured: yesterday"),    # once taken as the time it ran
     "calibration.yaml:11:5: profiles.orin-nx.measured: 'yesterday' is not a time: write it as RFC 3339"),
    (('    measured: "2026-12-03T20:00:00+00:00"', "    measured: 2026-12-03 20:00:00"),
     "calibration.yaml:11:5: profiles.orin-nx.measured: 2026-12-03T20:00:00 has no UTC offset"),
])
def test_a_wrong_calibration_file_is_refused_with_its_own_file_line_and_key(tmp_path, change, expected):
    with pytest.raises(ScenarioError) as raised:
        load_scenario(tiny_with(tmp_path, calibration=CALIBRATION.replace(*change)))
    assert expected in str(raised.value)


def test_an_unquoted_time_with_its_offset_is_read_and_named_in_utc(tmp_path):
    """YAML loads `measured: 2026-12-03T21:00:00+01:00` as a datetime, not text: it was refused as 'Input should be a
    valid string', a hand-written file's most natural way to write the time."""
    quoted = '    measured: "2026-12-03T20:00:00+00:00"'        # the profile's; the file's own stays quoted
    unquoted = CALIBRATION.replace(quoted, "    measured: 2026-12-03T21:00:00+01:00")
    scenario = load_scenario(tiny_with(tmp_path, calibration=unquoted))
    assert set(scenario.calibration.applied.values()) == {
        "rig orin-a (JetPack 6, TensorRT 8.6.1), 2026-12-03T20:00:00+00:00"}


def test_a_missing_calibration_file_is_a_positioned_error(tmp_path):
    path = tiny_with(tmp_path, "calibration: nowhere.yaml")
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    assert "scenario.yaml:1:1: calibration: no calibration file" in str(raised.value)
    assert "fleetlab calibrate" in str(raised.value)


@pytest.mark.parametrize("step, says", [("abc", "expected a duration"), ("0s", "give more than 0s"),
                                        ("2d", "172800 s is longer than a day")])
def test_a_wrong_thermal_step_option_is_named_as_the_option_before_any_rig(tmp_path, step, says):
    """It was reported as the scenario file's problem (`hil-orin-candidate.yaml:45:3: hil.calibrate: …`), and a
    load step of 99999999d was taken: the rig held for 274,000 years."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "fleetlab.cli", "calibrate",
                           str(ROOT / "scenarios" / "hil-orin-candidate.yaml"), "--rigs",
                           str(ROOT / "rigs" / "lab.example.yaml"), "--thermal-step", step, "--out",
                           str(tmp_path / "calibration.yaml")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"--thermal-step {step}: ") and says in done.stderr, done.stderr
    assert not (tmp_path / "calibration.yaml").exists()


def test_a_thermal_step_of_more_than_a_day_in_a_scenario_is_refused_where_written(tmp_path):
    text = (ROOT / "scenarios" / "hil-orin-candidate.yaml").read_text()
    assert "  precision: fp16\n" in text
    path = tmp_path / "hil.yaml"
    path.write_text(text.replace("  precision: fp16\n", "  precision: fp16\n  calibrate: {thermal_step: 30d}\n"))
    with pytest.raises(ScenarioError, match="hil.calibrate.thermal_step: .*longer than a day"):
        load_scenario(path)


@pytest.mark.parametrize("other, kind", [("rigs/lab.example.yaml", "rig inventory"), ("scenarios/tiny.yaml",
                                                                                         "scenario")])
def test_a_calibration_key_naming_another_kind_of_file_says_so_where_it_is_named(tmp_path, other, kind):
    """It listed the other file's keys as a calibration file's problems (schema_version: required key is missing…)."""
    (tmp_path / "other.yaml").write_text((ROOT / other).read_text())
    path = tiny_with(tmp_path, calibration_line="calibration: other.yaml")
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    [problem] = raised.value.problems
    assert (problem.line, problem.path) == (1, "calibration")
    assert f"other.yaml is a {kind}, not a calibration file" in problem.message


def test_an_efficiency_measured_on_a_link_far_faster_than_the_fleets_is_warned_of(tmp_path):
    """On a lab LAN the throughput is the rig's sshd, not a thin uplink's overhead (docs/calibration.md)."""
    from hil.calibration import transfer_warnings
    from sim.load import load_model_text
    from sim.model.calibration import Calibration

    scenario = load_scenario(ROOT / "scenarios" / "tiny.yaml")         # median uplinks 8 and 20 Mbit/s
    paced = load_model_text(Calibration, CALIBRATION, "calibration.yaml")
    assert transfer_warnings(paced, scenario) == []
    lan = load_model_text(Calibration, CALIBRATION.replace("link_rate: 20Mbit/s", "link_rate: 1Gbit/s"),
                          "calibration.yaml")
    [warning] = transfer_warnings(lan, scenario)
    assert warning.startswith("orin-nx: transfer efficiency measured on a 1.00 Gbit/s link") and \
        "hil.transfer_rate" in warning


def test_a_payload_that_outran_its_link_gives_no_efficiency_and_says_why():
    """A 79 kB model moved at 61 Mbit/s over a tbf-shaped 20 Mbit/s link (it fit in the token bucket's burst) and
    was written down as 100% efficient."""
    from hil.calibration import _efficiency, transfer_warnings
    from sim.load import load_model_text
    from sim.model.calibration import Calibration

    assert _efficiency(2.3e6, 2.5e6) == pytest.approx(0.92) and _efficiency(2.6e6, 2.5e6) == 1.0
    assert _efficiency(7.6e6, 2.5e6) is None and _efficiency(2.3e6, None) is None
    burst = load_model_text(Calibration, CALIBRATION.replace("throughput: 2.3MB/s, efficiency: 0.92",
                                                             "throughput: 7.6MB/s"), "calibration.yaml")
    [warning] = transfer_warnings(burst, load_scenario(ROOT / "scenarios" / "tiny.yaml"))
    assert "the payload moved at 60.80 Mbit/s over a 20.00 Mbit/s link" in warning and "efficiency not measured" in \
        warning


def test_measured_memory_reaches_the_boards_and_the_models_and_the_out_of_memory_rule_reads_it(tmp_path):
    """A calibration's memory numbers set what the board leaves for models and each model's memory; under hand_over a
    board that cannot hold both then fails its cameras out of memory, and the lint says so, from measured numbers."""
    from sim.model.memory import memory_shortfall
    from sim.model.plan_traps import plan_warnings

    measured = CALIBRATION.replace("    rollback: 3s\n", "    rollback: 3s\n    memory: 3000MB\n").replace(
        "power: 9}", "power: 9, memory: 1400MB}").replace("power: 9.5}", "power: 9.5, memory: 1700MB}")
    scenario = load_scenario(tiny_with(tmp_path, calibration=measured))
    assert scenario.fleet.hardware_profiles["orin-nx"].memory == 3e9
    assert scenario.candidate.hardware["orin-nx"].memory == 1.7e9
    assert scenario.current_model.hardware["orin-nx"].memory == 1.4e9
    assert memory_shortfall(scenario, "orin-nx") is None                   # one model at a time: 1.7 GB of 3 GB
    handover = tmp_path / "handover.yaml"
    handover.write_text(tiny_with(tmp_path, calibration=measured).read_text().replace(
        "artifact:", "delivery: {update_strategy: hand_over}\nartifact:", 1))
    handing_over = load_scenario(handover)
    short = memory_shortfall(handing_over, "orin-nx")
    assert short is not None and short.needed == pytest.approx(3.1e9), short
    assert [key for key, _ in plan_warnings(handing_over)].count("fleet.hardware_profiles.orin-nx.memory") == 1
