"""``make dev``: the Dagster UI with a persistent instance and the dashboard beside it; the
sandbox when no key is set."""

import os
import socket
import subprocess
import sys

from alohub_dev.local_instance import PROJECT_ROOT, prepare_dagster_home
from alohub_dev.sandbox.server import DEFAULT_API_KEY


def _free_port(preferred: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    home = prepare_dagster_home()
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    sandbox = None
    if not env.get("ALOHUB_API_KEY"):
        port = _free_port(8765)
        sandbox = subprocess.Popen(
            [sys.executable, "-m", "alohub_dev.sandbox.server", "--port", str(port)],
            cwd=PROJECT_ROOT,
        )
        env["ALOHUB_BASE_URL"] = f"http://127.0.0.1:{port}"
        env["ALOHUB_API_KEY"] = DEFAULT_API_KEY
        print(
            f"ALOHUB_API_KEY is unset: the pipeline uses the bundled AloHub sandbox on "
            f"http://127.0.0.1:{port} (set ALOHUB_API_KEY to use a real tenant).",
            flush=True,
        )
    ui_port = os.getenv("DAGSTER_PORT", "3000")
    print(f"Dagster UI: http://127.0.0.1:{ui_port}  (instance in {home})", flush=True)
    # The dashboard beside it, on the same data folder (ALOHUB_DASHBOARD_HOST / _PORT).
    dashboard = subprocess.Popen(
        [sys.executable, "-m", "alohub_dashboard.serve"], cwd=PROJECT_ROOT, env=env
    )
    try:
        subprocess.run(
            [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml",
             "-h", "127.0.0.1", "-p", ui_port],
            cwd=PROJECT_ROOT, env=env, check=False,
        )  # fmt: skip
    except KeyboardInterrupt:
        pass
    finally:
        dashboard.terminate()
        dashboard.wait(timeout=10)
        if sandbox is not None:
            sandbox.terminate()
            sandbox.wait(timeout=10)


if __name__ == "__main__":
    main()
