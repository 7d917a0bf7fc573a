"""Run history: every `fleetlab run` stored — SQLite in a file by default, or PostgreSQL given a postgresql:// URL —
so reports can show trends (T95 per plan, p99 latency per rig across nightly runs) and flag regressions against
the last good run. The only module that talks to a database."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fleetlab.errors import HistoryError
from fleetlab.report.trends import Trends
from fleetlab.suite_results import SuiteResult
from sim.model.calibration import Calibration, Profile

TRACKED_SIM = ("t95", "cost", "failed", "bricked", "exposure_device_hours")
TRACKED_HIL = ("latency_p50", "latency_p99", "max_temperature", "rig_memory", "rig_no_model")
T95_NEVER = "t95_never"      # seeds of a plan whose T95 never came: the t95 mean is over the others only
LOWER_IS_BETTER = {"t95", T95_NEVER, "cost", "failed", "bricked", "exposure_device_hours", "latency_p50",
                   "latency_p99", "max_temperature", "rig_memory", "rig_no_model"}
REGRESSION = 0.10         # 10% worse than the last good run
SCHEMA = ("CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, started TEXT NOT NULL, verdict TEXT NOT NULL, "
          "mode TEXT NOT NULL, git_sha TEXT NOT NULL)",
          "CREATE TABLE IF NOT EXISTS measurements (run_id TEXT NOT NULL REFERENCES runs(run_id), scenario TEXT NOT "
          "NULL, subject TEXT NOT NULL, metric TEXT NOT NULL, value DOUBLE PRECISION NOT NULL)",
          "CREATE INDEX IF NOT EXISTS measurements_by_scenario ON measurements (scenario, metric)",
          # fleetlab calibrate: a board's numbers night after night, so their drift shows
          "CREATE TABLE IF NOT EXISTS calibrations (measured TEXT NOT NULL, hardware TEXT NOT NULL, rigs TEXT NOT "
          "NULL, metric TEXT NOT NULL, value DOUBLE PRECISION NOT NULL, git_sha TEXT NOT NULL)")


@dataclass(frozen=True)
class Measurement:
    scenario: str
    subject: str       # "plan" / an alternative's name, or "rig NAME"
    metric: str
    value: float


SEEDS = "seeds"          # recorded per plan: regressions compare means over the same number of seeds


def measurements(result: SuiteResult) -> list[Measurement]:
    found = []
    for outcome in result.scenarios:
        for plan in outcome.plans:
            for metric in TRACKED_SIM:
                mean = plan.metrics.get(metric, {}).get("mean")
                if mean is not None:
                    found.append(Measurement(outcome.name, plan.name, metric, float(mean)))
            found.append(Measurement(outcome.name, plan.name, SEEDS, float(plan.runs)))   # what the mean is over
            # without it a plan reaching T95 on 1 seed of 3 read as its mean over that one seed, unchanged
            never = plan.metrics.get("t95", {}).get("missing", 0)
            found.append(Measurement(outcome.name, plan.name, T95_NEVER, float(never)))
        for rig in outcome.hil.rigs if outcome.hil else []:
            values = {"latency_p50": rig.latency.p50 / 1000 if rig.latency else None,
                      "latency_p99": rig.latency.p99 / 1000 if rig.latency and rig.latency.p99 else None,
                      "max_temperature": rig.telemetry.max_temperature if rig.telemetry else None,
                      "rig_memory": rig.telemetry.max_memory if rig.telemetry else None,    # a model growing
                      "rig_no_model": rig.no_model_seconds}     # kill_then_download: a build growing on a board
            found += [Measurement(outcome.name, f"rig {rig.rig}", metric, float(value))
                      for metric in TRACKED_HIL if (value := values[metric]) is not None]
    return found


def check_location(location: str) -> None:
    """A history location of a form no history can have, refused before a run rather than warned of after it."""
    if location.startswith(("postgresql://", "postgres://")):
        return
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", location):    # else `mysql://h/db` became a SQLite file 'mysql:/h/db'
        raise HistoryError(f"{_redacted(location)}: a history is a SQLite file or a postgresql:// URL")
    if Path(location).is_dir():
        raise HistoryError(f"{location}: a folder; name a SQLite file, e.g. {Path(location) / 'history.sqlite'}")


class History:
    """`create=False` (read-only commands): a SQLite file that does not exist is an error, never created."""

    def __init__(self, location: str, create: bool = True) -> None:
        self.location = location
        self._errors: tuple[type[Exception], ...] = ()
        self.shown = _redacted(location)
        if location.startswith(("postgresql://", "postgres://")):
            try:
                import psycopg
            except ImportError:
                raise HistoryError("a PostgreSQL history needs psycopg (pip install 'psycopg[binary]')") from None
            self._errors = (psycopg.Error,)
            with self._failures("open"):
                self.db: Any = psycopg.connect(location, connect_timeout=10)
            self.mark = "%s"
        else:
            self._errors = (sqlite3.Error,)
            check_location(location)
            if not create and not Path(location).is_file():
                raise HistoryError(f"{location}: no history here yet (a `fleetlab run` records one)")
            with self._failures("open"):
                Path(location).parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(location, timeout=10)
            self.mark = "?"
        with self._failures("read"), self._transaction():
            cursor = self.db.cursor()
            for statement in SCHEMA:
                cursor.execute(statement)

    @contextmanager
    def _failures(self, doing: str) -> Iterator[None]:
        """Any database failure (corrupted, read-only, locked, unreachable) as a HistoryError naming the place."""
        try:
            yield
        except HistoryError:
            raise
        except Exception as error:
            if not isinstance(error, (OSError, *self._errors)):
                raise                       # not the database's doing: a bug, with its traceback
            raise HistoryError(f"cannot {doing} the history at {self.shown}: {_redacted(str(error))}") from None

    def _transaction(self):
        """sqlite3's connection is its own transaction context; psycopg's would close the connection instead."""
        return self.db.transaction() if hasattr(self.db, "transaction") else self.db

    def _sql(self, text: str) -> str:
        return text.replace("?", self.mark)

    def record(self, result: SuiteResult) -> None:
        """One transaction: a run is stored whole or not at all (a kill mid-write leaves the runs before it)."""
        with self._failures("write"), self._transaction():
            cursor = self.db.cursor()
            cursor.execute(self._sql("INSERT INTO runs VALUES (?, ?, ?, ?, ?)"),
                           (result.run_id, result.started, result.verdict, result.mode, result.git_sha))
            cursor.executemany(self._sql("INSERT INTO measurements VALUES (?, ?, ?, ?, ?)"),
                               [(result.run_id, m.scenario, m.subject, m.metric, m.value)
                                for m in measurements(result)])

    def record_calibration(self, calibration: Calibration) -> None:
        """Every number of every profile, in one transaction."""
        rows = [(profile.measured, hardware, ",".join(profile.rigs), metric, value, calibration.git_sha)
                for hardware, profile in calibration.profiles.items()
                for metric, value in calibration_numbers(profile).items()]
        with self._failures("write"), self._transaction():
            self.db.cursor().executemany(self._sql("INSERT INTO calibrations VALUES (?, ?, ?, ?, ?, ?)"), rows)

    def calibrations(self, limit: int = 10) -> dict[tuple[str, str], list[tuple[str, float]]]:
        """(hardware, metric) -> [(measured, value)], oldest first, over the last `limit` calibrations."""
        with self._failures("read"):
            cursor = self.db.cursor()
            cursor.execute(self._sql("SELECT DISTINCT measured FROM calibrations ORDER BY measured DESC LIMIT ?"),
                           (limit,))
            moments = [row[0] for row in cursor.fetchall()]
            if not moments:
                return {}
            cursor.execute(self._sql("SELECT measured, hardware, metric, value FROM calibrations WHERE measured >= ? "
                                     "ORDER BY measured"), (min(moments),))
            series: dict[tuple[str, str], list[tuple[str, float]]] = {}
            for measured, hardware, metric, value in cursor.fetchall():
                series.setdefault((hardware, metric), []).append((measured, float(value)))
            return series

    def runs(self, limit: int = 30) -> list[tuple[str, str, str]]:
        """(run_id, started, verdict), oldest first, the last `limit` runs."""
        with self._failures("read"):
            cursor = self.db.cursor()
            cursor.execute(self._sql("SELECT run_id, started, verdict FROM runs ORDER BY started DESC, run_id DESC "
                                     "LIMIT ?"), (limit,))
            return list(reversed(cursor.fetchall()))

    def values(self, run_id: str) -> dict[tuple[str, str, str], float]:
        with self._failures("read"):
            cursor = self.db.cursor()
            cursor.execute(self._sql("SELECT scenario, subject, metric, value FROM measurements WHERE run_id = ?"),
                           (run_id,))
            return {(scenario, subject, metric): value for scenario, subject, metric, value in cursor.fetchall()}

    def trends(self, current: SuiteResult | None = None, limit: int = 30,
               metrics: tuple[str, ...] = ("t95", T95_NEVER, "latency_p99")) -> Trends:
        """Series per (scenario, metric) across the last runs (of `current`'s scenarios when given), and regressions
        of `current` (already recorded) against the last GO run before it. A plan's seeds without a T95 are a series
        only where some run had any."""
        runs = self.runs(limit)
        # a run's report shows the trends of its own scenarios: a nightly of two rig scenarios once plotted every
        # scenario the history had seen (`fleetlab history` shows them all)
        shown = {outcome.name for outcome in current.scenarios} if current is not None else None
        series: dict[tuple[str, str], dict[str, list[tuple[str, float]]]] = {}
        for run_id, _, _ in runs:
            for (scenario, subject, metric), value in self.values(run_id).items():
                if metric in metrics and (shown is None or scenario in shown):
                    series.setdefault((scenario, metric), {}).setdefault(subject, []).append((run_id, value))
        for key in [key for key in series if key[1] == T95_NEVER]:
            reached = [subject for subject, points in series[key].items() if not any(value for _, value in points)]
            for subject in reached:
                del series[key][subject]
            if not series[key]:
                del series[key]
        baseline, good = None, []
        if current is not None:
            earlier = [run for run in runs if run[0] != current.run_id and run[1] <= current.started]
            good = [run_id for run_id, _, verdict in reversed(earlier) if verdict == "GO"]     # newest first
            baseline = good[0] if good else None
        regressions = self._regressions(current, good) if current is not None else []
        return Trends(series=series, regressions=regressions, baseline=baseline)

    def _regressions(self, current: SuiteResult, good_runs: list[str]) -> list[str]:
        """Each number of `current` against the newest GO run that measured it over as many seeds: the last GO run
        may have measured other scenarios only (a run of one file), and must not hide a regression."""
        now, found = self.values(current.run_id), []
        earlier = [(run_id, self.values(run_id)) for run_id in good_runs]
        for key, value in sorted(now.items()):
            scenario, subject, metric = key
            if metric not in LOWER_IS_BETTER:
                continue
            seeds = now.get((scenario, subject, SEEDS))
            # a mean over 3 seeds against one seed's value is not a regression, just luck
            compared = next(((run_id, before[key]) for run_id, before in earlier if key in before
                             and before.get((scenario, subject, SEEDS)) in (seeds, None)), None)
            if compared is None:
                continue
            baseline, old = compared
            worse = value - old
            if metric == T95_NEVER and worse > 0:
                found.append(f"{scenario} · {subject} · t95: not reached on {value:.0f} of {seeds or 0:.0f} seeds "
                             f"(was {old:.0f}) since run {baseline}")
            elif worse > 0 and (old == 0 or worse / abs(old) > REGRESSION):
                change = f"+{worse / abs(old):.0%}" if old else "from zero"
                found.append(f"{scenario} · {subject} · {metric}: {show_value(metric, old)} → "
                             f"{show_value(metric, value)} ({change}) since run {baseline}")
        return found

    def close(self) -> None:
        with self._failures("close"):
            self.db.close()


def record_run(location: str, result: SuiteResult) -> Trends:
    """Store the run and read its trends — optional to a run (`fleetlab run`, the pytest plugin): a history that
    cannot be opened or written comes back as Trends with its problem, and the report and the verdict stand."""
    try:
        store = History(location)
        try:
            store.record(result)
            return store.trends(result)
        finally:
            store.close()
    except HistoryError as error:
        return Trends(problem=str(error))


def calibration_numbers(profile: Profile) -> dict[str, float]:
    """A profile's numbers by dotted name (`transfer.efficiency`, `candidate.latency.p99`), SI units."""
    flat: dict[str, float] = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else key, item)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[prefix] = float(value)

    walk("", profile.model_dump(exclude={"rigs"}))
    return flat


def show_value(metric: str, value: float) -> str:
    from sim.model.gates import format_metric
    return format_metric(metric, value)


SECRET_PARAMETERS = ("password", "passwd", "pwd", "secret", "token", "sslpassword")


def _redacted(text: str) -> str:
    """Any password in a URL — `user:secret@host` or `?password=secret` — replaced by ***, wherever the URL sits
    in the text (an error message may quote it)."""
    words = []
    for word in text.split(" "):
        if "://" not in word:
            words.append(word)
            continue
        try:
            parts = urlsplit(word)
        except ValueError:
            words.append("***")
            continue
        netloc = parts.netloc
        if "@" in netloc:
            credentials, _, host = netloc.rpartition("@")
            user = credentials.split(":", 1)[0]
            netloc = f"{user}:***@{host}" if ":" in credentials else netloc
        query = urlencode([(key, "***" if key.lower() in SECRET_PARAMETERS else value)
                           for key, value in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
        words.append(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))
    return " ".join(words)
