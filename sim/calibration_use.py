"""A scenario's `calibration:` taken in: the numbers a rig measured are written into the parsed scenario before it
is validated, so the simulator never knows the difference between a number typed by hand and one measured.

    calibration: calibration.yaml                          # or
    calibration: {file: calibration.yaml, override: [candidate.hardware.orin-nx.latency]}

Rules (docs/calibration.md): only the hardware models both the fleet and the file name are touched; a number the
scenario also gives is an error naming both places, unless the scenario lists the key under `override`; what was
applied, from which rig and when, is recorded in `calibration.applied`; a profile measured on another board than
its hardware name says is a warning (`calibration.warnings`, shown by `fleetlab sim` and the report).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml.comments import CommentedMap

from sim.input_kinds import input_kind
from sim.load import _override, _problem_at, load_model_and_document
from sim.model.calibration import Calibration, Profile, board_mismatch, scenario_values
from sim.model.errors import Problem, ScenarioError

if TYPE_CHECKING:
    from sim.model.scenario import Scenario

OVERRIDDEN = "the scenario (override)"   # what `applied` says of a key the scenario keeps its own number for


def apply(document: Any, filename: str) -> None:
    if not isinstance(document, CommentedMap) or document.get("calibration") is None:
        return
    use = document["calibration"]
    if isinstance(use, str):
        file_name, overrides = use, []
    elif isinstance(use, CommentedMap) and isinstance(use.get("file"), str):
        file_name, overrides = use["file"], list(use.get("override") or [])
    else:
        return          # the model refuses the shape itself, with its position
    path = Path(filename).parent / file_name
    if not path.is_file():
        raise ScenarioError([_problem_at(document, filename, ["calibration"],
                                         f"no calibration file {path} (written by `fleetlab calibrate`)")])
    kind = input_kind(path)
    if kind in ("scenario", "rig inventory"):      # named the wrong file: say so where it is named
        raise ScenarioError([_problem_at(document, filename, ["calibration"],
                                         f"{path} is a {kind}, not a calibration file (written by `fleetlab "
                                         f"calibrate`)")])
    calibration, measured = load_model_and_document(Calibration, path)
    fleet_hardware = _fleet_hardware(document)
    applied: dict[str, str] = {}
    warnings: list[str] = []
    conflicts: list[Problem] = []
    for hardware, profile in calibration.profiles.items():
        if hardware not in fleet_hardware:
            continue
        source = _source(profile)
        if board_mismatch(hardware, profile.board):
            warnings.append(f"{hardware}: calibrated on a {profile.board} ({', '.join(profile.rigs)}), not a "
                            f"{hardware}: its numbers describe another board")
        if "current" not in document and _has_candidate(document):
            _current_like_candidate(document, filename)
        for key, value, calibration_key in scenario_values(hardware, profile):
            if _given(document, key):
                if key in overrides:
                    applied[key] = OVERRIDDEN
                    continue
                here = _problem_at(document, filename, key.split("."), "")
                there = _problem_at(measured, str(path), calibration_key.split("."), "")
                conflicts.append(Problem(filename, here.line, here.column, key,
                                         f"also measured in {path}:{there.line}:{there.column} "
                                         f"({calibration_key}): remove one, or list {key} under "
                                         f"calibration.override to keep the scenario's"))
                continue
            _override(document, filename, key, value)
            applied[key] = source
    if conflicts:
        raise ScenarioError(conflicts)
    missing = [name for name in fleet_hardware if name not in calibration.profiles]
    if missing:
        warnings.append(f"{', '.join(missing)}: not in {path.name}; the scenario's own numbers are used")
    stale = [key for key in overrides if key not in applied]
    if stale:
        warnings.append(f"calibration.override lists {', '.join(stale)}, which the file does not measure")
    document["calibration"] = {"file": file_name, "override": overrides, "applied": applied, "warnings": warnings}


def _source(profile: Profile) -> str:
    versions = ", ".join(part for part in (f"JetPack {profile.jetpack}" if profile.jetpack else "",
                                           f"TensorRT {profile.tensorrt}" if profile.tensorrt else "") if part)
    return f"rig {', '.join(profile.rigs)}" + (f" ({versions})" if versions else "") + f", {profile.measured}"


def _fleet_hardware(document: CommentedMap) -> list[str]:
    fleet = document.get("fleet")
    hardware = fleet.get("hardware") if isinstance(fleet, CommentedMap) else None
    return [str(name) for name in hardware] if isinstance(hardware, CommentedMap) else []


def _given(document: Any, dotted: str) -> bool:
    node = document
    for key in dotted.split("."):
        if not isinstance(node, CommentedMap) or key not in node:
            return False
        node = node[key]
    return True


def _has_candidate(document: CommentedMap) -> bool:
    return isinstance(document.get("candidate"), CommentedMap)


def _current_like_candidate(document: CommentedMap, filename: str) -> None:
    """A scenario without `current:` means "the current model performs like the candidate"; a calibration measured
    the current model, so it gets its own section, starting from the candidate's numbers."""
    import copy

    hardware = document["candidate"].get("hardware")
    document["current"] = {"version": "current",
                           "hardware": copy.deepcopy(dict(hardware)) if isinstance(hardware, CommentedMap) else {}}
    for name, numbers in list(document["current"]["hardware"].items()):
        document["current"]["hardware"][name] = dict(numbers) if isinstance(numbers, CommentedMap) else numbers


def provenance_lines(scenario: "Scenario") -> list[str]:
    """One line per source of calibrated numbers: which keys came from which rig and when."""
    use = scenario.calibration
    if use is None:
        return []
    by_source: dict[str, list[str]] = {}
    for key, source in use.applied.items():
        by_source.setdefault(source, []).append(key)
    lines = []
    for source, keys in by_source.items():
        hardware = sorted({_hardware_of(key) for key in keys})
        lines.append(f"{', '.join(hardware)}: {len(keys)} numbers from {source} ({use.file})")
    return lines


def calibrated_hardware(scenario: "Scenario") -> set[str]:
    """The hardware models whose device numbers the scenario's calibration file set (none without one)."""
    use = scenario.calibration
    return {_hardware_of(key) for key in use.applied if use.applied[key] != OVERRIDDEN} if use else set()


def _hardware_of(key: str) -> str:
    parts = key.split(".")
    return parts[2]     # fleet.hardware_profiles.H.x, candidate.hardware.H.x, current.hardware.H.x
