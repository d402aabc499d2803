"""The center's settings file, read once when the code location loads (``ALOHUB_SETTINGS_FILE``,
else ``./alohub.yaml`` when it exists, else the defaults).

Every Dagster object that depends on it takes its part from ``CENTER_SETTINGS``: the
``kpi_settings`` resource (thresholds, wait buckets, hotlines), the intraday schedule (cron,
opening hours), the reads of today's partition (overlap). A file that cannot be used raises
``SettingsError`` here, so the code location refuses to load with one line naming the file and
the key instead of running half-configured.
"""

from alohub_assets.settings import CenterSettings, load_settings

CENTER_SETTINGS: CenterSettings = load_settings()
