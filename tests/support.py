"""Test helpers: the sandbox handle, the pipeline's resources and one-partition runs."""

from __future__ import annotations

import multiprocessing
import os
import sys
from dataclasses import dataclass
from datetime import date, datetime
from types import SimpleNamespace

import dagster as dg
import httpx

from alohub_assets.api.client import AloHubClient, RetryPolicy, tls_context
from alohub_assets.defs import ALL_ASSETS
from alohub_assets.defs.ingest.call_logs import call_logs
from alohub_assets.defs.ingest.jobs import DAILY_PIPELINE
from alohub_assets.defs.ingest.raw_call_logs import raw_call_logs
from alohub_assets.defs.resources import (
    AloHubResource,
    KpiSettingsResource,
    PlanningSettingsResource,
    RecordingPolicyResource,
    WarehouseResource,
)
from alohub_dev.commands import daily_job_cli_args  # noqa: F401 (re-exported for tests)
from alohub_dev.sandbox.calls import CallStore
from alohub_dev.sandbox.server import SandboxConfig, SandboxServer
from bench.common import ForkedCli  # noqa: F401 (re-exported for tests)

API_KEY = "sk_test_Zq81SecretSandboxKey"
FIRST_DAY = date(2026, 3, 1)
LAST_DAY = date(2026, 3, 7)
DAY = date(2026, 3, 4)
FAST_RETRY = RetryPolicy(max_retries=10, backoff_base_seconds=0.01, backoff_cap_seconds=0.05)


@dataclass
class Sandbox:
    server: SandboxServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def store(self) -> CallStore:
        return self.server.state.store

    @property
    def config(self) -> SandboxConfig:
        return self.server.state.config

    def set_time(self, when: datetime) -> None:
        """The sandbox's clock for which calls have started or ended (list and detail)."""
        self.server.state.now = lambda: when

    def requests(self) -> dict[str, int]:
        """The sandbox's request counters, read over HTTP as any client would (with the
        process's certificate store: httpx would read it again, ~50 ms of CPU, per call)."""
        stats = httpx.get(f"{self.url}/_sandbox/stats", verify=tls_context())
        return stats.json()["requests"]

    def client(self, **kwargs) -> AloHubClient:
        kwargs.setdefault("retry", FAST_RETRY)
        return AloHubClient(kwargs.pop("api_key", API_KEY), base_url=self.url, **kwargs)


def pipeline_resources(sandbox: Sandbox, data_dir, recording_policy=None, **alohub) -> dict:
    alohub.setdefault("api_key", API_KEY)
    alohub.setdefault("max_retries", 3)
    return {
        "alohub": AloHubResource(base_url=sandbox.url, **alohub),
        "warehouse": WarehouseResource(data_dir=str(data_dir)),
        "recording_policy": recording_policy or RecordingPolicyResource(),
        "kpi_settings": KpiSettingsResource(),
        "planning_settings": PlanningSettingsResource(),
    }


_TEST_INSTANCE: dict[str, dg.DagsterInstance] = {}


def current_test_instance() -> dg.DagsterInstance:
    """One ephemeral Dagster instance for the whole of the current test, as a deployment has one
    for all its runs: each run without an instance of its own would make one (0.10 s of CPU
    each, most of it alembic reading Dagster's migration scripts; 0.02-0.03 s with
    tests/dagster_storage.py's cache of them)."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]  # "<node id> (call)"
    if test not in _TEST_INSTANCE:
        _TEST_INSTANCE.clear()
        _TEST_INSTANCE[test] = dg.DagsterInstance.ephemeral()
    return _TEST_INSTANCE[test]


def materialize_day(
    sandbox: Sandbox,
    data_dir,
    day: date,
    *,
    assets=None,
    raise_on_error=True,
    recording_policy=None,
    instance: dg.DagsterInstance | None = None,
    **alohub,
):
    """Runs the daily pipeline (or ``assets``) for one partition, in process, on the sandbox,
    on ``instance`` (by default the test's, ``current_test_instance()``)."""
    return dg.materialize(
        assets or ALL_ASSETS,
        selection=None if assets else DAILY_PIPELINE,
        partition_key=day.isoformat(),
        resources=pipeline_resources(sandbox, data_dir, recording_policy, **alohub),
        raise_on_error=raise_on_error,
        instance=instance or current_test_instance(),
    )


#: The day's landing and call_logs (with the catalog's call_logs and calls views): what a test
#: of later steps needs first when the KPI tables are not what it looks at.
INGESTION = [raw_call_logs, call_logs]


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    """A query to a Dagster webserver's GraphQL API, its errors failing the test. Polled every
    second while runs go on: the process's certificate store saves ~50 ms of CPU per call."""
    response = httpx.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables or {}},
        timeout=30,
        verify=tls_context(),
    )
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


class ListSink:
    """Keeps a window's rows in memory: for the small windows of the tests."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def write_page(self, rows: list[dict]) -> None:
        self.rows.extend(rows)

    def discard(self) -> None:
        self.rows.clear()


def list_call_logs(client: AloHubClient, start, end, **filters) -> list[dict]:
    """Every row of the window, as the API sent them (repeats included)."""
    sink = ListSink()
    client.read_window(start, end, sink, **filters)
    return sink.rows


def _run_day_here(url: str, data_dir: str, day: date, env: dict, log: str | None) -> None:
    if log:  # the run's output, as a separate process's would be captured
        out = open(log, "w", buffering=1)  # noqa: SIM115 (the process ends with os._exit)
        sys.stdout = sys.stderr = out
    os.environ.pop("ALOHUB_FAILPOINT", None)
    os.environ.update(env)
    result = dg.materialize(
        ALL_ASSETS,
        selection=DAILY_PIPELINE,
        partition_key=day.isoformat(),
        resources=pipeline_resources(SimpleNamespace(url=url), data_dir),
        raise_on_error=False,
    )
    os._exit(0 if result.success else 1)


def start_day_process(sandbox, data_dir, day: date, *, env=None, log=None):
    """The daily job for ``day`` in a process of its own, forked from this one, which has Dagster
    and the definitions loaded already (a `dagster job execute` process spends seconds importing
    them): a kill at a failpoint (``env={"ALOHUB_FAILPOINT": ...}``) takes that process down
    alone. ``join()`` it; ``exitcode`` is -9 when it was killed, 0 when the run succeeded."""
    process = multiprocessing.get_context("fork").Process(
        target=_run_day_here,
        args=(sandbox.url, str(data_dir), day, dict(env or {}), str(log) if log else None),
    )
    process.start()
    return process
