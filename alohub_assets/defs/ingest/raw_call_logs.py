"""``raw_call_logs``: the partition's local day fetched from AloHub and landed as sent."""

import dagster as dg

from alohub_assets.defs.partitions import daily_partitions, partition_day
from alohub_assets.defs.resources import ALOHUB_API_POOL, AloHubResource, WarehouseResource
from alohub_assets.storage.landing import land_call_logs


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
    another type exist) unfiltered, streamed to ``raw/call_logs/date=YYYY-MM-DD/``."""
    day = partition_day(context)
    store = warehouse.get_warehouse()
    with alohub.get_client() as client:
        landed = land_call_logs(client, store, day)
        stats = client.stats.as_dict()
    by_source = {name: read.total_record for name, read in landed.sources.items()}
    typed = by_source.get("inbound", 0) + by_source.get("outbound", 0)
    context.log.info(
        f"{day}: {landed.rows} rows in {stats['pages']} pages ({stats['requests']} requests, "
        f"{stats['retries']} retries, {stats['rate_limited_429']} x 429, "
        f"{stats['seconds_slept']:.1f}s slept); totalRecord by filter {by_source}, "
        f"unfiltered {landed.unfiltered_total}"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": landed.rows,
            "path": dg.MetadataValue.path(store.uri(landed.folder)),
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
    )
