"""The A/B model store on a rig, and moving a model into it.

    STORE/slots/a/{model.onnx, model.engine, version}     one slot serves, the other takes the update
    STORE/slots/b/...
    STORE/active -> slots/a                               switched by renaming a new symlink over it (atomic)
    STORE/incoming/SHA256.part                            a transfer in progress; resumed from its size

A slot is replaced whole: the new content is assembled in `slots/X.new` and renamed over `slots/X`, so a power cut
leaves either the old slot or the new one, never half of each.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hil.errors import ConnectionLost, HilError
from hil.parsers import ParseError, parse_df_available_bytes
from hil.shell import Shell, command

log = logging.getLogger(__name__)
SLOTS = ("a", "b")
MAX_RESUMES = 5


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class TransferReport:
    ok: bool
    bytes_sent: int
    resumed_from: list[int]      # the offsets each attempt started at (more than one: the transfer was cut)
    detail: str
    flow_seconds: float = 0.0    # while bytes flowed (what the link's throughput is measured on)
    verify_seconds: float = 0.0  # the sha256 on the rig
    corrupt: bool = False        # the (last) copy failed its sha256 check
    copies: int = 1              # copies sent (more than one: corrupt ones were sent again)


class TransferPaused(Exception):
    """Raised by a transfer's progress callback to pause it: the copy under way ends, `wait` runs, and the transfer
    resumes from the part on the rig."""

    def __init__(self, wait: Callable[[], None]) -> None:
        super().__init__("transfer paused")
        self.wait = wait


class Store:
    def __init__(self, shell: Shell, root: str) -> None:
        self.shell, self.root = shell, root.rstrip("/")

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def sh(self, *args: object, timeout: float = 60) -> str:
        """Run a command that must succeed (store housekeeping); its failure is a harness problem."""
        done = self.shell.run(command(str(args[0]), *args[1:]), timeout=timeout)
        if not done.ok:
            raise HilError(f"{self.shell.name}: `{done.command}` failed: {done.tail()}")
        return done.stdout

    def prepare(self) -> None:
        self.sh("mkdir", "-p", self.path("slots", "a"), self.path("slots", "b"), self.path("incoming"),
                self.path("tmp"))

    def active_slot(self) -> str | None:
        done = self.shell.run(command("readlink", self.path("active")), timeout=30)
        target = done.stdout.strip()
        return target.rsplit("/", 1)[-1] if done.ok and target else None

    def inactive_slot(self) -> str:
        return "b" if self.active_slot() == "a" else "a"

    def version(self, slot: str) -> str | None:
        done = self.shell.run(command("cat", self.path("slots", slot, "version")), timeout=30)
        return done.stdout.strip() or None if done.ok else None

    def switch(self, slot: str) -> None:
        """Point `active` at the slot: a new symlink renamed over the old one, atomically (rename(2))."""
        new_link = self.path(".active.new")
        self.sh("ln", "-sfn", f"slots/{slot}", new_link)
        self.sh("mv", "-Tf", new_link, self.path("active"))
        if self.active_slot() != slot:     # an A/B switch can be a silent no-op: check it really changed
            raise HilError(f"{self.shell.name}: switched to slot {slot} but active still points elsewhere")

    def free_bytes(self) -> int | None:
        done = self.shell.run(command("df", "-Pk", self.path("incoming")), timeout=30)
        try:
            return parse_df_available_bytes(done.stdout) if done.ok else None
        except ParseError:
            return None

    def transfer(self, local: Path, sha256: str, rate: float | None = None, on_progress=None, copies: int = 2,
                 before_again: Callable[[int], None] | None = None) -> TransferReport:
        """Copy `local` into incoming/, resuming whatever part is there, and check its sha256 on the rig; a
        corrupted copy is deleted and sent again, `copies` copies at most (artifact.max_download_attempts).
        `before_again(n)` runs before copy number n (2, 3, …): the wait before fetching again (delivery.retries)."""
        reports: list[TransferReport] = []
        while True:
            if reports and before_again is not None:
                before_again(len(reports) + 1)
            reports.append(self._copy(local, sha256, rate, on_progress))
            if reports[-1].ok or not reports[-1].corrupt or len(reports) == copies:
                break
        if len(reports) == 1:
            return reports[0]
        last = reports[-1]
        detail = (f"every one of {len(reports)} copies was corrupted and deleted (the last: {last.detail})"
                  if last.corrupt else "; sent again: ".join(report.detail for report in reports))
        return TransferReport(last.ok, sum(report.bytes_sent for report in reports),
                              [offset for report in reports for offset in report.resumed_from], detail,
                              sum(report.flow_seconds for report in reports),
                              sum(report.verify_seconds for report in reports), last.corrupt, len(reports))

    def _copy(self, local: Path, sha256: str, rate: float | None, on_progress) -> TransferReport:
        part, total = self.path("incoming", f"{sha256}.part"), local.stat().st_size
        offsets: list[int] = []
        counted = [0, 0]      # bytes of finished attempts, bytes of the attempt under way
        flowed = 0.0

        def progress(sent: int) -> None:
            counted[1] = sent
            if on_progress:
                on_progress(offsets[-1] + sent)

        drops, gave_up = 0, False
        while True:
            try:
                offset = self.shell.size(part) or 0
                if offset > total:      # a stale part larger than the file cannot be ours: start over
                    self.sh("rm", "-f", part)
                    offset = 0
                offsets.append(offset)
                if offset < total:
                    started = time.monotonic()
                    try:
                        self.shell.put(local, part, offset, rate, progress)
                    finally:
                        flowed += time.monotonic() - started
                break
            except TransferPaused as pause:
                pause.wait()       # a game on (hil/transfer_step.py): the part stays, resumed once the game ends
            except ConnectionLost as error:
                log.warning("%s: transfer cut (%s); resuming", self.shell.name, error)
                if (full := self._disk_full(part, total)) is not None:
                    return TransferReport(False, counted[0] + counted[1], offsets, full)
                if drops == MAX_RESUMES:
                    gave_up = True
                    break
                time.sleep(min(8.0, 2.0 ** drops))     # the link, or the rig itself, may be coming back
                drops += 1
            finally:
                counted[0], counted[1] = counted[0] + counted[1], 0
        if gave_up:
            return TransferReport(False, counted[0], offsets,
                                  f"the link kept dropping: gave up after {drops + 1} tries")
        landed = self.shell.size(part) or 0
        if landed < total:       # a write the rig refused (a full disk refuses quietly over SFTP's pipeline)
            full = self._disk_full(part, total)
            self.sh("rm", "-f", part)
            return TransferReport(False, counted[0], offsets, full or f"only {landed} of {total} bytes reached the "
                                                                     f"rig; the partial copy is deleted")
        checking = time.monotonic()
        found = self.sha256(part)
        verified = time.monotonic() - checking
        if found != sha256:
            self.sh("rm", "-f", part)
            return TransferReport(False, counted[0], offsets, f"sha256 on the rig {found[:12]}… is not "
                                                              f"{sha256[:12]}…: the copy was corrupted and is deleted",
                                  flowed, verified, corrupt=True)
        return TransferReport(True, counted[0], offsets, f"{total} bytes, sha256 checked on the rig", flowed,
                              verified)

    def sha256(self, remote: str) -> str:
        """The file's sha256 computed on the rig. The file is read from stdin, so no name (a newline, a backslash)
        is ever escaped in sha256sum's output."""
        return self.sh("sh", "-c", 'sha256sum < "$1"', "sha256", remote, timeout=300).split()[0]

    def put_checked(self, local: Path, remote: str) -> str:
        """Send a small file whole: into `remote.part`, sha256 checked on the rig, then renamed into place (a reader
        never sees half of it, and a copy mangled on the way is refused). Returns `remote`."""
        part, size = f"{remote}.part", local.stat().st_size
        self.sh("rm", "-f", part)
        self.shell.put(local, part)
        landed = self.shell.size(part) or 0
        if landed < size:         # a full disk refuses writes quietly over SFTP's pipeline
            self.sh("rm", "-f", part)
            free = self.free_bytes()
            raise HilError(f"{self.shell.name}: only {landed} of {size} bytes of {remote} reached the rig"
                           + (f" ({free // 1024} KiB free: disk full)" if free is not None else ""))
        expected, found = sha256_of(local), self.sha256(part)
        if found != expected:
            self.sh("rm", "-f", part)
            raise ConnectionLost(f"{self.shell.name}: {remote} arrived with sha256 {found[:12]}…, sent "
                                 f"{expected[:12]}…; deleted (it will be sent again)")
        self.sh("mv", "-f", part, remote)
        return remote

    def _disk_full(self, part: str, total: int) -> str | None:
        """When a copy failed because the store is full: delete the part (give the space back) and say so."""
        try:
            free, have = self.free_bytes(), self.shell.size(part) or 0
        except ConnectionLost:
            return None          # the rig is away: not a disk problem (yet)
        if free is not None and free < max(total - have, 1) + 64 * 1024:
            self.sh("rm", "-f", part)
            return f"disk full: {free // 1024} KiB free in {self.root}, {(total - have) // 1024} KiB still to copy; " \
                   f"the partial copy is deleted"
        return None

    def install(self, sha256: str, slot: str, version: str, midway=None) -> None:
        """Move a checked transfer into `slot`, replacing it whole (the old content of an inactive slot goes).
        `midway(shell)` runs with the copy staged and the slot not yet replaced (a fault point)."""
        staging = self.path("slots", f"{slot}.new")
        self.sh("rm", "-rf", staging)
        self.sh("mkdir", "-p", staging)
        self.sh("mv", "-f", self.path("incoming", f"{sha256}.part"), f"{staging}/model.onnx")
        self.shell.run(command("sh", "-c", 'printf "%s\\n" "$1" > "$2"', "version", version, f"{staging}/version"),
                       timeout=30)
        if midway:
            midway(self.shell)
        self.sh("rm", "-rf", self.path("slots", slot))
        self.sh("mv", "-T", staging, self.path("slots", slot))
