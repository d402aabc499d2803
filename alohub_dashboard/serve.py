"""``make dashboard`` / ``python -m alohub_dashboard.serve``: the dashboard on
``ALOHUB_DASHBOARD_HOST`` (default 127.0.0.1: it has no accounts, put an authenticating proxy in
front before opening it wider) and ``ALOHUB_DASHBOARD_PORT`` (default 8501)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501


def address() -> tuple[str, int]:
    """Where the dashboard listens, from the environment."""
    host = os.getenv("ALOHUB_DASHBOARD_HOST") or DEFAULT_HOST
    port = os.getenv("ALOHUB_DASHBOARD_PORT") or str(DEFAULT_PORT)
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise SystemExit(f"ALOHUB_DASHBOARD_PORT must be a port number (1-65535), got {port!r}")
    return host, int(port)


def command(host: str, port: int) -> list[str]:
    """``streamlit run`` of the app, headless, without usage statistics or a file watcher."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.headless", "true",
        "--server.address", host,
        "--server.port", str(port),
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip


def main() -> None:
    host, port = address()
    print(f"Dashboard: http://{host}:{port}", flush=True)
    args = command(host, port)
    os.execv(args[0], args)


if __name__ == "__main__":
    main()
