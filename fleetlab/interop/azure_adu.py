"""Azure Device Update: one deployment per device group, staged group after group, each with the cloud-initiated
rollback policy (the group returns to the previous update when failed percentage AND failed count are reached).

The exported document is `{"deployments": [...]}`, one body of PUT .../deployments/{deploymentId} per stage in
order. ADU starts each stage when its `startDateTime` comes (or an operator starts it); it has no success condition
that opens the next stage nor an error condition that pauses, so a `groups` plan's thresholds are gaps,
approximated by stage start times one check apart and left to the operator.
Reference: https://learn.microsoft.com/en-us/rest/api/deviceupdate/dataplane/device-management/create-or-update-deployment
"""

from __future__ import annotations

from typing import Any

from fleetlab.interop.base import CannotImport, Document, Gaps, Target, percent, require
from sim.model.strategy import StrategyParams

NAME = "azure-adu"
PROVIDER = "fleetlab"
FILL_IN = ("update.updateId (provider fleetlab, name camera-model here)",
           "groupId (the device groups, by ADUGroup tag)",
           "rollbackPolicy.update (the version running now; 0.0 when the scenario names no current model)")


def _update(version: str) -> Document:
    return {"updateId": {"provider": PROVIDER, "name": "camera-model", "version": version}}


def export_plan(plan: StrategyParams, target: Target, gaps: Gaps) -> Document:
    from sim.model.strategies.groups import GroupsParams

    spacing = plan.check_every if isinstance(plan, GroupsParams) else 0.0
    stages: list[tuple[str, Any]]
    if plan.kind == "all_at_once":
        stages = [("fleet", None)]
    elif isinstance(plan, GroupsParams):
        count = plan.groups if isinstance(plan.groups, int) else len(plan.groups)
        stages = [(f"stage-{number}", plan.rollback_policy) for number in range(1, count + 1)]
        gaps.add(f"the next group opens when {percent(plan.success_threshold):g}% of a group committed, and "
                 f"{percent(plan.error_threshold):g}% failed pauses: ADU stages have no success or error condition",
                 "stages start one check_every apart; the operator holds the next stage")
        if not isinstance(plan.groups, int):
            gaps.add("groups by cohort filter: ADU groups are made by device tags (ADUGroup)",
                     "one group per stage, tagged by the operator")
    else:
        gaps.add(f"a {plan.kind} plan: ADU deploys to whole device groups, staged by hand "
                 "(plan with kind: groups)")
        return {}
    deployments = []
    for index, (name, policy) in enumerate(stages):
        deployment: Document = {"deploymentId": f"{target.scenario}-{name}",
                                "startDateTime": target.at(index * spacing),
                                "update": _update(target.candidate_version), "groupId": name}
        if policy is not None:
            share = percent(policy.failed_share)
            if index == 0 and share != round(share):
                gaps.add(f"a rollback at {share:g}% failed: ADU takes whole percentages", f"{round(share)}%")
            deployment["rollbackPolicy"] = {"update": _update(target.current_version),
                                            "failure": {"devicesFailedPercentage": max(1, round(share)),
                                                        "devicesFailedCount": policy.failed_count}}
        deployments.append(deployment)
    return {"deployments": deployments}


def import_document(document: Document, notes: list[str]) -> dict[str, Any]:
    deployments = require(document, "deployments", list)
    if not deployments:
        raise CannotImport("deployments: at least one deployment")
    policies: list[tuple[Any, Any] | None] = []
    for index, deployment in enumerate(deployments):
        where = f"deployments.{index}"
        require(deployment, "groupId", str, where)
        policy = deployment.get("rollbackPolicy")
        if policy is None:
            policies.append(None)
            continue
        failure = require(policy, "failure", dict, f"{where}.rollbackPolicy")
        policies.append((require(failure, "devicesFailedPercentage", (int, float), f"{where}.rollbackPolicy.failure"),
                         require(failure, "devicesFailedCount", int, f"{where}.rollbackPolicy.failure")))
    if len(set(policies)) > 1:
        raise CannotImport("deployments: the stages have different rollback policies; fleetlab's groups share one")
    if len(deployments) == 1 and policies[0] is None:
        return {"kind": "all_at_once"}
    notes.append("ADU stages start by hand: simulated as groups where the next opens when half of a group "
                 "committed and half failed pauses (fleetlab's defaults); each stage is an equal share of the fleet")
    strategy: dict[str, Any] = {"kind": "groups", "groups": len(deployments)}
    if policies[0] is not None:
        share, count = policies[0]
        strategy["rollback_policy"] = {"failed_share": f"{share:g}%", "failed_count": count}
    return strategy
