"""How long `fleetlab backtest` takes to read a past rollout's records, printed (not asserted).

    python benchmarks/backtest_records.py [--devices 1000000]

Writes DEVICES AWS IoT Jobs execution summaries (as `json.dumps(indent=2)` writes them: the AWS CLI indents too) to
a temporary file, then, in a fresh process, reads and observes them as the command does (fleetlab/past_rollout.py,
fleetlab/backtest.py) and prints the file's size, the seconds taken, the peak memory, and how long finding the line
of the last record's status takes (what an error there costs). docs/calibration.md, Backtest, quotes a run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

START = 1772409600.0      # 2026-03-02T00:00:00Z


def write_records(path: Path, devices: int) -> None:
    summaries = [{"thingArn": f"arn:aws:iot:eu-west-1:123456789012:thing/cam-{index}",
                  "jobExecutionSummary": {"status": "SUCCEEDED", "queuedAt": START + index * 0.1,
                                          "lastUpdatedAt": START + 3600 + index * 0.2, "executionNumber": 1,
                                          "retryAttempt": 0}} for index in range(devices)]
    path.write_text(json.dumps({"executionSummaries": summaries}, indent=2))


def measure(path: Path, devices: int) -> None:
    """In the child process: read, observe, locate."""
    from fleetlab.backtest import observe
    from fleetlab.past_rollout import _position, read_past_rollout

    began = time.perf_counter()
    observed = observe(read_past_rollout(path, "aws-iot-jobs"))
    read = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024       # before the text is read again below
    text = path.read_text()
    began = time.perf_counter()
    _position(text, ["executionSummaries", devices - 1, "jobExecutionSummary", "status"])
    located = time.perf_counter() - began
    print(json.dumps({"devices": observed.devices, "read_and_observe_s": round(read, 2),
                      "locate_last_s": round(located, 2), "peak_bytes": peak}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure(args.child, args.devices)
        return
    with tempfile.TemporaryDirectory(prefix="fleetlab-backtest-") as folder:
        path = Path(folder) / "records.json"
        write_records(path, args.devices)
        done = subprocess.run([sys.executable, __file__, "--devices", str(args.devices), "--child", str(path)],
                              capture_output=True, text=True, check=True)
        figures = json.loads(done.stdout)
        print(f"{figures['devices']:,} AWS execution summaries, {path.stat().st_size / 2**20:,.0f} MiB: read and "
              f"observed in {figures['read_and_observe_s']} s, peak memory {figures['peak_bytes'] / 2**30:.2f} GiB; "
              f"the last record's line found in {figures['locate_last_s']} s")


if __name__ == "__main__":
    main()
