"""Test helpers: the sandbox handle, the pipeline's resources and one-partition runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import dagster as dg
import httpx

from alohub_assets.api.client import AloHubClient, RetryPolicy
from alohub_assets.defs import ALL_ASSETS
from alohub_assets.defs.ingest.jobs import DAILY_PIPELINE
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
        """The sandbox's request counters, read over HTTP as any client would."""
        return httpx.get(f"{self.url}/_sandbox/stats").json()["requests"]

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


def materialize_day(
    sandbox: Sandbox,
    data_dir,
    day: date,
    *,
    assets=None,
    raise_on_error=True,
    recording_policy=None,
    **alohub,
):
    """Runs the daily pipeline (or ``assets``) for one partition, in process, on the sandbox."""
    return dg.materialize(
        assets or ALL_ASSETS,
        selection=None if assets else DAILY_PIPELINE,
        partition_key=day.isoformat(),
        resources=pipeline_resources(sandbox, data_dir, recording_policy, **alohub),
        raise_on_error=raise_on_error,
    )


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
