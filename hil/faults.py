"""Faults injected on rigs at precise points of the sequence, as a scenario's `hil.faults` asks:

    hil:
      faults:
        - {fault: link_drop, at_step: "transfer@50%"}   # cut the SSH connection half-way through the transfer
        - {fault: link_drop, at_step: "before:build"}

Points: `before:STEP` for every step of hil/step_table.py, `after:switch` (between the switch and the health check),
`mid:install` (the copy is in the slot's staging folder, not yet renamed over the slot), `mid:build` (while trtexec
builds the engine), `mid:rollback` / `mid:restore` (switched back, not yet restarted), and `transfer@P%`. Each fault
fires once per rig. Backends add faults (virtual rigs: power cuts, disk full, …) by registering injectors. On any
rig: `link_drop`, and `sigint` / `sigterm` / `sigkill`, which send that signal to this fleetlab process itself — how
the tests stop a run at a precise step, as a user's Ctrl-C or a CI job's cancel would, or kill it there, as an
out-of-memory kill, a lost runner or a cancel's last resort would (nothing is put back: the next run must cope).
"""

from __future__ import annotations

import logging
import os
import re
import signal
from collections.abc import Callable
from dataclasses import dataclass, field

from hil.errors import HilError
from hil.shell import Shell
from hil.step_table import INNER_POINTS, STEP_NAMES
from sim.model.hil_spec import HilFault

log = logging.getLogger(__name__)

Injector = Callable[[Shell], None]


def _link_drop(shell: Shell) -> None:
    cut = getattr(shell, "cut", None)
    if cut is None:
        raise HilError(f"{shell.name}: link_drop needs an SSH connection to cut")
    cut()


def _signal_self(number: int) -> Injector:
    def send(shell: Shell) -> None:
        os.kill(os.getpid(), number)

    return send


BUILTIN: dict[str, Injector] = {"link_drop": _link_drop, "sigint": _signal_self(signal.SIGINT),
                                "sigterm": _signal_self(signal.SIGTERM), "sigkill": _signal_self(signal.SIGKILL)}


# what virtual rigs add (hil/virtual.py registers them; tests/virtual checks the two lists agree)
VIRTUAL_ONLY = ("power_cut", "disk_full", "corrupt_transfer", "thermal_stress", "sshd_restart", "reboot_loop",
                "clock_forward", "clock_back", "health_flap", "rig_gone", "game", "oom_at_load")


def fault_warnings(faults: list[HilFault]) -> list[tuple[str, str]]:
    """(key, problem) for each fault `fleetlab hil` would refuse before any rig time, for `fleetlab validate` to
    say where it is written (a sim run needs none of them)."""
    found = []
    for number, fault in enumerate(faults):
        if fault.fault not in BUILTIN and fault.fault not in VIRTUAL_ONLY:
            found.append((f"hil.faults.{number}.fault", f"unknown fault {fault.fault!r}: on any rig "
                          f"{', '.join(BUILTIN)}; on virtual rigs also {', '.join(VIRTUAL_ONLY)}"))
        if (why := check_point(fault.at_step)) is not None:
            found.append((f"hil.faults.{number}.at_step", why))
    return found


def check_point(point: str) -> str | None:
    """None when `point` names a place faults can fire; else what is wrong with it."""
    if point in INNER_POINTS or point in {f"before:{step}" for step in STEP_NAMES}:
        return None
    match = re.fullmatch(r"transfer@(\d+(?:\.\d+)?)%", point)
    if match and 0 < float(match.group(1)) < 100:
        return None
    return (f"unknown fault point {point!r}: use before:STEP (steps: {', '.join(STEP_NAMES)}), "
            f"{', '.join(INNER_POINTS)} or transfer@P% with 0 < P < 100")


@dataclass
class FaultPlan:
    faults: list[HilFault] = field(default_factory=list)
    injectors: dict[str, Injector] = field(default_factory=lambda: dict(BUILTIN))
    fired: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        found = []
        for number, fault in enumerate(self.faults):
            if fault.fault not in self.injectors:
                found.append(f"hil.faults.{number}.fault: {fault.fault!r} is not available on these rigs "
                             f"(available: {', '.join(sorted(self.injectors))})")
            if (why := check_point(fault.at_step)) is not None:
                found.append(f"hil.faults.{number}.at_step: {why}")
        return found

    def fire(self, point: str, shell: Shell) -> None:
        for fault in self.faults:
            key = f"{fault.fault}@{fault.at_step}"
            if fault.at_step == point and key not in self.fired:
                self.fired.append(key)
                log.warning("%s: injecting %s at %s", shell.name, fault.fault, point)
                self.injectors[fault.fault](shell)

    def transfer_watch(self, total: int, shell: Shell) -> Callable[[int], None] | None:
        """A progress callback that fires `transfer@P%` faults once P% of the bytes have gone."""
        marks = [(float(f.at_step.split("@")[1].rstrip("%")), f.at_step) for f in self.faults
                 if f.at_step.startswith("transfer@")]
        if not marks:
            return None
        def watch(position: int) -> None:   # bytes of the file on the rig so far
            for share, point in marks:
                if position >= total * share / 100:
                    self.fire(point, shell)

        return watch
