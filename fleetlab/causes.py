"""One line that says why a plan's run went the way it did: the halt (or rollback) that stopped it and where its
failures sit. The report, summary.md and junit.xml put it beside every failing expectation."""

from __future__ import annotations

from collections import Counter

from sim.model import units
from sim.model.gates import Bound
from sim.model.results import RunResult, TimelineEvent, least_informed_release, still_pending
from sim.model.scenario import Scenario

BAD_STATES = ("FAILED", "ROLLED_BACK", "BRICKED")


def cause_of(result: RunResult, scenario: Scenario) -> str:
    """'halted at 1d 0h: abort: 5 of 48 reported devices failed (10.4%) · 42 devices failed, 42 of them: insufficient
    storage; 30 of 42 sampled failures are hardware nano (20% of the fleet)' — empty when the run neither halted nor
    had a device fail."""
    parts = []
    halts = [event for event in result.timeline if event.kind == "halt"]
    rollbacks = [event for event in result.timeline if event.kind == "rollback"]
    if halts:
        withdrawn = halts[0].devices    # releases the halt withdrew before the cameras' agents checked in
        parts.append(f"halted at {units.format_duration(halts[0].time)}: {halts[0].detail}"
                     + (f" ({withdrawn} release{'s' if withdrawn != 1 else ''} withdrawn before the camera checked in)"
                        if withdrawn else ""))
    elif rollbacks:
        parts.append(f"rolled back at {units.format_duration(rollbacks[0].time)}: {rollbacks[0].detail}")
    shares = scenario.fleet.axis_shares()
    failing = _where_failures_sit(result, (shares["hardware"], shares["site_kind"], shares["camera_angle"]))
    if failing:
        parts.append(failing)
    if waiting := _still_on_their_way(result, bool(halts)):
        parts.append(waiting)
    if retried := result.retried_failures:      # the failures the server started again: not in the outcomes
        parts.append(f"{retried:,} failed update{'s' if retried != 1 else ''} started again "
                     "(delivery.failure_retries)")
    releases = [event for event in result.timeline if event.kind == "update"]
    if not halts and releases:      # the pace is the plan's own: a time bound is bounded by its last release
        pace = f"the plan released its last devices at {units.format_duration(releases[-1].time)}"
        parts.append(pace if parts else f"no halt and no failed device: {pace}")
    return " · ".join(parts)


def _still_on_their_way(result: RunResult, halted: bool) -> str:
    """Devices that had neither committed nor failed at the end, and the most common reason (not released yet, a
    window they wait for, a slow uplink): why a time bound was never reached when nothing failed. After a halt, the
    devices it kept from being told are the halt's doing, which the line before says."""
    reasons = {why: count for why, count in result.reasons.items()
               if still_pending(why) and not (halted and why.startswith("not released: rollout halted"))}
    if not reasons:
        return ""
    reason, count = max(reasons.items(), key=lambda item: (item[1], item[0]))
    return f"{_devices(sum(reasons.values()))} not committed at the end without failing, {count} of them: {reason}"


def _where_failures_sit(result: RunResult, shares: tuple[dict[str, float], ...]) -> str:
    """The most common reason devices failed, and a cohort value (hardware, site kind or camera angle) that holds
    most sampled failures while being at most half its share of the fleet — the stratum a release manager asks
    about; nothing about strata when failures spread like the fleet."""
    reasons = {why: count for why, count in result.reasons.items() if not still_pending(why)}
    if not reasons:
        return ""
    reason, count = max(reasons.items(), key=lambda item: (item[1], item[0]))
    line = f"{_not_made_it(result, sum(reasons.values()))}, {count} of them: {reason}"
    bad = [outcome for outcome in result.stragglers if outcome.state.name in BAD_STATES]
    candidates = []
    for axis in range(3):
        if len(bad) < MIN_SAMPLED:
            break
        value, held = Counter(outcome.cohort[axis] for outcome in bad).most_common(1)[0]
        share = shares[axis].get(value, 1.0)
        if held / len(bad) >= 0.5 and held / len(bad) >= 2 * share:
            candidates.append((held / len(bad) / share, axis, value, held, share))
    if not candidates:
        return line
    _, axis, value, held, share = max(candidates)
    return f"{line}; {held} of {len(bad)} sampled failures are {AXES[axis]} {value} ({share:.0%} of the fleet)"


def _devices(count: int) -> str:
    return f"{count} device{'s' if count != 1 else ''}"


def _not_made_it(result: RunResult, total: int) -> str:
    """'65 devices rolled back', '97 devices did not make it (1 failed, 96 bricked)': a device the plan rolled back
    as a precaution is not called failed. A device put back before it activated (a shadow install discarded) has
    gone back to idle: the rest of `total`."""
    words = {"FAILED": "failed", "ROLLED_BACK": "rolled back", "BRICKED": "bricked"}
    parts = {words[name]: count for state, count in result.outcomes.items()
             if (name := getattr(state, "name", str(state))) in words and count}
    if (put_back := total - sum(parts.values())) > 0:
        parts["put back before activating"] = put_back
    if len(parts) == 1:
        return f"{_devices(total)} {next(iter(parts))}"
    return f"{_devices(total)} did not make it (" + ", ".join(f"{count} {word}" for word, count in parts.items()) + ")"


AXES = ("hardware", "site kind", "camera angle")
MIN_SAMPLED = 10          # fewer sampled failing devices say nothing about a stratum


def least_evidence(timeline: list[TimelineEvent]) -> str:
    """'wave 3 (50%) at 1d 0h: it knew the outcomes of 354 of the 985 cameras told before (36%)' — the release a plan
    made knowing least of what it had already released; '' for a plan that released once."""
    event = least_informed_release(timeline)
    if event is None or event.told_before is None or event.outcomes_known is None:
        return ""
    return (f"{event.detail} at {units.format_duration(event.time)}: it knew the outcomes of {event.outcomes_known:,} "
            f"of the {event.told_before:,} cameras told before ({event.outcomes_known / event.told_before:.0%})")


# A plan that paces its releases can come in a little under the oracle's time (where sharing a bottleneck finishes
# downloads together, pacing lets most finish first: 0.96× measured, sim/oracle.py), so a bound is said to be out of
# reach only where the oracle misses it by more than this.
OUT_OF_REACH_MARGIN = 1.1


def out_of_reach(bound: Bound, oracle: dict[str, float | None]) -> str:
    """Why no plan meets a time bound (`t95 < 1d`), where the oracle on the first seed (every camera told at once,
    nothing failing) misses it too: the network, the install windows and the games set it out of reach, and a release
    manager should look at the bound or the delivery (caches, delta, windows), not at the plan. Empty otherwise."""
    if bound.metric not in oracle or bound.op not in ("<", "<="):
        return ""
    reached = oracle[bound.metric]
    label = bound.metric.upper()
    if reached is None:
        return (f"out of reach of any plan: even the oracle (every camera told at once, nothing failing) never "
                f"reaches {label} within the run on the first seed")
    if reached <= bound.value * OUT_OF_REACH_MARGIN:
        return ""
    times = f", {reached / bound.value:.1f}× the bound" if bound.value > 0 else ""      # `t95 <= 0s` has no ratio
    return (f"out of reach of any plan: even the oracle (every camera told at once, nothing failing) reaches "
            f"{label} at {units.format_duration(reached)} on the first seed{times}: "
            "the network, the install windows and the games set it, not the plan (a site cache or a delta moves "
            "it; no plan does)")
