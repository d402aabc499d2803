"""What every page shares: the language, the mart and the settings, cached reads, the empty and
error states, tables and charts in the chosen language."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import altair as alt
import duckdb
import pandas as pd
import streamlit as st

from alohub_assets.api.records import LOCAL_TIMEZONE_NAME
from alohub_assets.settings import CenterSettings, SettingsError, load_settings
from alohub_assets.storage.layout import data_dir_from_env
from alohub_dashboard.i18n import DEFAULT_LANGUAGE, LANGUAGES, Texts, catalog
from alohub_dashboard.mart import MartReader, NoMart

#: The page reruns its data part this often (st.fragment), keeping the widgets' state.
REFRESH_SECONDS = 60
#: How long a read is reused: at most one refresh period.
CACHE_SECONDS = 60
LANGUAGE_KEY = "lang"


def language() -> str:
    """The chosen language: the switch's state, else ``?lang=`` in the URL, else Vietnamese."""
    chosen = st.session_state.get(LANGUAGE_KEY) or st.query_params.get(LANGUAGE_KEY)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def texts() -> Texts:
    return Texts(language())


def _keep_language_in_url() -> None:
    st.query_params[LANGUAGE_KEY] = st.session_state[LANGUAGE_KEY]


def language_switch() -> Texts:
    """The switch in the sidebar; the choice is kept in the URL (``?lang=en``), so a bookmark
    or the screen on the wall opens in its language."""
    if LANGUAGE_KEY not in st.session_state:
        st.session_state[LANGUAGE_KEY] = language()
    current = texts()
    st.sidebar.segmented_control(
        current("app.language"),
        options=list(LANGUAGES),
        required=True,
        format_func=lambda code: catalog(code)[f"language.{code}"],
        key=LANGUAGE_KEY,
        on_change=_keep_language_in_url,
    )
    return texts()


# ------------------------------------------------------------------------------ cached reads


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def cached_tables(location: str) -> frozenset[str] | None:
    try:
        return MartReader(location).tables()
    except NoMart:
        return None


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def cached_days(location: str, table: str) -> list[date]:
    return MartReader(location).days(table)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def cached_query(
    location: str, statement: str, table: str, days: tuple[date, ...], version: str, **params
) -> pd.DataFrame:
    """``statement`` over the partition files of ``days``; ``version`` (when the day's data was
    fetched) makes a refresh of the pipeline a new read at once."""
    reader = MartReader(location)
    return reader.query(statement, reader.files(table, list(days)), **params)


@dataclass
class Context:
    """What a page needs: texts, where the mart is, its tables, the center's settings."""

    t: Texts
    location: str
    tables: frozenset[str]
    settings: CenterSettings

    def has(self, table: str) -> bool:
        return table in self.tables

    def days(self, table: str) -> list[date]:
        return cached_days(self.location, table) if self.has(table) else []

    def read(
        self, statement: str, table: str, days: list[date], version: str = "", **params
    ) -> pd.DataFrame:
        """``statement`` over the days of ``days`` that have a partition of ``table``; no
        columns at all when none has."""
        present = set(self.days(table))
        chosen = tuple(day for day in days if day in present)
        if not chosen:
            return pd.DataFrame()
        return cached_query(self.location, statement, table, chosen, version, **params)


def context() -> Context:
    """The page's context, or the empty state (no mart yet) or a settings error, then stop."""
    t = texts()
    location = data_dir_from_env()
    try:
        settings = load_settings()
    except SettingsError as error:
        st.error(t("error.settings", detail=str(error)))
        st.stop()
    tables = cached_tables(location)
    if tables is None:
        st.info(t("empty.no_mart", location=location))
        st.stop()
    st.sidebar.caption(t("app.data_source", location=location))
    st.sidebar.caption(t("app.refresh_note", seconds=REFRESH_SECONDS))
    return Context(t, location, tables, settings)


@contextmanager
def panel(ctx: Context, table: str) -> Iterator[None]:
    """A panel whose table could not be read shows why, and the rest of the page goes on."""
    try:
        yield
    except (duckdb.Error, OSError, ValueError) as error:  # a broken file, not the page
        st.error(ctx.t("error.panel", table=table, detail=str(error).splitlines()[0]))


def local_now() -> datetime:
    return pd.Timestamp.now(tz=LOCAL_TIMEZONE_NAME).to_pydatetime()


def date_range(ctx: Context, days: list[date], key: str, label: str, length: int) -> list[date]:
    """A date-range picker over the days with data (the last ``length`` by default); returns
    the days of the range."""
    t = ctx.t
    last = days[-1]
    default = (max(days[0], last - timedelta(days=length - 1)), last)
    chosen = st.date_input(
        label,
        value=default,
        min_value=days[0],
        max_value=last,
        format=t("format.date_input"),
        key=key,
    )
    if isinstance(chosen, date):
        chosen = (chosen, chosen)
    first, end = (tuple(chosen) + tuple(chosen))[:2] if chosen else default
    st.caption(t("trends.range_caption", first=t.date(days[0]), last=t.date(last)))
    return [first + timedelta(days=n) for n in range((end - first).days + 1)]


# ---------------------------------------------------------------------------------- tables


def table(
    frame: pd.DataFrame, columns: dict[str, tuple[str, Callable[[Any], str]]], key: str
) -> None:
    """``frame``'s ``columns`` (name -> (label, formatter)) as a table whose cells are shown in
    the language's formats while sorting by the values."""
    shown = frame[list(columns)].rename(columns={c: label for c, (label, _) in columns.items()})
    formats = {label: formatter for label, formatter in columns.values()}
    st.dataframe(shown.style.format(formats), hide_index=True, key=key, width="stretch")


# ---------------------------------------------------------------------------------- charts


def show_chart(chart: alt.TopLevelMixin, t: Texts) -> None:
    """A chart whose axes and tooltips use the language's number format."""
    st.altair_chart(chart.configure(locale=alt.Locale(number=t.vega_locale())), width="stretch")


def line_chart(
    frame: pd.DataFrame,
    x: str,
    y: str,
    series: str,
    order: list[str],
    titles: tuple[str, str, str],
    percent: str | None = None,
) -> alt.Chart:
    """Lines of ``y`` over the ordinal ``x`` (labels already formatted, in ``order``), one per
    ``series``."""
    x_title, y_title, series_title = titles
    axis = alt.Axis(format=percent) if percent else alt.Axis()
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X(f"{x}:O", sort=order, title=x_title),
            y=alt.Y(f"{y}:Q", title=y_title, axis=axis),
            color=alt.Color(f"{series}:N", title=series_title),
            tooltip=[
                alt.Tooltip(f"{x}:O", title=x_title),
                alt.Tooltip(f"{series}:N", title=series_title),
                alt.Tooltip(f"{y}:Q", title=y_title, format=percent or ",.1~f"),
            ],
        )
    )
