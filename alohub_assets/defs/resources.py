"""Dagster resources: the AloHub API and the data folder, configured from the environment."""

import os
from datetime import date

import dagster as dg
from pydantic import Field, field_validator

from alohub_assets.api.client import (
    DEFAULT_BASE_URL,
    PAGE_SIZE,
    PAGES_IN_FLIGHT,
    RATE_WINDOW_SECONDS,
    AloHubClient,
    AloHubConfigError,
    RetryPolicy,
)
from alohub_assets.api.rate_limit import DEFAULT_MARGIN_SECONDS
from alohub_assets.settings import (
    DEFAULT_SETTINGS,
    CenterSettings,
    HotlineSettings,
    KpiSettings,
)
from alohub_assets.storage.layout import DEFAULT_DATA_DIR, Warehouse, data_dir_from_env
from alohub_assets.storage.recordings import RecordingPolicy

#: The defaults live in the Dagster-free classes; the resources only expose them as settings.
DEFAULT_RETRY = RetryPolicy()
DEFAULT_RECORDING_POLICY = RecordingPolicy()

#: The Dagster pool of every step that calls the AloHub API (docs/rate-limits.md): its limit in
#: the instance caps how many such steps spend the tenant's quota at once, on every machine that
#: shares the instance.
ALOHUB_API_POOL = "alohub_api"

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
    rate_margin_seconds: float = Field(
        default=DEFAULT_MARGIN_SECONDS,
        description="pacing margin for the gap between our clock reading and the server's",
    )
    rate_state_path: str | None = Field(
        default=None,
        description="SQLite file the processes of a machine share the tenant's quota through "
        "(default: the Postgres table of ALOHUB_RATE_STATE_URL when set, for machines that "
        "share no disk, else ALOHUB_RATE_STATE_PATH, else the temp folder; a path set here "
        "wins over both; ':memory:' = this client only)",
    )
    pages_in_flight: int = Field(
        default=PAGES_IN_FLIGHT,
        description="pages of one window read at once after page 1 (1 = one at a time)",
    )
    intraday_overlap_minutes: int = Field(
        default=DEFAULT_SETTINGS.intraday.overlap_minutes,
        ge=0,
        description="a refresh of today looks for changes this far before the previous "
        "refresh's newest call (settings file: intraday.overlap_minutes)",
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
            pages_in_flight=self.pages_in_flight,
            rate_window_seconds=self.rate_window_seconds,
            rate_margin_seconds=self.rate_margin_seconds,
            rate_state_path=self.rate_state_path,
        )


def alohub_resource_from_env(settings: CenterSettings = DEFAULT_SETTINGS) -> AloHubResource:
    """``ALOHUB_BASE_URL`` (default prod), ``ALOHUB_API_KEY``, ``ALOHUB_TENANT_ID`` (optional);
    the intraday overlap from the settings file."""
    return AloHubResource(
        base_url=os.getenv("ALOHUB_BASE_URL") or DEFAULT_BASE_URL,
        api_key=dg.EnvVar("ALOHUB_API_KEY") if os.getenv("ALOHUB_API_KEY") else None,
        tenant_id=dg.EnvVar("ALOHUB_TENANT_ID") if os.getenv("ALOHUB_TENANT_ID") else None,
        intraday_overlap_minutes=settings.intraday.overlap_minutes,
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


class HotlineConfig(dg.Config):
    """One hotline's name and own thresholds (``hotlines`` of the settings file)."""

    name: str | None = Field(default=None, description="shown instead of the number")
    service_level_seconds: int | None = Field(
        default=None, ge=0, description="this hotline's service-level threshold (else the kpi one)"
    )
    short_abandon_seconds: int | None = Field(
        default=None, ge=0, description="this hotline's short-abandon threshold (else the kpi one)"
    )


_KPI = DEFAULT_SETTINGS.kpi


class KpiSettingsResource(dg.ConfigurableResource):
    """Every threshold of the KPI tables in one place (vendors differ: they are settings, not
    constants). Its defaults are the settings file's (``alohub_assets/settings``), which reproduce
    ``daily_call_metrics`` as first defined; the code location binds the file's values
    (``kpi_settings_resource``)."""

    service_level_seconds: int = Field(
        default=_KPI.service_level_seconds,
        ge=0,
        description="answered within this many seconds (inclusive) meets the target",
    )
    short_abandon_seconds: int = Field(
        default=_KPI.short_abandon_seconds,
        ge=0,
        description="unanswered calls that waited less are short abandons",
    )
    interval_minutes: int = Field(
        default=_KPI.interval_minutes,
        description="interval length of interval_call_metrics and staffing: 15, 30, 60",
    )
    after_call_work_seconds: float = Field(
        default=_KPI.after_call_work_seconds,
        ge=0,
        description="added to mean talk time to make the staffing AHT",
    )
    service_level_target: float = Field(
        default=_KPI.service_level_target,
        gt=0,
        lt=1,
        description="share of calls to answer within the threshold",
    )
    max_occupancy: float = Field(
        default=_KPI.max_occupancy,
        gt=0,
        le=1,
        description="highest traffic / agents the staffing accepts",
    )
    wait_buckets: list[int] = Field(
        default=list(DEFAULT_SETTINGS.wait_buckets),
        description="bucket starts in seconds of wait_time_distribution (0 first, increasing)",
    )
    hotlines: dict[str, HotlineConfig] = Field(
        default_factory=dict,
        description="inbound called number -> name and own thresholds (hotline tables)",
    )

    @field_validator("interval_minutes")
    @classmethod
    def _whole_intervals_of_an_hour(cls, value: int) -> int:
        if value not in (15, 30, 60):
            raise ValueError(f"interval_minutes must be 15, 30 or 60, not {value}")
        return value

    def sql_parameters(self) -> dict[str, int | float]:
        """The settings as the KPI SQL's named parameters (``$service_level_seconds``...)."""
        return {
            "service_level_seconds": self.service_level_seconds,
            "short_abandon_seconds": self.short_abandon_seconds,
            "interval_minutes": self.interval_minutes,
            "after_call_work_seconds": float(self.after_call_work_seconds),
            "service_level_target": self.service_level_target,
            "max_occupancy": self.max_occupancy,
        }

    def center_settings(self) -> CenterSettings:
        """These values as the Dagster-free settings the storage code takes."""
        return CenterSettings(
            kpi=KpiSettings(
                service_level_seconds=self.service_level_seconds,
                short_abandon_seconds=self.short_abandon_seconds,
                interval_minutes=self.interval_minutes,
                after_call_work_seconds=float(self.after_call_work_seconds),
                service_level_target=self.service_level_target,
                max_occupancy=self.max_occupancy,
            ),
            wait_buckets=list(self.wait_buckets),
            hotlines={
                number: HotlineSettings(**entry.model_dump())
                for number, entry in self.hotlines.items()
            },
        )


def kpi_settings_resource(settings: CenterSettings) -> KpiSettingsResource:
    """The resource holding a settings file's ``kpi``, ``wait_buckets`` and ``hotlines``."""
    return KpiSettingsResource(
        **settings.kpi.model_dump(),
        wait_buckets=list(settings.wait_buckets),
        hotlines={
            number: HotlineConfig(**entry.model_dump())
            for number, entry in settings.hotlines.items()
        },
    )


class PlanningSettingsResource(dg.ConfigurableResource):
    """What the forecast and the staffing plan take from the settings file (``closed_days``,
    ``forecast``, ``staffing``); the KPI thresholds they share come from ``kpi_settings``."""

    closed_days: list[str] = Field(
        default_factory=list,
        description="the center's own closures (YYYY-MM-DD), forecast as holidays",
    )
    holiday_factor: float = Field(
        default=DEFAULT_SETTINGS.forecast.holiday_factor,
        ge=0,
        le=2,
        description="a holiday with no past holiday to learn from: this share of a normal day",
    )
    shrinkage: float = Field(
        default=DEFAULT_SETTINGS.staffing.shrinkage,
        ge=0,
        lt=1,
        description="breaks, training, absence: scheduled = required / (1 - shrinkage)",
    )

    @field_validator("closed_days")
    @classmethod
    def _iso_dates(cls, value: list[str]) -> list[str]:
        for day in value:
            date.fromisoformat(day)  # a ValueError names the bad value
        return value

    def closed_dates(self) -> list[date]:
        return [date.fromisoformat(day) for day in self.closed_days]


def planning_settings_resource(settings: CenterSettings) -> PlanningSettingsResource:
    """The resource holding a settings file's ``closed_days``, ``forecast`` and ``staffing``."""
    return PlanningSettingsResource(
        closed_days=[day.isoformat() for day in settings.closed_days],
        holiday_factor=settings.forecast.holiday_factor,
        shrinkage=settings.staffing.shrinkage,
    )
