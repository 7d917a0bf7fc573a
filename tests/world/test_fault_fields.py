"""Every field of every scripted fault kind changes the run: a key that is accepted is never ignored."""

import hashlib
import json

import pytest

from sim.model import lint
from sim.run import simulate
from tests.conftest import scenario_from

FLEET = {"duration": "2d", "fleet": {
    "site_kinds": {"gym": {"count": 6, "cameras_per_site": 2, "uplink": {"median": "2Mbit/s", "sigma": 0}},
                   "stadium": {"count": 2, "cameras_per_site": 4, "uplink": {"median": "4Mbit/s", "sigma": 0}}},
    "hardware": {"orin-nx": "50%", "nano": "50%"}},
    "candidate": {"version": "2", "hardware": {"orin-nx": {"latency": "10ms", "power": 10},
                                               "nano": {"latency": "30ms", "power": 8}}}}
BASE = {
    "outage": {"kind": "outage", "at": "10m", "duration": "3h", "share": "50%", "cohort": {"site_kind": "gym"}},
    "power_cut": {"kind": "power_cut", "at": "20m", "duration": "2h", "share": "50%", "cohort": {"hardware": "nano"}},
}
CHANGES = {
    "outage": {"at": "1h", "duration": "9h", "share": "100%", "cohort": {"site_kind": "stadium"}},
    "power_cut": {"at": "40m", "duration": "8h", "share": "100%", "cohort": {"hardware": "orin-nx"}},
}


def digest(fault: dict) -> str:
    result = simulate(scenario_from({**FLEET, "faults": [fault]}), 1).model_dump_json()
    data = json.loads(result)
    data.pop("provenance")
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@pytest.mark.parametrize("kind, field", [(kind, field) for kind in BASE for field in CHANGES[kind]])
def test_changing_this_field_changes_the_run(kind, field):
    base = BASE[kind]
    assert digest(base) != digest({**base, field: CHANGES[kind][field]})


def test_every_field_of_every_fault_kind_is_walked():
    from sim.model.scenario import Fault

    fields = set(Fault.model_fields) - {"kind"}
    assert all(set(CHANGES[kind]) == fields for kind in BASE)


def test_a_power_cut_with_a_duration_keeps_devices_dark_that_long():
    short = simulate(scenario_from({**FLEET, "faults": [{**BASE["power_cut"], "duration": "0s", "share": "100%",
                                                         "cohort": {}}]}), 1)
    long = simulate(scenario_from({**FLEET, "faults": [{**BASE["power_cut"], "duration": "6h", "share": "100%",
                                                        "cohort": {}}]}), 1)
    assert long.coverage.t50 - short.coverage.t50 >= 6 * 3600 * 0.9
    assert any(event.detail.startswith("power cut, dark for 6h") for event in long.timeline)


def test_an_outage_cannot_pick_cameras_by_hardware_and_a_fault_after_the_end_is_refused():
    scenario = scenario_from({**FLEET, "faults": [{"kind": "outage", "at": "1h", "duration": "1h",
                                                   "cohort": {"hardware": "nano"}},
                                                  {"kind": "power_cut", "at": "3d"}]})
    findings = dict(lint.check(scenario))
    assert findings["faults.0.cohort.hardware"].startswith("an outage takes a whole site's uplink down")
    assert findings["faults.1.at"] == "this fault comes after the scenario's duration: it never happens"
