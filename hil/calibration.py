"""A HIL run's recorded steps -> calibration.yaml (sim/model/calibration.py): per hardware model, the median over
its rigs of what each rig measured.

    transfer step   payload throughput (bytes / the time bytes flowed) against the rig's link (inventory
                    link_rate, capped by hil.transfer_rate; neither given: efficiency unmeasured); the rest of the
                    step before the sha256: the setup every (resumed) transfer pays; the sha256 time; the move into
                    the slot
    build step      the candidate's engine build; split into a fixed part and a per-byte part by the calibrate
                    step's two builds back to back (the current and the candidate model: two sizes)
    activate step   switch + restart + healthy
    rollback step   switch back + restart + healthy (not the proof's inferences after it)
    latency step    the candidate's p50 / p99 and board power under load
    preflight step  the idle pair: temperature and power at rest; the RAM in use then and the board's
    calibrate step  the current model's p50 / p99 and power, the two builds, the thermal step fit, the RAM in use
                    while each model ran: less preflight's at rest, each model's memory; the board's for models is
                    its RAM less that at rest, plus the current model the camera service held then

A rig whose run lacks a number says so (CalibrationError), rather than writing a guess.
"""

from __future__ import annotations

from datetime import datetime, timezone
from statistics import median, median_low

from pydantic import ValidationError

from hil.errors import HilError
from hil.inventory import Rig
from sim.model.calibration import Calibration, Profile
from sim.model.hil_results import RigResult, StepResult
from sim.model.scenario import Scenario

SIZES_APART = 0.2        # two builds split into fixed + per-byte only when their sizes differ by this much


class CalibrationError(HilError):
    pass


def _step(rig: RigResult, name: str) -> StepResult | None:
    """The last passed run of a step (an earlier try the rig dropped out of does not count)."""
    return next((step for step in reversed(rig.steps) if step.name == name and step.outcome == "passed"), None)


def _needed(rig: RigResult, name: str) -> StepResult:
    step = _step(rig, name)
    if step is None:
        raise CalibrationError(f"{rig.rig}: no passed {name} step to measure ({rig.reason or 'not run'})")
    return step


def _number(rig: RigResult, step: StepResult, key: str) -> float:
    if key not in step.numbers:
        raise CalibrationError(f"{rig.rig}: the {step.name} step recorded no {key} (was hil.calibrate on?)")
    return step.numbers[key]


def rig_numbers(result: RigResult, rig: Rig, scenario: Scenario) -> dict:
    """One rig's calibration profile as a plain mapping (SI units), before the median over rigs."""
    transfer, build = _needed(result, "transfer"), _needed(result, "build")
    activate, rollback = _needed(result, "activate"), _needed(result, "rollback")
    probe = _needed(result, "calibrate")
    candidate_bytes = _number(result, build, "model_bytes")
    current_bytes = _number(result, probe, "current_model_bytes")
    flow = _number(result, transfer, "flow_seconds")
    throughput = _number(result, transfer, "bytes_sent") / flow if flow > 0 else 0.0
    limits = [rate for rate in (rig.link_rate, scenario.hil.transfer_rate if scenario.hil else None) if rate]
    # without a provisioned link rate there is nothing to hold the throughput against: efficiency stays unmeasured
    # (it once came out as throughput / throughput = 100%, a number read as measured)
    link = min(limits) if limits else None
    if throughput <= 0:
        raise CalibrationError(f"{result.rig}: the transfer moved no bytes (already on the rig?): nothing to measure")
    if result.latency is None:
        raise CalibrationError(f"{result.rig}: no latency measured")
    preflight = _step(result, "preflight")
    rest = preflight.numbers if preflight else {}
    memory = _memory(rest, probe.numbers)
    numbers = {
        "transfer": {"link_rate": link, "throughput": throughput, "efficiency": _efficiency(throughput, link),
                     "setup": max(0.0, _number(result, transfer, "setup_seconds"))},
        "verify": _split(probe.numbers, "verify", _number(result, transfer, "verify_seconds"), candidate_bytes),
        "install_rate": candidate_bytes / max(_number(result, transfer, "install_seconds"), 1e-3),
        "engine_build": _split(probe.numbers, "build", build.seconds, candidate_bytes),
        "activation": activate.seconds,
        "rollback": _number(result, rollback, "healthy_seconds"),
        "memory": memory["board"],
        "current": {"size": float(current_bytes), "power": _number(result, probe, "current_power_mw") / 1000,
                    "latency": {"p50": _number(result, probe, "current_p50_ms") / 1000,
                                "p99": _number(result, probe, "current_p99_ms") / 1000},
                    "memory": memory["current"]},
        "candidate": {"size": float(candidate_bytes), "power": _number(result, probe, "candidate_power_mw") / 1000,
                      "latency": {"p50": result.latency.p50 / 1000,
                                  "p99": (result.latency.p99 or result.latency.p50) / 1000},
                      "memory": memory["candidate"]},
        "thermal": _thermal({**rest, **probe.numbers}),
    }
    return numbers


def _memory(rest: dict[str, float], probe: dict[str, float]) -> dict[str, float | None]:
    """Each model's memory (the RAM in use while it ran less the RAM in use at rest, the camera service serving the
    current model both times) and the board's for models (its RAM less what was in use at rest, plus the current
    model the service held then). None where a reading is missing, or a run used no more than rest."""
    idle, total = rest.get("idle_memory_bytes"), rest.get("total_memory_bytes")
    held: dict[str, float | None] = {"board": None, "current": None, "candidate": None}
    if idle is None or total is None:
        return held
    for model in ("current", "candidate"):
        running = probe.get(f"{model}_memory_bytes")
        held[model] = running - idle if running is not None and running > idle else None
    current = held["current"]
    held["board"] = total - idle + current if current is not None else None
    return held


BURST_SLACK = 1.05     # payload faster than this times the link: the model fit in the link's burst


def _efficiency(throughput: float, link: float | None) -> float | None:
    """Payload bytes per byte of link, or None when it cannot be told: no link rate, or the payload outran the link
    (a model small enough to pass in the shaper's token bucket moved a 20 Mbit/s link's 79 kB at 61 Mbit/s, and
    came out as 100%)."""
    if not link or throughput > BURST_SLACK * link:
        return None
    return min(1.0, throughput / link)


FAST_LINK = 10.0      # a link this many times the fleet's fastest median uplink measures the rig, not the protocol


def transfer_warnings(calibration: Calibration, scenario: Scenario) -> list[str]:
    """Profiles whose efficiency was measured on a link far faster than any site's, or could not be measured because
    the payload outran the link (docs/calibration.md)."""
    from sim.model.units import format_rate, format_size

    fastest = max(kind.uplink.median for kind in scenario.fleet.site_kinds.values())
    warnings = []
    for hardware, profile in calibration.profiles.items():
        link, throughput = profile.transfer.link_rate, profile.transfer.throughput
        if link and profile.transfer.efficiency is None:
            warnings.append(f"{hardware}: the payload moved at {format_rate(throughput)} over a {format_rate(link)} "
                            f"link (the model, {format_size(profile.candidate.size)}, fit in the link's burst): "
                            "efficiency not measured; calibrate with a model of tens of MB (builtin:candidate@50MB)")
        elif link and link > FAST_LINK * fastest:
            warnings.append(f"{hardware}: transfer efficiency measured on a {format_rate(link)} link, over "
                            f"{FAST_LINK:g}× the fleet's fastest median uplink ({format_rate(fastest)}): there it "
                            "measures how fast the rig moves bytes, not a thin uplink's overhead; pace it with "
                            "hil.transfer_rate")
    return warnings


def _split(numbers: dict[str, float], name: str, seconds: float, size: float) -> dict[str, float | None]:
    """The probe's two timings of `name` (small and large model) as {fixed, rate}; the step's own timing when the
    probe has none."""
    fixed, rate = _build_split(numbers.get(f"{name}_large_seconds", seconds), numbers.get(f"{name}_large_bytes", size),
                               numbers.get(f"{name}_small_seconds"), numbers.get(f"{name}_small_bytes"))
    return {"fixed": fixed, "rate": rate}


def _build_split(candidate_seconds: float, candidate_bytes: float, other_seconds: float | None,
                 other_bytes: float | None) -> tuple[float, float | None]:
    """(fixed seconds, bytes per second) from two builds of different sizes; (the build, None) otherwise."""
    if other_seconds is None or not other_bytes:
        return candidate_seconds, None
    if abs(candidate_bytes - other_bytes) < SIZES_APART * max(candidate_bytes, other_bytes):
        return (candidate_seconds + other_seconds) / 2, None
    (small_bytes, small_s), (big_bytes, big_s) = sorted([(other_bytes, other_seconds),
                                                          (float(candidate_bytes), candidate_seconds)])
    if big_s <= small_s:
        return candidate_seconds, None     # the size made no measurable difference: a fixed cost
    rate = (big_bytes - small_bytes) / (big_s - small_s)
    return max(0.0, small_s - small_bytes / rate), rate


def _thermal(numbers: dict[str, float]) -> dict | None:
    needed = ("idle_temperature", "loaded_temperature", "idle_power_mw", "loaded_power_mw", "time_constant")
    if any(key not in numbers for key in needed):
        return None
    idle, loaded = numbers["idle_temperature"], numbers["loaded_temperature"]
    idle_w, loaded_w = numbers["idle_power_mw"] / 1000, numbers["loaded_power_mw"] / 1000
    if loaded_w <= idle_w or loaded <= idle:
        return None            # the load step did not heat the rig: no resistance to fit
    resistance = (loaded - idle) / (loaded_w - idle_w)
    return {"idle": idle, "loaded": loaded, "idle_power": idle_w, "loaded_power": loaded_w,
            "resistance": resistance, "time_constant": numbers["time_constant"],
            "ambient": idle - resistance * idle_w, "samples": int(numbers.get("thermal_samples", 0))}


def _median_of(values: list) -> object:
    """The median of numbers, field by field through nested mappings (None where any rig has none); of counts, one
    of the counts (two rigs' 8 and 9 thermal samples are 8, not the 8.5 a count cannot be)."""
    if any(value is None for value in values):
        return None
    first = values[0]
    if isinstance(first, dict):
        return {key: _median_of([value.get(key) for value in values]) for key in first}
    if isinstance(first, int) and not isinstance(first, bool):
        return median_low(values)
    return median(values) if isinstance(first, float) else first


def from_run(results: list[RigResult], rigs: list[Rig], scenario: Scenario,
             when: datetime | None = None) -> Calibration:
    """The calibration of the rigs' results (one run, or one run per rig)."""
    from sim.provenance import git_sha, package_versions

    moment = (when or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    by_name = {rig.name: rig for rig in rigs}
    grouped: dict[str, list[tuple[RigResult, dict]]] = {}
    for result in results:
        grouped.setdefault(result.hardware, []).append(
            (result, rig_numbers(result, by_name[result.rig], scenario)))
    profiles = {}
    for hardware, measured in grouped.items():
        numbers: dict = _median_of([numbers for _, numbers in measured])   # type: ignore[assignment]
        facts = measured[0][0].facts
        numbers["current"]["version"] = scenario.current_model.version
        numbers["candidate"]["version"] = scenario.candidate.version
        try:
            profiles[hardware] = Profile.model_validate({
                **numbers, "rigs": [result.rig for result, _ in measured], "board": facts.get("model", ""),
                "l4t": facts.get("l4t", ""), "jetpack": facts.get("jetpack", ""),
                "tensorrt": facts.get("tensorrt", ""), "measured": moment})
        except ValidationError as error:     # a number no profile can hold: said, nothing written (no traceback)
            where = "; ".join(f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
                              for problem in error.errors())
            raise CalibrationError(f"{hardware}: the rigs' numbers do not make a calibration profile ({where})") \
                from None
    return Calibration(schema_version=1, fleetlab=package_versions()["fleetlab"], git_sha=git_sha(),
                       measured=moment, profiles=profiles)


def calibration_yaml(calibration: Calibration) -> str:
    """The file as people read it: units written, a header saying what made it."""
    from io import StringIO

    from ruamel.yaml import YAML

    def units(value: object, key: str = "") -> object:
        if isinstance(value, dict):
            return {name: units(item, name) for name, item in value.items() if item is not None}
        if isinstance(value, list):
            return [units(item) for item in value]
        if isinstance(value, float):
            if key in ("setup", "fixed", "activation", "rollback", "time_constant", "p50", "p99"):
                return f"{value:.6g}s"
            if key in ("link_rate", "throughput", "install_rate", "rate"):
                return f"{value:.6g}B/s"
            if key in ("size", "memory"):
                return f"{value:.0f}B"
            return float(f"{value:.6g}")
        return value

    document = units(calibration.model_dump(mode="json"))
    sink = StringIO()
    sink.write("# fleetlab calibration: device numbers measured on rigs (docs/calibration.md).\n"
               "# A scenario takes them with `calibration: THIS_FILE`; do not edit numbers by hand, calibrate again.\n")
    yaml = YAML()
    yaml.width = 4096
    yaml.dump(document, sink)
    return sink.getvalue()

