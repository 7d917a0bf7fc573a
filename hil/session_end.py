"""The last of a rig's part in a plan, after its rollback proof (RigSession.close): the lease handed back and the
rig's result put together from what the session recorded and found."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hil.errors import HilError
from sim.model.hil_results import RigResult

if TYPE_CHECKING:
    from hil.session import RigSession

log = logging.getLogger(__name__)


def release_lease(session: "RigSession") -> None:
    """Stop renewing, release the lease unless it was lost (one that cannot be released expires by itself), hang
    up."""
    try:
        if session.renewal is not None:
            session.renewal.stop()
        if session.lease is not None and not session.lease_lost:
            with session.record.step("release", owner=session.lease.owner):
                session.lease.release()
    except HilError as error:
        log.error("%s: could not release the lease (it expires by itself): %s", session.rig.name, error)
    finally:
        session.shell.close()


def rig_result(session: "RigSession") -> RigResult:
    found, release, art = session.found, session.release, session.art
    if release is None and session.outcome == "passed":
        session.outcome = "skipped"       # never told to update: measured as a control rig at most
    active = art.candidate_version if found.switched else art.current_version
    return RigResult(rig=session.rig.name, hardware=session.rig.hardware, angle=session.angle,
                     wave=release[0] if release else -1, release=release[1] if release else "",
                     state=session.state, verdict=session.outcome, reason=session.reason,
                     quarantined=session.quarantined, active_at_end=active, facts=found.facts,
                     steps=session.record.steps, parity=found.parity, latency=found.latency,
                     telemetry=session.steps.telemetry_summary() if session.opened else None,
                     idle_temperature=found.idle_temperature, shadow=found.shadow, bytes_sent=found.bytes_sent,
                     faults=[key.replace("@", " at ", 1) for key in session.faults.fired])
