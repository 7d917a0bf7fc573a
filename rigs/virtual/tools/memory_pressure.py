#!/usr/bin/env python3
"""The `memory_pressure` fault of a virtual rig (a rig tool; imports nothing from fleetlab): the board runs out of
memory as a hand-over's new service starts, as a 4 GB Nano does when the old model and the new one do not both fit.

    memory-pressure --store STORE [--wait SECONDS]

Returns once it holds the rig's memory but for ROOM (room for the SSH session, the hand-over command and tegrastats,
not for a second camera service); a child process keeps holding it. Once the newcomer has started (its pid file,
STORE/service/pid.next) and taken the highest oom_score_adj (camera_service.py), the child takes the rest, a few MiB
at a time, until the kernel's OOM killer has killed a process of the rig (the newcomer, first in the kernel's
order), then frees it all and exits: the kill is the fault's end, as the newcomer's death frees a real board. With
no kill after --wait seconds it frees it all the same, so a fault never outlives its test.

The memory counted is the container's (cgroup v2, then v1): its limit less the anonymous memory of its processes and
the file pages they map (the libraries the running service uses), since the kernel reclaims the rest of the page
cache before it kills.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from camera_service import oom_kills, paths  # beside this script

MIB = 1 << 20
ROOM = 96 * MIB             # left free until the newcomer appears: a camera service needs more (~30 MiB anonymous
PIECE = 4 * MIB             # memory and its own pages), the hand-over command and an SSH session less
PAGE = 4096
LIMITS = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.stat", ("anon", "file_mapped")),
          ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.stat",
           ("total_rss", "total_mapped_file")))


def free_to_take() -> int:
    """The container's memory limit less what its processes hold and cannot give back without a kill."""
    for limit_file, stat_file, held_names in LIMITS:
        try:
            with open(limit_file) as source:
                limit = int(source.read().strip())          # "max" (no limit) raises: nothing to press on
            with open(stat_file) as source:
                stat = dict(line.split() for line in source)
        except (OSError, ValueError):
            continue
        if limit >= os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"):
            break                                           # a cgroup without a limit: the host's memory is not ours
        return limit - sum(int(stat.get(name, 0)) for name in held_names)
    raise SystemExit("memory-pressure: this rig has no memory limit to press on (a container with --memory needed)")


def take(size: int) -> bytearray:
    """`size` bytes, every page written: resident, as a process's working memory is (calloc'd pages are not)."""
    block = bytearray(size)
    block[::PAGE] = b"\1" * len(range(0, size, PAGE))
    return block


def hold(store: str, first: int, wait: float, ready: int) -> None:
    """The child: take `first` bytes, say so on `ready`, then press when the newcomer starts."""
    held = [take(first)]
    os.write(ready, b"held\n")
    os.close(ready)
    newcomer = paths(store)["next_pid"]
    kills_before = oom_kills() or 0
    deadline = time.monotonic() + wait
    while not first_to_kill(newcomer):
        if time.monotonic() > deadline:
            return
        time.sleep(0.01)
    # the newcomer gone without a kill (it failed, or it was handed over) ends the pressure too
    while time.monotonic() < deadline and (oom_kills() or 0) == kills_before and os.path.exists(newcomer):
        held.append(take(PIECE))


def first_to_kill(pid_file: str) -> bool:
    """The newcomer has started and taken the highest oom_score_adj: pressing sooner could make the kernel kill
    this holder (the largest process) instead."""
    try:
        with open(pid_file) as source:
            pid = int(source.read())
        with open(f"/proc/{pid}/oom_score_adj") as source:
            return int(source.read()) == 1000
    except (OSError, ValueError):
        return False


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="memory-pressure")
    parser.add_argument("--store", required=True)
    parser.add_argument("--wait", type=float, default=120.0)
    options = parser.parse_args(argv)
    if oom_kills() is None:
        print("memory-pressure: this rig's out-of-memory kills cannot be counted (no cgroup memory counters)",
              file=sys.stderr)
        return 1
    first = max(0, free_to_take() - ROOM)       # here, so that a rig without a limit is told, not the holder
    read_end, write_end = os.pipe()
    if os.fork() == 0:                      # the holder: detached, so the fault's command returns
        os.close(read_end)
        os.setsid()
        quiet = os.open(os.devnull, os.O_RDWR)
        for stream in (0, 1, 2):            # a caller reading our output must not wait for the holder to end
            os.dup2(quiet, stream)
        try:
            hold(options.store, first, options.wait, write_end)
        finally:
            os._exit(0)
    os.close(write_end)
    answer = os.read(read_end, 64)
    if answer != b"held\n":
        print("memory-pressure: the holder did not take the memory (killed as it took it?)", file=sys.stderr)
        return 1
    print(f"holding the rig's memory but {ROOM // MIB} MiB until the newcomer's out-of-memory kill", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
