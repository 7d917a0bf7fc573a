"""Virtual Jetson rigs: Docker containers (image built by rigs/virtual/build.sh) with a real sshd, a Jetson
profile's CPU quota and memory limit, and a model store that survives power cuts like flash. The only module that
imports docker.

Each rig's sshd is published on a port of 127.0.0.1 only (chosen here and fixed, so it stays the same after a power
cut), and the harness reaches rigs there, never on the containers' bridge addresses — which also works where
containers run inside a VM. Containers are found and stopped by id, never by name.

Faults, each callable at a precise step of the HIL sequence (see `injectors`):
link down / up, bandwidth (`tc tbf` on the rig's link), power cut (kill, then start: the store volume persists),
a reboot loop (two power cuts in a row), disk full (the store filled up), corrupted transfer (bytes flipped in the
copy on the rig), thermal stress, sshd restarted (every session dropped), the rig's clock set an hour forward or
back, a camera service whose health flaps (passes once, then fails), the rig gone for longer than a lease, a game,
and a model too big for the board: the next tool to load one (an engine build, a timed run, the camera service)
killed for memory (the kernel's own OOM killer, in the container's memory limit).
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException, NotFound

from hil.errors import HilError
from hil.faults import Injector
from hil.shell import Shell

log = logging.getLogger(__name__)
IMAGE = "fleetlab/virtual-rig:latest"
LABEL = "fleetlab.virtual-rig"
PROFILES = Path(__file__).resolve().parent.parent / "rigs" / "virtual" / "profiles"
STORE = "/opt/fleetlab/models"
BOOT_TIMEOUT = 60.0
RIG_GONE_FOR = 40.0       # seconds the rig_gone fault keeps a rig away
GAME_LENGTH = 600.0       # seconds the game fault keeps a rig's camera busy (longer than a test's scaled defer limit)


class VirtualRigError(HilError):
    pass


@dataclass(frozen=True)
class VirtualRig:
    name: str
    container: str        # the container id: how this rig is found, faulted and removed
    port: int
    host_key: str
    profile: str


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block is done, then take effect: an interrupt inside Docker's create-and-start
    (a request the engine carries out whether or not we wait for its answer) would leave a container whose id we
    never learned. The handlers are swapped rather than the signals masked: a signal masked in this thread is
    delivered to any other thread that does not mask it, and Python then runs the handler here all the same. Only
    the main thread can take signals; elsewhere there is nothing to hold."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {number: signal.signal(number, lambda number, frame: received.append(number))
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if received:
            signal.raise_signal(received[0])      # now, to the handler the caller had


def profile(name: str) -> dict:
    known = sorted(path.stem for path in PROFILES.glob("*.json"))
    if name not in known:           # a name, never a path: `../x` must not read a file elsewhere
        raise VirtualRigError(f"unknown profile {name!r}; known: {', '.join(known)}")
    return json.loads((PROFILES / f"{name}.json").read_text())


PORT_TRIES = 3       # starts of one rig, each on a freshly chosen port


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_sshd(port: int, timeout: float = BOOT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                if sock.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise VirtualRigError(f"no sshd answered on 127.0.0.1:{port} within {timeout:.0f} s")


class VirtualLab:
    def __init__(self, image: str = IMAGE) -> None:
        try:
            self.client = docker.from_env(timeout=120)
            self.client.ping()
        except DockerException as error:
            raise VirtualRigError(f"cannot reach the Docker engine: {error}") from None
        self.image = image
        self._rates: dict[str, float] = {}

    # --- lifecycle ------------------------------------------------------------------------------------------

    def up(self, count: int, profile_name: str, public_key: str, bandwidth: float | None = None,
           prefix: str = "vrig", store_tmpfs: int | None = None) -> list[VirtualRig]:
        """Start `count` rigs of a profile; returns them once each sshd answers."""
        spec = profile(profile_name)
        try:
            self.client.images.get(self.image)
        except NotFound:
            raise VirtualRigError(f"image {self.image} is missing: build it with rigs/virtual/build.sh") from None
        started: list[VirtualRig] = []
        try:        # all or nothing: a rig left running with no inventory naming it could only be found by label
            for _ in range(count):
                with _signals_held():
                    started.append(self._start(f"{prefix}-{uuid.uuid4().hex[:6]}", profile_name, spec, public_key,
                                               store_tmpfs))
            for rig in started:
                _wait_for_sshd(rig.port)
                if bandwidth:
                    self.set_bandwidth(rig.container, bandwidth)
            return [self._with_host_key(rig) for rig in started]
        except BaseException as error:          # an interrupt too
            with contextlib.suppress(DockerException):
                self.down([rig.container for rig in started])
            if isinstance(error, DockerException):
                raise VirtualRigError(f"the virtual rigs did not come up ({len(started)} of {count} had started; "
                                      f"removed again): {error}") from None
            raise

    def _start(self, name: str, profile_name: str, spec: dict, public_key: str, store_tmpfs: int | None) -> VirtualRig:
        """Create and start one rig. Its port is chosen free, but something may bind it before Docker publishes it:
        such a start is tried again on another port (PORT_TRIES in all). A rig that did not start is removed."""
        for attempt in range(1, PORT_TRIES + 1):
            port = _free_port()
            storage = {"tmpfs": {STORE: f"size={store_tmpfs}"}} if store_tmpfs else \
                {"volumes": {f"{name}-store": {"bind": STORE, "mode": "rw"}}}
            container = self.client.containers.create(
                self.image, detach=True, hostname=name, labels={LABEL: name, "fleetlab.profile": profile_name},
                environment={"FLEETLAB_PROFILE": profile_name, "FLEETLAB_AUTHORIZED_KEY": public_key},
                ports={"22/tcp": ("127.0.0.1", port)}, nano_cpus=int(spec["cpus"] * 1e9), mem_limit=spec["memory"],
                cap_add=["NET_ADMIN"], **storage)
            try:    # created, not yet started: a start that fails must not leave it
                container.start()
            except BaseException as error:
                with contextlib.suppress(DockerException):
                    self.down([container.id])
                if attempt < PORT_TRIES and "address already in use" in str(error):
                    log.info("%s: port %d was taken before Docker published it; another port", name, port)
                    continue
                raise
            log.info("started %s (%s) on 127.0.0.1:%d", name, container.short_id, port)
            return VirtualRig(name, container.id, port, "", profile_name)
        raise AssertionError("unreachable")

    def _with_host_key(self, rig: VirtualRig) -> VirtualRig:
        """The host key read through the Docker engine (a channel we trust: we made the container)."""
        key = self._exec(rig.container, ["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).split()
        return VirtualRig(rig.name, rig.container, rig.port, f"{key[0]} {key[1]}", rig.profile)

    def _existing(self, containers: list[str]) -> Iterator[tuple[str, Any]]:
        """(id as given, container) for each of `containers` the engine still has."""
        for container_id in containers:
            try:
                yield container_id, self.client.containers.get(container_id)
            except NotFound:
                continue

    def not_rigs(self, containers: list[str]) -> list[str]:
        """Those of `containers` that exist and are not virtual rigs (no fleetlab label): `down` leaves them alone."""
        return [container_id for container_id, container in self._existing(containers)
                if LABEL not in container.labels]

    def down(self, containers: list[str]) -> list[str]:
        """Remove rigs by container id, with their store volumes; returns the ids removed. A container that is
        not a virtual rig (Docker also finds containers by name or id prefix, and an inventory is a file anyone can
        edit) is left alone: removing it would take its volumes, someone's data, with it."""
        removed = []
        for container_id, container in self._existing(containers):
            if LABEL not in container.labels:
                continue
            volumes = [mount["Name"] for mount in container.attrs.get("Mounts", []) if mount.get("Type") == "volume"]
            container.remove(force=True)
            for volume in volumes:
                try:
                    self.client.volumes.get(volume).remove(force=True)
                except NotFound:
                    pass
            removed.append(container_id)
        return removed

    def status(self) -> list[dict]:
        return [{"name": c.labels.get(LABEL), "container": c.short_id, "status": c.status,
                 "profile": c.labels.get("fleetlab.profile"),
                 "port": (c.ports.get("22/tcp") or [{}])[0].get("HostPort")}
                # a container removed between the listing and its inspection (a rig going down) is left out
                for c in self.client.containers.list(all=True, filters={"label": LABEL}, ignore_removed=True)]

    # --- faults ---------------------------------------------------------------------------------------------

    def _exec(self, container_id: str, command: list[str]) -> str:
        code, output = self.client.containers.get(container_id).exec_run(command)
        if code != 0:
            raise VirtualRigError(f"{' '.join(command)} failed in {container_id[:12]}: {output.decode()[-300:]}")
        return output.decode()

    def link(self, container_id: str, up: bool) -> None:
        self._exec(container_id, ["ip", "link", "set", "eth0", "up" if up else "down"])

    def set_bandwidth(self, container_id: str, rate: float) -> None:
        """Shape the rig's link to `rate` bytes/s both ways with a token bucket (tbf; netem is not available):
        the rig's eth0 for what it sends, and the host end of its veth pair for what it receives (a qdisc shapes
        only what leaves an interface)."""
        bits = int(rate * 8)
        burst = max(32 * 1024, int(rate / 20))           # ~50 ms of traffic, at least 32 KiB
        shape = ["tbf", "rate", f"{bits}bit", "burst", str(burst), "latency", "100ms"]
        self._exec(container_id, ["tc", "qdisc", "replace", "dev", "eth0", "root", *shape])
        index = self._exec(container_id, ["cat", "/sys/class/net/eth0/iflink"]).strip()
        host_side = next((line.split(": ")[1].split("@")[0] for line in
                          subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
                          .stdout.splitlines() if line.split(": ")[0] == index), None)
        if host_side is None:
            raise VirtualRigError(f"cannot find the host end of {container_id[:12]}'s link (Docker in a VM?)")
        done = subprocess.run(["tc", "qdisc", "replace", "dev", host_side, "root", *shape], capture_output=True,
                              text=True, check=False)
        if done.returncode:
            raise VirtualRigError(f"cannot shape {host_side} on this host: {done.stderr.strip()}")
        self._rates[container_id] = rate

    def power_cut(self, container_id: str, off_for: float = 1.0) -> None:
        """Pull the plug: SIGKILL, no shutdown; then power on. The model store persists (a volume, like flash)."""
        container = self.client.containers.get(container_id)
        container.kill()
        time.sleep(off_for)
        container.start()
        if container_id in self._rates:         # a new boot, a new link: shape it again
            self.set_bandwidth(container_id, self._rates[container_id])

    def fill_disk(self, container_id: str, leave_bytes: int = 64 * 1024) -> None:
        """Fill the rig's store, leaving `leave_bytes`. Only for a store on a small tmpfs (`up(store_tmpfs=…)`):
        on a volume it would fill the host's own disk."""
        tmpfs = self.client.containers.get(container_id).attrs["HostConfig"].get("Tmpfs") or {}
        if STORE not in tmpfs:
            raise VirtualRigError("disk_full needs a rig whose model store is a tmpfs (fleetlab rigs up --store-size)")
        script = (f"free=$(df -Pk {STORE} | awk 'NR==2{{print $4}}'); "
                  f"fill=$(( free - {leave_bytes // 1024} )); [ $fill -gt 0 ] && "
                  f"dd if=/dev/zero of={STORE}/.filler bs=1024 count=$fill 2>/dev/null; true")
        self._exec(container_id, ["sh", "-c", script])

    def corrupt_transfer(self, container_id: str) -> None:
        """Flip bytes in every transfer in progress on the rig (bit rot on the way, a bad write)."""
        script = ("for f in " + STORE + "/incoming/*.part; do [ -f \"$f\" ] || continue; "
                  "printf 'CORRUPT' | dd of=\"$f\" bs=1 seek=64 conv=notrunc 2>/dev/null; done")
        self._exec(container_id, ["sh", "-c", script])

    def thermal_stress(self, container_id: str, seconds: int = 12) -> None:
        """A hot enclosure: busy loops on every core the rig has for `seconds`; returns when they end, with the
        rig heated (its emulated temperature follows the real CPU load, see rigs/virtual/tools/tegrastats.py)."""
        container = self.client.containers.get(container_id)
        cores = max(1, int(round(profile(container.labels["fleetlab.profile"])["cpus"])))
        self._exec(container_id, ["sh", "-c", f"for i in $(seq {cores}); do timeout {seconds} sh -c "
                                              f"'while :; do :; done' & done; wait; true"])

    def restart_sshd(self, container_id: str) -> None:
        """Kill every sshd on the rig, sessions included; the rig's supervisor starts a fresh one."""
        self._exec(container_id, ["sh", "-c", "for pid in $(ps -eo pid=,comm= | awk '$2 == \"sshd\" {print $1}'); "
                                              "do kill -9 $pid; done; true"])

    def reboot_loop(self, container_id: str) -> None:
        """A rig that boots and loses power again at once: two power cuts, the second once sshd answers."""
        self.power_cut(container_id)
        _wait_for_sshd(self._port(container_id))
        self.power_cut(container_id)

    def _port(self, container_id: str) -> int:
        ports = self.client.containers.get(container_id).attrs["HostConfig"]["PortBindings"]["22/tcp"]
        return int(ports[0]["HostPort"])

    def set_clock(self, container_id: str, offset: int) -> None:
        """The rig's `date` runs `offset` seconds from the real time (a container cannot set the host's clock)."""
        self._exec(container_id, ["sh", "-c", f"echo {int(offset)} > /etc/fleetlab-rig/clock-offset"])

    def flap_health(self, container_id: str) -> None:
        """The camera service on the slot active now passes one health check, then fails every one after."""
        self._exec(container_id, ["sh", "-c", f"mkdir -p {STORE}/service && "
                                              f"echo \"$(basename $(readlink -f {STORE}/active)) 1\" > "
                                              f"{STORE}/service/flap"])

    def start_game(self, container_id: str, seconds: float = GAME_LENGTH) -> None:
        """A game on the rig's camera for `seconds`: its busy check answers 'retry later' until then (the container
        shares the host's clock, which the camera service reads)."""
        self._exec(container_id, ["sh", "-c", f"mkdir -p {STORE}/service && "
                                              f"echo {time.time() + seconds:.3f} > {STORE}/service/game-until"])

    def oom_at_load(self, container_id: str) -> None:
        """The next rig tool to load a model (trtexec's build or run, the camera service's start) takes more memory
        than the rig has, as a model too big for the board would, so the kernel's own OOM killer ends it
        (rigs/virtual/tools/boardmemory.py)."""
        self._exec(container_id, ["sh", "-c", "touch /var/lib/fleetlab-rig/oom-at-load"])

    def gone(self, container_id: str, seconds: float = RIG_GONE_FOR) -> None:
        """The rig's link down for `seconds` (longer than a test lease lives), then back; returns at once."""
        self.link(container_id, up=False)
        threading.Timer(seconds, self.link, args=(container_id, True)).start()

    def injectors(self, containers: dict[str, str]) -> dict[str, Injector]:
        """Faults the HIL runner can inject, keyed by name; `containers` maps rig names to container ids."""
        def on(action):
            def inject(shell: Shell) -> None:
                if shell.name not in containers:
                    raise HilError(f"{shell.name} is not a virtual rig: no container to fault")
                if self.not_rigs([containers[shell.name]]):      # a hand-edited inventory: never fault a stranger
                    raise HilError(f"{shell.name}: container {containers[shell.name]} is not a fleetlab virtual rig "
                                   f"(no {LABEL} label): no fault injected")
                action(containers[shell.name])
            return inject

        def link_drop(container_id: str) -> None:      # down now, back up in three seconds
            self.link(container_id, up=False)
            threading.Timer(3.0, self.link, args=(container_id, True)).start()

        return {"link_drop": on(link_drop), "power_cut": on(self.power_cut), "disk_full": on(self.fill_disk),
                "corrupt_transfer": on(self.corrupt_transfer), "thermal_stress": on(self.thermal_stress),
                "sshd_restart": on(self.restart_sshd), "reboot_loop": on(self.reboot_loop),
                "clock_forward": on(lambda rig: self.set_clock(rig, 3600)),
                "clock_back": on(lambda rig: self.set_clock(rig, -3600)), "health_flap": on(self.flap_health),
                "rig_gone": on(self.gone), "game": on(self.start_game),
                "oom_at_load": on(self.oom_at_load)}


def inventory_entry(rig: VirtualRig, key_file: Path, link_rate: float | None = None) -> dict:
    """An inventory entry for a virtual rig: like a real one, plus its container id (and the rate, bytes/s, its
    link was shaped to)."""
    spec = profile(rig.profile)
    shaped = {"link_rate": f"{link_rate:.9g}B/s"} if link_rate else {}
    return {**shaped, "name": rig.name, "host": "127.0.0.1", "port": rig.port, "user": "root",
            "key_file": str(key_file),
            "host_key": rig.host_key, "hardware": spec["hardware"], "jetpack": spec["jetpack"], "tensorrt": "8.6",
            "tags": ["virtual", rig.profile, "orin" if "orin" in rig.profile else rig.profile.split("-")[0]],
            "store": STORE, "container": rig.container, "shaping": True,
            # `restart` returns once the service has run its first frame, so a healthy one passes the first check:
            # the timeout only decides how long a broken candidate is given before it is rolled back.
            "service": {"restart": f"camera-service restart --store {STORE}",
                        "health": f"camera-service health --store {STORE}", "health_timeout": "8s",
                        "stop": f"camera-service stop --store {STORE}",
                        "hand_over": f"camera-service hand-over --store {STORE}",
                        "busy": f"camera-service busy --store {STORE}"},
            "tools": {"trtexec": "/usr/local/bin/trtexec", "tegrastats": "/usr/local/bin/tegrastats",
                      "nvpmodel": "/usr/local/bin/nvpmodel", "python": "/opt/rig/venv/bin/python"},
            "facts": {"nv_tegra_release": "/etc/nv_tegra_release", "device_model": "/etc/fleetlab-rig/model",
                      # the container's own count of out-of-memory kills (cgroup v2, v1): /proc/vmstat is the host's
                      "oom_kills": ["/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"]}}
