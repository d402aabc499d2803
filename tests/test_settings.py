"""The settings file: what a center tunes, read when the code location loads. A file that cannot
be used stops the load with one line naming the file and the key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from alohub_assets.defs.resources import kpi_settings_resource
from alohub_assets.settings import (
    DEFAULT_SETTINGS,
    SETTINGS_FILE_ENV,
    SettingsError,
    load_settings,
)

ROOT = Path(__file__).resolve().parents[1]

BAD_FILES = {
    "unparsable YAML": ("kpi: {service_level_seconds: 15\n", "not valid YAML: line 2"),
    "unknown top-level key": ("hotline: {}\n", "hotline: unknown key"),
    "unknown nested key": ("kpi:\n  service_levl_seconds: 15\n", "kpi.service_levl_seconds"),
    "unknown hotline key": (
        'hotlines:\n  "19006868": {nam: Sales}\n',
        "hotlines.19006868.nam: unknown key",
    ),
    "wrong type": ('kpi: {service_level_seconds: "20"}\n', "kpi.service_level_seconds"),
    "negative threshold": (
        'hotlines:\n  "19006868": {service_level_seconds: -5}\n',
        "hotlines.19006868.service_level_seconds",
    ),
    "unsorted buckets": ("wait_buckets: [0, 20, 10]\n", "wait_buckets: must be strictly"),
    "not a mapping": ("- kpi\n", "the top level must be a mapping"),
    "bad opening hours": (
        'intraday: {opens_at: "22:00", closes_at: "07:00"}\n',
        "intraday: opens_at 22:00 must be before",
    ),
    "cron of four fields": ('intraday: {cron: "*/15 7-21 * *"}\n', "intraday.cron"),
    "bad closed day": ('closed_days: ["2026-13-40"]\n', "closed_days.0"),
}


@pytest.mark.parametrize("text,key", BAD_FILES.values(), ids=list(BAD_FILES))
def test_each_bad_file_is_refused_with_one_line_naming_the_file_and_the_key(tmp_path, text, key):
    path = tmp_path / "alohub.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError) as error:
        load_settings(path)
    message = str(error.value)
    assert message.startswith(f"settings file {path}: ") and key in message
    assert "\n" not in message and "Traceback" not in message


def test_a_named_file_that_is_missing_is_an_error_and_no_file_means_the_defaults(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(SETTINGS_FILE_ENV, raising=False)
    assert load_settings() == DEFAULT_SETTINGS  # no ./alohub.yaml
    monkeypatch.setenv(SETTINGS_FILE_ENV, str(tmp_path / "nowhere.yaml"))
    with pytest.raises(SettingsError, match="nowhere.yaml: not found"):
        load_settings()
    monkeypatch.delenv(SETTINGS_FILE_ENV)
    (tmp_path / "alohub.yaml").write_text("kpi: {service_level_seconds: 15}\n")
    assert load_settings().kpi.service_level_seconds == 15  # ./alohub.yaml when it exists


def test_the_example_file_holds_the_defaults_and_reaches_the_kpi_resource():
    example = load_settings(ROOT / "alohub.example.yaml")
    assert example.kpi == DEFAULT_SETTINGS.kpi
    assert example.wait_buckets == DEFAULT_SETTINGS.wait_buckets
    assert example.intraday == DEFAULT_SETTINGS.intraday
    assert example.forecast == DEFAULT_SETTINGS.forecast
    assert example.staffing == DEFAULT_SETTINGS.staffing
    resource = kpi_settings_resource(example)
    assert resource.hotlines["19006868"].service_level_seconds == 15
    assert resource.center_settings().hotline_thresholds() == example.hotline_thresholds()


def _load_code_location(settings_file: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, SETTINGS_FILE_ENV: str(settings_file)}
    return subprocess.run(
        [sys.executable, "-c", "import alohub_assets.definitions"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_code_location_refuses_to_load_a_bad_file(tmp_path):
    bad = tmp_path / "alohub.yaml"
    bad.write_text('intraday: {cron: "61 7-21 * * *"}\n')  # five fields, no such minute
    loaded = _load_code_location(bad)
    assert loaded.returncode != 0
    last = loaded.stderr.strip().splitlines()[-1]
    assert last.startswith("alohub_assets.settings.SettingsError: settings file ")
    assert str(bad) in last and "intraday.cron" in last
