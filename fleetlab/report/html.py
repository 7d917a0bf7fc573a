"""index.html: one self-contained page (inline CSS and SVG, no script, no external request) that a release manager
reads top to bottom: the verdict, then the evidence.

Escaping is by construction: the page is a Jinja2 template (templates/index.html.j2) with autoescape on, and this
module hands it plain values; the only markup that passes through unescaped is the SVG that plots.py draws (text
in it is escaped by matplotlib's SVG writer). A Content-Security-Policy forbids scripts and remote loads anyway."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from fleetlab.causes import least_evidence
from fleetlab.report import plots
from fleetlab.report.decision import VERDICT_ORDER, failing_lines, judged_on, meaning_of, recommended, subject
from fleetlab.report.trends import Trends
from fleetlab.safe_text import bounded, visible
from fleetlab.suite_results import PlanSummary, ScenarioOutcome, SuiteResult
from sim.model import units
from sim.model.gates import format_metric, parse_bound
from sim.model.hil_results import RigResult

PLAN_COLUMNS = ("t95", "coverage", "cost", "failed", "rolled_back", "bricked", "exposure_device_hours",
                "throttled_device_hours", "service_lost_device_hours")
COLUMN_LABELS = {"t95": "T95 (mean)", "coverage": "coverage", "cost": "cost", "failed": "failed",
                 "rolled_back": "rolled back", "bricked": "bricked", "exposure_device_hours": "exposure",
                 "throttled_device_hours": "throttled", "service_lost_device_hours": "no model"}
# the columns in device-hours, said once under the table (in each header they ran it past a 1400-pixel screen)
DEVICE_HOURS_NOTE = ("Device-hours: exposure on a candidate defective for the camera; throttled above the throttle "
                     "temperature; no model running because of the update (its switches, rollbacks, bricked cameras, "
                     "and the whole update under kill_then_download), with the part during games at the camera's "
                     "site")
# a measure whose cell also says a part of it (a column of its own ran the table past a 1400-pixel screen)
PARTS = {"service_lost_device_hours": ("service_lost_in_games_device_hours", "in games"),
         "failed": ("retried_failures", "retried")}     # failed updates started again (delivery.failure_retries)
CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:0 20px 60px;color:#1d1d1f}
h1{margin:24px 0 4px}h2{margin-top:40px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{margin:22px 0 6px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:top;overflow-wrap:break-word}th{background:#f5f5f7}.num{text-align:right;white-space:nowrap}
.badge{display:inline-block;padding:2px 10px;border-radius:4px;font-weight:600;color:#fff}
.GO,.pass{background:#1a7f37}.NO-GO,.fail{background:#cf222e}.CANNOT,.off{background:#9a6700}.within{background:#57606a}.INTERRUPTED{background:#6e7781}
.warnings{border-left:4px solid #9a6700;padding-left:12px}.finding{background:#0969da}
.causes li{margin:6px 0}.cause{color:#cf222e}nav{margin:12px 0;line-height:2}
.verdict{font-size:40px;padding:8px 24px;margin:12px 0}.muted{color:#6e6e73}.plots svg{max-width:100%;height:auto}
.rigs svg{width:300px;height:auto}.wide{overflow-x:auto}.wide td,.wide th{padding:4px 5px}code{font-size:12px}
"""


def _shown(value: object) -> object:
    """Every {{ value }} of the page: text has its control characters made visible and its length bounded (then
    autoescape escapes it); markup drawn here (Markup) passes as it is."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return bounded(visible(value))
    return value


_ENVIRONMENT = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True,
                           undefined=StrictUndefined, finalize=_shown)
RIG_VERDICTS = {"passed": "GO", "failed": "NO-GO", "interrupted": "INTERRUPTED"}


def inline_code(text: str) -> Markup:
    """A scenario's description as people write it in YAML: `backticks` become code, everything else is escaped
    text (made visible and bounded first, like every value of the page)."""
    escaped = str(escape(bounded(visible(text))))
    return Markup(re.sub(r"`([^`<>]+)`", r"<code>\1</code>", escaped))


_ENVIRONMENT.filters["inline_code"] = inline_code


def breakable(name: str) -> Markup:
    """A metric's name (`downloads_during_games`) that may wrap after each underscore: as one word it held a plans
    table's risk column wide enough to push the table past the page."""
    return Markup("_<wbr>".join(str(escape(bounded(visible(part)))) for part in name.split("_")))


_ENVIRONMENT.filters["breakable"] = breakable


def _halted(plan: PlanSummary) -> str:
    """'halted in 2 of 3 runs' under the plan's name, or '' when no run halted."""
    found = plan.metrics.get("halted", {})
    halted = round(found.get("mean", 0.0) * found.get("n", 0)) if found.get("n") else 0
    return f"halted in {halted} of {units.counted(found['n'], 'run')}" if halted else ""


def _svg(drawn: str) -> Markup:
    """An SVG drawn by plots.py: the one kind of markup the page takes as it is."""
    return Markup(drawn)


@dataclass(frozen=True)
class Cell:
    main: str
    extra: list[str] = field(default_factory=list)


def _cell(plan: PlanSummary, metric: str) -> Cell:
    found = plan.metrics.get(metric, {})
    if not found.get("n"):
        return Cell("never" if found.get("missing") else "—")
    extra = []
    if plan.runs > 1:
        extra += [f"p5 {format_metric(metric, found['p5'])}", f"p95 {format_metric(metric, found['p95'])}"]
    if found.get("missing"):
        extra.append(f"{found['missing']} never")
    if metric in PARTS:
        part, name = PARTS[metric]
        mean = plan.metrics.get(part, {}).get("mean")
        if mean:
            extra.append(f"{name} {format_metric(part, mean)}")
    return Cell(format_metric(metric, found["mean"]), extra)


# columns left out of a scenario's plan table when no plan has any of it (a column of zeros says less than the note
# that replaces it, and the table fits a 1400-pixel screen with a risk column for each bound)
LEFT_OUT_WHEN_NONE = {"exposure_device_hours": "no plan ran a model defective for the camera (exposure)",
                      "throttled_device_hours": "no camera throttled (throttled)"}


def _plan_columns(outcome: ScenarioOutcome) -> tuple[list[str], list[str]]:
    """The plan table's measures for this scenario, and what the ones left out would have said."""
    columns, notes = [], []
    for metric in PLAN_COLUMNS:
        if metric in LEFT_OUT_WHEN_NONE and outcome.plans and \
                not any(plan.metrics.get(metric, {}).get("max") for plan in outcome.plans):
            notes.append(LEFT_OUT_WHEN_NONE[metric])
        else:
            columns.append(metric)
    return columns, notes


def _plan_rows(outcome: ScenarioOutcome, bounds: list[str], columns: list[str]) -> list[dict]:
    rows = []
    for plan in outcome.plans:
        risks = [(f"{risk.probability:.0%}", f"{risk.broken}/{risk.runs}") if (risk := plan.bounds.get(m))
                 else None for m in bounds]
        rows.append({"name": plan.name, "kind": plan.label or plan.kind, "halted": _halted(plan),
                     "cells": [_cell(plan, m) for m in columns],
                     "risks": risks})
    return rows


def _events(outcome: ScenarioOutcome) -> list[dict]:
    return [{"plan": plan.name, "time": units.format_duration(event.time), "kind": event.kind,
             "detail": event.detail, "devices": event.devices or ""}
            for plan in outcome.plans for event in plan.timeline if event.kind != "update"]


def _thermal(outcome: ScenarioOutcome) -> tuple[Markup | None, Markup | None]:
    hours = {plan.name: [plan.metrics.get("throttled_device_hours", {}).get(q) for q in ("p5", "p50", "p95")]
             for plan in outcome.plans}
    spans: dict[str, list[float]] = {name: [v for v in values if v is not None] for name, values in hours.items()}
    throttled = _svg(plots.distribution(spans, "device-hours above the throttle temperature")) \
        if any(value > 0 for values in spans.values() for value in values) else None   # all zero: nothing to see
    rigs = None
    if outcome.hil and any(rig.telemetry for rig in outcome.hil.rigs):
        temps = {rig.rig: [t for t in (rig.idle_temperature, rig.telemetry.max_temperature) if t is not None]
                 for rig in outcome.hil.rigs if rig.telemetry}
        rigs = _svg(plots.distribution(temps, "°C", limit=outcome.max_temperature))
    return throttled, rigs


def _rig(rig: RigResult, budget: dict[str, float]) -> dict:
    steps = {step.name: step.outcome for step in rig.steps}
    latency = f"{rig.latency.p50:.2f} / {rig.latency.p99 or 0:.2f} ms" if rig.latency else "—"
    shown_budget = ("budget " + " / ".join(f"{budget[q]:g}" if q in budget else "—" for q in ("p50", "p99"))
                    + " ms") if rig.latency and budget else ""
    dark = f"no model {units.format_duration(rig.no_model_seconds)}" if rig.no_model_seconds is not None else ""
    retried = f"{rig.retries} retr{'ies' if rig.retries > 1 else 'y'}" if rig.retries else ""
    starved = units.counted(rig.memory_kills, 'out-of-memory kill') if rig.memory_kills else ""
    about = " · ".join(part for part in (rig.hardware, rig.angle or "", rig.release or "not released",
                                         rig.state.name.lower(), dark, retried, starved) if part)
    hottest = f"{rig.telemetry.max_temperature:.1f} °C" if rig.telemetry and rig.telemetry.max_temperature else "—"
    if rig.telemetry and rig.telemetry.memory_in_use:
        hottest += f" · RAM {rig.telemetry.memory_in_use}"
    histogram = _svg(plots.histogram(rig.latency.histogram_edges, rig.latency.histogram_counts, "ms")) \
        if rig.latency and rig.latency.histogram_counts else ""
    return {"name": rig.rig, "about": about, "verdict": RIG_VERDICTS.get(rig.verdict, "CANNOT MEASURE"),
            "build": steps.get("build", "—"), "parity": [(check.frames, check.passed) for check in rig.parity],
            "latency": latency, "budget": shown_budget, "hottest": hottest, "quarantined": rig.quarantined,
            "rollback": steps.get("rollback", "—"), "reason": rig.reason, "histogram": histogram}


def _t95_bound(outcome: ScenarioOutcome) -> float | None:
    """The T95 bound of the scenario's sim expectations (an upper bound), to draw on the coverage plot."""
    for check in outcome.checks:
        if check.mode == "sim" and check.metric == "t95":
            try:
                bound = parse_bound("t95", check.bound)
            except ValueError:        # a result.json written by hand or by another version: draw no bound
                return None
            return bound.value if bound.op in ("<", "<=") else None
    return None


def _section(outcome: ScenarioOutcome, max_risk: float = 0.0) -> dict:
    bounds = sorted({metric for plan in outcome.plans for metric in plan.bounds})
    columns, left_out = _plan_columns(outcome)
    section: dict = {"outcome": outcome, "bounds": bounds, "plan_rows": _plan_rows(outcome, bounds, columns),
                     "plan_columns": [COLUMN_LABELS.get(metric, metric) for metric in columns],
                     "left_out": left_out,
                     "recommended": recommended(outcome, max_risk),
                     "oracle": units.format_duration(outcome.oracle_t95) if outcome.oracle_t95 else "",
                     "events": _events(outcome), "coverage": None, "egress": None, "throttled": None,
                     # why each plan went as it did: its failures' reasons show in a GO report too (once only the
                     # failed count did, with no word of why)
                     "causes": [{"plan": plan.name, "cause": plan.cause} for plan in outcome.plans if plan.cause],
                     # what each plan knew of the cameras it had told when it told more: a bake that judged nothing
                     "evidence": [{"plan": plan.name, "least": least} for plan in outcome.plans
                                  if (least := least_evidence(plan.timeline))],
                     "rig_temperatures": None,
                     "rigs": [_rig(rig, outcome.latency_budget_ms) for rig in outcome.hil.rigs] if outcome.hil else []}
    if outcome.plans:
        curves = {plan.name: (plan.coverage.step, plan.coverage.values) for plan in outcome.plans if plan.coverage}
        section["coverage"] = _svg(plots.coverage_curves(curves, outcome.oracle_t95, _t95_bound(outcome)))
        plan = outcome.plans[0]
        if plan.egress and plan.egress.values:
            section["egress"] = _svg(plots.egress(plan.egress.step, plan.egress.values))
        section["throttled"], section["rig_temperatures"] = _thermal(outcome)
    return section


def _trend_plots(trends: Trends | None) -> list[tuple[str, Markup]]:
    if trends is None:
        return []
    return [(f"{scenario}: {metric}", _svg(plots.trend(series, metric)))
            for (scenario, metric), series in sorted(trends.series.items())
            if max(len(points) for points in series.values()) >= 2]      # one run is not a trend


def render(result: SuiteResult, trends: Trends | None = None) -> str:
    counts = {verdict: sum(o.verdict == verdict for o in result.scenarios)
              for verdict in ("GO", "NO-GO", "CANNOT MEASURE", "INTERRUPTED")}
    judged = judged_on(result)
    meaning = meaning_of(result)
    ordered = sorted(result.scenarios, key=lambda o: VERDICT_ORDER[o.verdict])
    pairs = sorted(((o, c) for o in result.scenarios for c in o.checks),
                   key=lambda pair: (pair[1].passed, VERDICT_ORDER[pair[0].verdict]))
    rows = [{"outcome": outcome, "check": check} for outcome, check in pairs]
    models = sorted({(version, digest) for o in result.scenarios if o.hil
                     for version, digest in o.hil.provenance.models.items()})
    rig_count = len({rig.rig for o in result.scenarios if o.hil for rig in o.hil.rigs})
    return _ENVIRONMENT.get_template("index.html.j2").render(
        result=result, css=Markup(CSS), device_hours_note=DEVICE_HOURS_NOTE,
        trends=trends, subject=subject(result),
        meaning=meaning, failing=failing_lines(result), rows=rows, models=models, rig_count=rig_count,
        judged=judged, summary=", ".join(f"{count} {verdict}" for verdict, count in counts.items() if count),
        sections=[_section(outcome, result.max_risk) for outcome in ordered], trend_plots=_trend_plots(trends),
        history_problem=trends.problem if trends else "", packages=sorted(result.packages.items())) + "\n"
