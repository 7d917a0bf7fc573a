"""Device facts: /etc/nv_tegra_release, /proc/device-tree/model and compatible, `nvpmodel -q`, `df -Pk`, and the
kernel's count of out-of-memory kills (/proc/vmstat, or a cgroup's memory.events / memory.oom_control)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hil.parsers.errors import ParseError

_RELEASE = re.compile(r"^# R(?P<major>\d+) \(release\), REVISION: (?P<revision>\d+(?:\.\d+)*)"
                      r"(?:, GCID: (?P<gcid>\d+))?(?:, BOARD: (?P<board>[\w-]+))?(?:, EABI: (?P<eabi>\w+))?"
                      r"(?:, DATE: (?P<date>.+))?\s*$")
# L4T major release -> JetPack major: the pairing NVIDIA documents for each L4T line
_JETPACK_BY_L4T = {28: "3", 32: "4", 34: "5", 35: "5", 36: "6", 38: "7", 39: "7"}


@dataclass(frozen=True)
class TegraRelease:
    l4t: str                  # "35.3.1"
    board: str | None
    gcid: str | None
    date: str | None
    extras: dict[str, str]    # KERNEL_VARIANT: oot, TARGET_USERSPACE_LIB_DIR=nvidia, ...

    @property
    def jetpack_major(self) -> str | None:
        return _JETPACK_BY_L4T.get(int(self.l4t.split(".")[0]))


def parse_nv_tegra_release(text: str) -> TegraRelease:
    lines = [line for line in text.splitlines() if line.strip()]
    match = _RELEASE.match(lines[0]) if lines else None
    if not match:
        raise ParseError("nv_tegra_release", lines[0] if lines else text,
                         "expected '# R35 (release), REVISION: 3.1, …'")
    extras = {}
    for line in lines[1:]:
        key, _, value = line.lstrip("# ").partition(":" if ":" in line and "=" not in line else "=")
        extras[key.strip()] = value.strip()
    return TegraRelease(f"{match['major']}.{match['revision']}", match["board"], match["gcid"], match["date"], extras)


def parse_device_tree_strings(raw: bytes | str) -> list[str]:
    """/proc/device-tree/model (one NUL-terminated string) or compatible (NUL-separated): the strings in it."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    strings = [part.strip() for part in text.split("\x00") if part.strip()]
    if not strings:
        raise ParseError("device-tree", text, "empty")
    return strings


@dataclass(frozen=True)
class PowerMode:
    name: str
    mode_id: int | None      # not printed by some JetPack 4 builds


def parse_nvpmodel_query(text: str) -> PowerMode:
    """`nvpmodel -q`: 'NV Power Mode: NAME' then the id; fan-mode lines and NVPM ERROR lines tolerated."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        match = re.match(r"NV Power Mode: ?(\S+)", line)
        if match:
            following = lines[index + 1] if index + 1 < len(lines) else ""
            return PowerMode(match.group(1), int(following) if following.isdigit() else None)
    raise ParseError("nvpmodel -q", lines[0] if lines else text, "no 'NV Power Mode:' line")


def parse_df_available_bytes(text: str) -> int:
    """`df -Pk PATH`: the available kilobytes of the one file system listed, in bytes."""
    rows = [line.split() for line in text.splitlines() if line.strip()]
    if len(rows) < 2 or len(rows[-1]) < 6 or not rows[-1][3].isdigit():
        raise ParseError("df -Pk", text.strip()[:120], "expected a header and one file-system row")
    return int(rows[-1][3]) * 1024


_OOM_KILLS = re.compile(r"^oom_kill (\d+)\s*$", re.M)


def parse_oom_kills(text: str) -> int | None:
    """The first `oom_kill N` line: how often the kernel killed a process for memory (kernels from 4.13 count them;
    older ones, JetPack 4's 4.9 among them, do not: None)."""
    match = _OOM_KILLS.search(text)
    return int(match.group(1)) if match else None
