"""The interface every way of reaching a rig offers (SSH in hil.ssh; LocalShell here for fast tests), and the one
place remote command lines are built: every argument is shell-quoted, so file names with spaces, quotes or `;`
are data, never syntax.

Every command runs in a process group of its own, so a timeout kills all it started (`in_own_group`), and the
output kept of a command is capped: its head and its tail, with a note of how much was dropped between
(`CappedOutput`): a rig that prints without end costs a fixed amount of memory here."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from hil.errors import CommandTimeout

Progress = Callable[[int], None]
OUTPUT_HEAD = 4 << 20          # bytes of a stream kept from its start
OUTPUT_TAIL = 1 << 20          # and from its end


class CappedOutput:
    """The first `head` and the last `tail` bytes of a stream, and how many fell between them."""

    def __init__(self, head: int = OUTPUT_HEAD, tail: int = OUTPUT_TAIL) -> None:
        self.head_cap, self.tail_cap = head, tail
        self.head, self.tail = bytearray(), bytearray()
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if not data:
            return
        self.tail += data
        if len(self.tail) > self.tail_cap:
            cut = len(self.tail) - self.tail_cap
            self.dropped += cut
            del self.tail[:cut]

    def text(self) -> str:
        if not self.dropped:
            return (self.head + self.tail).decode(errors="replace")
        return (self.head.decode(errors="replace") + f"\n[... {self.dropped:,} bytes of output dropped ...]\n"
                + self.tail.decode(errors="replace"))


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

    @property
    def ended_by(self) -> str | None:
        """The signal that ended the command ("SIGKILL": the kernel's OOM killer sends it, a timeout's kill SIGTERM
        first), from the 128 + its number that the rig's shell reports; None for a command that exited."""
        number = self.exit_status - 128
        if 0 < number < signal.NSIG:
            try:
                return signal.Signals(number).name
            except ValueError:       # a number no signal has here
                return None
        return None

    @property
    def exit_words(self) -> str:
        """"exit 1", or "killed by SIGKILL (exit 137)"."""
        return f"killed by {self.ended_by} (exit {self.exit_status})" if self.ended_by else f"exit {self.exit_status}"

    def tail(self, lines: int = 5) -> str:
        """The last lines of stderr (else stdout): what a failure message should show."""
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return "\n".join(text[-lines:])


def command(prefix: str, *args: object) -> str:
    """A command line: `prefix` is a trusted command from the inventory (it may hold its own arguments); every
    argument after it is quoted."""
    quoted = shlex.join(str(arg) for arg in args)
    return f"{prefix} {quoted}".strip()


def in_own_group(line: str) -> tuple[str, str]:
    """`line` wrapped to run as the leader of a new session (setsid), which writes its process group id to a file
    on the rig while it runs: (wrapped line, that file). A timeout then kills the whole group (`kill_group`) —
    closing the SSH channel alone leaves whatever the command started running."""
    marker = f"/tmp/fleetlab-cmd-{uuid.uuid4().hex}"
    script = 'echo $$ > "$1"; sh -c "$2"; status=$?; rm -f "$1"; exit $status'
    return command("setsid -w sh -c", script, "fleetlab-run", marker, line), marker


def kill_group(marker: str) -> str:
    """The command that ends a timed-out command's process group (TERM, then KILL a second later)."""
    script = 'pg=$(cat "$1" 2>/dev/null) && { kill -TERM "-$pg"; sleep 1; kill -KILL "-$pg"; }; rm -f "$1"; true'
    return command("sh -c", script, "fleetlab-kill", marker) + " 2>/dev/null"


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
        process = subprocess.Popen(["bash", "-c", line], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=True)   # its own process group
        try:
            out, err = process.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)      # the command and whatever it started
            process.communicate()
            raise CommandTimeout(f"{line!r} ran past {timeout:.0f} s") from None
        return CommandResult(line, process.returncode, out.decode(errors="replace"), err.decode(errors="replace"),
                             time.monotonic() - started)

    def put(self, local: Path, remote: str, offset: int = 0, rate: float | None = None,
            progress: Progress | None = None) -> int:
        with local.open("rb") as source, open(remote, "ab") as sink:
            source.seek(offset)
            return copy_paced(source, sink, rate, progress)

    def size(self, remote: str) -> int | None:
        return os.path.getsize(remote) if os.path.exists(remote) else None

    def close(self) -> None:
        pass


__all__ = ["CappedOutput", "CommandResult", "LocalShell", "Shell", "command", "in_own_group", "kill_group", "pace"]
