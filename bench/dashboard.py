"""`python -m bench.dashboard`: the dashboard's pages on a year of data (365 days x 20,000 calls
by default, inbound calls over 5 hotlines): the first render of the Today page and of the Trends
page, server side (Streamlit's AppTest runs the page script as the server does, without a
browser), each with empty caches; the figures go to docs/benchmarks-dashboard.md.

The year's call_logs are synthesized by bench.kpi_year and every KPI table is built by the same
code as the assets (bench.worker.mart_rebuild); what is measured is the dashboard's reads and
rendering, not the mart's build.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from bench.common import commit_stamp, run_worker
from bench.kpi_year import FIRST_DAY, synthesize_call_logs

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "alohub_dashboard" / "app.py"
TARGETS = {"today": 1.5, "trends": 3.0}


def render_times(data_dir: str, repeats: int) -> dict[str, list[float]]:
    """Seconds of each page's first render (caches emptied before each), ``repeats`` times."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["ALOHUB_DATA_DIR"] = data_dir
    with tempfile.TemporaryDirectory() as empty:  # imports and Streamlit's own start-up first
        os.environ["ALOHUB_DATA_DIR"] = empty
        AppTest.from_file(str(APP), default_timeout=120).run()
    os.environ["ALOHUB_DATA_DIR"] = data_dir
    times: dict[str, list[float]] = {"today": [], "trends": []}
    for _ in range(repeats):
        st.cache_data.clear()
        at = AppTest.from_file(str(APP), default_timeout=120)
        started = time.perf_counter()
        at.run()
        times["today"].append(time.perf_counter() - started)
        _check(at)
        st.cache_data.clear()
        at.switch_page("views/trends.py")
        started = time.perf_counter()
        at.run()
        times["trends"].append(time.perf_counter() - started)
        _check(at)
    return times


def _check(at) -> None:
    if at.exception or at.error:
        raise RuntimeError(f"the page failed: {[e.value for e in [*at.exception, *at.error]]}")
    if not at.metric and not at.dataframe:
        raise RuntimeError("the page showed no figure")


def write_report(
    path: Path, commit: str, days: int, calls: int, build: dict, times: dict[str, list[float]]
) -> str:
    load = os.getloadavg()
    rows, met_all = [], True
    for page, label in (("today", "Today (Hôm nay)"), ("trends", "Trends (Xu hướng)")):
        median = statistics.median(times[page])
        met = median <= TARGETS[page]
        met_all &= met
        rows.append(
            f"| {label}, first render, s | {median:.2f} | {min(times[page]):.2f} | "
            f"{max(times[page]):.2f} | <= {TARGETS[page]} | {'yes' if met else '**no**'} |"
        )
    lines = [
        "# Benchmark: the dashboard on a year of data",
        "",
        f"Made by `python -m bench.dashboard --days {days} --calls {calls}` at commit {commit} on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Machine: {platform.machine()}, "
        f"{os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        f"(1 / 5 / 15 min) when it finished; Python {platform.python_version()}, "
        f"streamlit {version('streamlit')}, duckdb {version('duckdb')}.",
        "",
        f"Mart: {days} days x {calls:,} synthetic calls ({build['offered']:,} calls, inbound "
        "calls over 5 hotlines), every KPI table built by the assets' code "
        f"(in {build['full']:.1f} s, not timed here). A render is the page script run server "
        "side by Streamlit's AppTest, as the server runs it for a browser, with the caches "
        f"emptied first; {len(times['today'])} render(s) per page after one warm-up of the "
        "interpreter (imports). The page shows the mart's last day (no today in it).",
        "",
        "| figure | median | min | max | target | met |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "Targets met." if met_all else "Targets **not** met in this run.",
        "",
    ]
    text = "\n".join(lines)
    path.write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks-dashboard.md")
    args = parser.parse_args(argv)
    commit = commit_stamp()
    with tempfile.TemporaryDirectory() as data_dir:
        synthesize_call_logs(Path(data_dir), FIRST_DAY, args.days, args.calls)
        build = run_worker(
            "mart_rebuild", data_dir=data_dir, first_day=str(FIRST_DAY), days=args.days
        )
        times = render_times(data_dir, args.repeats)
    print(write_report(args.output, commit, args.days, args.calls, build, times))


if __name__ == "__main__":
    main()
