"""The Compose topology as processes on one machine, started from the Compose file's own commands
and environment: the one-shot migration and settings copy, the code server (the image's command),
dagster-webserver and dagster-daemon, on a real Postgres, with the AloHub sandbox and the data and
run logs on an S3 server (moto on 127.0.0.1).

What differs from the containers, and only that: each process's environment is the Compose service's
`environment` resolved against deploy/env.example plus the test's values (sandbox URL and key, S3
endpoint and keys, bucket), on top of the image's ENV, with the container network's names mapped to
this machine (`postgres` -> the test's server, `/opt/dagster/...` -> temporary folders, ports ->
free ports); nothing of the test's own environment is inherited. The instance is deploy/dagster.yaml
with the default run launcher (a subprocess per run, launched by the daemon with the daemon's
environment, as the Docker launcher passes its env_vars) instead of Docker's: there is no Docker
daemon here. The topology is started once for the module and shared by its checks."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg2
import pytest
import yaml

from alohub_assets.storage.mart import open_mart
from tests.conftest import S3_SECRET
from tests.deploy_files import (
    DEPLOY,
    ROOT,
    compose,
    dockerfile_cmd,
    dockerfile_env,
    env_example,
    instance_config,
    service_environment,
)
from tests.kpi_reference import sandbox_calls
from tests.support import API_KEY, FIRST_DAY, graphql

LOCATION = "alohub_assets"
JOB = "daily_call_logs_job"
# One more partition than runs may be in progress at once, so that the queue's limit is tested.
DAYS = [FIRST_DAY + timedelta(days=i) for i in range(5)]
CALLS_PER_DAY = 40
START_TIMEOUT_SECONDS = 180
BACKFILL_TIMEOUT_SECONDS = 300
VENV_BIN = Path(sys.executable).parent

REPOSITORIES = """
{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name }
  partitionSets { name } sensors { id name } } } } }
"""
STOP_SENSOR = """
mutation Stop($id: String!) { stopSensor(id: $id) { __typename } }
"""
RUN_QUEUE = "{ instance { runQueueConfig { maxConcurrentRuns } } }"
BACKFILLED = ("raw_call_logs", "call_logs", "daily_call_metrics", "hourly_call_volume")
#: The sensors that launch runs of their own after a backfill (KPI window tables, planning,
#: recording URLs): what they do is tested elsewhere; here they would only add runs to wait for.
RUN_LAUNCHING_SENSORS = ("default_automation_condition_sensor", "recording_url_sensor")
PARTITIONS = """
query Partitions($repositorySelector: RepositorySelector!, $partitionSetName: String!) {
  partitionSetOrError(repositorySelector: $repositorySelector, partitionSetName: $partitionSetName) {
    ... on PartitionSet { partitionsOrError(limit: 1) { ... on Partitions { results { name } } } }
  }
}
"""
LAUNCH_BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on PartitionSetNotFoundError { message }
    ... on InvalidSubsetError { message }
  }
}
"""
BACKFILL_STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status numPartitions }
    ... on PythonError { message }
  }
}
"""
BACKFILL_RUNS = """
query Runs($id: String!) {
  runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}]}) {
    ... on Runs { results { runId status startTime endTime
      tags { key value } } }
    ... on PythonError { message }
  }
}
"""
CAPTURED_LOG_EVENTS = """
query Events($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection { events { __typename ... on LogsCapturedEvent { fileKey stepKeys } } }
  }
}
"""
CAPTURED_LOGS = """
query Logs($logKey: [String!]!) { capturedLogs(logKey: $logKey) { stdout stderr } }
"""
FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HostMap:
    """Maps what a container sees (service names, fixed ports, /opt/dagster paths) to this machine."""

    def __init__(self, paths: dict[str, Path], ports: dict[str, int], postgres_port: int):
        # Longest prefix first, so that /opt/dagster/app/deploy/workspace.yaml wins over
        # /opt/dagster/app.
        self.paths = dict(sorted(paths.items(), key=lambda item: -len(item[0])))
        self.ports, self.postgres_port = ports, postgres_port

    def value(self, value: str) -> str:
        if value in self.ports:
            return str(self.ports[value])
        if value == "postgres":
            return "127.0.0.1"
        value = value.replace("0.0.0.0", "127.0.0.1")
        value = value.replace("@postgres:5432/", f"@127.0.0.1:{self.postgres_port}/")
        for port, local in self.ports.items():
            value = value.replace(f"127.0.0.1:{port}/", f"127.0.0.1:{local}/")
        for container, local in self.paths.items():
            if value == container or value.startswith(container + "/"):
                return str(local) + value[len(container) :]
        return value

    def args(self, args: list[str]) -> list[str]:
        return [self.value(str(arg)) for arg in args]


class Processes:
    """Long-running processes, each in its own session, with its output in a log file; stop()
    ends each one it started (SIGTERM, then SIGKILL) by its process group."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir, self.started = log_dir, []

    def start(self, name: str, args: list[str], env: dict[str, str], cwd: Path):
        log = open(self.log_dir / f"{name}.log", "w")
        process = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.started.append((name, process, log))
        return process

    def check_alive(self) -> None:
        for name, process, _ in self.started:
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, chars: int = 4000) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        for _, process, _ in reversed(self.started):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for _, process, log in reversed(self.started):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            log.close()


def wait_for(condition, timeout_seconds: float, what: str, processes: Processes):
    deadline = time.monotonic() + timeout_seconds
    while True:
        processes.check_alive()
        try:
            value = condition()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            logs = "\n".join(
                f"--- {name}\n{processes.tail(name, 1500)}" for name, _, _ in processes.started
            )
            pytest.fail(f"timed out after {timeout_seconds} s waiting for {what}\n{logs}")
        time.sleep(1)


@pytest.fixture(scope="module")
def module_sandbox():
    from alohub_dev.sandbox.calls import CallStore
    from alohub_dev.sandbox.server import SandboxConfig, build_server
    from tests.support import Sandbox

    store = CallStore(seed=11, first_day=DAYS[0], last_day=DAYS[-1], calls_per_day=CALLS_PER_DAY)
    config = SandboxConfig(api_key=API_KEY, tenant_limit=0, route_limit=0)
    server = build_server(store=store, config=config).start_in_thread()
    yield Sandbox(server)
    server.stop()


@pytest.fixture(scope="module")
def topology(postgres_server, s3_endpoint, module_sandbox, tmp_path_factory) -> Iterator[dict]:
    import pyarrow.fs as pafs

    tmp = tmp_path_factory.mktemp("deployment")
    bucket = "alohub-deploy-test"
    pafs.S3FileSystem(
        access_key="testing", secret_key=S3_SECRET, region="us-east-1",
        endpoint_override=s3_endpoint.removeprefix("http://"), scheme="http",
        allow_bucket_creation=True,
    ).create_dir(bucket)  # fmt: skip
    database = postgres_server.create_database(f"deploy_{tmp.name.lower()}"[:60])

    # The env file: deploy/env.example plus the values a real deployment would fill in.
    env_file = {
        **env_example(),
        "POSTGRES_PASSWORD": "unused-trust-auth",
        "ALOHUB_API_KEY": API_KEY,
        "ALOHUB_BASE_URL": module_sandbox.url,
        "ALOHUB_DATA_DIR": f"s3://{bucket}/pipeline",
        "ALOHUB_PARTITIONS_START": DAYS[0].isoformat(),
        "DAGSTER_COMPUTE_LOGS_BUCKET": bucket,
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_REGION": "us-east-1",
    }
    # The settings file the one-shot copies (the repository's example once it exists).
    example = ROOT / "alohub.example.yaml"
    settings_source = tmp / "alohub.yaml"
    settings_source.write_text(example.read_text() if example.exists() else "{}\n")
    env_file["ALOHUB_SETTINGS_SOURCE"] = str(settings_source)

    grpc_port, web_port = free_port(), free_port()
    container_workspace = "/opt/dagster/app/deploy/workspace.yaml"
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    for entry in workspace["load_from"]:
        entry["grpc_server"].update(host="127.0.0.1", port=grpc_port)
    (tmp / "workspace.yaml").write_text(yaml.safe_dump(workspace))
    for folder in ("dagster_home", "settings", "data"):
        (tmp / folder).mkdir()
    host = HostMap(
        paths={
            container_workspace: tmp / "workspace.yaml",
            "/opt/dagster/app": ROOT,
            "/opt/dagster/venv": VENV_BIN.parent,
            "/opt/dagster/dagster_home": tmp / "dagster_home",
            "/opt/dagster/settings-source/alohub.yaml": settings_source,
            "/opt/dagster/settings": tmp / "settings",
            "/opt/dagster/data": tmp / "data",
        },
        ports={"4000": grpc_port, "3000": web_port, "5432": postgres_server.port},
        postgres_port=postgres_server.port,
    )
    # The image copies deploy/dagster.yaml into DAGSTER_HOME; here the run launcher is the one
    # change (DefaultRunLauncher: a subprocess per run).
    instance = instance_config()
    del instance["run_launcher"]
    (tmp / "dagster_home" / "dagster.yaml").write_text(yaml.safe_dump(instance))

    def environment(service: str) -> dict[str, str]:
        image = {
            name: host.value(value.replace("$PATH", "/usr/local/bin:/usr/bin:/bin"))
            for name, value in dockerfile_env().items()
        }
        image["PATH"] = ":".join(host.value(part) for part in image["PATH"].split(":"))
        env = {
            **image,
            **{k: host.value(v) for k, v in service_environment(service, env_file).items()},
        }
        # The test server's user and database (trust authentication on loopback), for the
        # instance and for the pacer's state, which Compose puts in the same database.
        env.update(DAGSTER_POSTGRES_USER=postgres_server.user, DAGSTER_POSTGRES_DB=database)
        if env.get("ALOHUB_RATE_STATE_URL"):  # the services that run the pipeline's code
            state = urlsplit(env["ALOHUB_RATE_STATE_URL"])
            where = f"{postgres_server.user}@{state.hostname}:{state.port}"
            env["ALOHUB_RATE_STATE_URL"] = urlunsplit(
                state._replace(netloc=where, path=f"/{database}")
            )
        return env

    def run_once(service: str) -> None:
        command = host.args(compose()["services"][service]["command"])
        done = subprocess.run(
            command, cwd=ROOT, env=environment(service), capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, (service, done.stdout[-2000:], done.stderr[-2000:])

    processes = Processes(tmp)
    try:
        run_once("migrate")  # `depends_on: service_completed_successfully`
        run_once("settings")
        services = compose()["services"]

        def start(name: str) -> None:
            command = services[name].get("command") or dockerfile_cmd()
            processes.start(name, host.args(command), environment(name), cwd=ROOT)

        start("code")
        start("webserver")
        url = f"http://127.0.0.1:{web_port}"

        def location_loaded():
            nodes = graphql(url, REPOSITORIES)["repositoriesOrError"].get("nodes") or []
            return [n for n in nodes if n["location"]["name"] == LOCATION]

        repository = wait_for(
            location_loaded, START_TIMEOUT_SECONDS, "the code location", processes
        )
        for sensor in repository[0]["sensors"]:  # stopped in the instance before the daemon runs
            if sensor["name"] in RUN_LAUNCHING_SENSORS:
                stopped = graphql(url, STOP_SENSOR, {"id": sensor["id"]})["stopSensor"]
                assert stopped["__typename"] == "StopSensorMutationResult", stopped
        start("daemon")
        yield {
            "url": url,
            "sandbox": module_sandbox,
            "data_dir": env_file["ALOHUB_DATA_DIR"],
            "bucket": bucket,
            "repository": repository[0],
            "processes": processes,
            "host": host,
            "environment": environment,
            "tmp": tmp,
        }
    finally:
        processes.stop()


@pytest.fixture(scope="module")
def backfill(topology) -> dict:
    """A backfill of DAYS launched through the webserver's GraphQL API, waited for (bounded)."""
    url = topology["url"]
    partition_set = f"{JOB}_partition_set"
    assert partition_set in {p["name"] for p in topology["repository"]["partitionSets"]}
    # An asset backfill of what the checks below read: a run per partition for the landing and
    # call_logs, then one run for every day of the KPI tables (their single-run backfill policy).
    launched = graphql(url, LAUNCH_BACKFILL, {"params": {
        "assetSelection": [{"path": [name]} for name in BACKFILLED],
        "partitionNames": [day.isoformat() for day in DAYS],
    }})["launchPartitionBackfill"]  # fmt: skip
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    def finished():
        backfill = graphql(url, BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        return backfill if backfill.get("status") in FINISHED else None

    status = wait_for(finished, BACKFILL_TIMEOUT_SECONDS, "the backfill", topology["processes"])
    runs = graphql(url, BACKFILL_RUNS, {"id": backfill_id})["runsOrError"]["results"]
    return {"status": status, "runs": runs}


def max_overlap(runs: list[dict]) -> int:
    """The most runs in progress at one moment, from the instance's start and end times."""
    edges = sorted(
        [(run["startTime"], 1) for run in runs] + [(run["endTime"], -1) for run in runs],
        key=lambda edge: (edge[0], edge[1]),
    )
    current = peak = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def test_the_compose_healthchecks_pass_on_the_running_services(topology):
    """Each long-running service's own healthcheck command, as Docker would run it."""
    for name in ("code", "webserver", "daemon"):
        test = compose()["services"][name]["healthcheck"]["test"]
        assert test[0] == "CMD", name
        done = subprocess.run(
            topology["host"].args(test[1:]), cwd=ROOT, env=topology["environment"](name),
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, (name, done.stdout[-1500:], done.stderr[-1500:])


def test_the_settings_of_the_env_file_reach_the_code_server(topology):
    """ALOHUB_PARTITIONS_START from the env file decides the partitions the webserver lists."""
    first = graphql(topology["url"], PARTITIONS, {
        "partitionSetName": f"{JOB}_partition_set",
        "repositorySelector": {"repositoryName": topology["repository"]["name"],
                               "repositoryLocationName": LOCATION}})  # fmt: skip
    results = first["partitionSetOrError"]["partitionsOrError"]["results"]
    assert results[0]["name"] == DAYS[0].isoformat()
    settings = topology["tmp"] / "settings" / "alohub.yaml"
    assert settings.exists()  # the one-shot copied the settings file where every service reads it


def test_backfill_through_the_webserver_on_the_deployment_topology(topology, backfill, monkeypatch):
    sandbox, runs = topology["sandbox"], backfill["runs"]
    for name, value in topology["environment"]("code").items():  # to read the mart from here
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    partitions = sorted(
        tag["value"] for run in runs for tag in run["tags"] if tag["key"] == "dagster/partition"
    )
    assert backfill["status"]["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), backfill
    assert partitions == [day.isoformat() for day in DAYS]
    assert {run["status"] for run in runs} == {"SUCCESS"}
    # The queue of deploy/dagster.yaml held: never more than 4 runs in progress at once, as the
    # running instance says.
    limit = instance_config()["concurrency"]["runs"]["max_concurrent_runs"]
    served = graphql(topology["url"], RUN_QUEUE)["instance"]["runQueueConfig"]
    assert served["maxConcurrentRuns"] == limit < len(DAYS)
    assert max_overlap(runs) <= limit
    # The runs paced from one record in the deployment's Postgres (ALOHUB_RATE_STATE_URL): the
    # table and its row exist only once a pacer has taken a ticket there.
    state = psycopg2.connect(topology["environment"]("code")["ALOHUB_RATE_STATE_URL"])
    try:
        with state.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM alohub_rate_quota")
            assert cursor.fetchone() == (1,)
    finally:
        state.close()

    # Every partition: each of the sandbox's calls exactly once, KPIs through the catalog.
    with open_mart(topology["data_dir"]) as con:
        for day in DAYS:
            expected = sorted(call["call_id"] for call in sandbox_calls(sandbox.url, day))
            stored = [
                row[0]
                for row in con.execute(
                    "SELECT call_id FROM call_logs WHERE call_date = ? ORDER BY call_id", [day]
                ).fetchall()
            ]
            assert stored == expected, day
            offered = con.execute(
                "SELECT sum(offered_calls) FROM daily_call_metrics WHERE date = ?", [day]
            ).fetchone()[0]
            assert offered == len(expected), day
            hours = con.execute(
                "SELECT sum(offered_calls) FROM hourly_call_volume WHERE date = ?", [day]
            ).fetchone()[0]
            assert hours == len(expected), day


def test_a_runs_logs_are_read_back_from_object_storage_after_it_ended(topology, backfill):
    """The run's process is gone and so is its disk (the folder where the compute-log manager
    staged the files, as a run container's disk goes with it): the webserver reads them from S3."""
    import boto3

    (run_id, *_) = [  # a landing's run: its log has the raw_call_logs step's line
        run["runId"]
        for run in backfill["runs"]
        if any(tag["key"] == "dagster/partition" for tag in run["tags"])
    ]
    events = graphql(topology["url"], CAPTURED_LOG_EVENTS, {"runId": run_id})["logsForRun"]
    captured = [e for e in events["events"] if e["__typename"] == "LogsCapturedEvent"]
    assert captured, events
    file_key = captured[0]["fileKey"]
    s3 = boto3.client(
        "s3", endpoint_url=topology["environment"]("daemon")["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing", aws_secret_access_key=S3_SECRET, region_name="us-east-1",
    )  # fmt: skip
    prefix = env_example()["DAGSTER_COMPUTE_LOGS_PREFIX"]
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=topology["bucket"], Prefix=f"{prefix}/").get(
            "Contents", []
        )
    ]
    assert any(run_id in key and file_key in key for key in keys), keys
    # The run's staged copies (the manager's default local_dir, the system temp folder) go.
    from dagster_shared.seven import get_system_temp_directory

    staged = Path(get_system_temp_directory()) / run_id
    assert staged.is_dir()
    shutil.rmtree(staged)
    logs = graphql(topology["url"], CAPTURED_LOGS, {"logKey": [run_id, "compute_logs", file_key]})[
        "capturedLogs"
    ]
    text = (logs["stdout"] or "") + (logs["stderr"] or "")
    assert "raw_call_logs" in text and "rows in" in text, logs
