"""tegrastats alongside a measurement: started in the background on the rig, stopped after, read back, summarised."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from statistics import fmean

from hil.parsers import ParseError, TegraSample, parse_tegrastats_line
from hil.shell import Shell, command
from sim.model.hil_results import TelemetrySummary
from sim.model.units import format_size


@contextmanager
def tegrastats_alongside(shell: Shell, tegrastats: str, logfile: str, interval_ms: int = 100,
                         keep_in: list[TegraSample] | None = None) -> Iterator[list[TegraSample]]:
    """tegrastats logging on the rig while the block runs. The list it gives is filled once the block ends, however
    it ends (a run that failed or raised heated the board too), and the samples are added to `keep_in` as well (a
    run's telemetry of every step)."""
    shell.run(command("rm", "-f", logfile), timeout=30)
    shell.run(command(tegrastats, f"--interval={interval_ms}", f"--logfile={logfile}", "--start"), timeout=30)
    samples: list[TegraSample] = []
    try:
        yield samples
    finally:
        shell.run(command(tegrastats, "--stop"), timeout=30)
        samples.extend(_read_log(shell.run(command("cat", logfile), timeout=60).stdout))
        if keep_in is not None:
            keep_in.extend(samples)


def _read_log(text: str) -> list[TegraSample]:
    samples = []
    for line in text.splitlines():
        try:
            samples.append(parse_tegrastats_line(line))
        except ParseError:
            continue     # a line cut by --stop mid-write; the rest still count
    return samples


def one_sample(shell: Shell, tegrastats: str) -> TegraSample | None:
    """A single reading (idle temperature at preflight): the first line, then the reader goes away."""
    done = shell.run(f"{command(tegrastats, '--interval=200')} | head -n 1", timeout=30)
    try:
        return parse_tegrastats_line(done.stdout.strip().splitlines()[0]) if done.stdout.strip() else None
    except ParseError:
        return None


def summarize(samples: list[TegraSample]) -> TelemetrySummary:
    temperatures = [s.max_temperature for s in samples if s.max_temperature is not None]
    power = [s.board_power_mw for s in samples if s.board_power_mw is not None]
    cpu = [s.cpu_load for s in samples if s.cpu_load is not None]
    gpu = [s.gpu_load for s in samples if s.gpu_load is not None]
    used = [s.ram_used_bytes for s in samples]
    total = [s.ram_total_bytes for s in samples]
    return TelemetrySummary(samples=len(samples), max_temperature=max(temperatures, default=None),
                            mean_power_mw=fmean(power) if power else None, max_power_mw=max(power, default=None),
                            mean_cpu_load=fmean(cpu) if cpu else None, mean_gpu_load=fmean(gpu) if gpu else None,
                            max_memory=max(used, default=None), total_memory=max(total, default=None))


def telemetry_problems(telemetry: TelemetrySummary, max_temperature: float | None,
                       max_memory: float | None) -> list[str]:
    """What the board did while the candidate ran that the scenario's `hil:` limits refuse."""
    problems = []
    if max_temperature is not None and (telemetry.max_temperature or 0) > max_temperature:
        problems.append(f"reached {telemetry.max_temperature:.1f} °C, limit {max_temperature:.1f} °C")
    if max_memory is not None and (telemetry.max_memory or 0) > max_memory:
        problems.append(f"had {format_size(telemetry.max_memory or 0)} of RAM in use, limit {format_size(max_memory)}")
    return problems


def at_rest(idle: TegraSample | None) -> dict[str, float]:
    """Preflight's reading at rest, the camera service serving, as step numbers: the idle temperature and power (a
    pair, for the thermal fit), the RAM in use and the board's (what a calibration counts models' memory from)."""
    if idle is None:
        return {}
    numbers = {"idle_memory_bytes": idle.ram_used_bytes, "total_memory_bytes": idle.ram_total_bytes}
    if idle.max_temperature is not None:
        numbers["idle_temperature"] = idle.max_temperature
    if idle.board_power_mw is not None:
        numbers["idle_power_mw"] = idle.board_power_mw
    return numbers
