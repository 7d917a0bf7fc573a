"""The user's output files: made ready before any work, written whole or not at all.

A folder or file named on the command line (`--out`, `--write`) is checked before the command simulates, measures
or sweeps: a path that cannot be written is an error at once, not after minutes of simulation or of rig time.
Files are written to a hidden partial file and renamed into place, so a reader (or a CI job) never sees half of
one. Both raise OutputError (an AppError: the CLI prints it and exits 2), never a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from fleetlab.errors import AppError


class OutputError(AppError):
    """An output path that cannot be written; the message names it and says why."""


def _cannot(path: Path, error: OSError) -> OutputError:
    if isinstance(error, FileExistsError):      # mkdir met a file where the folder should be
        return OutputError(f"cannot write in {path}: it is a file, not a folder")
    if isinstance(error, NotADirectoryError):
        return OutputError(f"cannot write {path}: part of that path is a file, not a folder")
    return OutputError(f"cannot write {path}: {error.strerror or error}")


def output_folder(folder: Path) -> Path:
    """Create `folder` if needed and prove a file can be written in it (the probe is removed)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".fleetlab-probe-"):
            pass
    except OSError as error:
        raise _cannot(folder, error) from None
    return folder


def held_output_folder(folder: Path, on_done: Callable[[Callable[[], None]], object]) -> Path:
    """`output_folder`, then hold the folder for this command until `on_done`'s callback: a second fleetlab command
    writing there meanwhile is refused, rather than leave a folder whose report is one run's and result.json
    another's (each file whole, the folder a mix a release manager cannot tell apart).

    The hold is an advisory lock (flock) on the folder itself: nothing is left in the folder, and the kernel drops it
    when the process ends, so a killed run leaves no stale lock. Where the file system has no such locks (some
    network mounts), the folder is written unheld, as before."""
    output_folder(folder)
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return folder
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        os.close(descriptor)
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise OutputError(f"cannot write in {folder}: another fleetlab command is writing there now; "
                              f"wait for it to end or name another folder") from None
        return folder
    on_done(lambda: os.close(descriptor))
    return folder


def output_file(path: Path) -> Path:
    """Ready the folder of a file to be written later; a path that is a folder is refused."""
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; name a file")
    output_folder(path.parent)
    return path


def write_whole(path: Path, text: str) -> None:
    """Write to a hidden partial file beside `path`, then rename it into place; on failure nothing is left."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as error:
        with contextlib.suppress(OSError):      # under a file or a folder gone, there is no partial to remove
            partial.unlink(missing_ok=True)
        raise _cannot(path, error) from None
