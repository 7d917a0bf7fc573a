"""`fleetlab export`, `import` and `lint` as a user runs them: files written whole or not at all, errors naming the
file and key, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from ruamel.yaml import YAML

from sim.load import load_scenario_text
from tests.conftest import ROOT
from tests.interop.test_export_import import validate

TINY = (ROOT / "scenarios" / "tiny.yaml").read_text()


def fleetlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fleetlab.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_export_writes_the_document_and_says_what_to_fill_in(tmp_path):
    out = tmp_path / "rollout.json"
    done = fleetlab("export", "scenarios/tiny.yaml", "--to", "mender", "--approximate", "--out", str(out),
                    "--start", "2027-01-04T02:00:00")
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text())
    validate("mender", document)
    assert document["phases"][0] == {"start_ts": "2027-01-04T02:00:00Z", "batch_size": 10}
    assert "approximated: the abort rule" in done.stderr and "fill in: artifact_name" in done.stderr


def test_a_refused_export_lists_the_gaps_and_writes_nothing(tmp_path):
    out = tmp_path / "rollout.json"
    done = fleetlab("export", "scenarios/tiny.yaml", "--to", "aws-iot-jobs", "--out", str(out))
    assert done.returncode == 2
    assert "aws-iot-jobs cannot express this plan" in done.stderr and "a waves plan" in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()
    unknown = fleetlab("export", "scenarios/tiny.yaml", "--to", "balena")
    assert unknown.returncode == 2 and "unknown update system 'balena'" in unknown.stderr


def test_import_prints_a_strategy_that_loads_in_a_scenario(tmp_path):
    policy = tmp_path / "hawkbit.json"
    policy.write_text(json.dumps({"name": "r", "distributionSetId": 1, "targetFilterQuery": "name==*",
                                  "amountGroups": 5, "successCondition": {"condition": "THRESHOLD",
                                                                          "expression": "90"}}))
    done = fleetlab("import", str(policy), "--from", "hawkbit")
    assert done.returncode == 0, done.stderr
    section = YAML(typ="safe").load(done.stdout)
    assert section["strategy"] == {"kind": "groups", "groups": 5, "success_threshold": "90%",
                                   "error_threshold": "50%"}
    plan = TINY[TINY.index("strategy:\n"):TINY.index("\nexpect:")]
    scenario = load_scenario_text(TINY.replace(plan, done.stdout))
    assert scenario.strategy.kind == "groups" and "hawkbit" in scenario.alternatives
    # each plan on one line as people write it: the dump once folded it at 80 columns ("error_threshold: \n 50%}")
    assert "  hawkbit: {kind: groups, groups: 5, success_threshold: 90%, error_threshold: 50%}\n" in done.stdout


def test_an_import_error_names_the_file_and_key(tmp_path):
    policy = tmp_path / "job.json"
    policy.write_text('{"jobExecutionsRolloutConfig": {"exponentialRate": {"baseRatePerMinute": 50}}}')
    done = fleetlab("import", str(policy), "--from", "aws-iot-jobs")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{policy}: jobExecutionsRolloutConfig.exponentialRate.rateIncreaseCriteria: missing" in done.stderr


def test_lint_exits_1_on_a_trap_and_validate_warns_but_passes(tmp_path):
    trap = tmp_path / "trap.yaml"
    trap.write_text(TINY.replace("waves: [10%, 50%, 100%]", "waves: [10%, 11%, 100%]"))
    linted = fleetlab("lint", str(trap))
    assert linted.returncode == 1
    assert f"warning: {trap}:" in linted.stderr and "strategy.waves.1: wave 2 (11.00%) rounds to 0" in linted.stderr
    checked = fleetlab("validate", str(trap))
    assert checked.returncode == 0 and "strategy.waves.1" in checked.stderr
    clean = fleetlab("lint", "scenarios/tiny.yaml")
    assert clean.returncode == 0 and "no plan traps found" in clean.stdout


def test_import_refuses_a_name_the_scenario_would_refuse(tmp_path):
    document = tmp_path / "mender.json"
    exported = fleetlab("export", "scenarios/game-day-freeze.yaml", "--to", "mender", "--out", str(document))
    assert exported.returncode == 0, exported.stderr
    for name in ("plan", "a,b"):
        done = fleetlab("import", str(document), "--from", "mender", "--name", name)
        assert done.returncode == 2 and "a plan's name is letters" in done.stderr and not done.stdout, done.stderr
