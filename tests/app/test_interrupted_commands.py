"""SIGTERM (a CI job's cancel) during the commands that only simulate: each ended where it stood without a word,
exit 143 from the shell's side and nothing said. Now each says what stopped and what was not written, exit 143.
(The sweep's and `fleetlab run`'s stops: tests/sweep/test_sweep_cli.py, tests/app/test_suite_stop.py.)"""

import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.processes import catches


@pytest.mark.parametrize("args, said", [
    (["sim", "scenarios/bench-100k.yaml"], "SIGTERM: the simulation stopped; nothing was written"),
    (["compare", "scenarios/bench-100k.yaml", "--seeds", "20"], "SIGTERM: the comparison stopped after 0 of 20 runs"),
])
def test_sigterm_during_a_simulation_says_what_stopped(tmp_path, args, said):
    started = subprocess.Popen([sys.executable, "-m", "fleetlab.cli", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert catches(started.pid, signal.SIGTERM), "the command never took SIGTERM over"
        started.send_signal(signal.SIGTERM)
        _, stderr = started.communicate(timeout=120)
        assert started.returncode == 143, stderr
        assert said in stderr and "Traceback" not in stderr
    finally:
        if started.poll() is None:
            started.kill()
            started.communicate()
