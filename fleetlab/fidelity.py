"""The simulator's prediction beside the rigs' measurement (fleetlab fidelity; the suite report in --mode both).

Each rig becomes a fleet of exactly one camera: its hardware, its own site whose uplink is the rig's link (the
inventory's link_rate, capped by hil.transfer_rate; with neither, the download and the total are rows without a
prediction, saying why), always inside an install window, no outage, no power cut, the scenario's artifact at the
candidate model's real size, and the scenario's device numbers (its calibration). The simulator runs it and the
lifecycle transitions give each phase's predicted length; a second run with a defect that fails every health check
gives the rollback's. A one-camera fleet per rig, rather than one fleet of every rig, keeps each rig's hardware exact
(a fleet draws hardware by share) and changes no phase's length: every rig has its own link, so no phase waits on
another rig.

Measured, from the steps every HIL run records (hil/rig_steps.py):

    download          the transfer's setup and the time the bytes flowed      sim: DOWNLOADING
                      (a copy's mean where a corrupt one was sent again; a game's pause and the busy checks under
                      the freeze are in neither)
    verify            the sha256 on the rig (a copy's mean)                   sim: VERIFYING
    install + build   moving into the slot, then the engine build             sim: INSTALLING
    activate          switch, restart, healthy                                sim: ACTIVATING
    rollback          switch back, restart, healthy                           sim: ROLLING_BACK
    total             the four install phases together
    latency p50       the candidate's                                         sim: candidate latency
    peak temperature  over the latency step                                   the thermal model over that step

A rig's own test steps (baseline, parity, latency runs) are not phases of a camera's update, so they are in neither.
"""

from __future__ import annotations

import math
from pathlib import Path

from hil.inventory import Rig
from sim.model.fidelity import TOLERANCE, FidelityRow
from sim.model.hil_results import RigResult, StepResult
from sim.model.lifecycle import DeviceState as S
from sim.model.results import RunResult
from sim.model.scenario import Scenario
from sim.run import simulate

DAY = 86400.0


def _passed(rig: RigResult, name: str) -> StepResult | None:
    return next((step for step in reversed(rig.steps) if step.name == name and step.outcome == "passed"), None)


def rig_scenario(scenario: Scenario, rig: RigResult, link_rate: float, model_bytes: float,
                 ambient: float | None, fail_health: bool = False) -> Scenario:
    """A fleet of exactly this rig (see the module's docstring)."""
    document = scenario.model_dump(mode="json", exclude={"calibration", "alternatives", "findings", "expect"})
    fleet = document["fleet"]
    kind = {"count": 1, "cameras_per_site": 1,
            "uplink": {"median": link_rate, "sigma": 0.0, "min": 1.0, "max": max(link_rate, 1e12)},
            "daily_pattern": {"00:00": 1.0},
            "ambient": {"mean": ambient if ambient is not None else 25.0, "daily_swing": 0.0, "spread": 0.0}}
    angle = rig.angle or "default"
    fleet.update(site_kinds={"rig": kind}, hardware={rig.hardware: 1.0}, camera_angles={angle: 1.0},
                 timezones={"UTC+0": 1.0}, install_windows=[{"start": 0.0, "duration": DAY}],
                 storage_free={"median": 1e12, "sigma": 0.0, "min": 0.0, "max": 1e12}, power_loss_per_day=0.0,
                 health_check=0.0, egress_cap=None, report_delay=0.0, poll_interval=None,
                 hardware_profiles={name: value for name, value in fleet.get("hardware_profiles", {}).items()
                                    if name == rig.hardware})
    document["artifact"].update(full_size=model_bytes, delta_size=None, checkpoint=min(1e6, model_bytes),
                                corruption_rate=0.0, installed_size=None)
    defects = [{"failure_rate": 1.0}] if fail_health else []
    document["candidate"]["defects"] = defects
    if document.get("current"):
        document["current"]["defects"] = []
    document.update(strategy={"kind": "all_at_once"}, faults=[], delivery={}, duration=2 * DAY,
                    stop_when_settled=True)
    return Scenario.model_validate(document)


def _entered(scenario: Scenario) -> dict[S, float]:
    """When device 0 first entered each state."""
    moments: dict[S, float] = {}

    def moved(time: float, device: int, source: S, target: S, reason: str) -> None:
        moments.setdefault(target, time)

    simulate(scenario, on_transition=moved)
    return moments


def predicted_phases(scenario: Scenario) -> dict[str, float]:
    healthy = _entered(scenario)
    phases = {"download": healthy[S.VERIFYING] - healthy[S.DOWNLOADING],
              "verify": healthy[S.INSTALLING] - healthy[S.VERIFYING],
              "install + build": healthy[S.AWAITING_WINDOW] - healthy[S.INSTALLING],
              "activate": healthy[S.HEALTH_CHECK] - healthy[S.ACTIVATING]}
    return phases


def predicted_rollback(scenario: Scenario) -> float:
    failing = _entered(scenario)
    return failing[S.ROLLED_BACK] - failing[S.ROLLING_BACK]


def measured_phases(rig: RigResult) -> dict[str, float] | None:
    transfer, build, activate = _passed(rig, "transfer"), _passed(rig, "build"), _passed(rig, "activate")
    if transfer is None or build is None or activate is None or "flow_seconds" not in transfer.numbers:
        return None
    numbers = transfer.numbers
    # A corrupt copy sent again (artifact.max_download_attempts) is a rig's bad luck, not a phase of the one-camera
    # simulation (no corruption): each copy's mean flow and check are compared.
    copies = numbers.get("copies", 1.0)
    return {"download": numbers["setup_seconds"] + numbers["flow_seconds"] / copies,
            "verify": numbers["verify_seconds"] / copies,
            "install + build": numbers["install_seconds"] + build.seconds, "activate": activate.seconds}


def _ambient(scenario: Scenario, hardware: str, base: Path) -> tuple[float | None, float | None]:
    """(ambient °C, idle W) the calibration measured for this hardware, when the scenario has one."""
    if scenario.calibration is None:
        return None, None
    from sim.load import load_model
    from sim.model.calibration import Calibration

    calibration = load_model(Calibration, base / scenario.calibration.file)
    profile = calibration.profiles.get(hardware)
    if profile is None or profile.thermal is None:
        return None, None
    return profile.thermal.ambient, profile.thermal.idle_power


NO_LINK_RATE = ("no link rate to download at: give the rig's link_rate in the inventory (virtual rigs: `fleetlab rigs "
                "up --bandwidth`) or hil.transfer_rate in the scenario")


def compare_rig(scenario: Scenario, rig: Rig, result: RigResult, base: Path,
                tolerance: float = TOLERANCE) -> list[FidelityRow]:
    measured = measured_phases(result)
    build = _passed(result, "build")
    model_bytes = build.numbers.get("model_bytes") if build else None
    if measured is None or not model_bytes:
        return []           # nothing measured to compare (why_not_compared says which)
    limits = [rate for rate in (rig.link_rate, scenario.hil.transfer_rate if scenario.hil else None) if rate]
    # Without a provisioned rate the one-camera run still needs a link: the rate the bytes flowed at. Its download
    # would then match by construction, so the download (and the total holding it) is shown as not predicted.
    flowed = model_bytes / max(measured["download"], 1e-3)
    link_rate = min(limits) if limits else flowed
    ambient, _ = _ambient(scenario, result.hardware, base)
    own = rig_scenario(scenario, result, link_rate, model_bytes, ambient)
    phases = predicted_phases(own)
    predicted: dict[str, float | None] = {**phases, "download": phases["download"] if limits else None}
    why = "" if limits else NO_LINK_RATE
    rows = [FidelityRow(rig=result.rig, hardware=result.hardware, phase=phase, unit="s", predicted=predicted[phase],
                        measured=measured[phase], tolerance=tolerance, unpredicted=why if predicted[phase] is None
                        else "") for phase in measured]
    rows.append(FidelityRow(rig=result.rig, hardware=result.hardware, phase="total", unit="s",
                            predicted=sum(phases.values()) if limits else None, measured=sum(measured.values()),
                            tolerance=tolerance / 2, unpredicted=why))  # held to half: errors must not pile up
    rollback = _passed(result, "rollback")
    if rollback is not None and "healthy_seconds" in rollback.numbers:
        failing = rig_scenario(scenario, result, link_rate, model_bytes, ambient, fail_health=True)
        rows.append(FidelityRow(rig=result.rig, hardware=result.hardware, phase="rollback", unit="s",
                                predicted=predicted_rollback(failing), measured=rollback.numbers["healthy_seconds"],
                                tolerance=tolerance))
    rows += _latency_and_heat(own, result, tolerance)
    return rows


def why_not_compared(result: RigResult) -> str:
    """Why compare_rig found nothing to compare on this rig's run."""
    if measured_phases(result) is None:
        return (f"its run ended {result.verdict}" + (f" ({result.reason})" if result.reason else "")
                + " before transfer, build and activation were all measured")
    return "its build step recorded no model size to simulate the download of"


def _latency_and_heat(own: Scenario, result: RigResult, tolerance: float) -> list[FidelityRow]:
    rows = []
    hardware = result.hardware
    if result.latency is not None:
        rows.append(FidelityRow(rig=result.rig, hardware=hardware, phase="latency p50", unit="ms",
                                predicted=own.candidate.hardware[hardware].latency * 1000,
                                measured=result.latency.p50, tolerance=tolerance))
    latency_step = _passed(result, "latency")
    peak = result.telemetry.max_temperature if result.telemetry else None
    if latency_step is not None and peak is not None and result.idle_temperature is not None:
        # the thermal model of sim/world/thermal.py (after_switch), from the rig's own starting temperature
        fleet = own.fleet
        profile = fleet.hardware_profiles.get(hardware)
        resistance = (profile.thermal_resistance if profile and profile.thermal_resistance
                      else fleet.thermal.resistance)
        tau = (profile.thermal_time_constant if profile and profile.thermal_time_constant
               else fleet.thermal.time_constant)
        ambient = next(iter(fleet.site_kinds.values())).ambient.mean
        settled = ambient + resistance * own.candidate.hardware[hardware].power
        start = result.idle_temperature
        predicted = settled + (start - settled) * math.exp(-latency_step.seconds / tau)
        rows.append(FidelityRow(rig=result.rig, hardware=hardware, phase="peak temperature", unit="°C",
                                predicted=predicted, measured=peak, tolerance=tolerance))
    return rows


def compare_run(scenario: Scenario, rigs: list[Rig], results: list[RigResult], base: Path,
                tolerance: float = TOLERANCE) -> list[FidelityRow]:
    by_name = {rig.name: rig for rig in rigs}
    rows: list[FidelityRow] = []
    for result in results:
        rows += compare_rig(scenario, by_name[result.rig], result, base, tolerance)
    return rows


def fidelity_of_run(file: Path, scenario: Scenario, inventory: Path, run: RunResult) -> list[FidelityRow]:
    """The suite's --mode both: the rigs of a finished HIL run, each beside its one-camera simulation."""
    from hil.inventory import load_inventory

    rigs = [rig for rig in load_inventory(inventory).rigs if rig.name in {found.rig for found in run.rigs}]
    return compare_run(scenario, rigs, run.rigs, file.resolve().parent)
