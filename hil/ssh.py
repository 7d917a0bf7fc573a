"""SSH to rigs: the only module that imports paramiko.

- Host keys are pinned in the inventory: no pinned key, or a different key offered, and we refuse before any
  credential is sent (HostKeyUnknown / HostKeyChanged).
- Connect, banner, auth and per-command timeouts; keepalives, so a dead link is noticed during long builds.
- stdout and stderr are drained together as they arrive, so a command with large output on either never blocks.
- Infrastructure failures (refused, reset, dropped, timed out) raise ConnectionLost / CommandTimeout, which callers
  may retry; a command that runs and fails is a CommandResult with its exit status, never retried here.
- Nothing here logs key material: keys are loaded into memory and only their fingerprints are ever shown.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import select
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import paramiko

from hil.errors import AuthenticationFailed, CommandTimeout, ConnectionLost, HilError, HostKeyChanged, HostKeyUnknown
from hil.inventory import JumpHost, Rig
from hil.shell import CappedOutput, CommandResult, Progress, copy_paced, in_own_group, kill_group

log = logging.getLogger(__name__)
logging.getLogger("paramiko").setLevel(logging.CRITICAL)   # connection errors are reported by us, once, as data
CHUNK = 1 << 15
_KEY_TYPES = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    banner: float = 15.0
    auth: float = 15.0
    keepalive: int = 15


def fingerprint(key_line: str) -> str:
    """'ssh-ed25519 AAAA…' -> 'SHA256:…' as ssh-keygen -lf prints it."""
    blob = base64.b64decode(key_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _known_name(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def _pinned(name: str, key_line: str | None, host: str, port: int) -> paramiko.PKey:
    if not key_line:
        raise HostKeyUnknown(f"{name}: no pinned host key for {host}:{port}. Check the key on the rig's console "
                             f"(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then record it with "
                             f"`fleetlab rigs trust {host} --port {port} --fingerprint SHA256:…`")
    kind, data = key_line.split()[:2]
    return paramiko.PKey.from_type_string(kind, base64.b64decode(data))


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):
    def __init__(self, name: str) -> None:
        self.name = name

    def missing_host_key(self, client, hostname, key) -> None:   # noqa: ANN001 — paramiko's signature
        raise HostKeyUnknown(f"{self.name}: {hostname} offered a {key.get_name()} key ({key.fingerprint}) that is "
                             f"not the pinned one's type; refusing")


def _private_key(rig: Rig) -> paramiko.PKey:
    try:
        kind, value = rig.private_key_source()
    except ValueError as error:          # key_env names a variable that is not set
        raise AuthenticationFailed(str(error)) from None
    for key_type in _KEY_TYPES:
        try:
            if kind == "pem":
                return key_type.from_private_key(io.StringIO(value))
            return key_type.from_private_key_file(value)
        except (paramiko.SSHException, ValueError):
            continue
        except OSError as error:
            raise AuthenticationFailed(f"{rig.name}: cannot read the private key file: {error.strerror}") from None
    raise AuthenticationFailed(f"{rig.name}: the private key ({'from ' + rig.key_env if rig.key_env else 'file'}) "
                               f"is not an unencrypted Ed25519, ECDSA or RSA key")


def _direct_socket(host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection with Nagle's algorithm off. paramiko leaves it on, and each command's small packets then wait
    for the other side's delayed ACK: measured against a virtual rig's sshd, a `sha256sum` of 80 kB took 50 ms a
    command with it on and 6 ms with it off (median of 30), so every short step and every calibrated fixed cost
    (verify, setup) carried ~40 ms that no Jetson spends. OpenSSH's own client turns it off too."""
    connection = socket.create_connection((host, port), timeout=timeout)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def _client(name: str, host: str, port: int, user: str, key_line: str | None, pkey: paramiko.PKey,
            timeouts: Timeouts, sock: paramiko.Channel | None = None) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    pinned = _pinned(name, key_line, host, port)
    client.get_host_keys().add(_known_name(host, port), pinned.get_name(), pinned)
    client.set_missing_host_key_policy(_RefuseUnknown(name))
    try:
        if sock is None:
            sock = _direct_socket(host, port, timeouts.connect)
        client.connect(host, port, username=user, pkey=pkey, timeout=timeouts.connect,
                       banner_timeout=timeouts.banner, auth_timeout=timeouts.auth, allow_agent=False,
                       look_for_keys=False, sock=sock)
    except paramiko.BadHostKeyException as error:
        client.close()
        raise HostKeyChanged(f"{name}: {host}:{port} offered host key {error.key.fingerprint}, but "
                             f"{fingerprint(key_line or '')} is pinned. The rig was reinstalled or somebody is in "
                             f"the middle; refusing") from None
    except paramiko.AuthenticationException:
        client.close()
        raise AuthenticationFailed(f"{name}: {user}@{host}:{port} refused the key") from None
    except (HostKeyUnknown, HostKeyChanged):
        client.close()
        raise
    except (paramiko.SSHException, OSError, EOFError) as error:
        client.close()
        raise ConnectionLost(f"{name}: cannot connect to {host}:{port}: {error}") from None
    client.get_transport().set_keepalive(timeouts.keepalive)
    return client


def fetch_host_key(host: str, port: int, timeout: float = 10.0) -> str:
    """The host key a server offers, as 'TYPE BASE64' (for `fleetlab rigs trust`; nothing is authenticated)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            transport = paramiko.Transport(sock)
            try:
                transport.start_client(timeout=timeout)
                key = transport.get_remote_server_key()
            finally:
                transport.close()
    except (paramiko.SSHException, OSError, EOFError) as error:
        raise ConnectionLost(f"cannot read the host key of {host}:{port}: {error}") from None
    return f"{key.get_name()} {key.get_base64()}"


class SshShell:
    """One rig's SSH session (Shell interface). Reconnects on the next call after a dropped connection."""

    def __init__(self, rig: Rig, timeouts: Timeouts = Timeouts()) -> None:
        self.rig, self.timeouts, self.name = rig, timeouts, rig.name
        self._client: paramiko.SSHClient | None = None
        self._jump: paramiko.SSHClient | None = None
        self._cut = False      # cut() between commands: the next one must see the drop, as over a failing link

    def _connected(self) -> paramiko.SSHClient:
        if self._cut:          # else it depended on paramiko's reader thread: had it seen the closed socket, the
            self.close()       # next call reconnected without a word and the drop was never noticed
            raise ConnectionLost(f"{self.name}: the connection was cut")
        transport = self._client.get_transport() if self._client else None
        if transport is not None and transport.is_active():
            return self._client
        self.close()
        rig, pkey = self.rig, _private_key(self.rig)
        sock = self._through_jump(rig.jump, pkey) if rig.jump else None
        self._client = _client(rig.name, rig.host, rig.port, rig.user, rig.host_key, pkey, self.timeouts, sock)
        return self._client

    def _through_jump(self, jump: JumpHost, pkey: paramiko.PKey) -> paramiko.Channel:
        self._jump = _client(f"{self.rig.name} (jump)", jump.host, jump.port, jump.user, jump.host_key, pkey,
                             self.timeouts)
        try:
            return self._jump.get_transport().open_channel("direct-tcpip", (self.rig.host, self.rig.port),
                                                           ("127.0.0.1", 0), timeout=self.timeouts.connect)
        except (paramiko.SSHException, OSError) as error:
            raise ConnectionLost(f"{self.rig.name}: the jump host cannot reach {self.rig.host}: {error}") from None

    def run(self, line: str, timeout: float, stdin: bytes | None = None) -> CommandResult:
        started = time.monotonic()
        wrapped, marker = in_own_group(line)
        try:
            channel = self._connected().get_transport().open_session(timeout=self.timeouts.connect)
            channel.exec_command(wrapped)
            if stdin:
                channel.sendall(stdin)
            channel.shutdown_write()
            out, err = self._drain(channel, line, started + timeout)
            status = channel.recv_exit_status()
            channel.close()
            if status == -1 and not channel.get_transport().is_active():   # no status: the link went, not the command
                raise ConnectionLost(f"{self.name}: the connection dropped before {line!r} finished")
        except CommandTimeout:
            self._kill_group(marker)
            raise
        except ConnectionLost:
            self.close()
            raise
        except (HostKeyUnknown, HostKeyChanged, AuthenticationFailed):
            raise
        except (paramiko.SSHException, OSError, EOFError) as error:
            self.close()
            raise ConnectionLost(f"{self.name}: connection lost while running a command: {error}") from None
        log.debug("%s: %r -> %s in %.2fs", self.name, line, status, time.monotonic() - started)
        return CommandResult(line, status, out.text(), err.text(), time.monotonic() - started)

    def _kill_group(self, marker: str) -> None:
        """End a timed-out command and everything it started, over a fresh channel (best effort: a rig that is
        gone has nothing left running either)."""
        try:
            channel = self._connected().get_transport().open_session(timeout=self.timeouts.connect)
            channel.exec_command(kill_group(marker))
            channel.shutdown_write()
            self._drain(channel, "kill the timed-out command's group", time.monotonic() + 30)
            channel.close()
        except (paramiko.SSHException, OSError, EOFError, HilError) as error:
            log.warning("%s: could not end a timed-out command's processes: %s", self.name, error)

    def _drain(self, channel: paramiko.Channel, line: str, deadline: float) -> tuple[CappedOutput, CappedOutput]:
        out, err = CappedOutput(), CappedOutput()
        while True:
            busy = False
            while channel.recv_ready():
                out.add(channel.recv(CHUNK))
                busy = True
            while channel.recv_stderr_ready():
                err.add(channel.recv_stderr(CHUNK))
                busy = True
            if channel.exit_status_ready() and channel.eof_received and not busy:
                return out, err
            if channel.closed and not busy:
                if not channel.exit_status_ready():
                    raise ConnectionLost(f"{self.name}: the channel closed before {line!r} finished")
                return out, err
            if time.monotonic() > deadline:
                channel.close()   # hangs up; run() then ends the command's process group on the rig
                raise CommandTimeout(f"{self.name}: {line!r} ran past its timeout")
            if not busy:
                select.select([channel], [], [], 0.05)

    def _sftp(self) -> paramiko.SFTPClient:
        return self._connected().open_sftp()

    def put(self, local: Path, remote: str, offset: int = 0, rate: float | None = None,
            progress: Progress | None = None) -> int:
        """Append local[offset:] to the remote file (created if absent); returns bytes sent."""
        counted = [0]
        try:
            with self._sftp() as sftp, sftp.open(remote, "ab") as sink, local.open("rb") as source:
                sink.set_pipelined(True)
                source.seek(offset)
                return copy_paced(source, sink, rate, progress, counted)
        except (paramiko.SSHException, OSError, EOFError) as error:
            self.close()
            raise ConnectionLost(f"{self.name}: transfer to {remote} cut after {counted[0]} bytes: {error}") from None

    def size(self, remote: str) -> int | None:
        try:
            with self._sftp() as sftp:
                return sftp.stat(remote).st_size
        except FileNotFoundError:
            return None
        except (paramiko.SSHException, OSError, EOFError) as error:
            self.close()
            raise ConnectionLost(f"{self.name}: cannot stat {remote}: {error}") from None

    def cut(self) -> None:
        """Drop the connection now, as a failing link would (for fault injection and tests)."""
        transport = self._client.get_transport() if self._client else None
        if transport is not None:
            transport.sock.close()
            self._cut = True

    def close(self) -> None:
        """Hang up; a cut is then noticed (a command in flight failed on it, or the next call raised)."""
        self._cut = False
        for client in (self._client, self._jump):
            if client is not None:
                client.close()
        self._client = self._jump = None
