"""A past rollout as its update system recorded it: one record per device, for `fleetlab backtest`.

Read from what the systems hand out (docs/calibration.md, Backtest):
- aws-iot-jobs: `aws iot list-job-executions-for-job --job-id ID` (its JSON; pages as a JSON list of them, too):
  `thingArn` and `jobExecutionSummary.{status, queuedAt, lastUpdatedAt, executionNumber}`, times in seconds since
  the epoch (the API, CLI v1) or RFC 3339 (CLI v2);
- mender: `GET /api/management/v1/deployments/deployments/ID/devices/list` (a JSON list, pages joined or as a list
  of lists): `id`, `status`, `created` (when the device took the deployment), `finished`;
- csv: a header `device,status,finished_at[,told_at]`, status one of succeeded, failed, unfinished, cancelled.

Every status is sorted into what the simulator has: on the candidate (succeeded), failed (rolled back, bricked, timed
out, rejected: the simulator's failed, rolled back and bricked), still on its way (unfinished), told and never
updated (cancelled: an aborted deployment, like a halted plan's withdrawn cameras), or not part of the rollout at
all (left out: a device that had the artifact already, had none for its type, was decommissioned or removed).
A record that cannot be read is a positioned error naming the file, line and key, as for every input.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sim.model.errors import Problem, ScenarioError
from sim.model.units import utc_moment
from sim.read_input import read_text

Outcome = Literal["succeeded", "failed", "unfinished", "cancelled"]
SYSTEMS = ("aws-iot-jobs", "mender", "csv")
MAX_RECORDS_BYTES = 2**30     # a million devices as the AWS CLI prints their execution summaries: about 300 MB

AWS_STATUSES: dict[str, Outcome | None] = {
    "SUCCEEDED": "succeeded", "FAILED": "failed", "TIMED_OUT": "failed", "REJECTED": "failed",
    "QUEUED": "unfinished", "IN_PROGRESS": "unfinished", "CANCELED": "cancelled", "REMOVED": None}
MENDER_STATUSES: dict[str, Outcome | None] = {
    "success": "succeeded", "failure": "failed", "aborted": "cancelled",
    **{status: "unfinished" for status in ("pending", "downloading", "installing", "rebooting",
                                           "pause_before_installing", "pause_before_rebooting",
                                           "pause_before_committing")},
    "already-installed": None, "noartifact": None, "decommissioned": None}
OUTCOMES: tuple[Outcome, ...] = ("succeeded", "failed", "unfinished", "cancelled")
CSV_STATUSES: dict[str, Outcome | None] = {name: name for name in OUTCOMES}
FINISHED: frozenset[Outcome] = frozenset({"succeeded", "failed"})
JsonPath = list[str | int]       # keys and indexes from the document's top to a value


@dataclass(frozen=True, slots=True)       # a million of them for a large fleet: no __dict__ each
class DeviceRecord:
    device: str
    outcome: Outcome
    told_at: float | None          # seconds since the epoch: when the device was told (queued, took the deployment)
    finished_at: float | None      # when it succeeded or failed; None while unfinished


@dataclass(frozen=True)
class PastRollout:
    file: str
    system: str
    records: list[DeviceRecord]
    left_out: dict[str, int] = field(default_factory=dict)     # status -> devices not part of the rollout

    def count(self, outcome: Outcome) -> int:
        return sum(record.outcome == outcome for record in self.records)

    @property
    def last_moment(self) -> float | None:
        """The latest time the records know of: what the fleet looked like then is all they say."""
        moments = [moment for record in self.records for moment in (record.told_at, record.finished_at)
                   if moment is not None]
        return max(moments) if moments else None


def read_past_rollout(path: Path, system: str) -> PastRollout:
    text = read_text(path, limit=MAX_RECORDS_BYTES)
    reader = {"aws-iot-jobs": _aws, "mender": _mender, "csv": _csv}[system]
    records, left_out = reader(text, str(path))
    if not records:
        raise ScenarioError([Problem(str(path), 0, 0, "", "no device of the rollout in the file"
                                     + (f" (left out: {left_out_text(left_out)})" if left_out else ""))])
    return PastRollout(str(path), system, records, dict(sorted(left_out.items())))


def left_out_text(left_out: Counter[str] | dict[str, int]) -> str:
    """'already-installed 3, noartifact 1': the devices that were not part of the rollout, by status."""
    return ", ".join(f"{status} {count:,}" for status, count in sorted(left_out.items()))


# --- AWS IoT Jobs ------------------------------------------------------------------------------------------------

def _aws(text: str, filename: str) -> tuple[list[DeviceRecord], Counter[str]]:
    document = _json(text, filename)
    pages = document if isinstance(document, list) else [document]
    # per thing: its newest execution's number, outcome, finish and status, and when its first was queued
    latest: dict[str, tuple[int, Outcome | None, float | None, str]] = {}
    first_queued: dict[str, float] = {}
    for page_index, page in enumerate(pages):
        where: JsonPath = [page_index] if isinstance(document, list) else []
        if not isinstance(page, dict) or not isinstance(page.get("executionSummaries"), list):
            raise _problem(text, filename, where, "expected list-job-executions-for-job output: an object with "
                                                  "executionSummaries (or a list of such pages)")
        for index, summary in enumerate(page["executionSummaries"]):
            at = [*where, "executionSummaries", index]
            thing = _field(text, filename, summary, at, "thingArn", str)
            execution = _field(text, filename, summary, at, "jobExecutionSummary", dict)
            at = [*at, "jobExecutionSummary"]
            status = _status(text, filename, execution, at, AWS_STATUSES)
            number = execution.get("executionNumber", 0)
            number = number if isinstance(number, int) and not isinstance(number, bool) else 0
            outcome = AWS_STATUSES[status]
            queued = _time(text, filename, execution, at, "queuedAt", needed=False)
            if queued is not None:        # told when its first execution was queued, whichever one says where it is
                first_queued[thing] = min(queued, first_queued.get(thing, queued))
            finished = _time(text, filename, execution, at, "lastUpdatedAt", needed=outcome in FINISHED)
            if thing not in latest or number >= latest[thing][0]:     # a thing's newest execution says where it is
                latest[thing] = (number, outcome, finished, status)
    records = [DeviceRecord(thing.rsplit("/", 1)[-1], outcome, first_queued.get(thing), finished)
               for thing, (_, outcome, finished, _) in latest.items() if outcome is not None]
    return records, Counter(status for _, outcome, _, status in latest.values() if outcome is None)


# --- Mender ------------------------------------------------------------------------------------------------------

def _mender(text: str, filename: str) -> tuple[list[DeviceRecord], Counter[str]]:
    document = _json(text, filename)
    if not isinstance(document, list):
        raise _problem(text, filename, [], "expected the deployment's device list: a JSON list of devices (or a "
                                           "list of such pages)")
    paged = bool(document) and all(isinstance(page, list) for page in document)
    entries: list[tuple[JsonPath, Any]] = (
        [([page_index, index], device) for page_index, page in enumerate(document) for index, device in enumerate(page)]
        if paged else [([index], device) for index, device in enumerate(document)])
    records, left_out, seen = [], Counter[str](), dict[str, JsonPath]()
    for at, device in entries:
        name = _field(text, filename, device, at, "id", str)
        if name in seen:        # pages joined twice would count a device twice
            line, _ = _position(text, seen[name])
            raise _problem(text, filename, [*at, "id"], f"device {name[:60]!r} is listed twice (also on line {line})")
        seen[name] = at
        status = _status(text, filename, device, at, MENDER_STATUSES)
        outcome = MENDER_STATUSES[status]
        if outcome is None:
            left_out[status] += 1
            continue
        records.append(DeviceRecord(name, outcome, _time(text, filename, device, at, "created", needed=False),
                                    _time(text, filename, device, at, "finished", needed=outcome in FINISHED)))
    return records, left_out


# --- CSV ---------------------------------------------------------------------------------------------------------

def _csv(text: str, filename: str) -> tuple[list[DeviceRecord], Counter[str]]:
    rows = csv.DictReader(io.StringIO(text))
    header = rows.fieldnames or []
    missing = [column for column in ("device", "status", "finished_at") if column not in header]
    if missing:
        raise ScenarioError([Problem(filename, 1, 1, missing[0], f"the header names no {missing[0]} column "
                                     "(device,status,finished_at[,told_at])")])
    records, seen = [], dict[str, int]()
    for row in rows:
        line = rows.line_num

        def bad(column: str, message: str, line: int = line) -> ScenarioError:
            return ScenarioError([Problem(filename, line, header.index(column) + 1, column, message)])

        if None in row or any(value is None for value in row.values()):
            raise bad("device", f"expected {len(header)} columns as the header has")
        status = row["status"].strip()
        if status not in CSV_STATUSES:
            raise bad("status", f"unknown status {status!r}; one of {', '.join(CSV_STATUSES)}")
        outcome = CSV_STATUSES[status]
        assert outcome is not None
        times: dict[str, float | None] = {}
        for column, needed in (("told_at", False), ("finished_at", outcome in FINISHED)):
            value = (row.get(column) or "").strip()
            if not value:
                if needed:
                    raise bad(column, f"a {status} device needs the time it finished")
                times[column] = None
                continue
            try:
                times[column] = _moment(value)
            except ValueError as error:
                raise bad(column, str(error)) from None
        name = row["device"].strip()
        if name in seen:
            raise bad("device", f"device {name[:60]!r} is listed twice (also on line {seen[name]})")
        seen[name] = line
        records.append(DeviceRecord(name, outcome, times["told_at"], times["finished_at"]))
    return records, Counter()


# --- fields, times and positions ---------------------------------------------------------------------------------

def _json(text: str, filename: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ScenarioError([Problem(filename, error.lineno, error.colno, "", f"not JSON: {error.msg}")]) from None
    except RecursionError:
        raise ScenarioError([Problem(filename, 1, 1, "", "nested too deeply to be a list of devices")]) from None


def _field(text: str, filename: str, node: Any, at: JsonPath, key: str, kind: type) -> Any:
    if not isinstance(node, dict):
        raise _problem(text, filename, at, "expected an object")
    if key not in node:
        raise _problem(text, filename, at, f"{key}: missing", key)
    if not isinstance(node[key], kind):
        raise _problem(text, filename, [*at, key], f"expected {'an object' if kind is dict else 'a string'}, "
                                                   f"got {json.dumps(node[key])[:60]}")
    return node[key]


def _status(text: str, filename: str, node: Any, at: JsonPath, known: dict[str, Outcome | None]) -> str:
    status = _field(text, filename, node, at, "status", str)
    if status not in known:
        raise _problem(text, filename, [*at, "status"], f"unknown status {status!r}; one of {', '.join(known)}")
    return status


def _time(text: str, filename: str, node: dict, at: JsonPath, key: str, needed: bool) -> float | None:
    value = node.get(key)
    if value is None:
        if needed:
            raise _problem(text, filename, at, f"{key}: missing: a device that succeeded or failed needs the time "
                                               "it finished", key)
        return None
    try:
        return _moment(value)
    except ValueError as error:
        raise _problem(text, filename, [*at, key], str(error)) from None


def _moment(value: object) -> float:
    """Seconds since the epoch, from a number (the APIs) or an RFC 3339 time with its offset (CLI v2, Mender)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            seconds = utc_moment(value).timestamp()     # its UnitError is a ValueError, said at the record's key
    else:
        raise ValueError(f"expected a time, got {json.dumps(value)[:40]}")
    if not math.isfinite(seconds) or not 0 <= seconds < 253402300800:     # year 10,000
        raise ValueError(f"{value!r} is not a time fleetlab can place")
    return seconds


def _problem(text: str, filename: str, at: JsonPath, message: str, key: str = "") -> ScenarioError:
    """The error at a JSON path, with its line and column (found only now: the reading itself stays json's)."""
    line, column = _position(text, at)
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in [*at, *([key] if key else [])])
    return ScenarioError([Problem(filename, line, column, path.lstrip("."), message)])


def _position(text: str, at: JsonPath) -> tuple[int, int]:
    """1-based line and column of the value at a JSON path: each step skips the values before it with json's own
    decoder, so a file of a million devices is walked once, at C speed."""
    decoder = json.JSONDecoder()
    offset = _skip_space(text, 0)
    for part in at:
        opening = text[offset:offset + 1]
        offset = _skip_space(text, offset + 1)
        if opening == "[" and isinstance(part, int):
            for _ in range(part):
                _, offset = decoder.raw_decode(text, offset)
                offset = _skip_space(text, _skip_space(text, offset) + 1)     # past the comma
        elif opening == "{" and isinstance(part, str):
            while text[offset:offset + 1] == '"':
                name, offset = decoder.raw_decode(text, offset)
                offset = _skip_space(text, _skip_space(text, offset) + 1)     # past the colon
                if name == part:
                    break
                _, offset = decoder.raw_decode(text, offset)
                offset = _skip_space(text, _skip_space(text, offset) + 1)     # past the comma
        else:
            break
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _skip_space(text: str, offset: int) -> int:
    while offset < len(text) and text[offset] in " \t\n\r":
        offset += 1
    return offset
