"""Named SQL statements from ``.sql`` files, and the one way they are filled in.

Values are always bound parameters (``$name``), chosen by exact name. Where DuckDB takes no
parameter (a statement nested in another, a view's body, a COPY target), the statement is
composed from named fragments written ``{{name}}``: ``compose`` fills them and refuses a
missing or unknown one, so nothing is replaced by accident.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
_PARAM = re.compile(r"\$([A-Za-z_]\w*)")
_FRAGMENT = re.compile(r"\{\{(\w+)\}\}")
_COMMENT = re.compile(r"--[^\n]*")


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


def compose(statement: str, **fragments: str) -> str:
    """Fills every ``{{name}}`` of ``statement``; each must be given and each given one used."""
    wanted = set(_FRAGMENT.findall(statement))
    if wanted != set(fragments):
        raise ValueError(
            f"statement needs fragments {sorted(wanted)}, was given {sorted(fragments)}"
        )
    return _FRAGMENT.sub(lambda m: fragments[m.group(1)], statement)


def bound(statement: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters ``statement`` uses (by exact name: ``$day`` is not ``$days``); DuckDB
    refuses unused ones. A parameter the statement needs but ``params`` lacks is an error."""
    used = set(_PARAM.findall(_COMMENT.sub("", statement)))
    missing = used - set(params)
    if missing:
        raise ValueError(f"statement needs parameters {sorted(missing)}")
    return {name: params[name] for name in used}


def sql_literal(text: str) -> str:
    """A string literal for the places DuckDB takes no parameter (a view's glob, a COPY target)."""
    return "'" + str(text).replace("'", "''") + "'"
