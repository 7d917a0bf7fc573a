"""A real PostgreSQL server (Debian's package) in a temporary folder on a loopback port, for the history tests."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.hil.sshd import free_port


def server_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return Path(found[-1]).parent if found else None


@dataclass(frozen=True)
class Postgres:
    url: str
    data: Path
    pid: int


def _as_postgres(args: list[str]) -> subprocess.CompletedProcess:
    runner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(runner + args, capture_output=True, text=True, timeout=120, check=False)


def start_postgres(folder: Path) -> Postgres:
    binaries = server_binaries()
    data = folder / "data"
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    init = _as_postgres([str(binaries / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres",
                         "--no-sync", "-E", "UTF8"])
    if init.returncode:
        raise RuntimeError(f"initdb failed: {init.stderr}")
    port = free_port()
    started = _as_postgres([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w",
                            "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start"])
    if started.returncode:
        raise RuntimeError(f"postgres did not start: {started.stderr} {(folder / 'server.log').read_text()}")
    pid = int((data / "postmaster.pid").read_text().split()[0])
    return Postgres(f"postgresql://postgres@127.0.0.1:{port}/postgres", data, pid)


def stop_postgres(server: Postgres) -> None:
    """SIGINT is PostgreSQL's fast shutdown; wait for the postmaster to go."""
    try:
        os.kill(server.pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(server.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(server.pid, signal.SIGKILL)
