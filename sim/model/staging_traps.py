"""Staging ahead with a plan that can halt: under `delivery.stage_ahead` every camera fetches and installs the
candidate before the plan's first release (hawkBit's download-only rollout), and a halt of the plan does not stop
that (staging is a rollout of its own). The whole fleet's egress is spent before the first gate looks, where a plan
fetched step by step would have spent its first step's share. A trade a team may well want (the switch comes a
night sooner on thin uplinks: scenarios/stage-ahead-thin-uplinks.yaml); the lint puts the price in numbers.
sim/model/plan_traps.py gathers the rule with the other plan rules; docs/interop.md lists it.
"""

from __future__ import annotations

from collections.abc import Iterator

from sim.model.fleet_traps import fleet_origin_bytes
from sim.model.pace_traps import PlanWarning, plan_releases
from sim.model.scenario import Scenario
from sim.model.strategy import StrategyParams
from sim.model.units import format_size


def can_halt(plan: StrategyParams) -> bool:
    """Whether a plan told at fixed times has a rule that can halt it (an abort, a sequential test, a canary's judge
    or analysis)."""
    from sim.model.strategies.canary import CanaryParams

    if isinstance(plan, CanaryParams):
        return any((plan.judge, plan.analysis, plan.sequential, plan.abort))
    return getattr(plan, "abort", None) is not None or getattr(plan, "sequential", None) is not None


def staging_pays_up_front(path: str, plan: StrategyParams, scenario: Scenario) -> Iterator[PlanWarning]:
    """`stage_ahead` under a plan that can halt after a first step short of the fleet: the egress a halt there would
    have saved, spent before it can look."""
    releases = plan_releases(plan)
    if not scenario.delivery.stage_ahead or not releases or len(releases) < 2 or not can_halt(plan):
        return
    first, plan_name = releases[0], "the plan" if path == "strategy" else f"the plan {path}"
    whole = fleet_origin_bytes(scenario)
    price = scenario.pricing.egress_per_gb / 1e9
    stepwise = (f"about {format_size(whole * first.share)} (${whole * first.share * price:,.2f})" if first.share
                else "only the canary's cameras' bytes")
    yield ("delivery.stage_ahead",
           f"every camera fetches the candidate before {plan_name}'s first release, and a halt does not stop it: about "
           f"{format_size(whole)} from the origin (${whole * price:,.2f} of egress) spent before the plan's first "
           f"gate can look; fetched step by step, a halt after {first.label} would have sent {stepwise}")
