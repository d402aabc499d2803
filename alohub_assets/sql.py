"""Loads named SQL statements from the ``.sql`` files that sit beside the assets running them."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


@cache
def load_statements(path: Path) -> dict[str, str]:
    """``-- name: x`` starts statement ``x``; the file's text before the first name is ignored."""
    text = path.read_text(encoding="utf-8")
    parts = _NAME.split(text)
    statements = {
        name: body.strip().rstrip(";") for name, body in zip(parts[1::2], parts[2::2], strict=True)
    }
    if not statements:
        raise ValueError(f"{path} has no '-- name:' statements")
    return statements
