"""Everything fleetlab shows on a terminal: problem lists, summary tables, progress. Library code never prints."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from fleetlab import json_promise
from fleetlab.causes import least_evidence
from fleetlab.safe_text import visible
from sim.model import units
from sim.model.errors import Problem, ScenarioError
from sim.model.gates import METRICS, Verdict, format_difference, format_metric
from sim.model.results import RunResult
from sim.model.stats import Summary
from sim.model.units import counted


class SafeConsole(Console):
    """A Console that shows control characters in what it prints (`\x1b`) instead of sending them: text from a
    scenario file or a rig can never retitle, clear or recolour the terminal. Rich's own styling is added after
    this, so colours still work."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(Segment(visible(segment.text), segment.style, segment.control)
                                      if segment.control is None else segment for segment in buffer)


# Not on a terminal (a CI log, a pipe), lines are not wrapped at 80 columns: tables keep one row per line.
# No emoji codes: Rich would print 'x.yaml:100:3:' as 'x.yaml💯3:' (':100:' is one), and ':-1:' or ':fire:' in a
# rig's name or a host:port likewise. No markup either: a scenario named 'canary [eu]' or a plan '[/]x' reached
# Rich's markup parser in every table and message (a MarkupError traceback, or brackets silently eaten); fleetlab's
# own colours are Text objects with a style (`styled`).
_WIDTH = None if sys.stdout.isatty() else 200
def print_json(document: object) -> None:
    """One JSON document on stdout, keys sorted: what `--json` promises a script."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n")
    json_promise.kept()


def print_json_text(text: str) -> None:
    """A JSON document already written out (a run's result.json, as the report folder holds it) on stdout."""
    sys.stdout.write(text)
    json_promise.kept()


out = SafeConsole(highlight=False, soft_wrap=True, width=_WIDTH, emoji=False, markup=False)
err = SafeConsole(stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else 200,
                  emoji=False, markup=False)


def styled(text: str, style: str) -> Text:
    """fleetlab's own words in a colour (PASS in green); text from files and rigs goes in plain."""
    return Text(text, style=style)


def titled_table(title: str, *columns: str) -> Table:
    """A table as fleetlab prints them: a title, bold headers, these columns."""
    table = Table(title=title, header_style="bold")
    for column in columns:
        table.add_column(column)
    return table


def show_problems(error: ScenarioError) -> None:
    json_promise.note_problems(problem_records(error.problems))
    for problem in error.problems:
        err.print(str(problem), markup=False)
    count = len(error.problems)
    err.print(f"{count} problem{'s' if count != 1 else ''} found", style="bold red")


def problem_records(problems: Iterable[Problem]) -> list[dict[str, object]]:
    """Problems (or lint findings) as `--json` gives them: file, line and column (1-based; 0 where unknown), key,
    message."""
    return [{"file": problem.file, "line": problem.line, "column": problem.column, "key": problem.path,
             "message": problem.message} for problem in problems]


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[float], None]]:
    """A progress bar on a terminal; plain silence in CI logs (the summary follows anyway)."""
    if not sys.stderr.isatty():
        yield lambda share: None
        return
    with Progress(TextColumn("{task.description}", markup=False), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task(label, total=1.0)
        yield lambda share: bar.update(task, completed=share)


@dataclass
class Tally:
    """Runs done of a total, as a command's progress callback feeds it: what an interrupted command says it had done
    (fleetlab/interrupts.stopped_at_once)."""
    total: int
    done: int = 0

    def feeding(self, report: Callable[[float], None]) -> Callable[[int, int], None]:
        """A progress callback that keeps the tally and moves the bar."""
        def progress(done: int, total: int) -> None:
            self.done, self.total = done, total
            report(done / total)
        return progress


def summary_table(result: RunResult) -> Table:
    table = Table(title=f"{result.provenance.scenario_name} · {result.strategy} · seed {result.provenance.seed}",
                  show_header=True, header_style="bold")
    table.add_column("measure")
    table.add_column("value", justify="right")
    cover = result.coverage
    rows = [
        ("devices / sites", f"{result.devices:,} / {result.sites:,}"),
        ("T50 / T90 / T95 / T99", " / ".join(units.format_duration(t) for t in (cover.t50, cover.t90, cover.t95,
                                                                                cover.t99))),
        ("coverage at end", f"{cover.final:.2%} after {units.format_duration(result.simulated)}"),
        ("outcomes", ", ".join(f"{state.name.lower()} {count:,}" for state, count in result.outcomes.items())),
        ("bytes moved (wasted)", f"{units.format_size(result.bytes.total)} ({units.format_size(result.bytes.wasted)})"),
        ("egress peak / p95", f"{units.format_rate(result.egress.peak)} / {units.format_rate(result.egress.p95)}"),
        ("egress cost", f"${result.egress.cost:,.2f}"),
        ("exposure on a defective model", f"{result.exposure_device_hours:,.1f} device-hours"),
        ("downloads / installs during games", f"{result.downloads_during_games:,} / {result.installs_during_games:,}"),
        ("throttled", f"{result.throttled_device_hours:,.1f} device-hours"),
        ("no model running (the update's)", f"{result.service_lost_device_hours:,.1f} device-hours, "
                                            f"{result.service_lost_in_games_device_hours:,.1f} of them during games"),
    ]
    if result.retried_failures:
        rows.append(("failed updates started again", f"{result.retried_failures:,} (delivery.failure_retries)"))
    if least := least_evidence(result.timeline):
        rows.append(("least known at a release", least))
    if result.halted:
        rows.append(("halted", f"at {units.format_duration(result.halt_time)}: {result.halt_reason}"))
        blast = result.blast
        rows.append(("blast radius", f"{blast.released_before_halt:,} released before the halt, "
                                     f"{blast.in_flight_at_halt:,} in flight then, {blast.ran_candidate:,} ran it; "
                                     f"first failure to halt {units.format_duration(blast.failure_to_halt)}"))
    for reason, count in list(result.reasons.items())[:5]:
        rows.append((f"not committed: {reason}", f"{count:,}"))
    for name, value in rows:
        table.add_row(name, value)
    return table


def verdict_table(verdict: Verdict) -> Table:
    table = titled_table("expectations", "", "metric", "bound", "measured")
    for check in verdict.checks:
        mark = styled("PASS", "green") if check.passed else styled("FAIL", "red")
        table.add_row(mark, check.metric, check.bound, format_metric(check.metric, check.measured))
    return table


def _interval(summary: Summary, metric: str) -> str:
    if summary.mean is None:
        return "never"
    if METRICS[metric][0] == "flag":     # a yes-or-no per run: how many runs said yes
        return f"{round(summary.mean * (summary.n - summary.missing))} of {counted(summary.n, 'run')}"
    text = format_metric(metric, summary.mean)
    if summary.low is not None and summary.high is not None:
        text += f" [{format_metric(metric, summary.low)}, {format_metric(metric, summary.high)}]"
    if summary.missing:
        text += f" ({summary.missing} never)"
    return text


def _difference(summary: Summary | None, metric: str) -> str:
    """A paired difference, signed: "+3h 10m [+2h 50m, +3h 30m]"; "—" where the seeds do not pair up."""
    if summary is None or summary.mean is None:
        return "— (not every seed has one)"
    if summary.mean == 0 and summary.low in (0, None) and summary.high in (0, None):
        return "the same on every seed"      # not "+$0.00 [+$0.00, +$0.00]", which hides that nothing differed
    text = format_difference(metric, summary.mean)
    if summary.low is not None and summary.high is not None:
        text += f" [{format_difference(metric, summary.low)}, {format_difference(metric, summary.high)}]"
    return text


def comparison_table(rows: list, scenario: object, seeds: int) -> Table:
    """Measures down, plans across: fits a terminal however many measures there are."""
    from fleetlab.compare import COLUMNS, PAIRED
    from sim.model.stats import summarize

    table = Table(title=f"plans compared over {counted(seeds, 'seed')}: mean [95% CI]", header_style="bold")
    table.add_column("measure")
    for row in rows:
        table.add_column(f"{row.name} ({row.kind})")
    for column in COLUMNS:
        table.add_row(column, *[_interval(row.summary(column), column) for row in rows])
    first, *others = rows
    for column in PAIRED if others else ():
        table.add_row(f"{column} − {first.name}'s,\nsame seeds",
                      "—", *[_difference(row.against(first, column), column) for row in others])
    efficiencies = [summarize(row.efficiency) for row in rows]
    table.add_row("T95 / oracle T95", *["—" if e.mean is None else f"{e.mean:.2f}×" + (
        f" ({e.missing} never)" if e.missing else "") for e in efficiencies])
    metrics = sorted({metric for row in rows for metric in row.passes})
    for metric in metrics:
        table.add_row(f"expect {metric}", *[f"held {row.passes.get(metric, 0)}/{seeds}" for row in rows])
    return table


SWEEP_MEASURES = ("t95", "coverage", "cost", "failed", "rolled_back", "bricked", "exposure_device_hours",
                  "service_lost_device_hours", "evidence_at_release", "halted")


def _distribution(metric: str, summary: dict) -> str:
    if not summary.get("n"):
        return "never"
    if METRICS[metric][0] == "flag":     # a yes-or-no per run: how many runs said yes
        return f"{round(summary['mean'] * summary['n'])} of {counted(summary['n'], 'run')}"

    def shown(value: float | None) -> str:
        return format_metric(metric, value)

    text = shown(summary["mean"])
    if summary.get("ci_low") is not None:
        text += f" [{shown(summary['ci_low'])}, {shown(summary['ci_high'])}]"
    text += f"\np5 {shown(summary['p5'])} · p50 {shown(summary['p50'])} · p95 {shown(summary['p95'])}"
    if summary.get("missing"):
        text += f"\n{summary['missing']} never"
    return text


WIDE_POINTS = 3        # more points than this: one row each, means only (twelve columns of distributions wrapped
#                        every label to "strategy.ba…", so no column could be told from another)
ROW_MEASURES = ("t95", "coverage", "cost", "failed", "bricked", "evidence_at_release", "halted")


def sweep_table(sweep: dict) -> Table:
    """Grid points across, measures down: mean [95% CI] and p5 · p50 · p95, then the risk of breaking each bound.
    A grid of more than WIDE_POINTS points: `sweep_rows`."""
    if len(sweep["points"]) > WIDE_POINTS:
        return sweep_rows(sweep)
    seeds = sweep["seeds"]["count"]
    table = Table(title=f"{sweep['scenario']}: {counted(sweep['runs'], 'run')} ({counted(seeds, 'seed')} per "
                        "point), mean [95% CI]",
                  header_style="bold", show_lines=True)
    table.add_column("measure")
    points = sweep["points"]
    for point in points:
        failed = f", {point['failed']} failed" if point["failed"] else ""
        table.add_column(f"{point['label']}\n({counted(point['runs'], 'run')}{failed})")
    for metric in SWEEP_MEASURES:
        table.add_row(metric, *[_distribution(metric, point["metrics"].get(metric, {})) for point in points])
    for metric in sorted({metric for point in points for metric in point["bounds"]}):
        cells = []
        for point in points:
            risk = point["bounds"].get(metric)
            cells.append("—" if risk is None else
                         f"{risk['probability']:.1%} [{risk['ci_low']:.1%}, {risk['ci_high']:.1%}]\n"
                         f"{risk['broken']} of {risk['runs']} broke {risk['bound']}")
        table.add_row(f"P(breaks {metric})", *cells)
    return table


def sweep_rows(sweep: dict) -> Table:
    """One row per grid point: its settings, the mean of each main measure, the share of runs that broke each bound,
    and the pick's marks (sim/sweep_pick.py). The distributions are in sweep.json and --json."""
    pick = sweep.get("pick") or {}
    measures = list(ROW_MEASURES) + ([pick["measure"]] if pick.get("measure") not in (None, *ROW_MEASURES) else [])
    bounds = sorted({metric for point in sweep["points"] for metric in point["bounds"]})
    seeds = counted(sweep["seeds"]["count"], "seed")
    table = Table(title=f"{sweep['scenario']}: {counted(sweep['runs'], 'run')} ({seeds} per point), the mean of each "
                        "measure (distributions: sweep.json, --json)", header_style="bold")
    axes = [axis["path"] for axis in sweep["grid"]]
    for path in axes:
        table.add_column(path)
    for metric in measures:
        table.add_column(metric, justify="right")
    for metric in bounds:
        table.add_column(f"P(breaks {metric})", justify="right")
    table.add_column("")
    best = (pick.get("best") or {}).get("label")
    clean = (pick.get("best_without_lint") or {}).get("label")
    for point in sweep["points"]:
        marks = ["pick" if point["label"] == best else "", "lint" if point["label"] in pick.get("lint", {}) else "",
                 "best without lint" if point["label"] == clean else "",
                 f"{point['failed']} failed" if point["failed"] else ""]
        risks = [f"{point['bounds'][metric]['probability']:.1%}" if metric in point["bounds"] else "—"
                 for metric in bounds]
        table.add_row(*[point["settings"].get(path, "") for path in axes],
                      *[_mean(metric, point["metrics"].get(metric, {})) for metric in measures],
                      *risks, " · ".join(mark for mark in marks if mark))
    return table


def _mean(metric: str, summary: dict) -> str:
    if not summary.get("n"):
        return "never"
    if METRICS[metric][0] == "flag":
        return f"{round(summary['mean'] * summary['n'])} of {summary['n']}"
    text = format_metric(metric, summary["mean"])
    return text + (f" ({summary['missing']} never)" if summary.get("missing") else "")
