"""Options with a unit are read as the option: `--max-risk 0.05` is what its help says, a wrong value names the
option (not the scenario file beside it), and 100% — every bound may break and still pass — is refused."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fleetlab.options import OptionError, risk_level
from tests.conftest import ROOT

TINY = str(ROOT / "scenarios" / "tiny.yaml")


@pytest.mark.parametrize("text, value", [("5%", 0.05), ("0.05", 0.05), ("0", 0.0), ("0%", 0.0), ("99.5%", 0.995)])
def test_a_risk_level_reads_as_a_percent_or_a_plain_fraction(text, value):
    assert risk_level(text) == pytest.approx(value)


@pytest.mark.parametrize("text, says", [("100%", "would let every bound break"), ("1", "would let every bound"),
                                        ("150%", "between 0 and 1"), ("abc", "expected a fraction"),
                                        ("nan", "between 0 and 1"), ("-5%", "expected a fraction")])
def test_a_risk_level_no_bound_could_break_at_or_that_is_not_one_is_refused(text, says):
    with pytest.raises(OptionError, match=says) as refused:
        risk_level(text)
    assert str(refused.value).startswith("--max-risk: ")


@pytest.mark.parametrize("command", [["run", TINY, "--history", ""], ["sweep", TINY, "--seeds", "2"]])
def test_both_commands_name_the_option_and_exit_2(command, tmp_path):
    done = subprocess.run([sys.executable, "-m", "fleetlab.cli", *command, "--out", str(tmp_path / "out"),
                           "--executor", "serial", "--max-risk", "100%"], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("--max-risk: 100% would let every bound break"), done.stderr     # not the file's
    plain = subprocess.run([sys.executable, "-m", "fleetlab.cli", *command, "--out", str(tmp_path / "plain"),
                            "--executor", "serial", "--max-risk", "0.05"], capture_output=True, text=True, cwd=ROOT,
                           timeout=300)
    assert plain.returncode == 0, plain.stderr


@pytest.mark.parametrize("command, option, value", [
    ("fidelity", "--tolerance", "nan"), ("fidelity", "--tolerance", "-0.1"), ("fidelity", "--tolerance", "0"),
    ("fidelity", "--tolerance", "inf"), ("hil", "--wait-for-rigs", "nan"), ("hil", "--wait-for-rigs", "-5"),
    ("run", "--wait-for-rigs", "nan")])
def test_a_rig_command_refuses_an_option_value_before_it_reads_a_file(command, option, value, tmp_path):
    """A NaN tolerance flagged no phase whatever its error, a NaN wait waited forever for a held rig; both were
    taken and the rigs run. The rigs file here does not exist: the option is refused first."""
    done = subprocess.run([sys.executable, "-m", "fleetlab.cli", command,
                           str(ROOT / "scenarios" / "hil-orin-candidate.yaml"), "--rigs", str(tmp_path / "none.yaml"),
                           option, value], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"{option}: "), done.stderr
