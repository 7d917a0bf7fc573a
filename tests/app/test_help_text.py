"""`--help` says what to type: no Python types such as `<bool>` or `<list[Path]>` in any command's help."""

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
