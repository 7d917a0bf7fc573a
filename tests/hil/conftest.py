"""Fixtures for HIL tests: one real sshd for the session, a fresh rig tree per test, a scenario with a hil: part."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import scenario_from
from tests.hil.local_rigs import provision_store, rigs_from
from tests.hil.rigtree import make_rig, stop_service
from tests.hil.sshd import SSHD, start_sshd, stop_sshd


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    if not Path(SSHD).exists():
        if os.environ.get("FLEETLAB_REQUIRE_SERVICES"):
            pytest.fail("sshd is not installed (apt-get install openssh-server)")
        pytest.skip("sshd is not installed (apt-get install openssh-server)")
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    stop_sshd(server)


@pytest.fixture
def rig_entry(sshd, tmp_path):
    """A function that makes rig entries in this test's folder: make('a'), make('b', health='false'). Their
    camera service daemons are stopped after the test."""
    made = []

    def make(name: str = "rig-a", **extra) -> dict:
        host_key = extra.pop("host_key", sshd.host_key)
        rig = make_rig(tmp_path / name, name, sshd.port, host_key, sshd.user, sshd.user_key, **extra)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        stop_service(rig)


@pytest.fixture(scope="session")
def provisioned_store(tmp_path_factory) -> Path:
    """A model store serving the current model, provisioned once per test process (tests/hil/local_rigs.py): every
    rig gets a copy and nothing writes to it (its `active` link is relative), so fourteen modules need not provision
    it fourteen times."""
    return provision_store(tmp_path_factory.mktemp("template"))


@pytest.fixture
def local_rigs(tmp_path, provisioned_store):
    """Call with the number of the rig to break (or None): four fast rigs, stopped after the test."""
    made: list[dict] = []

    def make(broken: int | None = None) -> list[dict]:
        made.extend(rigs_from(tmp_path, provisioned_store, broken))
        return made

    yield make
    for rig in made:
        stop_service(rig)

def write_inventory(path: Path, *rigs: dict) -> Path:
    with path.open("w") as sink:
        YAML().dump({"rigs": list(rigs)}, sink)
    return path


def hil_scenario(delivery: dict | None = None, **hil):
    spec = {"rig_tags": ["virtual"], "current_model": "builtin:current", "candidate_model": "builtin:candidate",
            "frames": "builtin", "iterations": 40, "warmup": 5, "max_cv": None,
            "parity": {"atol": 0.02, "rtol": 0.02}}
    spec.update(hil)
    return scenario_from({"hil": spec, "delivery": delivery or {},
                          "current": {"version": "1", "hardware": {"orin-nx": {"latency": "10ms", "power": 10}}}})


def quick_hil_text(iterations: int = 40) -> str:
    """The library's HIL scenario, quicker: fewer timed inferences, shorter soaks, and latency limits for rigs that
    share this machine's two cores with the rest of the test run (tests decide on behaviour, never on speed: the
    latency step still runs and reports its figures, but a busy machine cannot fail a test through it)."""
    from tests.conftest import ROOT

    text = (ROOT / "scenarios" / "hil-orin-candidate.yaml").read_text()
    for old, new in (("iterations: 300", f"iterations: {iterations}"), ("time_scale: 0.001", "time_scale: 0.0001"),
                     ("max_cv: 50%", "max_cv: null"), ("latency_budget: {p50: 10ms, p99: 25ms}",
                                                        "latency_budget: {p50: 1s, p99: 5s}"),
                     ('latency_p99: "< 25ms"', 'latency_p99: "< 5s"')):
        assert old in text, old
        text = text.replace(old, new)
    return text
