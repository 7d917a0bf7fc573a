"""trtexec logs, TensorRT 5 to 10: the result marker, the version, and the latency statistics in milliseconds.

Keyed off the `&&&& RUNNING|PASSED|FAILED` markers and the summary lines, never off log noise: `[W]` lines and
"Skipping tactic" are not failures. When the run wrote `--exportTimes` JSON, `latency_from_export_times` gives
statistics from every iteration, which beats any summary.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

from hil.parsers.errors import ParseError
from sim.model.aggregate import exact_quantile

_MARKER = re.compile(r"^&&&& (RUNNING|PASSED|FAILED) TensorRT\.trtexec(?: \[TensorRT v(\d+)\])?(?: \[b\d+\])? # ?(.*)$")
_PREFIX = re.compile(r"^\[[\d/]+-[\d:]+\] \[([IWEVF])\] ?")
_SUMMARY_LINE = re.compile(r"^(Latency|End-to-End Host Latency|Enqueue Time|H2D Latency|GPU Compute Time|D2H Latency):"
                           r" (.*)$")
_STAT = re.compile(r"(min|max|mean|median|percentile\((\d+(?:\.\d+)?)%\)) = ([\d.eE+-]+) ?m?s?")
_TRT56 = re.compile(r"Average over (\d+) runs is ([\d.]+) ms \(host walltime is ([\d.]+) ms, "
                    r"(\d+(?:\.\d+)?)% percentile time is ([\d.]+)")
_TRT7_BLOCKS = {"Host Latency": "Latency", "Enqueue Time": "Enqueue Time", "GPU Compute": "GPU Compute Time"}
_TRT7_STAT = re.compile(r"^(min|max|mean|median): ([\d.eE+-]+) ms(?: \(end to end ([\d.eE+-]+) ms\))?")
_TRT7_PERCENTILE = re.compile(r"^percentile: ([\d.eE+-]+) ms at (\d+(?:\.\d+)?)%(?: \(end to end ([\d.eE+-]+) ms)?")
_THROUGHPUT = re.compile(r"^[Tt]hroughput: ([\d.eE+-]+) qps")
_UNSTABLE = re.compile(r"coefficient of variance = ([\d.]+)%")


@dataclass(frozen=True)
class LatencyStats:
    """Milliseconds. `percentiles` maps a percentile (99.0) to its value; whichever the log printed."""
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    median: float | None = None
    percentiles: dict[float, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TrtexecReport:
    result: str | None                      # RUNNING (no end marker: killed or cut), PASSED or FAILED; None: no marker
    version: str | None                     # "8.6.1", "10.13.3"; None up to TensorRT 7
    command: str | None
    metrics: dict[str, LatencyStats]        # "Latency", "GPU Compute Time", "End-to-End Host Latency", ...
    throughput_qps: float | None = None
    errors: tuple[str, ...] = ()            # [E] lines, for the report
    unstable_cv_percent: float | None = None

    @property
    def passed(self) -> bool:
        return self.result == "PASSED"

    @property
    def latency(self) -> LatencyStats | None:
        return self.metrics.get("Latency")


def _number(text: str, line: str) -> float:
    """A number the patterns matched: their character classes also admit garbled ones ("1.2.3", "-", "1e") that a
    cut or interleaved log prints, and those are the log's fault, named with its line."""
    try:
        number = float(text)
    except ValueError:
        raise ParseError("trtexec", line, f"unreadable number {text!r}") from None
    if not math.isfinite(number):
        raise ParseError("trtexec", line, f"not a finite number: {text!r}")
    return number


def version_from_tag(tag: str) -> str:
    """`8601` -> 8.6.1 (major*1000 + minor*100 + patch up to TensorRT 8) and `101303` -> 10.13.3 (major*10000 +
    minor*100 + patch from TensorRT 9)."""
    if len(tag) == 4:
        major, minor, patch = tag[0], tag[1], tag[2:]
    elif len(tag) >= 5:
        major, minor, patch = tag[:-4], tag[-4:-2], tag[-2:]
    else:
        raise ParseError("trtexec", tag, "version tag too short")
    return f"{int(major)}.{int(minor)}.{int(patch)}"


def _stats_line(text: str, line: str) -> LatencyStats:
    values: dict[str, float] = {}
    percentiles: dict[float, float] = {}
    for match in _STAT.finditer(text):
        number = _number(match.group(3), line)
        if match.group(2):
            percentiles[float(match.group(2))] = number
        else:
            values[match.group(1)] = number
    if not values and not percentiles:
        raise ParseError("trtexec", line, "a summary line without statistics")
    return LatencyStats(values.get("min"), values.get("max"), values.get("mean"), values.get("median"), percentiles)


class _Trt7Block:
    """TensorRT 7 prints blocks: a title line, then `min: X ms (end to end Y ms)` ... `percentile: X ms at 99%`."""

    def __init__(self) -> None:
        self.current: str | None = None
        self.values: dict[str, dict[str, float]] = {}
        self.percentiles: dict[str, dict[float, float]] = {}

    def feed(self, body: str, line: str) -> bool:
        if body in _TRT7_BLOCKS:
            self.current = _TRT7_BLOCKS[body]
            return True
        if self.current is None:
            return False
        stat = _TRT7_STAT.match(body)
        if stat:
            self._put(self.current, stat.group(1), _number(stat.group(2), line))
            if stat.group(3):
                self._put("End-to-End Host Latency", stat.group(1), _number(stat.group(3), line))
            return True
        percentile = _TRT7_PERCENTILE.match(body)
        if percentile:
            at = float(percentile.group(2))
            self.percentiles.setdefault(self.current, {})[at] = _number(percentile.group(1), line)
            if percentile.group(3):
                self.percentiles.setdefault("End-to-End Host Latency", {})[at] = _number(percentile.group(3), line)
            return True
        return False

    def _put(self, metric: str, name: str, value: float) -> None:
        self.values.setdefault(metric, {})[name] = value

    def metrics(self) -> dict[str, LatencyStats]:
        names = set(self.values) | set(self.percentiles)
        return {name: LatencyStats(self.values.get(name, {}).get("min"), self.values.get(name, {}).get("max"),
                                   self.values.get(name, {}).get("mean"), self.values.get(name, {}).get("median"),
                                   self.percentiles.get(name, {})) for name in names}


def parse_trtexec(text: str) -> TrtexecReport:
    """A whole trtexec log -> TrtexecReport. Raises ParseError when the text is not trtexec output at all."""
    result = version = command = None
    metrics: dict[str, LatencyStats] = {}
    throughput = unstable = None
    errors: list[str] = []
    trt7 = _Trt7Block()
    recognised = False
    for raw in text.splitlines():
        line = raw.strip()
        marker = _MARKER.match(line)
        if marker:
            recognised = True
            if result != "FAILED":      # a FAILED marker wins over any later line
                result = marker.group(1)
            version = version_from_tag(marker.group(2)) if marker.group(2) else version
            command = marker.group(3) or command
            continue
        prefix = _PREFIX.match(line)
        if not prefix:
            continue
        recognised = True
        level, body = prefix.group(1), line[prefix.end():]
        if level == "E":
            errors.append(body)
        summary = _SUMMARY_LINE.match(body)
        if summary:
            metrics[summary.group(1)] = _stats_line(summary.group(2), line)
        elif (match := _THROUGHPUT.match(body)):
            throughput = _number(match.group(1), line)
        elif (match := _TRT56.search(body)):
            metrics["Latency"] = LatencyStats(mean=_number(match.group(2), line),
                                              percentiles={float(match.group(4)): _number(match.group(5), line)})
            metrics["Host Walltime"] = LatencyStats(mean=_number(match.group(3), line))
        elif (match := _UNSTABLE.search(body)) and level == "W":
            unstable = _number(match.group(1), line)
        elif (match := re.match(r"TensorRT version: ([\d.]+)", body)):
            version = version or match.group(1)
        else:
            trt7.feed(body, line)
    if not recognised:
        first = next((line for line in text.splitlines() if line.strip()), "")
        raise ParseError("trtexec", first, "no &&&& marker and no [I]/[W]/[E] log line")
    for name, stats in trt7.metrics().items():
        metrics.setdefault(name, stats)
    return TrtexecReport(result, version, command, metrics, throughput, tuple(errors), unstable)


def export_latencies(text: str, warmup: int = 0) -> list[float]:
    """The per-iteration `latencyMs` of a `--exportTimes` JSON file, in run order, the first `warmup` dropped."""
    try:
        latencies = [float(entry["latencyMs"]) for entry in json.loads(text)[warmup:]]
    except (ValueError, TypeError, KeyError, RecursionError) as error:
        raise ParseError("trtexec --exportTimes", text[:80], f"not a list of timings with latencyMs ({error})") \
            from None
    if not latencies:
        raise ParseError("trtexec --exportTimes", text[:80], "no iterations after the warm-up")
    if not all(map(math.isfinite, latencies)):     # JSON's NaN and 1e999 read as numbers
        raise ParseError("trtexec --exportTimes", text[:80], "a latencyMs that is not a finite number")
    return latencies


def latency_stats(latencies: list[float]) -> LatencyStats:
    """min, max, mean, median and p90/p95/p99 of a non-empty list of milliseconds."""
    ordered = sorted(latencies)
    return LatencyStats(ordered[0], ordered[-1], math.fsum(ordered) / len(ordered), exact_quantile(ordered, 0.5),
                        {q: exact_quantile(ordered, q / 100) for q in (90.0, 95.0, 99.0)})


def latency_from_export_times(text: str, warmup: int = 0) -> LatencyStats:
    """Statistics over the per-iteration `latencyMs` of a `--exportTimes` JSON file, the first `warmup` dropped."""
    return latency_stats(export_latencies(text, warmup))
