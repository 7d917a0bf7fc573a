"""Errors of the app, under the core's tree (sim/model/errors.py), and the one handler the CLI commands share.

FleetlabError (sim.model.errors)
├── ScenarioError, GridError, IllegalTransition, UnitError        the core's (sim.model.errors, sim.grid, units)
├── HilError …                                                    the rigs' (hil.errors)
└── AppError
    ├── ExecutorError       (fleetlab.executors) an executor spec that cannot be used, a cluster that is not there
    ├── HistoryError        (fleetlab.history) the run history cannot be read or written
    ├── OutputError         (fleetlab.files) an output file or folder that cannot be written
    ├── UnknownPlan         (fleetlab.compare) a plan name that is neither `plan`, an alternative nor a kind
    └── SimulationsFailed   (fleetlab.suite) some simulation runs of a scenario's plan raised
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import typer

from fleetlab import json_promise
from fleetlab.exit_codes import EXIT_BAD_INPUT
from sim.model.errors import FleetlabError, ScenarioError


class AppError(FleetlabError):
    pass


class ExecutorError(AppError, ValueError):
    pass


class HistoryError(AppError):
    """The history could not be read or written; the message names the database (any password in it redacted)."""


class UnknownPlan(AppError, ValueError):
    pass


class SimulationsFailed(AppError):
    pass


@contextmanager
def reported(context: object = "") -> Iterator[None]:
    """The CLI's one error handler: a deliberate error (anything under FleetlabError) is printed — every positioned
    problem of a ScenarioError, else `context: message` — and the command exits 2. Anything else is a bug and
    keeps its traceback."""
    from fleetlab import console

    try:
        yield
    except ScenarioError as error:
        console.show_problems(error)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except FleetlabError as error:
        refuse(f"{context}: {error}" if context else str(error), file=context)


def refuse(reason: str, file: object = "") -> NoReturn:
    """Say why the command cannot go on (on stderr, and in `--json`'s failure document, fleetlab.json_promise) and
    exit 2. `file`: the file the reason is about, where it is one."""
    from fleetlab import console

    console.err.print(reason, markup=False)
    if isinstance(file, Path):      # the record names the file in its own field, as validate's records do
        json_promise.note(reason.removeprefix(f"{file}: "), file=str(file))
    else:
        json_promise.note(reason)
    raise typer.Exit(EXIT_BAD_INPUT)
