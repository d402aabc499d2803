"""The deployment files as Dagster, Compose and Helm read them: the instance config validates against
Dagster's schema and works on a real Postgres; Compose and the Helm values agree with it and with the
code location; the image installs with the locked, non-dev `uv sync` the deployment test runs.
Containers themselves cannot run here (no Docker daemon): docs/deployment.md says so."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import dagster as dg
import pytest
import yaml

from tests.deploy_files import (
    DEPLOY,
    ROOT,
    compose,
    dockerfile_instructions,
    dockerfile_uv_syncs,
    helm_values,
    instance_config,
    postgres_env,
)

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
MODULE = PYPROJECT["tool"]["dagster"]["module_name"]
LOCATION = PYPROJECT["tool"]["dagster"]["code_location_name"]


@pytest.fixture
def deploy_instance(postgres_server, tmp_path, monkeypatch):
    """deploy/dagster.yaml, unchanged, as the instance of a DAGSTER_HOME, on a new database."""
    database = postgres_server.create_database(f"dagster_{tmp_path.name.lower()}"[:60])
    for name, value in postgres_env(
        postgres_server.host, postgres_server.port, postgres_server.user, "unused", database
    ).items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(home))
    yield instance
    instance.dispose()


def test_instance_config_validates_against_dagsters_schema(monkeypatch):
    from dagster._config import validate_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_docker import DockerRunLauncher

    for name, value in postgres_env("db", 5432, "dagster", "secret", "dagster").items():
        monkeypatch.setenv(name, value)
    config, custom_class = dagster_instance_config(str(DEPLOY))
    assert custom_class is None
    database = config["storage"]["postgres"]["postgres_db"]
    assert database["scheme"] == "postgresql+psycopg2"
    # Every connection field is read from the environment, none written in the file.
    raw = instance_config()["storage"]["postgres"]["postgres_db"]
    assert {key for key, value in raw.items() if isinstance(value, dict)} == {
        "hostname", "port", "username", "password", "db_name"
    }  # fmt: skip
    launcher = config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_docker", "DockerRunLauncher")
    assert validate_config(DockerRunLauncher.config_type(), launcher["config"]).success
    coordinator = config["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator"
    assert validate_config(QueuedRunCoordinator.config_type(), coordinator["config"]).success


def test_instance_config_rejects_what_dagster_would_reject(tmp_path, monkeypatch):
    """The schema check above can fail: a misspelt key is refused."""
    from dagster._core.errors import DagsterInvalidConfigError
    from dagster._core.instance.config import dagster_instance_config

    for name, value in postgres_env("db", 5432, "dagster", "secret", "dagster").items():
        monkeypatch.setenv(name, value)
    broken = instance_config()
    broken["concurrency"]["pools"]["default_limt"] = broken["concurrency"]["pools"].pop(
        "default_limit"
    )
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(broken))
    with pytest.raises(DagsterInvalidConfigError):
        dagster_instance_config(str(tmp_path))


def test_deploy_instance_runs_on_postgres_with_the_queue_and_pool_limits(deploy_instance):
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_docker import DockerRunLauncher
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    instance = deploy_instance
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    assert isinstance(instance.run_launcher, DockerRunLauncher)
    concurrency = instance.get_concurrency_config()
    assert concurrency.run_queue_config.max_concurrent_runs == 4
    # Every pool the pipeline's steps claim (alohub_api: one tenant's quota) gets its limit
    # from this instance before an operator sets one, in Postgres, for every process.
    from alohub_assets.definitions import defs

    pools = set().union(*(node.pools or set() for node in defs.resolve_asset_graph().asset_nodes))
    assert "alohub_api" in pools
    for pool in pools:
        instance.event_log_storage.initialize_concurrency_limit_to_default(pool)
        assert instance.event_log_storage.get_concurrency_info(pool).slot_count == 1, pool

    # The instance stores runs and events in Postgres: a materialization is read back.
    @dg.asset
    def probe() -> int:
        return 1

    result = dg.materialize([probe], instance=instance)
    assert result.success
    event = instance.get_latest_materialization_event(dg.AssetKey("probe"))
    assert event is not None and event.run_id == result.run_id
    assert instance.get_run_by_id(result.run_id).is_success


def test_compose_agrees_with_the_instance_and_the_image():
    services = compose()["services"]
    assert {"postgres", "code", "webserver", "daemon"} <= set(services)
    launcher = instance_config()["run_launcher"]["config"]
    # The daemon passes these variables to every run container: each must be set in its env.
    daemon_env = services["daemon"]["environment"]
    assert set(launcher["env_vars"]) <= set(daemon_env)
    for name in launcher["env_vars"]:
        assert name in services["code"]["environment"]
    # Runs start from the code location's image, on the Compose network, with the data volume.
    code = services["code"]
    assert code["environment"]["DAGSTER_CURRENT_IMAGE"] == code["image"]
    assert code["build"]["dockerfile"] == "deploy/Dockerfile"
    assert compose()["networks"]["alohub-dagster"]["name"] == launcher["network"]
    assert all(service["networks"] == ["alohub-dagster"] for service in services.values())
    volume = launcher["container_kwargs"]["volumes"][0].split(":")[0]
    assert compose()["volumes"]["alohub-data"]["name"] == volume
    assert "/var/run/docker.sock:/var/run/docker.sock" in services["daemon"]["volumes"]
    # Webserver and daemon read a workspace that points at the code service's gRPC port.
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    server = workspace["load_from"][0]["grpc_server"]
    assert (server["host"], server["location_name"]) == ("code", LOCATION)
    command = json.loads(dockerfile_instructions()[-1][1])
    assert command[command.index("--port") + 1] == str(server["port"])
    assert command[command.index("--module-name") + 1] == MODULE
    for service in ("webserver", "daemon"):
        assert "/opt/dagster/app/deploy/workspace.yaml" in services[service]["command"]


def test_helm_values_agree_with_the_instance_and_the_code_location():
    values = helm_values()
    instance = instance_config()
    assert values["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert (
        values["concurrency"]["runs"]["maxConcurrentRuns"]
        == (instance["concurrency"]["runs"]["max_concurrent_runs"])
    )
    assert (
        values["concurrency"]["pools"]["defaultLimit"]
        == (instance["concurrency"]["pools"]["default_limit"])
    )
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    args = deployment["dagsterApiGrpcArgs"]
    assert args[args.index("--module-name") + 1] == MODULE
    assert args[args.index("--location-name") + 1] == LOCATION
    # Secrets reach user code and runs from a Kubernetes secret, not from the values file.
    assert {"name": "alohub-secrets"} in deployment["envSecrets"]
    run_launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert {"name": "alohub-secrets"} in run_launcher["envSecrets"]
    plain = {entry["name"] for entry in deployment["env"]}
    assert not plain & {"ALOHUB_API_KEY", "AWS_SECRET_ACCESS_KEY", "ALOHUB_PII_HMAC_KEY"}


def test_dockerfile_installs_locked_runtime_dependencies_as_a_non_root_user():
    syncs = dockerfile_uv_syncs()
    assert syncs and all("--frozen" in s and "--no-dev" in s for s in syncs)
    users = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    # What the image runs must be in the runtime (non-dev) dependencies.
    runtime = " ".join(PYPROJECT["project"]["dependencies"])
    for package in ("dagster-webserver", "dagster-postgres", "dagster-docker", "dagster-k8s"):
        assert package in runtime
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert ".venv" in ignored and "deploy/.env" in ignored
    assert Path(ROOT / ".gitignore").read_text().count("deploy/.env") == 1
