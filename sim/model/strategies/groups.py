"""Deployment groups in the hawkBit style: N equal groups or explicit cohort filters; a group that reaches its success
threshold opens the next one, a group that reaches its error threshold pauses the rollout (a halt for a human)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from sim.model.cohort import Cohort
from sim.model.gating.threshold import GroupRollbackPolicy
from sim.model.strategy import FleetView, Halt, Rollback, Rollout, Soak, StrategyParams, Update, register
from sim.model.unit_fields import Fraction, PlanInterval


class GroupFilter(StrategyParams):
    cohort: Cohort = Field(
        default=Cohort(), description="the devices this group takes (hardware, site kind, camera angle)")
    share: Fraction = Field(default=1.0, description="share of the matching devices not yet in a group")


class GroupsParams(StrategyParams):
    kind: Literal["groups"] = "groups"
    groups: Annotated[int, Field(ge=1)] | list[GroupFilter] = Field(
        default=4, description="a number of equal groups, or a list of cohort filters in order")
    success_threshold: Fraction = Field(
        default=0.5, description="share of a group committed before the next group opens")
    error_threshold: Fraction = Field(default=0.5, description="share of a group failed that pauses the rollout "
                                      "(0%: any failure)")
    check_every: PlanInterval = Field(default=900.0, description="how often the open group is looked at")
    rollback_policy: GroupRollbackPolicy | None = Field(
        default=None, description="roll the whole group back when its failures reach this share and count")


def split_groups(params: GroupsParams, fleet: FleetView) -> list[list[int]]:
    order = fleet.shuffled()
    if isinstance(params.groups, int):
        count = min(params.groups, len(order))   # more groups than devices would only add empty ones, each a soak
        return [order[index * len(order) // count:(index + 1) * len(order) // count] for index in range(count)]
    taken: set[int] = set()
    groups = []
    for spec in params.groups:
        matching = [device for device in order if device not in taken and spec.cohort.matches(*fleet.cohorts[device])]
        chosen = matching[:round(spec.share * len(matching))]
        taken.update(chosen)
        groups.append(chosen)
    return [group for group in groups if group]


@register("groups", GroupsParams, "groups (count or cohort filters); success threshold opens the next, error pauses")
def groups(params: GroupsParams, fleet: FleetView) -> Rollout:
    for number, group in enumerate(split_groups(params, fleet), start=1):
        yield Update(tuple(group), label=f"group {number}")
        while True:
            seen = yield Soak(params.check_every)
            tally = seen.count(group)
            if params.rollback_policy and params.rollback_policy.triggered(tally):
                reason = f"group {number}: {tally.bad} of {tally.executed} failed, rolling the group back"
                yield Rollback(tuple(group), reason)
                yield Halt(reason)
                return
            if tally.bad and tally.bad >= params.error_threshold * len(group):     # 0%: any failure pauses
                yield Halt(f"paused: group {number} reached its error threshold ({tally.bad} of {len(group)})")
                return
            if tally.committed >= params.success_threshold * len(group):
                break
