"""How far is the simulator from the rigs? `python benchmarks/calibration_fidelity.py` (needs Docker; builds the
virtual rig image). Figures printed, not asserted.

Three virtual orin-nx rigs; their links shaped with tbf to 20, 20 and 30 Mbit/s. `fleetlab calibrate` measures them
with a 50 MB candidate. Then the links are shaped again, to 35, 35 and 50 Mbit/s, and `fleetlab fidelity` runs a
second scenario — a 120 MB candidate, the calibration taken in through `calibration:` — on the rigs and on the
simulator. A prediction, not a replay: neither the link rates nor the model's size are the ones calibrated on.
Goals (docs/calibration.md): every phase within 10%, the total per rig within 5%. Both runs measure the rigs one
at a time (--one-at-a-time): the three containers share this machine's cores, and would otherwise time each other.

    --calibration-size 50MB --fidelity-size 120MB --thermal-step 120s     (the defaults)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ruamel.yaml import YAML  # noqa: E402

from hil.virtual import VirtualLab, inventory_entry  # noqa: E402

MBIT = 1e6 / 8
CALIBRATION_LINKS = (20 * MBIT, 20 * MBIT, 30 * MBIT)
FIDELITY_LINKS = (35 * MBIT, 35 * MBIT, 50 * MBIT)


def scenario_text(candidate_size: str, calibrated: bool) -> str:
    """The library's HIL scenario on virtual rigs, every rig at once, with a padded candidate; calibrated: the
    orin-nx numbers left to calibration.yaml."""
    text = (ROOT / "scenarios" / "hil-orin-candidate.yaml").read_text()
    changes = [("rig_tags: [orin]", "rig_tags: [virtual]"), ("max_cv: 50%", "max_cv: null"),
               ("candidate_model: builtin:candidate", f"candidate_model: builtin:candidate@{candidate_size}"),
               ("  kind: waves\n  waves: [30%, 100%]\n  bake: 1h\n  abort: {threshold: 1%, min_executed: 1}",
                "  kind: all_at_once"),
               ("latency_budget: {p50: 10ms, p99: 25ms}", "latency_budget: {}")]
    if calibrated:
        changes += [("  hardware:\n    orin-nx: {latency: 11ms, power: 11}", "  hardware: {}"),
                    ("  hardware:\n    orin-nx: {latency: 12ms, power: 12}", "  hardware: {}")]
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    return ("calibration: calibration.yaml\n" if calibrated else "") + text


def write_inventory(path: Path, rigs, key: Path, rates) -> None:
    with path.open("w") as sink:
        YAML().dump({"rigs": [inventory_entry(rig, key, rate) for rig, rate in zip(rigs, rates)]}, sink)


def fleetlab(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "fleetlab.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "COLUMNS": "200"})
    print(done.stdout)
    if done.returncode not in (0, 1):
        print(done.stderr)
        raise SystemExit(f"fleetlab {args[0]} failed with exit {done.returncode}")
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibration-size", default="50MB")
    parser.add_argument("--fidelity-size", default="120MB")
    parser.add_argument("--thermal-step", default="120s")
    options = parser.parse_args()
    subprocess.run(["bash", str(ROOT / "rigs" / "virtual" / "build.sh")], check=True, stdout=subprocess.DEVNULL)
    lab = VirtualLab()
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        key = folder / "key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        rigs = lab.up(3, "orin-nx", Path(str(key) + ".pub").read_text().strip())
        try:
            for rig, rate in zip(rigs, CALIBRATION_LINKS):
                lab.set_bandwidth(rig.container, rate)
            inventory = folder / "rigs.yaml"
            write_inventory(inventory, rigs, key, CALIBRATION_LINKS)
            (folder / "calibrate.yaml").write_text(scenario_text(options.calibration_size, calibrated=False))
            started = time.perf_counter()
            fleetlab("calibrate", str(folder / "calibrate.yaml"), "--rigs", str(inventory), "--out",
                     str(folder / "calibration.yaml"), "--thermal-step", options.thermal_step, "--one-at-a-time")
            print(f"calibrated in {time.perf_counter() - started:.0f} s: links "
                  f"{', '.join(f'{rate / MBIT:.0f}' for rate in CALIBRATION_LINKS)} Mbit/s, candidate "
                  f"{options.calibration_size}")
            print((folder / "calibration.yaml").read_text())

            for rig, rate in zip(rigs, FIDELITY_LINKS):
                lab.set_bandwidth(rig.container, rate)
            write_inventory(inventory, rigs, key, FIDELITY_LINKS)
            (folder / "fidelity.yaml").write_text(scenario_text(options.fidelity_size, calibrated=True))
            started = time.perf_counter()
            fleetlab("fidelity", str(folder / "fidelity.yaml"), "--rigs", str(inventory), "--out",
                     str(folder / "fidelity"), "--one-at-a-time")
            print(f"fidelity run in {time.perf_counter() - started:.0f} s: links "
                  f"{', '.join(f'{rate / MBIT:.0f}' for rate in FIDELITY_LINKS)} Mbit/s, candidate "
                  f"{options.fidelity_size}")
            rows = json.loads((folder / "fidelity" / "fidelity.json").read_text())
            summarize(rows)
        finally:
            lab.down([rig.container for rig in rigs])


def summarize(rows: list[dict]) -> None:
    phases = [row for row in rows if row["phase"] not in ("total",)]
    totals = [row for row in rows if row["phase"] == "total"]
    worst = max(phases, key=lambda row: abs(row["error"]))
    within = sum(1 for row in phases if abs(row["error"]) <= 0.10)
    print(f"phases within 10%: {within} of {len(phases)} (goal: all); worst: {worst['rig']} {worst['phase']} "
          f"{worst['error']:+.1%}")
    for row in totals:
        print(f"total {row['rig']}: predicted {row['predicted']:.1f} s, measured {row['measured']:.1f} s, "
              f"{row['error']:+.1%} (goal within 5%)")


if __name__ == "__main__":
    main()
