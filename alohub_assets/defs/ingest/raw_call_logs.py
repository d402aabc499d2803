"""``raw_call_logs``: the partition's local day fetched from AloHub and landed as sent."""

from datetime import timedelta

import dagster as dg

from alohub_assets.api.records import format_iso_ict, local_today
from alohub_assets.defs.partitions import daily_partitions, partition_day
from alohub_assets.defs.resources import ALOHUB_API_POOL, AloHubResource, WarehouseResource
from alohub_assets.storage.landing import land_call_logs
from alohub_assets.storage.refresh import RefreshPolicy

#: Run tag: ``full`` reads today's partition whole instead of refreshing it.
READ_TAG = "alohub/read"


@dg.asset(
    partitions_def=daily_partitions,
    kinds={"python", "json"},
    group_name="call_logs",
    pool=ALOHUB_API_POOL,
)
def raw_call_logs(
    context: dg.AssetExecutionContext, alohub: AloHubResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Pages of POST /v1/reports/call-logs for the local day, callType 0, 1 and (when calls of
    another type exist) unfiltered, streamed to ``raw/call_logs/date=YYYY-MM-DD/``. Today's
    partition (the day so far) is refreshed: only what may have changed since its previous
    landing is read (run tag ``alohub/read: full`` reads it whole); any other day is read whole."""
    day = partition_day(context)
    store = warehouse.get_warehouse()
    refresh = None
    if day == local_today() and context.run.tags.get(READ_TAG) != "full":
        refresh = RefreshPolicy(overlap=timedelta(minutes=alohub.intraday_overlap_minutes))
    with alohub.get_client() as client:
        landed = land_call_logs(client, store, day, refresh=refresh)
        stats = client.stats.as_dict()
    by_source = {name: read.total_record for name, read in landed.sources.items()}
    typed = by_source.get("inbound", 0) + by_source.get("outbound", 0)
    windows = [f"{format_iso_ict(a)}..{format_iso_ict(b)}" for a, b in landed.windows]
    mode = "refresh" if landed.refresh else "full"
    context.log.info(
        f"{day} ({mode} read of {', '.join(windows)}): {landed.rows} rows in {stats['pages']} "
        f"pages ({stats['requests']} requests, {stats['retries']} retries, "
        f"{stats['rate_limited_429']} x 429, {stats['seconds_slept']:.1f}s slept); "
        f"totalRecord by filter {by_source}, unfiltered {landed.unfiltered_total}"
        + (f"; {landed.rows_kept} rows kept from the previous landing" if landed.refresh else "")
    )
    metadata = {
        "dagster/row_count": landed.rows + landed.rows_kept,
        "path": dg.MetadataValue.path(store.uri(landed.folder)),
        "read": mode,
        "windows_read": dg.MetadataValue.json(windows),
        "requests": stats["requests"],
        "pages": stats["pages"],
        "rows": stats["rows"],
        "total_record": landed.unfiltered_total,
        "total_record_inbound": by_source.get("inbound", 0),
        "total_record_outbound": by_source.get("outbound", 0),
        "rows_of_other_call_types": max(landed.unfiltered_total - typed, 0),
        "retries": stats["retries"],
        "retries_by_cause": stats["retries_by_cause"],
        "rate_limited_429": stats["rate_limited_429"],
        "seconds_slept": stats["seconds_slept"],
        "window_rereads": stats["window_rereads"],
    }
    if landed.refresh:
        metadata["rows_kept"] = landed.rows_kept
        if landed.newest_start is not None:
            metadata["newest_call_start"] = format_iso_ict(landed.newest_start)
    return dg.MaterializeResult(metadata=metadata)
