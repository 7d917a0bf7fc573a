"""The per-rig table of a HIL run, for the terminal. Everything that came from a rig is printed as plain text."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from fleetlab.console import styled, titled_table
from sim.model.hil_results import RigResult
from sim.model.hil_spec import HilSpec
from sim.model.results import RunResult
from sim.model.units import counted

_MARKS = {"passed": styled("PASS", "green"), "failed": styled("FAIL", "red"), "error": styled("ERROR", "yellow"),
          "skipped": styled("skipped", ""), "interrupted": styled("INTERRUPTED", "yellow")}


def _step(rig: RigResult, name: str) -> str:
    """The outcome of the step's last run (a step runs again after a rig dropped away, or in a new attempt after a
    failure), as the HTML report shows it."""
    found = next((step for step in reversed(rig.steps) if step.name == name), None)
    return "—" if found is None else {"passed": "ok", "failed": "FAIL", "error": "error", "skipped": "—",
                                      "interrupted": "interrupted"}[found.outcome]


def _parity(rig: RigResult) -> str:
    if not rig.parity:
        return "—"
    return " ".join(f"{check.frames}:{'ok' if check.passed else 'FAIL'}" for check in rig.parity)


def _latency(rig: RigResult, spec: HilSpec) -> str:
    if rig.latency is None:
        return "—"
    budget = spec.latency_budget
    p99 = f"{rig.latency.p99:.2f}" if rig.latency.p99 is not None else "?"
    text = f"{rig.latency.p50:.2f} / {p99} ms"
    if budget.p50 is not None or budget.p99 is not None:
        text += " (budget " + " / ".join(f"{value * 1000:g}" if value is not None else "—"
                                         for value in (budget.p50, budget.p99)) + ")"
    return text


def hil_table(result: RunResult, spec: HilSpec) -> Table:
    killed = any(rig.no_model_seconds is not None for rig in result.rigs)     # kill_then_download: how long dark
    retried = any(rig.retries for rig in result.rigs)                          # delivery.failure_retries
    starved = any(rig.memory_kills for rig in result.rigs)      # the kernel's OOM kills: said before the long reason
    table = titled_table(f"{result.provenance.scenario_name} on {counted(len(result.rigs), 'rig')}", "rig",
                         "released by", "state", "verdict", "build", "parity", "p50 / p99", "max °C", "RAM",
                         *(["no model"] if killed else []), *(["retries"] if retried else []),
                         *(["OOM kills"] if starved else []), "rollback", "reason")
    for rig in result.rigs:
        temperature = rig.telemetry.max_temperature if rig.telemetry else None
        rollback = "QUARANTINED" if rig.quarantined else _step(rig, "rollback")
        dark = [] if not killed else ["—" if rig.no_model_seconds is None else f"{rig.no_model_seconds:.1f} s"]
        table.add_row(Text(rig.rig), Text(rig.release or "—"), rig.state.name.lower(), _MARKS[rig.verdict],
                      _step(rig, "build"), Text(_parity(rig)),
                      _latency(rig, spec), f"{temperature:.1f}" if temperature is not None else "—",
                      (rig.telemetry.memory_in_use if rig.telemetry else "") or "—", *dark,
                      *([str(rig.retries)] if retried else []), *([str(rig.memory_kills)] if starved else []),
                      rollback,
                      Text(rig.reason[:200]))
    return table


def plan_table(result: RunResult) -> Table:
    """The plan as it ran on the rigs: releases with the plan's labels, soaks, halts with their reasons, rollbacks."""
    table = titled_table("the plan on the rigs", "time", "event", "detail", "rigs")
    for event in result.timeline:
        table.add_row(f"{event.time:.1f} s", event.kind, Text(event.detail), str(event.devices or ""))
    return table
