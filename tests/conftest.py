"""Shared fixtures: a real AloHub sandbox over HTTP on 127.0.0.1, per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

import pytest

from alohub_dev.sandbox.calls import CallStore
from alohub_dev.sandbox.server import SandboxConfig, SandboxServer, build_server
from tests.support import API_KEY, FIRST_DAY, LAST_DAY, Sandbox


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
