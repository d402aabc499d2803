"""Dagster resources: the AloHub API and the data folder, configured from the environment."""

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from alohub_assets.alohub_client import (
    DEFAULT_BASE_URL,
    PAGE_SIZE,
    RATE_WINDOW_SECONDS,
    AloHubClient,
    AloHubConfigError,
    RetryPolicy,
)
from alohub_assets.recordings import RecordingPolicy
from alohub_assets.warehouse import Warehouse, connect_mart

MISSING_KEY_MESSAGE = (
    "ALOHUB_API_KEY is not set. Export an AloHub API key with the 'report' scope "
    "(export ALOHUB_API_KEY=...; optionally ALOHUB_TENANT_ID and ALOHUB_BASE_URL), or run "
    "`make demo` / `make dev`, which start the bundled sandbox and point the pipeline at it."
)


class AloHubResource(dg.ConfigurableResource):
    """The AloHub call-report API. The key comes from ``ALOHUB_API_KEY`` as an ``EnvVar``, so
    Dagster stores the variable's name, never its value, in run config and event logs."""

    base_url: str = Field(default=DEFAULT_BASE_URL, description="AloHub API base URL")
    api_key: str | None = Field(default=None, description="X-Api-Key (scope 'report')")
    tenant_id: str | None = Field(default=None, description="X-Tenant-ID, optional")
    timeout_seconds: float = Field(default=30.0, description="per-request time-out")
    max_retries: int = Field(default=8, description="retries of one request on 5xx/429/drops")
    max_retry_seconds: float = Field(default=300.0, description="total retry time of one request")
    retry_backoff_seconds: float = Field(
        default=0.5, description="first backoff; doubles per retry (with jitter) up to 30 s"
    )
    page_size: int = Field(default=PAGE_SIZE, description="rows asked per page")
    rate_window_seconds: float = Field(
        default=RATE_WINDOW_SECONDS, description="AloHub's rate-limit window (10 s per the vendor)"
    )

    def get_client(self) -> AloHubClient:
        """A new client with its own counters; the caller closes it."""
        if not self.api_key:
            raise AloHubConfigError(MISSING_KEY_MESSAGE)
        return AloHubClient(
            self.api_key,
            base_url=self.base_url,
            tenant_id=self.tenant_id,
            timeout_seconds=self.timeout_seconds,
            retry=RetryPolicy(
                max_retries=self.max_retries,
                max_retry_seconds=self.max_retry_seconds,
                backoff_base_seconds=self.retry_backoff_seconds,
            ),
            page_size=self.page_size,
            rate_window_seconds=self.rate_window_seconds,
        )


def alohub_resource_from_env() -> AloHubResource:
    """``ALOHUB_BASE_URL`` (default prod), ``ALOHUB_API_KEY``, ``ALOHUB_TENANT_ID`` (optional)."""
    return AloHubResource(
        base_url=os.getenv("ALOHUB_BASE_URL") or DEFAULT_BASE_URL,
        api_key=dg.EnvVar("ALOHUB_API_KEY") if os.getenv("ALOHUB_API_KEY") else None,
        tenant_id=dg.EnvVar("ALOHUB_TENANT_ID") if os.getenv("ALOHUB_TENANT_ID") else None,
    )


def default_data_dir() -> Path:
    return Path(os.getenv("ALOHUB_DATA_DIR") or "data")


class WarehouseResource(dg.ConfigurableResource):
    """The data folder (``ALOHUB_DATA_DIR``, default ``./data``) and the DuckDB mart in it."""

    data_dir: str = Field(default="data", description="root of raw/, warehouse/ and alohub.duckdb")
    lock_timeout_seconds: float = Field(
        default=300.0, description="how long a DuckDB writer waits for the file lock"
    )
    pii_hmac_key: str | None = Field(
        default=None,
        description="ALOHUB_PII_HMAC_KEY: store caller, called, customer_names as HMAC-SHA256",
    )

    def get_warehouse(self) -> Warehouse:
        return Warehouse.at(self.data_dir)

    def connect_mart(self, read_only: bool = False):
        """Context manager: the DuckDB mart, after waiting (bounded) for another writer."""
        return connect_mart(
            self.get_warehouse().duckdb_path,
            read_only=read_only,
            lock_timeout_seconds=self.lock_timeout_seconds,
        )


def warehouse_resource_from_env() -> WarehouseResource:
    """``ALOHUB_DATA_DIR`` (default ``./data``); ``ALOHUB_PII_HMAC_KEY`` (optional, an EnvVar)."""
    return WarehouseResource(
        data_dir=str(default_data_dir()),
        pii_hmac_key=dg.EnvVar("ALOHUB_PII_HMAC_KEY") if os.getenv("ALOHUB_PII_HMAC_KEY") else None,
    )


class RecordingPolicyResource(dg.ConfigurableResource):
    """How the recording sensor and ``call_recordings`` go back for missing recording URLs."""

    max_attempts: int = Field(default=5, description="detail requests per call before gave_up")
    backoff_minutes: list[float] = Field(
        default=[10, 60, 360, 1440],
        description="wait after the 1st, 2nd, ... attempt; the last value repeats",
    )
    max_runs_per_tick: int = Field(
        default=10, description="call_recordings runs the sensor requests per tick at most"
    )
    rerequest_after_minutes: float = Field(
        default=60,
        description="a requested day whose run never wrote is asked again after this long",
    )

    def get_policy(self) -> RecordingPolicy:
        return RecordingPolicy(
            max_attempts=self.max_attempts,
            backoff_seconds=tuple(max(0, round(m * 60)) for m in self.backoff_minutes),
        )
