"""A rig's file tree in a temporary folder — facts, profile, model store — and its inventory entry, with the rig
tools from rigs/virtual/tools run by this interpreter."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from tests.conftest import ROOT

TOOLS = ROOT / "rigs" / "virtual" / "tools"
RELEASE = ("# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, "
           "DATE: Wed Jan  8 01:49:37 UTC 2025\n")


def tool(home: Path, script: str) -> str:
    """A rig tool run by this interpreter; a camera service started by a test lives two minutes at most."""
    return f"env FLEETLAB_RIG_HOME={shlex.quote(str(home))} FLEETLAB_SERVICE_LIFETIME=120 " \
           f"{shlex.quote(sys.executable)} {shlex.quote(str(TOOLS / script))}"


def stop_service(rig: dict) -> None:
    """Stop a test rig's camera service daemon (by the pid it recorded)."""
    import subprocess

    subprocess.run([sys.executable, str(TOOLS / "camera_service.py"), "stop", "--store", rig["store"]],
                   capture_output=True, timeout=30, check=False)


def make_rig(folder: Path, name: str, port: int, host_key: str | None, user: str, key: Path,
             health: str | None = None, **extra: object) -> dict:
    home, store = folder / "home", folder / "store"
    for path in (home, store, folder / "etc", folder / "proc" / "device-tree"):
        path.mkdir(parents=True, exist_ok=True)
    (folder / "etc" / "nv_tegra_release").write_text(RELEASE)
    (folder / "proc" / "device-tree" / "model").write_bytes(
        b"NVIDIA Jetson Orin NX Engineering Reference Developer Kit\x00")
    (home / "profile.json").write_text(json.dumps({"ambient_c": 30.0, "time_constant_s": 5.0}))
    (folder / "proc" / "vmstat").write_text("oom_kill 0\n")     # the rig's own count: not the host's, which moves
    service = tool(home, "camera_service.py")
    rig = {"name": name, "host": "127.0.0.1", "port": port, "user": user, "key_file": str(key),
           "hardware": "orin-nx", "jetpack": "6", "tensorrt": "8.6", "tags": ["virtual", "orin"],
           "store": str(store),
           "service": {"restart": f"{service} restart --store {shlex.quote(str(store))}",
                       "health": health or f"{service} health --store {shlex.quote(str(store))}",
                       "stop": f"{service} stop --store {shlex.quote(str(store))}",
                       "hand_over": f"{service} hand-over --store {shlex.quote(str(store))}",
                       "health_timeout": "3s"},
           "tools": {"trtexec": tool(home, "trtexec.py"), "tegrastats": tool(home, "tegrastats.py"),
                     "nvpmodel": tool(home, "nvpmodel.py"), "python": shlex.quote(sys.executable)},
           "facts": {"nv_tegra_release": str(folder / "etc" / "nv_tegra_release"),
                     "device_model": str(folder / "proc" / "device-tree" / "model"),
                     "oom_kills": [str(folder / "proc" / "vmstat")]}}
    if host_key is not None:
        rig["host_key"] = host_key
    rig.update(extra)
    return rig
