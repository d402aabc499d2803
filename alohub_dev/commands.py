"""The command lines the docs, tests and benchmarks give for one partition's daily run."""

from __future__ import annotations

import json
from datetime import date

from alohub_assets.defs.ingest.jobs import daily_call_logs_job

DEFINITIONS_MODULE = "alohub_assets.definitions"


def daily_job_cli_args(day: date) -> list[str]:
    """``dagster job execute`` arguments that run the daily job (its own selection) for ``day``."""
    tags = json.dumps({"dagster/partition": day.isoformat()})
    return [
        "job",
        "execute",
        "-m",
        DEFINITIONS_MODULE,
        "-j",
        daily_call_logs_job.name,
        "--tags",
        tags,
    ]
