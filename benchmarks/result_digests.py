"""Fingerprints of every shipped scenario's result at seed 1: a refactor that must not change behaviour keeps them.

    python benchmarks/result_digests.py > before.txt      # … change the code …
    python benchmarks/result_digests.py | diff before.txt -
    python benchmarks/result_digests.py --leave-out KEY …   # a change that adds result keys: the rest unchanged

Each line is `SCENARIO sha256` of result.json without `provenance` (which names the git commit and the package
versions, so it changes with every commit by design). Every other byte of the result is covered.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.load import load_scenario  # noqa: E402
from sim.run import simulate  # noqa: E402


def digest(path: Path, seed: int = 1, leave_out: tuple[str, ...] = ()) -> str:
    result = json.loads(simulate(load_scenario(path), seed).model_dump_json())
    for key in ("provenance", *leave_out):
        result.pop(key, None)
    return hashlib.sha256(json.dumps(result, sort_keys=True).encode()).hexdigest()


def main(arguments: list[str]) -> None:
    leave_out: list[str] = []
    while "--leave-out" in arguments:
        at = arguments.index("--leave-out")
        leave_out.append(arguments[at + 1])
        del arguments[at:at + 2]
    files = [Path(p) for p in arguments] or sorted((ROOT / "scenarios").glob("*.yaml"))
    for path in files:
        print(f"{path.stem} {digest(path, leave_out=tuple(leave_out))}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
