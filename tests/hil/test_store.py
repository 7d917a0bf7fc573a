"""The A/B store and wave planning, fast, through LocalShell (the same commands the rigs get over SSH)."""

from pathlib import Path

import pytest

from hil.errors import HilError
from hil.faults import FaultPlan, check_point
from hil.shell import LocalShell
from hil.store import Store, sha256_of
from sim.model.hil_spec import HilFault


@pytest.fixture
def store(tmp_path) -> Store:
    found = Store(LocalShell(), str(tmp_path / "store"))
    found.prepare()
    return found


@pytest.fixture
def artifact(tmp_path) -> Path:
    path = tmp_path / "model.onnx"
    path.write_bytes(bytes(range(256)) * 400)
    return path


def test_a_partial_transfer_resumes_from_what_is_on_the_rig(store, artifact):
    sha = sha256_of(artifact)
    Path(store.path("incoming", f"{sha}.part")).write_bytes(artifact.read_bytes()[:60_000])
    report = store.transfer(artifact, sha)
    assert report.ok and report.resumed_from == [60_000] and report.bytes_sent == artifact.stat().st_size - 60_000


def test_a_corrupted_copy_is_detected_by_sha256_deleted_and_sent_again(store, artifact):
    sha = sha256_of(artifact)
    part = Path(store.path("incoming", f"{sha}.part"))
    part.write_bytes(b"\0" * artifact.stat().st_size)
    report = store.transfer(artifact, sha)
    assert report.ok and "the copy was corrupted and is deleted; sent again" in report.detail
    assert report.bytes_sent == artifact.stat().st_size and sha256_of(part) == sha


def test_install_replaces_a_slot_whole_and_switch_moves_active_atomically(store, artifact):
    sha = sha256_of(artifact)
    Path(store.path("slots", "b", "stale.engine")).write_text("old")
    assert store.transfer(artifact, sha).ok
    store.install(sha, "b", "2.1")
    assert sorted(p.name for p in Path(store.path("slots", "b")).iterdir()) == ["model.onnx", "version"]
    store.switch("b")
    assert store.active_slot() == "b" and store.inactive_slot() == "a" and store.version("b") == "2.1"
    store.switch("a")
    assert Path(store.path("active")).resolve() == Path(store.path("slots", "a")).resolve()


def test_fault_points_and_names_are_checked_before_anything_runs():
    assert check_point("transfer@50%") is None and check_point("before:build") is None
    assert "unknown fault point" in check_point("during:lunch")
    plan = FaultPlan([HilFault(fault="meteor", at_step="transfer@150%")])
    assert plan.problems() == [
        "hil.faults.0.fault: 'meteor' is not available on these rigs (available: link_drop, sigint, sigkill, sigterm)",
        "hil.faults.0.at_step: unknown fault point 'transfer@150%': use before:STEP (steps: preflight, baseline, kill, "
        "hold_download, transfer, hold_install, build, parity, latency, shadow, calibrate, defer, activate, "
        "rollback), mid:install, mid:build, after:switch, mid:rollback, mid:restore or transfer@P% with 0 < P < 100"]


class RenameGoesNowhere(LocalShell):
    """A rig whose rename of the new `active` link silently does nothing (a read-only overlay, a full inode table)."""

    def run(self, line, timeout, stdin=None):
        if line.startswith("mv -Tf") and line.rstrip().endswith("/active"):
            line = "true"
        return super().run(line, timeout, stdin)


def test_a_switch_whose_rename_did_nothing_is_caught(tmp_path, artifact):
    store = Store(RenameGoesNowhere(), str(tmp_path / "store"))
    store.prepare()
    sha = sha256_of(artifact)
    assert store.transfer(artifact, sha).ok
    store.install(sha, "a", "2.0")
    with pytest.raises(HilError, match="switched to slot a but active still points elsewhere"):
        store.switch("a")


def test_a_store_path_with_a_newline_still_checks_its_sha256(tmp_path, artifact):
    store = Store(LocalShell(), str(tmp_path / "odd\nstore"))
    store.prepare()
    report = store.transfer(artifact, sha256_of(artifact))
    assert report.ok, report.detail
