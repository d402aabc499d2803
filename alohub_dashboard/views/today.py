"""Hôm nay / Today: per hotline, the day so far (or the latest day with data), its intervals with
the staffing and the forecast, and the callers to ring back."""

from __future__ import annotations

import math
import re
from datetime import date, datetime

import altair as alt
import pandas as pd
import streamlit as st

from alohub_dashboard import ui
from alohub_dashboard.mart import MartReader
from alohub_dashboard.refresh import next_refresh

ALL = "*"  # every hotline, as the forecast names it
FORECAST_HORIZON_DAYS = 14


def shown_day(days: list[date], today: date) -> date:
    """Today when it has a partition, else the latest day that has one."""
    return today if today in days else days[-1]


def freshness(ctx: ui.Context, day: date, now: datetime) -> tuple[str, str]:
    """When the day's data was fetched, whether the day is complete, the next refresh; and
    the fetch time as the version of the day's reads."""
    t = ctx.t
    status = MartReader(ctx.location).call_logs_status(day)
    lines = []
    if status is not None and status.fetched_at:
        fetched = datetime.fromisoformat(status.fetched_at).astimezone(now.tzinfo)
        lines.append(t("today.refreshed", when=t.datetime(fetched)))
    else:
        lines.append(t("today.refreshed_unknown"))
    complete = status is None or status.day_complete
    lines.append(t("today.day_complete" if complete else "today.day_so_far"))
    tick = next_refresh(now, ctx.settings.intraday)
    lines.append(
        t("today.next_refresh", when=t.datetime(tick)) if tick else t("today.no_next_refresh")
    )
    return " ".join(lines), (status.fetched_at if status and status.fetched_at else "")


def hotline_rows(ctx: ui.Context, day: date, version: str) -> pd.DataFrame:
    """The day's hotlines, plus the hotlines of the settings file that had no call (zeros)."""
    rows = ctx.read("hotline_day", "hotline_call_metrics", [day], version, day=day)
    configured = pd.DataFrame(ctx.settings.hotline_thresholds())
    if configured.empty:
        return rows
    if rows.empty:
        rows = pd.DataFrame(columns=["hotline", "hotline_name"])
    # Under the PII option a day's hotline is a token: the configured name finds it then.
    seen = configured["hotline"].isin(rows["hotline"]) | configured["hotline_name"].isin(
        rows["hotline_name"]
    )
    quiet = configured[~seen].assign(offered_calls=0, answered_calls=0)
    return pd.concat([rows, quiet], ignore_index=True) if not rows.empty else quiet


def tiles(ctx: ui.Context, rows: pd.DataFrame) -> None:
    t = ctx.t
    target = ctx.settings.kpi.service_level_target
    if rows.empty:
        st.caption(t("today.no_calls"))
        rows = pd.DataFrame(
            [
                {
                    "hotline": ALL,
                    "hotline_name": t("today.all_hotlines"),
                    "offered_calls": 0,
                    "answered_calls": 0,
                    "service_level_seconds": ctx.settings.kpi.service_level_seconds,
                }
            ]
        )
    for row in rows.to_dict("records"):
        key = "hotline-" + re.sub(r"[^A-Za-z0-9]", "-", str(row["hotline"]))
        with st.container(border=True, key=key):
            st.subheader(row["hotline_name"])
            columns = st.columns(6)
            columns[0].metric(t("today.offered"), t.number(row.get("offered_calls")))
            columns[1].metric(t("today.answered"), t.number(row.get("answered_calls")))
            level = _number(row.get("service_level"))
            columns[2].metric(
                t("today.service_level", seconds=t.number(row.get("service_level_seconds"))),
                t.percent(level),
                delta=None if level is None else t.points(level - target),
                delta_description=t("today.sl_vs_target", target=t.percent(target, 0)),
            )
            columns[3].metric(t("today.abandon_rate"), t.percent(_number(row.get("abandon_rate"))))
            columns[4].metric(t("today.asa"), t.seconds(_number(row.get("asa_seconds"))))
            columns[5].metric(t("today.wait_p90"), t.seconds(_number(row.get("wait_p90_seconds"))))


def _number(value) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return float(value)


def forecast_source(ctx: ui.Context, table: str, day: date) -> list[date]:
    """The latest partition of a planning table made before ``day`` whose horizon covers it."""
    made = [d for d in ctx.days(table) if d < day and (day - d).days <= FORECAST_HORIZON_DAYS]
    return made[-1:]


def interval_charts(ctx: ui.Context, day: date, rows: pd.DataFrame, version: str) -> None:
    t = ctx.t
    names = dict(zip(rows["hotline"], rows["hotline_name"], strict=True)) if not rows.empty else {}
    options = [ALL, *[h for h in names if h != ALL]]
    choice = st.selectbox(
        t("today.hotline_select"),
        options,
        format_func=lambda h: t("today.all_hotlines") if h == ALL else names.get(h, h),
        key="today_hotline",
    )
    if choice == ALL:
        table, statement, params = "interval_call_metrics", "intervals_all", {}
    else:
        table, statement, params = (
            "hotline_interval_metrics",
            "intervals_hotline",
            {"hotline": choice},
        )
    calls = ctx.read(statement, table, [day], version, day=day, **params)
    forecast = pd.DataFrame()
    if ctx.has("call_volume_forecast"):
        with ui.panel(ctx, "call_volume_forecast"):
            source = forecast_source(ctx, "call_volume_forecast", day)
            forecast = ctx.read("forecast", "call_volume_forecast", source, day=day, hotline=choice)
    if calls.empty and forecast.empty:
        st.caption(t("today.no_intervals"))
        return
    label = lambda frame: frame["interval_start"].dt.strftime("%H:%M")  # noqa: E731
    order = sorted(set(label(calls)) | (set(label(forecast)) if not forecast.empty else set()))
    x = alt.X("interval:O", sort=order, title=t("axis.interval"))
    series = [t("series.offered"), t("series.answered"), t("series.forecast")]
    color = alt.Color("series:N", title=t("axis.series"), scale=alt.Scale(domain=series))
    layers = []
    if not calls.empty:
        bars = calls.assign(interval=label(calls)).melt(
            id_vars=["interval"], value_vars=["offered_calls", "answered_calls"], var_name="column"
        )
        bars["series"] = bars["column"].map(
            {"offered_calls": series[0], "answered_calls": series[1]}
        )
        layers.append(
            alt.Chart(bars)
            .mark_bar()
            .encode(
                x=x,
                xOffset=alt.XOffset("series:N", sort=series),
                y=alt.Y("value:Q", title=t("axis.calls")),
                color=color,
                tooltip=[
                    alt.Tooltip("interval:O", title=t("axis.interval")),
                    alt.Tooltip("series:N", title=t("axis.series")),
                    alt.Tooltip("value:Q", title=t("axis.calls"), format=",d"),
                ],
            )
        )
    if not forecast.empty:
        band = forecast.assign(interval=label(forecast), series=series[2])
        layers.append(
            alt.Chart(band)
            .mark_area(opacity=0.2)
            .encode(x=x, y="offered_calls_p10:Q", y2="offered_calls_p90:Q", color=color)
        )
        layers.append(
            alt.Chart(band)
            .mark_line(point=True)
            .encode(
                x=x,
                y=alt.Y("offered_calls_forecast:Q", title=t("axis.calls")),
                color=color,
                tooltip=[
                    alt.Tooltip("interval:O", title=t("axis.interval")),
                    alt.Tooltip(
                        "offered_calls_forecast:Q", title=t("series.forecast"), format=",.1f"
                    ),
                    alt.Tooltip(
                        "offered_calls_p10:Q", title=t("series.forecast_band"), format=",.1f"
                    ),
                    alt.Tooltip(
                        "offered_calls_p90:Q", title=t("series.forecast_band"), format=",.1f"
                    ),
                ],
            )
        )
    st.markdown(
        "**" + t("today.calls_chart", minutes=t.number(ctx.settings.kpi.interval_minutes)) + "**"
    )
    ui.show_chart(alt.layer(*layers), t)

    left, right = st.columns(2)
    with left:
        st.markdown("**" + t("today.sl_chart") + "**")
        if not calls.empty:
            level = calls.assign(interval=label(calls), series=t("series.service_level"))
            target = ctx.settings.kpi.service_level_target
            line = ui.line_chart(
                level,
                "interval",
                "service_level",
                "series",
                order,
                (t("axis.interval"), t("axis.share"), t("axis.series")),
                percent=t("format.chart_percent"),
            )
            rule = (
                alt.Chart(pd.DataFrame({"target": [target]}))
                .mark_rule(strokeDash=[4, 4])
                .encode(y="target:Q")
            )
            ui.show_chart(alt.layer(line, rule), t)
    with right:
        agents = agent_series(ctx, day, choice, version)
        if not agents.empty:
            st.markdown("**" + t("today.agents_chart") + "**")
            chart = ui.line_chart(
                agents,
                "interval",
                "value",
                "series",
                order,
                (t("axis.interval"), t("axis.agents"), t("axis.series")),
            )
            ui.show_chart(chart, t)


def agent_series(ctx: ui.Context, day: date, hotline: str, version: str) -> pd.DataFrame:
    """Required and answering agents (staffing_requirements, every hotline), and the staffing
    plan's scheduled agents when the planning tables exist."""
    t = ctx.t
    parts = []
    if hotline == ALL and ctx.has("staffing_requirements"):
        with ui.panel(ctx, "staffing_requirements"):
            staffing = ctx.read("staffing", "staffing_requirements", [day], version, day=day)
            for column, name in (
                ("required_agents", "series.required"),
                ("agents_active", "series.active"),
            ):
                parts.append(
                    pd.DataFrame(
                        {
                            "interval_start": staffing["interval_start"],
                            "value": staffing[column],
                            "series": t(name),
                        }
                    )
                )
    if ctx.has("staffing_plan"):
        with ui.panel(ctx, "staffing_plan"):
            source = forecast_source(ctx, "staffing_plan", day)
            plan = ctx.read("plan", "staffing_plan", source, day=day, hotline=hotline)
            parts.append(
                pd.DataFrame(
                    {
                        "interval_start": plan["interval_start"],
                        "value": plan["scheduled_agents"],
                        "series": t("series.scheduled"),
                    }
                )
                if not plan.empty
                else pd.DataFrame()
            )
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame()
    frame = pd.concat(parts, ignore_index=True)
    return frame.assign(interval=frame["interval_start"].dt.strftime("%H:%M"))


def worklist(ctx: ui.Context, day: date, version: str) -> None:
    t = ctx.t
    st.subheader(t("today.worklist"))
    frame = ctx.read("worklist", "callback_worklist", [day], version, day=day)
    if frame.empty:
        st.caption(t("today.worklist_empty"))
        return
    st.caption(t("today.worklist_count", count=t.number(len(frame))))
    ui.table(
        frame,
        {
            "customer_number": (t("column.customer"), str),
            "hotline_name": (t("column.hotline"), str),
            "last_abandon_time": (t("column.last_abandon"), lambda v: t.time(v, with_seconds=True)),
            "abandons": (t("column.abandons"), t.number),
            "longest_wait_seconds": (t("column.longest_wait"), lambda v: t.seconds(v, 0)),
            "last_call_id": (t("column.call_id"), str),
        },
        key="worklist",
    )


@st.fragment(run_every=ui.REFRESH_SECONDS)
def today_page(ctx: ui.Context) -> None:
    t = ctx.t
    now = ui.local_now()
    days = ctx.days("daily_call_metrics")
    if not days:
        st.info(t("empty.no_days"))
        return
    day = shown_day(days, now.date())
    if day == now.date():
        st.markdown(t("today.showing_today", date=t.date(day)))
    else:
        st.warning(t("today.showing_latest", today=t.date(now.date()), date=t.date(day)))
    note, version = freshness(ctx, day, now)
    st.caption(note)
    rows = pd.DataFrame()
    if ctx.has("hotline_call_metrics"):
        st.subheader(t("today.hotlines"))
        with ui.panel(ctx, "hotline_call_metrics"):
            rows = hotline_rows(ctx, day, version)
            tiles(ctx, rows)
    if ctx.has("interval_call_metrics") and ctx.has("hotline_interval_metrics"):
        st.subheader(t("today.intervals"))
        with ui.panel(ctx, "interval_call_metrics"):
            interval_charts(ctx, day, rows, version)
    if ctx.has("callback_worklist"):
        with ui.panel(ctx, "callback_worklist"):
            worklist(ctx, day, version)


context = ui.context()
st.title(context.t("today.title"))
today_page(context)
