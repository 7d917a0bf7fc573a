"""What the scenario's `delivery:` and `artifact:` parts make a rig do, read once for every rig of a run: the update
strategy, the failure handling, the games' waits, the download attempts and the retries after a failure. The rig
session reads these knobs (hil/session.py); `describe` says them in words for the reader of a HIL result, with the
settings the rigs cannot act out (`not_reproduced`).
"""

from __future__ import annotations

from dataclasses import dataclass

from hil.errors import HilError
from hil.inventory import Rig
from sim.model.scenario import Retries, Scenario
from sim.model.units import format_duration


@dataclass(frozen=True)
class RigDelivery:
    kill_first: bool = False             # delivery.update_strategy: kill_then_download
    hand_over: bool = False              # delivery.update_strategy: hand_over (hil/hand_over.py)
    leave_failing: bool = False          # delivery.failure_handling: do_nothing
    defer_limit: float | None = None     # delivery.defer_limit, scenario seconds (hil/defer.py)
    freeze: bool = False                 # delivery.freeze_during_games (hil/defer.py)
    download_attempts: int = 5           # artifact.max_download_attempts: copies sent before a corrupt one fails
    backoff: Retries | None = None       # delivery.retries: the wait before sending a copy again (scenario seconds)
    failure_retries: int = 0             # delivery.failure_retries: new attempts after a failure a retry can mend
    fetch_again: bool = False            # delivery.retry_fetches_again: a new attempt drops the candidate's copy

    @classmethod
    def of(cls, scenario: Scenario) -> RigDelivery:
        delivery = scenario.delivery
        return cls(kill_first=delivery.update_strategy == "kill_then_download",
                   hand_over=delivery.update_strategy == "hand_over",
                   leave_failing=delivery.failure_handling == "do_nothing", defer_limit=delivery.defer_limit,
                   freeze=delivery.freeze_during_games, download_attempts=scenario.artifact.max_download_attempts,
                   backoff=delivery.retries, failure_retries=delivery.failure_retries,
                   fetch_again=delivery.retry_fetches_again and delivery.failure_retries > 0)

    def backoff_before(self, copy: int) -> float:
        """Scenario seconds to wait before sending copy number `copy` (2, 3, …) after a corrupt one, as the
        simulator waits before fetching again (sim/world/fetching.py)."""
        if self.backoff is None:
            return 0.0
        return min(self.backoff.backoff * self.backoff.factor ** (copy - 2), self.backoff.max_backoff)


def check_rigs(delivery: RigDelivery, rigs: list[Rig]) -> None:
    """The update strategies need a command each rig's inventory entry may lack: refused before anything runs."""
    if delivery.kill_first and (cannot := [rig.name for rig in rigs if rig.service.stop is None]):
        raise HilError(f"delivery.update_strategy: kill_then_download stops the camera service before the transfer, "
                       f"and the inventory gives no service.stop for {', '.join(cannot)}: add the command that "
                       f"stops it (e.g. sudo systemctl stop camera-pipeline)")
    if delivery.hand_over and (cannot := [rig.name for rig in rigs if rig.service.hand_over is None]):
        raise HilError(f"delivery.update_strategy: hand_over starts the candidate's camera service beside the one "
                       f"serving, and the inventory gives no service.hand_over for {', '.join(cannot)}: add the "
                       f"command that does (see rigs/lab.example.yaml)")


def describe(scenario: Scenario) -> list[str]:
    """What the scenario's delivery makes the rigs do, where it is not the default: for the reader of a HIL result."""
    delivery, lines = scenario.delivery, []
    if delivery.stage_ahead:
        lines.append("delivery.stage_ahead: every rig installed the candidate before the plan's first release, which "
                     "then only activated it")
    if delivery.update_strategy == "kill_then_download":
        lines.append("delivery.update_strategy: kill_then_download: each rig stopped its camera service before the "
                     "transfer and ran no model until a service came up again (its parity and latency runs inside)")
    elif delivery.update_strategy == "hand_over":
        lines.append("delivery.update_strategy: hand_over: each rig started the candidate's camera service beside "
                     "the one serving, which stopped only once the new one served (the RAM in use with both running "
                     "is the activation's)")
    if delivery.failure_handling == "do_nothing":
        lines.append("delivery.failure_handling: do_nothing: a rig whose candidate failed its health check stayed on "
                     "it until the plan's end (then it was put back, with the proof)")
    if delivery.freeze_during_games:
        lines.append("delivery.freeze_during_games: a rig whose service.busy answered 'retry later' (a game on) held "
                     "its transfer until the game's end (and paused it when a game began mid-way), and its engine "
                     "build as long as it would hold its switch")
    if delivery.defer_limit is not None:
        lines.append(f"delivery.defer_limit: a rig whose service.busy answered 'retry later' (a game on) put its "
                     f"switch off for {format_duration(delivery.defer_limit)} × hil.time_scale at most, then gave it "
                     "up (a rig without service.busy never waits)")
    if delivery.retries is not None:
        lines.append(f"delivery.retries: a rig whose copy of the candidate arrived corrupt sent it again after "
                     f"{format_duration(delivery.retries.backoff)} × hil.time_scale, the wait growing "
                     f"×{delivery.retries.factor:g} a copy (artifact.max_download_attempts copies at most)")
    if delivery.failure_retries:
        again = ("dropped the candidate's copy and sent it again" if delivery.retry_fetches_again else
                 "carried on from what it had")
        lines.append(f"delivery.failure_retries: a rig that a game held past the defer limit, or whose copies all "
                     f"arrived corrupt, started its update again up to {delivery.failure_retries} "
                     f"time{'s' if delivery.failure_retries > 1 else ''}, at once (rigs have no check-in interval), "
                     f"and {again}")
    return lines + not_reproduced(scenario)


def not_reproduced(scenario: Scenario) -> list[str]:
    """The scenario's settings the rigs cannot act out, where set: a HIL result must not read as if they had been."""
    delivery, lines = scenario.delivery, []
    if delivery.delta:
        lines.append("delivery.delta: not reproduced: each rig received the whole candidate file (no delta is built)")
    if delivery.site_cache:
        lines.append("delivery.site_cache: not reproduced: each rig fetched its own copy")
    if delivery.link_expiry is not None:
        lines.append("delivery.link_expiry: not reproduced: a rig's transfer has no download link to expire")
    if delivery.in_progress_timeout is not None:
        lines.append("delivery.in_progress_timeout: not reproduced: no server times a rig's update out (its steps "
                     "have their own SSH and step timeouts), and timeout_retries has nothing to start again")
    if scenario.fleet.poll_interval is not None:
        lines.append("fleet.poll_interval: not reproduced: a rig took each release, and each retry, at once")
    if scenario.artifact.corruption_rate:
        lines.append("artifact.corruption_rate: not reproduced: a rig's corrupt copies are real ones (a bad write, "
                     "the corrupt_transfer fault), not drawn at this rate")
    return lines
