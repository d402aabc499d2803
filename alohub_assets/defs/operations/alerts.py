"""Alerts: a failed run, and a failed freshness check, posted to ``ALOHUB_ALERT_WEBHOOK_URL``
(see ``alohub_assets.api.alerts`` for the message and the delivery rules).

Both sensors are on by default and do nothing but log a line while the variable is unset. A
webhook that cannot be reached costs a logged warning, never a failed tick or run.
"""

from datetime import datetime, timedelta

import dagster as dg

from alohub_assets.api.alerts import Alert, post_alert, run_link, summarize_error, ui_base_url
from alohub_assets.api.records import ICT
from alohub_assets.defs.operations.freshness import FRESHNESS_ASSET, freshness_checks

LATEST_CRON_TICK_KEY = "dagster/latest_cron_tick_timestamp"


def _root_cause(error) -> str:
    """The innermost error's message: Dagster wraps a step's exception in its own."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def run_failure_alert(context: dg.RunFailureSensorContext) -> Alert:
    run = context.dagster_run
    steps = context.get_step_failure_events()
    errors = [
        f"{event.step_key}: {_root_cause(event.step_failure_data.error)}"
        for event in steps
        if event.step_failure_data.error is not None
    ]
    return Alert(
        kind="run_failure",
        job=run.job_name,
        partition=run.tags.get("dagster/partition"),
        error=summarize_error("; ".join(errors) or context.failure_event.message),
        link=run_link(run.run_id),
    )


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Posts every failed run of this code location to ALOHUB_ALERT_WEBHOOK_URL.",
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext) -> None:
    alert = run_failure_alert(context)
    sent = post_alert(alert)
    context.log.info(f"run {context.dagster_run.run_id} failed; alert sent: {sent}")


def _freshness_check_key() -> dg.AssetCheckKey:
    (check_def,) = freshness_checks
    (key,) = check_def.check_keys
    return key


@dg.sensor(
    name="freshness_alert_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Posts a failed freshness check of daily_call_metrics to the alert webhook.",
)
def freshness_alert_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    key = _freshness_check_key()
    summary = context.instance.event_log_storage.get_asset_check_summary_records([key])[key]
    record = summary.last_completed_check_execution_record
    if record is None or record.event is None or record.event.asset_check_evaluation is None:
        return dg.SkipReason("the freshness check has not been evaluated yet")
    seen = int(context.cursor) if context.cursor else 0
    if record.id <= seen:
        return dg.SkipReason("no new freshness result")
    context.update_cursor(str(record.id))
    evaluation = record.event.asset_check_evaluation
    if evaluation.passed:
        return dg.SkipReason("daily_call_metrics is fresh")
    deadline = evaluation.metadata.get(LATEST_CRON_TICK_KEY)
    partition = None
    if deadline is not None:
        deadline_day = datetime.fromtimestamp(deadline.value, ICT).date()
        partition = (deadline_day - timedelta(days=1)).isoformat()
    alert = Alert(
        kind="freshness",
        job=FRESHNESS_ASSET.to_user_string(),
        partition=partition,
        error=summarize_error(evaluation.description or "the freshness check failed"),
        link=f"{ui_base_url()}/assets/{FRESHNESS_ASSET.to_user_string()}?view=checks",
    )
    sent = post_alert(alert)
    return dg.SkipReason(f"daily_call_metrics is late ({partition}); alert sent: {sent}")
