"""The `transfer` step: the candidate into the rig's inactive slot, resumable, its sha256 checked on the rig.

A copy that arrives corrupt is deleted and sent again, `artifact.max_download_attempts` copies at most, after the
wait `delivery.retries` gives (× hil.time_scale), as the simulator fetches a corrupt download again. A rig whose
every copy arrived corrupt fails the step with the simulator's reason ("corrupt download 5 times"), which a
retry after the failure (delivery.failure_retries, hil/failure_retries.py) may mend.

Under `delivery.freeze_during_games` a rig with `service.busy` is asked every BUSY_POLL seconds during the transfer:
a game that starts mid-way pauses it (the copy under way ends, its part kept) until the game ends, then it resumes
from the part, as the simulator's freeze stops a site's uplink during its games. The pause is neither flow nor
setup time (fleetlab calibrate reads those): it is recorded apart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hil.defer import BUSY_POLL, game_on, wait_out_the_game
from hil.stop import Stopped
from hil.store import TransferPaused
from sim.model.lifecycle import CORRUPT_DOWNLOAD

if TYPE_CHECKING:
    from hil.rig_steps import RigSteps


@dataclass
class _TimeApart:
    """What a transfer spends neither moving bytes nor setting up: kept apart from flow and setup."""

    asked: float                 # when the camera was last asked whether a game is on
    checks: int = 0              # busy checks asked mid-transfer
    checking: float = 0.0        # their time (inside the copy's flow time, taken out of it)
    pauses: int = 0              # games that paused the transfer
    paused: float = 0.0          # the pauses' time
    backed_off: float = 0.0      # delivery.retries' waits before a copy sent again


def transfer_step(rig: "RigSteps") -> tuple[bool, str]:
    session = rig.s
    art, spec, delivery = session.art, session.spec, session.delivery
    slot, size = rig.store.inactive_slot(), art.candidate.stat().st_size
    with session.record.step("transfer", slot=slot, bytes=size, sha256=art.candidate_sha[:16],
                             rate=spec.transfer_rate or "unlimited") as step:
        watch = session.faults.transfer_watch(size, rig.shell)
        spent = _TimeApart(asked=time.monotonic())
        games = delivery.freeze and session.rig.service.busy is not None

        def on_progress(position: int) -> None:
            session.checkpoint()          # a stop request cuts the transfer short (the part resumes next time)
            if watch:
                watch(position)
            if games and time.monotonic() - spent.asked >= BUSY_POLL:
                spent.asked = time.monotonic()
                spent.checks += 1
                game = game_on(rig)          # no byte moves meanwhile: its time is neither flow nor setup
                spent.checking += time.monotonic() - spent.asked
                if game:
                    raise TransferPaused(wait_for_the_games_end)

        def wait_for_the_games_end() -> None:
            began = time.monotonic()
            wait_out_the_game(rig)
            spent.pauses += 1
            spent.paused += time.monotonic() - began
            spent.asked = time.monotonic()

        def before_again(copy: int) -> None:
            wait = delivery.backoff_before(copy) * spec.time_scale
            began = time.monotonic()
            if wait and session.stop.sleep(wait):
                raise Stopped(session.stop.reason)
            spent.backed_off += time.monotonic() - began
            session.checkpoint()

        began = time.monotonic()
        moved = rig.store.transfer(art.candidate, art.candidate_sha, spec.transfer_rate, on_progress,
                                   copies=delivery.download_attempts, before_again=before_again)
        session.found.bytes_sent += moved.bytes_sent
        # the parts of the time the simulator models apart (fleetlab calibrate reads them)
        step.numbers.update(bytes_sent=float(moved.bytes_sent), attempts=float(len(moved.resumed_from)),
                            resumed_from=float(max(moved.resumed_from, default=0)), copies=float(moved.copies),
                            flow_seconds=round(moved.flow_seconds - spent.checking, 4),
                            verify_seconds=round(moved.verify_seconds, 4), backoff_seconds=round(spent.backed_off, 4),
                            setup_seconds=round(time.monotonic() - began - moved.flow_seconds
                                                - moved.verify_seconds - spent.backed_off - spent.paused, 4))
        if games:          # the questions asked mid-transfer under the freeze, and the pauses for games
            step.numbers.update(busy_checks=float(spent.checks), busy_check_seconds=round(spent.checking, 4),
                                game_pauses=float(spent.pauses), paused_for_games_seconds=round(spent.paused, 4))
        if not moved.ok:
            # the reason begins as the simulator's, up to its first colon (what a plan's observation groups by)
            step.fail(f"{CORRUPT_DOWNLOAD} {moved.copies} times: {moved.detail} (artifact.max_download_attempts)"
                      if moved.corrupt else moved.detail)
            return False, step.detail
        installing = time.monotonic()
        rig.store.install(art.candidate_sha, slot, art.candidate_version,
                          midway=lambda shell: session.faults.fire("mid:install", shell))
        step.numbers["install_seconds"] = round(time.monotonic() - installing, 4)
        session.found.candidate_slot = slot
        resumed = [offset for offset in moved.resumed_from if offset]
        step.detail = moved.detail + (f"; resumed at {resumed}" if resumed else "")
        if spent.pauses:
            step.detail += (f"; paused {spent.pauses} time{'s' if spent.pauses > 1 else ''} for a game "
                            f"({spent.paused:.1f} s, delivery.freeze_during_games)")
        return True, step.detail
