"""The dashboard for the floor: a reader of the KPI mart, outside the code location.

It imports the Dagster-free layers of ``alohub_assets`` (``storage``, ``settings``, ``api``
vocabulary) and never ``alohub_assets.defs`` or ``alohub_assets.definitions``
(import-linter checks it, and that ``alohub_assets`` never imports the dashboard).
"""
