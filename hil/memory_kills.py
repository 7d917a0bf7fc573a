"""How often the rig's kernel killed a process for memory (the out-of-memory killer), so a step that failed because
of it says so: on a Jetson the CPU and the GPU share one memory (4 GB on a Nano), and an engine build that dies
mid-way or a model that never comes up is most often the OOM killer's doing, which the failing command cannot say.

The count is read at preflight and again after each failed step (one `cat` over SSH, only then); a count that rose
adds "(the rig's kernel killed N process(es) for memory since …)" to the step's detail (and so to the rig's reason)
and `oom_kills` to its numbers. Where it is read from is the inventory's `facts.oom_kills` (hil/inventory.py):
/proc/vmstat on a board (kernels from 4.13 count; JetPack 4's 4.9 does not, and nothing is said), the container's
cgroup on a virtual rig."""

from __future__ import annotations

from collections.abc import Callable

from hil.errors import HilError
from hil.inventory import Rig
from hil.parsers import parse_oom_kills
from hil.recorder import StepHandle
from hil.shell import Shell, command


def read_oom_kills(shell: Shell, rig: Rig) -> int | None:
    """The rig's count now; None where none of its files has one."""
    if not rig.facts.oom_kills:
        return None
    done = shell.run(command("cat", *rig.facts.oom_kills) + " 2>/dev/null", timeout=30)   # a missing file: the next
    return parse_oom_kills(done.stdout)


class MemoryKills:
    """The count since the last look: `start` at preflight, `after_failure` as the step recorder's hook."""

    def __init__(self, shell: Callable[[], Shell], rig: Rig) -> None:
        self._shell, self._rig = shell, rig        # the session's shell of the moment (a reconnect replaces it)
        self._seen: int | None = None
        self._since = "preflight"
        self._said = ""             # what the last failed step was told, for the rig's reason too

    def start(self) -> None:
        self._seen = read_oom_kills(self._shell(), self._rig)

    def after_failure(self, name: str, step: StepHandle) -> None:
        self._said = ""
        if self._seen is None:
            return
        try:
            now = read_oom_kills(self._shell(), self._rig)
        except HilError:              # the rig dropped out: the step's own words say what happened
            return
        if now is None:
            return
        if now > self._seen:
            kills = now - self._seen
            step.numbers["oom_kills"] = kills
            self._said = (f" (the rig's kernel killed {kills} process{'es' if kills > 1 else ''} for memory since "
                          f"{self._since})")
            step.detail += self._said
        self._seen, self._since = now, f"the failed {name}"

    def said(self) -> str:
        """What the last failed step was told (once): a step returns its detail before its record is closed, so
        the session adds this to the reason it keeps."""
        said, self._said = self._said, ""
        return said
