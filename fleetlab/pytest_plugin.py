"""pytest plugin (entry point pytest11): scenario files become test items.

    pytest scenarios/                      # every scenario: NAME[sim]; NAME[hil] skips without --rigs
    pytest scenarios/ --rigs rigs/lab.yaml # plus NAME[hil-RIG] for each rig the scenario's hil: part selects
    pytest scenarios/ -n 4 --dist loadgroup --rigs rigs/lab.yaml --fleetlab-report reports/nightly

A YAML file is collected when it looks like a scenario (top-level `name:`, `fleet:` and `strategy:`). A missed
expectation fails with the numbers; a benchmark (tag `benchmark`) runs only when its file is named, else it is one
skipped item saying so. HIL items are grouped by rig (xdist_group), so with `--dist loadgroup` two
workers never share a rig; with pytest-benchmark installed, each rig's latency figures land in its benchmark
record's extra_info (`--benchmark-json`). `--fleetlab-report DIR` writes the usual report from every item's
outcome, gathered on the controller (also under xdist); `--fleetlab-history FILE|URL` records the run beside it.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import pytest

OUTCOME_KEY = "fleetlab-outcome"
LEFT_OUT_KEY = "fleetlab-left-out"
_SCENARIO_SHAPE = [re.compile(rf"^{key}:", re.MULTILINE) for key in ("name", "fleet", "strategy")]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fleetlab")
    group.addoption("--rigs", default=None, help="rig inventory: also run each scenario's hil: part on its rigs")
    group.addoption("--fleetlab-seeds", type=int, default=1, help="seeds per plan for [sim] items")
    group.addoption("--fleetlab-max-risk", default="0", metavar="SHARE",
                    help="judge sim bounds at a risk level, as fleetlab run --max-risk: a bound broken in at most "
                         "this share of the seeds (e.g. 10%%) holds; default 0: every seed")
    group.addoption("--fleetlab-wait-for-rigs", type=float, default=0.0, metavar="SECONDS",
                    help="seconds a rig item waits for a rig another run (or worker) holds; default 0: it errs")
    group.addoption("--fleetlab-report", default=None, help="write index.html, summary.md, junit.xml and "
                                                             "result.json for the scenarios run into this folder")
    group.addoption("--fleetlab-history", default=None, metavar="FILE|URL",
                    help="record the run in this history (SQLite file or postgresql:// URL), as fleetlab run does; "
                         "the report shows its trends and regressions")


def pytest_configure(config: pytest.Config) -> None:
    from sim.model.streams import MAX_SEEDS

    config.addinivalue_line("markers", "fleetlab: a scenario item (sim or hil)")
    seeds = config.getoption("fleetlab_seeds")
    if not 1 <= seeds <= MAX_SEEDS:     # as `fleetlab run --seeds`; 0 failed every item with an IndexError
        raise pytest.UsageError(f"--fleetlab-seeds: seeds per plan, 1 to {MAX_SEEDS:,}, got {seeds}")
    from fleetlab.options import OptionError

    try:
        _max_risk(config)
    except OptionError as error:
        raise pytest.UsageError(str(error)) from None
    wait = config.getoption("fleetlab_wait_for_rigs")
    if math.isnan(wait) or wait < 0:
        raise pytest.UsageError(f"--fleetlab-wait-for-rigs: seconds to wait, 0 or more, got {wait}")
    if config.getoption("fleetlab_history") and not config.getoption("fleetlab_report"):
        raise pytest.UsageError("--fleetlab-history: give --fleetlab-report too (the run is recorded with its "
                                "report, which shows the trends)")
    if config.getoption("fleetlab_history"):
        from fleetlab.errors import HistoryError
        from fleetlab.history import check_location

        try:
            check_location(config.getoption("fleetlab_history"))
        except HistoryError as error:
            raise pytest.UsageError(f"--fleetlab-history: {error}") from None
    if config.getoption("fleetlab_report") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(ReportWriter(config), "fleetlab-report-writer")


def _max_risk(config: pytest.Config) -> float:
    """--fleetlab-max-risk as a share (OptionError when it is not one; pytest_configure turns that into a usage
    error before anything runs)."""
    from fleetlab.options import risk_level

    return risk_level(config.getoption("fleetlab_max_risk"), "--fleetlab-max-risk")


def pytest_collection_finish(session: pytest.Session) -> None:
    """On an xdist worker under `--dist loadgroup`: say so when the rig groups did not take. xdist groups by writing
    `@GROUP` into each item's node id, which pytest 9.2 no longer lets it do (pytest-xdist#1386); the items are
    then spread like `--dist load`, and two workers may reach for one rig: the rig's lease lets one in, and the
    other errs unless --fleetlab-wait-for-rigs lets it wait."""
    if not hasattr(session.config, "workerinput") or not getattr(session.config.option, "loadgroup", False):
        return
    ungrouped = [item.nodeid for item in session.items
                 if isinstance(item, ScenarioItem) and item.get_closest_marker("xdist_group")
                 and "@" not in item.nodeid]
    if ungrouped:
        warnings.warn(pytest.PytestWarning(
            f"--dist loadgroup did not group {len(ungrouped)} rig item(s) (first: {ungrouped[0]}): pytest "
            f"{pytest.__version__} with this pytest-xdist ignores xdist_group (pytest-xdist#1386), so two workers "
            "may reach for one rig at once and one errs on its lease unless --fleetlab-wait-for-rigs lets it wait; "
            "pytest 9.1 groups them"), stacklevel=1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Two files under one scenario name fail, as `fleetlab run` refuses them: the report and the history tell
    scenarios apart by name, and the report would fold one file's checks into the other's."""
    from fleetlab.suite import shared_names_problem

    files: dict[str, set[Path]] = {}
    for item in items:
        if isinstance(item, ScenarioItem) and not item.left_out:
            files.setdefault(item.scenario.name, set()).add(item.path)
    clashes = {name: sorted(found) for name, found in files.items() if len(found) > 1}
    for item in items:
        if isinstance(item, ScenarioItem) and item.scenario.name in clashes:
            item.name_clash = shared_names_problem({item.scenario.name: clashes[item.scenario.name]})


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.suffix in (".yaml", ".yml"):
        try:
            with file_path.open("rb") as file:       # the head only: a data file of gigabytes is not read
                head = file.read(20000).decode("utf-8", errors="replace")
        except OSError:
            return None
        if all(pattern.search(head) for pattern in _SCENARIO_SHAPE):
            return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ExpectationMissed(Exception):
    pass


class NameClash(Exception):
    pass


class ScenarioFile(pytest.File):
    def _named(self) -> bool:
        """Whether this file itself (not a folder above it) is on the command line."""
        return any(Path(arg.split("::")[0]).resolve() == self.path.resolve() for arg in self.config.args)

    def collect(self):
        from hil.inventory import load_inventory
        from sim.load import load_scenario
        from sim.model.errors import ScenarioError

        try:
            scenario = load_scenario(self.path)
        except ScenarioError as error:
            raise self.CollectError("\n".join(str(problem) for problem in error.problems)) from None
        from fleetlab.suite import why_left_out

        if why := why_left_out(scenario, self._named(), "sim"):
            # As `fleetlab run`: a benchmark runs only when its file is named; one skipped item says so (and the
            # report lists it as left out) rather than the file vanishing from the run.
            yield ScenarioItem.from_parent(self, name=f"{scenario.name}[sim]", scenario=scenario,
                                           target=Target("sim"), left_out=why)
            return
        yield ScenarioItem.from_parent(self, name=f"{scenario.name}[sim]", scenario=scenario, target=Target("sim"))
        if scenario.hil is None:
            return
        rigs_file = self.config.getoption("rigs")
        if rigs_file is None:
            yield ScenarioItem.from_parent(self, name=f"{scenario.name}[hil]", scenario=scenario,
                                           target=Target("hil"))
            return
        try:
            rigs = load_inventory(rigs_file).select(scenario.hil.rig_tags)
        except ScenarioError as error:
            raise self.CollectError("\n".join(str(problem) for problem in error.problems)) from None
        if not rigs:    # one item that fails saying so: no items at all would pass the run without the hil part
            yield ScenarioItem.from_parent(self, name=f"{scenario.name}[hil]", scenario=scenario,
                                           target=Target("hil"))
        for rig in rigs:
            item = ScenarioItem.from_parent(self, name=f"{scenario.name}[hil-{rig.name}]", scenario=scenario,
                                            target=Target("hil", rig.name))
            item.add_marker(pytest.mark.xdist_group(name=f"rig-{rig.name}"))
            yield item


@dataclass(frozen=True)
class Target:
    """What one item measures: the simulation, or the scenario's hil part on one rig (None: no inventory given, so
    the item skips, or no rig in it carries the scenario's tags, so the item fails saying so)."""

    mode: Literal["sim", "hil"]
    rig: str | None = None


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario, target: Target, left_out: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.scenario, self.target, self.left_out = scenario, target, left_out
        self.name_clash = ""         # set at the end of collection when another file carries the same name
        self.add_marker(pytest.mark.fleetlab)

    def runtest(self) -> None:
        from fleetlab.suite import measure
        from fleetlab.suite_results import LeftOut
        from sim.sweep import SerialExecutor

        if self.left_out:
            self.user_properties.append((LEFT_OUT_KEY, LeftOut(file=str(self.path), why=self.left_out)
                                         .model_dump_json()))
            pytest.skip(self.left_out)
        if self.name_clash:
            raise NameClash(self.name_clash)
        rigs = self.config.getoption("rigs")
        if self.target.mode == "hil" and rigs is None:
            pytest.skip("hil: no --rigs inventory given (pytest --rigs rigs/lab.yaml)")
        outcome = measure(self.path, self.scenario, self.target.mode, self.config.getoption("fleetlab_seeds"),
                          Path(rigs) if rigs else None, SerialExecutor(), lambda line: None, rig_name=self.target.rig,
                          lease_wait=self.config.getoption("fleetlab_wait_for_rigs"),
                          max_risk=_max_risk(self.config))
        if outcome.hil is not None:
            self._record_latency(outcome.hil)
            if rigs is not None:     # the [sim] and [hil-RIG] items are `fleetlab run --mode both`: so is the report
                from fleetlab.fidelity import fidelity_of_run

                outcome = outcome.model_copy(update={"fidelity": fidelity_of_run(self.path, self.scenario,
                                                                                 Path(rigs), outcome.hil)})
        self.user_properties.append((OUTCOME_KEY, outcome.model_dump_json()))
        failed = [check for check in outcome.checks if not check.passed]
        if outcome.problems:
            raise ExpectationMissed("could not measure:\n" + "\n".join(outcome.problems))
        if failed:
            raise ExpectationMissed("\n".join(check.reason for check in failed))

    def _record_latency(self, result) -> None:
        """Rig latency into pytest-benchmark's records (the whole validation is the timed round)."""
        session = getattr(self.config, "_benchmarksession", None)
        latency = result.rigs[0].latency if result.rigs else None
        if session is None or latency is None:
            return
        from pytest_benchmark.fixture import BenchmarkFixture

        fixture = BenchmarkFixture(self, add_stats=session.benchmarks.append, logger=session.logger,
                                   warner=self.warn, disabled=session.disabled, **dict(session.options))
        fixture.extra_info.update({f"latency_{key}_ms": value for key, value in latency.model_dump().items()
                                   if isinstance(value, (int, float)) and not isinstance(value, bool)})
        fixture.extra_info["rig"] = self.target.rig
        fixture.pedantic(lambda: None, rounds=1, iterations=1)
        fixture._cleanup()

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ExpectationMissed):
            return f"{self.name}: expectation missed\n{excinfo.value}"
        if isinstance(excinfo.value, NameClash):
            return f"{self.name}: {excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, 0, self.name


class ReportWriter:
    """On the controller (the only process when xdist is off): gathers each item's outcome from its report —
    xdist ships user_properties back from the workers — and writes the report at the end. What left no outcome is
    not left out of it: a scenario file that does not load or an item that erred outside its checks (a timeout, a
    crashed worker, a bug) is a CANNOT MEASURE scenario, and a Ctrl-C makes the run INTERRUPTED. The report is
    written even when nothing was measured, so an older one in the folder never passes for this run's."""

    def __init__(self, config: pytest.Config) -> None:
        self.config, self.started = config, datetime.now(timezone.utc)
        self.outcomes: list[str] = []        # ScenarioOutcome JSON from every worker
        self.left_out: list[str] = []        # LeftOut JSON, likewise
        self.interrupted = False

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and _is_scenario_file(report.nodeid):
            self.outcomes.append(_unmeasured(report.nodeid, Path(report.nodeid).stem, str(report.longrepr)))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        keys = [key for key, _ in report.user_properties]
        if report.when == "call":
            self.outcomes += [str(value) for key, value in report.user_properties if key == OUTCOME_KEY]
            self.left_out += [str(value) for key, value in report.user_properties if key == LEFT_OUT_KEY]
        file, _, item = report.nodeid.partition("::")
        if report.failed and OUTCOME_KEY not in keys and _is_scenario_file(file):
            crash = getattr(report.longrepr, "reprcrash", None)
            why = crash.message if crash is not None else str(report.longrepr).strip().splitlines()[-1]
            during = f"in {report.when}: " if report.when in ("setup", "teardown") else ""
            self.outcomes.append(_unmeasured(file, item.rpartition("[")[0] or item, during + why))

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # pytest also ends a run this way after a collection error or -x's first failure (Session.Interrupted):
        # those already make the run CANNOT MEASURE or NO-GO; only a stop from outside cuts it short.
        if not excinfo.errisinstance(pytest.Session.Interrupted):
            self.interrupted = True

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from fleetlab.history import record_run
        from fleetlab.report import write_report
        from fleetlab.suite import suite_result
        from fleetlab.suite_results import LeftOut, Mode, ScenarioOutcome

        outcomes = _merge([ScenarioOutcome.model_validate_json(text) for text in self.outcomes])
        modes = {check.mode for outcome in outcomes for check in outcome.checks}
        mode: Mode = "both" if len(modes) > 1 else (modes.pop() if modes else "sim")
        result = suite_result(outcomes, mode, self.config.getoption("fleetlab_seeds"), self.started,
                              (datetime.now(timezone.utc) - self.started).total_seconds(),
                              sorted((LeftOut.model_validate_json(text) for text in self.left_out),
                                     key=lambda left: left.file), _max_risk(self.config))
        if self.interrupted:
            result = result.model_copy(update={"verdict": "INTERRUPTED"})
        history = self.config.getoption("fleetlab_history")
        trends = record_run(history, result) if history else None
        if trends and trends.problem:       # as fleetlab run: said, and the report and the verdict stand
            terminal = self.config.pluginmanager.get_plugin("terminalreporter")
            if terminal is not None:
                terminal.write_line(f"warning: fleetlab history not updated: {trends.problem}", yellow=True)
        write_report(result, Path(self.config.getoption("fleetlab_report")), trends)


def _is_scenario_file(path: str) -> bool:
    return path.endswith((".yaml", ".yml"))


def _unmeasured(file: str, name: str, why: str) -> str:
    """The outcome (as JSON, like the items') of a scenario that left none: could not measure, and why."""
    from fleetlab.suite_results import ScenarioOutcome

    return ScenarioOutcome(name=name, file=file, verdict="CANNOT MEASURE", problems=[why]).model_dump_json()


def _merge(outcomes: list) -> list:
    """One outcome per scenario: its [sim] and [hil-RIG] items joined (rigs, checks, problems and fidelity together),
    in the same order whichever worker finished first: the sim item's, then the rigs' by name."""
    from fleetlab.suite_results import ScenarioOutcome, combine

    def item_order(outcome: ScenarioOutcome) -> tuple[str, str]:
        return outcome.name, ",".join(rig.rig for rig in outcome.hil.rigs) if outcome.hil else ""

    merged: dict[str, ScenarioOutcome] = {}
    for outcome in sorted(outcomes, key=item_order):
        known = merged.get(outcome.name)
        if known is None:
            merged[outcome.name] = outcome
            continue
        hil = known.hil or outcome.hil
        if known.hil and outcome.hil:
            hil = known.hil.model_copy(update={"rigs": known.hil.rigs + outcome.hil.rigs,
                                               "devices": known.hil.devices + outcome.hil.devices})
        merged[outcome.name] = known.model_copy(update={
            "checks": known.checks + outcome.checks, "problems": list(dict.fromkeys(known.problems + outcome.problems)),
            "plans": known.plans or outcome.plans, "oracle_t95": known.oracle_t95 or outcome.oracle_t95,
            "fidelity": known.fidelity + outcome.fidelity, "hil": hil,
            "verdict": combine([known.verdict, outcome.verdict])})
    return [merged[name] for name in sorted(merged)]


__all__ = ["ReportWriter", "ScenarioFile", "ScenarioItem"]
