"""Reading an input file: bounded, UTF-8, line ends made `\\n`, and a pipe read once. Every file a user gives
(scenarios, calibration files, rig inventories, update-system policies) comes in through `read_text`."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sim.model.errors import Problem, ScenarioError

MAX_FILE_BYTES = 4 * 2**20

# what was read from a pipe (`fleetlab validate <(make-scenario)`, /dev/stdin), by its path: a pipe gives its bytes
# once, and a command reads a file more than once (validate: the scenario, then its keys' positions)
_READ_ONCE: dict[str, bytes] = {}


def read_text(path: str | Path, limit: int = MAX_FILE_BYTES) -> str:
    """The file as text with its line ends made `\\n`, read no further than the input limit: a path such as
    /dev/zero, or a file of gigabytes, is refused after `limit` + 1 bytes instead of read whole (a past rollout's
    records, one per device, are given a larger limit than a scenario). A pipe's bytes are kept, so that reading it
    again gives them again."""
    try:
        data = _READ_ONCE.get(str(path))
        if data is None:
            with open(path, "rb") as file:
                data = file.read(limit + 1)
                if stat.S_ISFIFO(os.fstat(file.fileno()).st_mode):
                    _READ_ONCE[str(path)] = data
    except OSError as error:
        raise ScenarioError([Problem(str(path), 0, 0, "", f"cannot read the file: {_why_unreadable(error)}")]) from None
    if len(data) > limit:
        raise ScenarioError([Problem(str(path), 0, 0, "", f"the file is larger than {limit:,} bytes, the "
                                                          "limit for inputs (docs/architecture.md)")])
    text = _decoded(data, str(path))
    del data        # a past rollout's records can be hundreds of MB: one copy alive at a time, not three
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _why_unreadable(error: OSError) -> str:
    """The reason in words, without Python's `[Errno 2] … 'path'` (the path already leads the line)."""
    if isinstance(error, FileNotFoundError):
        return "there is no such file"
    if isinstance(error, IsADirectoryError):
        return "it is a folder; give a file in it (`fleetlab run` and `fleetlab validate` take folders)"
    if isinstance(error, PermissionError):
        return "permission denied"
    return error.strerror or str(error)


def _decoded(data: bytes, filename: str) -> str:
    """UTF-8 (a byte-order mark is fine); anything else is refused at the first byte that is not."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ScenarioError([Problem(filename, 1, 1, "", "the file is UTF-16; save it as UTF-8")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - data.rfind(b"\n", 0, error.start)
        message = f"byte 0x{data[error.start]:02x} is not UTF-8 ({error.reason}); save the file as UTF-8"
        raise ScenarioError([Problem(filename, line, column, "", message)]) from None
