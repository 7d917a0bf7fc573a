"""index.html: one self-contained page (inline CSS and SVG, no script, no external request) that a release manager
reads top to bottom: the verdict, then the evidence. Every string that came from a scenario file or a rig is
escaped; a Content-Security-Policy forbids scripts and remote loads anyway."""

from __future__ import annotations

from html import escape

from fleetlab.report import plots
from fleetlab.report.trends import Trends
from fleetlab.suite_results import PlanSummary, ScenarioOutcome, SuiteResult
from sim.model import units
from sim.model.gates import format_metric
from sim.model.hil_results import RigResult

PLAN_COLUMNS = ("t95", "coverage", "cost", "failed", "rolled_back", "bricked", "exposure_device_hours",
                "throttled_device_hours")
CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:0 20px 60px;color:#1d1d1f}
h1{margin:24px 0 4px}h2{margin-top:40px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{margin:22px 0 6px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f5f5f7}.num{text-align:right;white-space:nowrap}
.badge{display:inline-block;padding:2px 10px;border-radius:4px;font-weight:600;color:#fff}
.GO,.pass{background:#1a7f37}.NO-GO,.fail{background:#cf222e}.CANNOT{background:#9a6700}.INTERRUPTED{background:#6e7781}
.verdict{font-size:40px;padding:8px 24px;margin:12px 0}.muted{color:#6e6e73}.plots svg{max-width:100%;height:auto}
.rigs svg{width:300px;height:auto}.wide{overflow-x:auto}code{font-size:12px}
"""


def e(value: object) -> str:
    return escape(str(value), quote=True)


def _badge(verdict: str, big: bool = False) -> str:
    css = verdict.split()[0] if verdict != "NO-GO" else "NO-GO"
    return f'<span class="badge {css}{" verdict" if big else ""}">{e(verdict)}</span>'


def _mark(passed: bool) -> str:
    return f'<span class="badge {"pass" if passed else "fail"}">{"PASS" if passed else "FAIL"}</span>'


def _verdict_table(result: SuiteResult) -> str:
    rows = []
    for outcome in result.scenarios:
        for check in outcome.checks:
            rows.append(f"<tr><td>{e(outcome.name)}</td><td>{check.mode}</td><td><code>{e(check.metric)}</code></td>"
                        f"<td class=num>{e(check.shown)}</td><td class=num>{e(check.bound)}</td>"
                        f"<td>{_mark(check.passed)}</td><td>{e(check.reason)}</td></tr>")
        for problem in outcome.problems:
            rows.append(f"<tr><td>{e(outcome.name)}</td><td colspan=5>{_badge('CANNOT MEASURE')}</td>"
                        f"<td>{e(problem)}</td></tr>")
    return ("<table><tr><th>scenario</th><th>mode</th><th>expectation</th><th>measured</th><th>bound</th>"
            "<th>verdict</th><th>reason</th></tr>" + "".join(rows) + "</table>")


def _cell(plan: PlanSummary, metric: str) -> str:
    found = plan.metrics.get(metric, {})
    if not found.get("n"):
        return "never" if found.get("missing") else "—"
    text = format_metric(metric, found["mean"])
    if plan.runs > 1:
        text += f"<br><span class=muted>p5 {e(format_metric(metric, found['p5']))} · p95 " \
                f"{e(format_metric(metric, found['p95']))}</span>"
    if found.get("missing"):
        text += f"<br><span class=muted>{found['missing']} never</span>"
    return text


def _plans_table(outcome: ScenarioOutcome) -> str:
    head = "".join(f"<th>{e(metric)}</th>" for metric in PLAN_COLUMNS)
    bounds = sorted({metric for plan in outcome.plans for metric in plan.bounds})
    head += "".join(f"<th>P(breaks {e(metric)})</th>" for metric in bounds)
    rows = []
    for plan in outcome.plans:
        cells = "".join(f"<td class=num>{_cell(plan, metric)}</td>" for metric in PLAN_COLUMNS)
        for metric in bounds:
            risk = plan.bounds.get(metric)
            cells += "<td class=num>—</td>" if risk is None else \
                f"<td class=num>{risk['probability']:.0%}<br><span class=muted>{risk['broken']}/{risk['runs']}</span></td>"
        rows.append(f"<tr><td>{e(plan.name)} <span class=muted>({e(plan.kind)})</span></td>{cells}</tr>")
    oracle = f"<p class=muted>Oracle T95 (the fastest any plan could be on this fleet, seed one): " \
             f"{e(units.format_duration(outcome.oracle_t95))}</p>" if outcome.oracle_t95 else ""
    return f"<div class=wide><table><tr><th>plan</th>{head}</tr>{''.join(rows)}</table></div>{oracle}"


def _timeline(outcome: ScenarioOutcome) -> str:
    rows = [f"<tr><td>{e(plan.name)}</td><td class=num>{e(units.format_duration(event.time))}</td>"
            f"<td>{e(event.kind)}</td><td>{e(event.detail)}</td><td class=num>{event.devices or ''}</td></tr>"
            for plan in outcome.plans for event in plan.timeline if event.kind != "update"]
    if not rows:
        return "<p class=muted>No halt, rollback or injected fault in seed one of any plan.</p>"
    return ("<table><tr><th>plan</th><th>time</th><th>event</th><th>detail</th><th>devices</th></tr>"
            + "".join(rows) + "</table>")


def _thermal(outcome: ScenarioOutcome) -> str:
    spans = {plan.name: [plan.metrics.get("throttled_device_hours", {}).get(q) for q in ("p5", "p50", "p95")]
             for plan in outcome.plans}
    spans = {name: [v for v in values if v is not None] for name, values in spans.items()}
    parts = []
    if any(spans.values()):
        parts.append("<p>Throttled device-hours per plan (p5, median, p95 over seeds):</p>"
                     + plots.distribution(spans, "device-hours above the throttle temperature"))
    if outcome.hil and any(rig.telemetry for rig in outcome.hil.rigs):
        temps = {rig.rig: [t for t in (rig.idle_temperature, rig.telemetry.max_temperature) if t is not None]
                 for rig in outcome.hil.rigs if rig.telemetry}
        parts.append("<p>Rig temperatures (idle, then the hottest while measuring latency):</p>"
                     + plots.distribution(temps, "°C"))
    return "".join(parts) or "<p class=muted>No thermal data.</p>"


def _rig_row(rig: RigResult, budget: dict[str, float]) -> str:
    steps = {step.name: step.outcome for step in rig.steps}
    parity = " ".join(f"{e(c.frames)}:{'ok' if c.passed else '<b>FAIL</b>'}" for c in rig.parity) or "—"
    latency = "—"
    if rig.latency:
        latency = f"{rig.latency.p50:.2f} / {rig.latency.p99 or 0:.2f} ms"
        if budget:
            latency += "<br><span class=muted>budget " + " / ".join(
                f"{budget[q]:g}" if q in budget else "—" for q in ("p50", "p99")) + " ms</span>"
    hottest = f"{rig.telemetry.max_temperature:.1f} °C" if rig.telemetry and rig.telemetry.max_temperature else "—"
    rollback = "<b>QUARANTINED</b>" if rig.quarantined else e(steps.get("rollback", "—"))
    histogram = plots.histogram(rig.latency.histogram_edges, rig.latency.histogram_counts, "ms") \
        if rig.latency and rig.latency.histogram_counts else ""
    told = e(rig.release) if rig.release else "not released"
    angle = f" · {e(rig.angle)}" if rig.angle else ""
    return (f"<tr><td>{e(rig.rig)}<br><span class=muted>{e(rig.hardware)}{angle} · {told} · "
            f"{e(rig.state.name.lower())}</span></td>"
            f"<td>{_badge({'passed': 'GO', 'failed': 'NO-GO'}.get(rig.verdict, 'CANNOT MEASURE'))}</td>"
            f"<td>{e(steps.get('build', '—'))}</td><td>{parity}</td><td class=num>{latency}</td>"
            f"<td class=num>{e(hottest)}</td><td>{rollback}</td><td>{e(rig.reason)}</td><td>{histogram}</td></tr>")


def _hil_section(outcome: ScenarioOutcome) -> str:
    if outcome.hil is None:
        return ""
    rows = "".join(_rig_row(rig, outcome.latency_budget_ms) for rig in outcome.hil.rigs)
    plan = "".join(f"<tr><td class=num>{event.time:.1f} s</td><td>{e(event.kind)}</td><td>{e(event.detail)}</td>"
                   f"<td class=num>{event.devices or ''}</td></tr>" for event in outcome.hil.timeline)
    return ("<h3>On the rigs</h3><p>The scenario's plan, run on the rigs (wall time since the start):</p>"
            "<table><tr><th>time</th><th>event</th><th>detail</th><th>rigs</th></tr>" + plan + "</table>"
            "<table class=rigs><tr><th>rig</th><th>verdict</th><th>engine build</th>"
            "<th>parity by angle</th><th>p50 / p99</th><th>max temp</th><th>rollback</th><th>reason</th>"
            f"<th>latency histogram</th></tr>{rows}</table>")


def _scenario_section(outcome: ScenarioOutcome) -> str:
    parts = [f"<section><h2 id='{e(outcome.name)}'>{e(outcome.name)} {_badge(outcome.verdict)}</h2>",
             f"<p>{e(outcome.description)}</p><p class=muted><code>{e(outcome.file)}</code></p>"]
    if outcome.plans:
        parts.append("<h3>Plans compared</h3>" + _plans_table(outcome))
        curves = {plan.name: (plan.coverage.step, plan.coverage.values) for plan in outcome.plans if plan.coverage}
        parts.append("<h3>Coverage over time</h3><div class=plots>"
                     + plots.coverage_curves(curves, outcome.oracle_t95) + "</div>")
        plan = outcome.plans[0]
        if plan.egress and plan.egress.values:
            parts.append("<h3>Origin egress (the plan, seed one)</h3><div class=plots>"
                         + plots.egress(plan.egress.step, plan.egress.values) + "</div>")
        parts.append("<h3>Failures, halts and rollbacks (seed one)</h3>" + _timeline(outcome))
        parts.append("<h3>Thermal</h3><div class=plots>" + _thermal(outcome) + "</div>")
    parts.append(_hil_section(outcome))
    return "".join(parts) + "</section>"


def _trends_section(trends: Trends | None) -> str:
    if trends is None or not trends.series:
        return "<h2>Trends</h2><p class=muted>No earlier runs in the history yet.</p>"
    parts = ["<h2>Trends against earlier runs</h2>"]
    if trends.regressions:
        parts.append("<p><b>Regressions against the last good run:</b></p><ul>"
                     + "".join(f"<li>{e(line)}</li>" for line in trends.regressions) + "</ul>")
    else:
        parts.append(f"<p>No regression against the last good run ({e(trends.baseline or 'none yet')}).</p>")
    drawn = 0
    for (scenario, metric), series in sorted(trends.series.items()):
        if max(len(points) for points in series.values()) < 2:
            continue          # one run is not a trend
        parts.append(f"<h3>{e(scenario)}: {e(metric)}</h3><div class=plots>{plots.trend(series, metric)}</div>")
        drawn += 1
    if not drawn:
        parts.append("<p class=muted>This is the first recorded run of these scenarios: trends start with the "
                     "next one.</p>")
    return "".join(parts)


def render(result: SuiteResult, trends: Trends | None = None) -> str:
    counts = {verdict: sum(o.verdict == verdict for o in result.scenarios) for verdict in ("GO", "NO-GO",
                                                                                            "CANNOT MEASURE")}
    summary = ", ".join(f"{count} {verdict}" for verdict, count in counts.items() if count)
    packages = ", ".join(f"{e(name)} {e(version)}" for name, version in sorted(result.packages.items()))
    body = [f"<h1>fleetlab: {len(result.scenarios)} scenarios, {e(result.mode)} mode</h1>",
            f"{_badge(result.verdict, big=True)}<p>{e(summary)} · run <code>{e(result.run_id)}</code> started "
            f"{e(result.started)} · {result.seeds} seed{'s' if result.seeds != 1 else ''} per plan</p>",
            "<h2>Verdict by expectation</h2>", _verdict_table(result),
            *(_scenario_section(outcome) for outcome in result.scenarios),
            _trends_section(trends),
            f"<h2>Provenance</h2><p>git <code>{e(result.git_sha)}</code> · {packages} · wall "
            f"{result.wall_seconds:.1f} s</p>"]
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:\">"
            f"<title>fleetlab {e(result.verdict)}: {e(result.run_id)}</title><style>{CSS}</style></head>"
            f"<body>{''.join(body)}</body></html>\n")
