"""Reports of a suite run: reports/<run-id>/{index.html, summary.md, junit.xml, result.json}."""

from __future__ import annotations

from pathlib import Path

from fleetlab.files import output_folder, write_whole
from fleetlab.report import html, junit, markdown
from fleetlab.report.trends import Trends
from fleetlab.suite_results import SuiteResult


def write_report(result: SuiteResult, folder: Path, trends: Trends | None = None) -> dict[str, Path]:
    """Write every output, each to a temporary name then renamed: a reader never sees half a report."""
    output_folder(folder)
    outputs = {"index.html": html.render(result, trends), "summary.md": markdown.render(result, trends),
               "junit.xml": junit.render(result), "result.json": result.model_dump_json(indent=2) + "\n"}
    written = {}
    for name, text in outputs.items():
        target = folder / name
        write_whole(target, text)
        written[name] = target
    return written
