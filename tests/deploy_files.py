"""What the deploy/ files say, read the way Docker, Compose and Dagster read them, for the tests."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of deploy/Dockerfile, continuation lines joined."""
    instructions, current = [], ""
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        current += stripped.removesuffix("\\").strip() + " "
        if not stripped.endswith("\\"):
            keyword, _, rest = current.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
            current = ""
    return instructions


def dockerfile_uv_syncs() -> list[list[str]]:
    """Every `uv sync ...` the image runs, as argument lists (the deployment test runs these)."""
    commands = []
    for keyword, arguments in dockerfile_instructions():
        if keyword != "RUN":
            continue
        for part in arguments.split("&&"):
            words = shlex.split(part)
            if words[:2] == ["uv", "sync"]:
                commands.append(words)
    return commands


def instance_config() -> dict:
    return yaml.safe_load((DEPLOY / "dagster.yaml").read_text())


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())


def helm_values() -> dict:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


def postgres_env(host: str, port: int, user: str, password: str, database: str) -> dict[str, str]:
    """The variables deploy/dagster.yaml reads its connection from."""
    return {
        "DAGSTER_POSTGRES_HOST": host,
        "DAGSTER_POSTGRES_PORT": str(port),
        "DAGSTER_POSTGRES_USER": user,
        "DAGSTER_POSTGRES_PASSWORD": password,
        "DAGSTER_POSTGRES_DB": database,
    }
