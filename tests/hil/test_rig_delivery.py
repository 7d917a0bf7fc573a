"""What the scenario's delivery makes a rig do (hil/rig_delivery.py), read from the scenario, and said in words for the
reader of a HIL result, with what the rigs cannot act out."""

from __future__ import annotations

from hil.rig_delivery import RigDelivery, describe, not_reproduced
from tests.hil.local_rigs import scenario

ALL_AT_ONCE = {"kind": "all_at_once"}


def test_the_delivery_a_rig_follows_is_read_from_the_scenario():
    plain = RigDelivery.of(scenario(ALL_AT_ONCE))
    assert (plain.download_attempts, plain.failure_retries, plain.fetch_again, plain.backoff_before(2)) == \
        (5, 0, False, 0.0)
    assert not any(line.startswith(("delivery.failure_retries", "delivery.retries")) for line in
                   describe(scenario(ALL_AT_ONCE)))
    # retry_fetches_again without retries does nothing, as in the simulator
    assert not RigDelivery.of(scenario(ALL_AT_ONCE, retry_fetches_again=True)).fetch_again
    backing = RigDelivery.of(scenario(ALL_AT_ONCE, retries={"backoff": "5m", "factor": 3, "max_backoff": "30m"}))
    assert [backing.backoff_before(copy) for copy in (2, 3, 4)] == [300.0, 900.0, 1800.0]


def test_what_the_rigs_cannot_act_out_is_said_where_the_scenario_sets_it():
    assert not_reproduced(scenario(ALL_AT_ONCE)) == []
    plan = scenario(ALL_AT_ONCE, artifact={"delta_size": "20MB", "corruption_rate": "1%"}, delta=True,
                    site_cache=True, link_expiry="24h", in_progress_timeout="1h")
    plan = plan.model_copy(update={"fleet": plan.fleet.model_copy(update={"poll_interval": 1800.0})})
    said = not_reproduced(plan)
    assert [line.split(":")[0] for line in said] == ["delivery.delta", "delivery.site_cache", "delivery.link_expiry",
                                                     "delivery.in_progress_timeout", "fleet.poll_interval",
                                                     "artifact.corruption_rate"]
    assert all(": not reproduced: " in line for line in said)
    assert describe(plan)[-len(said):] == said        # after what the rigs did do
