"""`--json` on sim, compare, sweep, run, validate and lint: stdout is one JSON document a script can read (tables
and progress go to stderr), and the exit code is the same as without it; a command that cannot start prints a
failure document (fleetlab.json_promise). (hil and fidelity:
tests/hil/test_plan_cli.py and tests/hil/test_calibration.py, on rigs.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from fleetlab.cli import app
from fleetlab.json_promise import asked_for_json
from tests.conftest import ROOT


def fleetlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fleetlab.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


@pytest.mark.parametrize("command, read", [
    (["sim", "scenarios/tiny.yaml"], lambda d: (d["passed"], d["result"]["devices"], d["checks"][0]["metric"])),
    (["compare", "scenarios/tiny.yaml", "--seeds", "2"], lambda d: (d["judged"], d["plans"][0]["passes"]["t95"])),
    (["sweep", "scenarios/tiny.yaml", "--seeds", "2", "--executor", "serial", "--grid", "strategy.bake=2h,4h"],
     lambda d: (d["runs"], len(d["points"]))),
])
def test_json_is_the_whole_stdout_and_the_exit_code_is_unchanged(command, read, tmp_path):
    plain, as_json = fleetlab(*command), fleetlab(*command, "--json")
    assert as_json.returncode == plain.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    assert read(document)
    assert "runs" in as_json.stderr or "events" in as_json.stderr      # the human summary moved to stderr


def test_compare_json_holds_the_paired_rows_against_the_first_plan():
    """The table's "− plan's, same seeds" rows were only in the table: tiny's all_at_once is a day sooner on every
    seed and costs the same; the first plan is set against nothing."""
    done = fleetlab("compare", "scenarios/tiny.yaml", "--strategies", "plan,all_at_once", "--seeds", "3", "--json")
    assert done.returncode == 0, done.stderr
    first, other = json.loads(done.stdout)["plans"]
    assert first["against_first"] is None
    assert other["against_first"]["t95"] == {"mean": -86400.0, "low": -86400.0, "high": -86400.0}
    assert other["against_first"]["cost"] == {"mean": 0.0, "low": 0.0, "high": 0.0}


def test_run_json_is_result_json(tmp_path):
    done = fleetlab("run", "scenarios/tiny.yaml", "--out", str(tmp_path / "r"), "--history", "", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads((tmp_path / "r" / "result.json").read_text())
    assert "GO: 1 scenario" in done.stderr


def test_validate_json_lists_each_file_with_its_problems_at_their_lines(tmp_path):
    """A CI job or an editor plug-in reads the problems as records, not by parsing `file:line:col: key: message`."""
    broken = tmp_path / "broken.yaml"
    broken.write_text((ROOT / "scenarios" / "tiny.yaml").read_text().replace("duration: 3d", "duration: 3"))
    done = fleetlab("validate", "scenarios/tiny.yaml", str(broken), "--json")
    assert done.returncode == 2, done.stderr
    document = json.loads(done.stdout)
    assert document["passed"] is False and document["exit_code"] == 2
    good, bad = document["files"]
    assert good["ok"] and good["name"] == "tiny" and good["problems"] == [] and good["devices"] > 0
    assert not bad["ok"] and bad["problems"] == [{
        "file": str(broken), "line": 5, "column": 1, "key": "duration",
        "message": "expected a duration with a unit such as '12h' or '90s', got 3"}]
    assert f"{broken}:5:1: duration:" in done.stderr          # the human lines still say it, on stderr


def test_lint_json_gives_each_finding_with_its_key_and_line():
    done = fleetlab("lint", "scenarios/angle-regression-canary.yaml", "scenarios/tiny.yaml", "--json")
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert document["passed"] is False and document["exit_code"] == 1
    flagged, clean = document["files"]
    assert [(finding["key"], finding["line"]) for finding in flagged["findings"]] == [
        ("strategy.detect_failure_rate", 54)]
    assert "54%" in flagged["findings"][0]["message"] and clean["findings"] == []


def test_compare_recommends_a_plan_by_the_reports_rule_with_lint_beside_it():
    """compare showed every figure and left the choice to whoever read the table; the report and the sweep choose.
    tiny's all_at_once holds every bound and is a day sooner on every seed than its waves."""
    done = fleetlab("compare", "scenarios/tiny.yaml", "--strategies", "plan,all_at_once", "--seeds", "3", "--json")
    assert done.returncode == 0, done.stderr
    chosen = json.loads(done.stdout)["recommended"]
    assert chosen["name"] == "all_at_once" and chosen["rule"] == "the lowest risk of breaking any bound, then the " \
                                                                 "fastest T95"
    assert chosen["paired"].startswith("On the same seeds its T95 comes sooner than plan's: +1d 0h a seed")
    assert "Recommended: all_at_once (all_at_once) — risk of breaking a bound 0% over 3 seeds, T95 10h 11m" in \
        " ".join(done.stderr.split())
    # a plan lint flags is said to be flagged, and a clean plan that breaks a bound is no alternative
    flagged = fleetlab("compare", "scenarios/angle-regression-canary.yaml", "--strategies", "plan,random_canary",
                       "--seeds", "2", "--json")
    chosen = json.loads(flagged.stdout)["recommended"]
    assert chosen["name"] == "plan" and chosen["lint"].startswith("strategy.detect_failure_rate:")
    assert chosen["without_lint"].startswith("none within the risk allowed (random_canary has none")
    alone = fleetlab("compare", "scenarios/tiny.yaml", "--seeds", "2", "--json")
    assert json.loads(alone.stdout)["recommended"] is None and "Recommended" not in alone.stderr


# What each command was refused, with --json: a script piping stdout to jq read nothing (a jq "parse error") where
# the command could not start; the reason was only on stderr.
EXAMPLE_RIGS = "rigs/lab.example.yaml"


@pytest.mark.parametrize("command, file, said", [
    (["sim", "{missing}"], "{missing}", "cannot read the file: there is no such file"),
    (["compare", "{broken}"], "{broken}", "YAML: "),
    (["compare", "scenarios/tiny.yaml", "--strategies", ","], "", "--strategies ',': name at least one plan"),
    (["compare", "scenarios/tiny.yaml", "--seed", "3"], "", "No such option: --seed"),
    (["sweep", "scenarios/tiny.yaml", "--max-risk", "abc"], "", "--max-risk: expected a fraction"),
    (["sweep", "scenarios/tiny.yaml", "--grid", "strategy.bake=1h,xx"], "scenarios/tiny.yaml",
     "grid point strategy.bake=xx: strategy.bake: expected a duration"),
    (["run", "{empty}"], "", "no .yaml files under {empty}: nothing to run"),
    (["validate", "{empty}"], "", "no .yaml files under {empty}: nothing to check"),
    (["lint", "{empty}"], "", "no .yaml files under {empty}: nothing to check"),
    (["backtest", "scenarios/tiny.yaml", "--records", "{broken}", "--from", "mender"], "{broken}", "not JSON"),
    (["history", "--history", "{broken}"], "", "cannot read the history at {broken}"),
    (["hil", "scenarios/tiny.yaml", "--rigs", EXAMPLE_RIGS], "scenarios/tiny.yaml",
     "the scenario has no hil: section"),
    (["fidelity", "scenarios/tiny.yaml", "--rigs", EXAMPLE_RIGS], "scenarios/tiny.yaml",
     "the scenario has no hil: section"),
    (["nosuch"], "", "No such command 'nosuch'"),
])
def test_a_command_that_cannot_start_still_prints_one_json_document(command, file, said, tmp_path):
    places = {"{missing}": str(tmp_path / "missing.yaml"), "{broken}": str(tmp_path / "broken.yaml"),
              "{empty}": str(tmp_path / "empty")}
    (tmp_path / "broken.yaml").write_text("name: x\nfleet: [\n")
    (tmp_path / "empty").mkdir()

    def placed(text: str) -> str:
        for mark, path in places.items():
            text = text.replace(mark, path)
        return text

    done = fleetlab(*[placed(arg) for arg in command], "--json")
    assert done.returncode == 2, done.stderr
    document = json.loads(done.stdout)
    assert document["exit_code"] == 2 and document["passed"] is False
    problem, = document["problems"]
    assert set(problem) == {"file", "line", "column", "key", "message"}
    assert problem["file"] == placed(file) and placed(said) in problem["message"]
    assert placed(said) in " ".join(done.stderr.split())      # still said for a person, on stderr


def test_the_failure_document_carries_the_line_and_key_of_each_problem(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text((ROOT / "scenarios" / "tiny.yaml").read_text().replace("duration: 3d", "duration: 3"))
    done = fleetlab("sim", str(broken), "--json")
    assert done.returncode == 2
    assert json.loads(done.stdout)["problems"] == [{
        "file": str(broken), "line": 5, "column": 1, "key": "duration",
        "message": "expected a duration with a unit such as '12h' or '90s', got 3"}]


def test_without_json_a_refused_command_prints_nothing_on_stdout(tmp_path):
    done = fleetlab("compare", str(tmp_path / "missing.yaml"))
    assert done.returncode == 2 and done.stdout == "" and "there is no such file" in done.stderr


def test_json_after_a_double_dash_is_an_argument_not_the_option():
    assert asked_for_json(["sim", "x.yaml", "--json"])
    assert not asked_for_json(["sim", "--", "--json"])
    assert not asked_for_json(["sim", "--jsonx"])


def test_each_command_in_one_process_keeps_its_own_promise(tmp_path):
    """Typer's test runner (and a script importing the app) runs many commands in one process: a refusal with
    --json leaves nothing behind for the next command, which prints JSON only if it was asked to."""
    runner = CliRunner()
    missing = str(tmp_path / "missing.yaml")
    refused = runner.invoke(app, ["sim", missing, "--json"])
    assert refused.exit_code == 2 and json.loads(refused.stdout)["problems"][0]["file"] == missing
    plain = runner.invoke(app, ["sim", missing])
    assert plain.exit_code == 2 and plain.stdout == ""
    again = runner.invoke(app, ["compare", str(tmp_path / "other.yaml"), "--json"])
    assert [problem["file"] for problem in json.loads(again.stdout)["problems"]] == [str(tmp_path / "other.yaml")]


def _annotation_filter() -> str:
    """The jq filter docs/nightly-ci.md's pull-request job turns the records into annotations with."""
    text = (ROOT / "docs" / "nightly-ci.md").read_text()
    return text.split("annotate='", 1)[1].split("'\n", 1)[0]


def test_the_pull_request_jobs_filter_reads_both_documents(tmp_path):
    """The documented job's jq filter annotates each file's problems, and a refusal's (a folder with no scenario:
    its document has no `files`, where the filter once stopped with "Cannot iterate over null")."""
    jq = shutil.which("jq")
    if jq is None:
        if os.environ.get("FLEETLAB_REQUIRE_SERVICES"):
            pytest.fail("jq is not installed (apt-get install jq)")
        pytest.skip("jq is not installed (apt-get install jq)")
    broken = tmp_path / "broken.yaml"
    broken.write_text((ROOT / "scenarios" / "tiny.yaml").read_text().replace("duration: 3d", "duration: 3"))
    (tmp_path / "empty").mkdir()

    def annotations(*args: str) -> list[str]:
        document = fleetlab(*args, "--json").stdout
        done = subprocess.run([jq, "-r", "--arg", "level", "error", _annotation_filter()], input=document,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    assert annotations("validate", "scenarios/tiny.yaml", str(broken)) == [
        f"::error file={broken},line=5,col=1,title=duration::expected a duration with a unit such as '12h' or '90s', "
        "got 3"]
    assert annotations("validate", str(tmp_path / "empty")) == [
        f"::error file=,line=0,col=0,title=::no .yaml files under {tmp_path / 'empty'}: nothing to check"]
    assert annotations("validate", "scenarios/tiny.yaml") == []


def test_compare_says_a_time_bound_no_plan_meets_is_out_of_reach(tmp_path):
    """tiny's oracle reaches T95 at ~10h: a 2h bound breaks for every plan, and tuning the plan cannot mend it."""
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text((ROOT / "scenarios" / "tiny.yaml").read_text().replace('t95: "< 3d"', 't95: "< 2h"'))
    done = fleetlab("compare", str(scenario), "--seeds", "2", "--json")
    assert done.returncode == 1, done.stderr
    plan, = json.loads(done.stdout)["plans"]
    assert plan["out_of_reach"]["t95"].startswith("out of reach of any plan: even the oracle")
    assert "  t95: out of reach of any plan" in done.stderr
    reachable = fleetlab("compare", "scenarios/tiny.yaml", "--seeds", "2", "--json")
    assert json.loads(reachable.stdout)["plans"][0]["out_of_reach"] == {}
