"""Shared by the rig tools: start a function as a daemon that outlives the SSH session that started it."""

from __future__ import annotations

import os
from collections.abc import Callable


def daemonize(pid_file: str, body: Callable[[], None]) -> bool:
    """Double fork: in the daemon, detach from the session and terminal, write the pid, run `body`, exit.
    In the caller, return True once the first child is reaped (the daemon runs on)."""
    if os.fork():
        os.wait()
        return True
    os.setsid()
    if os.fork():
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    with open(pid_file, "w") as sink:
        sink.write(str(os.getpid()))
    try:
        body()
    finally:
        os._exit(0)
