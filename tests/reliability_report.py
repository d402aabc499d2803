"""Renders the figures of the reliability tests as docs/reliability.md (`make soak`)."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path

TITLES = {
    "faults": "Faults injected (sandbox over HTTP, whole partition runs)",
    "bad_rows": "Bad rows (landed as sent, parsed by call_logs)",
    "crashes": "Crash points (SIGKILL) and concurrent runs",
    "secrets": "Secrets",
}


def _table(rows: list[dict]) -> list[str]:
    if not rows:
        return ["(none recorded in this run)"]
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
    return lines


def write_report(sections: dict[str, list[dict]], target: str) -> None:
    runs = os.environ.get("ALOHUB_SOAK_RUNS", "2")
    lines = [
        "# Reliability",
        "",
        f"From the latest run of the reliability suite ({runs} partition runs per fault kind), "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores.",
        "`make soak` regenerates this file; `make test` runs the same tests with 2 runs per kind.",
        "",
        "A run that exhausts its retries fails with a clear error and writes nothing for that",
        "partition (the previous one stays): it is counted under *failed clearly*, never as a",
        "short day. *lost* and *duplicates* are counted over the runs that succeeded.",
    ]
    for key, title in TITLES.items():
        lines += ["", f"## {title}", "", *_table(sections.get(key, []))]
    Path(target).write_text("\n".join(lines) + "\n")
