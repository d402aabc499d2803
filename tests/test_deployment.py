"""The production topology as processes on one machine: Postgres (the instance), the code location as
a gRPC server, dagster-daemon and dagster-webserver on a workspace that points at that server, the
AloHub sandbox, and the data on an S3 server (moto on 127.0.0.1). The environment is built with the Dockerfile's own `uv sync` commands and the
instance is deploy/dagster.yaml with the default run launcher instead of Docker's (no Docker daemon
here). Through the webserver's GraphQL API a backfill of 10 partitions runs, 4 runs at a time."""

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

import httpx
import pytest
import yaml

from alohub_assets.storage.mart import open_mart
from tests.deploy_files import ROOT, dockerfile_uv_syncs, instance_config, postgres_env
from tests.support import API_KEY, FIRST_DAY

LOCATION = "alohub_assets"
JOB = "daily_call_logs_job"
DAYS = [FIRST_DAY + timedelta(days=i) for i in range(10)]
CALLS_PER_DAY = 120
START_TIMEOUT_SECONDS = 180
BACKFILL_TIMEOUT_SECONDS = 420

REPOSITORIES = """
{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name }
  partitionSets { name } } } } }
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
FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def uv_command() -> list[str]:
    """uv as `make` finds it: the binary running us (`uv run` sets UV), on PATH, or `python3 -m uv`."""
    if os.environ.get("UV"):
        return [os.environ["UV"]]
    if shutil.which("uv"):
        return [shutil.which("uv")]
    for python in ("/usr/bin/python3", "/usr/local/bin/python3", shutil.which("python3")):
        if python and subprocess.run([python, "-m", "uv", "--version"], capture_output=True).returncode == 0:  # fmt: skip
            return [python, "-m", "uv"]
    pytest.skip("uv is not installed (make install installs it)")


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    response = httpx.post(
        f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=30
    )
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


class Processes:
    """Long-running processes, each in its own session, with its output in a log file; stop()
    ends each one it started (SIGTERM, then SIGKILL) by its process group."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir, self.env, self.started = log_dir, env, []

    def start(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "w")
        process = subprocess.Popen(
            args, cwd=self.log_dir, env=self.env, stdout=log, stderr=subprocess.STDOUT,
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
def deploy_venv(tmp_path_factory) -> Path:
    """The runtime environment, made by the same `uv sync` commands as deploy/Dockerfile."""
    venv = tmp_path_factory.mktemp("deploy") / "venv"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON": sys.executable}
    env.pop("VIRTUAL_ENV", None)
    uv = uv_command()
    for command in dockerfile_uv_syncs():
        subprocess.run(uv + command[1:], cwd=ROOT, env=env, check=True, capture_output=True)
    assert (venv / "bin" / "dagster-webserver").exists()
    return venv


@pytest.fixture
def topology(deploy_venv, postgres_server, make_sandbox, s3_data_dir, tmp_path) -> Iterator[dict]:
    sandbox = make_sandbox(
        calls_per_day=CALLS_PER_DAY, first_day=DAYS[0], last_day=DAYS[-1], seed=11
    )
    database = postgres_server.create_database(f"deploy_{tmp_path.name.lower()}"[:60])
    home = tmp_path / "dagster_home"
    home.mkdir()
    instance = instance_config()
    # The one change from the deployment: runs are processes, not containers (no Docker here).
    del instance["run_launcher"]
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance))
    grpc_port, web_port = free_port(), free_port()
    (tmp_path / "workspace.yaml").write_text(
        yaml.safe_dump(
            {
                "load_from": [
                    {
                        "grpc_server": {
                            "host": "127.0.0.1",
                            "port": grpc_port,
                            "location_name": LOCATION,
                        }
                    }
                ]
            }
        )  # fmt: skip
    )
    data_dir = s3_data_dir  # the AWS variables are set in this process, so inherited below
    env = {
        **{k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"},
        **postgres_env(
            postgres_server.host, postgres_server.port, postgres_server.user, "unused", database
        ),
        "PATH": f"{deploy_venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "DAGSTER_HOME": str(home),
        "ALOHUB_BASE_URL": sandbox.url,
        "ALOHUB_API_KEY": API_KEY,
        "ALOHUB_DATA_DIR": data_dir,
        "ALOHUB_PARTITIONS_START": DAYS[0].isoformat(),
    }
    bin_dir = deploy_venv / "bin"
    processes = Processes(tmp_path, env)
    try:
        processes.start("code-server", [
            str(bin_dir / "dagster"), "code-server", "start", "--host", "127.0.0.1",
            "--port", str(grpc_port), "--module-name", "alohub_assets.definitions",
            "--location-name", LOCATION, "--working-directory", str(ROOT)])  # fmt: skip
        processes.start("daemon", [
            str(bin_dir / "dagster-daemon"), "run", "--workspace", str(tmp_path / "workspace.yaml")
        ])  # fmt: skip
        processes.start("webserver", [
            str(bin_dir / "dagster-webserver"), "--host", "127.0.0.1", "--port", str(web_port),
            "--workspace", str(tmp_path / "workspace.yaml")])  # fmt: skip
        url = f"http://127.0.0.1:{web_port}"

        def location_loaded():
            nodes = graphql(url, REPOSITORIES)["repositoriesOrError"].get("nodes") or []
            return [n for n in nodes if n["location"]["name"] == LOCATION]

        repository = wait_for(
            location_loaded, START_TIMEOUT_SECONDS, "the code location", processes
        )
        yield {
            "url": url,
            "sandbox": sandbox,
            "data_dir": data_dir,
            "repository": repository[0],
            "processes": processes,
        }
    finally:
        processes.stop()


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


def test_backfill_through_the_webserver_on_the_deployment_topology(topology):
    url, sandbox = topology["url"], topology["sandbox"]
    partition_set = f"{JOB}_partition_set"
    assert partition_set in {p["name"] for p in topology["repository"]["partitionSets"]}
    launched = graphql(url, LAUNCH_BACKFILL, {"params": {
        "selector": {"partitionSetName": partition_set, "repositorySelector": {
            "repositoryName": topology["repository"]["name"],
            "repositoryLocationName": LOCATION}},
        "partitionNames": [day.isoformat() for day in DAYS],
    }})["launchPartitionBackfill"]  # fmt: skip
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    def finished():
        backfill = graphql(url, BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        return backfill if backfill.get("status") in FINISHED else None

    backfill = wait_for(finished, BACKFILL_TIMEOUT_SECONDS, "the backfill", topology["processes"])
    runs = graphql(url, BACKFILL_RUNS, {"id": backfill_id})["runsOrError"]["results"]
    partitions = sorted(
        tag["value"] for run in runs for tag in run["tags"] if tag["key"] == "dagster/partition"
    )
    assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), (backfill, runs)
    assert partitions == [day.isoformat() for day in DAYS]
    assert {run["status"] for run in runs} == {"SUCCESS"}
    # The queue of deploy/dagster.yaml held: never more than 4 runs in progress at once.
    assert max_overlap(runs) <= instance_config()["concurrency"]["runs"]["max_concurrent_runs"]

    # Every partition: each of the sandbox's calls exactly once, KPIs through the catalog.
    with open_mart(topology["data_dir"]) as con:
        for day in DAYS:
            truth = httpx.get(f"{sandbox.url}/_sandbox/calls", params={"date": day.isoformat()})
            expected = sorted(call["call_id"] for call in truth.json()["calls"])
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
            agents = con.execute(
                "SELECT count(*) FROM agent_daily_load WHERE date = ?", [day]
            ).fetchone()[0]
            assert agents > 0, day
