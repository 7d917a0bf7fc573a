"""`fleetlab sweep` as a user runs it: a table, sweep.json, exit codes, and clear refusals."""

import json
import subprocess
import sys

from tests.conftest import ROOT


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
