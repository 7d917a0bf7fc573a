"""Hostile and broken input never hangs, crashes or half-applies: every problem is a positioned error, exit 2."""

import copy
import io
import math
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from hil.errors import HilError
from hil.inventory import Inventory, load_inventory
from sim.load import load_model_text, load_scenario_text
from sim.model.errors import ScenarioError
from tests.conftest import ROOT

BOMB = "".join(f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10 if n else ['lol'] * 10)}]\n" for n in range(10))
LIBRARY = sorted((ROOT / "scenarios").glob("*.yaml"))
RIGS = ROOT / "rigs" / "lab.example.yaml"


def fleetlab(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fleetlab.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_a_problem_on_line_100_prints_as_its_line_not_an_emoji(tmp_path):
    """Rich turned ':100:' into 💯 and ':-1:' into 👎: 'big.yaml:100:3: …' printed as 'big.yaml💯3: …', which no
    editor or CI annotation can jump to; a rig named ':fire:' or a port of -1 likewise."""
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    lines = text.splitlines(keepends=True)
    at = next(index for index, line in enumerate(lines) if line.startswith("strategy:"))
    lines[at:at] = ["# padding\n"] * (99 - at)           # `strategy:` now starts on line 100
    (tmp_path / "big.yaml").write_text("".join(lines).replace("kind: waves", "kind: wavez"))
    done = fleetlab("validate", str(tmp_path / "big.yaml"))
    assert done.returncode == 2
    assert done.stderr.startswith(f"{tmp_path / 'big.yaml'}:100:1: strategy: unknown kind 'wavez'"), done.stderr
    trusted = fleetlab("rigs", "trust", "127.0.0.1", "--port", "-1", "--rigs", str(RIGS))   # refused as an option
    assert trusted.returncode == 2 and "'--port'" in trusted.stderr and "👎" not in trusted.stderr, trusted.stderr


def test_one_rig_listed_under_two_names_is_refused(tmp_path):
    """Both names took the run's lease on it (one owner per run) and installed into one store at once."""
    text = RIGS.read_text().replace("host: 10.20.0.12", "host: 10.20.0.11")
    (tmp_path / "rigs.yaml").write_text(text)
    done = fleetlab("hil", str(ROOT / "scenarios" / "hil-orin-candidate.yaml"), "--rigs", str(tmp_path / "rigs.yaml"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "rigs orin-nx-01 and orin-nx-02 are one rig (10.20.0.11:22, store /opt/fleetlab/models)" in done.stderr
    other_store = text.replace("    tags: [orin, nightly]\n    service:", "    tags: [orin, nightly]\n"
                               "    store: /opt/fleetlab/second\n    service:", 1)
    assert other_store.count("store:") == 2
    (tmp_path / "two-stores.yaml").write_text(other_store)       # one machine, two stores: two rigs (as in tests)
    assert [rig.store for rig in load_inventory(tmp_path / "two-stores.yaml").rigs][:2] == [
        "/opt/fleetlab/models", "/opt/fleetlab/second"]


MARKUP_NAME = "canary [eu-west] [/]x[bold]"


@pytest.mark.parametrize("command", [["validate"], ["sim"], ["compare", "--strategies", "plan,[/]odd[red]"],
                                     ["sweep", "--seeds", "1", "--executor", "serial", "--grid",
                                      "plan=plan,'[/]odd[red]'"], ["run", "--history", ""]])
def test_names_with_brackets_are_printed_as_written(tmp_path, command):
    """A scenario named 'canary [eu-west]' or a plan '[/]odd[red]' reached Rich's markup parser: sim, compare,
    sweep and validate died with a MarkupError traceback (and a bare '[eu-west]' vanished from the output). A plan
    is named in letters, digits, '_' and '-' now: the name with brackets is refused, and the refusal prints it as
    written; the scenario's name may still hold any text."""
    text = (ROOT / "scenarios" / "tiny.yaml").read_text().replace("name: tiny", f'name: "{MARKUP_NAME}"')
    (tmp_path / "odd.yaml").write_text(text + 'alternatives:\n  "[/]odd[red]": {kind: all_at_once}\n')
    (tmp_path / "fine.yaml").write_text(text + 'alternatives:\n  odd: {kind: all_at_once}\n')
    out = ["--out", str(tmp_path / "out")] if command[0] in ("sim", "run", "sweep") else []
    refused = fleetlab(command[0], str(tmp_path / "odd.yaml"), *command[1:], *out)
    assert refused.returncode == 2 and "(got '[/]odd[red]')" in refused.stdout + refused.stderr, refused.stderr
    fine_args = [part.replace("'[/]odd[red]'", "odd").replace("[/]odd[red]", "odd") for part in command[1:]]
    done = fleetlab(command[0], str(tmp_path / "fine.yaml"), *fine_args, *out)
    assert done.returncode == 0, done.stderr
    for shown in (refused.stdout + refused.stderr, done.stdout + done.stderr):
        assert "Traceback" not in shown and "MarkupError" not in shown
    if command[0] in ("validate", "sim", "run"):        # the commands that print the scenario's name
        assert MARKUP_NAME in done.stdout + done.stderr, done.stdout + done.stderr


@pytest.mark.parametrize("command", [["validate"], ["sim"]])
def test_an_alias_bomb_in_a_scenario_is_refused_at_once(tmp_path, command):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text((ROOT / "scenarios" / "tiny.yaml").read_text() + "extra:\n" + "".join(
        "  " + line + "\n" for line in BOMB.splitlines()))
    done = fleetlab(*command, str(bomb))
    assert done.returncode == 2 and "Traceback" not in done.stderr + done.stdout
    assert "aliases expand the document beyond 100,000 values" in done.stdout + done.stderr
    assert f"{bomb}:" in done.stdout + done.stderr


def test_an_alias_bomb_in_a_rigs_file_is_refused_at_once(tmp_path):
    rigs = tmp_path / "rigs.yaml"
    rigs.write_text(RIGS.read_text() + BOMB)
    done = fleetlab("hil", str(ROOT / "scenarios" / "hil-orin-candidate.yaml"), "--rigs", str(rigs))
    assert done.returncode == 2 and "aliases expand the document" in done.stdout + done.stderr


@pytest.mark.parametrize("old, new, where", [
    ("power_loss_per_day: 0.01", "power_loss_per_day: .inf", "fleet.power_loss_per_day: Input should be a finite"),
    ("power_loss_per_day: 0.01", "power_loss_per_day: .nan", "fleet.power_loss_per_day: Input should be a finite"),
    ("ambient: {mean: 30,", "ambient: {mean: .nan,", "fleet.site_kinds.stadium.ambient.mean: Input should be a finite"),
    ("bake: 8h", "bake: 1e999h", "strategy.bake: expected a finite number"),
], ids=["inf", "nan", "nan-ambient", "overflowing-duration"])
def test_numbers_must_be_finite(tmp_path, old, new, where):
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    assert old in text
    path = tmp_path / "x.yaml"
    path.write_text(text.replace(old, new, 1))
    done = fleetlab("validate", str(path))
    assert done.returncode == 2 and where in done.stdout + done.stderr, done.stdout + done.stderr


@pytest.mark.parametrize("key, value, message", [
    ("duration", "0d", "duration: Input should be greater than 0"),
    ("hil", "{time_scale: .inf}", "hil.time_scale: Input should be a finite number"),
    ("hil", "{max_temperature: .nan}", "hil.max_temperature: Input should be a finite number"),
])
def test_zero_durations_and_non_finite_limits_are_refused(tmp_path, key, value, message):
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    path = tmp_path / "x.yaml"
    path.write_text(text + f"{key}: {value}\n" if f"\n{key}:" not in text else
                    "\n".join(f"{key}: {value}" if line.startswith(f"{key}:") else line for line in text.splitlines()))
    done = fleetlab("validate", str(path))
    assert done.returncode == 2 and message in done.stdout + done.stderr, done.stdout + done.stderr


def test_a_zero_latency_is_refused_where_it_is_written(tmp_path):
    """Frames per second are the latency's inverse: zero once reached the thermal model as a division by zero."""
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    path = tmp_path / "x.yaml"
    path.write_text(text.replace("nano: {latency: 45ms", "nano: {latency: 0ms"))
    done = fleetlab("sim", str(path), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr
    assert f"{path}:38:12: candidate.hardware.nano.latency: Input should be greater than 0" in done.stdout + done.stderr


@pytest.mark.parametrize("written, where", [("full_size: 0MB", "30:3: artifact.full_size"),
                                            ("checkpoint: 0MB", "32:3: artifact.checkpoint")])
def test_a_zero_size_is_refused_at_its_own_key(written, where):
    """Both were refused together at `artifact:` ('full_size and checkpoint must be larger than zero'), which said
    neither which one nor where."""
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    key = written.split(":")[0]
    changed = "\n".join(f"  {written}" if line.startswith(f"  {key}:") else line for line in text.splitlines())
    with pytest.raises(ScenarioError) as refused:
        load_scenario_text(changed, "x.yaml")
    assert [str(problem) for problem in refused.value.problems] == [
        f"x.yaml:{where}: Input should be greater than 0 (got '0MB')"]


def test_a_fleet_that_cannot_fit_in_memory_is_refused_with_the_estimate(tmp_path):
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    path = tmp_path / "x.yaml"
    path.write_text(text.replace("count: 10", "count: 1000000000", 1))
    assert "count: 1000000000" in path.read_text()
    done = fleetlab("validate", str(path))
    assert done.returncode == 2 and "GiB" in done.stdout + done.stderr and "bytes a device" in done.stdout + done.stderr


def test_a_horizon_whose_series_cannot_fit_in_memory_is_refused_at_the_duration(tmp_path):
    """The result keeps hourly state counts and 5-minute egress bins for the whole duration: `duration: 7e+07d`
    once asked numpy for 150 GiB of bins and ended in a MemoryError traceback."""
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    path = tmp_path / "x.yaml"
    path.write_text(text.replace("duration: 3d", "duration: 7e+07d"))
    done = fleetlab("sim", str(path), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr
    assert f"{path}:5:1: duration: " in done.stdout + done.stderr and "bytes an hour" in done.stdout + done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", [["validate"], ["import", "--from", "mender"]])
def test_an_endless_input_is_refused_without_reading_it_whole(command):
    """/dev/zero never ends: it was read to the end (a hang, then memory) before the size limit was looked at."""
    done = fleetlab(*command, "/dev/zero")
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr
    assert "the file is larger than 4,194,304 bytes" in done.stdout + done.stderr


@pytest.mark.parametrize("name, damage, where, message", [
    ("utf16.yaml", lambda text: text.encode("utf-16"), "1:1", "the file is UTF-16; save it as UTF-8"),
    ("latin1.yaml", lambda text: text.replace("Forty", "Forty café").encode("latin-1"), "3:23",
     "byte 0xe9 is not UTF-8"),
    ("nul.yaml", lambda text: text.replace("seed: 7", "seed: 7\x00").encode(), "4:8",
     "character U+0000 is not allowed"),
    ("crlf.yaml", lambda text: text.replace("\n", "\r\n").replace("seed: 7", "seed: x").encode(), "4:1",
     "seed: expected a whole number (got 'x')"),
])
def test_another_encoding_or_other_line_ends_are_read_or_refused_at_the_line(tmp_path, name, damage, where, message):
    path = tmp_path / name
    path.write_bytes(damage((ROOT / "scenarios" / "tiny.yaml").read_text()))
    done = fleetlab("validate", str(path))
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr
    assert f"{path}:{where}: " in done.stdout + done.stderr and message in done.stdout + done.stderr, done.stdout


def test_model_paths_outside_the_scenario_folder_are_refused(tmp_path):
    from hil.artifacts import resolve_inside

    with pytest.raises(HilError, match="outside the scenario's folder"):
        resolve_inside("../../../../etc/passwd", tmp_path, "hil.candidate_model")
    with pytest.raises(HilError, match="outside the scenario's folder"):
        resolve_inside("/etc/passwd", tmp_path, "hil.candidate_model")
    assert resolve_inside("models/x.onnx", tmp_path, "k") == (tmp_path / "models" / "x.onnx").resolve()
    assert resolve_inside("/etc/passwd", tmp_path, "k", allow_outside=True) == Path("/etc/passwd")


def _npy(folder: Path, make) -> None:
    import numpy as np

    make(folder / "front.npy", np)


def _truncated(path: Path, np) -> None:
    """A batch cut short, as a copy that ran out of disk leaves it."""
    np.save(path, np.zeros((2, 3, 8, 8)))
    path.write_bytes(path.read_bytes()[:200])


@pytest.mark.parametrize("make, says", [
    (lambda path, np: path.write_text("garbage"), "is not a readable .npy array"),
    (lambda path, np: np.save(path, np.array([{"x": 1}], dtype=object), allow_pickle=True),
     "Object arrays cannot be loaded"),
    (lambda path, np: _truncated(path, np), "Failed to read all data"),
    (lambda path, np: path.mkdir(), "Is a directory"),
    (lambda path, np: np.save(path, np.array(["a", "b"])), "holds <U1 with shape (2,)"),
    (lambda path, np: np.save(path, np.zeros(())), "holds float64 with shape ()"),
])
def test_frames_that_are_not_a_plain_array_of_numbers_are_refused_by_name(tmp_path, make, says):
    """Once a ValueError / IsADirectoryError traceback from numpy before any rig was touched; string frames went
    on to every rig."""
    from hil.artifacts import _frames

    _npy(tmp_path, make)
    with pytest.raises(HilError, match="hil.frames: .*front.npy") as refused:
        _frames(".", tmp_path, allow_outside=False)
    assert says in str(refused.value)


def test_an_oversized_frames_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    import hil.artifacts

    monkeypatch.setattr(hil.artifacts, "MAX_FRAMES_BYTES", 1000)
    _npy(tmp_path, lambda path, np: np.save(path, np.zeros((1, 3, 64, 64), dtype="f4")))
    with pytest.raises(HilError, match="a batch of test frames is at most"):
        hil.artifacts._frames(".", tmp_path, allow_outside=False)


# --- structural mutations of the shipped files ---------------------------------------------------------------

ODD = [math.nan, math.inf, -math.inf, -1, 0, 10**30, 1e308, "", "\u202e\u0000x", "💥" * 40, [], {}, None, True,
       "1e999s", "-5h", "NaN%", "x" * 5000]


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, prefix + (index,))


def _mutate(document, path, operation, odd):
    if not path:
        return document
    *parents, last = path
    node = document
    for key in parents:
        node = node[key]
    if operation == "drop":
        del node[last]
    elif operation == "duplicate" and isinstance(node, list):
        node.append(copy.deepcopy(node[last]))
    elif operation == "duplicate" and isinstance(node, dict):
        node[f"{last}_copy"] = copy.deepcopy(node[last])
    else:
        node[last] = odd
    return document


def _text(document) -> str:
    yaml = YAML(typ="rt")
    sink = io.StringIO()
    yaml.dump(document, sink)
    return sink.getvalue()


def _shipped_inputs() -> dict[str, tuple[str, Callable[[str], object]]]:
    """Every kind of file a command reads, by name: its text and the loader the command reads it with."""
    from sim.model.calibration import Calibration
    from tests.calibration.test_calibration_use import CALIBRATION

    found: dict[str, tuple[str, Callable[[str], object]]] = {
        path.name: (path.read_text(), lambda text: load_scenario_text(text, "scenario.yaml")) for path in LIBRARY}
    found[RIGS.name] = (RIGS.read_text(), lambda text: load_model_text(Inventory, text, "rigs.yaml"))
    found["calibration.yaml"] = (CALIBRATION, lambda text: load_model_text(Calibration, text, "calibration.yaml"))
    return found


SHIPPED_INPUTS = _shipped_inputs()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(data=st.data())
def test_mutated_files_are_loaded_or_refused_never_crash_or_hang(data):
    original, load = SHIPPED_INPUTS[data.draw(st.sampled_from(sorted(SHIPPED_INPUTS)))]
    document = YAML(typ="rt").load(original)
    plain = YAML(typ="safe").load(original)
    paths = list(_paths(plain))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        try:
            document = _mutate(document, path, data.draw(st.sampled_from(["drop", "duplicate", "retype"])),
                               data.draw(st.sampled_from(ODD)))
        except (KeyError, IndexError, TypeError):
            continue           # the path went away with an earlier mutation
    text = _text(document)
    if data.draw(st.booleans()):
        text += "zz_bomb:\n" + "".join("  " + line + "\n" for line in BOMB.splitlines())
    started = time.monotonic()
    try:
        load(text)
    except ScenarioError as error:
        assert error.problems and all(problem.message for problem in error.problems)
    assert time.monotonic() - started < 10, "a hang, not a slow machine: the target is well under a second"
