"""`--help` says what to type: no Python types such as `<bool>` or `<list[Path]>` in any command's help, and the command
list gives each command's summary as one sentence, not cut where its docstring's source line ended."""

import re

import pytest
from typer.testing import CliRunner

from fleetlab.cli import app

COMMANDS = ["run", "sim", "compare", "sweep", "validate", "export", "import", "lint", "hil", "history", "strategies"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_no_python_types(command):
    shown = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "120"})
    assert shown.exit_code == 0, shown.output
    assert not re.search(r"<(bool|str|int|path|list\[\w+\]|int range)>", shown.output, re.IGNORECASE), shown.output


@pytest.mark.parametrize("group", [[], ["rigs"]])
def test_command_list_summaries_are_not_broken_mid_sentence(group):
    shown = CliRunner().invoke(app, [*group, "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    rows = [line.strip("│ ").rstrip() for line in shown.output.splitlines() if line.startswith("│")]
    summaries = [row for row in rows if not row.startswith("-")]
    assert summaries, shown.output
    # 200 columns hold every summary on one row: a row that does not end a sentence was broken at a source line
    unfinished = [row for row in summaries if not row.endswith((".", ")"))]
    assert not unfinished, shown.output
    if not group:
        assert any("the risk of breaking each expectation, and the point to pick." in row for row in rows), shown.output
