"""tegrastats alongside a measurement: the samples come back however the measured block ends."""

import time
from pathlib import Path

import pytest

from hil.parsers import parse_tegrastats_line
from hil.rig_telemetry import tegrastats_alongside
from hil.shell import LocalShell
from tests.hil.local_rigs import local_rig

SAMPLES = Path(__file__).parent / "samples"


def wait_for_lines(logfile: str, count: int) -> None:
    """Until the logger has written `count` lines of its own (20 s at most: a busy machine is slow to start it)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = Path(logfile).read_text() if Path(logfile).exists() else ""
        if text.count("RAM") >= count and "62801MB" not in text:
            return
        time.sleep(0.05)


def test_a_block_that_raises_still_gives_its_samples_and_keeps_them(tmp_path):
    rig = local_rig(tmp_path, "rig-a")
    shell, logfile, kept = LocalShell(), str(tmp_path / "tegrastats.log"), []
    with pytest.raises(RuntimeError, match="the measured run broke"):
        with tegrastats_alongside(shell, rig["tools"]["tegrastats"], logfile, 50, keep_in=kept) as samples:
            assert samples == [] and (tmp_path / "rig-a" / "home" / "tegrastats.pid").exists()
            wait_for_lines(logfile, 2)
            raise RuntimeError("the measured run broke")
    assert len(samples) >= 2 and all(sample.ram_total_bytes > 0 for sample in samples)
    assert kept == samples
    assert not (tmp_path / "rig-a" / "home" / "tegrastats.pid").exists()      # the logger was stopped


def test_the_samples_are_only_this_blocks(tmp_path):
    rig = local_rig(tmp_path, "rig-a")
    shell, logfile = LocalShell(), str(tmp_path / "tegrastats.log")
    earlier = next(line for line in (SAMPLES / "tegrastats_agx_orin64_jp6.txt").read_text().splitlines()
                   if line[:1].isdigit() and " RAM " in line)
    (tmp_path / "tegrastats.log").write_text(f"{earlier}\n" * 50)
    with tegrastats_alongside(shell, rig["tools"]["tegrastats"], logfile, 50) as samples:
        wait_for_lines(logfile, 1)
    assert parse_tegrastats_line(earlier).ram_total_bytes > 60 * 2**30       # a 64 GB AGX Orin's line
    assert samples and all(sample.ram_total_bytes < 60 * 2**30 for sample in samples)   # none of them kept
