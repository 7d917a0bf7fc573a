"""Writing a user's output file whole or not at all: a reader (or a CI job) never sees half of it."""

from __future__ import annotations

from pathlib import Path


def write_whole(path: Path, text: str) -> None:
    """Write to a hidden partial file beside `path`, then rename it into place; on failure nothing is left."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError:
        partial.unlink(missing_ok=True)
        raise
