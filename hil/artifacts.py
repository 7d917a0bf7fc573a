"""What a HIL run sends to its rigs, prepared once before any rig starts: the two model files, the frames per
camera angle, and both models' fp32 reference outputs computed here with onnxruntime.

Model and frame paths are read relative to the scenario's folder and must stay inside it (or be `builtin:NAME`):
a scenario must not be able to copy any file of this machine onto a rig. `allow_outside=True` (the CLI's
`--allow-paths-outside`) lifts that for a user who means it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hil import modelzoo
from hil.errors import HilError
from hil.reference import reference_outputs
from hil.store import sha256_of
from sim.model.hil_spec import HilSpec
from sim.model.scenario import Scenario

log = logging.getLogger(__name__)

MAX_FRAMES_BYTES = 256 * 2**20      # per angle: the builtin batches are 0.2 MiB; every rig receives each one


@dataclass(frozen=True)
class Artifacts:
    """What every rig of a run receives, prepared once before any rig starts (read-only afterwards)."""

    current: Path
    current_sha: str
    current_version: str
    candidate: Path
    candidate_sha: str
    candidate_version: str
    frames: dict[str, np.ndarray]
    candidate_reference: dict[str, np.ndarray]
    current_reference: dict[str, np.ndarray]
    workdir: Path

    def frames_for(self, angle: str | None) -> dict[str, np.ndarray]:
        """A rig that stands for cameras of one angle sees that angle's frames; a rig without one sees all."""
        return {angle: self.frames[angle]} if angle in self.frames else dict(self.frames)


def resolve_inside(reference: str, base: Path, key: str, allow_outside: bool = False) -> Path:
    """`reference` read relative to `base`; refused when it resolves outside `base`."""
    path = (base / reference).resolve()
    root = base.resolve()
    if not allow_outside and path != root and root not in path.parents:
        raise HilError(f"{key}: {reference!r} resolves to {path}, outside the scenario's folder {root}; keep models "
                       f"and frames beside the scenario (or pass --allow-paths-outside)")
    return path


def _model_file(reference: str | None, base: Path, folder: Path, role: str, allow_outside: bool) -> Path:
    if reference is None:
        raise HilError(f"hil.{role}_model: the scenario names no {role} model")
    if reference.startswith("builtin:"):
        name = reference.removeprefix("builtin:")
        target = folder / f"{name}.onnx"
        try:
            target.write_bytes(modelzoo.build_model(name))
        except ValueError as error:
            raise HilError(f"hil.{role}_model: {error}") from None
        return target
    path = resolve_inside(reference, base, f"hil.{role}_model", allow_outside)
    if not path.is_file():
        raise HilError(f"hil.{role}_model: {path} does not exist (models are built with `fleetlab models`)")
    return path


Found = list[tuple[str, str]]       # (dotted key, what is wrong there)


def reference_warnings(spec: HilSpec, base: Path) -> Found:
    """What `fleetlab hil` would refuse in the scenario's models and frames, found without building or reading
    them (`fleetlab validate` says it as warnings: a sim-only run needs none of them, and a pipeline may write the
    files after validating)."""
    found: Found = []
    for role, reference in (("current", spec.current_model), ("candidate", spec.candidate_model)):
        key = f"hil.{role}_model"
        if reference is None:
            found.append((key, f"the scenario names no {role} model: `fleetlab hil` needs one (a file beside the "
                               "scenario, or builtin:NAME)"))
        elif reference.startswith("builtin:"):
            name = reference.removeprefix("builtin:").split("@")[0]
            if name not in modelzoo.MODELS:
                found.append((key, f"unknown builtin model {name!r}; known: {', '.join(modelzoo.MODELS)}"))
        else:
            found += _missing(reference, base, key, "is not a file (models are written by `fleetlab models`)",
                              Path.is_file)
    if spec.frames not in (None, "builtin"):
        found += _missing(spec.frames, base, "hil.frames", "is not a folder of ANGLE.npy frame batches",
                          lambda folder: folder.is_dir() and any(folder.glob("*.npy")))
    return found


def _missing(reference: str, base: Path, key: str, problem: str, exists: Callable[[Path], bool]) -> Found:
    try:
        path = resolve_inside(reference, base, key)
    except HilError as error:
        return [(key, str(error).removeprefix(f"{key}: "))]
    return [] if exists(path) else [(key, f"{reference!r} ({path}) {problem}")]


def _frames(reference: str | None, base: Path, allow_outside: bool) -> dict[str, np.ndarray]:
    if reference in (None, "builtin"):
        return {angle: modelzoo.frames_for(angle) for angle in modelzoo.ANGLES}
    folder = resolve_inside(reference, base, "hil.frames", allow_outside)
    found = {path.stem: _frame_batch(path) for path in sorted(folder.glob("*.npy"))}
    if not found:
        raise HilError(f"hil.frames: no ANGLE.npy files in {folder}")
    return found


def _frame_batch(path: Path) -> np.ndarray:
    """One angle's frames: a numeric array of real numbers, read whole (it goes to every rig) up to a size a test
    batch has no reason to pass. A broken, pickled or oversized file is refused by name, never a traceback."""
    try:
        size = path.stat().st_size
        if size > MAX_FRAMES_BYTES:
            raise HilError(f"hil.frames: {path} is {size / 2**20:,.0f} MiB; a batch of test frames is at most "
                           f"{MAX_FRAMES_BYTES // 2**20} MiB")
        batch = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:      # numpy's words for a file that is not a plain .npy array
        raise HilError(f"hil.frames: {path} is not a readable .npy array: {error}") from None
    if not isinstance(batch, np.ndarray) or batch.dtype.kind not in "biuf" or batch.ndim == 0 or batch.size == 0:
        raise HilError(f"hil.frames: {path} holds {getattr(batch, 'dtype', type(batch))} with shape "
                       f"{getattr(batch, 'shape', '?')}: frames are a non-empty array of real numbers (N, …)")
    return batch


def _reference(model: Path, frames: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    try:
        return {angle: reference_outputs(model, batch) for angle, batch in frames.items()}
    except Exception as error:   # noqa: BLE001 — onnxruntime raises its own types; the rig's build will say more
        log.warning("no local reference for %s: %s", model.name, error)
        return {angle: np.full((batch.shape[0], 1), np.nan) for angle, batch in frames.items()}


def prepare_artifacts(scenario: Scenario, base: Path, folder: Path, allow_outside: bool = False) -> Artifacts:
    spec = scenario.hil
    if spec is None:
        raise HilError("the scenario has no hil: section")
    current = _model_file(spec.current_model, base, folder, "current", allow_outside)
    candidate = _model_file(spec.candidate_model, base, folder, "candidate", allow_outside)
    frames = _frames(spec.frames, base, allow_outside)
    return Artifacts(current=current, current_sha=sha256_of(current), current_version=scenario.current_model.version,
                     candidate=candidate, candidate_sha=sha256_of(candidate),
                     candidate_version=scenario.candidate.version, frames=frames,
                     candidate_reference=_reference(candidate, frames), current_reference=_reference(current, frames),
                     workdir=folder)
