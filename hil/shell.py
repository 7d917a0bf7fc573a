"""The interface every way of reaching a rig offers (SSH in hil.ssh; LocalShell here for fast tests), and the one
place remote command lines are built: every argument is shell-quoted, so file names with spaces, quotes or `;`
are data, never syntax."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from hil.errors import CommandTimeout

Progress = Callable[[int], None]


@dataclass(frozen=True)
class CommandResult:
    command: str
    exit_status: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    def tail(self, lines: int = 5) -> str:
        """The last lines of stderr (else stdout): what a failure message should show."""
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return "\n".join(text[-lines:])


def command(prefix: str, *args: object) -> str:
    """A command line: `prefix` is a trusted command from the inventory (it may hold its own arguments); every
    argument after it is quoted."""
    quoted = shlex.join(str(arg) for arg in args)
    return f"{prefix} {quoted}".strip()


class Shell(Protocol):
    name: str

    def run(self, line: str, timeout: float, stdin: bytes | None = None) -> CommandResult: ...

    def put(self, local: Path, remote: str, offset: int = 0, rate: float | None = None,
            progress: Progress | None = None) -> int: ...

    def size(self, remote: str) -> int | None: ...

    def close(self) -> None: ...


def chunk_size(rate: float | None, largest: int = 1 << 15) -> int:
    """Bytes per write: about a tenth of a second's worth when the rate is capped, so pacing (and a cut) is smooth."""
    return largest if not rate else max(1024, min(largest, int(rate / 10)))


def copy_paced(source: BinaryIO, sink: BinaryIO, rate: float | None, progress: Progress | None,
               counted: list[int] | None = None) -> int:
    """Copy source to sink at most `rate` bytes/s, telling `progress` the bytes sent so far; `counted[0]` follows
    along, so a caller still knows how far a copy got when the sink fails."""
    counted = counted if counted is not None else [0]
    started = time.monotonic()
    while chunk := source.read(chunk_size(rate)):
        sink.write(chunk)
        counted[0] += len(chunk)
        if progress:
            progress(counted[0])
        pace(started, counted[0], rate)
    return counted[0]


def pace(started: float, sent: int, rate: float | None) -> None:
    """Sleep so that `sent` bytes since `started` do not exceed `rate` bytes/s."""
    if rate:
        ahead = sent / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)


class LocalShell:
    """Runs rig commands on this machine through bash: the same interface as an SSH session, for fast tests of
    the steps (the real sshd is exercised by tests/hil/ as well)."""

    name = "local"

    def run(self, line: str, timeout: float, stdin: bytes | None = None) -> CommandResult:
        started = time.monotonic()
        try:
            done = subprocess.run(["bash", "-c", line], input=stdin, capture_output=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise CommandTimeout(f"{line!r} ran past {timeout:.0f} s") from None
        return CommandResult(line, done.returncode, done.stdout.decode(errors="replace"),
                             done.stderr.decode(errors="replace"), time.monotonic() - started)

    def put(self, local: Path, remote: str, offset: int = 0, rate: float | None = None,
            progress: Progress | None = None) -> int:
        with local.open("rb") as source, open(remote, "ab") as sink:
            source.seek(offset)
            return copy_paced(source, sink, rate, progress)

    def size(self, remote: str) -> int | None:
        return os.path.getsize(remote) if os.path.exists(remote) else None

    def close(self) -> None:
        pass


__all__ = ["CommandResult", "LocalShell", "Shell", "command", "pace"]
