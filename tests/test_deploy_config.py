"""The deployment files as Dagster, Compose and Helm read them: the instance config validates against
Dagster's schema and works on a real Postgres; Compose and the Helm values agree with it and with the
code location, and each finding of issue 20 has its check here (containers cannot run here: no
Docker daemon, no helm binary; tests/test_deployment.py runs the Compose commands as processes)."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import tomllib

import dagster as dg
import pytest
import yaml

from tests.deploy_files import (
    CHART_SCHEMA,
    DASHBOARD_WIRED,
    DEPLOY,
    NOT_FOR_DEPLOYMENTS,
    ROOT,
    SECRET,
    WIRED,
    compose,
    compose_references,
    dockerfile_cmd,
    dockerfile_instructions,
    dockerfile_uv_syncs,
    env_example,
    env_references,
    helm_values,
    instance_config,
    interpolate,
    locked_version,
    postgres_env,
    runtime_closure,
    service_environment,
    variables_read_by_the_code,
)

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
MODULE = PYPROJECT["tool"]["dagster"]["module_name"]
LOCATION = PYPROJECT["tool"]["dagster"]["code_location_name"]
DAGSTER_SERVICES = ("code", "webserver", "daemon")
DOCS = (ROOT / "docs" / "deployment.md").read_text()
COMPUTE_LOG_ENV = {"DAGSTER_COMPUTE_LOGS_BUCKET": "logs", "DAGSTER_COMPUTE_LOGS_PREFIX": "p"}


def the_deployment(values: dict) -> dict:
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    return deployment


@pytest.fixture
def deploy_instance(postgres_server, tmp_path, monkeypatch):
    """deploy/dagster.yaml, unchanged, as the instance of a DAGSTER_HOME, on a new database."""
    database = postgres_server.create_database(f"dagster_{tmp_path.name.lower()}"[:60])
    for name, value in {
        **postgres_env(
            postgres_server.host, postgres_server.port, postgres_server.user, "unused", database
        ),
        **COMPUTE_LOG_ENV,
    }.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(home))
    yield instance
    instance.dispose()


# ------------------------------------------------------------------------------ the instance file


def test_instance_config_validates_against_dagsters_schema(monkeypatch):
    from dagster._config import validate_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
    from dagster_docker import DockerRunLauncher

    for name, value in {**postgres_env("db", 5432, "dagster", "s", "dagster"), **COMPUTE_LOG_ENV}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    config, custom_class = dagster_instance_config(str(DEPLOY))
    assert custom_class is None
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
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
    logs = config["compute_logs"]
    assert (logs["module"], logs["class"]) == (
        "dagster_aws.s3.compute_log_manager", "S3ComputeLogManager"
    )  # fmt: skip
    assert validate_config(S3ComputeLogManager.config_type(), logs["config"]).success


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


def test_deploy_instance_runs_on_postgres_with_the_queue_pool_limits_and_s3_logs(deploy_instance):
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
    from dagster_docker import DockerRunLauncher
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    instance = deploy_instance
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    assert isinstance(instance.run_launcher, DockerRunLauncher)
    assert isinstance(instance.compute_log_manager, S3ComputeLogManager)
    concurrency = instance.get_concurrency_config()
    assert concurrency.run_queue_config.max_concurrent_runs == 4
    # Every pool the pipeline's steps claim (alohub_api: one tenant's quota, paced from one
    # Postgres record by every run) gets its limit from this instance before an operator sets
    # one, in Postgres, for every process.
    from alohub_assets.definitions import defs

    pools = set().union(*(node.pools or set() for node in defs.resolve_asset_graph().asset_nodes))
    assert "alohub_api" in pools
    for pool in pools:
        instance.event_log_storage.initialize_concurrency_limit_to_default(pool)
        slots = instance.event_log_storage.get_concurrency_info(pool).slot_count
        assert slots == concurrency.pool_config.default_pool_limit == 4, pool

    # The instance stores runs and events in Postgres: a materialization is read back.
    @dg.asset
    def probe() -> int:
        return 1

    result = dg.materialize([probe], instance=instance)
    assert result.success
    event = instance.get_latest_materialization_event(dg.AssetKey("probe"))
    assert event is not None and event.run_id == result.run_id
    assert instance.get_run_by_id(result.run_id).is_success


# ----------------------------------------------------------------- settings reach every process


def test_every_setting_the_code_reads_is_in_the_wired_list():
    """A new ALOHUB_* variable in the code location fails here until it is wired everywhere."""
    read = variables_read_by_the_code()
    assert {"ALOHUB_API_KEY", "ALOHUB_ALERT_WEBHOOK_URL", "ALOHUB_FAILPOINT"} <= read
    assert read - set(NOT_FOR_DEPLOYMENTS) <= set(WIRED), read - set(WIRED)


def test_every_wired_setting_reaches_compose_services_and_run_containers():
    """Compose passes each variable to every Dagster service (the webserver too: "Terminate"
    and launches from the UI run the launcher there) and the run launcher to each run."""
    example = env_example()
    for service in (*DAGSTER_SERVICES, "migrate"):
        environment = compose()["services"][service]["environment"]
        assert set(WIRED) <= set(environment), (service, set(WIRED) - set(environment))
    launcher_vars = set(instance_config()["run_launcher"]["config"]["env_vars"])
    assert set(WIRED) <= launcher_vars, set(WIRED) - launcher_vars
    # What the instance file itself reads is passed on too (runs open the same instance).
    assert env_references(instance_config()) <= launcher_vars
    for service in (*DAGSTER_SERVICES, "migrate"):
        assert env_references(instance_config()) <= set(
            compose()["services"][service]["environment"]
        )
    # Each value comes from deploy/env.example or is fixed by the deployment itself.
    environment = compose()["services"]["code"]["environment"]
    for name in WIRED:
        referenced = compose_references(str(environment[name]))
        assert referenced <= set(example), (name, referenced - set(example))
    # A secret is never written in the Compose file: it comes from the env file.
    for name, kind in WIRED.items():
        if kind == SECRET:
            assert compose_references(str(environment[name])), name


def test_every_wired_setting_reaches_the_code_server_and_run_pods_on_kubernetes():
    """The code location's env holds every variable; secrets only as secretKeyRef; run pods get
    the same env, the settings volume and the resources (the merge dagster-k8s does)."""
    from dagster_k8s.container_context import K8sContainerContext

    values = helm_values()
    deployment = the_deployment(values)
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    env = {entry["name"]: entry for entry in deployment["env"]}
    assert set(WIRED) <= set(env), set(WIRED) - set(env)
    for name, kind in WIRED.items():
        if kind == SECRET:
            assert "value" not in env[name] and env[name]["valueFrom"]["secretKeyRef"], name
    # No secret is written anywhere in the values, in any pod's env.
    for pod in (values["dagsterWebserver"], values["dagsterDaemon"], deployment):
        for entry in pod.get("env") or []:
            if WIRED.get(entry["name"]) == SECRET:
                assert "value" not in entry, entry
    # What the chart hands a run (its k8sContainerContext helper), merged by dagster-k8s onto
    # the run launcher's own settings as the K8sRunLauncher does for each run.
    launcher = values["runLauncher"].get("config", {}).get("k8sRunLauncher", {})
    code_location = K8sContainerContext.create_from_config(
        {"k8s": {
            "env": deployment["env"],
            "volumes": deployment.get("volumes", []),
            "volume_mounts": deployment.get("volumeMounts", []),
            "resources": deployment.get("resources", {}),
            "env_secrets": [s["name"] for s in deployment.get("envSecrets", [])],
        }}
    )  # fmt: skip
    run_launcher = K8sContainerContext.create_from_config(
        {"k8s": {
            "env_secrets": [s["name"] for s in launcher.get("envSecrets", [])],
            "resources": launcher.get("resources", {}),
            "run_k8s_config": launcher.get("runK8sConfig", {}),
        }}
    )  # fmt: skip
    run = run_launcher.merge(code_location).run_k8s_config
    run_env = {entry["name"] for entry in run.container_config["env"]}
    assert set(WIRED) <= run_env
    assert run.container_config["resources"] == deployment["resources"]
    mounts = {m["mount_path"] for m in run.container_config["volume_mounts"]}
    settings_dir = env["ALOHUB_SETTINGS_FILE"]["value"].rsplit("/", 1)[0]
    assert settings_dir in mounts
    assert {v["name"] for v in run.pod_spec_config["volumes"]} >= {
        m["name"] for m in deployment["volumeMounts"]
    }


def test_every_wired_setting_is_documented():
    for name in {*WIRED, *DASHBOARD_WIRED}:
        assert f"`{name}`" in DOCS, name


# ------------------------------------------------------------------------------ the dashboard


def test_every_setting_the_dashboard_reads_is_in_its_wired_list():
    read = variables_read_by_the_code("alohub_dashboard")
    assert {"ALOHUB_DASHBOARD_HOST", "ALOHUB_DASHBOARD_PORT"} <= read
    assert read <= set(DASHBOARD_WIRED), read - set(DASHBOARD_WIRED)


def test_compose_dashboard_reads_the_data_read_only_without_the_pipelines_secrets():
    services = compose()["services"]
    dashboard = services["dashboard"]
    assert dashboard["image"] == services["code"]["image"]  # the same image
    assert dashboard["command"] == ["python", "-m", "alohub_dashboard.serve"]
    assert dashboard["restart"] in ("unless-stopped", "always")
    assert "/_stcore/health" in " ".join(dashboard["healthcheck"]["test"])
    env = dashboard["environment"]
    assert set(DASHBOARD_WIRED) <= set(env), set(DASHBOARD_WIRED) - set(env)
    # None of the pipeline's secrets; its storage keys are its own (read-only) ones.
    pipeline_secrets = {name for name, kind in WIRED.items() if kind == SECRET}
    assert not (pipeline_secrets - {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}) & set(env)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert compose_references(env[name]) == {f"DASHBOARD_{name}"}, name
    # The data and settings volumes are mounted read-only, and nothing else.
    code_data = next(v for v in services["code"]["volumes"] if v.startswith("alohub-data:"))
    assert dashboard["volumes"] == [f"{code_data}:ro", "alohub-settings:/opt/dagster/settings:ro"]
    assert env["ALOHUB_SETTINGS_FILE"] == services["code"]["environment"]["ALOHUB_SETTINGS_FILE"]
    # Published on loopback by default (it has no accounts); the port in the container is the
    # one the app listens on.
    (port,) = dashboard["ports"]
    assert interpolate(port, env_example()).startswith("127.0.0.1:")
    assert interpolate(port, {}) == f"127.0.0.1:8501:{env['ALOHUB_DASHBOARD_PORT']}"
    service_environment("dashboard", env_example())  # resolves from the example env file


def test_helm_dashboard_reads_the_data_read_only_without_the_pipelines_secrets():
    values = helm_values()
    dashboard, code = values["dashboard"], the_deployment(values)
    assert dashboard["image"] == code["image"]
    env = {entry["name"]: entry for entry in dashboard["env"]}
    assert set(DASHBOARD_WIRED) <= set(env), set(DASHBOARD_WIRED) - set(env)
    assert "ALOHUB_API_KEY" not in env and "PGPASSWORD" not in env
    for name, kind in DASHBOARD_WIRED.items():
        if kind == SECRET:
            ref = env[name]["valueFrom"]["secretKeyRef"]
            assert "value" not in env[name] and ref["name"] == "alohub-dashboard-secrets", name
    assert env["ALOHUB_DASHBOARD_PORT"]["value"] == str(dashboard["port"])
    assert env["ALOHUB_DATA_DIR"] == next(e for e in code["env"] if e["name"] == "ALOHUB_DATA_DIR")
    assert all(mount["readOnly"] for mount in dashboard["volumeMounts"])
    assert dashboard["volumes"] == code["volumes"]  # the same settings ConfigMap
    assert {"cpu", "memory"} <= set(dashboard["resources"]["requests"])
    # The chart beside the values renders only what the values hold.
    chart = DEPLOY / "helm" / "dashboard"
    used = set()
    for template in (chart / "templates").glob("*.yaml"):
        used |= set(re.findall(r"\{\{-? *(?:toYaml )?\.([a-zA-Z.]+)", template.read_text()))
    assert used, "no value read by the dashboard chart"
    for path in used:
        node = dashboard
        for part in path.split("."):
            node = node[part]  # KeyError: a template reads a value the values file lacks
    assert yaml.safe_load((chart / "Chart.yaml").read_text())["name"] == "alohub-dashboard"
    install = (
        "helm upgrade --install alohub-dashboard deploy/helm/dashboard -f deploy/helm/values.yaml"
    )
    assert install in (DEPLOY / "helm" / "values.yaml").read_text()
    assert install in DOCS


# ------------------------------------------------------------------------------ the Helm values


def test_helm_values_validate_against_the_pinned_charts_schema():
    import jsonschema

    schema = json.loads(CHART_SCHEMA.read_text())
    assert locked_version("dagster") in schema["title"]
    jsonschema.validate(helm_values(), schema)
    # The check can fail: a misspelt key where the chart forbids unknown keys.
    broken = helm_values()
    broken["concurrency"]["enable"] = broken["concurrency"].pop("enabled")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_helm_renders_the_run_and_pool_limits():
    """The chart renders `concurrency:` only when enabled; else max_concurrent_runs is -1."""
    values, instance = helm_values(), instance_config()
    assert values["concurrency"]["enabled"] is True
    runs, pools = values["concurrency"]["runs"], values["concurrency"]["pools"]
    assert runs["maxConcurrentRuns"] == instance["concurrency"]["runs"]["max_concurrent_runs"]
    assert pools["defaultLimit"] == instance["concurrency"]["pools"]["default_limit"]
    assert pools["granularity"] == instance["concurrency"]["pools"]["granularity"]
    # The chart refuses to render with the run limit set in both places.
    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert "maxConcurrentRuns" not in queued
    coordinator = instance["run_coordinator"]["config"]
    assert queued["dequeueUseThreads"] == coordinator["dequeue_use_threads"]
    assert queued["dequeueNumWorkers"] == coordinator["dequeue_num_workers"]


def test_helm_names_the_code_location_alohub_assets():
    """The chart names a location after its deployment (a DNS name) unless the workspace lists
    the server with a name."""
    values = helm_values()
    deployment = the_deployment(values)
    workspace = values["dagsterWebserver"]["workspace"]
    assert workspace["enabled"] is True
    (server,) = workspace["servers"]
    assert server == {"host": deployment["name"], "port": deployment["port"], "name": LOCATION}


def test_helm_code_server_runs_the_dockerfiles_command():
    """The chart runs `dagster code-server start -h 0.0.0.0 -p PORT <codeServerArgs>`."""
    deployment = the_deployment(helm_values())
    assert "dagsterApiGrpcArgs" not in deployment  # the chart would prefer it
    command = dockerfile_cmd()
    assert command[:3] == ["dagster", "code-server", "start"]
    rest = command[3:]
    options = dict(zip(rest[::2], rest[1::2], strict=True))
    assert options.pop("--host") == "0.0.0.0"
    assert int(options.pop("--port")) == deployment["port"]
    args = deployment["codeServerArgs"]
    assert dict(zip(args[::2], args[1::2], strict=True)) == options
    assert options == {"--module-name": MODULE, "--location-name": LOCATION}


def test_helm_chart_and_images_are_pinned_to_the_locked_dagster():
    version = locked_version("dagster")
    values = helm_values()
    for pod in ("dagsterWebserver", "dagsterDaemon"):
        assert values[pod]["image"]["tag"] == version, pod
    install = f"helm upgrade --install dagster dagster/dagster --version {version}"
    assert install in (DEPLOY / "helm" / "values.yaml").read_text()
    assert install in DOCS


def test_helm_migrates_the_instance_on_install_and_upgrade():
    assert helm_values()["migrate"]["enabled"] is True


def test_helm_gives_every_pod_resources():
    values = helm_values()
    pods = {
        "webserver (and the migrate job)": values["dagsterWebserver"],
        "daemon": values["dagsterDaemon"],
        "code server (and every run)": the_deployment(values),
    }
    for name, pod in pods.items():
        resources = pod.get("resources") or {}
        assert {"cpu", "memory"} <= set(resources.get("requests", {})), name
        assert "memory" in resources.get("limits", {}), name


def test_helm_run_logs_go_where_the_instance_file_puts_them():
    from dagster._config import validate_config
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager

    values = helm_values()
    manager = values["computeLogManager"]
    assert manager["type"] == instance_config()["compute_logs"]["class"] == "S3ComputeLogManager"
    config = {
        re.sub(r"[A-Z]", lambda m: "_" + m.group().lower(), key): value
        for key, value in manager["config"]["s3ComputeLogManager"].items()
    }
    assert validate_config(S3ComputeLogManager.config_type(), config).success
    local = instance_config()["compute_logs"]["config"]
    assert set(config) == set(local)
    # The webserver reads the logs back: it has the storage keys (from the secret).
    webserver_env = {entry["name"] for entry in values["dagsterWebserver"]["env"]}
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} <= webserver_env


# ------------------------------------------------------------------------------- Docker Compose


def test_compose_long_running_services_restart_and_have_healthchecks():
    services = compose()["services"]
    code_port = dockerfile_cmd()[dockerfile_cmd().index("--port") + 1]
    expected = {
        "postgres": "pg_isready",
        "code": f"dagster api grpc-health-check -p {code_port}",
        "webserver": "/server_info",
        "daemon": "dagster-daemon liveness-check",
    }
    for name, probe in expected.items():
        service = services[name]
        assert service.get("restart") in ("unless-stopped", "always"), name
        assert probe in " ".join(service["healthcheck"]["test"]), name
    # The webserver and daemon start once the code server answers, not merely once it started.
    for name in ("webserver", "daemon"):
        assert services[name]["depends_on"]["code"] == {"condition": "service_healthy"}


def test_compose_migrates_the_instance_before_any_dagster_service():
    services = compose()["services"]
    slots = instance_config()["concurrency"]["pools"]["default_limit"]
    assert services["migrate"]["command"] == [
        "sh",
        "-c",
        f"dagster instance migrate && dagster instance concurrency set alohub_api {slots}",
    ]
    assert services["migrate"]["restart"] == "no"
    for name in DAGSTER_SERVICES:
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name


def test_compose_run_termination_reaches_the_docker_daemon():
    """The UI's "Terminate" calls DockerRunLauncher.terminate in the webserver process."""
    services = compose()["services"]
    socket = "/var/run/docker.sock:/var/run/docker.sock"
    for name in ("webserver", "daemon"):
        assert socket in services[name]["volumes"], name
        assert services[name]["user"] == "root", name


def test_compose_run_containers_are_removed_when_they_exit():
    import docker.models.containers

    kwargs = instance_config()["run_launcher"]["config"]["container_kwargs"]
    assert kwargs["auto_remove"] is True
    # docker-py's containers.create takes it as a host-config argument.
    assert "auto_remove" in docker.models.containers.RUN_HOST_CONFIG_KWARGS


def test_compose_publishes_the_ui_on_loopback_by_default():
    (port,) = compose()["services"]["webserver"]["ports"]
    assert interpolate(port, env_example()).startswith("127.0.0.1:")
    assert interpolate(port, {}).startswith("127.0.0.1:")


def test_compose_image_tag_comes_from_the_env_file():
    example = env_example()
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", example["ALOHUB_IMAGE_TAG"])
    services = compose()["services"]
    images = {name: s["image"] for name, s in services.items() if "alohub-code" in s["image"]}
    assert set(images) >= {*DAGSTER_SERVICES, "migrate", "settings"}
    for name, image in images.items():
        assert interpolate(image, example) == f"alohub-code:{example['ALOHUB_IMAGE_TAG']}", name
        with pytest.raises(ValueError):  # no silent `latest` when the tag is missing
            interpolate(image, {})
    assert services["code"]["environment"]["DAGSTER_CURRENT_IMAGE"] == services["code"]["image"]


def test_compose_variables_are_all_in_the_env_example():
    text = (DEPLOY / "docker-compose.yaml").read_text()
    missing = compose_references(text) - set(env_example())
    assert not missing, missing


def test_compose_settings_file_is_one_read_only_volume_for_services_and_runs():
    services = compose()["services"]
    settings_file = services["code"]["environment"]["ALOHUB_SETTINGS_FILE"]
    folder = settings_file.rsplit("/", 1)[0]
    for name in ("code", "daemon"):
        assert f"alohub-settings:{folder}:ro" in services[name]["volumes"], name
    runs = instance_config()["run_launcher"]["config"]["container_kwargs"]["volumes"]
    assert f"alohub-settings:{folder}:ro" in runs
    assert compose()["volumes"]["alohub-settings"]["name"] == "alohub-settings"
    copy = services["settings"]["command"]
    assert copy[0] == "cp" and copy[-1] == settings_file


def test_compose_agrees_with_the_instance_and_the_image():
    services = compose()["services"]
    launcher = instance_config()["run_launcher"]["config"]
    code = services["code"]
    assert services["migrate"]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert compose()["networks"]["alohub-dagster"]["name"] == launcher["network"]
    assert all(service["networks"] == ["alohub-dagster"] for service in services.values())
    volume = launcher["container_kwargs"]["volumes"][0].split(":")[0]
    assert compose()["volumes"]["alohub-data"]["name"] == volume
    assert "alohub-data:/opt/dagster/data" in code["volumes"]
    # Webserver and daemon read a workspace that points at the code service's gRPC port.
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    server = workspace["load_from"][0]["grpc_server"]
    assert (server["host"], server["location_name"]) == ("code", LOCATION)
    command = dockerfile_cmd()
    assert command[command.index("--port") + 1] == str(server["port"])
    assert command[command.index("--module-name") + 1] == MODULE
    for service in ("webserver", "daemon"):
        assert "/opt/dagster/app/deploy/workspace.yaml" in services[service]["command"]


def test_compose_environment_resolves_from_the_env_example():
    """What Compose would pass: every required variable is set by the example env file."""
    example = env_example()
    for name in (*DAGSTER_SERVICES, "migrate", "postgres"):
        service_environment(name, example)  # raises on a missing required variable
    env = service_environment("code", example)
    assert env["DAGSTER_POSTGRES_PASSWORD"] == env["PGPASSWORD"] == example["POSTGRES_PASSWORD"]


# -------------------------------------------------------------------------------- the image


def _docker_excluded(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves ``path`` out of the build context (a pattern excludes a path when
    it matches the path or one of its parent folders; ``!`` re-includes; last match wins)."""
    excluded = False
    parts = path.split("/")
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        for depth in range(1, len(parts) + 1):
            if re.fullmatch(regex, "/".join(parts[:depth])):
                excluded = not negate
                break
    return excluded


def test_dockerignore_keeps_data_and_secrets_out_for_both_builders():
    # BuildKit prefers deploy/Dockerfile.dockerignore; the legacy builder reads only the root
    # file: one file at the root serves both.
    assert not (DEPLOY / "Dockerfile.dockerignore").exists()
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    out = [
        "data/raw/call_logs/date=2026-03-01/v=1/inbound.jsonl",
        "data/warehouse/call_logs/date=2026-03-01/call_logs.parquet",
        "data/alohub.duckdb", "data/alohub.duckdb.wal", "data/call_center_report.html",
        "data/exports/anything.csv", "data/README.md",
        "deploy/.env", ".venv/bin/python", ".git/HEAD", ".dagster_home/dagster.yaml",
        "alohub_assets/__pycache__/x.pyc",
    ]  # fmt: skip
    for path in out:
        assert _docker_excluded(path, patterns), path
    needed = ["pyproject.toml", "uv.lock", "alohub_assets/definitions.py", "deploy/dagster.yaml",
              "deploy/workspace.yaml", "alohub_dev/sandbox/server.py", "README.md"]  # fmt: skip
    for path in needed:
        assert not _docker_excluded(path, patterns), path
    assert fnmatch.fnmatch("data", "data")


def test_dockerfile_installs_locked_runtime_dependencies_as_a_non_root_user():
    syncs = dockerfile_uv_syncs()
    assert syncs and all("--frozen" in s and "--no-dev" in s for s in syncs)
    users = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    # What the image runs and what the instance loads are runtime (non-dev) packages of uv.lock.
    runtime = runtime_closure()
    for package in ("dagster-webserver", "dagster-postgres", "dagster-docker", "dagster-k8s",
                    "dagster-aws", "psycopg2-binary", "boto3"):  # fmt: skip
        assert package in runtime, package
    assert "moto" not in runtime and "pytest" not in runtime


def test_docs_name_the_dockerfiles_base_image():
    (base,) = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "FROM"]
    assert f"`{base}`" in DOCS
    for stale in re.findall(r"`(python:[^`]+)`", DOCS):
        assert stale == base, stale
