"""The floor's dashboard, page by page, through Streamlit's AppTest on small marts built by the
KPI code itself (tests/dashboard_mart.py): the values shown equal the mart's, in Vietnamese and
English formats; the empty, partial and no-call cases; the catalogs; reads while a run writes;
a mart on S3."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import duckdb
import pytest

from alohub_assets.api.records import local_today
from alohub_assets.settings import IntradaySettings, load_settings
from alohub_dashboard.i18n import LANGUAGES, Texts, catalog, placeholders
from alohub_dashboard.refresh import next_refresh
from bench.dashboard import app_test
from tests.dashboard_mart import build_mart, mark_in_progress

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "alohub_dashboard"
APP = PACKAGE / "app.py"
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
SETTINGS = """
kpi: {service_level_seconds: 20, service_level_target: 0.8}
hotlines:
  "19006868": {name: "Bán hàng", service_level_seconds: 15}
  "19001234": {name: "Hỗ trợ"}
  "18001111": {name: "VIP"}
"""
DAYS = 10


def vi_number(text: str) -> float:
    """A number as the Vietnamese page writes it: ``1.234,5``, ``83,4 %``, ``12,3 giây``."""
    return float(re.sub(r"[^0-9,\-]", "", text.replace(".", "")).replace(",", "."))


def en_number(text: str) -> float:
    return float(re.sub(r"[^0-9.\-]", "", text.replace(",", "")))


def sql(query: str, *params):
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'Asia/Ho_Chi_Minh'")
        return con.execute(query, list(params)).fetchall()


@pytest.fixture(scope="module")
def settings_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("settings") / "alohub.yaml"
    path.write_text(SETTINGS)
    return path


@pytest.fixture(scope="module")
def mart(tmp_path_factory, settings_file) -> Path:
    """DAYS days up to today, today's partition in progress (fetched at 09:40 local)."""
    data = tmp_path_factory.mktemp("mart")
    today = local_today()
    warehouse = build_mart(
        data, today - timedelta(days=DAYS - 1), DAYS, settings=load_settings(settings_file)
    )
    mark_in_progress(
        warehouse,
        today,
        datetime.combine(today, datetime.min.time(), LOCAL) + timedelta(hours=9, minutes=40),
    )
    return data


@pytest.fixture
def app(monkeypatch, settings_file):
    """An AppTest of the dashboard on a data folder (set by the test)."""
    monkeypatch.setenv("ALOHUB_SETTINGS_FILE", str(settings_file))
    import streamlit as st  # here, not at collection: every parallel worker collects this module

    st.cache_data.clear()

    def make(data_dir, language: str | None = None) -> AppTest:
        monkeypatch.setenv("ALOHUB_DATA_DIR", str(data_dir))
        at = app_test(APP, timeout=60)
        if language:
            at.query_params["lang"] = language
        return at

    return make


def tiles(at: AppTest) -> dict[str, dict[str, tuple[str, str]]]:
    """Each hotline's tiles: hotline name -> {label: (value, delta)}."""
    shown = {}
    for index, metric in enumerate(at.metric):
        # The subheader above: the hotline's name (6 tiles per hotline; the first subheader
        # is the section's).
        hotline = at.subheader[1 + index // 6].value
        shown.setdefault(hotline, {})[metric.label] = (metric.value, metric.delta)
    return shown


def hotline_rows(data: Path, day: date) -> dict[str, tuple]:
    rows = sql(
        "SELECT hotline_name, offered_calls, answered_calls, service_level, abandon_rate, "
        "service_level_seconds FROM read_parquet(?) WHERE date = ?",
        str(
            data
            / "warehouse"
            / "hotline_call_metrics"
            / f"date={day}"
            / "hotline_call_metrics.parquet"
        ),
        day,
    )
    return {row[0]: row[1:] for row in rows}


# ------------------------------------------------------------------------------------ Today


@pytest.mark.parametrize("language", ["vi", "en"])
def test_today_shows_each_hotline_as_the_mart_has_it(app, mart, language):
    at = app(mart, language).run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    parse = vi_number if language == "vi" else en_number
    t = Texts(language)
    today = local_today()
    expected = hotline_rows(mart, today)
    assert len(expected) == 3  # the synthetic calls' hotlines
    shown = tiles(at)
    # The hotlines of the day, plus the configured hotline without a call (zeros).
    assert set(shown) == set(expected) | {"VIP"}
    for name, (offered, answered, level, abandon, seconds) in expected.items():
        tile = shown[name]
        assert parse(tile[t("today.offered")][0]) == offered
        assert parse(tile[t("today.answered")][0]) == answered
        sl_label = t("today.service_level", seconds=str(seconds))
        value, delta = tile[sl_label]
        assert parse(value) == pytest.approx(round(level * 100, 1))
        # Coloured against the 80 % target: a delta starting with "-" is red in Streamlit.
        assert delta.startswith("-") == (level < 0.8)
        assert abs(parse(delta)) == pytest.approx(round(abs(level - 0.8) * 100, 1))
        assert parse(tile[t("today.abandon_rate")][0]) == pytest.approx(round(abandon * 100, 1))
    assert shown["VIP"][t("today.offered")][0] == "0"
    if language == "vi":
        assert "," in shown["Bán hàng"][t("today.service_level", seconds="15")][0]
    else:
        assert "." in shown["Bán hàng"][t("today.service_level", seconds="15")][0]
    # The day, the last refresh (09:40 local) and the next one, in the language's formats.
    captions = " ".join(c.value for c in at.caption)
    stamp = today.strftime("%d/%m/%Y" if language == "vi" else "%Y-%m-%d")
    assert f"{stamp} 09:40" in captions
    assert t("today.day_so_far") in captions
    assert not at.warning  # today has data: no "showing the latest day"


def test_today_worklist_is_the_marts_longest_wait_first(app, mart):
    at = app(mart).run()
    today = local_today()
    (count,) = sql(
        "SELECT count(*) FROM read_parquet(?)",
        str(
            mart / "warehouse" / "callback_worklist" / f"date={today}" / "callback_worklist.parquet"
        ),
    )[0]
    assert count > 0
    (frame,) = [d.value for d in at.dataframe]
    assert len(frame) == count
    waits = list(frame[Texts("vi")("column.longest_wait")])
    assert waits == sorted(waits, reverse=True)
    assert any(f"{count} khách hàng" in c.value for c in at.caption)


def test_today_shows_the_latest_day_when_today_has_no_data(app, tmp_path, settings_file):
    first = local_today() - timedelta(days=6)
    build_mart(tmp_path, first, 3, calls=200, settings=load_settings(settings_file))
    at = app(tmp_path).run()
    assert not at.exception
    (warning,) = at.warning
    last = first + timedelta(days=2)
    assert last.strftime("%d/%m/%Y") in warning.value
    shown = tiles(at)
    for name, (offered, *_rest) in hotline_rows(tmp_path, last).items():
        assert vi_number(shown[name][Texts("vi")("today.offered")][0]) == offered


def test_a_day_with_no_calls_shows_zeros(app, tmp_path, settings_file):
    build_mart(tmp_path, local_today(), 1, calls=0, settings=load_settings(settings_file))
    for language in LANGUAGES:
        at = app(tmp_path, language).run()
        assert not at.exception and not at.error
        t = Texts(language)
        shown = tiles(at)
        assert set(shown) == {"Bán hàng", "Hỗ trợ", "VIP"}  # configured hotlines, zero calls
        for tile in shown.values():
            assert tile[t("today.offered")][0] == "0"
            assert tile[t("today.abandon_rate")][0] == t("format.missing")
        assert any(t("today.worklist_empty") == c.value for c in at.caption)


# ----------------------------------------------------------------------------------- Trends


@pytest.mark.parametrize("language", ["vi", "en"])
def test_trends_per_hotline_over_the_range(app, mart, language):
    at = app(mart, language).run()
    at.switch_page("views/trends.py").run()
    assert not at.exception and not at.error
    t = Texts(language)
    parse = vi_number if language == "vi" else en_number
    (picker,) = at.date_input
    first, last = local_today() - timedelta(days=DAYS - 1), local_today()
    assert tuple(picker.value) == (first, last)  # 30 days asked, 10 available
    period = at.dataframe[0].value
    glob = str(mart / "warehouse" / "hotline_call_metrics" / "*" / "*.parquet")
    expected = dict(
        sql(
            "SELECT hotline_name, sum(answered_within_sl) / sum(offered_calls - short_abandoned_calls) "
            "FROM read_parquet(?) GROUP BY 1",
            glob,
        )
    )
    levels = dict(zip(period[t("column.hotline")], period[t("column.service_level")], strict=True))
    assert levels == pytest.approx(expected)
    # A shorter range: the table follows, and a rerun (the 60 s refresh) keeps it.
    picker.set_value((last - timedelta(days=1), last)).run()
    expected_two = dict(
        sql(
            "SELECT hotline_name, sum(offered_calls) FROM read_parquet(?) WHERE date >= ? GROUP BY 1",
            glob,
            last - timedelta(days=1),
        )
    )

    def offered():
        return dict(
            zip(
                at.dataframe[0].value[t("column.hotline")],
                at.dataframe[0].value[t("column.offered")],
                strict=True,
            )
        )

    assert offered() == expected_two
    at.run()
    assert tuple(at.date_input[0].value) == (last - timedelta(days=1), last)
    assert offered() == expected_two
    (repeats,) = sql(
        "SELECT sum(repeat_calls_24h) FROM read_parquet(?) WHERE date >= ?",
        str(mart / "warehouse" / "repeat_callers" / "*" / "*.parquet"),
        last - timedelta(days=1),
    )[0]
    caption = next(
        c.value for c in at.caption if t("trends.repeat_caption").split("{")[0] in c.value
    )
    assert t.number(repeats) in caption
    assert parse(t.number(repeats)) == repeats


# ----------------------------------------------------------------------------------- Agents


@pytest.mark.parametrize("language", ["vi", "en"])
def test_agents_per_agent_and_day(app, mart, language):
    at = app(mart, language).run()
    at.switch_page("views/agents.py").run()
    assert not at.exception and not at.error
    t = Texts(language)
    last = local_today()
    first = last - timedelta(days=6)
    assert tuple(at.date_input[0].value) == (first, last)
    frame = at.dataframe[0].value
    expected = sql(
        "SELECT count(*), sum(handled_calls), sum(outbound_attempts) FROM read_parquet(?) WHERE date >= ?",
        str(mart / "warehouse" / "agent_daily_load" / "*" / "*.parquet"),
        first,
    )[0]
    assert (
        len(frame),
        frame[t("column.handled")].sum(),
        frame[t("column.outbound_attempts")].sum(),
    ) == expected
    at.multiselect[0].set_value(["agent1"]).run()
    assert set(at.dataframe[0].value[t("column.agent")]) == {"agent1"}


# -------------------------------------------------------------------------- empty and partial


def test_no_mart_says_what_to_do(app, tmp_path):
    pages = {
        "vi": ("views/today.py", "views/trends.py", "views/agents.py"),
        "en": ("views/today.py",),
    }
    for language in LANGUAGES:
        for page in pages[language]:
            at = app(tmp_path / "nothing-here", language).run()
            if page != "views/today.py":
                at.switch_page(page).run()
            assert not at.exception
            (info,) = at.info
            assert "make demo" in info.value
            assert info.value == Texts(language)(
                "empty.no_mart", location=str(tmp_path / "nothing-here")
            )


def test_an_older_mart_hides_only_the_missing_tables_panels(app, tmp_path, settings_file):
    tables = ["daily_call_metrics", "hotline_call_metrics", "agent_daily_load"]
    build_mart(
        tmp_path,
        local_today() - timedelta(days=1),
        2,
        calls=200,
        tables=tables,
        settings=load_settings(settings_file),
    )
    at = app(tmp_path).run()
    assert not at.exception and not at.error
    t = Texts("vi")
    assert len(tiles(at)) == 4  # the hotline tiles are there
    titles = [s.value for s in at.subheader]
    assert t("today.intervals") not in titles and t("today.worklist") not in titles
    at.switch_page("views/trends.py").run()
    assert not at.exception and not at.error
    titles = [s.value for s in at.subheader]
    assert t("trends.hotlines") in titles
    assert t("trends.waits") not in titles and t("trends.repeat") not in titles
    at.switch_page("views/agents.py").run()
    assert not at.exception and len(at.dataframe) == 1


def test_the_language_switch_keeps_the_page(app, mart):
    at = app(mart).run()
    at.switch_page("views/trends.py").run()
    at.segmented_control[0].set_value("en").run()
    assert at.title[0].value == Texts("en")("trends.title")
    assert at.query_params["lang"] == "en"


# ------------------------------------------------------------------- catalogs and formats


def test_the_catalogs_have_the_same_keys_and_placeholders():
    vi, en = catalog("vi"), catalog("en")
    assert set(vi) == set(en), set(vi) ^ set(en)
    for key in vi:
        assert placeholders(vi[key]) == placeholders(en[key]), key


def test_every_key_the_code_uses_is_in_both_catalogs():
    sections = {key.split(".")[0] for key in catalog("vi")}
    used = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                match = re.fullmatch(r"([a-z_]+)\.[a-z0-9_]+", node.value)
                if match and match.group(1) in sections and not node.value.endswith(".py"):
                    used.add(node.value)
    assert len(used) > 100
    for language in LANGUAGES:
        assert used <= set(catalog(language)), (language, used - set(catalog(language)))


#: Calls whose arguments reach the screen.
DISPLAY_CALLS = {
    "title", "header", "subheader", "caption", "markdown", "write", "text", "metric", "info",
    "warning", "error", "success", "toast", "selectbox", "multiselect", "radio", "date_input",
    "segmented_control", "toggle", "checkbox", "button", "Page", "set_page_config", "tabs",
    "expander", "Axis", "X", "Y", "Color", "Tooltip", "XOffset", "table", "dataframe",
}  # fmt: skip
#: Arguments that are not shown: widget keys, paths, sizes, encodings.
NOT_SHOWN = {"key", "url_path", "width", "height", "layout", "sort", "format", "scale", "type"}
#: Not text either: encoding fields (``value:Q``), page files, catalog keys (``today.title``).
_FIELD = re.compile(r"^[a-z0-9_]+(:[QONT])?$|^.*\.py$|^-?[xy]$|^[a-z_]+\.[a-z0-9_]*$")


def hard_coded_strings(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", ""))
        if name not in DISPLAY_CALLS:
            continue
        values = list(node.args) + [k.value for k in node.keywords if k.arg not in NOT_SHOWN]
        for value in values:
            for part in ast.walk(value):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    text = part.value
                    if re.search(r"[^\W\d_]{2,}", text) and not _FIELD.match(text):
                        found.append(f"line {node.lineno}: {text!r}")
    return found


def test_no_user_visible_string_is_hard_coded_outside_the_catalogs():
    assert hard_coded_strings('st.header("Hello")') == ["line 1: 'Hello'"]  # the check works
    for path in PACKAGE.rglob("*.py"):
        assert hard_coded_strings(path.read_text()) == [], path


def test_numbers_and_dates_follow_the_language():
    vi, en = Texts("vi"), Texts("en")
    assert (vi.number(1234.5, 1), en.number(1234.5, 1)) == ("1.234,5", "1,234.5")
    assert (vi.number(1234567), en.number(1234567)) == ("1.234.567", "1,234,567")
    assert (vi.percent(0.834), en.percent(0.834)) == ("83,4 %", "83.4%")
    assert (vi.points(-0.034), en.points(0.05)) == ("-3,4 điểm", "+5.0 pts")
    assert (vi.date(date(2026, 3, 4)), en.date(date(2026, 3, 4))) == ("04/03/2026", "2026-03-04")
    moment = datetime(2026, 3, 4, 10, 45)
    assert (vi.datetime(moment), en.datetime(moment)) == ("04/03/2026 10:45", "2026-03-04 10:45")
    assert (vi.seconds(12.34), en.seconds(None)) == ("12,3 giây", "—")
    assert vi.duration(3725) == "1:02:05"


def test_the_next_refresh_is_the_next_tick_within_opening_hours():
    intraday = IntradaySettings()  # */15 7-21, open 07:00-22:00
    at = lambda h, m, day=4: datetime(2026, 3, day, h, m, tzinfo=LOCAL)  # noqa: E731
    assert next_refresh(at(10, 40), intraday) == at(10, 45)
    assert next_refresh(at(10, 45), intraday) == at(11, 0)
    assert next_refresh(at(21, 50), intraday) == at(7, 0, day=5)
    assert next_refresh(at(3, 0), intraday) == at(7, 0)
    short = IntradaySettings(cron="0,30 * * * 1-5", opens_at="08:00", closes_at="17:00")
    assert next_refresh(at(16, 45, day=6), short) == at(8, 0, day=9)  # Friday -> Monday


# ------------------------------------------------------------------ readers and a writing run

WRITER = """
import sys
from datetime import date
from alohub_assets.defs.kpi_mart.build import write_table_partitions
from alohub_assets.defs.kpi_mart.hotlines import hotline_parameters
from alohub_assets.defs.resources import kpi_settings_resource
from alohub_assets.settings import load_settings
from alohub_assets.storage.layout import Warehouse

warehouse = Warehouse.at(sys.argv[1])
first, last = date.fromisoformat(sys.argv[2]), date.fromisoformat(sys.argv[3])
params = hotline_parameters(kpi_settings_resource(load_settings(sys.argv[4])), None)
# Files replaced, then a new table: the catalog is rebuilt and renamed in.
for table in ("hotline_call_metrics", "daily_call_metrics", "callback_worklist"):
    write_table_partitions(warehouse, table, first, last, params)
print("done", flush=True)
"""


def test_readers_and_a_writing_run_never_wait_for_each_other(app, tmp_path, settings_file):
    """A process rebuilds every KPI table (what a run writes: each file replaced by rename, the
    catalog rebuilt and renamed in when a table appears) while the dashboard renders over and
    over and a reader holds the catalog open: neither fails nor waits for the other."""
    first = local_today() - timedelta(days=2)
    build_mart(
        tmp_path, first, 3, calls=300, tables=["daily_call_metrics", "hotline_call_metrics"],
        settings=load_settings(settings_file),
    )  # fmt: skip
    before = hotline_rows(tmp_path, local_today())
    held = duckdb.connect(str(tmp_path / "alohub.duckdb"), read_only=True)  # a notebook's
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path), str(first), str(local_today()),
         str(settings_file)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    import streamlit as st

    renders = 0
    try:
        while writer.poll() is None or renders < 2:
            st.cache_data.clear()
            at = app(tmp_path).run()
            assert not at.exception and not at.error, [e.value for e in at.error]
            shown = tiles(at)
            for name, (offered, *_rest) in before.items():  # rebuilt from the same calls
                assert vi_number(shown[name][Texts("vi")("today.offered")][0]) == offered
            renders += 1
        out, err = writer.communicate(timeout=120)
    finally:
        held.close()
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == 0, err[-2000:]
    assert "done" in out
    assert renders >= 2
    # The catalog was replaced under the open reader: a new reader sees the new tables.
    from alohub_dashboard.mart import MartReader  # pandas: not at every worker's collection

    assert "callback_worklist" in MartReader(str(tmp_path)).tables()


def test_a_mart_on_object_storage(app, s3_data_dir, tmp_path, settings_file):
    from alohub_assets.defs.kpi_mart.build import write_table_partitions
    from alohub_assets.defs.kpi_mart.hotlines import hotline_parameters
    from alohub_assets.defs.resources import kpi_settings_resource
    from alohub_assets.storage.layout import Warehouse
    from bench.kpi_year import synthesize_call_logs
    from tests.dashboard_mart import HOTLINES

    today = local_today()
    warehouse = Warehouse.at(s3_data_dir)
    synthesize_call_logs(warehouse.data_dir, today, 1, 200, HOTLINES)
    warehouse.push(warehouse.call_logs_file(today))
    params = hotline_parameters(kpi_settings_resource(load_settings(settings_file)), None)
    for table in ("daily_call_metrics", "hotline_call_metrics", "callback_worklist"):
        write_table_partitions(warehouse, table, today, today, params)
    local = hotline_rows(warehouse.data_dir, today)  # the working copy of what was uploaded
    at = app(s3_data_dir).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    shown = tiles(at)
    for name, (offered, *_rest) in local.items():
        assert vi_number(shown[name][Texts("vi")("today.offered")][0]) == offered
