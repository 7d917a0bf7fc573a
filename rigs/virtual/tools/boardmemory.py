"""Shared by the rig tools: the board's memory as the kernel counts it, which on a virtual rig is its container's
cgroup (cgroup v2, then v1; a real board's is kernel-wide, in /proc/vmstat, which the harness reads itself:
hil/memory_kills.py).

The `oom_at_load` fault (hil/virtual.py) leaves $FLEETLAB_RIG_HOME/oom-at-load: the next rig tool to load a model
(trtexec building or running an engine, the camera service starting) takes more memory than the board has, as a
model too big for it would, and the kernel's OOM killer (the real one, in the container's memory limit) ends it. A
hand-over's newcomer, started with the highest oom_score_adj, is the first it kills; otherwise the loader is the
largest process, and goes.
"""

from __future__ import annotations

import os

MIB = 1 << 20
PAGE = 4096
BEYOND = 256 * MIB           # past the board's free memory: more than the kernel can find by dropping cached files
# (limit, stat, what the processes hold that the kernel cannot drop: anonymous memory and the file pages mapped)
LIMITS = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.stat", ("anon", "file_mapped")),
          ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.stat",
           ("total_rss", "total_mapped_file")))
OOM_COUNTERS = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")
FAULT_FILE = os.path.join(os.environ.get("FLEETLAB_RIG_HOME", "/var/lib/fleetlab-rig"), "oom-at-load")


def oom_kills() -> int | None:
    """How often the kernel has killed a process of this board for memory; None where it cannot be read."""
    for path in OOM_COUNTERS:
        try:
            with open(path) as source:
                for line in source:
                    name, _, value = line.partition(" ")
                    if name == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


def killed_for_memory(kills_before: int | None) -> str:
    """Words for a service that died as it started, where the kernel's count says it was for memory; else ""."""
    kills = (oom_kills() or 0) - (kills_before or 0)
    return f"killed by the kernel for memory: {kills} out-of-memory kill(s) on the board as it started" if kills else ""


def free_memory() -> int:
    """The board's memory limit less what its processes hold. Raises MemoryError without a limit to read: on a
    host rather than a rig, the host's memory is not the fault's to take."""
    for limit_file, stat_file, held_names in LIMITS:
        try:
            with open(limit_file) as source:
                limit = int(source.read().strip())           # cgroup v2's "max" (no limit) does not parse
            with open(stat_file) as source:
                stat = dict(line.split() for line in source)
        except (OSError, ValueError):
            continue
        if limit < os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"):
            return limit - sum(int(stat.get(name, 0)) for name in held_names)
    raise MemoryError("the oom_at_load fault needs a board with a memory limit (a container's); none here")


def take_the_board_if_told() -> None:
    """Where the oom_at_load fault is set, spend it: take the board's free memory and BEYOND more, every page written
    (resident, as loaded weights are), so the kernel kills this process before it returns. If it does return (a
    limit lifted meanwhile), the memory goes."""
    try:
        os.remove(FAULT_FILE)
    except OSError:
        return                      # not set (or another loader took it first)
    block = bytearray(free_memory() + BEYOND)
    block[::PAGE] = b"\1" * len(range(0, len(block), PAGE))
