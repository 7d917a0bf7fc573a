"""YAML file -> validated Scenario, or every problem at once as `file:line:col: dotted.path: message`.

YAML 1.2 through ruamel's round-trip loader, which keeps the position of every key and value, so a pydantic
error location (a tuple of keys) can be pointed back at the line the user wrote.

Limits (docs/architecture.md, "Inputs and their limits"): a file is at most MAX_FILE_BYTES; anchors and aliases
may not expand the document beyond MAX_EXPANDED_NODES values (a 1 kB "billion laughs" expands to 10^9 values: it is
refused at the alias that crosses the bound, before anything is built); a fleet must fit in this machine's memory.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.reader import ReaderError

from sim.model import lint, plan_traps
from sim.model.errors import Problem, ScenarioError
from sim.model.gates import METRICS
from sim.model.scenario import Scenario
from sim.model.unit_fields import UNITS_REQUIRED
from sim.problem_words import MISSING, message_for, suggest
from sim.read_input import MAX_FILE_BYTES, read_text

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_EXPANDED_NODES = 100_000
MAX_DEPTH = 64


def load_scenario(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Read and validate a scenario file; raise ScenarioError listing every problem found.

    `overrides` maps dotted key paths (`strategy.bake`, `strategy.waves.0`) to values written as in the file; they
    replace what the file says before validation, so a sweep's grid point is checked exactly like a file."""
    try:
        return load_model(Scenario, path, extra_checks=_scenario_checks, overrides=overrides, prepare=_calibrate)
    except ScenarioError as error:
        from sim.input_kinds import NOT_A_SCENARIO, wrong_kind

        raise wrong_kind(path, "scenario", NOT_A_SCENARIO) or error from None


def load_scenario_text(text: str, filename: str = "<scenario>") -> Scenario:
    return load_model_text(Scenario, text, filename, extra_checks=_scenario_checks, prepare=_calibrate)


def _calibrate(document: Any, filename: str) -> None:
    from sim import calibration_use  # it reads a second file through this module

    calibration_use.apply(document, filename)


def load_model(model: type[ModelT], path: str | Path, extra_checks: Any = None,
               overrides: Mapping[str, Any] | None = None, prepare: Any = None) -> ModelT:
    """Validate any frozen pydantic model from a YAML file (scenarios here; rig inventories reuse it)."""
    return load_model_text(model, read_text(path), str(path), extra_checks, overrides, prepare)


def read_document(path: str | Path) -> Any:
    """The parsed YAML document, under the same limits as every input; ScenarioError when it cannot be read."""
    return _parse_yaml(read_text(path), str(path))


def load_model_and_document(model: type[ModelT], path: str | Path) -> tuple[ModelT, Any]:
    """The validated model and the parsed document it came from (which knows where every key was written)."""
    document = _parse_yaml(read_text(path), str(path))
    return _validated(model, document, str(path)), document


def load_scenario_variants(path: str | Path, variants: Iterable[Mapping[str, Any]]) -> Iterator[Scenario]:
    """The scenario file under each set of overrides (a sweep's grid points), each validated exactly as
    `load_scenario(path, overrides)` would, the file read and parsed once: parsing is nearly all of a load (97 ms
    of 99 ms for the 10k fleet), a copy of the parsed document 1.4 ms. ScenarioError at the first that is not
    valid."""
    parsed = _parse_yaml(read_text(path), str(path))
    for overrides in variants:
        yield _from_document(Scenario, copy.deepcopy(parsed), str(path), _scenario_checks, overrides, _calibrate)


def load_model_text(model: type[ModelT], text: str, filename: str, extra_checks: Any = None,
                    overrides: Mapping[str, Any] | None = None, prepare: Any = None) -> ModelT:
    """`prepare(document, filename)` may complete the parsed document before validation (a scenario's
    calibration file fills in the numbers it measured)."""
    return _from_document(model, _parse_yaml(text, filename), filename, extra_checks, overrides, prepare)


def _from_document(model: type[ModelT], document: Any, filename: str, extra_checks: Any = None,
                   overrides: Mapping[str, Any] | None = None, prepare: Any = None) -> ModelT:
    """The parsed document (changed in place) with its overrides, prepared and validated."""
    for dotted, value in (overrides or {}).items():
        _override(document, filename, dotted, value)
    if prepare is not None:
        prepare(document, filename)
    return _validated(model, document, filename, extra_checks)


def _validated(model: type[ModelT], document: Any, filename: str, extra_checks: Any = None) -> ModelT:
    try:
        value = model.model_validate(_plain(document), context={UNITS_REQUIRED: True})
    except ValidationError as error:
        raise ScenarioError(_problems_from(error, document, filename, model)) from None
    if extra_checks:
        problems = [_problem_at(document, filename, path.split("."), message)
                    for path, message in extra_checks(value)]
        if problems:
            raise ScenarioError(problems)
    return value


@dataclass(frozen=True)
class CopyOf:
    """An override value that copies another part of the same file (a sweep's `plan=naive_waves` copies
    `alternatives.naive_waves` over `strategy`)."""
    path: str


def _find(document: Any, dotted: str) -> Any:
    node = document
    for key in dotted.split("."):
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def _override(document: Any, filename: str, dotted: str, value: Any) -> None:
    """Set one dotted key path in the parsed document, creating mappings on the way; list items by index."""
    keys = dotted.split(".")
    node = document
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ScenarioError([Problem(filename, 0, 0, dotted,
                                             f"{key!r} is not an index of a list of {len(node)} items")])
            index: Any = int(key)
        elif isinstance(node, dict):
            index = key
            if not last and not isinstance(node.get(key), (dict, list)):
                node[key] = {}
        else:
            raise ScenarioError([Problem(filename, 0, 0, dotted, f"{'.'.join(keys[:depth])} is not a mapping")])
        if last:
            node[index] = copy.deepcopy(_find(document, value.path)) if isinstance(value, CopyOf) else value
        else:
            node = node[index]


def _scenario_checks(scenario: Scenario) -> list[tuple[str, str]]:
    unknown = [(f"expect.{metric}", f"unknown metric {metric!r}{suggest(metric, METRICS)}")
               for metric in lint.unknown_metrics(scenario)]
    return unknown + lint.check(scenario) + lint.memory_findings(scenario, available_memory())


def available_memory() -> int | None:
    """Bytes this machine can still give a run (MemAvailable), or None where that cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as source:
            for line in source:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _guard(yaml: YAML, text: str, filename: str) -> None:
    """Refuse a document too large, too deep, or whose aliases would expand it past MAX_EXPANDED_NODES values:
    counted on the parser's events (with each anchor's expanded size remembered), so nothing is built first."""
    if len(text) > MAX_FILE_BYTES:
        raise ScenarioError([Problem(filename, 0, 0, "", f"the file is {len(text):,} characters; inputs are limited "
                                                         f"to {MAX_FILE_BYTES:,} (docs/architecture.md)")])
    sizes: dict[str, int] = {}
    open_collections: list[list[Any]] = []      # [size so far, anchor] of each collection being read
    total = 0
    for event in yaml.parse(text):
        name = type(event).__name__
        if name in ("MappingStartEvent", "SequenceStartEvent"):
            open_collections.append([1, event.anchor])
            if len(open_collections) > MAX_DEPTH:
                _refuse(filename, event, f"nested deeper than {MAX_DEPTH} levels")
            continue
        if name in ("MappingEndEvent", "SequenceEndEvent"):
            size, anchor = open_collections.pop()
        elif name == "ScalarEvent":
            size, anchor = 1, event.anchor
        elif name == "AliasEvent":
            size, anchor = sizes.get(event.anchor, 1), None
        else:
            continue
        if anchor:
            sizes[anchor] = size
        if open_collections:
            open_collections[-1][0] += size
        total += size if name == "AliasEvent" else (1 if name == "ScalarEvent" else 0)
        if total > MAX_EXPANDED_NODES or (open_collections and open_collections[-1][0] > MAX_EXPANDED_NODES):
            _refuse(filename, event, f"aliases expand the document beyond {MAX_EXPANDED_NODES:,} values "
                                     f"(an alias bomb?); refused")


def _refuse(filename: str, event: Any, message: str) -> None:
    mark = event.start_mark
    raise ScenarioError([Problem(filename, mark.line + 1, mark.column + 1, "", message)])


def _parse_yaml(text: str, filename: str) -> Any:
    yaml = YAML(typ="rt")
    try:
        _guard(yaml, text, filename)
        document = yaml.load(text)
    except ScenarioError:
        raise
    except ReaderError as error:     # a character YAML does not allow (NUL, most control characters)
        position = error.position if isinstance(error.position, int) else 0
        line = text.count("\n", 0, position) + 1
        column = position - text.rfind("\n", 0, position)
        raise ScenarioError([Problem(filename, line, column, "", f"YAML: character U+{error.character:04X} is "
                                                                 f"not allowed ({error.reason})")]) from None
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        message = " ".join(part for part in (error.context, error.problem) if part)
        raise ScenarioError([Problem(filename, line, column, "", f"YAML: {message}")]) from None
    except Exception as error:  # ruamel raises a few unmarked errors (bad encodings, tabs)
        raise ScenarioError([Problem(filename, 0, 0, "", f"YAML: {error}")]) from None
    if not isinstance(document, CommentedMap):
        raise ScenarioError([Problem(filename, 1, 1, "", "the file must be a mapping of keys to values")])
    return document


def _plain(node: Any) -> Any:
    """ruamel's commented containers and scalar subclasses -> plain dicts, lists, str, int, float."""
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    for plain_type in (bool, int, float, str):
        if isinstance(node, plain_type):
            return plain_type(node)
    return node


def _problems_from(error: ValidationError, document: Any, filename: str, model: type[BaseModel]) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        keys = [str(part) for part in item["loc"]]
        message = message_for(item, document, keys, model)
        problems.append(_problem_at(document, filename, keys, message, tagged=True))
    return sorted(problems, key=lambda problem: (problem.line, problem.column))


def _walk(document: Any, keys: list[str], tagged: bool) -> Iterator[tuple[str, Any, tuple[int, int]]]:
    """Follow `keys` into the YAML tree, yielding (key, node, (line, col) of the key) for each key present.

    Keys that are not in the document (a discriminated union's tag, pydantic's internal names) are skipped;
    the walk stops at the first key that cannot be followed.
    """
    node, tag_skipped = document, None
    for key in keys:
        if tagged and isinstance(node, CommentedMap) and node.get("kind") == key and tag_skipped is not node:
            tag_skipped = node   # pydantic puts a tagged union's tag in the path; a field may share its name
            continue
        if isinstance(node, CommentedMap) and key in node:
            line, col = _position(node, key)
            node = node[key]
            yield key, node, (line + 1, col + 1)
        elif isinstance(node, CommentedSeq) and key.isdigit() and int(key) < len(node):
            line, col = _position(node, key)
            node = node[int(key)]
            yield key, node, (line + 1, col + 1)
        else:
            return


def _position(container: Any, key: str) -> tuple[int, int]:
    """Where a key or item was written; a value set from the command line (a --grid override) was not written in the
    file, so it is placed at its mapping."""
    try:
        line, column = container.lc.key(key) if isinstance(container, CommentedMap) else container.lc.item(int(key))
        return int(line), int(column)
    except (KeyError, IndexError, TypeError):
        return int(container.lc.line), int(container.lc.col)


def _problem_at(document: Any, filename: str, keys: list[str], message: str, tagged: bool = False) -> Problem:
    """`tagged`: the keys are a pydantic error location, which names a tagged union's tag as if it were a key."""
    found = list(_walk(document, keys, tagged))
    path = [key for key, _, _ in found]
    if found:
        line, column = found[-1][2]
    else:
        line, column = document.lc.line + 1, document.lc.col + 1
    missing = keys[len(path):]
    if message == MISSING and missing:
        path.append(missing[-1])
    return Problem(filename, line, column, ".".join(path), message)


def plan_warnings(path: str | Path) -> tuple[Scenario, list[Problem]]:
    """Load a scenario (ScenarioError as usual) and list the traps in its plans (sim/model/plan_traps.py), each
    positioned at its key."""
    scenario = load_scenario(path)
    return scenario, positioned(path, plan_traps.plan_warnings(scenario))


def positioned(path: str | Path, found: list[tuple[str, str]]) -> list[Problem]:
    """(dotted key, message) pairs about a file that loaded, each placed at its key's line and column."""
    if not found:
        return []
    document = _parse_yaml(read_text(path), str(path))
    return [_problem_at(document, str(path), key.split("."), message) for key, message in found]
