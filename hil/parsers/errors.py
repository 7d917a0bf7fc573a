"""The one error the parsers raise: which tool's output, which line, what could not be read."""

from __future__ import annotations

from sim.model.errors import FleetlabError


class ParseError(FleetlabError, ValueError):
    def __init__(self, tool: str, line: str, reason: str) -> None:
        shown = line if len(line) <= 160 else line[:157] + "..."
        super().__init__(f"cannot read {tool} output: {reason}: {shown!r}")
        self.tool, self.line, self.reason = tool, line, reason
