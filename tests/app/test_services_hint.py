"""`make test` on a machine without the system parts says which test groups skip and the one command that
installs them; with everything present it says nothing."""

from pathlib import Path

import tests.services as services


def test_a_missing_part_is_named_with_its_tests_and_the_install_command(monkeypatch):
    real_exists = Path.exists
    monkeypatch.setattr(Path, "exists", lambda self: False if str(self) == "/usr/sbin/sshd" else real_exists(self))
    lines = services.header_lines()
    assert "missing here: OpenSSH sshd -> tests/hil (the HIL runner over real SSH) will skip" in lines
    assert lines[-1].startswith("install them with: sudo .ci/install-system-parts")


def test_nothing_is_said_when_every_part_is_here(monkeypatch):
    monkeypatch.setattr(services, "missing_parts", lambda: [])
    assert services.header_lines() == []


def test_the_install_script_ci_uses_is_the_one_named():
    root = Path(__file__).resolve().parents[2]
    script = root / ".ci" / "install-system-parts"
    assert script.stat().st_mode & 0o111
    assert ".ci/install-system-parts" in (root / ".ci" / "run").read_text()
    assert "openssh-server" in script.read_text() and "docker.io" in script.read_text()
