"""Rig inventories (rigs/*.yaml): which rigs exist, how to reach them, what they should be. No secrets: a key is a
file path or the name of an environment variable that holds the path (or the key itself, as CI secrets do).

    rigs:
      - name: orin-nx-01
        host: 10.20.0.11
        user: fleetlab
        key_file: ~/.ssh/fleetlab_rigs
        host_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA...   # pinned; `fleetlab rigs trust` records it
        hardware: orin-nx
        jetpack: "6"
        tensorrt: "8.6"
        tags: [orin, nightly]
        store: /opt/fleetlab/models
        service: {restart: sudo systemctl restart camera, health: curl -fsS localhost:8080/health}

Validated like scenarios: every problem as file:line:col: key.path: message.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator

from sim.input_kinds import NOT_AN_INVENTORY, wrong_kind
from sim.load import load_model
from sim.model.errors import ScenarioError
from sim.model.frozen import Frozen
from sim.model.unit_fields import Duration, PositiveRate
from sim.read_input import read_text

_HOST_KEY = re.compile(r"^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) "
                       r"[A-Za-z0-9+/]+=*$")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _filled(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _a_command(value: str) -> str:
    if not value.strip():   # the rig's shell runs nothing and exits 0: a health check that always passes
        raise ValueError("an empty command runs nothing and succeeds every time: give the command")
    return value


def _a_rig_name(value: str) -> str:
    if not _NAME.fullmatch(value):     # it names the rig in results, folders and log lines
        raise ValueError("a rig's name is letters, digits, '.', '_' and '-', starting with a letter or digit")
    return value


def _a_host(value: str) -> str:
    """The host alone: SSH is given the user and the port from their own keys, and `fleetlab@10.20.0.11` or
    `10.20.0.11:2222` here would fail only at the run's first connection, as a name that does not resolve."""
    host = _filled(value).strip()
    if "@" in host:
        user, _, alone = host.rpartition("@")
        raise ValueError(f"{host!r}: write `host: {alone}` and the user as `user: {user}`")
    if re.fullmatch(r"[^:]+:[0-9]+", host):
        alone, port = host.split(":")
        raise ValueError(f"{host!r}: write `host: {alone}` and the port as `port: {port}`")
    if any(character.isspace() for character in host):
        raise ValueError(f"{host!r}: a host name or address has no spaces")
    return host


def _absolute_store(value: str) -> str:
    # every command quotes the path, so a `~` is never expanded (it made a folder named ~), and a relative path would
    # be read from wherever each command or file transfer starts
    if not _filled(value).startswith("/"):
        raise ValueError(f"expected an absolute path on the rig, such as /opt/fleetlab/models (got {value!r}: a ~ "
                         "is not expanded, and a relative path depends on where each command starts)")
    return value


def _a_variable_name(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError(f"expected the name of an environment variable, such as FLEETLAB_RIG_KEY (got {value!r}; "
                         "no $ or braces: fleetlab reads the variable itself)")
    return value


Filled = Annotated[str, AfterValidator(_filled)]
Host = Annotated[str, AfterValidator(_a_host)]
Command = Annotated[str, AfterValidator(_a_command)]


def _check_host_key(value: str | None) -> str | None:
    if value is not None and not _HOST_KEY.match(value.strip()):
        raise ValueError("expected 'TYPE BASE64' as in known_hosts, e.g. 'ssh-ed25519 AAAAC3Nza...'")
    return value.strip() if value else value


class JumpHost(Frozen):
    host: Host
    port: Annotated[int, Field(ge=1, le=65535)] = 22
    user: Filled
    host_key: str | None = None

    _host_key = field_validator("host_key")(classmethod(lambda cls, value: _check_host_key(value)))


class Service(Frozen):
    restart: Command = Field(description="command that restarts the camera service on the rig")
    health: Command = Field(description="command that exits 0 when the service is healthy")
    stop: Command | None = Field(default=None, description="command that stops the camera service: needed for a "
                                 "scenario whose delivery.update_strategy is kill_then_download (the model stops "
                                 "before the transfer and runs again at the activation)")
    hand_over: Command | None = Field(
        default=None, description="command that starts the camera service on the newly active slot beside the one "
        "serving, waits until the new one serves, then stops the old one, and exits non-zero with the old one still "
        "serving when the new one does not come up: needed for a scenario whose delivery.update_strategy is "
        "hand_over (balena's hand-over: the camera is never without a model)")
    busy: Command | None = Field(
        default=None, description="command asked before the switch whether the camera may be interrupted: exit 0 "
        "goes ahead, exit 21 (Mender's state-script 'retry later') while a game is on puts the switch off, up to "
        "the scenario's delivery.defer_limit (hil/defer.py); none: the switch never waits")
    health_timeout: Duration = Field(default=60.0, description="how long the health check may take to pass")
    health_passes: Annotated[int, Field(ge=1, le=10)] = Field(
        default=2, description="consecutive passing checks, a second apart, before the service counts as healthy "
        "(a service that passes once and then falls over is not healthy)")

    @model_validator(mode="after")
    def _room_for_the_passes(self) -> Service:
        # the checks run a second apart: a shorter timeout fails every healthy service, and every rollout rolls back
        if self.health_timeout < self.health_passes - 1:
            raise ValueError(f"health_timeout {self.health_timeout:g} s leaves no room for {self.health_passes} "
                             f"passing checks a second apart: give at least {self.health_passes - 1}s")
        return self


LEASE_TTL_LEAST = 5.0


def _renewable(seconds: float) -> float:
    if seconds < LEASE_TTL_LEAST:
        raise ValueError(f"at least {LEASE_TTL_LEAST:g}s: the run renews its lease over SSH every third of this, "
                         "and a renewal can take a second")
    return seconds


class Tools(Frozen):
    """Commands on the rig (absolute paths on a real Jetson; virtual rigs install compatible ones)."""
    trtexec: Command = "/usr/src/tensorrt/bin/trtexec"
    tegrastats: Command = "tegrastats"
    nvpmodel: Command = "nvpmodel"
    python: Command = "python3"


class FactPaths(Frozen):
    nv_tegra_release: Filled = "/etc/nv_tegra_release"
    device_model: Filled = "/proc/device-tree/model"
    # files with an `oom_kill N` line, the first one found counting: how often the kernel killed a process for memory
    # (hil/memory_kills.py). A board's own count is kernel-wide; a container's is its cgroup's. [] reads none.
    oom_kills: tuple[Filled, ...] = Field(default=("/proc/vmstat",))

    @field_validator("oom_kills", mode="before")
    @classmethod
    def _one_or_more(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class Rig(Frozen):
    name: Annotated[str, AfterValidator(_a_rig_name)]
    host: Host
    port: Annotated[int, Field(ge=1, le=65535)] = 22
    user: Filled
    key_file: str | None = Field(default=None, description="private key path (~ expanded)")
    key_env: Annotated[str | None, AfterValidator(_a_variable_name)] = Field(
        default=None, description="environment variable holding the key path or the key")
    host_key: str | None = Field(default=None, description="pinned host key, 'TYPE BASE64'")
    hardware: Filled
    jetpack: str | None = Field(default=None, description="expected JetPack, '6' or '6.0'; preflight checks it")
    tensorrt: str | None = Field(default=None, description="expected TensorRT, '8.6' or '10.3'")
    tags: list[str] = Field(default_factory=list)
    angle: str | None = Field(default=None, description="the camera angle this rig stands for (its frames, its "
                              "stratum in a plan); else a tag naming one of the scenario's angles")
    store: Annotated[str, AfterValidator(_absolute_store)] = Field(default="/opt/fleetlab/models",
                                                                   description="A/B model store on the rig")
    service: Service
    power: str | None = Field(default=None, description="command run HERE that power-cycles the rig (a PDU)")
    jump: JumpHost | None = None
    tools: Tools = Tools()
    facts: FactPaths = FactPaths()
    shaping: bool = Field(default=False, description="the rig's link can be shaped (virtual rigs)")
    link_rate: PositiveRate | None = Field(default=None, description="the rig's link as provisioned (a real rig: "
                                           "its site's uplink; a virtual rig: what `rigs up --link-rate` shaped); "
                                           "calibration measures transfer efficiency against it")
    container: str | None = Field(default=None, description="a virtual rig's Docker container id (written by "
                                  "`fleetlab rigs up`); enables its faults")
    lease_ttl: Annotated[Duration, AfterValidator(_renewable)] = Field(
        default=300.0, description="how long the rig's lease lives without a renewal: a run that died frees the rig "
        "after this long")

    @model_validator(mode="after")
    def _credentials(self) -> Rig:
        if (self.key_file is None) == (self.key_env is None):
            raise ValueError("give exactly one of key_file or key_env")
        return self

    _host_key = field_validator("host_key")(classmethod(lambda cls, value: _check_host_key(value)))

    def private_key_source(self) -> tuple[str, str]:
        """('path', PATH) or ('pem', TEXT): where the key is, resolved now (never stored in results or logs)."""
        if self.key_file:
            return "path", os.path.expanduser(self.key_file)
        value = os.environ.get(self.key_env or "", "")
        if not value:
            raise ValueError(f"rig {self.name}: environment variable {self.key_env} is not set")
        return ("pem", value) if value.lstrip().startswith("-----BEGIN") else ("path", os.path.expanduser(value))


class Inventory(Frozen):
    rigs: Annotated[list[Rig], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique(self) -> Inventory:
        names = [rig.name for rig in self.rigs]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"rig names must be unique: {', '.join(repeated)} repeated")
        # One rig under two names: the lease lives in the store and a run's owner is the same for all its rigs, so
        # both names would take it and install into the same store at once, each judging the other's engine. (One
        # machine with two stores is two rigs: the tests run several on one sshd.)
        seen: dict[tuple[str, int, str, int, str], str] = {}
        for rig in self.rigs:
            address = (rig.host, rig.port, rig.jump.host if rig.jump else "", rig.jump.port if rig.jump else 0,
                       rig.store)
            if address in seen:
                via = f" via {rig.jump.host}:{rig.jump.port}" if rig.jump else ""
                raise ValueError(f"rigs {seen[address]} and {rig.name} are one rig ({rig.host}:{rig.port}{via}, "
                                 f"store {rig.store}): a run would drive it twice at once; list it once")
            seen[address] = rig.name
        return self

    def select(self, tags: list[str], name: str | None = None) -> list[Rig]:
        """Rigs carrying every tag (and the named one, if a name is given), in file order."""
        return [rig for rig in self.rigs if set(tags) <= set(rig.tags) and (name is None or rig.name == name)]


def load_inventory(path: str | Path) -> Inventory:
    """Read and validate a rigs file; raises ScenarioError with every problem positioned."""
    try:
        return load_model(Inventory, path)
    except ScenarioError as error:
        raise wrong_kind(path, "rig inventory", NOT_AN_INVENTORY) or error from None


def record_host_key(path: Path, host: str, port: int, key_line: str) -> list[str]:
    """Pin `key_line` on every rig (and jump host) at host:port in the file, keeping its comments and layout;
    returns the names of the rigs changed. The file is one `load_inventory` accepted: every rig a mapping, every
    port a number."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    document = yaml.load(read_text(path))
    changed = []
    for rig in document.get("rigs", []):
        if rig.get("host") == host and int(rig.get("port", 22)) == port:
            rig["host_key"] = key_line
            changed.append(str(rig.get("name")))
        jump = rig.get("jump")
        if jump and jump.get("host") == host and int(jump.get("port", 22)) == port:
            jump["host_key"] = key_line
            changed.append(f"{rig.get('name')} (jump host)")
    if changed:
        target = path.resolve()       # a rigs file kept as a link stays a link; the file it names is edited
        partial = target.with_suffix(target.suffix + ".partial")
        try:
            with partial.open("w", encoding="utf-8") as sink:
                yaml.dump(document, sink)
            partial.replace(target)   # never half-written
        except BaseException:
            if partial.is_file():     # ours, half-written; not something else of that name we could not open
                partial.unlink()
            raise
    return changed
