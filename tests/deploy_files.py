"""What the deploy/ files say, read the way Docker, Compose and Dagster read them, for the tests;
and the one list of the variables a deployment must pass to the code location and its runs."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
CHART_SCHEMA = ROOT / "tests" / "fixtures" / "dagster-chart-values.schema.json"

SECRET, SETTING = "secret", "setting"

#: Every variable the code location and its runs read, and whether it is a secret. Each one must
#: be in the Compose environment (from deploy/env.example), in the Docker run launcher's env_vars
#: and in the code location's env of the Helm values (a secret there only as a secretKeyRef).
#: ALOHUB_RATE_STATE_URL comes with PGPASSWORD, libpq's password variable, which psycopg2 reads
#: for the pacer's state in Postgres (api/rate_limit.py).
WIRED: dict[str, str] = {
    "ALOHUB_API_KEY": SECRET,
    "ALOHUB_TENANT_ID": SECRET,
    "ALOHUB_PII_HMAC_KEY": SECRET,
    "ALOHUB_ALERT_WEBHOOK_URL": SECRET,
    "ALOHUB_BASE_URL": SETTING,
    "ALOHUB_DATA_DIR": SETTING,
    "ALOHUB_PARTITIONS_START": SETTING,
    "ALOHUB_LOOKBACK_DAYS": SETTING,
    "ALOHUB_FRESHNESS_DEADLINE": SETTING,
    "ALOHUB_UI_BASE_URL": SETTING,
    "ALOHUB_SETTINGS_FILE": SETTING,
    "ALOHUB_RATE_STATE_URL": SETTING,
    "ALOHUB_RATE_STATE_PATH": SETTING,
    "PGPASSWORD": SECRET,
    "AWS_ENDPOINT_URL": SETTING,
    "AWS_REGION": SETTING,
    "AWS_ACCESS_KEY_ID": SECRET,
    "AWS_SECRET_ACCESS_KEY": SECRET,
}

#: What the dashboard service reads (alohub_dashboard, and the storage and settings code it uses):
#: each must be in its Compose environment and its Helm env. Its object-storage keys are its own
#: read-only ones; it gets none of the pipeline's secrets (ALOHUB_API_KEY above all).
DASHBOARD_WIRED: dict[str, str] = {
    "ALOHUB_DASHBOARD_HOST": SETTING,
    "ALOHUB_DASHBOARD_PORT": SETTING,
    "ALOHUB_DATA_DIR": SETTING,
    "ALOHUB_SETTINGS_FILE": SETTING,
    "AWS_ENDPOINT_URL": SETTING,
    "AWS_REGION": SETTING,
    "AWS_ACCESS_KEY_ID": SECRET,
    "AWS_SECRET_ACCESS_KEY": SECRET,
}

#: ALOHUB_* names in alohub_assets/ that a deployment must not set, each with the reason.
NOT_FOR_DEPLOYMENTS: dict[str, str] = {
    "ALOHUB_FAILPOINT": "tests only: the crash-safety tests kill a run at a named point",
}

_NAME_IN_CODE = re.compile(r"(?<=[\"'`])ALOHUB_[A-Z0-9_]+")


def variables_read_by_the_code(package: str = "alohub_assets") -> set[str]:
    """ALOHUB_* names quoted in a package's source (string literals and docstrings): the code
    location's by default, ``alohub_dashboard`` for the dashboard."""
    names: set[str] = set()
    for path in (ROOT / package).rglob("*"):
        if path.suffix in (".py", ".sql", ".yaml") and path.is_file():
            names |= set(_NAME_IN_CODE.findall(path.read_text()))
    return names


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
    """Every `uv sync ...` the image runs, as argument lists."""
    commands = []
    for keyword, arguments in dockerfile_instructions():
        if keyword != "RUN":
            continue
        for part in arguments.split("&&"):
            words = shlex.split(part)
            if words[:2] == ["uv", "sync"]:
                commands.append(words)
    return commands


def dockerfile_cmd() -> list[str]:
    """The image's command (the code server's, in exec form)."""
    (cmd,) = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "CMD"]
    return json.loads(cmd)


def dockerfile_env() -> dict[str, str]:
    """The image's ENV values (``$PATH`` left as written)."""
    env: dict[str, str] = {}
    for keyword, arguments in dockerfile_instructions():
        if keyword == "ENV":
            for word in shlex.split(arguments):
                name, _, value = word.partition("=")
                env[name] = value
    return env


def instance_config() -> dict:
    return yaml.safe_load((DEPLOY / "dagster.yaml").read_text())


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())


def helm_values() -> dict:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


def env_example() -> dict[str, str]:
    """deploy/env.example as Compose reads an env file (KEY=VALUE lines, # comments)."""
    values = {}
    for line in (DEPLOY / "env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


_INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def compose_references(text: str) -> set[str]:
    """The variable names a Compose file interpolates (``${NAME...}``)."""
    return {match.group(1) for match in _INTERPOLATION.finditer(text) if match.group(1)}


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's interpolation of one value: ``${X}``, ``${X:-default}``, ``${X-default}``,
    ``${X:?error}``, ``${X?error}`` and ``$$``; a required variable that is missing raises."""

    def replace(match: re.Match) -> str:
        name, operator, argument = match.groups()
        if name is None:
            return "$"
        current = env.get(name)
        if operator in (":-", ":?"):
            missing = not current
        else:
            missing = current is None
        if operator in (":-", "-"):
            return argument if missing else current
        if operator in (":?", "?") and missing:
            raise ValueError(f"Compose refuses to start: {argument}")
        return current or ""

    return _INTERPOLATION.sub(replace, value)


def service_environment(service: str, env_file: dict[str, str]) -> dict[str, str]:
    """A Compose service's environment as Compose resolves it against an env file."""
    environment = compose()["services"][service].get("environment") or {}
    return {name: interpolate(str(value), env_file) for name, value in environment.items()}


def locked_version(package: str) -> str:
    """The version of ``package`` in uv.lock."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (version,) = [p["version"] for p in lock["package"] if p["name"] == package]
    return version


def runtime_closure() -> set[str]:
    """Every package uv.lock installs for the project without dev groups (what the image has)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages = {p["name"]: p for p in lock["package"]}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    seen: set[str] = set()
    todo = [project]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for dependency in packages[name].get("dependencies", []):
            todo.append(dependency["name"])
    return seen


def postgres_env(host: str, port: int, user: str, password: str, database: str) -> dict[str, str]:
    """The variables deploy/dagster.yaml reads its connection from."""
    return {
        "DAGSTER_POSTGRES_HOST": host,
        "DAGSTER_POSTGRES_PORT": str(port),
        "DAGSTER_POSTGRES_USER": user,
        "DAGSTER_POSTGRES_PASSWORD": password,
        "DAGSTER_POSTGRES_DB": database,
    }


def env_references(config) -> set[str]:
    """Names of every ``{env: NAME}`` in a Dagster config tree."""
    if isinstance(config, dict):
        if set(config) == {"env"}:
            return {config["env"]}
        return set().union(*(env_references(value) for value in config.values()))
    if isinstance(config, list):
        return set().union(*(env_references(value) for value in config))
    return set()
