"""A lease on a rig, kept on the rig itself: a nightly job and an engineer never run on one rig at once, and a run
that crashed never blocks the rack (its lease expires; the next run takes it over).

The lease is a one-line file `STORE/.lease`: `OWNER WALL_EXPIRY BOOT_ID UPTIME_EXPIRY`. Expiry is judged by the
rig's time since boot while the rig has not rebooted, so a rig clock set an hour forward (NTP catching up after a
power cut, a dead RTC battery) neither expires a lease early nor keeps one late; across a reboot only the wall clock
is left. Every change happens under `flock` on `STORE/.lease.lock` and is written to a temporary file then renamed,
so two takers cannot both win and a reader never sees half a line. Only the holder can renew or release it. While
a run holds the lease, a thread renews it every third of its time to live.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable

from hil.errors import HilError, InfrastructureError, LeaseHeld
from hil.shell import Shell, command

log = logging.getLogger(__name__)

_SCRIPT = r"""
set -eu
store=$1; owner=$2; ttl=$3; mode=$4
mkdir -p "$store"
exec 9>"$store/.lease.lock"
flock -w 20 9
wall=$(date +%s)
boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)
up=$(cut -d. -f1 /proc/uptime 2>/dev/null || echo 0)
holder=""; wall_expiry=0; holder_boot=""; up_expiry=0
if [ -s "$store/.lease" ]; then read -r holder wall_expiry holder_boot up_expiry < "$store/.lease" || true; fi
# a line no fleetlab wrote (edited by hand, a disk error): say so, rather than fail on its arithmetic
case "$wall_expiry:$up_expiry" in *[!0-9:]*|:*|*:) echo corrupt; exit 0 ;; esac
# seconds the holder has left: by the time since boot within one boot (a clock set back or forward changes nothing);
# across a reboot only the wall clock is left to go by
if [ "$holder_boot" = "$boot" ]; then left=$((up_expiry - up)); else left=$((wall_expiry - wall)); fi
write() {
  printf '%s %s %s %s\n' "$owner" $((wall + ttl)) "$boot" $((up + ttl)) > "$store/.lease.new"
  mv -f "$store/.lease.new" "$store/.lease"
}
case "$mode" in
  acquire)
    if [ -z "$holder" ] || [ "$holder" = "$owner" ] || [ "$left" -le 0 ]; then
      write; echo "granted ${holder:-none} $((-left))"
    else
      echo "held $holder $left"
    fi ;;
  renew)
    if [ "$holder" = "$owner" ]; then write; echo "renewed"; else echo "lost ${holder:-none}"; fi ;;
  release)
    if [ "$holder" = "$owner" ]; then rm -f "$store/.lease"; echo "released"; else echo "kept ${holder:-none}"; fi ;;
esac
"""


def default_owner(run_id: str) -> str:
    """user@host:pid:run — enough to find who holds a rig; characters limited so it stays one token."""
    raw = f"{getpass.getuser()}@{socket.gethostname()}:{os.getpid()}:{run_id}"
    return re.sub(r"[^A-Za-z0-9@:._-]", "_", raw)


class Lease:
    def __init__(self, shell: Shell, rig: str, store: str, owner: str, ttl: int = 300) -> None:
        self.shell, self.rig, self.store, self.owner, self.ttl = shell, rig, store, owner, ttl
        self.took_over: str | None = None     # the expired holder this lease replaced, if any

    def _call(self, mode: str) -> list[str]:
        done = self.shell.run(command("sh -c", _SCRIPT, "lease", self.store, self.owner, self.ttl, mode), timeout=60)
        if not done.ok:
            raise HilError(f"{self.rig}: lease {mode} failed: {done.tail()}")
        answer = done.stdout.split()
        if answer[:1] == ["corrupt"]:     # neither held nor free as far as anyone can tell: a person decides
            raise HilError(f"{self.rig}: {self.store}/.lease is not a lease line fleetlab wrote (its expiry is not a "
                           f"number): remove the file once you know no run holds the rig")
        return answer

    def acquire(self) -> None:
        answer = self._call("acquire")
        if answer[0] == "held":
            raise LeaseHeld(self.rig, answer[1], int(answer[2]))
        previous, ago = answer[1], int(answer[2])
        if previous not in ("none", self.owner):
            self.took_over = previous
            log.warning("%s: took over the expired lease of %s (expired %d s ago)", self.rig, previous, ago)

    def acquire_waiting(self, wait: float, sleep: Callable[[float], bool]) -> float:
        """Take the lease; with `wait`, wait that long for a held (or unreachable) rig, napping with `sleep` (True:
        stop waiting, a stop was requested). Returns the seconds waited."""
        started = time.monotonic()
        while True:
            try:
                self.acquire()
                return time.monotonic() - started
            except (LeaseHeld, InfrastructureError) as error:
                if time.monotonic() - started >= wait or sleep(min(5.0, wait)):
                    raise
                log.info("%s: waiting for the rig: %s", self.rig, error)

    def renew(self) -> str | None:
        """None when renewed; else who holds the lease now ('none' when nobody does)."""
        answer = self._call("renew")
        return None if answer[0] == "renewed" else answer[1]

    def release(self) -> bool:
        """True when released; False when somebody else holds it (their lease is left alone)."""
        return self._call("release")[0] == "released"


class Renewal:
    """Renews a held lease every third of its time to live from a thread (on its own connection when `renewer`
    gives one, so a long command on the main connection never delays it) until stopped.

    `on_lost(why)` is called once when the lease is no longer ours: another owner holds it, or no renewal got
    through for a whole time to live (by then somebody may have taken it over)."""

    def __init__(self, lease: Lease, renewer: Callable[[], Lease] | None = None,
                 on_lost: Callable[[str], None] = lambda why: None) -> None:
        self.lease, self.on_lost = lease, on_lost
        self.keeper: Lease | None = None
        self._renewer = renewer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{lease.rig}", daemon=True)
        self._thread.start()

    def _keeper(self) -> Lease:
        if self.keeper is None:
            self.keeper = self._renewer() if self._renewer else self.lease
        return self.keeper

    def _loop(self) -> None:
        renewed = time.monotonic()
        while not self._stop.wait(self.lease.ttl / 3):
            try:
                holder = self._keeper().renew()
                if holder is not None:
                    log.error("%s: lost the lease to %s", self.lease.rig, holder)
                    self.on_lost(holder)
                    return
                renewed = time.monotonic()
            except (InfrastructureError, HilError) as error:   # the next try may get through; expiry is the backstop
                log.warning("%s: lease renewal failed: %s", self.lease.rig, error)
                if time.monotonic() - renewed > self.lease.ttl:
                    self.on_lost(f"nobody (no renewal got through for {self.lease.ttl} s: it may have been taken)")
                    return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        if self.keeper is not None and self.keeper is not self.lease:
            self.keeper.shell.close()
