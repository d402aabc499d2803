"""Nhân viên / Agents: handled calls, talk time, load share and outbound attempts per agent and
day."""

from __future__ import annotations

from datetime import date

import altair as alt
import streamlit as st

from alohub_dashboard import ui

DEFAULT_DAYS = 7


@st.fragment(run_every=ui.REFRESH_SECONDS)
def agents_page(ctx: ui.Context, days: list[date]) -> None:
    t = ctx.t
    with ui.panel(ctx, "agent_daily_load"):
        frame = ctx.read(
            "agent_days", "agent_daily_load", days, first_day=days[0], last_day=days[-1]
        )
        if frame.empty:
            st.caption(t("agents.no_agents"))
            return
        chosen = st.multiselect(
            t("agents.filter"),
            sorted(frame["agent_id"].unique()),
            placeholder=t("agents.filter_placeholder"),
            key="agents_filter",
        )
        if chosen:
            frame = frame[frame["agent_id"].isin(chosen)]
        totals = frame.groupby("agent_id", as_index=False)["handled_calls"].sum()
        st.markdown("**" + t("agents.handled_chart") + "**")
        chart = (
            alt.Chart(totals)
            .mark_bar()
            .encode(
                x=alt.X("agent_id:N", sort="-y", title=t("axis.agent")),
                y=alt.Y("handled_calls:Q", title=t("axis.calls")),
                tooltip=[
                    alt.Tooltip("agent_id:N", title=t("axis.agent")),
                    alt.Tooltip("handled_calls:Q", title=t("column.handled"), format=",d"),
                ],
            )
        )
        ui.show_chart(chart, t)
        st.markdown("**" + t("agents.table") + "**")
        ui.table(
            frame,
            {
                "date": (t("column.date"), t.date),
                "agent_id": (t("column.agent"), str),
                "handled_calls": (t("column.handled"), t.number),
                "inbound_handled": (t("column.inbound_handled"), t.number),
                "outbound_handled": (t("column.outbound_handled"), t.number),
                "outbound_attempts": (t("column.outbound_attempts"), t.number),
                "talk_seconds": (t("column.talk_time"), t.duration),
                "avg_talk_seconds": (t("column.avg_talk"), t.seconds),
                "load_share": (t("column.load_share"), t.percent),
            },
            key="agents_table",
        )


context = ui.context()
st.title(context.t("agents.title"))
available = context.days("agent_daily_load")
if not available:
    st.info(context.t("empty.no_days"))
    st.stop()
chosen_days = ui.date_range(
    context, available, "agents_range", context.t("agents.range"), DEFAULT_DAYS
)
agents_page(context, chosen_days)
