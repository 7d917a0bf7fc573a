"""What a scenario's simulation assumed about delivery, in the words a release manager reads beside its verdict.

A GO means "under these assumptions": an origin shared fairly, cameras told at once rather than polling every 30
minutes, links that never expire. Each line names the setting behind it, so a reader who knows their update system
behaves otherwise knows what to change and re-run. Only what shapes when and whether cameras get the update is said;
the fleet itself (sites, uplinks, hardware) is in the scenario file.
"""

from __future__ import annotations

from sim.model.scenario import Scenario
from sim.model.units import format_clock, format_duration, format_rate, format_size


def assumption_lines(scenario: Scenario) -> list[str]:
    return [line for line in (_artifact(scenario), _windows(scenario), _service(scenario), _orders(scenario),
                              _server(scenario), _origin(scenario), _power(scenario)) if line]


def _artifact(scenario: Scenario) -> str:
    artifact, delivery = scenario.artifact, scenario.delivery
    line = f"artifact {format_size(artifact.full_size)}"
    if delivery.delta and artifact.delta_size:
        line += (f", a {format_size(artifact.delta_size)} delta to the {1 - delivery.base_mismatch:.0%} of cameras on "
                 "its base (delivery.delta)")
        if delivery.delta_apply_failure:
            line += f", {delivery.delta_apply_failure:.0%} of which do not apply (delivery.delta_apply_failure)"
    line += ("; resumes from " + format_size(artifact.checkpoint) + " checkpoints" if artifact.resumable
             else "; an interrupted download starts over (artifact.resumable: false)")
    if artifact.corruption_rate:
        line += (f"; {artifact.corruption_rate:.1%} of downloads arrive corrupt, fetched again up to "
                 f"{artifact.max_download_attempts} attempts (artifact.corruption_rate)")
    if delivery.site_cache:
        line += "; one camera a site fetches it, the others copy over the LAN (delivery.site_cache)"
    if delivery.stage_ahead:
        line += ("; every camera fetches and installs it from the start, and the plan's releases only switch "
                 "(delivery.stage_ahead)")
    return line


SERVICE = {
    "download_then_kill": "a camera's model runs until its switch: it runs none for the switch ({activation}) and any "
                          "rollback ({rollback})",
    "kill_then_download": "a camera stops its model when its update starts and runs none until the new one runs: "
                          "through its download, verify, install and wait for a window",
    "hand_over": "the new model starts beside the old, which serves until it has: a camera runs none only for a "
                 "rollback ({rollback})",
}


def _service(scenario: Scenario) -> str:
    fleet, delivery = scenario.fleet, scenario.delivery
    line = SERVICE[delivery.update_strategy].format(activation=format_duration(fleet.activation_time),
                                                    rollback=format_duration(fleet.rollback_time)) + \
        f" (delivery.update_strategy: {delivery.update_strategy})"
    if delivery.failure_handling == "do_nothing":
        line += ("; a camera whose candidate fails its health check stays on it, reported FAILED, with no model at "
                 "all when its inference service crashed (delivery.failure_handling: do_nothing)")
    return line


def _windows(scenario: Scenario) -> str:
    windows = ", ".join(f"{format_clock(window.start)}–{format_clock(window.start + window.duration)}"
                        for window in scenario.fleet.install_windows)
    line = (f"cameras switch only in install windows {windows} local time (fleet.install_windows), the run "
            f"starting on a {scenario.start_weekday} at {format_clock(scenario.start_time)} UTC (start_weekday, "
            "start_time)")
    if scenario.delivery.freeze_during_games:
        line += "; nothing downloads or installs during a game (delivery.freeze_during_games)"
    return line


def _orders(scenario: Scenario) -> str:
    poll = scenario.fleet.poll_interval
    told = ("cameras are told at once, as by a pushed notification (fleet.poll_interval: none)" if poll is None
            else f"agents ask for orders every {format_duration(poll)} (fleet.poll_interval)")
    return f"{told}; the controller hears a report {format_duration(scenario.fleet.report_delay)} late " \
           "(fleet.report_delay)"


def _server(scenario: Scenario) -> str:
    delivery, parts = scenario.delivery, []
    if delivery.in_progress_timeout is not None:
        again = delivery.timeout_retries
        retries = f" and started again up to {again} time{'s' if again > 1 else ''}" if again else ""
        parts.append(f"an update is timed out {format_duration(delivery.in_progress_timeout)} after a camera started "
                     f"it{retries} (delivery.in_progress_timeout)")
    if delivery.failure_retries:
        again = delivery.failure_retries
        parts.append(f"a failed update is started again up to {again} time{'s' if again > 1 else ''} "
                     "(delivery.failure_retries)")
    if delivery.link_expiry is not None:
        parts.append(f"download links expire {format_duration(delivery.link_expiry)} after they are issued "
                     "(delivery.link_expiry)")
    return "; ".join(parts) if parts else "no update is timed out and download links never expire"


def _origin(scenario: Scenario) -> str:
    fleet = scenario.fleet
    if fleet.egress_cap is None:
        return ""
    return f"the origin carries at most {format_rate(fleet.egress_cap)}, shared {fleet.egress_sharing}ly " \
           "(fleet.egress_cap, fleet.egress_sharing)"


def _power(scenario: Scenario) -> str:
    fleet = scenario.fleet
    if not fleet.power_loss_per_day:
        return ""
    slots = "A/B slots (a cut costs a reboot)" if fleet.slots == "ab" else "in-place installs (a cut mid-write bricks)"
    return f"{fleet.power_loss_per_day:g} power cuts a camera a day, {slots} (fleet.power_loss_per_day, fleet.slots)"
