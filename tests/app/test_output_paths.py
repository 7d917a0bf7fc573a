"""An output path that cannot be written is refused before any work, with exit 2 and no traceback; nothing
half-written is left. Once every command wrote only at its end: a simulation of minutes (or an hour of rig time)
ran first, then ended in a FileExistsError / NotADirectoryError traceback and the result was lost."""

import subprocess
import sys

import pytest

from fleetlab.files import OutputError, write_whole
from tests.conftest import ROOT

TINY = str(ROOT / "scenarios" / "tiny.yaml")


def fleetlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fleetlab.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


@pytest.mark.parametrize("command, worked", [
    (["sim", TINY, "--out", "{blocked}"], "events in"),
    (["sweep", TINY, "--seeds", "2", "--out", "{blocked}/sweep"], "runs on"),
    (["run", TINY, "--history", "", "--out", "{blocked}/report"], "scenario in"),
    (["schema", "--write", "{blocked}/schema.json"], "wrote"),
    (["export", TINY, "--to", "mender", "--approximate", "--out", "{blocked}/policy.json"], "wrote"),
    (["models", "--out", "{blocked}"], "candidate:"),
])
def test_an_output_under_a_file_is_refused_before_the_work(tmp_path, command, worked):
    blocked = tmp_path / "a-file"
    blocked.write_text("keep me\n")
    done = fleetlab(*[part.replace("{blocked}", str(blocked)) for part in command])
    said = done.stdout + done.stderr
    assert done.returncode == 2 and "Traceback" not in said, said
    assert f"cannot write in {blocked}: it is a file" in said or f"cannot write {blocked}/" in said, said
    assert "not a folder" in said
    assert worked not in said                       # refused before simulating, sweeping or writing models
    assert blocked.read_text() == "keep me\n" and sorted(tmp_path.iterdir()) == [blocked]


def test_a_file_that_cannot_be_written_leaves_nothing_and_says_why(tmp_path):
    (tmp_path / "result.json").mkdir()              # a folder where the file should go: the rename fails
    with pytest.raises(OutputError, match="cannot write .*result.json: "):
        write_whole(tmp_path / "result.json", "{}\n")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["result.json"]    # no partial file left


def test_sim_writes_its_result_into_a_new_folder(tmp_path):
    done = fleetlab("sim", TINY, "--out", str(tmp_path / "new" / "deeper"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "new" / "deeper" / "result.json").stat().st_size > 0
    assert sorted(path.name for path in (tmp_path / "new" / "deeper").iterdir()) == ["result.json"]  # no probe


HOLDER = """
import fcntl, os, sys, time
descriptor = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
fcntl.flock(descriptor, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("command, worked", [
    (["sim", TINY, "--out", "{out}"], "events in"),
    (["sweep", TINY, "--seeds", "2", "--out", "{out}"], "runs on"),
    (["run", TINY, "--history", "", "--out", "{out}"], "scenario in"),
])
def test_a_folder_another_command_is_writing_is_refused_until_it_ends(tmp_path, command, worked):
    """Two commands writing one --out at once left a folder whose report was one run's and result.json the other's
    (each file whole): the second is refused before it works, and a holder that dies (killed) holds nothing."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "result.json").write_text("the other run's\n")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        done = fleetlab(*[part.replace("{out}", str(out)) for part in command])
        said = done.stdout + done.stderr
        assert done.returncode == 2 and "Traceback" not in said, said
        assert f"cannot write in {out}: another fleetlab command is writing there now" in said, said
        assert worked not in said
        assert sorted(path.name for path in out.iterdir()) == ["result.json"]
        assert (out / "result.json").read_text() == "the other run's\n"
    finally:
        holder.kill()
        holder.wait(timeout=30)
    done = fleetlab(*[part.replace("{out}", str(out)) for part in command])
    assert done.returncode in (0, 1), done.stdout + done.stderr      # the killed holder left no lock behind
    assert worked in done.stdout + done.stderr


def test_one_command_after_another_writes_the_same_folder(tmp_path):
    """The hold ends with the command: in one process (the CLI called twice, as a script or a test would), the second
    call is not refused by the first one's hold."""
    from typer.testing import CliRunner

    from fleetlab.cli import app

    runner = CliRunner()
    for _ in range(2):
        done = runner.invoke(app, ["sim", TINY, "--out", str(tmp_path)])
        assert done.exit_code == 0, done.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["result.json"]
