"""Alerts: a failed run, and a failed freshness check, posted to ``ALOHUB_ALERT_WEBHOOK_URL``
(see ``alohub_assets.api.alerts`` for the message and the delivery rules).

Both sensors are on by default and do nothing but log a line while the variable is unset. A
webhook that cannot be reached costs a logged warning, never a failed tick or run.
"""

import json

import dagster as dg

from alohub_assets.api.alerts import Alert, post_alert, run_link, summarize_error, ui_base_url
from alohub_assets.defs.operations.freshness import (
    FRESHNESS_ASSET,
    PARTITION_KEY,
    TODAY_CHECK,
    YESTERDAY_CHECK,
    last_results,
)


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


KIND = {YESTERDAY_CHECK: "freshness", TODAY_CHECK: "intraday_freshness"}


def _seen(cursor: str | None) -> dict[str, int]:
    """Check name -> the last result id handled (an older cursor was that id for yesterday's)."""
    if not cursor:
        return {}
    data = json.loads(cursor)
    return {YESTERDAY_CHECK: int(data)} if isinstance(data, int) else dict(data)


@dg.sensor(
    name="freshness_alert_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Posts a failed freshness check of daily_call_metrics (yesterday's or today's) "
    "to the alert webhook, once per result.",
)
def freshness_alert_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    seen = _seen(context.cursor)
    reported = []
    for key, record in last_results(context.instance).items():
        if record is None or record.event is None or record.event.asset_check_evaluation is None:
            continue
        if record.id <= seen.get(key.name, 0):
            continue
        seen[key.name] = record.id
        evaluation = record.event.asset_check_evaluation
        if evaluation.passed:
            continue
        partition = evaluation.metadata.get(PARTITION_KEY)
        alert = Alert(
            kind=KIND[key.name],
            job=FRESHNESS_ASSET.to_user_string(),
            partition=(partition.value if partition is not None else None) or None,
            error=summarize_error(evaluation.description or "the freshness check failed"),
            link=f"{ui_base_url()}/assets/{FRESHNESS_ASSET.to_user_string()}?view=checks",
        )
        reported.append(f"{key.name} ({alert.partition}): alert sent: {post_alert(alert)}")
    context.update_cursor(json.dumps(seen, sort_keys=True))
    return dg.SkipReason("; ".join(reported) or "no new failed freshness result")
