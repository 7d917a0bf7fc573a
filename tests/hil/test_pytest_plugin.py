"""The pytest plugin end to end, with pytester: scenario files as items, skips, failures with numbers, reports,
xdist groups per rig, and rig latency through pytest-benchmark — the rigs behind the real sshd."""

import json
import shutil

import pytest

from tests.conftest import ROOT
from tests.hil.conftest import quick_hil_text, write_inventory


@pytest.fixture
def scenarios(pytester, monkeypatch):
    # The pytest runs below are a user's own, not workers of this one: when this suite runs on xdist workers, their
    # variables would make pytest-benchmark switch itself off in the child (it reads PYTEST_XDIST_WORKER).
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    shutil.copy(ROOT / "scenarios" / "tiny.yaml", pytester.path / "tiny.yaml")
    strict = (ROOT / "scenarios" / "tiny.yaml").read_text().replace("name: tiny", "name: strict").replace(
        't95: "< 3d"', 't95: "< 1h"')
    (pytester.path / "strict.yaml").write_text(strict)
    (pytester.path / "hil.yaml").write_text(quick_hil_text())
    (pytester.path / "notes.yaml").write_text("just: some yaml\nthat: is not a scenario\n")
    return pytester


def test_scenarios_are_items_a_miss_fails_with_numbers_and_hil_skips_without_rigs(scenarios):
    result = scenarios.runpytest_subprocess("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*hil.yaml::hil-orin-candidate?sim? PASSED*",
                                 "*hil.yaml::hil-orin-candidate?hil? SKIPPED*hil: no --rigs*",
                                 "*strict.yaml::strict?sim? FAILED*", "*tiny.yaml::tiny?sim? PASSED*",
                                 "*t95 = 1d 10h, bound < 1h: broken*"])


def test_a_hil_part_no_rig_can_run_fails_instead_of_vanishing(scenarios, rig_entry):
    """A rigs file without a rig that carries the scenario's tags: the run must not pass on the sim items alone."""
    inventory = write_inventory(scenarios.path / "rigs.yaml", rig_entry("xavier-a", tags=["xavier"]))
    (scenarios.path / "strict.yaml").unlink()
    result = scenarios.runpytest_subprocess("-v", "-p", "no:cacheprovider", "--rigs", str(inventory))
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*hil.yaml::hil-orin-candidate?hil? FAILED*",
                                 "could not measure:", "hil: no rig carries the tags ?'orin'? that hil.rig_tags*"])


@pytest.mark.parametrize("seeds", ["0", "-3", "1000001"])
def test_a_seed_count_fleetlab_run_would_refuse_is_a_usage_error(pytester, seeds):
    """--fleetlab-seeds 0 failed every scenario item with an IndexError traceback."""
    shutil.copy(ROOT / "scenarios" / "tiny.yaml", pytester.path / "tiny.yaml")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fleetlab-seeds", seeds)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--fleetlab-seeds: seeds per plan, 1 to 1,000,000, got {seeds}*"])
    assert "IndexError" not in result.stdout.str() + result.stderr.str()


def test_sim_bounds_are_judged_at_the_risk_level_fleetlab_run_takes(pytester):
    """`fleetlab run --max-risk` had no pytest form: a nightly run through pytest judged every bound on every seed."""
    shutil.copy(ROOT / "scenarios" / "tiny.yaml", pytester.path / "tiny.yaml")
    report = pytester.path / "report"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fleetlab-seeds", "3", "--fleetlab-max-risk",
                                           "40%", "--fleetlab-report", str(report))
    result.assert_outcomes(passed=1)
    summary = (report / "summary.md").read_text()
    assert "judged on a risk of at most 40% over 3 seeds" in summary and "risk ≤ 40% of 3 seeds" in summary, summary
    refused = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fleetlab-max-risk", "100%")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(["*--fleetlab-max-risk: 100% would let every bound break*"])


def test_a_benchmark_scenario_runs_only_when_its_file_is_named_and_says_so_when_left_out(pytester):
    """As `fleetlab run`: a benchmark in a folder is left out, as a skipped item that says why (a benchmark that
    vanished from the run without a word looked like one that was never there) and in the report's left-out list."""
    bench = (ROOT / "scenarios" / "tiny.yaml").read_text().replace("name: tiny", "name: bench\ntags: [benchmark]")
    (pytester.path / "bench.yaml").write_text(bench)
    shutil.copy(ROOT / "scenarios" / "tiny.yaml", pytester.path / "tiny.yaml")
    report = pytester.path / "report"
    folder = pytester.runpytest_subprocess("-v", "-rs", "-p", "no:cacheprovider", "--fleetlab-report", str(report))
    folder.assert_outcomes(passed=1, skipped=1)
    folder.stdout.fnmatch_lines(["*bench.yaml::bench?sim? SKIPPED*", "*a benchmark: run only when its file is named*"])
    written = json.loads((report / "result.json").read_text())
    assert [outcome["name"] for outcome in written["scenarios"]] == ["tiny"]
    assert written["left_out"] == [{"file": str(pytester.path / "bench.yaml"),
                                    "why": "a benchmark: run only when its file is named"}]
    named = pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider", "bench.yaml")
    assert "bench.yaml::bench[sim]" in named.stdout.str()


def test_a_broken_scenario_is_a_collection_error_naming_the_line(pytester):
    (pytester.path / "broken.yaml").write_text("name: broken\nfleet: {}\nstrategy: {kind: wavez}\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*broken.yaml:3:*strategy*unknown kind 'wavez'*"])


def test_the_report_is_written_from_every_xdist_worker(scenarios):
    report = scenarios.path / "report"
    result = scenarios.runpytest_subprocess("-n", "2", "--dist", "loadgroup", "--fleetlab-report", str(report),
                                            "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    written = json.loads((report / "result.json").read_text())
    assert sorted(outcome["name"] for outcome in written["scenarios"]) == ["hil-orin-candidate", "strict", "tiny"]
    assert written["verdict"] == "NO-GO" and (report / "index.html").exists()


def test_rig_items_are_grouped_per_rig_and_their_latency_goes_to_pytest_benchmark(scenarios, rig_entry):
    inventory = write_inventory(scenarios.path / "rigs.yaml", rig_entry("orin-a", tags=["orin"]),
                                rig_entry("orin-b", tags=["orin"]))
    (scenarios.path / "strict.yaml").unlink()
    (scenarios.path / "conftest.py").write_text(
        "def pytest_collection_modifyitems(items):\n"
        "    for item in items:\n"
        "        marker = item.get_closest_marker('xdist_group')\n"
        "        print('GROUP', item.name, marker.kwargs['name'] if marker else None)\n")
    collected = scenarios.runpytest_subprocess("--collect-only", "-q", "-s", "--rigs", str(inventory),
                                               "-p", "no:cacheprovider")
    collected.stdout.fnmatch_lines(["*GROUP hil-orin-candidate?hil-orin-a? rig-orin-a*",
                                    "*GROUP hil-orin-candidate?hil-orin-b? rig-orin-b*"])
    report = scenarios.path / "report"
    on_workers = scenarios.runpytest_subprocess("--rigs", str(inventory), "-n", "2", "--dist", "loadgroup", "-v",
                                                "-p", "no:cacheprovider", "--fleetlab-report", str(report))
    on_workers.assert_outcomes(passed=4)
    # as `fleetlab run --mode both`: each rig's measurement beside its one-camera simulation (once none)
    outcome = next(outcome for outcome in json.loads((report / "result.json").read_text())["scenarios"]
                   if outcome["name"] == "hil-orin-candidate")
    assert {row["rig"] for row in outcome["fidelity"]} == {"orin-a", "orin-b"}
    hil_rows = [check for check in outcome["checks"] if check["mode"] == "hil"]       # one set per rig item
    assert {check["judged_on"] for check in hil_rows} == {"rig orin-a", "rig orin-b"}   # once "the worst of 1 rig"
    # the group took: xdist schedules by the `@GROUP` it writes into the node id (pytest 9.2 drops it silently)
    for rig in ("orin-a", "orin-b"):          # one at a time: the two workers finish in either order
        on_workers.stdout.fnmatch_lines([f"*PASSED*hil-orin-candidate?hil-{rig}?@rig-{rig}*"])
    assert "did not group" not in on_workers.stdout.str()
    bench = scenarios.path / "bench.json"     # pytest-benchmark switches itself off under xdist: one process here
    result = scenarios.runpytest_subprocess("--rigs", str(inventory), f"--benchmark-json={bench}",
                                            "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    records = json.loads(bench.read_text())["benchmarks"]
    latency = {record["extra_info"]["rig"]: record["extra_info"] for record in records}
    assert set(latency) == {"orin-a", "orin-b"}
    assert all(info["latency_p50_ms"] > 0 and info["latency_p99_ms"] >= info["latency_p50_ms"]
               for info in latency.values())


def test_a_worker_says_so_when_the_rig_groups_did_not_take(scenarios, rig_entry):
    """What pytest 9.2 does to xdist's groups (pytest-xdist#1386), done by hand: the `@GROUP` taken off the ids.
    The items are skipped before they run: the warning comes from collection."""
    inventory = write_inventory(scenarios.path / "rigs.yaml", rig_entry("orin-a", tags=["orin"]))
    (scenarios.path / "conftest.py").write_text(
        "import pytest\n"
        "@pytest.hookimpl(trylast=True)\n"
        "def pytest_collection_modifyitems(items):\n"
        "    for item in items:\n"
        "        item._nodeid = item._nodeid.split('@')[0]\n"
        "def pytest_runtest_setup(item):\n"
        "    pytest.skip('collection is what this run is about')\n")
    lost = scenarios.runpytest_subprocess("--rigs", str(inventory), "-n", "1", "--dist", "loadgroup",
                                          "-p", "no:cacheprovider")
    lost.stdout.fnmatch_lines(["*--dist loadgroup did not group 1 rig item(s)*hil-orin-a*pytest-xdist#1386*"])
    sim_only = scenarios.runpytest_subprocess("--rigs", str(inventory), "-n", "1", "--dist", "loadgroup",
                                              "-k", "sim", "-p", "no:cacheprovider")
    assert "did not group" not in sim_only.stdout.str()           # no rig item selected: nothing to say


def test_the_report_never_reads_go_over_a_scenario_that_broke_or_a_run_that_was_cut(pytester):
    """The report is built from the items' outcomes; a scenario file that does not load, an item that errs outside
    the scenario's own checks (here an error from the measuring code) and a Ctrl-C all leave no outcome. They were
    left out of it (a GO over the rest) or, when nothing ran, no report was written and last night's stayed."""
    shutil.copy(ROOT / "scenarios" / "tiny.yaml", pytester.path / "tiny.yaml")
    report = pytester.path / "report"
    report.mkdir()
    (report / "result.json").write_text('{"verdict": "GO", "from": "last night"}')
    (pytester.path / "broken.yaml").write_text("name: broken\nfleet: {}\nstrategy: {kind: wavez}\n")
    broken = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fleetlab-report", str(report))
    broken.assert_outcomes(errors=1)
    written = json.loads((report / "result.json").read_text())
    assert written["verdict"] == "CANNOT MEASURE"
    [outcome] = written["scenarios"]
    assert outcome["name"] == "broken" and "broken.yaml:3" in outcome["problems"][0]
    (pytester.path / "broken.yaml").unlink()

    erring = (ROOT / "scenarios" / "tiny.yaml").read_text().replace("name: tiny", "name: erring")
    (pytester.path / "erring.yaml").write_text(erring)
    pytester.makeconftest('''
import fleetlab.suite

measure = fleetlab.suite.measure

def failing(file, scenario, *args, **kwargs):
    if scenario.name == "erring":
        raise RuntimeError("the rig database is unreachable")
    if scenario.name == "zz-stopped":
        raise KeyboardInterrupt
    return measure(file, scenario, *args, **kwargs)

fleetlab.suite.measure = failing
''')
    errs = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fleetlab-report", str(report))
    errs.assert_outcomes(passed=1, failed=1)
    written = json.loads((report / "result.json").read_text())
    assert written["verdict"] == "CANNOT MEASURE"
    by_name = {outcome["name"]: outcome for outcome in written["scenarios"]}
    assert sorted(by_name) == ["erring", "tiny"] and by_name["tiny"]["verdict"] == "GO"
    assert by_name["erring"]["verdict"] == "CANNOT MEASURE"
    assert "RuntimeError: the rig database is unreachable" in by_name["erring"]["problems"][0]

    (pytester.path / "erring.yaml").unlink()
    (pytester.path / "zz-stopped.yaml").write_text(erring.replace("name: erring", "name: zz-stopped"))
    stopped = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fleetlab-report", str(report))
    assert stopped.ret == pytest.ExitCode.INTERRUPTED
    written = json.loads((report / "result.json").read_text())
    assert written["verdict"] == "INTERRUPTED" and [outcome["name"] for outcome in written["scenarios"]] == ["tiny"]


def test_two_files_under_one_scenario_name_fail_instead_of_merging_in_the_report(pytester):
    """As `fleetlab run` refuses them: the report joins a scenario's items by name, so a copy left under the same
    name had its checks folded into the other's (one row, the copy's failure under the original's name)."""
    shutil.copy(ROOT / "scenarios" / "tiny.yaml", pytester.path / "tiny.yaml")
    strict = (ROOT / "scenarios" / "tiny.yaml").read_text().replace('t95: "< 3d"', 't95: "< 1h"')
    (pytester.path / "tiny-strict.yaml").write_text(strict)
    report = pytester.path / "report"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fleetlab-report", str(report))
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*share one: 'tiny': *tiny-strict.yaml, *tiny.yaml (rename one)*"])
    written = json.loads((report / "result.json").read_text())
    [outcome] = written["scenarios"]
    assert outcome["verdict"] == "CANNOT MEASURE"
    [problem] = outcome["problems"]         # once, not once per item
    assert "share one" in problem


def test_the_history_records_each_pytest_run_and_the_report_flags_a_regression(pytester):
    """`--fleetlab-history`, as `fleetlab run --history`: the nightly's pytest form keeps its trends too."""
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    (pytester.path / "tiny.yaml").write_text(text)
    history, report = pytester.path / "history.sqlite", pytester.path / "report"
    options = ("-p", "no:cacheprovider", "--fleetlab-report", str(report), "--fleetlab-history", str(history))
    pytester.runpytest_subprocess(*options).assert_outcomes(passed=1)
    (pytester.path / "tiny.yaml").write_text(text.replace("bake: 8h", "bake: 20h"))     # T95 a day later
    pytester.runpytest_subprocess(*options).assert_outcomes(passed=1)
    from fleetlab.history import History

    store = History(str(history), create=False)
    assert len(store.runs()) == 2
    store.close()
    assert "tiny · plan · t95:" in (report / "summary.md").read_text()

    history.write_bytes(b"not a database" * 100)       # a broken history: said; the report and the verdict stand
    broken = pytester.runpytest_subprocess(*options)
    broken.assert_outcomes(passed=1)
    broken.stdout.fnmatch_lines(["*warning: fleetlab history not updated: cannot*history*"])
    assert json.loads((report / "result.json").read_text())["verdict"] == "GO"
    alone = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fleetlab-history", str(history))
    alone.stderr.fnmatch_lines(["*--fleetlab-history: give --fleetlab-report too*"])
