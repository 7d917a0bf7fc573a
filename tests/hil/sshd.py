"""A real OpenSSH server on a loopback port, with freshly generated host and user keys, for the HIL tests."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


@dataclass(frozen=True)
class Sshd:
    port: int
    host_key: str            # 'ssh-ed25519 AAAA…' as the server offers it
    user: str
    user_key: Path           # private key the server accepts
    process: subprocess.Popen


def keygen(path: Path, kind: str = "ed25519") -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "fleetlab-test", "-f", str(path)], check=True)
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_sshd(folder: Path) -> Sshd:
    folder.mkdir(parents=True, exist_ok=True)
    host_key = keygen(folder / "host_ed25519")
    user_public = keygen(folder / "user_ed25519")
    (folder / "authorized_keys").write_text(user_public + "\n")
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)      # sshd's privilege-separation directory
    port = free_port()
    # Sessions get a home of their own: a rig has no login scripts to run, and bash, started by sshd, would source
    # this machine's ~/.bashrc (a pyenv init here: 0.2 s on every one of a run's hundreds of commands).
    (folder / "home").mkdir(exist_ok=True)
    config = folder / "sshd_config"
    config.write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {folder / 'host_ed25519'}
PidFile {folder / 'sshd.pid'}
AuthorizedKeysFile {folder / 'authorized_keys'}
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
AllowTcpForwarding yes
Subsystem sftp internal-sftp
MaxStartups 100
MaxSessions 100
LogLevel ERROR
SetEnv HOME={folder / 'home'}
""")
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                               stderr=(folder / "sshd.log").open("wb"), start_new_session=True)
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("sshd did not start: " + (folder / "sshd.log").read_text()) from None
            time.sleep(0.05)
    return Sshd(port, host_key, getpass.getuser(), folder / "user_ed25519", process)


def stop_sshd(server: Sshd) -> None:
    """sshd and the sessions it forked share its process group: stop them all by that id."""
    try:
        os.killpg(server.process.pid, 15)
        server.process.wait(timeout=10)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, 9)
        server.process.wait()
