"""`fleetlab sweep` as a user runs it: a table, sweep.json, exit codes, and clear refusals."""

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.processes import kill_all, left_alive, pool_family, stopped_mid_run


def fleetlab(*args: str):
    return subprocess.run([sys.executable, "-m", "fleetlab.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_sweep_json_is_byte_identical_serially_and_on_the_local_pool(sweep_file, tmp_path):
    common = ["sweep", str(sweep_file), "--seeds", "5", "--grid", "plan=plan,fast"]
    serial = fleetlab(*common, "--executor", "serial", "--out", str(tmp_path / "serial"))
    pooled = fleetlab(*common, "--executor", "local:2", "--out", str(tmp_path / "pool"))
    assert serial.returncode == pooled.returncode == 0, serial.stderr + pooled.stderr
    written = (tmp_path / "serial" / "sweep.json").read_bytes()
    assert written == (tmp_path / "pool" / "sweep.json").read_bytes()
    document = json.loads(written)
    assert document["runs"] == 10 and document["grid"] == [{"path": "plan", "values": ["plan", "fast"]}]
    assert document["points"][1]["bounds"]["t95"]["runs"] == 5
    assert "P(breaks t95)" in serial.stdout and "local pool of 2 processes" in pooled.stdout


def test_a_bound_broken_too_often_is_a_no_go(sweep_file):
    done = fleetlab("sweep", str(sweep_file), "--seeds", "3", "--grid", "expect.t95=< 1h", "--executor", "serial")
    assert done.returncode == 1
    assert "no-go (expect.t95=< 1h: t95 broke in 100.0% of runs" in done.stdout


def test_a_bad_grid_exits_2_naming_the_point_and_key_without_a_traceback(sweep_file):
    done = fleetlab("sweep", str(sweep_file), "--grid", "strategy.bake=soon", "--executor", "serial")
    assert done.returncode == 2
    assert f"{sweep_file}: grid point strategy.bake=soon: strategy.bake: expected a duration" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unknown_executor_and_an_unreachable_scheduler_exit_2(sweep_file):
    unknown = fleetlab("sweep", str(sweep_file), "--seeds", "1", "--executor", "cluster")
    assert unknown.returncode == 2 and "expected serial, local, local:N or dask://HOST:PORT" in unknown.stderr
    unreachable = fleetlab("sweep", str(sweep_file), "--seeds", "1", "--executor", "dask://127.0.0.1:9")
    assert unreachable.returncode == 2 and "cannot reach the Dask scheduler" in unreachable.stderr
    assert "Traceback" not in unknown.stderr + unreachable.stderr


def test_a_misspelt_grid_key_is_refused_with_a_suggestion_not_a_traceback():
    done = fleetlab("sweep", str(ROOT / "scenarios" / "tiny.yaml"), "--seeds", "2", "--grid", "strategy.bakee=6h",
                    "--executor", "serial")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "strategy.bakee: unknown key 'bakee'; did you mean 'bake'?" in done.stderr + done.stdout


@pytest.mark.parametrize("spec", ["dask://", "dask://:8786", "dask://127.0.0.1", "dask://127.0.0.1:99999",
                                  "tcp://127.0.0.1:x"])
def test_a_malformed_scheduler_address_is_refused_before_dask_sees_it(sweep_file, spec):
    """`dask://` once reached Dask as an empty address: a ValueError traceback, after 20 s of closing a client."""
    done = fleetlab("sweep", str(sweep_file), "--seeds", "1", "--executor", spec)
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr
    assert f"--executor {spec}: expected dask://HOST:PORT" in done.stderr


@pytest.mark.parametrize("command", [["sweep"], ["compare"], ["run", "--history", ""]])
def test_more_seeds_than_a_command_can_list_are_refused(sweep_file, command):
    """`--seeds 1e23` hung building the list of seeds (run), or would have (compare, sweep)."""
    done = fleetlab(command[0], str(sweep_file), *command[1:], "--seeds", "99999999999999999999999")
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr
    assert "less than or equal to 1000000" in done.stderr


def test_a_fleetlab_killed_with_sigkill_leaves_no_pool_process_behind(tmp_path):
    """A CI job's timeout kills with SIGKILL: the local pool's workers once waited on their queue forever and kept
    the forkserver and the resource tracker alive with them. Now they notice and end within seconds."""
    bench = str(ROOT / "scenarios" / "bench-100k.yaml")
    started = subprocess.Popen([sys.executable, "-m", "fleetlab.cli", "sweep", bench, "--seeds", "6",
                                "--executor", "local:2", "--out", str(tmp_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    family: set[int] = set()
    try:
        family = pool_family(started)
        assert len(family) >= 4, f"the pool never started: {family}"
        os.kill(started.pid, signal.SIGKILL)
        started.wait()
        # the workers look every second; a busy machine may be slower
        assert not left_alive(family, within=60), "pool processes outlived the killed fleetlab"
    finally:
        kill_all(family, started)


@pytest.mark.parametrize("signal_number, code, name",
                         [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")])
def test_ctrl_c_or_sigterm_ends_a_sweep_at_once_saying_what_was_lost(tmp_path, signal_number, code, name):
    """A Ctrl-C (SIGINT to fleetlab alone, as `kill -INT` or a CI runner sends it) waited in silence for every run
    the pool held, up to 32 of them, each seconds long on bench-100k (minutes on a million cameras); a SIGTERM ended
    fleetlab where it stood without a word. Both now end the workers and the sweep at once and say so."""
    bench = str(ROOT / "scenarios" / "bench-100k.yaml")
    args = ["sweep", bench, "--seeds", "40", "--executor", "local:2", "--out", str(tmp_path / "out")]
    with stopped_mid_run(args, signal_number, ROOT, timeout=100) as (done, family):
        assert done.returncode == code, done.stderr
        assert f"{name}: the sweep stopped after " in done.stderr
        assert " of 40 runs; nothing was written" in done.stderr
        assert "Traceback" not in done.stderr and not (tmp_path / "out" / "sweep.json").exists()
        assert not left_alive(family, within=30), "pool processes outlived the stopped sweep"
