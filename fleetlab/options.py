"""Command-line options that carry a unit, read as the option: a wrong value names the option, never the scenario
file beside it, and a value that would make the command's answer a foregone one is refused."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from fleetlab.errors import AppError
from fleetlab.files import held_output_folder
from sim.model.units import UnitError, parse_fraction

JsonFlag = Annotated[bool, typer.Option("--json", help="print the result as JSON on stdout (tables go to stderr)")]


class OptionError(AppError):
    """A command-line option's value that cannot be used; the message starts with the option."""


def risk_level(text: str, option: str = "--max-risk") -> float:
    """'5%' or 0.05 (as the help says) -> 0.05. Below 100%: a bound may break in up to that share of runs and still
    hold, so at 100% no bound could ever break and every answer would be GO."""
    try:
        number = float(text)
    except ValueError:
        number = None
    try:
        value = parse_fraction(text if number is None else number)
    except UnitError as error:
        raise OptionError(f"{option}: {error}") from None
    if value >= 1.0:
        raise OptionError(f"{option}: {text} would let every bound break in every run and still pass: give a "
                          "share below 100%")
    return value


def sim_measure(name: str, option: str) -> str:
    """A measure every simulated run gives (gates.METRICS less the rigs' own): a typo or a rig measure names the
    option and the measures there are."""
    from sim.model.gates import METRICS
    from sim.model.lint import RIG_METRICS

    measures = [metric for metric in METRICS if metric not in RIG_METRICS]
    if name not in measures:
        raise OptionError(f"{option}: {name!r} is not a simulated measure; one of {', '.join(measures)}")
    return name


def relative_tolerance(value: float, option: str = "--tolerance") -> float:
    """A relative error above 0 (0.1 is 10%). NaN would flag nothing, whatever the error: every comparison with it
    is false."""
    if not math.isfinite(value) or value <= 0:
        raise OptionError(f"{option}: a relative error above 0 such as 0.1 (10%), got {value}")
    return value


def wait_seconds(value: float, option: str = "--wait-for-rigs") -> float:
    """Seconds to wait, 0 or more (inf: until the rig is free). NaN would wait forever without saying so."""
    if math.isnan(value) or value < 0:
        raise OptionError(f"{option}: seconds to wait, 0 or more, got {value}")
    return value


def out_folder(command: typer.Context, folder: Path) -> Path:
    """A command's --out folder, made ready and held until the command ends: a second command writing into it
    meanwhile is refused (files.held_output_folder)."""
    return held_output_folder(folder, command.call_on_close)
