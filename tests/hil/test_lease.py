"""Leases on a rig through a real sshd: one holder at a time, expired leases taken over, renewals, release."""

import threading
import time
from pathlib import Path

import pytest

from hil.errors import HilError, LeaseHeld
from hil.lease import Lease, Renewal
from hil.runner import run_scenario
from hil.ssh import SshShell
from tests.hil.conftest import hil_scenario
from tests.hil.local_rigs import inventory_of


@pytest.fixture
def rig(rig_entry):
    return inventory_of(rig_entry("rig-a")).rigs[0]


def lease(rig, owner, ttl=60):
    return Lease(SshShell(rig), rig.name, rig.store, owner, ttl)


def test_a_second_taker_is_refused_with_the_holder_named(rig):
    first, second = lease(rig, "nightly@ci:1:run"), lease(rig, "alice@laptop:2:run")
    first.acquire()
    with pytest.raises(LeaseHeld, match="leased by nightly@ci:1:run for another"):
        second.acquire()
    first.release()
    second.acquire()
    second.release()
    assert not (Path(rig.store) / ".lease").exists()


def test_racing_takers_get_exactly_one_lease(rig):
    winners, refused = [], []

    def take(number: int) -> None:
        try:
            lease(rig, f"racer-{number}").acquire()
            winners.append(number)
        except LeaseHeld:
            refused.append(number)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1 and len(refused) == 5


def test_an_expired_lease_of_a_crashed_run_is_taken_over(rig):
    crashed = lease(rig, "crashed@ci:9:run", ttl=1)
    crashed.acquire()                    # and never released: the process died
    time.sleep(2.2)
    fresh = lease(rig, "nightly@ci:1:next")
    fresh.acquire()
    assert fresh.took_over == "crashed@ci:9:run"


def test_a_renewed_lease_outlives_its_ttl(rig):
    held = lease(rig, "long@ci:1:run", ttl=3)
    held.acquire()
    renewal = Renewal(held, lambda: lease(rig, "long@ci:1:run", ttl=3))
    time.sleep(4.5)
    with pytest.raises(LeaseHeld):
        lease(rig, "other@ci:2:run").acquire()
    renewal.stop()
    held.release()


def test_a_run_on_a_leased_rig_is_an_error_that_touches_nothing(rig_entry):
    entry = rig_entry("rig-b")
    rig = inventory_of(entry).rigs[0]
    lease(rig, "alice@laptop:2:run").acquire()
    [found] = run_scenario(hil_scenario(), inventory_of(entry), Path("."), SshShell).rigs
    assert found.verdict == "error" and "leased by alice@laptop:2:run" in found.reason
    assert [step.name for step in found.steps] == ["reserve"]
    assert not (Path(entry["store"]) / "slots").exists()


@pytest.mark.parametrize("line", ["bob@ci:1:run 17xx boot 5", "bob@ci:1:run", "bob 1 b -3"])
def test_a_lease_line_no_fleetlab_wrote_is_named_not_a_shell_error(rig, line):
    """It failed as 'lease: 14: Illegal number: 17xx' from the script's arithmetic; the file is left for a person."""
    store = Path(rig.store)
    store.mkdir(parents=True, exist_ok=True)
    (store / ".lease").write_text(line + "\n")
    for mode in ("acquire", "renew", "release"):
        with pytest.raises(HilError, match=r"\.lease is not a lease line fleetlab wrote .*remove the file once"):
            getattr(lease(rig, "alice@laptop:2:run"), mode)()
    assert (store / ".lease").read_text() == line + "\n"


def test_a_finished_run_leaves_no_lease_behind(rig_entry):
    entry = rig_entry("rig-c")
    [found] = run_scenario(hil_scenario(), inventory_of(entry), Path("."), SshShell).rigs
    assert found.verdict == "passed" and not (Path(entry["store"]) / ".lease").exists()


def test_a_lease_cannot_be_released_by_someone_who_does_not_hold_it(rig):
    holder, stranger = lease(rig, "nightly@ci:1:run"), lease(rig, "alice@laptop:2:run")
    holder.acquire()
    assert stranger.release() is False
    assert (Path(rig.store) / ".lease").read_text().split()[0] == "nightly@ci:1:run"
    with pytest.raises(LeaseHeld):
        stranger.acquire()
    assert holder.release() is True and not (Path(rig.store) / ".lease").exists()


def test_a_rig_clock_set_an_hour_forward_or_back_does_not_expire_or_prolong_a_lease(rig):
    held = lease(rig, "nightly@ci:1:run", ttl=60)
    held.acquire()
    path = Path(rig.store) / ".lease"
    owner, wall, boot, uptime = path.read_text().split()
    path.write_text(f"{owner} {int(wall) - 3600} {boot} {uptime}\n")     # the wall clock jumped an hour on
    with pytest.raises(LeaseHeld, match="for another"):
        lease(rig, "alice@laptop:2:run").acquire()
    path.write_text(f"{owner} {int(wall) + 3600} {boot} {int(uptime) - 61}\n")   # set back; its time is up
    taker = lease(rig, "alice@laptop:2:run")
    taker.acquire()
    assert taker.took_over == "nightly@ci:1:run"
    taker.release()


def test_across_a_reboot_the_wall_clock_decides(rig):
    held = lease(rig, "nightly@ci:1:run", ttl=60)
    held.acquire()
    path = Path(rig.store) / ".lease"
    owner, wall, _, uptime = path.read_text().split()
    path.write_text(f"{owner} {wall} another-boot {uptime}\n")
    with pytest.raises(LeaseHeld):
        lease(rig, "alice@laptop:2:run").acquire()
    path.write_text(f"{owner} {int(wall) - 61} another-boot {uptime}\n")
    taker = lease(rig, "alice@laptop:2:run")
    taker.acquire()
    assert taker.took_over == "nightly@ci:1:run"
    taker.release()


def test_losing_the_lease_mid_run_stops_the_renewal_and_says_who_took_it(rig):
    held = lease(rig, "long@ci:1:run", ttl=3)
    held.acquire()
    lost = []
    renewal = Renewal(held, lambda: lease(rig, "long@ci:1:run", ttl=3), on_lost=lost.append)
    (Path(rig.store) / ".lease").write_text("thief@elsewhere:1:run 9999999999 x 0\n")
    deadline = time.monotonic() + 10
    while not lost and time.monotonic() < deadline:
        time.sleep(0.2)
    renewal.stop()
    assert lost == ["thief@elsewhere:1:run"]
