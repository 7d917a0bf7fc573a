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

import typer

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
        console.err.print(f"{context}: {error}" if context else str(error), markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
