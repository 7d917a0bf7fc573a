"""`fleetlab hil`, `fleetlab rigs trust` and `fleetlab models`: the hardware-in-the-loop side of the CLI."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from fleetlab import console
from fleetlab.errors import refuse, reported
from fleetlab.exit_codes import EXIT_BAD_INPUT, EXIT_NO_GO, EXIT_OK, exit_interrupted
from fleetlab.files import OutputError, output_file, output_folder, write_whole
from fleetlab.hil_view import hil_table, plan_table
from fleetlab.options import JsonFlag, out_folder
from sim.model.errors import ScenarioError
from sim.model.gates import evaluate
from sim.model.hil_results import hil_metrics
from sim.model.units import counted

rigs_app = typer.Typer(help="Rigs: trust host keys; virtual rigs in Docker (build, up, down, status).",
                       no_args_is_help=True)


def _hil_expectations(expect: dict) -> dict:
    """Bounds a HIL run can answer: the metrics measured on rigs."""
    names = set(hil_metrics([]))
    return {metric: bound for metric, bound in expect.items() if metric in names}


def hil(ctx: typer.Context,
        file: Path,
        rigs: Annotated[Path, typer.Option(help="rig inventory (rigs/*.yaml)")],
        rig: Annotated[Optional[str], typer.Option(help="only this rig")] = None,
        out: Annotated[Optional[Path], typer.Option(help="folder for result.json")] = None,
        verbose: Annotated[bool, typer.Option(help="log every step")] = False,
        wait_for_rigs: Annotated[float, typer.Option(help="seconds to wait for a rig another run holds")] = 0.0,
        calibration_out: Annotated[Optional[Path], typer.Option(
            help="also run the calibrate step and write calibration.yaml here (fleetlab calibrate's file)")] = None,
        allow_paths_outside: Annotated[bool, typer.Option(
            help="let hil: model and frame paths point outside the scenario's folder")] = False,
        json_out: JsonFlag = False) -> None:
    """Run the scenario's own plan on every matching rig: engine, parity, latency, thermals, rollback."""
    from fleetlab.interrupts import came_late, stop_on_signals
    from fleetlab.options import wait_seconds
    from hil.errors import HilError
    from hil.inventory import load_inventory
    from hil.runner import run_scenario
    from hil.ssh import SshShell
    from hil.stop import StopSignal
    from sim.load import load_scenario

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s")
    with reported():
        wait_seconds(wait_for_rigs)
    try:
        scenario = load_scenario(file)
        inventory = load_inventory(rigs)
    except ScenarioError as error:
        console.show_problems(error)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if scenario.hil is None:
        refuse(f"{file}: the scenario has no hil: section", file=file)
    with reported():        # before any rig time is spent: an output that cannot be written fails now
        if out is not None:
            out_folder(ctx, out)
        if calibration_out is not None:
            output_file(calibration_out)
    spec = scenario.hil
    if calibration_out is not None and spec.calibrate is None:
        from sim.model.hil_spec import HilCalibrate

        spec = spec.model_copy(update={"calibrate": HilCalibrate()})
        scenario = scenario.model_copy(update={"hil": spec})

    def done(result) -> None:
        console.err.print(f"{result.rig}: {result.verdict}" + (f" — {result.reason}" if result.reason else ""),
                          markup=False)

    stop = StopSignal()
    try:
        with stop_on_signals(stop) as signals:
            result = run_scenario(scenario, inventory, file.resolve().parent, SshShell, rig, on_rig_done=done,
                                  stop=stop, allow_outside=allow_paths_outside, lease_wait=wait_for_rigs)
    except HilError as error:
        refuse(f"{file}: {error}", file=file)
    human = console.err if json_out else console.out
    for line in result.rig_delivery:
        human.print(f"on the rigs: {line}", markup=False)
    human.print(plan_table(result))
    human.print(hil_table(result, spec))
    verdict = evaluate(_hil_expectations(dict(scenario.expect)), result.metrics())
    if verdict.checks:
        human.print(console.verdict_table(verdict))
    if out is not None:
        with reported():
            write_whole(out / "result.json", result.model_dump_json(indent=2) + "\n")
        human.print(f"result: {out / 'result.json'}")
    if result.interrupted:
        console.err.print(f"INTERRUPTED ({result.interrupted}): every touched rig was put back and released",
                          markup=False)
        code = exit_interrupted(signals[0]) if signals else EXIT_BAD_INPUT
    else:
        if signals:
            console.err.print(came_late(signals), markup=False)
        if calibration_out is not None:
            _write_calibration(calibration_out, result, inventory, scenario)
        no_go = any(found.verdict == "failed" or found.quarantined for found in result.rigs) or not verdict.passed
        code = EXIT_BAD_INPUT if any(found.verdict == "error" for found in result.rigs) else \
            EXIT_NO_GO if no_go else EXIT_OK
    if json_out:   # the same verdict as the exit code, for a script that reads one document
        console.print_json({"passed": code == EXIT_OK, "exit_code": code,
                            "checks": [dataclasses.asdict(check) for check in verdict.checks],
                            "result": json.loads(result.model_dump_json())})
    raise typer.Exit(code)


def _write_calibration(path: Path, result, inventory, scenario) -> None:
    """The run's calibration, when every rig measured what it needs (a rig that failed its update did not)."""
    from hil.calibration import CalibrationError, calibration_yaml, from_run

    try:
        calibration = from_run(result.rigs, inventory.rigs, scenario)
    except CalibrationError as error:
        console.err.print(f"no calibration written: {error}", markup=False)
        return
    with reported():
        write_whole(path, calibration_yaml(calibration))
    console.out.print(f"calibration: {path}", markup=False)


@rigs_app.command()
def trust(host: str,
          rigs: Annotated[Path, typer.Option(help="inventory to record the key in")],
          port: Annotated[int, typer.Option(min=1, max=65535, help="SSH port")] = 22,
          fingerprint: Annotated[Optional[str], typer.Option(
              help="the SHA256 fingerprint you checked on the rig's console")] = None) -> None:
    """Record a rig's host key after you have checked its fingerprint out of band."""
    from hil.errors import ConnectionLost
    from hil.inventory import load_inventory, record_host_key
    from hil.ssh import fetch_host_key
    from hil.ssh import fingerprint as fingerprint_of

    with reported(rigs):    # the file the key goes into is read and checked first: a broken one is said, not edited
        load_inventory(rigs)
    try:
        key = fetch_host_key(host, port)
    except ConnectionLost as error:
        refuse(str(error))
    offered = fingerprint_of(key)
    if fingerprint is None:
        console.out.print(f"{host}:{port} offers {key.split()[0]} {offered}\nCheck it on the rig "
                          f"(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then run again with "
                          f"--fingerprint {offered}", markup=False)
        raise typer.Exit(EXIT_NO_GO)
    if fingerprint != offered:
        console.err.print(f"{host}:{port} offers {offered}, not the {fingerprint} you checked: not recorded",
                          markup=False)
        raise typer.Exit(EXIT_NO_GO)
    try:
        changed = record_host_key(rigs, host, port, key)
    except OSError as error:
        refuse(f"{rigs}: could not record the key (the file is as it was): {error}", file=rigs)
    if not changed:
        refuse(f"{rigs}: no rig at {host}:{port}", file=rigs)
    console.out.print(f"pinned {offered} for {', '.join(changed)} in {rigs}", markup=False)


def models(out: Annotated[Path, typer.Option(help="folder for the ONNX files and frames")] = Path("models")) -> None:
    """Write fleetlab's small model family (current, candidate, defective, …) and per-angle test frames."""
    from hil.modelzoo import write_family

    with reported():
        output_folder(out)
    for name, path in write_family(out).items():
        console.out.print(f"{name}: {path}", markup=False)


def _lab():
    from hil.virtual import VirtualLab, VirtualRigError

    try:
        return VirtualLab()
    except VirtualRigError as error:
        refuse(str(error))


@rigs_app.command()
def build() -> None:
    """Build the virtual rig image (debootstraps a base image the first time; later builds take seconds)."""
    import subprocess

    script = Path(__file__).resolve().parent.parent / "rigs" / "virtual" / "build.sh"
    raise typer.Exit(subprocess.run(["bash", str(script)], check=False).returncode)


MAX_VIRTUAL_RIGS = 64     # a typo (400 for 4) would start containers until the machine ran out of memory


@rigs_app.command()
def up(count: Annotated[int, typer.Argument(min=1, max=MAX_VIRTUAL_RIGS, help="how many rigs (each is a container "
                                                                             "with its profile's CPUs and memory)")],
       profile: Annotated[str, typer.Option(help="nano, xavier-nx, orin-nx or agx-orin")] = "orin-nx",
       bandwidth: Annotated[Optional[str], typer.Option(help="shape each rig's link, e.g. 20Mbit/s")] = None,
       store_size: Annotated[Optional[str], typer.Option(help="model store on a tmpfs of this size (e.g. 64MB, or "
                                                               "Docker's 64m), for disk-full tests")] = None,
       inventory: Annotated[Path, typer.Option(help="inventory to write")] = Path("rigs/virtual.yaml"),
       key: Annotated[Path, typer.Option(help="SSH key for the rigs (made if missing)")]
       = Path("rigs/.virtual-key")) -> None:
    """Start virtual Jetson rigs in Docker and write an inventory for them, host keys pinned."""
    import subprocess

    from fleetlab.interrupts import raising_on_signals
    from hil.virtual import VirtualRigError
    from sim.model.units import parse_rate

    try:        # everything a user gave is checked before a container starts
        try:
            rate = parse_rate(bandwidth) if bandwidth else None
        except ValueError as error:
            raise ValueError(f"--bandwidth {bandwidth}: {error}") from None
        if rate is not None and rate <= 0:
            raise ValueError(f"--bandwidth {bandwidth}: a link needs a rate above zero")
        store_bytes = _store_size(store_size) if store_size is not None else None
    except ValueError as error:
        refuse(str(error))
    with reported():
        output_file(inventory)
        if not key.exists():
            output_file(key)
    if not key.exists():
        made = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fleetlab-virtual-rigs", "-f",
                               str(key)], capture_output=True, text=True)
        if made.returncode != 0:
            refuse(f"{key}: ssh-keygen failed: {made.stderr.strip()}")
    lab = _lab()
    # Ctrl-C or SIGTERM before the inventory is written: the rigs started go again
    with raising_on_signals() as stop:
        try:
            public = Path(str(key) + ".pub").read_text().strip()
            rigs = lab.up(count, profile, public, bandwidth=rate, store_tmpfs=store_bytes)
        except (VirtualRigError, ValueError, OSError) as error:
            refuse(str(error))
        try:
            stop()      # a signal whose exception was lost on the way (fleetlab/interrupts.StopCheck)
            write_whole(inventory, _inventory_text(rigs, key, rate))
        except OutputError as error:    # no inventory, no way to find them again: the rigs go too
            lab.down([rig.container for rig in rigs])
            refuse(f"{error}; the {counted(len(rigs), 'rig')} were removed again")
        except BaseException:
            lab.down([rig.container for rig in rigs])
            raise
    for rig in rigs:
        console.out.print(f"{rig.name}: 127.0.0.1:{rig.port} ({profile}, container {rig.container[:12]})",
                          markup=False)
    console.out.print(f"inventory: {inventory}", markup=False)
    if rate is None:       # say it now, not when fidelity finds no download to predict
        console.out.print("links unshaped (no --bandwidth): the inventory gives no link_rate, so `fleetlab "
                          "fidelity` cannot predict their downloads", markup=False)


STORE_LEAST = 2**20       # a smaller store holds no model: every transfer would fail as a full disk


def _store_size(text: str) -> int:
    """--store-size in bytes: fleetlab's sizes (16MB, 16MiB) or Docker's own shorthand (16m, 1g, binary). It went to
    Docker as written: `16mb` failed only as the containers started, and `0` gave no tmpfs at all."""
    from sim.model.units import UnitError, parse_size

    docker = re.fullmatch(r"(\d+)([kmg])", text.strip())
    try:
        size = int(docker[1]) * 1024 ** ("kmg".index(docker[2]) + 1) if docker else int(parse_size(text))
    except UnitError as error:
        raise ValueError(f"--store-size {text}: {error}") from None
    if size < STORE_LEAST:
        raise ValueError(f"--store-size {text}: a store of less than 1 MiB holds no model")
    return size


def _inventory_text(rigs: list, key: Path, rate: float | None) -> str:
    import io

    from ruamel.yaml import YAML

    from hil.virtual import inventory_entry

    text = io.StringIO()
    text.write("# virtual rigs started by `fleetlab rigs up`; `fleetlab rigs down` removes them\n")
    yaml = YAML()
    yaml.width = 4096         # host keys on one line
    yaml.dump({"rigs": [inventory_entry(rig, key.resolve(), rate) for rig in rigs]}, text)
    return text.getvalue()


@rigs_app.command()
def down(inventory: Annotated[Path, typer.Option(help="inventory written by `rigs up`")]
         = Path("rigs/virtual.yaml"),
         container: Annotated[Optional[list[str]], typer.Option(
             "--container", help="instead of an inventory: a virtual rig's container id as `rigs status` shows it "
                                 "(a rig no inventory names, left by a `rigs up` that was killed); repeatable")]
         = None) -> None:
    """Remove the virtual rigs of an inventory (by container id) and their model stores."""
    from hil.inventory import load_inventory
    from hil.virtual import LABEL

    named = container or []
    if any(not name.strip() for name in named):     # Docker's client answered an empty id with 'NullResource'
        refuse("--container: give a container id as `fleetlab rigs status` shows it")
    try:
        containers = named or [rig.container for rig in load_inventory(inventory).rigs if rig.container]
    except ScenarioError as error:
        console.show_problems(error)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    lab = _lab()
    strangers = lab.not_rigs(containers)
    if strangers:
        source = "--container" if named else str(inventory)
        refuse(f"{source}: container {', '.join(strangers)} is not a fleetlab virtual rig (no "
               f"{LABEL} label): nothing removed")
    removed = lab.down(containers)
    console.out.print(f"removed {counted(len(removed), 'virtual rig')}", markup=False)
    unknown = [name for name in named if name not in removed]
    if unknown:         # a mistyped id, or one removed already: said, since the user named it
        refuse(f"--container: no such container: {', '.join(unknown)} (`fleetlab rigs status` lists "
               "the virtual rigs)")


@rigs_app.command()
def status() -> None:
    """Virtual rigs on this Docker engine."""
    found = _lab().status()
    if not found:
        console.out.print("no virtual rigs (fleetlab rigs up N starts some)", markup=False)
    for rig in found:
        console.out.print(f"{rig['name']}: {rig['status']} ({rig['profile']}, 127.0.0.1:{rig['port']}, "
                          f"container {rig['container']})", markup=False)
    if found:
        console.out.print("remove them with `fleetlab rigs down --inventory FILE`, or `--container ID` for one no "
                          "inventory names", markup=False)
