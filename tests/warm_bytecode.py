"""Writes the bytecode of what `make test`'s processes import, once, before they start.

`uv sync` writes no .pyc files, so on a fresh clone every process compiles what it imports,
and `make test` starts many at once: four pytest workers beside `dg check defs` and
`dg list defs`, then the deployment's services and runs, `dagster dev`, the notebook's kernel,
the dashboard, the S3 server. Each compiled Dagster and much else again: about 100 s of CPU on
a fresh clone, against about 30 s to compile what several of them import once here, in three
processes. When the bytecode is there already (every run after the first) this
costs a few milliseconds. A package left out here is only compiled later, as before.

    python -m tests.warm_bytecode
"""

from __future__ import annotations

import compileall
import importlib.util
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Only what several processes import: what one process alone imports (the notebook's kernel,
#: kubernetes for one test, scipy) is compiled once either way.
#: Packages they use nearly whole: compiled file by file, not imported.
COMPILED = [
    "dagster", "dagster_shared", "dagster_graphql", "dagster_webserver", "dagster_postgres",
    "dagster_aws", "dagster_dg_cli", "dagster_dg_core", "graphql", "graphene", "graphql_relay",
    "holidays", "streamlit", "playwright", "_pytest", "xdist", "execnet", "alembic", "mako",
    "antlr4", "uvicorn", "starlette", "anyio", "httpcore", "httpx", "rich", "markdown_it", "gql",
    "typer", "questionary", "structlog", "filelock", "platformdirs", "wcwidth", "jupyter_client",
    "traitlets",
]  # fmt: skip
#: Large packages of which they use a part: imported, which compiles just that part (in two
#: processes, beside the one that compiles).
IMPORTED = [
    "pandas", "numpy", "pyarrow.parquet", "pyarrow.dataset", "pyarrow.fs", "duckdb",
    "sqlalchemy.dialects.postgresql", "sqlalchemy.dialects.sqlite", "psycopg2", "pydantic",
    "yaml", "jinja2", "grpc", "google.protobuf", "requests", "urllib3", "hypothesis",
]  # fmt: skip
ALSO_IMPORTED = [
    "boto3", "botocore.session", "moto.server", "moto.s3.responses", "cryptography.fernet",
    "werkzeug", "flask", "altair", "narwhals", "tornado.web", "zmq", "websockets",
    "watchdog.observers",
]  # fmt: skip
OWN = ["alohub_assets", "alohub_dev", "alohub_dashboard", "bench", "tests"]
#: The tests of installed packages are never imported.
SKIPPED = re.compile(r"[/\\]tests?[/\\]")
#: When these are compiled, everything is (or was, and the tests compile what is missing).
MARKERS = ["dagster", "streamlit", "pandas"]


def package_folder(name: str) -> Path | None:
    """A top-level package's folder, found without importing it."""
    if (ROOT / name).is_dir():
        return ROOT / name
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def compiled(name: str) -> bool:
    folder = package_folder(name)
    return folder is None or Path(importlib.util.cache_from_source(folder / "__init__.py")).exists()


def compile_packages(names: list[str]) -> None:
    for folder in filter(None, map(package_folder, names)):
        compileall.compile_dir(folder, quiet=2, rx=SKIPPED, workers=1)


def import_modules(names: list[str]) -> None:
    for name in names:
        importlib.import_module(name)


class Part:
    """One part of the work in a process of its own, its errors in a file (a pipe that fills
    would stall it)."""

    def __init__(self, function: str, names: list[str]) -> None:
        self.errors = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [sys.executable, "-W", "ignore", "-m", "tests.warm_bytecode", function, *names],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self.errors,
        )

    def error(self) -> str | None:
        if self.process.wait() == 0:
            return None
        self.errors.seek(0)
        return self.errors.read()[-2000:]


def main(argv: list[str]) -> int:
    if argv:  # a part: compile or import the names given
        {"compile": compile_packages, "import": import_modules}[argv[0]](argv[1:])
        return 0
    if sys.flags.dont_write_bytecode:
        print("warm_bytecode: PYTHONDONTWRITEBYTECODE is set, so no bytecode is kept")
        return 0
    if all(map(compiled, MARKERS)):
        return 0
    started = time.monotonic()
    parts = [
        Part("compile", COMPILED + OWN),
        Part("import", IMPORTED),
        Part("import", ALSO_IMPORTED),
    ]
    for error in filter(None, (part.error() for part in parts)):
        # Not fatal: a module that cannot be imported here is the tests' to report.
        print(f"warm_bytecode: a part failed:\n{error}", file=sys.stderr)
    print(f"warm_bytecode: bytecode written in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
