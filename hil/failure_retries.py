"""A failed update started again on a rig (`delivery.failure_retries`), as the simulator's server starts a new
attempt (sim/world/server_side.py: AWS IoT Jobs' retries of FAILED executions, Mender's deployment retries).

Only the failures a new attempt can mend are retried, the same as in the simulator: a game that held the switch or,
under the freeze, the install past `delivery.defer_limit` (the game may be over by the next attempt), and a download
whose every copy arrived corrupt (`artifact.max_download_attempts`; the copies are drawn anew). A failing candidate,
a full disk or a rig out of reach fail as without retries. The new attempt carries on from what the rig has: the
failed step runs again (the switch put off for the limit again, the install held again, the transfer sent again with
its copies counted afresh); under `delivery.retry_fetches_again` it drops the candidate's copy and starts from the
download, as a Mender agent streams each deployment's artifact anew (the slot is replaced whole by the new transfer,
and its engine built again). The rig picks the new attempt up at once: rigs have no check-in interval, as they take
an Update at once; so under kill_then_download the current model is not restarted in between (the simulator's
agent, picking up at once, does not restart it either).

Every new attempt is a `retry` step in the rig's record; a rig whose retries are spent fails with the simulator's
reason and its suffix ("… (2 retries: delivery.failure_retries)").
"""

from __future__ import annotations

from hil.recorder import StepRecorder
from sim.model.lifecycle import CORRUPT_DOWNLOAD, HELD_BY_A_GAME, retries_spent

MENDED_BY_A_RETRY = (HELD_BY_A_GAME, CORRUPT_DOWNLOAD)      # how the reasons a new attempt may mend start
DOWNLOAD_STEPS = ("hold_download", "transfer")              # where a retry that fetches again starts (the first run)


class FailureRetries:
    def __init__(self, allowed: int, fetch_again: bool, record: StepRecorder) -> None:
        self.allowed, self.fetch_again, self.record = allowed, fetch_again, record
        self.used = 0

    def start_again(self, failed: str, detail: str, steps: list[str]) -> str | None:
        """The step a new attempt starts from, among `steps` (those the rig runs, in order), after `failed` failed
        with `detail`; None when the update fails for good."""
        if not detail.startswith(MENDED_BY_A_RETRY) or self.used >= self.allowed:
            return None
        self.used += 1
        start = failed
        if self.fetch_again:
            start = next(name for name in steps if name in DOWNLOAD_STEPS)
        with self.record.step("retry", retry=f"{self.used} of {self.allowed}", after=failed, starts_at=start) as step:
            carried = ("the candidate's copy dropped, fetched again from its first byte (delivery.retry_fetches_again)"
                       if self.fetch_again else f"carried on from what the rig has: {failed} again")
            step.detail = f"a new attempt after {failed} failed ({detail.split(':')[0]}): {carried}"
        return start

    def spent(self, detail: str) -> str:
        """The reason of an update that failed for good: the simulator's suffix when retries were used."""
        if not self.used or not detail.startswith(MENDED_BY_A_RETRY):
            return detail
        return detail + retries_spent(self.used)
