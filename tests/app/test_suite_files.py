"""Which scenario files a `fleetlab run` measures: each file once, and no two scenarios under one name."""

import json
import subprocess
import sys
from xml.etree import ElementTree

import xmlschema

from fleetlab.suite import collect, shared_names
from tests.conftest import ROOT

SCENARIOS = ROOT / "scenarios"


def test_a_file_named_twice_or_through_its_folder_is_collected_once():
    """`fleetlab run scenarios scenarios/bench-100k.yaml` (a folder, and a benchmark in it named to include it)
    once ran it twice, and `tiny.yaml ../scenarios/tiny.yaml` did the same: three outcomes all called 'tiny'."""
    files = collect([SCENARIOS, SCENARIOS / "bench-100k.yaml", SCENARIOS / ".." / "scenarios" / "tiny.yaml"])
    resolved = [file.resolve() for file, _ in files]
    assert len(resolved) == len(set(resolved)) == len(list(SCENARIOS.glob("*.yaml")))
    named = {file.name for file, was_named in files if was_named}
    assert named == {"bench-100k.yaml", "tiny.yaml"}      # named anywhere: a benchmark then runs


def test_two_files_under_one_scenario_name_are_refused_before_anything_runs(tmp_path):
    for copy in ("a.yaml", "b.yaml"):
        (tmp_path / copy).write_text((SCENARIOS / "tiny.yaml").read_text())
    assert shared_names(collect([tmp_path])) == {"tiny": [tmp_path / "a.yaml", tmp_path / "b.yaml"]}
    done = subprocess.run([sys.executable, "-m", "fleetlab.cli", "run", str(tmp_path), "--history", "",
                           "--out", str(tmp_path / "report")], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr
    assert "these files share one: 'tiny'" in done.stderr and "a.yaml" in done.stderr and "b.yaml" in done.stderr
    assert not (tmp_path / "report" / "index.html").exists()


def test_the_same_file_twice_is_measured_once(tmp_path):
    tiny = SCENARIOS / "tiny.yaml"
    done = subprocess.run([sys.executable, "-m", "fleetlab.cli", "run", str(tiny), str(tiny), "--history", "",
                           "--executor", "serial", "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "GO: 1 scenario in" in done.stdout


def test_a_suite_says_which_files_it_left_out_and_why(tmp_path):
    """`fleetlab run --mode hil` over scenarios without a hil: part was 'CANNOT MEASURE: something could not be
    measured' with nothing listed: no hint that every file had been skipped."""
    (tmp_path / "rigs.yaml").write_text((ROOT / "rigs" / "lab.example.yaml").read_text())
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "bench.yaml").write_text((SCENARIOS / "tiny.yaml").read_text().replace(
        "name: tiny", "name: bench\ntags: [benchmark]"))
    (folder / "tiny.yaml").write_text((SCENARIOS / "tiny.yaml").read_text())
    done = subprocess.run([sys.executable, "-m", "fleetlab.cli", "run", str(folder), "--mode", "hil", "--rigs",
                           str(tmp_path / "rigs.yaml"), "--history", "", "--out", str(tmp_path / "report")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr
    assert f"left out: {folder / 'bench.yaml'}: a benchmark: run only when its file is named" in done.stdout
    assert f"left out: {folder / 'tiny.yaml'}: no hil: part to run on rigs (--mode hil)" in done.stdout
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "no scenario was run: the 2 files found were left out" in summary and "## Left out in hil mode" in summary
    assert "no hil: part to run on rigs" in (tmp_path / "report" / "index.html").read_text()
    sim = subprocess.run([sys.executable, "-m", "fleetlab.cli", "run", str(folder), "--history", "",
                          "--executor", "serial", "--out", str(tmp_path / "sim")], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert sim.returncode == 0, sim.stderr      # the benchmark is left out, listed in the report only
    assert "left out" not in sim.stdout and "bench.yaml: a benchmark" in (tmp_path / "sim" / "summary.md").read_text()
    # and in junit.xml, as a skipped case a CI dashboard shows (once absent: the file seemed not to exist)
    xmlschema.XMLSchema(str(ROOT / "tests" / "report" / "junit.xsd")).validate(str(tmp_path / "sim" / "junit.xml"))
    junit = ElementTree.parse(tmp_path / "sim" / "junit.xml").getroot()
    skipped = [case for case in junit.iter("testcase") if case.find("skipped") is not None]
    assert [(case.get("name"), case.find("skipped").get("message")) for case in skipped] == [
        (str(folder / "bench.yaml"), "a benchmark: run only when its file is named")]
    assert int(junit.get("tests")) == 1 + sum(
        1 for case in junit.iter("testcase") if case.find("skipped") is None)


def test_validate_and_lint_read_a_folder_as_fleetlab_run_does(tmp_path):
    """`fleetlab run scenarios` worked and `fleetlab validate scenarios` said 'cannot read the file: Is a
    directory'; an empty folder must not pass as 'nothing wrong'."""
    for command in ("validate", "lint"):
        done = subprocess.run([sys.executable, "-m", "fleetlab.cli", command, str(SCENARIOS)], capture_output=True,
                              text=True, cwd=ROOT, timeout=300)
        assert done.returncode in (0, 1) and "Is a directory" not in done.stderr, done.stderr
        assert all(f"{file}:" in done.stdout + done.stderr for file in sorted(SCENARIOS.glob("*.yaml")))
        empty = subprocess.run([sys.executable, "-m", "fleetlab.cli", command, str(tmp_path)], capture_output=True,
                               text=True, cwd=ROOT, timeout=300)
        assert empty.returncode == 2 and empty.stderr.strip() == f"no .yaml files under {tmp_path}: nothing to check"


def test_a_folder_may_hold_the_calibration_file_and_inventory_its_scenarios_use(tmp_path):
    """`calibration: calibration.yaml` is read beside the scenario, so it lands in the scenarios folder: it once made
    `fleetlab run scenarios` CANNOT MEASURE ('schema_version: unknown key', …). Now each is what it is."""
    from tests.calibration.test_calibration_use import CALIBRATION

    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "tiny.yaml").write_text((SCENARIOS / "tiny.yaml").read_text())
    (folder / "calibration.yaml").write_text(CALIBRATION)
    (folder / "rigs.yaml").write_text((ROOT / "rigs" / "lab.example.yaml").read_text())

    def fleetlab(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "fleetlab.cli", *args], capture_output=True, text=True,
                              cwd=ROOT, timeout=300)

    done = fleetlab("run", str(folder), "--history", "", "--executor", "serial", "--out", str(tmp_path / "report"))
    assert done.returncode == 0, done.stdout + done.stderr
    left_out = json.loads((tmp_path / "report" / "result.json").read_text())["left_out"]
    assert left_out == [{"file": str(folder / "calibration.yaml"), "why": "a calibration file (fleetlab calibrate), "
                         "not a scenario: scenarios take it with `calibration:`"},
                        {"file": str(folder / "rigs.yaml"), "why": "a rig inventory, not a scenario: give it with "
                         "--rigs"}]
    checked = fleetlab("validate", str(folder))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"{folder / 'calibration.yaml'}: ok (calibration file: orin-nx from" in checked.stdout
    assert f"{folder / 'rigs.yaml'}: ok (rig inventory: " in checked.stdout
    linted = fleetlab("lint", str(folder))
    assert linted.returncode == 0 and "a rig inventory, not a scenario: no plan to lint" in linted.stdout

    # checked as what it is: a broken inventory is refused with its own keys, not a scenario's
    (folder / "rigs.yaml").write_text("rigs: [{name: orin-a}]\n")
    broken = fleetlab("validate", str(folder))
    assert broken.returncode == 2 and "rigs.yaml:1:8: rigs.0.host: required key is missing" in broken.stderr
    assert "fleet: required key is missing" not in broken.stderr


def test_a_file_of_another_kind_where_a_scenario_or_inventory_belongs_is_named_in_one_line(tmp_path):
    """`fleetlab hil rigs.yaml --rigs scenario.yaml` (the two swapped) answered with a page of 'required key is
    missing'; a calibration file given to `sim` the same."""
    from tests.calibration.test_calibration_use import CALIBRATION

    (tmp_path / "calibration.yaml").write_text(CALIBRATION)
    inventory, scenario = ROOT / "rigs" / "lab.example.yaml", ROOT / "scenarios" / "hil-orin-candidate.yaml"
    for args, said in (
            (["hil", str(inventory), "--rigs", str(scenario)], "a rig inventory, not a scenario: give it with --rigs"),
            (["hil", str(scenario), "--rigs", str(scenario)], "a scenario, not a rig inventory: give the scenario as"),
            (["sim", str(tmp_path / "calibration.yaml")], "a calibration file (fleetlab calibrate), not a scenario")):
        done = subprocess.run([sys.executable, "-m", "fleetlab.cli", *args], capture_output=True, text=True,
                              cwd=ROOT, timeout=300)
        assert done.returncode == 2 and said in done.stderr and "1 problem found" in done.stderr, done.stderr
        assert "required key is missing" not in done.stderr


def test_a_scenario_from_a_pipe_is_read_once_and_checked_and_run_like_a_file(tmp_path):
    """`fleetlab validate <(make-scenario)` said "the file must be a mapping": validate, lint and run read a file
    twice (the scenario, then its keys' positions or its name), and a pipe gives its bytes once."""
    text = (SCENARIOS / "tiny.yaml").read_text()
    for command, says in ((["validate"], "/dev/stdin: ok (tiny"), (["lint"], "/dev/stdin: no plan traps found"),
                          (["run", "--history", "", "--executor", "serial", "--out", str(tmp_path)], "GO: 1 scenario")):
        done = subprocess.run([sys.executable, "-m", "fleetlab.cli", command[0], "/dev/stdin", *command[1:]],
                              input=text, capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        assert says in done.stdout + done.stderr, (command, done.stdout, done.stderr)
    assert json.loads((tmp_path / "result.json").read_text())["scenarios"][0]["name"] == "tiny"
