"""The virtual rigs' camera service tool where a service dies mid-answer: what the kernel's OOM killer does to one
that is loading (tests/virtual/test_fault_matrix.py's oom_at_load cases meet it on Docker rigs now and then)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

from tests.hil.rigtree import TOOLS


def test_a_service_that_closes_without_answering_is_unhealthy_with_the_reason_not_a_traceback(tmp_path):
    folder = tmp_path / "store" / "service"
    folder.mkdir(parents=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(folder / "health.sock"))
    listener.listen(1)

    def close_at_once() -> None:
        connection, _ = listener.accept()
        connection.recv(4096)
        connection.close()             # killed before it said a word

    threading.Thread(target=close_at_once, daemon=True).start()
    try:
        done = subprocess.run([sys.executable, str(TOOLS / "camera_service.py"), "health", "--store",
                               str(Path(tmp_path / "store"))], capture_output=True, text=True, timeout=60)
    finally:
        listener.close()
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "unhealthy: the service does not answer (the service closed the connection without an answer)" \
        in done.stdout, done.stdout
