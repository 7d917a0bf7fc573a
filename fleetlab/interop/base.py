"""What every translation shares: the gaps a plan has on a target, the exported document, and the import errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fleetlab.errors import AppError

Document = dict[str, Any]


class CannotExport(AppError):
    """The plan uses what the target cannot express, and --approximate was not given: every gap is listed."""

    def __init__(self, target: str, gaps: list["Gap"]):
        self.gaps = gaps
        lines = "\n".join(f"  - {gap.what}" + (f" (--approximate: {gap.approximation})" if gap.approximation
                                               else " (no approximation)") for gap in gaps)
        super().__init__(f"{target} cannot express this plan:\n{lines}")


class CannotImport(AppError, ValueError):
    """A document that is not the target's configuration, or uses what fleetlab's plans cannot express; the message
    names the key."""


@dataclass(frozen=True)
class Gap:
    what: str                       # what the plan does that the target cannot say
    approximation: str | None       # what --approximate writes instead, or None where nothing comes close


@dataclass
class Gaps:
    """Collects a plan's gaps on one target while its document is built."""

    items: list[Gap] = field(default_factory=list)

    def add(self, what: str, approximation: str | None = None) -> None:
        self.items.append(Gap(what, approximation))

    def settle(self, target: str, approximate: bool) -> list[str]:
        """The approximations made, or CannotExport: without --approximate any gap refuses; with it, a gap that
        has no approximation still does."""
        impossible = [gap for gap in self.items if gap.approximation is None]
        if impossible or (self.items and not approximate):
            raise CannotExport(target, impossible if approximate else self.items)
        return [f"{gap.what}: {gap.approximation}" for gap in self.items]


@dataclass(frozen=True)
class Target:
    """What an exported document needs besides the plan: the fleet's size, the models, when the rollout starts."""

    scenario: str
    fleet_size: int
    current_version: str
    candidate_version: str
    start: datetime
    in_progress_timeout: float | None = None     # delivery's, for the systems that time an update out
    timeout_retries: int = 0
    failure_retries: int = 0                     # delivery's: times a failed update is started again

    def at(self, offset: float) -> str:
        """An offset from the start as RFC 3339 UTC, as the targets write times."""
        return (self.start + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Exported:
    target: str
    document: Document
    approximations: list[str]


def require(document: Any, key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    """document[key], or CannotImport naming the dotted key when it is missing or of the wrong type."""
    path = f"{where}.{key}" if where else key
    if not isinstance(document, dict) or key not in document:
        raise CannotImport(f"{path}: missing")
    value = document[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds:   # JSON true is not a count
        raise CannotImport(f"{path}: expected {'/'.join(k.__name__ for k in kinds)}, got {value!r}")
    return value


def percent(share: float) -> float:
    """0.05 -> 5 (a percentage as the targets write it, without float noise)."""
    return round(share * 100, 6)
