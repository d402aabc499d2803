"""The code location loads, with every asset, check, job, schedule and sensor a user relies on."""

from __future__ import annotations

import dagster as dg

from alohub_assets.api.records import local_today
from alohub_assets.definitions import defs
from alohub_assets.defs.ingest.jobs import DAILY_PIPELINE
from alohub_assets.defs.kpi_mart.build import KPI_GROUP, kpi_tables

ASSETS = {
    "raw_call_logs",
    "call_logs",
    "daily_call_metrics",
    "agent_daily_load",
    "hourly_call_volume",
    "hotline_call_metrics",
    "hotline_interval_metrics",
    "wait_time_distribution",
    "callback_worklist",
    "call_recordings",
    "call_volume_forecast",
    "staffing_plan",
    "forecast_accuracy",
}
CHECKS = {
    ("call_logs", "call_id_unique_and_not_null"),
    ("call_logs", "every_landed_call_reaches_call_logs"),
    ("call_logs", "no_rejected_rows"),
    ("daily_call_metrics", "rates_within_0_and_1"),
    ("daily_call_metrics", "freshness_check"),
    ("daily_call_metrics", "intraday_freshness_check"),
}


def test_every_asset_check_job_schedule_and_sensor_is_defined():
    repo = defs.get_repository_def()
    assets = {key.to_user_string() for key in repo.asset_graph.get_all_asset_keys()}
    assert ASSETS <= assets
    checks = {(k.asset_key.to_user_string(), k.name) for k in repo.asset_graph.asset_check_keys}
    assert CHECKS <= checks
    assert {"daily_call_logs_job", "call_recordings_job"} <= {j.name for j in repo.get_all_jobs()}
    assert {s.name for s in repo.schedule_defs} == {
        "daily_call_logs_schedule",
        "intraday_refresh_schedule",
    }
    assert {s.name for s in repo.sensor_defs} >= {
        "recording_url_sensor",
        "default_automation_condition_sensor",
        "freshness_checks_sensor",
        "freshness_alert_sensor",
        "run_failure_alert_sensor",
    }


def test_each_kpi_sql_file_is_one_asset_of_the_daily_pipeline():
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    kpi_assets = {
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).group_name == KPI_GROUP
    }
    assert kpi_assets == set(kpi_tables())
    selected = {k.to_user_string() for k in DAILY_PIPELINE.resolve(graph)}
    assert selected == {"raw_call_logs", "call_logs", *kpi_tables()}
    job = repo.get_job("daily_call_logs_job")
    assert {n.name for n in job.graph.node_defs} >= {"raw_call_logs", "call_logs", *kpi_tables()}


def test_every_asset_is_on_the_local_day_calendar_up_to_today():
    for asset in defs.assets:
        assert isinstance(asset, dg.AssetsDefinition)
        assert asset.partitions_def.timezone == "Asia/Ho_Chi_Minh"
        # today is a partition (the day so far), tomorrow is not
        assert asset.partitions_def.get_last_partition_key() == local_today().isoformat()
