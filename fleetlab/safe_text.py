"""Text that came from a scenario file or a rig, made safe for where it is shown: control characters made visible
(a rig's health command printing ESC sequences must not retitle or clear anyone's terminal), characters XML 1.0
forbids replaced, Markdown markup and links neutralised, and any one text bounded in length."""

from __future__ import annotations

import re

MAX_TEXT = 4000            # characters of one text shown in a report cell or a terminal line
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#!|~])")


def visible(text: str) -> str:
    """C0/C1 control characters (but newline and tab) as `\\xNN`: seen, never obeyed; a lone surrogate (which no
    encoder can write) as U+FFFD."""
    return _NOT_XML.sub("\ufffd", _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text))


def bounded(text: str, limit: int = MAX_TEXT) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"… ({len(text) - limit:,} more characters)"


def xml_text(value: object) -> str:
    """For XML 1.0 (junit.xml): controls visible, characters XML cannot carry replaced, length bounded."""
    return _NOT_XML.sub("\ufffd", bounded(visible(str(value))))


def markdown_cell(value: object) -> str:
    """For a Markdown table cell: one line, every Markdown special character escaped (no links, no emphasis, no
    HTML), controls visible, length bounded."""
    text = bounded(visible(str(value))).replace("\n", " ").replace("\t", " ")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")   # no HTML, no entity tricks
    return _MARKDOWN.sub(r"\\\1", text)
