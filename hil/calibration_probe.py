"""The optional `calibrate` step: what a calibration needs beyond the steps every run records (transfer, build,
activate and rollback are timed anyway, hil/rig_steps.py). On the rig, after the candidate's latency run:

    current engine       its latency (p50/p99), board power and RAM in use under the same load as the candidate's
    two builds, two      the current and the candidate model built again into tmp/ and their sha256 taken, back
    checksums            to back (so under the same conditions): two sizes, so each time splits into a fixed
                         and a per-byte part
    a load step          tegrastats every 0.5 s over `thermal_step` seconds of inference on the candidate engine:
                         the temperature curve gives the time constant and the settled temperature
                         (hil/thermal_fit.py); the idle pair (temperature and power at rest) is preflight's

Every number lands in the step's `numbers`; hil/calibration.py turns a run's steps into calibration.yaml.
"""

from __future__ import annotations

import time
from statistics import fmean
from typing import TYPE_CHECKING

from hil import steps
from hil.parsers import TegraSample
from hil.recorder import StepHandle
from hil.rig_telemetry import tegrastats_alongside
from hil.shell import command
from hil.steps import Timed
from hil.thermal_fit import fit_step_response

if TYPE_CHECKING:
    from hil.rig_steps import RigSteps

SAMPLE_MS = 500
LOAD_TIMEOUT_SLACK = 120.0


def _power(samples: list[TegraSample]) -> float | None:
    values = [s.board_power_mw for s in samples if s.board_power_mw is not None]
    return fmean(values) if values else None


def probe(rig: "RigSteps", step: StepHandle) -> None:
    session, found, spec = rig.s, rig.s.found, rig.s.spec
    settings = spec.calibrate
    if settings is None:
        return
    numbers = step.numbers
    if (power := _power(found.latency_telemetry)) is not None:
        numbers["candidate_power_mw"] = power
    # the current engine's power under the same sampling as the candidate's latency step (100 ms): a run of a few
    # hundred milliseconds could end between two of the load step's 0.5 s samples, and no power was recorded
    with tegrastats_alongside(rig.shell, session.rig.tools.tegrastats, rig.store.path("tmp", "calibrate.log")) as load:
        current = steps.latency_run(rig.shell, session.rig, rig.store, found.previous(), rig.frame_shape(),
                                    spec.iterations, spec.warmup, max_cv=None)
    if isinstance(current, Timed):
        numbers.update(current_p50_ms=current.summary.p50, current_p99_ms=current.summary.p99 or current.summary.p50)
    if (power := _power(load)) is not None:
        numbers["current_power_mw"] = power
    # the most RAM in use while each model ran (the camera service serving beside it): the model's own memory is
    # that less preflight's rest (hil/calibration.py)
    for which, samples in (("candidate", found.latency_telemetry), ("current", load)):
        if samples:
            numbers[f"{which}_memory_bytes"] = max(sample.ram_used_bytes for sample in samples)

    numbers["current_model_bytes"] = float(session.art.current.stat().st_size)
    for name, slot, model in (("small", found.previous(), session.art.current),
                              ("large", found.candidate(), session.art.candidate)):
        size = float(model.stat().st_size)
        seconds = _build_seconds(rig, slot, spec.precision)
        if seconds is not None:
            numbers.update({f"build_{name}_seconds": seconds, f"build_{name}_bytes": size})
        checking = time.monotonic()
        rig.store.sha256(rig.store.path("slots", slot, "model.onnx"))
        numbers.update({f"verify_{name}_seconds": time.monotonic() - checking, f"verify_{name}_bytes": size})

    candidate = rig.store.path("slots", found.candidate(), "model.engine")
    dims = "x".join(str(d) for d in (1, *rig.frame_shape()))
    with tegrastats_alongside(rig.shell, session.rig.tools.tegrastats, rig.store.path("tmp", "calibrate.log"),
                              SAMPLE_MS) as heated:
        rig.shell.run(command(session.rig.tools.trtexec, f"--loadEngine={candidate}", f"--shapes=frames:{dims}",
                              "--warmUp=0", "--iterations=1", f"--duration={settings.thermal_step:g}"),
                      timeout=settings.thermal_step + LOAD_TIMEOUT_SLACK)
    temperatures = [s.max_temperature for s in heated if s.max_temperature is not None]
    fit = fit_step_response([i * SAMPLE_MS / 1000 for i in range(len(temperatures))], temperatures)
    if fit is not None:
        numbers.update(loaded_temperature=fit.settled, time_constant=fit.time_constant,
                       fit_rms=fit.rms_error, thermal_samples=float(len(temperatures)))
    if (power := _power(heated)) is not None:
        numbers["loaded_power_mw"] = power
    step.detail = (f"current p50 {numbers.get('current_p50_ms', 0):.3f} ms; builds "
                   f"{numbers.get('build_small_seconds', 0):.1f} s and {numbers.get('build_large_seconds', 0):.1f} s; "
                   f"thermal τ "
                   f"{numbers.get('time_constant', 0):.0f} s over {len(temperatures)} samples")


def _build_seconds(rig: "RigSteps", slot: str, precision: str) -> float | None:
    """One engine build of the slot's model into tmp/ (the slot's own engine stays), timed on the rig."""
    onnx, engine = rig.store.path("slots", slot, "model.onnx"), rig.store.path("tmp", "calibrate.engine")
    flags = {"fp16": ["--fp16"], "int8": ["--int8"], "fp32": []}[precision]
    built = rig.shell.run(command(rig.s.rig.tools.trtexec, f"--onnx={onnx}", f"--saveEngine={engine}", *flags),
                          timeout=steps.BUILD_TIMEOUT)
    rig.shell.run(command("rm", "-f", engine), timeout=30)
    return built.seconds if built.ok else None
