#!/usr/bin/env python3
"""A tegrastats-compatible command for virtual rigs (a rig tool; imports nothing from fleetlab).

Prints JetPack 6 lines (`MM-DD-YYYY HH:MM:SS RAM …/…MB (lfb …) SWAP … CPU [x%@MHz,…] EMC_FREQ … GR3D_FREQ x%@[f]
cpu@T C … tj@T C VDD_IN PmW/PmW VDD_CPU_GPU_CV …mW/…mW VDD_SOC …mW/…mW`) every --interval ms. CPU load is real
(/proc/stat); temperature follows a first-order thermal model driven by that load, and its state is kept in
$FLEETLAB_RIG_HOME/thermal.json so consecutive runs continue where the last one left off. The rig's profile
(ambient, thermal resistance and time constant, idle and full power, RAM) comes from $FLEETLAB_RIG_HOME/profile.json.

    tegrastats [--interval MS] [--logfile FILE] [--start | --stop]
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import time

HOME = os.environ.get("FLEETLAB_RIG_HOME", "/var/lib/fleetlab-rig")
DEFAULT_PROFILE = {"ambient_c": 25.0, "resistance_c_per_w": 3.0, "time_constant_s": 60.0, "idle_power_mw": 4000,
                   "full_power_mw": 15000, "ram_total_mb": 7620, "cpu_mhz": 1984, "gpu_mhz": 918}


def profile() -> dict:
    try:
        with open(os.path.join(HOME, "profile.json")) as source:
            return {**DEFAULT_PROFILE, **json.load(source)}
    except (OSError, ValueError):
        return dict(DEFAULT_PROFILE)


def cpu_times() -> list[tuple[int, int]]:
    """(busy, total) jiffies per core from /proc/stat."""
    cores = []
    with open("/proc/stat") as source:
        for line in source:
            if line.startswith("cpu") and line[3].isdigit():
                values = [int(v) for v in line.split()[1:]]
                idle = values[3] + (values[4] if len(values) > 4 else 0)
                cores.append((sum(values) - idle, sum(values)))
    return cores


# the container's own memory (cgroup v2, then v1): what the rig's processes hold, as a board's RAM used is theirs
CGROUP_MEMORY = ("/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory/memory.usage_in_bytes")


def ram_used_mb(total: int) -> int:
    for path in CGROUP_MEMORY:
        try:
            with open(path) as source:
                return min(total, int(source.read()) // 2**20)
        except (OSError, ValueError):
            continue
    try:       # no cgroup to read (the rig tools run on a host): the machine's own use
        with open("/proc/meminfo") as source:
            info = {line.split(":")[0]: int(line.split()[1]) for line in source}
        return min(total, (info["MemTotal"] - info["MemAvailable"]) // 1024)
    except (OSError, KeyError, ValueError):
        return total // 3


class Thermal:
    """dT/dt = (ambient + R·P − T) / τ, stepped exactly for each interval at constant power."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.path = os.path.join(HOME, "thermal.json")
        try:
            with open(self.path) as source:
                state = json.load(source)
            elapsed = max(0.0, time.time() - state["time"])
            self.temperature = state["temperature"]
            # while nobody looked, the rig ran at whatever load /proc/stat says it had: heat (or cool) accordingly
            busy, total = sum(b for b, _ in cpu_times()), sum(t for _, t in cpu_times())
            load = (busy - state["busy"]) / (total - state["total"]) if total > state["total"] else 0.0
            self.step(spec["idle_power_mw"] + (spec["full_power_mw"] - spec["idle_power_mw"]) * load, elapsed)
        except (OSError, ValueError, KeyError):
            self.temperature = spec["ambient_c"] + spec["resistance_c_per_w"] * spec["idle_power_mw"] / 1000

    def step(self, power_mw: float, seconds: float) -> None:
        target = self.spec["ambient_c"] + self.spec["resistance_c_per_w"] * power_mw / 1000
        decay = math.exp(-seconds / self.spec["time_constant_s"])
        self.temperature = target + (self.temperature - target) * decay

    def save(self) -> None:
        os.makedirs(HOME, exist_ok=True)
        partial = self.path + f".{os.getpid()}"
        busy, total = sum(b for b, _ in cpu_times()), sum(t for _, t in cpu_times())
        with open(partial, "w") as sink:
            json.dump({"time": time.time(), "temperature": self.temperature, "busy": busy, "total": total}, sink)
        os.replace(partial, self.path)


def line(spec: dict, loads: list[float], power_mw: float, temperature: float) -> str:
    stamp = time.strftime("%m-%d-%Y %H:%M:%S")
    total = spec["ram_total_mb"]
    cpus = ",".join(f"{round(load)}%@{spec['cpu_mhz']}" for load in loads)
    mean = sum(loads) / max(len(loads), 1)
    gpu = round(mean)
    cpu_rail = round((power_mw - spec["idle_power_mw"]) * 0.7 + 400)
    soc_rail = round(power_mw * 0.2)
    temps = " ".join(f"{name}@{temperature + offset:.3f}C" for name, offset in
                     (("cpu", 0.0), ("soc2", -1.2), ("soc0", -1.8), ("gpu", -0.6), ("tj", 0.4), ("soc1", -1.0)))
    return (f"{stamp} RAM {ram_used_mb(total)}/{total}MB (lfb 12x4MB) SWAP 0/{total // 2}MB (cached 0MB) "
            f"CPU [{cpus}] EMC_FREQ {min(99, gpu // 2)}%@2133 GR3D_FREQ {gpu}%@[{spec['gpu_mhz']}] "
            f"NVDEC off NVJPG off VIC off OFA off APE 200 {temps} "
            f"VDD_IN {round(power_mw)}mW/{round(power_mw)}mW VDD_CPU_GPU_CV {cpu_rail}mW/{cpu_rail}mW "
            f"VDD_SOC {soc_rail}mW/{soc_rail}mW")


def run(interval_ms: int, logfile: str | None) -> None:
    spec = profile()
    thermal = Thermal(spec)
    sink = open(logfile, "a", buffering=1) if logfile else sys.stdout
    previous, last = cpu_times(), time.monotonic()
    while True:
        time.sleep(interval_ms / 1000)
        now, current = time.monotonic(), cpu_times()
        loads = [100.0 * (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
                 for (b0, t0), (b1, t1) in zip(previous, current)]
        mean = sum(loads) / max(len(loads), 1) / 100
        power = spec["idle_power_mw"] + (spec["full_power_mw"] - spec["idle_power_mw"]) * mean
        thermal.step(power, now - last)
        thermal.save()
        try:
            sink.write(line(spec, loads, power, thermal.temperature) + "\n")
            sink.flush()
        except BrokenPipeError:      # `tegrastats | head -n 1`: the reader has gone, as with the real tool
            os._exit(0)
        previous, last = current, now


def pid_file() -> str:
    return os.path.join(HOME, "tegrastats.pid")


def start(interval_ms: int, logfile: str | None) -> None:
    from rigdaemon import daemonize  # beside this script

    os.makedirs(HOME, exist_ok=True)
    daemonize(pid_file(), lambda: run(interval_ms, logfile or os.path.join(HOME, "tegrastats.log")))


def stop() -> None:
    try:
        with open(pid_file()) as source:
            pid = int(source.read().strip())
        os.kill(pid, signal.SIGTERM)
        os.remove(pid_file())
    except (OSError, ValueError):
        pass     # not running: like the real tool, stopping is idempotent


def main(argv: list[str]) -> int:
    interval, logfile, mode = 1000, None, "run"
    for arg in argv:
        key, _, value = arg.partition("=")
        if key == "--interval":
            interval = int(value or 1000)
        elif key == "--logfile":
            logfile = value
        elif key in ("--start", "--stop"):
            mode = key[2:]
    if mode == "start":
        start(interval, logfile)
    elif mode == "stop":
        stop()
    else:
        try:
            run(interval, logfile)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
