"""Xu hướng / Trends: the last 30 days (or a chosen range) per hotline, the wait-time
distribution, repeat callers and callbacks after abandon."""

from __future__ import annotations

from datetime import date

import altair as alt
import pandas as pd
import streamlit as st

from alohub_dashboard import ui

DEFAULT_DAYS = 30
ALL = "*"


def hotline_panel(ctx: ui.Context, days: list[date]) -> None:
    t = ctx.t
    first, last = days[0], days[-1]
    frame = ctx.read("hotline_days", "hotline_call_metrics", days, first_day=first, last_day=last)
    st.subheader(t("trends.hotlines"))
    if frame.empty:
        st.caption(t("empty.no_data_in_range"))
        return
    frame["day"] = frame["date"].map(t.date)
    order = [t.date(d) for d in days]
    titles = (t("axis.date"), t("axis.calls"), t("axis.hotline"))
    st.markdown("**" + t("trends.offered_chart") + "**")
    ui.show_chart(ui.line_chart(frame, "day", "offered_calls", "hotline_name", order, titles), t)
    left, right = st.columns(2)
    percent = t("format.chart_percent")
    share_titles = (t("axis.date"), t("axis.share"), t("axis.hotline"))
    with left:
        st.markdown("**" + t("trends.sl_chart") + "**")
        chart = ui.line_chart(
            frame, "day", "service_level", "hotline_name", order, share_titles, percent
        )
        ui.show_chart(chart, t)
    with right:
        st.markdown("**" + t("trends.abandon_chart") + "**")
        chart = ui.line_chart(
            frame, "day", "abandon_rate", "hotline_name", order, share_titles, percent
        )
        ui.show_chart(chart, t)
    period = ctx.read(
        "hotline_period", "hotline_call_metrics", days, first_day=first, last_day=last
    )
    st.markdown("**" + t("trends.period_table") + "**")
    ui.table(
        period,
        {
            "hotline_name": (t("column.hotline"), str),
            "offered_calls": (t("column.offered"), t.number),
            "answered_calls": (t("column.answered"), t.number),
            "service_level": (t("column.service_level"), t.percent),
            "abandon_rate": (t("column.abandon_rate"), t.percent),
        },
        key="trends_period",
    )


def waits_panel(ctx: ui.Context, days: list[date], hotlines: dict[str, str]) -> None:
    t = ctx.t
    st.subheader(t("trends.waits"))
    options = [ALL, *hotlines]
    choice = st.selectbox(
        t("trends.wait_hotline"),
        options,
        format_func=lambda h: t("today.all_hotlines") if h == ALL else hotlines.get(h, h),
        key="trends_wait_hotline",
    )
    frame = ctx.read(
        "wait_buckets",
        "wait_time_distribution",
        days,
        first_day=days[0],
        last_day=days[-1],
        hotline=None if choice == ALL else choice,
    )
    if frame.empty:
        st.caption(t("empty.no_data_in_range"))
        return

    def bucket(start, end) -> str:
        if pd.isna(end):
            return t("trends.bucket_open", start=t.number(start))
        return t("trends.bucket", start=t.number(start), end=t.number(end))

    frame["bucket"] = [
        bucket(s, e)
        for s, e in zip(frame["bucket_start_seconds"], frame["bucket_end_seconds"], strict=True)
    ]
    order = list(frame["bucket"])
    long = frame.melt(
        id_vars=["bucket"], value_vars=["answered_calls", "abandoned_calls"], var_name="column"
    )
    names = {
        "answered_calls": t("series.answered_bucket"),
        "abandoned_calls": t("series.abandoned_bucket"),
    }
    long["series"] = long["column"].map(names)
    chart = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("bucket:O", sort=order, title=t("axis.bucket")),
            xOffset=alt.XOffset("series:N"),
            y=alt.Y("value:Q", title=t("axis.calls")),
            color=alt.Color("series:N", title=t("axis.series")),
            tooltip=[
                alt.Tooltip("bucket:O", title=t("axis.bucket")),
                alt.Tooltip("series:N", title=t("axis.series")),
                alt.Tooltip("value:Q", title=t("axis.calls"), format=",d"),
            ],
        )
    )
    ui.show_chart(chart, t)
    st.caption(t("trends.waits_note"))


def repeat_panel(ctx: ui.Context, days: list[date]) -> None:
    t = ctx.t
    st.subheader(t("trends.repeat"))
    frame = ctx.read("repeat_callers", "repeat_callers", days, first_day=days[0], last_day=days[-1])
    if frame.empty:
        st.caption(t("empty.no_data_in_range"))
        return
    calls, repeats = int(frame["inbound_calls"].sum()), int(frame["repeat_calls_24h"].sum())
    st.caption(
        t(
            "trends.repeat_caption",
            calls=t.number(calls),
            repeats=t.number(repeats),
            share=t.percent(repeats / calls if calls else None),
        )
    )
    long = frame.assign(day=frame["date"].map(t.date)).melt(
        id_vars=["day"], value_vars=["repeat_rate_24h", "repeat_rate_7d"], var_name="column"
    )
    long["series"] = long["column"].map(
        {"repeat_rate_24h": t("series.repeat_24h"), "repeat_rate_7d": t("series.repeat_7d")}
    )
    order = [t.date(d) for d in days]
    titles = (t("axis.date"), t("axis.share"), t("axis.series"))
    ui.show_chart(
        ui.line_chart(long, "day", "value", "series", order, titles, t("format.chart_percent")), t
    )


def callbacks_panel(ctx: ui.Context, days: list[date]) -> None:
    t = ctx.t
    st.subheader(t("trends.callbacks"))
    frame = ctx.read(
        "abandon_callbacks", "abandon_callbacks", days, first_day=days[0], last_day=days[-1]
    )
    if frame.empty:
        st.caption(t("empty.no_data_in_range"))
        return
    abandoned, recovered = int(frame["abandoned_calls"].sum()), int(frame["recovered_24h"].sum())
    st.caption(
        t(
            "trends.callbacks_caption",
            abandoned=t.number(abandoned),
            recovered=t.number(recovered),
            share=t.percent(recovered / abandoned if abandoned else None),
            by_callback=t.number(int(frame["recovered_by_callback_24h"].sum())),
            by_customer=t.number(int(frame["recovered_by_customer_24h"].sum())),
        )
    )
    series = frame.assign(day=frame["date"].map(t.date), series=t("series.recovery"))
    order = [t.date(d) for d in days]
    titles = (t("axis.date"), t("axis.share"), t("axis.series"))
    chart = ui.line_chart(
        series, "day", "recovery_rate_24h", "series", order, titles, t("format.chart_percent")
    )
    ui.show_chart(chart, t)
    incomplete = frame.loc[~frame["complete"].fillna(False).astype(bool), "date"]
    if not incomplete.empty:
        st.caption(t("trends.callbacks_incomplete", dates=", ".join(t.date(d) for d in incomplete)))


@st.fragment(run_every=ui.REFRESH_SECONDS)
def trends_page(ctx: ui.Context, days: list[date]) -> None:
    hotlines: dict[str, str] = {}
    if ctx.has("hotline_call_metrics"):
        with ui.panel(ctx, "hotline_call_metrics"):
            hotline_panel(ctx, days)
            period = ctx.read(
                "hotline_period", "hotline_call_metrics", days, first_day=days[0], last_day=days[-1]
            )
            if not period.empty:
                hotlines = dict(zip(period["hotline"], period["hotline_name"], strict=True))
    if ctx.has("wait_time_distribution"):
        with ui.panel(ctx, "wait_time_distribution"):
            waits_panel(ctx, days, hotlines)
    left, right = st.columns(2)
    if ctx.has("repeat_callers"):
        with left, ui.panel(ctx, "repeat_callers"):
            repeat_panel(ctx, days)
    if ctx.has("abandon_callbacks"):
        with right, ui.panel(ctx, "abandon_callbacks"):
            callbacks_panel(ctx, days)


context = ui.context()
st.title(context.t("trends.title"))
available = context.days("hotline_call_metrics") or context.days("daily_call_metrics")
if not available:
    st.info(context.t("empty.no_days"))
    st.stop()
chosen_days = ui.date_range(
    context, available, "trends_range", context.t("trends.range"), DEFAULT_DAYS
)
trends_page(context, chosen_days)
