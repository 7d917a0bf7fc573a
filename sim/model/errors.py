"""Errors of the core, as a tree.

FleetlabError
├── ScenarioError          the scenario file is wrong; carries every problem found, each with its place
├── GridError              (sim.grid) a sweep's --grid text or one of its grid points is not valid
└── IllegalTransition      a device was asked to move between lifecycle states the table does not allow
                           (a bug in the world, never the user's fault)

A failing expectation is not an exception: it is data in a Verdict.
"""

from __future__ import annotations

from dataclasses import dataclass


class FleetlabError(Exception):
    """Base of every error fleetlab raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a user's file: where it is and what is wrong.

    `path` is the dotted key path inside the document (`fleet.site_kinds.gym.count`);
    `line`/`column` are 1-based and 0 when unknown.
    """

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.path or '(top)'}: {self.message}"


class ScenarioError(FleetlabError):
    """A scenario (or inventory) file that cannot be used, with all its problems at once."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


class IllegalTransition(FleetlabError):
    """The lifecycle table forbids this move."""
