"""Mender: a phased deployment (POST /api/management/v1/deployments/deployments) with batch sizes and start times.

fleetlab's `phases` plan is Mender's: whole-percent batches at start times, the last phase taking the rest; `waves`
map too (each wave's increment starts one bake after the previous). Mender has no automatic abort: an abort rule is a
gap, approximated by leaving it to the operator.
Reference: https://docs.mender.io/api/#management-api-deployments-create-deployment
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fleetlab.interop.base import CannotImport, Document, Gaps, Target, percent, require
from sim.model.scenario import MOST_RETRIES
from sim.model.strategy import StrategyParams
from sim.model.units import UnitError, exact_duration, utc_moment

NAME = "mender"
FILL_IN = ("artifact_name (the candidate's version here)", "devices, group or filter_id (all devices here)")


def export_plan(plan: StrategyParams, target: Target, gaps: Gaps) -> Document:
    from sim.model.strategies.phases import PhasesParams
    from sim.model.strategies.waves import WavesParams

    document: Document = {"name": target.scenario, "artifact_name": target.candidate_version, "all_devices": True}
    if target.failure_retries:
        document["retries"] = target.failure_retries
    if plan.kind == "all_at_once":
        return document
    if isinstance(plan, PhasesParams):
        batches = [phase.batch for phase in plan.phases]
        starts = [phase.start for phase in plan.phases]
    elif isinstance(plan, WavesParams):
        shares = [0.0, *plan.waves]
        batches = [after - before for before, after in zip(shares, shares[1:])]
        if shares[-1] >= 1.0 - 1e-9:
            batches[-1] = None          # the last wave takes the rest, as Mender's last phase does
        starts = [index * plan.bake for index in range(len(batches))]
        if plan.sequential is not None:
            gaps.add("a sequential test halting the waves: Mender has no automatic abort",
                     "left out (the operator aborts)")
    else:
        gaps.add(f"a {plan.kind} plan: a deployment has timed phases of whole percentages, no gates or groups "
                 "(plan with kind: phases or waves)")
        return document
    if plan.abort is not None:
        gaps.add(f"the abort rule ({percent(plan.abort.threshold):g}% of at least {plan.abort.min_executed} "
                 "failed): Mender aborts a deployment only by hand", "left out (the operator aborts)")
    phases = []
    for index, (batch, start) in enumerate(zip(batches, starts)):
        last = index == len(batches) - 1
        phase: Document = {"start_ts": target.at(start)}
        if last:
            if batch is not None and abs(sum(b or 0.0 for b in batches) - 1.0) > 1e-9:
                gaps.add(f"the last phase takes {percent(batch):g}%, not the rest of the fleet: Mender's last phase "
                         "always takes the rest", "the last phase takes the rest")
        else:
            whole = round(percent(batch or 0.0))
            if abs(whole - percent(batch or 0.0)) > 1e-6:
                gaps.add(f"phase {index + 1} of {percent(batch or 0.0):g}%: Mender batches are whole percentages",
                         f"{max(whole, 1)}%")
            phase["batch_size"] = max(whole, 1)
        phases.append(phase)
    document["phases"] = phases
    return document


def _timestamp(text: Any, where: str) -> datetime:
    try:      # RFC 3339 requires the offset; without it, times cannot be set against each other
        return utc_moment(text)
    except UnitError as error:
        raise CannotImport(f"{where}: {error}") from None


def import_document(document: Document, notes: list[str]) -> dict[str, Any]:
    if "phases" not in document:
        require(document, "artifact_name", str)
        return {"kind": "all_at_once"}
    phases = require(document, "phases", list)
    if not phases:
        raise CannotImport("phases: a phased deployment needs at least one phase")
    for index, phase in enumerate(phases):
        if not isinstance(phase, dict):
            raise CannotImport(f"phases.{index}: expected an object with start_ts and batch_size, got {phase!r}")
    times = [_timestamp(phase["start_ts"], f"phases.{index}.start_ts") if "start_ts" in phase else None
             for index, phase in enumerate(phases)]
    first = times[0] or next((time for time in times if time is not None), None)
    result = []
    for index, (phase, time) in enumerate(zip(phases, times)):
        offset = (time - first).total_seconds() if time is not None and first is not None else 0.0
        if offset < 0:
            raise CannotImport(f"phases.{index}.start_ts: starts before the first phase")
        entry: dict[str, Any] = {"start": exact_duration(offset)}
        if index < len(phases) - 1:
            size = require(phase, "batch_size", int, f"phases.{index}")
            if not 1 <= size <= 100:
                raise CannotImport(f"phases.{index}.batch_size: expected 1 to 100, got {size}")
            entry["batch"] = f"{size}%"
        elif "batch_size" in phase:
            notes.append(f"phases.{index}.batch_size: Mender's last phase takes the rest, whatever it says")
        result.append(entry)
    retries = document.get("retries")
    if isinstance(retries, int) and not isinstance(retries, bool) and 0 < retries <= MOST_RETRIES:
        notes.append(f"retries is the scenario's delivery: {{failure_retries: {retries}}} (not part of the plan)")
    elif retries:
        notes.append(f"retries: {retries!r} is left out: fleetlab simulates 0 to {MOST_RETRIES} retries of a failed "
                     "update (delivery.failure_retries)")
    return {"kind": "phases", "phases": result}
