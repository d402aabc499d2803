"""`make demo`: the bundled sandbox on a free port, one day fetched through the client."""

from __future__ import annotations

from datetime import date, timedelta

from alohub_assets.alohub_client import AloHubClient
from alohub_assets.records import local_day_window
from alohub_assets.sandbox.server import DEFAULT_API_KEY, build_server


def main() -> None:
    server = build_server().start_in_thread()
    day = date.today() - timedelta(days=1)
    try:
        with AloHubClient(DEFAULT_API_KEY, base_url=server.url) as client:
            rows = client.list_call_logs(*local_day_window(day))
            calls = len({row["callId"] for row in rows})
            print(f"{day}: {len(rows)} rows, {calls} calls; {client.stats.as_dict()}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
