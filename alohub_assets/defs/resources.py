"""Dagster resources: the AloHub API and the data folder, configured from the environment."""

import os

import dagster as dg
from pydantic import Field

from alohub_assets.api.client import (
    DEFAULT_BASE_URL,
    PAGE_SIZE,
    RATE_WINDOW_SECONDS,
    AloHubClient,
    AloHubConfigError,
    RetryPolicy,
)
from alohub_assets.storage.layout import DEFAULT_DATA_DIR, Warehouse, data_dir_from_env
from alohub_assets.storage.recordings import RecordingPolicy

#: The defaults live in the Dagster-free classes; the resources only expose them as settings.
DEFAULT_RETRY = RetryPolicy()
DEFAULT_RECORDING_POLICY = RecordingPolicy()

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
    max_retries: int = Field(
        default=DEFAULT_RETRY.max_retries, description="retries of one request on 5xx/429/drops"
    )
    max_retry_seconds: float = Field(
        default=DEFAULT_RETRY.max_retry_seconds, description="total retry time of one request"
    )
    retry_backoff_seconds: float = Field(
        default=DEFAULT_RETRY.backoff_base_seconds,
        description="first backoff; doubles per retry (with jitter) up to backoff_cap_seconds",
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


class WarehouseResource(dg.ConfigurableResource):
    """The data folder (``ALOHUB_DATA_DIR``, default ``./data``): raw landing, Parquet
    warehouse and the ``alohub.duckdb`` catalog."""

    data_dir: str = Field(
        default=DEFAULT_DATA_DIR, description="root of raw/, warehouse/ and alohub.duckdb"
    )
    pii_hmac_key: str | None = Field(
        default=None,
        description="ALOHUB_PII_HMAC_KEY: store caller, called, customer_names as HMAC-SHA256",
    )

    def get_warehouse(self) -> Warehouse:
        return Warehouse.at(self.data_dir)


def warehouse_resource_from_env() -> WarehouseResource:
    """``ALOHUB_DATA_DIR`` (default ``./data``); ``ALOHUB_PII_HMAC_KEY`` (optional, an EnvVar)."""
    return WarehouseResource(
        data_dir=data_dir_from_env(),
        pii_hmac_key=dg.EnvVar("ALOHUB_PII_HMAC_KEY") if os.getenv("ALOHUB_PII_HMAC_KEY") else None,
    )


class RecordingPolicyResource(dg.ConfigurableResource):
    """How the recording sensor and ``call_recordings`` go back for missing recording URLs."""

    max_attempts: int = Field(
        default=DEFAULT_RECORDING_POLICY.max_attempts,
        description="detail requests per call before gave_up",
    )
    backoff_minutes: list[float] = Field(
        default=[s / 60 for s in DEFAULT_RECORDING_POLICY.backoff_seconds],
        description="wait after the 1st, 2nd, ... attempt; the last value repeats",
    )
    scan_days: int = Field(default=7, description="how many recent partitions the sensor scans")

    def get_policy(self) -> RecordingPolicy:
        return RecordingPolicy(
            max_attempts=self.max_attempts,
            backoff_seconds=tuple(max(0, round(m * 60)) for m in self.backoff_minutes),
        )
