"""A game on a rig holds its update, as the simulator's games hold a camera's (`delivery.defer_limit`,
`delivery.freeze_during_games`).

The rig's `service.busy` command is asked whether the camera may be disturbed, as Mender's agent runs a state script
on entering a state: exit 0 goes ahead, exit 21 is Mender's "retry later" (a game is on), and the question is asked
again every BUSY_POLL seconds. Asked before:

    the switch      (`defer`, always where the rig has the command): a camera still busy when `delivery.defer_limit`
                    has passed gives the switch up
    the transfer    (`hold_download`, under freeze_during_games): the download waits for the game's end, however long
    the build       (`hold_install`, under freeze_during_games: the engine build is the install's heavy part, the
                    work a game must not share the board with): given up past the limit, as the switch is
and, under freeze_during_games, every BUSY_POLL seconds during the transfer: a game that starts mid-way pauses it
until the game ends (hil/transfer_step.py), as the simulator's freeze stops a site's uplink during its games.

A limit is scaled by `hil.time_scale`, like every scenario duration on rigs. A rig that gives up fails its update
with the current model serving, the candidate never switched to: the simulator's `held by a game` ending. Without a
limit the rig waits for the game's end, however long (a stop request ends the wait). Any other exit fails the update,
as Mender fails an update whose state script errs.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from hil.recorder import StepHandle
from hil.stop import Stopped
from sim.model.lifecycle import HELD_BY_A_GAME
from sim.model.units import format_duration

if TYPE_CHECKING:
    from hil.rig_steps import RigSteps

RETRY_LATER = 21       # Mender's state-script exit code: not now, ask again
BUSY_POLL = 1.0        # wall seconds between two questions (Mender's StateScriptRetryIntervalSeconds is 60 s; a
#                        rig's scaled limit is often shorter, and one SSH command a second costs a rig nothing)
BUSY_TIMEOUT = 30.0    # how long one answer may take


def game_step(rig: "RigSteps", name: str, what: str, limited: bool) -> tuple[bool, str]:
    """The step `name`: the rig's `what` (switch, download, install) waits while a game is on, up to the scaled
    defer limit when `limited`. Its numbers: the wall limit, the wait, the 'retry later' answers."""
    with rig.s.record.step(name) as step:
        wait_for_the_game(rig, step, what, limited)
        return step.passed, step.detail


def wait_for_the_game(rig: "RigSteps", step: StepHandle, what: str, limited: bool) -> None:
    """Ask `service.busy` until it answers 0; fail `step` when the scaled limit passes first, or when it answers
    anything but 0 or 21."""
    scenario_limit = rig.s.delivery.defer_limit if limited else None
    limit = None if scenario_limit is None else scenario_limit * rig.s.spec.time_scale
    step.numbers["retry_later_answers"] = 0.0
    if limit is not None:
        step.numbers["limit_s"] = round(limit, 6)
    busy, stop = rig.s.rig.service.busy, rig.s.stop
    assert busy is not None
    began, later = time.monotonic(), 0
    while True:
        answer = rig.shell.run(busy, timeout=BUSY_TIMEOUT)
        waited = time.monotonic() - began
        step.numbers["waited_s"] = round(waited, 3)
        if answer.ok:
            step.detail = (f"the camera was busy for {waited:.1f} s ({_answers(later)}), then free: the {what} "
                           "went ahead" if later else "the camera was free")
            return
        if answer.exit_status != RETRY_LATER:
            step.fail(f"the camera's busy check failed (exit {answer.exit_status}: neither 0, go ahead, nor "
                      f"{RETRY_LATER}, retry later): {answer.tail()}; the {what} given up, the current model kept")
            return
        later += 1
        step.numbers["retry_later_answers"] = float(later)
        if limit is not None and waited >= limit:
            step.fail(f"{HELD_BY_A_GAME} past delivery.defer_limit ({format_duration(scenario_limit or 0.0)}, "
                      f"{limit:.3g} s on the rig at hil.time_scale): the {what} given up after "
                      f"{_answers(later)}, the current model kept")
            return
        pause = BUSY_POLL if limit is None else min(BUSY_POLL, max(0.0, limit - waited))
        if stop.sleep(pause):
            raise Stopped(stop.reason)


def game_on(rig: "RigSteps") -> bool:
    """One question mid-transfer: True while the camera answers 'retry later'. An answer that errs is not a game:
    the check before the build (`hold_install`) fails the update on it."""
    busy = rig.s.rig.service.busy
    assert busy is not None
    return rig.shell.run(busy, timeout=BUSY_TIMEOUT).exit_status == RETRY_LATER


def wait_out_the_game(rig: "RigSteps") -> None:
    """Wait, however long, until the camera is free (or its answer errs): a transfer paused by a game
    (hil/transfer_step.py records the pause)."""
    wait_for_the_game(rig, StepHandle(), "download", limited=False)


def _answers(count: int) -> str:
    return f"{count} 'retry later' answer{'' if count == 1 else 's'}"
