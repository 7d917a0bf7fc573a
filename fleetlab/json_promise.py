"""`--json`'s promise to a script: stdout holds one JSON document, whatever the exit code.

A command given `--json` prints its result as JSON on stdout. Before this, a command that could not start (a file
that does not load, an option's wrong value, a folder with no scenario, a stop signal) printed its reason on stderr
and nothing on stdout, so `fleetlab compare x.yaml --json | jq .recommended` failed in jq with "parse error" instead
of saying what was wrong. Now such an exit prints a failure document instead:

    {"exit_code": 2, "passed": false, "problems": [{"file": …, "line": …, "column": …, "key": …, "message": …}]}

with the same records `validate --json` gives (file, line and column where known, else "" and 0). The problems are
the ones the command said on stderr; stderr keeps saying them for a person.

One seam for the whole app: the command group's `main` (so `fleetlab` and Typer's test runner both pass through it)
notes whether `--json` was asked, and on an exit with no JSON printed, prints the failure document. The app's error
paths (`fleetlab.errors.reported`, `refuse`, `console.show_problems`, the stop-signal handlers) note what they say.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from typer import _click as click  # Typer carries its own Click: its exceptions and Context are these
from typer.core import TyperGroup


@dataclass
class _Promise:
    asked: bool = False         # the command line holds --json
    kept: bool = False          # a JSON document went to stdout
    problems: list[dict[str, object]] = field(default_factory=list)


_promise = _Promise()


def asked_for_json(arguments: Sequence[str]) -> bool:
    """--json among the options (before a `--`, after which everything is an argument)."""
    options = list(arguments)
    return "--json" in (options[:options.index("--")] if "--" in options else options)


def kept() -> None:
    """A JSON document was printed on stdout: the command kept the promise itself."""
    _promise.kept = True


def note_problems(records: Iterable[dict[str, object]]) -> None:
    """Positioned problems (`console.problem_records`) the command said on stderr."""
    _promise.problems.extend(records)


def note(message: str, file: str = "") -> None:
    """A reason the command said on stderr that has no line or key (an option, a rig, a stop signal)."""
    _promise.problems.append({"file": file, "line": 0, "column": 0, "key": "", "message": message})


def failure_document(exit_code: int) -> dict[str, object]:
    return {"exit_code": exit_code, "passed": False, "problems": list(_promise.problems)}


def _exit_code(code: object) -> int:
    """SystemExit's code as the shell sees it: None is 0, a message is 1."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


class JsonPromisingGroup(TyperGroup):
    """The `fleetlab` command group: keeps `--json`'s promise on every exit (see the module's text)."""

    def main(self, args: Sequence[str] | None = None, *positional: Any, **options: Any) -> Any:
        arguments = list(sys.argv[1:] if args is None else args)
        global _promise
        _promise = _Promise(asked=asked_for_json(arguments))   # one per command: tests run many in one process
        try:
            return super().main(arguments, *positional, **options)
        except SystemExit as exiting:
            code = _exit_code(exiting.code)
            if code != 0 and _promise.asked and not _promise.kept:
                from fleetlab import console  # here: console notes through this module

                console.print_json(failure_document(code))
                sys.stdout.flush()
            raise

    def make_context(self, *positional: Any, **options: Any) -> click.Context:
        try:
            return super().make_context(*positional, **options)
        except click.ClickException as error:     # the group's own options
            note(error.format_message())
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as error:     # an unknown command, or a command's option Click refused
            note(error.format_message())
            raise
