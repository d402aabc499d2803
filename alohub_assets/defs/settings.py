"""The center's settings file, read once when the code location loads (``ALOHUB_SETTINGS_FILE``,
else ``./alohub.yaml`` when it exists, else the defaults).

Every Dagster object that depends on it takes its part from ``CENTER_SETTINGS``: the
``kpi_settings`` resource (thresholds, wait buckets, hotlines), the intraday schedule (cron,
opening hours), the reads of today's partition (overlap). A file that cannot be used raises
``SettingsError`` here, so the code location refuses to load with one line naming the file and
the key instead of running half-configured.
"""

from alohub_assets.settings import CenterSettings, SettingsError, load_settings, settings_path

CENTER_SETTINGS: CenterSettings = load_settings()


def settings_error(key: str, problem: str) -> SettingsError:
    """A problem with a value Dagster checks itself (a cron string), worded like the reader's."""
    return SettingsError(f"settings file {settings_path() or '(defaults)'}: {key}: {problem}")
