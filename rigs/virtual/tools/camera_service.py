#!/usr/bin/env python3
"""The camera service of a virtual rig (a rig tool; imports nothing from fleetlab).

    camera_service.py restart --store STORE   stop the running service, start it on STORE/active/model.engine,
                                              and wait until it serves (exit 1 if it does not come up)
    camera_service.py health  --store STORE   GET /health from the service: exit 0 only when it is up, runs the
                                              active engine, and its last inferences were good
    camera_service.py stop    --store STORE   stop it
    camera_service.py hand-over --store STORE start a second service on STORE/active/model.engine beside the
                                              running one; once it serves, it takes over the health socket and the
                                              old one stops (exit 0); if it does not come up, it is stopped and the
                                              old one serves on (exit 1)
    camera_service.py busy    --store STORE   exit 21 (Mender's state-script "retry later") while a game is on:
                                              until the time (seconds since the epoch) in STORE/service/game-until,
                                              which the virtual rigs' `game` fault (or a test) writes;
                                              else exit 0

The service is a daemon: it loads the active engine, runs inference on a test frame once a second (the pipeline
expects [N, 3, 64, 64] frames and five finite class scores; anything else is unhealthy), and answers HTTP
`GET /health` on the Unix socket STORE/service/health.sock (no port to collide with). Its pid is in
STORE/service/pid. FLEETLAB_SERVICE_LIFETIME (seconds) bounds its life, for test rigs on a shared host.

A hand-over's new service starts on STORE/service/health.next.sock (pid in pid.next) with the highest
oom_score_adj: a board short of memory kills the newcomer, not the service that serves. Once it has served a good
frame, both names are moved over the old ones (a rename: a client never finds no socket) and the old one stops.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sys
import threading
import time

from boardmemory import killed_for_memory, oom_kills, take_the_board_if_told  # beside this script

EXPECTED_CLASSES = 5
START_TIMEOUT = 30.0
DRAIN = 1.0                  # seconds the old service of a hand-over serves on after the new one took over


SOCKET, NEXT_SOCKET = "health.sock", "health.next.sock"


def paths(store: str) -> dict[str, str]:
    folder = os.path.join(store, "service")
    return {"folder": folder, "pid": os.path.join(folder, "pid"), "socket": os.path.join(folder, SOCKET),
            "next_pid": os.path.join(folder, "pid.next"), "next_socket": os.path.join(folder, NEXT_SOCKET),
            "engine": os.path.join(store, "active", "model.engine")}


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Service:
    def __init__(self, store: str, socket_name: str = SOCKET) -> None:
        self.paths = paths(store)
        self.socket_name = socket_name
        self.state = {"healthy": False, "reason": "starting", "frames": 0, "slot": None, "engine_sha256": None}
        self.lock = threading.Lock()

    def load(self):
        import numpy as np
        import onnxruntime as ort

        engine = self.paths["engine"]
        slot = os.path.basename(os.path.realpath(os.path.dirname(engine)))
        take_the_board_if_told()                  # the oom_at_load fault: a model too big for the board
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        session = ort.InferenceSession(engine, options, providers=["CPUExecutionProvider"])
        frame = np.full((1, 3, 64, 64), 0.5, dtype=np.float32)
        with self.lock:
            self.state.update(slot=slot, engine_sha256=sha256(engine))
        return session, frame, np

    def infer_forever(self) -> None:
        try:
            session, frame, np = self.load()
        except Exception as error:   # noqa: BLE001 — an engine that does not load is an unhealthy service
            with self.lock:
                self.state.update(healthy=False, reason=f"engine does not load: {type(error).__name__}: {error}")
            return
        while True:
            scores = session.run(None, {session.get_inputs()[0].name: frame})[0]
            if scores.shape != (1, EXPECTED_CLASSES):
                problem = f"the pipeline expects {EXPECTED_CLASSES} class scores, the engine gives {list(scores.shape)}"
            elif not np.isfinite(scores).all():
                problem = "the engine's scores are not finite"
            else:
                problem = None
            with self.lock:
                self.state.update(healthy=problem is None, reason=problem or "serving", frames=self.state["frames"] + 1)
            time.sleep(1.0)

    def serve(self) -> None:
        os.chdir(self.paths["folder"])         # bind by a relative name: store paths can exceed 108 bytes
        if os.path.exists(self.socket_name):
            os.remove(self.socket_name)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.socket_name)
        listener.listen(8)
        while True:
            connection, _ = listener.accept()
            with connection:
                connection.recv(4096)
                with self.lock:
                    body = json.dumps(self.state).encode()
                    status = "200 OK" if self.state["healthy"] else "503 Service Unavailable"
                connection.sendall(f"HTTP/1.0 {status}\r\nContent-Type: application/json\r\n"
                                   f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


def run_daemon(store: str, socket_name: str = SOCKET) -> None:
    service = Service(store, socket_name)
    lifetime = float(os.environ.get("FLEETLAB_SERVICE_LIFETIME", "0") or 0)
    if lifetime:
        threading.Timer(lifetime, lambda: os._exit(0)).start()
    threading.Thread(target=service.infer_forever, daemon=True).start()
    service.serve()


def ask(store: str, timeout: float = 5.0, socket_name: str = SOCKET) -> tuple[int, dict]:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(timeout)
    here = os.getcwd()
    os.chdir(paths(store)["folder"])        # connect by a relative name, as the service binds
    try:
        client.connect(socket_name)
    finally:
        os.chdir(here)
    client.sendall(b"GET /health HTTP/1.0\r\n\r\n")
    data = b""
    while chunk := client.recv(65536):
        data += chunk
    client.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split()
    if len(status) < 2:             # a service killed while it answered (the OOM killer) closes with nothing said
        raise ValueError("the service closed the connection without an answer")
    return int(status[1]), json.loads(body)


def _alive(pid: int) -> bool:
    """Running, not a zombie: a daemon's zombie waits for whatever init this host has to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as source:
            return source.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def recorded_pid(path: str) -> int | None:
    try:
        with open(path) as source:
            return int(source.read().strip())
    except (OSError, ValueError):
        return None


def stop(store: str, pid_file: str = "pid") -> None:
    pid = recorded_pid(paths(store)[pid_file])
    if pid is not None:
        end(pid)


def end(pid: int) -> None:
    """SIGTERM, and SIGKILL if it has not gone in 5 s (it will not serve again either way)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return
    for _ in range(100):
        if not _alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def start(store: str) -> int:
    stop(store)
    where = paths(store)
    os.makedirs(where["folder"], exist_ok=True)
    forget(where, "pid", "socket")
    from rigdaemon import daemonize  # beside this script

    kills_before = oom_kills()
    daemonize(where["pid"], lambda: run_daemon(store))     # the service outlives this SSH session
    answer = first_answer(store, SOCKET)
    killed = "" if answer else killed_for_memory(kills_before)
    print(json.dumps(answer[1]) if answer else
          f"the service did not answer on its health socket{f' ({killed})' if killed else ''}", flush=True)
    return 0 if answer and answer[0] == 200 else 1


def forget(where: dict[str, str], *names: str) -> None:
    """Remove a stopped service's files: a pid file left behind would name a dead process to the next start's wait
    (the new daemon writes its own a moment after it forks)."""
    for name in names:
        if os.path.exists(where[name]):
            os.remove(where[name])


def first_answer(store: str, socket_name: str, pid_file: str = "pid") -> tuple[int, dict] | None:
    """The service's first settled answer (it ran a frame, or it cannot), or None if it never answered: in
    START_TIMEOUT, or before its process went (a service killed as it starts answers nothing)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            code, state = ask(store, socket_name=socket_name)
            if state["reason"] != "starting" and (state["frames"] > 0 or not state["healthy"]):
                return code, state
        except (OSError, ValueError):
            pid = recorded_pid(paths(store)[pid_file])
            if pid is not None and not _alive(pid):
                return None
        time.sleep(0.1)
    return None


def newcomer(store: str) -> None:
    """The hand-over's new service: the first the kernel kills when the board runs out of memory."""
    try:
        with open("/proc/self/oom_score_adj", "w") as sink:
            sink.write("1000")
    except OSError:
        pass                       # no /proc to write: it runs as any service would
    run_daemon(store, NEXT_SOCKET)


def hand_over(store: str) -> int:
    where = paths(store)
    os.makedirs(where["folder"], exist_ok=True)
    stop(store, "next_pid")                                 # a hand-over that was cut short left one behind
    forget(where, "next_pid", "next_socket")
    from rigdaemon import daemonize  # beside this script

    kills_before = oom_kills()
    daemonize(where["next_pid"], lambda: newcomer(store))
    answer = first_answer(store, NEXT_SOCKET, "next_pid")
    if answer is None or answer[0] != 200:
        pid = recorded_pid(where["next_pid"])
        gone = pid is not None and not _alive(pid)
        stop(store, "next_pid")
        forget(where, "next_pid", "next_socket")
        if answer is not None:
            why = answer[1].get("reason")
        elif killed := killed_for_memory(kills_before):
            why = killed
        else:
            why = "it died before it served" if gone else f"it did not serve within {START_TIMEOUT:g} s"
        print(f"the new service did not come up ({why}); the old one still serves", flush=True)
        return 1
    old = recorded_pid(where["pid"])
    os.replace(where["next_socket"], where["socket"])       # from here on the new one answers the health check
    os.replace(where["next_pid"], where["pid"])
    if old is not None:
        time.sleep(DRAIN)          # a question the old one already took is answered before it goes
        end(old)
    print(json.dumps({**answer[1], "handed_over_from": old}), flush=True)
    return 0


def flapping(store: str) -> bool:
    """An injected flap (the health_flap fault): `STORE/service/flap` holds `SLOT N` — while SLOT is active, N more
    checks pass, then every check fails, as a service that comes up and falls over a moment later."""
    flap = os.path.join(paths(store)["folder"], "flap")
    try:
        with open(flap) as source:
            slot, left = source.read().split()
    except (OSError, ValueError):
        return False
    if os.path.basename(os.path.realpath(os.path.join(store, "active"))) != slot:
        return False
    if int(left) > 0:
        with open(flap, "w") as sink:
            sink.write(f"{slot} {int(left) - 1}\n")
        return False
    return True


def health(store: str) -> int:
    if flapping(store):
        print("unhealthy: the pipeline stopped answering (it passed, then fell over)", flush=True)
        return 1
    try:
        code, state = ask(store)
    except (OSError, ValueError) as error:
        print(f"unhealthy: the service does not answer ({error})", flush=True)
        return 1
    engine = paths(store)["engine"]
    if code != 200:
        print(f"unhealthy: {state.get('reason')}", flush=True)
        return 1
    if not os.path.exists(engine) or state.get("engine_sha256") != sha256(engine):
        print("unhealthy: the running engine is not the active one (restart the service)", flush=True)
        return 1
    print(f"healthy: slot {state['slot']}, {state['frames']} frames", flush=True)
    return 0


RETRY_LATER = 21


def busy(store: str) -> int:
    try:
        with open(os.path.join(store, "service", "game-until")) as source:
            ends = float(source.read().strip())
    except (OSError, ValueError):
        return 0                 # no game written: free
    if time.time() < ends:
        print(f"a game is on for {ends - time.time():.1f} s more: retry later", flush=True)
        return RETRY_LATER
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("restart", "health", "stop", "hand-over", "busy") or argv[1] != "--store":
        print(__doc__, file=sys.stderr)
        return 2
    store = argv[2]
    if argv[0] == "stop":
        stop(store)
        stop(store, "next_pid")
        return 0
    return {"restart": start, "health": health, "hand-over": hand_over, "busy": busy}[argv[0]](store)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
