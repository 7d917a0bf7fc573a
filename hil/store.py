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
from dataclasses import dataclass
from pathlib import Path

from hil.errors import ConnectionLost, HilError
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

    def transfer(self, local: Path, sha256: str, rate: float | None = None, on_progress=None) -> TransferReport:
        """Copy `local` into incoming/, resuming whatever part is there, and check its sha256 on the rig."""
        part, total = self.path("incoming", f"{sha256}.part"), local.stat().st_size
        offsets: list[int] = []
        counted = [0, 0]      # bytes of finished attempts, bytes of the attempt under way

        def progress(sent: int) -> None:
            counted[1] = sent
            if on_progress:
                on_progress(offsets[-1] + sent)

        for _ in range(MAX_RESUMES + 1):
            try:
                offset = self.shell.size(part) or 0
                if offset > total:      # a stale part larger than the file cannot be ours: start over
                    self.sh("rm", "-f", part)
                    offset = 0
                offsets.append(offset)
                if offset < total:
                    self.shell.put(local, part, offset, rate, progress)
                break
            except ConnectionLost as error:
                log.warning("%s: transfer cut (%s); resuming", self.shell.name, error)
            finally:
                counted[0], counted[1] = counted[0] + counted[1], 0
        else:
            return TransferReport(False, counted[0], offsets,
                                  f"the link kept dropping: gave up after {len(offsets)} tries")
        sent = counted[0]
        found = self.sh("sha256sum", part, timeout=300).split()[0]
        if found != sha256:
            self.sh("rm", "-f", part)
            return TransferReport(False, sent, offsets, f"sha256 on the rig {found[:12]}… is not {sha256[:12]}…: "
                                                        f"the copy was corrupted and is deleted")
        return TransferReport(True, sent, offsets, f"{total} bytes, sha256 checked on the rig")

    def install(self, sha256: str, slot: str, version: str) -> None:
        """Move a checked transfer into `slot`, replacing it whole (the old content of an inactive slot goes)."""
        staging = self.path("slots", f"{slot}.new")
        self.sh("rm", "-rf", staging)
        self.sh("mkdir", "-p", staging)
        self.sh("mv", "-f", self.path("incoming", f"{sha256}.part"), f"{staging}/model.onnx")
        self.shell.run(command("sh", "-c", 'printf "%s\\n" "$1" > "$2"', "version", version, f"{staging}/version"),
                       timeout=30)
        self.sh("rm", "-rf", self.path("slots", slot))
        self.sh("mv", "-T", staging, self.path("slots", slot))
