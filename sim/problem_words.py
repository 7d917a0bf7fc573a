"""pydantic's validation errors in the terms of the file they are about: what is wrong, what was written, and what
the key allows ("expected a whole number (got 'x')", "unknown key 'uplnk'; did you mean 'uplink'?"), for sim.load,
which places each at its line."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import BaseModel
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from sim.model.units import counted

MISSING = "required key is missing"
_LIST = "expected a list: [a, b], or one '- ' line per item"
# pydantic's words for a value of the wrong type ("Input should be a valid integer, unable to parse string as an
# integer"), in the terms of the file
_TYPE_WORDS = {
    "string_type": "expected text",
    "list_type": _LIST,
    "tuple_type": _LIST,
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_parsing_size": "expected a whole number",
    "int_from_float": "expected a whole number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
}
_WRONG_TYPE = {*_TYPE_WORDS, "model_type", "model_attributes_type", "dict_type"}
_PYDANTIC_MESSAGES = {"missing": MISSING, "extra_forbidden": "unknown key", **_TYPE_WORDS}


def message_for(item: Mapping[str, Any], document: Any, keys: list[str], model: type[BaseModel]) -> str:
    """The words for one of pydantic's errors (`item`), about the value at `keys` of `document`."""
    kind = item["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, document, keys[:-1])
        suggestion = suggest(keys[-1], allowed)
        if suggestion or not allowed:
            return f"unknown key {keys[-1]!r}{suggestion}"
        return f"unknown key {keys[-1]!r} (allowed here: {', '.join(allowed)})"
    if kind == "union_tag_invalid":
        tag, expected = item["ctx"]["tag"], item["ctx"]["expected_tags"].replace("'", "").split(", ")
        return f"unknown kind {tag!r}{suggest(tag, expected)} (known: {', '.join(expected)})"
    message = _PYDANTIC_MESSAGES.get(kind, item["msg"]).removeprefix("Value error, ")
    value = item.get("input")
    if kind == "string_type" and (read_as := _unquoted_reading(value)):
        return f"expected text; unquoted, YAML reads this as {read_as}: write it in quotes"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        # pydantic says "a valid dictionary or instance of StorageSpread": a class name the file never shows
        allowed = _allowed_keys(model, document, keys)
        message = f"expected a mapping of keys ({', '.join(allowed)})" if allowed else "expected a mapping"
    if kind in ("too_short", "too_long") and item["ctx"].get("field_type") in ("List", "Tuple", "Dictionary"):
        bound = "at least" if kind == "too_short" else "at most"
        limit = item["ctx"]["min_length" if kind == "too_short" else "max_length"]
        return f"expected {bound} {counted(limit, 'item')}, got {item['ctx']['actual_length']}"
    shown = _shown(value, of_any_type=kind in _WRONG_TYPE)
    if kind != "missing" and shown and shown not in message:
        message += f" (got {shown})"
    return message


def _shown(value: object, of_any_type: bool) -> str:
    """The value a problem is about, as the file wrote it, or ''. A list, a mapping or an empty value is named only
    where its type is the problem: a rule's own words say what is wrong with the rest."""
    if isinstance(value, (str, int, float)):
        return repr(value)
    if not of_any_type:
        return ""
    if value is None:
        return "nothing: the key is there, its value empty"
    if isinstance(value, list):
        return "a list"
    return "a mapping" if isinstance(value, dict) else ""


def _unquoted_reading(value: object) -> str:
    """What YAML made of a scalar written without quotes where text belongs (`version: 2.10` is the number 2.1,
    `jetpack: 6` a number, `measured: 2026-12-03` a date), or '' for any other value."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, date):
        return f"a date ({value.isoformat()})"
    return ""


def suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _allowed_keys(model: type[BaseModel], document: Any, keys: list[str]) -> list[str]:
    """The field names a mapping at `keys` may hold, by walking the model's annotations alongside the document."""
    annotation: Any = model
    node, tag_skipped = document, None
    for key in keys:
        annotation = _resolve(annotation, node)
        if isinstance(node, CommentedMap) and node.get("kind") == key and tag_skipped is not node:
            tag_skipped = node
            continue
        node = node.get(key) if isinstance(node, CommentedMap) else (
            node[int(key)] if isinstance(node, CommentedSeq) and key.isdigit() else None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(key)
            annotation = field.annotation if field else None
        elif typing.get_origin(annotation) in (dict, list):
            annotation = typing.get_args(annotation)[-1]
        else:
            return []
    annotation = _resolve(annotation, node)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _resolve(annotation: Any, node: Any) -> Any:
    """Strip Annotated/Optional; pick the union member whose `kind` matches the document."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        kind = node.get("kind") if isinstance(node, CommentedMap) else None
        for member in members:
            fields = getattr(member, "model_fields", {})
            if "kind" in fields and fields["kind"].default == kind:
                return member
        return members[0] if len(members) == 1 else None
    return annotation
