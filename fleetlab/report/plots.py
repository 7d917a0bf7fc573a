"""Plots as inline SVG strings (matplotlib, Agg backend): no files, no external requests, text kept as text."""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from fleetlab.safe_text import bounded, visible  # noqa: E402

plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
                     "svg.hashsalt": "fleetlab"})   # a fixed salt: the same data gives the same SVG ids
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"]


def label(text: object) -> str:
    """A name from a file or a rig as a plot label: controls visible, short, and no `$` (matplotlib would read it as
    mathtext)."""
    return bounded(visible(str(text)), 60).replace("$", "\\$")


def _labelled(values: dict) -> dict:
    return {label(name): value for name, value in values.items()}


def _svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return re.sub(r"^<\?xml[^>]*>\s*(<!DOCTYPE[^>]*>\s*)?", "", text)   # inline: no XML prologue


def thin(step: float, values: list[float], most: int = 500) -> tuple[float, list[float]]:
    """At most `most` points: each kept point is the largest of the ones it stands for (peaks survive)."""
    if len(values) <= most:
        return step, values
    stride = -(-len(values) // most)
    return step * stride, [max(values[i:i + stride]) for i in range(0, len(values), stride)]


STYLES = ["-", "--", "-.", ":"]


def active_until(curves: dict[str, tuple[float, list[float]]]) -> float:
    """Seconds until the last curve stops changing (within 0.5 points): where the activity ends."""
    latest = 0.0
    for step, values in curves.values():
        if values:
            final = values[-1]
            moving = [i for i, value in enumerate(values) if abs(value - final) > 0.005]
            latest = max(latest, ((moving[-1] + 1) if moving else 0) * step)
    return latest


def coverage_curves(curves: dict[str, tuple[float, list[float]]], oracle_t95: float | None,
                    t95_bound: float | None = None, which: str = "seed one of each plan") -> str:
    """Share of the fleet on the candidate over time, one line per plan (each its own dash and width, so none hides
    another), the 95% line, the oracle's T95 and the T95 bound; the x-axis ends a little after the activity."""
    figure, axes = plt.subplots(figsize=(7, 3))
    for index, (name, (step, values)) in enumerate(_labelled(curves).items()):
        step, values = thin(step, values)
        hours = [i * step / 3600 for i in range(len(values))]
        axes.plot(hours, [v * 100 for v in values], label=name, color=COLORS[index % len(COLORS)],
                  linestyle=STYLES[index % len(STYLES)], linewidth=max(1.0, 2.6 - 0.5 * index))
    marks = [active_until(curves)]
    if oracle_t95 is not None:
        axes.axvline(oracle_t95 / 3600, linestyle="--", color="grey", label="oracle T95")
        marks.append(oracle_t95)
    if t95_bound is not None:
        axes.axvline(t95_bound / 3600, linestyle="-", color="#cf222e", linewidth=1, label="T95 bound")
        marks.append(t95_bound)
    axes.axhline(95, linestyle=":", color="#999999", label="95% of the fleet")
    end = max(marks) * 1.15
    if end > 0:
        axes.set_xlim(0, end / 3600)
    axes.set_ylim(0, 102)
    axes.set_xlabel(f"hours since the start ({label(which)})")
    axes.set_ylabel("% of fleet on candidate")
    axes.legend(loc="lower right", frameon=False, fontsize=8)
    return _svg(figure)


def backtest_curves(step: float, past: list[float], median: list[float], low: list[float], high: list[float],
                    seeds: int) -> str:
    """A past rollout's coverage beside the simulated seeds' median and their p5-p95 band (fleetlab backtest)."""
    figure, axes = plt.subplots(figsize=(7, 3))
    hours = [index * step / 3600 for index in range(len(past))]
    axes.fill_between(hours, [v * 100 for v in low], [v * 100 for v in high], color=COLORS[0], alpha=0.2,
                      linewidth=0, label=f"simulated p5–p95 ({seeds} seeds)")
    axes.plot(hours, [v * 100 for v in median], color=COLORS[0], linewidth=1.6, label="simulated median")
    axes.plot(hours, [v * 100 for v in past], color="black", linewidth=1.6, linestyle="--", label="past rollout")
    axes.set_ylim(0, 102)
    axes.set_xlim(0, hours[-1] if hours and hours[-1] > 0 else 1)
    axes.set_xlabel("hours since the start")
    axes.set_ylabel("% of fleet on candidate")
    axes.legend(loc="lower right", frameon=False, fontsize=8)
    return _svg(figure)


def egress(step: float, values: list[float]) -> str:
    figure, axes = plt.subplots(figsize=(7, 2.4))
    step, values = thin(step, values)
    # value i is the mean over bin [i·step, (i+1)·step): drawn "post", the last bin needs its right edge too
    edges = [i * step / 3600 for i in range(len(values) + 1)]
    axes.fill_between(edges, [v * 8 / 1e9 for v in values + values[-1:]], step="post", color=COLORS[0], alpha=0.6)
    busy = [index for index, value in enumerate(values) if value > 0]
    if busy:      # as the coverage plot: the x-axis ends a little after the last byte, not at the run's end
        axes.set_xlim(0, edges[busy[-1] + 1] * 1.15)
    axes.set_xlabel("hours since the start")
    axes.set_ylabel("origin egress, Gbit/s")
    return _svg(figure)


def distribution(values_by_label: dict[str, list[float]], label: str, limit: float | None = None) -> str:
    """One strip of points per label (seeds, or rigs), with the median marked; `limit` a red line (a rig's
    temperature limit), so the headroom shows rather than an axis fitted to the points alone."""
    values_by_label = _labelled(values_by_label)
    figure, axes = plt.subplots(figsize=(7, 0.5 + 0.45 * max(1, len(values_by_label))))
    for row, values in enumerate(values_by_label.values()):
        axes.scatter(values, [row] * len(values), color=COLORS[row % len(COLORS)], alpha=0.7, s=18)
        if values:
            middle = sorted(values)[len(values) // 2]
            axes.plot([middle, middle], [row - 0.3, row + 0.3], color="black")
    if limit is not None:
        axes.axvline(limit, color="#cf222e", linewidth=1, label=f"limit {limit:g} {label}")
        # above the plot, right: inside it, "best" put it between the rigs' rows when the points sat left
        axes.legend(loc="lower right", bbox_to_anchor=(1, 1), fontsize="small", frameon=False, borderaxespad=0.1)
    axes.set_yticks(range(len(values_by_label)), list(values_by_label))
    axes.set_xlabel(label)
    return _svg(figure)


def histogram(edges: list[float], counts: list[int], label: str) -> str:
    figure, axes = plt.subplots(figsize=(3.4, 1.8))
    if counts:
        widths = [b - a for a, b in zip(edges, edges[1:])]
        axes.bar(edges[:-1], counts, width=widths, align="edge", color=COLORS[0])
    axes.set_xlabel(label)
    axes.set_ylabel("inferences")
    return _svg(figure)


SCALES = {"t95": (1 / 3600, "hours"), "cost": (1.0, "$"), "latency_p50": (1000.0, "ms"),
          "latency_p99": (1000.0, "ms"), "max_temperature": (1.0, "°C"), "t95_never": (1.0, "seeds without a T95")}


def run_date(run_id: str) -> str:
    """'20261203-153804-d3e650' -> '12-03 15:38' (a run id starts with its UTC start time); else the id."""
    stamp = run_id[:15]
    if len(stamp) == 15 and stamp[8] == "-" and stamp.replace("-", "").isdigit():
        return f"{stamp[4:6]}-{stamp[6:8]} {stamp[9:11]}:{stamp[11:13]}"
    return run_id[:16]


def trend(series: dict[str, list[tuple[str, float]]], label: str) -> str:
    """A metric across runs (oldest first), one line per subject (a plan, a rig), in the metric's own unit, the
    x-axis labelled with each run's date and time (UTC)."""
    scale, unit = SCALES.get(label, (1.0, ""))
    figure, axes = plt.subplots(figsize=(7, 2.6))
    runs = sorted({run for points in series.values() for run, _ in points})
    position = {run: index for index, run in enumerate(runs)}
    for index, (name, points) in enumerate(_labelled(series).items()):
        axes.plot([position[run] for run, _ in points], [value * scale for _, value in points], marker="o",
                  label=name, color=COLORS[index % len(COLORS)], linestyle=STYLES[index % len(STYLES)])
    shown = runs if len(runs) <= 8 else runs[:: -(-len(runs) // 8)]
    axes.set_xticks([position[run] for run in shown], [run_date(run) for run in shown], rotation=20, fontsize=7)
    axes.set_xlabel("run (UTC start, oldest first)")
    axes.set_ylabel(f"{label} ({unit})" if unit else label)
    if series:
        axes.legend(frameon=False, fontsize=8)
    return _svg(figure)
