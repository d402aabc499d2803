"""What the hotline tables share: the settings file's hotlines as the SQL's parameters.

A hotline is the ``called`` number of an inbound call. Under the PII option ``called`` is stored
as a keyed token, so the numbers written in clear in the settings file are turned into the same
tokens to find their calls; a hotline with no name in the settings is shown by what is stored.
"""

from typing import Any

from alohub_assets.defs.resources import KpiSettingsResource
from alohub_assets.storage.pii import hmac_token


def hotline_parameters(kpi_settings: KpiSettingsResource, pii_key: str | None) -> dict[str, Any]:
    """``$hotline_*`` (one list entry per configured hotline; null = the default threshold),
    the default thresholds, the interval length and the wait buckets."""
    configured = sorted(kpi_settings.hotlines.items())

    def stored(number: str) -> str:
        return hmac_token(pii_key, number) if pii_key else number

    return {
        **kpi_settings.sql_parameters(),
        "hotline_numbers": [stored(number) for number, _ in configured],
        "hotline_names": [entry.name for _, entry in configured],
        "hotline_service_level_seconds": [entry.service_level_seconds for _, entry in configured],
        "hotline_short_abandon_seconds": [entry.short_abandon_seconds for _, entry in configured],
        "bucket_starts": list(kpi_settings.wait_buckets),
    }
