"""A virtual rig's memory is its container's, as a board's is its own: what its tegrastats reports as RAM in use and
what the oom_at_load fault counts as free (rigs/virtual/tools/tegrastats.py, boardmemory.py). Both readings stay
under a Nano's 1 GiB limit whether they read the container or the host on a quiet machine, so the test moves each
side apart: a GiB held by this process must not show on the rig, 256 MiB held on the rig must."""

from __future__ import annotations

import time

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("virtual-rigs")]
MIB = 1 << 20
PYTHON = "/opt/rig/venv/bin/python"
READ = ("import sys; sys.path.insert(0, '/opt/rig/tools'); import boardmemory, tegrastats; "
        "print(tegrastats.ram_used_mb(1 << 30), boardmemory.free_memory() // (1 << 20))")
HOLD = "b = bytearray(256 << 20); b[::4096] = bytes(len(b) // 4096); import time; time.sleep(120)"


def _held(size: int) -> bytearray:
    block = bytearray(size)
    block[::4096] = b"\1" * (size // 4096)          # written: resident, not zero pages
    return block


def test_a_nano_rig_counts_its_containers_memory_not_the_hosts(lab, virtual_rigs):
    [entry] = virtual_rigs(1, profile="nano")
    container = lab.client.containers.get(entry["container"])

    def reading() -> tuple[int, int]:
        code, output = container.exec_run([PYTHON, "-c", READ])
        assert code == 0, output.decode()
        used, free = output.split()
        return int(used), int(free)

    used, free = reading()
    assert 0 < used < 1024 and 0 < free < 1024            # MiB, within the profile's 1 GiB
    here = _held(1 << 30)
    used_with_the_host_busy, _ = reading()
    del here
    container.exec_run(["sh", "-c", f"{PYTHON} -c '{HOLD}' > /dev/null 2>&1 &"])
    deadline, used_with_the_rig_busy = time.monotonic() + 60, used
    while used_with_the_rig_busy - used < 200 and time.monotonic() < deadline:
        time.sleep(0.5)
        used_with_the_rig_busy, free_with_the_rig_busy = reading()
    assert abs(used_with_the_host_busy - used) < 256, (used, used_with_the_host_busy)
    assert used_with_the_rig_busy - used >= 200 and free - free_with_the_rig_busy >= 200, \
        (used, used_with_the_rig_busy, free, free_with_the_rig_busy)
