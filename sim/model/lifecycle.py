"""The device update lifecycle: one table of legal transitions, shared by the simulator and the HIL runner.

    IDLE → DOWNLOADING → VERIFYING → INSTALLING → AWAITING_WINDOW → ACTIVATING → HEALTH_CHECK → COMMITTED
                                                      ↑ (A/B power cut before commit: back to the old slot, try again)
    HEALTH_CHECK / COMMITTED → ROLLING_BACK → ROLLED_BACK          any in-flight state → IDLE (cancelled)
    AWAITING_WINDOW → FAILED (timed out by the server: delivery.in_progress_timeout; or a game held the switch
                              past delivery.defer_limit, as INSTALLING → FAILED the install under the freeze)
    HEALTH_CHECK → FAILED (a failed check left on the candidate: delivery.failure_handling: do_nothing)
    INSTALLING / AWAITING_WINDOW → DOWNLOADING (a game held it too long, and the retry fetches the artifact again:
                                              delivery.failure_retries with retry_fetches_again)
    FAILED and BRICKED end a device's story.
"""

from __future__ import annotations

from enum import IntEnum

from sim.model.errors import IllegalTransition


class DeviceState(IntEnum):
    """Small integers so the simulator can keep a million of them in one byte array."""

    IDLE = 0
    DOWNLOADING = 1
    VERIFYING = 2
    INSTALLING = 3
    AWAITING_WINDOW = 4
    ACTIVATING = 5
    HEALTH_CHECK = 6
    COMMITTED = 7
    ROLLING_BACK = 8
    ROLLED_BACK = 9
    FAILED = 10
    BRICKED = 11


S = DeviceState

LEGAL_TRANSITIONS: dict[DeviceState, frozenset[DeviceState]] = {
    S.IDLE: frozenset({S.DOWNLOADING}),
    # a corrupt or failed download goes round again; storage or attempts exhausted fail it
    S.DOWNLOADING: frozenset({S.VERIFYING, S.FAILED, S.IDLE}),
    S.VERIFYING: frozenset({S.INSTALLING, S.DOWNLOADING, S.FAILED, S.IDLE}),
    # a retry after a failure that fetches the artifact again (delivery.retry_fetches_again): back to downloading
    S.INSTALLING: frozenset({S.AWAITING_WINDOW, S.FAILED, S.BRICKED, S.IDLE, S.DOWNLOADING}),
    # timed out by the server (delivery.in_progress_timeout) while waiting for an install window
    S.AWAITING_WINDOW: frozenset({S.ACTIVATING, S.FAILED, S.IDLE, S.DOWNLOADING}),
    # a power cut before commit on an A/B device boots the old slot: back to waiting for a window
    S.ACTIVATING: frozenset({S.HEALTH_CHECK, S.AWAITING_WINDOW, S.ROLLING_BACK, S.BRICKED}),
    # a failed check with failure_handling do_nothing (Greengrass' DO_NOTHING) leaves the candidate in place
    S.HEALTH_CHECK: frozenset({S.COMMITTED, S.ROLLING_BACK, S.AWAITING_WINDOW, S.FAILED}),
    S.COMMITTED: frozenset({S.ROLLING_BACK}),
    S.ROLLING_BACK: frozenset({S.ROLLED_BACK, S.BRICKED}),
    S.ROLLED_BACK: frozenset(),
    S.FAILED: frozenset(),
    S.BRICKED: frozenset(),
}

TERMINAL = frozenset({S.ROLLED_BACK, S.FAILED, S.BRICKED})
# the reason a failed check under failure_handling do_nothing ends with, in the simulator and on rigs alike
LEFT_ON_CANDIDATE = "left on the candidate (delivery.failure_handling: do_nothing)"
# how the reason of a camera that a game held past delivery.defer_limit starts (sim/world/device.py)
HELD_BY_A_GAME = "held by a game"
# how the reason of a camera whose every download attempt was corrupt starts ("corrupt download 5 times")
CORRUPT_DOWNLOAD = "corrupt download"
# states in which the device runs the candidate model (what coverage counts once committed)
RUNS_CANDIDATE = frozenset({S.HEALTH_CHECK, S.COMMITTED})
BY_VALUE = tuple(DeviceState)   # the member of a stored byte, without Enum's slower DeviceState(value) lookup

IN_FLIGHT = frozenset({S.DOWNLOADING, S.VERIFYING, S.INSTALLING, S.AWAITING_WINDOW, S.ACTIVATING, S.HEALTH_CHECK})


def is_legal(source: DeviceState, target: DeviceState) -> bool:
    return target in LEGAL_TRANSITIONS[source]


def check_transition(source: DeviceState, target: DeviceState) -> None:
    """Raise IllegalTransition unless the table allows `source → target`."""
    if target not in LEGAL_TRANSITIONS[source]:
        raise IllegalTransition(f"illegal lifecycle transition {source.name} → {target.name}")


def retries_spent(count: int) -> str:
    """How the reason of an update that failed after `count` new attempts (delivery.failure_retries) ends, in the
    simulator and on rigs alike: " (2 retries: delivery.failure_retries)"; nothing without any."""
    return f" ({count} retr{'ies' if count > 1 else 'y'}: delivery.failure_retries)" if count else ""
