"""Fast rigs for the tests of a plan on rigs: the rig tools in temporary folders, driven through LocalShell, each
rig's model store copied from one provisioned once (the `provisioned_store` and `local_rigs` fixtures in
tests/hil/conftest.py)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from fleetlab.hil_view import hil_table
from fleetlab.suite_results import ScenarioOutcome, SuiteResult
from hil.inventory import Inventory
from hil.runner import rig_fleet, run_scenario
from hil.shell import LocalShell
from sim.model.scenario import Scenario
from sim.model.strategy import Update, start
from sim.model.unit_fields import UNITS_REQUIRED
from tests.conftest import scenario_from
from tests.hil.rigtree import make_rig, stop_service

ANGLES = ("overhead", "sideline", "goal", "sideline")
HIL = {"rig_tags": ["virtual"], "current_model": "builtin:current", "candidate_model": "builtin:candidate",
       "frames": "builtin", "iterations": 10, "warmup": 0, "max_cv": None, "time_scale": 0.00001,
       "parity": {"atol": 0.02, "rtol": 0.02}}


def inventory_of(*rigs: dict) -> Inventory:
    return Inventory.model_validate({"rigs": list(rigs)}, context={UNITS_REQUIRED: True})


def local_rig(folder: Path, name: str, **extra) -> dict:
    return make_rig(folder / name, name, 22, None, "nobody", folder / "no-key", **extra)


def provision_store(folder: Path) -> Path:
    """A model store already serving the current model (its engine built by the rig tools), to copy into every rig
    of a test: its subject is the plan, and provisioning each rig afresh would only repeat a test elsewhere."""
    rig = local_rig(folder, "template")
    try:
        scenario = scenario_from({"hil": HIL, "current": {"version": "1", "hardware": {"orin-nx": {
            "latency": "10ms", "power": 10}}}})
        [found] = run_scenario(scenario, inventory_of(rig), Path("."), lambda rig: LocalShell()).rigs
        assert found.verdict == "passed", found.reason
    finally:
        stop_service(rig)
    store = Path(rig["store"])
    for leftover in ("service", "tmp", "incoming"):
        shutil.rmtree(store / leftover, ignore_errors=True)
    return store


def rigs_from(folder: Path, store: Path, broken: int | None) -> list[dict]:
    """One rig per entry of ANGLES, each with a copy of `store`; rig number `broken`'s service is unhealthy on the
    candidate only."""
    made = []
    for number, angle in enumerate(ANGLES):
        own = folder / f"r{number}" / "store"
        health = f"test \"$(cat '{own}/active/version')\" = 1" if number == broken else None
        made.append(local_rig(folder, f"r{number}", health=health, angle=angle))
        shutil.rmtree(own)
        shutil.copytree(store, own, symlinks=True)
    return made


def replayed(scenario: Scenario, trace: list, rigs: list[dict]) -> list:
    """The actions the strategy yields in the simulator's driver when fed the observations the rigs gave."""
    rollout = start(scenario.strategy, rig_fleet(scenario, inventory_of(*rigs).rigs))
    actions = [next(rollout)]
    for _, seen in trace:
        try:
            actions.append(rollout.send(seen))
        except StopIteration:
            break
    return actions


# a plan on local rigs: the scenario (its strategy, hil: part and delivery), who it tells first, and its run, whose
# actions are checked against the simulator's driver fed the same observations
def scenario(strategy: dict, hil: dict | None = None, artifact: dict | None = None, **delivery):
    return scenario_from({"duration": "1d", "hil": {**HIL, **(hil or {})}, "strategy": strategy, "delivery": delivery,
                          "artifact": artifact or {},
                          "fleet": {"camera_angles": {"overhead": "25%", "sideline": "50%", "goal": "25%"}},
                          "current": {"version": "1", "hardware": {"orin-nx": {"latency": "10ms", "power": 10}}}})


def first_told(plan, rigs: list[dict]) -> int:
    """The rig the plan tells first (the plan's choice is seeded, so the test can break that one)."""
    first = next(start(plan.strategy, rig_fleet(plan, inventory_of(*rigs).rigs)))
    assert isinstance(first, Update) and len(first.devices) == 1
    return first.devices[0]


def run(plan, rigs: list[dict], shell: Callable[[], LocalShell] = LocalShell, **options):
    traces = []
    result = run_scenario(plan, inventory_of(*rigs), Path("."), lambda rig: shell(),
                          on_trace=lambda controller: traces.append(controller.trace), **options)
    [trace] = traces
    acted = [action for action, _ in trace]
    assert acted == replayed(plan, trace, rigs)[:len(acted)]
    return result, trace, acted


def names(rig) -> list[str]:
    return [step.name for step in rig.steps]


# a game on a local rig (hil/defer.py): the virtual camera service is busy until STORE/service/game-until
def with_busy(rig: dict) -> dict:
    """The rig's inventory entry with the virtual camera service's busy check."""
    rig["service"]["busy"] = rig["service"]["restart"].replace(" restart ", " busy ")
    return rig


def game_for(rig: dict, seconds: float):
    """An injector that starts a game on the rig lasting `seconds` of wall time."""
    def start_game(shell) -> None:
        (Path(rig["store"]) / "service").mkdir(exist_ok=True)
        (Path(rig["store"]) / "service" / "game-until").write_text(f"{time.time() + seconds:.3f}\n")

    return {"game": start_game}


def active_version(rig: dict) -> str:
    return (Path(rig["store"]) / "active" / "version").read_text().strip()


def step_named(result_rig, name: str):
    return next(step for step in result_rig.steps if step.name == name)


def one_night(result) -> SuiteResult:
    """A suite run of one scenario, `k`, measured on rigs only: what the history and the report read."""
    return SuiteResult(run_id="n1", started="2026-12-06T00:00:00+00:00", mode="hil", seeds=1, verdict="GO",
                       scenarios=[ScenarioOutcome(name="k", file="k.yaml", verdict="GO", hil=result)], git_sha="",
                       packages={}, wall_seconds=1.0)


def table_text(result) -> str:
    """The terminal's rig table of a run, as text."""
    shown = Console(width=250, record=True)
    shown.print(hil_table(result, scenario({"kind": "all_at_once"}).hil))
    return shown.export_text()
