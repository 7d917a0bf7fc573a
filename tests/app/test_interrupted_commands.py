"""SIGTERM (a CI job's cancel) during the commands that only simulate: each ended where it stood without a word,
exit 143 from the shell's side and nothing said. Now each says what stopped and what was not written, exit 143.
(The sweep's and `fleetlab run`'s stops: tests/sweep/test_sweep_cli.py, tests/app/test_suite_stop.py.)

A SIGTERM sent as soon as the handler was in place was lost about once in seventy tries with both cores busy: it
landed in the import of numpy.random's Cython modules, which a run's first draw set off, and their initialisation
swallowed the handler's SystemExit (the comparison ran on past the test's two minutes). A run now imports nothing,
and a signal whose exception was lost is raised again at the command's next report of progress."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from fleetlab import hil_commands
from fleetlab.cli import app
from fleetlab.interrupts import stopped_at_once
from sim.grid import expand
from sim.sweep import SerialExecutor, sweep
from tests.conftest import ROOT
from tests.processes import catches


@pytest.mark.parametrize("args, said", [
    (["sim", "scenarios/bench-100k.yaml"], "SIGTERM: the simulation stopped; nothing was written"),
    (["compare", "scenarios/bench-100k.yaml", "--seeds", "20"], "SIGTERM: the comparison stopped after 0 of 20 runs"),
    # with --json, stdout is still one document a script can read: what stopped, and the exit code
    (["compare", "scenarios/bench-100k.yaml", "--seeds", "20", "--json"],
     "SIGTERM: the comparison stopped after 0 of 20 runs"),
    (["backtest", "scenarios/bench-100k.yaml", "--records", "{records}", "--from", "csv", "--start",
      "2026-03-01T00:00:00Z", "--seeds", "20"],
     "SIGTERM: the backtest stopped after 0 of 20 seeds; nothing was written"),
])
def test_sigterm_during_a_simulation_says_what_stopped(tmp_path, args, said):
    records = tmp_path / "past.csv"
    records.write_text("device,status,finished_at\ncam-1,succeeded,2026-03-01T05:00:00Z\n"
                       "cam-2,failed,2026-03-01T06:00:00Z\n")
    args = [arg.replace("{records}", str(records)) for arg in args]
    started = subprocess.Popen([sys.executable, "-m", "fleetlab.cli", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert catches(started.pid, signal.SIGTERM), "the command never took SIGTERM over"
        started.send_signal(signal.SIGTERM)
        stdout, stderr = started.communicate(timeout=120)
        assert started.returncode == 143, stderr
        assert said in stderr and "Traceback" not in stderr
        if "--json" in args:
            document = json.loads(stdout)
            assert document["exit_code"] == 143 and document["problems"][0]["message"] == said
        else:
            assert stdout == ""
    finally:
        if started.poll() is None:
            started.kill()
            started.communicate()


def test_a_run_imports_nothing_once_it_has_started():
    """An import under way can lose a stop signal's exception (above), so the modules a run uses are imported with
    sim.run, before any command installs its handler. numpy imported numpy.random and numpy.ma lazily mid-run."""
    probe = """
import sys
import fleetlab.cli, fleetlab.compare, sim.run
from fleetlab.compare import compare
from sim.load import load_scenario
from sim.run import simulate
scenario = load_scenario("scenarios/tiny.yaml")
before = set(sys.modules)
simulate(scenario, 1)
compare(scenario, ["plan", "all_at_once"], [1, 2])
print(sorted(set(sys.modules) - before))
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("number, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stop_whose_exception_was_lost_is_raised_at_the_next_report_of_progress(capfd, number, code):
    """The handler's exception swallowed where it landed (a C extension's import did that; here an except clause
    stands in for it): the command's next progress report raises it again, and the command says what stopped."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)     # as in a command run from a terminal
    reported: list[float] = []
    try:
        with pytest.raises(SystemExit) as ended:
            with stopped_at_once(lambda: "the thing stopped; nothing was written") as stop:
                progress = stop.guarding(reported.append)
                progress(0.25)
                try:
                    os.kill(os.getpid(), number)
                    time.sleep(30)      # the handler raises in here, at once
                except (SystemExit, KeyboardInterrupt):
                    pass                # ... and the exception is lost
                progress(0.5)
                reported.append(-1.0)   # not reached
    finally:
        signal.signal(signal.SIGINT, previous)
    assert ended.value.code == code
    assert reported == [0.25]
    assert f"{signal.Signals(number).name}: the thing stopped; nothing was written" in capfd.readouterr().err


def test_without_a_signal_the_progress_goes_through_and_the_handlers_are_put_back():
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    reported: list[int] = []
    with stopped_at_once(lambda: "unused") as stop:
        assert signal.getsignal(signal.SIGTERM) not in (before[signal.SIGTERM], signal.SIG_DFL)
        stop.guarding(lambda done, total: reported.append(done))(3, 4)
    assert reported == [3]
    assert {number: signal.getsignal(number) for number in before} == before


def test_a_sweep_raises_a_stop_whose_exception_was_lost_at_its_next_look():
    """The sweep looks for a stop between submissions and every 0.25 s while a run is awaited; a StopCheck's
    `asked` raises the stop there, so the sweep ends before its next run and says so."""
    ran: list[int] = []

    def counting(scenario, seed):
        ran.append(seed)        # never reached: the stop is raised before the first submission

    points = expand(ROOT / "scenarios" / "tiny.yaml", [])
    with pytest.raises(SystemExit) as ended:
        with stopped_at_once(lambda: f"the sweep stopped after {len(ran)} runs") as stop:
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(30)
            except SystemExit:
                pass                # lost
            sweep(points, [1, 2, 3], SerialExecutor(), run=counting, should_stop=stop.asked)
    assert ended.value.code == 143
    assert ran == []


def test_rigs_up_whose_sigterm_was_lost_removes_its_rigs_before_writing_an_inventory(tmp_path, monkeypatch):
    """`rigs up` raises a stop whose exception was lost while the rigs came up, before the inventory is written:
    the rigs go again, exit 143 (a fake lab stands in for Docker; tests/virtual/test_rigs_cli.py has the real one)."""
    removed: list[list[str]] = []

    class Rig:
        name, container, port, host_key, profile = "virtual-1", "c0ffee", 2222, "ssh-ed25519 AAAA", "orin-nx"

    class Lab:
        def up(self, *args, **kwargs):
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(30)
            except SystemExit:
                pass            # lost on the way
            return [Rig()]

        def down(self, containers):
            removed.append(containers)

    monkeypatch.setattr(hil_commands, "_lab", Lab)
    (tmp_path / "key").write_text("private")
    (tmp_path / "key.pub").write_text("ssh-ed25519 AAAA test")
    ran = CliRunner().invoke(app, ["rigs", "up", "1", "--inventory", str(tmp_path / "virtual.yaml"),
                                   "--key", str(tmp_path / "key")])
    assert ran.exit_code == 143, ran.output
    assert removed == [["c0ffee"]]
    assert not (tmp_path / "virtual.yaml").exists()
