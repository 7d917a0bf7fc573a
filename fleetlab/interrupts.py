"""Ctrl-C and SIGTERM during a run that touches rigs: the first asks the run to stop releasing and put every rig back
(hil/stop.py says what that means); a second hurries it. Either way the process ends with the result written, and
the exit code says which signal stopped it: 130 for SIGINT, 143 for SIGTERM (128 + the signal's number, as a shell
reports a process killed by it).

A signal that lands after the plan has ended (while the rigs prove their rollback and release their leases, or while
the result is written) cuts nothing short: the run is whole and its result.json says so. The command then says the
signal came late and ends as the run's verdict says, so the exit code and the written result agree (and a
calibration measured in full is written rather than thrown away)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec

from fleetlab import json_promise
from fleetlab.exit_codes import exit_interrupted
from hil.stop import StopSignal

HANDLED = (signal.SIGINT, signal.SIGTERM)
P = ParamSpec("P")


@contextmanager
def stop_on_signals(stop: StopSignal, rigs: bool = True, simulations: bool = False) -> Iterator[list[int]]:
    """While inside, SIGINT and SIGTERM request a stop instead of killing the process; yields the signals seen.
    What the notes say follows what the command runs: rigs to put back, simulations to drop (a `--mode sim` suite
    was told of rigs and leases it never touched)."""
    seen: list[int] = []

    def handle(number: int, frame: object) -> None:
        seen.append(number)
        name = signal.Signals(number).name
        dropped = "the simulations under way are dropped" if simulations else ""
        if len(seen) == 1 and not rigs:
            note = f"\n{name}: stopping — {dropped}; the report is written with what finished.\n"
        elif len(seen) == 1:
            note = (f"\n{name}: stopping — {dropped + '; ' if dropped else ''}no more releases; the step in flight is "
                    "finished or undone, every touched rig goes back to its previous engine and its lease is "
                    f"released. {name} again to hurry.\n")
        elif not rigs:
            note = f"\n{name} again: already stopping.\n"
        else:
            note = f"\n{name} again: hurrying — waits end now; rigs are still restored and released first.\n"
        os.write(2, note.encode())      # not through rich: a handler may run while the console holds its lock
        stop.request(f"{name} received")

    previous = {number: signal.signal(number, handle) for number in HANDLED}
    try:
        yield seen
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def came_late(signals: list[int]) -> str:
    """What to say when signals arrived but the run had nothing left to cut short."""
    name = signal.Signals(signals[0]).name
    return (f"{name} came after the plan had ended: nothing was cut short (every rig touched was put back or proved "
            f"its rollback, and was released); the result is whole and stands")


class StopCheck:
    """The signals a command that stops at once has received, and a second chance for their exception.

    The handler raises where the main thread stands, and one place loses what it raises: an import under way in a C
    extension's initialisation (numpy.random's Cython modules, imported lazily by a run's first draw, swallowed
    SIGTERM's SystemExit and the comparison ran on for minutes; sim/run.py now imports them before any run). Where
    else that can happen cannot be listed, so the command asks again as it goes: a signal received is raised at the
    next sample of the fleet in a run under way (a StopCheck is itself a run's progress callback,
    `simulate(..., progress=check)`), or at a sweep's next look at its runs (every 0.25 s, `asked`)."""

    def __init__(self) -> None:
        self.received: list[int] = []

    def __call__(self, *_: object) -> None:
        """Raise the stop again if a signal came and its exception did not end the command."""
        if self.received:
            raise _stop_exception(self.received[0])

    def asked(self) -> bool:
        """For a loop that looks for a stop every so often (`sim.sweep.sweep(should_stop=…)`, every 0.25 s while a
        run is awaited): raises the stop received, else False."""
        self()
        return False

    def guarding(self, report: Callable[P, None]) -> Callable[P, None]:
        """`report` (a progress callback) that first raises a stop received."""
        def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
            self()
            report(*args, **kwargs)
        return guarded


def _stop_exception(number: int) -> BaseException:
    """What a stop signal raises: KeyboardInterrupt for SIGINT, as Python's own handler; SystemExit(143) for
    SIGTERM, so `finally` and `except BaseException` clean-ups run."""
    return KeyboardInterrupt() if number == signal.SIGINT else SystemExit(exit_interrupted(number))


@contextmanager
def raising_on_signals() -> Iterator[StopCheck]:
    """While inside, SIGTERM raises SystemExit(143) like Ctrl-C raises KeyboardInterrupt, so `finally` and
    `except BaseException` clean-ups run: Python's default for SIGTERM ends the process where it stands (a CI job's
    cancel during `rigs up` left containers running that no inventory named). Yields the StopCheck that raises a
    signal again if its exception was lost."""
    check = StopCheck()

    def stop_now(number: int, frame: object) -> None:
        check.received.append(number)
        raise _stop_exception(number)

    # SIGINT only where Python took it over: a command started in the background by a shell ignores it, as before
    handled = [number for number in HANDLED
               if number != signal.SIGINT or signal.getsignal(number) is signal.default_int_handler]
    previous = {number: signal.signal(number, stop_now) for number in handled}
    try:
        yield check
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextmanager
def stopped_at_once(what_was_lost: Callable[[], str]) -> Iterator[StopCheck]:
    """For a command that holds nothing to put back (a sweep's simulations): Ctrl-C and SIGTERM end it at once,
    saying which signal came and what was lost, with 130 or 143. Without this a SIGTERM ended it where it stood,
    silently. Yields the StopCheck its progress callback calls."""
    try:
        with raising_on_signals() as check:
            yield check
    except KeyboardInterrupt:
        code = exit_interrupted(signal.SIGINT)
    except SystemExit as exiting:
        if exiting.code != exit_interrupted(signal.SIGTERM):
            raise
        code = exiting.code
    else:
        return
    said = f"{signal.Signals(code - 128).name}: {what_was_lost()}"
    os.write(2, f"\n{said}\n".encode())
    json_promise.note(said)
    raise SystemExit(code)
