"""Eclipse hawkBit: a rollout create body for the Management API (POST /rest/v1/rollouts).

fleetlab's `groups` plan is hawkBit's rollout: N equal groups (`amountGroups`) or groups by target filter with a
target percentage, a success condition that opens the next group and an error condition that pauses.
Reference: https://eclipse.dev/hawkbit/rest-api/rollout-api-guide/ (Management API, rollouts)
"""

from __future__ import annotations

from typing import Any

from fleetlab.interop.base import CannotImport, Document, Gaps, Target, percent, require
from sim.model.strategy import StrategyParams

NAME = "hawkbit"
COHORT_ATTRIBUTES = ("hardware", "site_kind", "camera_angle")     # target attributes the cameras report
FILL_IN = ("distributionSetId (the distribution set holding the candidate; 0 here)",
           "targetFilterQuery (every camera here)")
EVERY_TARGET = "name==*"


def _condition(share: float) -> Document:
    return {"condition": "THRESHOLD", "expression": f"{percent(share):g}"}


def export_plan(plan: StrategyParams, target: Target, gaps: Gaps) -> Document:
    from sim.model.strategies.groups import GroupsParams

    named: Document = {"name": f"{target.scenario} {target.candidate_version}", "distributionSetId": 0,
                       "targetFilterQuery": EVERY_TARGET}
    if plan.kind == "all_at_once":
        return {**named, "amountGroups": 1, "successCondition": _condition(1.0),
                "successAction": {"action": "NEXTGROUP"}, "errorCondition": _condition(1.0),
                "errorAction": {"action": "PAUSE"}}
    if not isinstance(plan, GroupsParams):
        gaps.add(f"a {plan.kind} plan: a rollout opens groups on success conditions, not after a bake time, and "
                 "has no canary judgement (plan with kind: groups)")
        return {}
    error_share = plan.error_threshold
    if plan.rollback_policy is not None:
        policy = plan.rollback_policy
        gaps.add(f"rolling a group back when {percent(policy.failed_share):g}% and {policy.failed_count} of it "
                 "failed: a rollout pauses, it does not roll back",
                 f"errorAction PAUSE at {percent(min(error_share, policy.failed_share)):g}% (the operator rolls "
                 "back)")
        error_share = min(error_share, policy.failed_share)
    document: Document = {**named, "successCondition": _condition(plan.success_threshold),
                          "successAction": {"action": "NEXTGROUP"},
                          "errorCondition": _condition(error_share), "errorAction": {"action": "PAUSE"}}
    if isinstance(plan.groups, int):
        document["amountGroups"] = plan.groups
    else:
        document["groups"] = [{"name": f"group {number}", "targetFilterQuery": _filter(spec.cohort),
                               "targetPercentage": percent(spec.share)}
                              for number, spec in enumerate(plan.groups, start=1)]
    return document


def _filter(cohort: Any) -> str:
    """A FIQL target filter on the cameras' attributes; empty matches every target."""
    return ";".join(f"attribute.{field}=={getattr(cohort, field)}" for field in COHORT_ATTRIBUTES
                    if getattr(cohort, field) is not None)


def _cohort(query: str, where: str) -> dict[str, str]:
    cohort = {}
    for term in filter(None, query.split(";")):
        field, _, value = term.partition("==")
        name = field.removeprefix("attribute.")
        if not field.startswith("attribute.") or name not in COHORT_ATTRIBUTES or not value:
            raise CannotImport(f"{where}: {term!r} is not a filter fleetlab can simulate; it knows "
                               + ", ".join(f"attribute.{name}==VALUE" for name in COHORT_ATTRIBUTES)
                               + " joined by ';'")
        cohort[name] = value
    return cohort


def _share(condition: Any, where: str, default: float = 0.5) -> str:
    if condition is None:
        return f"{percent(default):g}%"
    kind = require(condition, "condition", str, where)
    if kind != "THRESHOLD":
        raise CannotImport(f"{where}.condition: only THRESHOLD exists, got {kind!r}")
    expression = require(condition, "expression", str, where)
    try:
        value = float(expression)
    except ValueError:
        raise CannotImport(f"{where}.expression: a percentage such as '50', got {expression!r}") from None
    return f"{value:g}%"


def import_document(document: Document, notes: list[str]) -> dict[str, Any]:
    strategy: dict[str, Any] = {"kind": "groups"}
    if "groups" in document:
        groups = []
        for index, group in enumerate(require(document, "groups", list), start=0):
            where = f"groups.{index}"
            if not isinstance(group, dict):
                raise CannotImport(f"{where}: expected an object (targetFilterQuery, targetPercentage), got {group!r}")
            cohort = _cohort(str(group.get("targetFilterQuery") or ""), f"{where}.targetFilterQuery")
            share = group.get("targetPercentage", 100)
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 100:
                raise CannotImport(f"{where}.targetPercentage: expected more than 0 and at most 100, got {share!r}")
            groups.append({"cohort": cohort, "share": f"{share:g}%"} if cohort else {"share": f"{share:g}%"})
            if any(key in group for key in ("successCondition", "errorCondition")):
                notes.append(f"{where}: per-group conditions are simulated with the rollout's own")
        strategy["groups"] = groups
    else:
        strategy["groups"] = require(document, "amountGroups", int)
    strategy["success_threshold"] = _share(document.get("successCondition"), "successCondition")
    strategy["error_threshold"] = _share(document.get("errorCondition"), "errorCondition")
    for key, wanted in (("successAction", "NEXTGROUP"), ("errorAction", "PAUSE")):
        action = document.get(key, {"action": wanted})
        if require(action, "action", str, key) != wanted:
            raise CannotImport(f"{key}.action: fleetlab simulates {wanted}, got {action['action']!r}")
    if document.get("type") == "downloadonly":
        notes.append("type downloadonly: a download-only rollout stages the update ahead of the one that installs it: "
                     "simulate that as delivery.stage_ahead: true under the installing rollout's plan (imported here "
                     "as a full update)")
    return strategy
