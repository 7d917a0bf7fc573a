"""Instructions per simulated event, counted by valgrind (not timed): a steady figure on a noisy shared machine.

    python benchmarks/instructions.py                         # this tree: model and bare SimPy loop, per event
    python benchmarks/instructions.py --against ../old-tree   # and the same for another checkout, side by side

CPU seconds on these shared machines swing ±20% between runs, and the bare SimPy loop that `benchmarks/scale.py`
divides by swings as much, so a change worth 3% cannot be seen in them. Valgrind's callgrind counts the
instructions a process executes (Ir), which repeats to ~0.02% with a fixed hash seed. Each figure is the count of a
run minus the count of the same process stopped just before the part measured (imports, scenario loading), over
the events that part processed. The instruction ratio is not the time ratio: the model touches far more memory
than the bare loop, so its instructions per cycle are lower (at 5,000 cameras the model ran ~73,800 instructions
per event against the bare loop's ~12,100, 0.165×, while CPU time gave 0.11×) — use it to compare two trees, and
`make bench` for the goals.

Needs valgrind (`apt-get install valgrind`; not a dependency of fleetlab). Runs under valgrind are ~50× slower,
hence a small fleet by default (bench-100k scaled to 5%: 5,000 cameras; two trees take ~2 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BARE_EVENTS = 100_000


def child(tree: str, part: str, factor: float) -> None:
    """Runs under valgrind: imports, then the part measured ('model', 'bare'), or only what precedes it
    ('model-setup': the scenario loaded; 'imports')."""
    sys.path.insert(0, tree)
    from benchmarks.scale import BENCH, bare_simpy_rate, scaled
    from sim.load import load_scenario
    from sim.run import simulate

    if part == "model":
        result = simulate(scaled(load_scenario(BENCH), factor))
        print(f"events {result.events_processed}")
    elif part == "model-setup":
        scaled(load_scenario(BENCH), factor)
    elif part == "bare":
        bare_simpy_rate(BARE_EVENTS)
        print(f"events {BARE_EVENTS}")


def counted(tree: Path, part: str, factor: float) -> tuple[int, int]:
    """(instructions, events) of one child process under callgrind."""
    # a fixed hash seed: string hashes decide the order of sets and the probes of dicts, worth ~0.5% run to run
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                           __file__, "--child", str(tree), part, str(factor)],
                          capture_output=True, text=True, check=True, cwd=tree,
                          env={**os.environ, "PYTHONHASHSEED": "0"})
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"valgrind printed no instruction count:\n{done.stderr[-2000:]}")
    events = re.search(r"events (\d+)", done.stdout)
    return int(found.group(1)), int(events.group(1)) if events else 0


def measure(trees: list[Path], factor: float) -> list[dict[str, float]]:
    """Per tree: the model's and the bare loop's instructions per event. The counts run side by side, one process
    per core (an instruction count does not depend on what else runs)."""
    parts = ("model", "model-setup", "bare", "imports")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        jobs = {(tree, part): pool.submit(counted, tree, part, factor) for tree in trees for part in parts}
        counts = {key: job.result() for key, job in jobs.items()}
    measured = []
    for tree in trees:
        (model, events), (model_setup, _) = counts[tree, "model"], counts[tree, "model-setup"]
        (bare, bare_events), (imports, _) = counts[tree, "bare"], counts[tree, "imports"]
        per_model, per_bare = (model - model_setup) / events, (bare - imports) / bare_events
        print(f"{tree}: {events:,} events; model {per_model:,.0f} instructions per event, bare SimPy loop "
              f"{per_bare:,.0f}: {per_bare / per_model:.3f}× in instructions")
        measured.append({"model": per_model, "events": events})
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=3, metavar=("TREE", "PART", "FACTOR"), help=argparse.SUPPRESS)
    parser.add_argument("--factor", type=float, default=0.05, help="share of bench-100k's fleet (default 0.05)")
    parser.add_argument("--against", type=Path, help="another checkout of fleetlab to count the same way")
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], float(args.child[2]))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed here (apt-get install valgrind)")
    trees = [ROOT] + ([args.against.resolve()] if args.against is not None else [])
    measured = measure(trees, args.factor)
    if args.against is not None:
        this, other = measured
        if other["events"] != this["events"]:
            print(f"note: the trees processed different numbers of events ({other['events']:,} vs "
                  f"{this['events']:,}): compare per event with care")
        print(f"this tree runs {this['model'] / other['model']:.3f}× the instructions per event of {args.against}")


if __name__ == "__main__":
    main()
