"""The dashboard as the floor sees it: `make dashboard` on data the demo's way (the daily
pipeline on the sandbox, the example settings file's hotlines), loaded in headless Chromium;
the last day's offered calls and service level of a hotline, as rendered, equal the mart's.
With ALOHUB_SCREENSHOT_DIR set (`make screenshot`) it also saves the Today page in both
languages."""

from __future__ import annotations

import os
import re
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import httpx
import pytest

from alohub_assets.api.client import tls_context
from alohub_assets.api.records import local_today
from alohub_assets.defs import ALL_ASSETS
from alohub_assets.defs.ingest.jobs import DAILY_PIPELINE
from alohub_assets.defs.resources import kpi_settings_resource
from alohub_assets.settings import load_settings
from tests.support import pipeline_resources
from tests.test_ui import CHROMIUM_FLAGS, chromium, free_port  # noqa: F401 (the fixture)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_SETTINGS = ROOT / "alohub.example.yaml"
HOTLINE = "19006868"  # "Sales" in the example settings file


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory):
    """The last 2 complete days through the daily pipeline on the sandbox, as `make demo` runs
    it (fewer days: the page shows the last one)."""
    from alohub_dev.sandbox.calls import CallStore
    from alohub_dev.sandbox.server import SandboxConfig, build_server
    from tests.support import API_KEY

    data = tmp_path_factory.mktemp("demo") / "data"
    last = local_today() - timedelta(days=1)
    store = CallStore(first_day=last - timedelta(days=1), last_day=last, calls_per_day=300)
    server = build_server(store=store, config=SandboxConfig(api_key=API_KEY)).start_in_thread()

    class Handle:
        url = server.url

    resources = pipeline_resources(Handle, data)
    resources["kpi_settings"] = kpi_settings_resource(load_settings(EXAMPLE_SETTINGS))
    try:
        for day in (last - timedelta(days=1), last):
            dg.materialize(
                ALL_ASSETS,
                selection=DAILY_PIPELINE,
                partition_key=day.isoformat(),
                resources=resources,
            )
    finally:
        server.stop()
    return data, last


@pytest.fixture(scope="module")
def dashboard(demo_data, tmp_path_factory):
    """`make dashboard` on that data folder, on a free port of 127.0.0.1."""
    data, _ = demo_data
    port = free_port()
    log_path = tmp_path_factory.mktemp("dashboard") / "dashboard.log"
    env = {
        **os.environ,
        "ALOHUB_DATA_DIR": str(data),
        "ALOHUB_SETTINGS_FILE": str(EXAMPLE_SETTINGS),
        "ALOHUB_DASHBOARD_PORT": str(port),
    }
    env.pop("ALOHUB_DASHBOARD_HOST", None)  # the default: loopback
    log = open(log_path, "w")
    process = subprocess.Popen(
        ["make", "--no-print-directory", "dashboard"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2, verify=tls_context()).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("make dashboard did not come up:\n" + log_path.read_text()[-3000:])
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
        log.close()


def vi_number(text: str) -> float:
    return float(re.sub(r"[^0-9,\-]", "", text.replace(".", "")).replace(",", "."))


def test_the_last_days_tiles_in_chromium_are_the_marts(chromium, demo_data, dashboard):  # noqa: F811
    from playwright.sync_api import sync_playwright

    data, last = demo_data
    with duckdb.connect(str(data / "alohub.duckdb"), read_only=True) as con:
        offered, level = con.execute(
            "SELECT offered_calls, service_level FROM hotline_call_metrics "
            "WHERE date = ? AND hotline = ?",
            [last, HOTLINE],
        ).fetchone()
    assert offered > 0
    shots = os.environ.get("ALOHUB_SCREENSHOT_DIR")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1900})
            page.goto(dashboard, wait_until="domcontentloaded")
            tile = page.locator(f".st-key-hotline-{HOTLINE}")
            # The tile's own label, then the script's run over (on a busy machine Streamlit
            # draws a page in steps): what is read is the finished page.
            labels = tile.get_by_test_id("stMetricLabel")
            labels.filter(has_text="Cuộc gọi đến").first.wait_for(timeout=60_000)
            page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=60_000)
            values = tile.get_by_test_id("stMetricValue").all_inner_texts()
            texts = [label.strip() for label in labels.all_inner_texts()]
            shown = dict(zip(texts, values, strict=True))
            assert "Cuộc gọi đến" in shown, shown
            assert vi_number(shown["Cuộc gọi đến"]) == offered
            (level_label,) = [label for label in shown if label.startswith("Mức phục vụ")]
            assert vi_number(shown[level_label]) == pytest.approx(round(level * 100, 1))
            # The page says which day it shows: the demo's data has no today.
            assert last.strftime("%d/%m/%Y") in page.get_by_test_id("stAlert").first.inner_text()
            if shots:
                page.wait_for_timeout(2000)  # charts drawn
                page.screenshot(path=str(Path(shots) / "dashboard-vi.png"), full_page=True)
                page.goto(f"{dashboard}/?lang=en", wait_until="domcontentloaded")
                english = page.locator(f".st-key-hotline-{HOTLINE}")
                english.get_by_text("Offered").first.wait_for(timeout=60_000)
                page.wait_for_timeout(2000)
                page.screenshot(path=str(Path(shots) / "dashboard-en.png"), full_page=True)
        finally:
            browser.close()
