"""A persistent Dagster instance for local use (``make demo``, ``make dev``).

Without ``DAGSTER_HOME`` Dagster keeps runs, cursors and schedules in a temporary folder that
vanishes on exit. This puts them in ``./.dagster_home`` (or ``$DAGSTER_HOME``) with the
project's ``dagster.yaml`` (run concurrency and telemetry settings).
"""

import os
import shutil
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def prepare_dagster_home() -> Path:
    home = Path(os.getenv("DAGSTER_HOME") or PROJECT_ROOT / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    template = PROJECT_ROOT / "dagster.yaml"
    target = home / "dagster.yaml"
    if template.exists() and (not target.exists() or target.read_bytes() != template.read_bytes()):
        shutil.copyfile(template, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
