"""Shared plumbing: a sandbox in its own process, measured subprocesses, medians."""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from alohub_assets.api.client import tls_context

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "bench-key"


@dataclass
class Result:
    """One benchmark's figures, as a row of docs/benchmarks.md; ``runs`` keeps the raw runs."""

    name: str
    figures: dict[str, float | int | str]
    target: str
    met: bool | None
    note: str = ""
    runs: list[dict] = field(default_factory=list)


@dataclass
class SandboxProcess:
    url: str

    def requests(self) -> dict[str, int]:
        # The process's certificate store: a client of its own would load it again (~50 ms).
        stats = httpx.get(f"{self.url}/_sandbox/stats", timeout=30, verify=tls_context())
        return stats.json()["requests"]


@contextmanager
def sandbox_process(*args: str) -> Iterator[SandboxProcess]:
    """``alohub-sandbox`` in a process of its own, so its work does not share our GIL (forked
    from this one when ``FORK_WORKERS``: the same server, without half a second of imports)."""
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        argv = ["--port", "0", "--api-key", API_KEY, "--port-file", str(port_file), *args]
        if FORK_WORKERS:
            process = _ForkedSandbox(argv)
        else:
            process = subprocess.Popen(
                [sys.executable, "-m", "alohub_dev.sandbox.server", *argv],
                cwd=ROOT, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while not port_file.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the sandbox did not start")
                time.sleep(0.05)
            yield SandboxProcess(f"http://127.0.0.1:{port_file.read_text()}")
        finally:
            process.terminate()
            process.wait(timeout=10)


class _ForkedSandbox:
    """The sandbox's ``main`` in a process forked from this one; ``poll``, ``terminate`` and
    ``wait`` as a ``Popen``'s."""

    def __init__(self, argv: list[str]) -> None:
        self.process = multiprocessing.get_context("fork").Process(
            target=_sandbox_here, args=(argv,), daemon=True
        )
        self.process.start()

    def poll(self) -> int | None:
        return self.process.exitcode

    def terminate(self) -> None:
        self.process.terminate()

    def wait(self, timeout: float) -> int | None:
        self.process.join(timeout)
        if self.process.exitcode is None:  # SIGTERM handled, not obeyed: ends it anyway
            self.process.kill()
            self.process.join()
        return self.process.exitcode


def _sandbox_here(argv: list[str]) -> None:
    from alohub_dev.sandbox.server import main

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # as the subprocess's stderr=DEVNULL
    main(argv)


#: Tests (tests/test_benchmarks.py) set this: a worker, and a `dagster` CLI run, is then a
#: process forked from the test's, which has Python, Dagster and DuckDB loaded already, instead
#: of a fresh one that spends seconds importing them. Its start-up and memory figures are then
#: not its own (the tests assert neither); `make bench` always measures fresh processes.
FORK_WORKERS = False


def run_worker(function: str, env: dict[str, str] | None = None, **kwargs) -> dict:
    """Runs ``bench.worker.<function>(**kwargs)`` in a fresh process (with ``env``, else ours);
    returns its JSON result with ``peak_rss_mb``, the process's peak resident memory."""
    if FORK_WORKERS:
        return _forked_worker(function, kwargs, env)
    completed = subprocess.run(
        [sys.executable, "-m", "bench.worker", function, json.dumps(kwargs)],
        cwd=ROOT, capture_output=True, text=True,
        env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    if completed.returncode != 0:
        raise RuntimeError(f"bench.worker {function} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _forked_worker(function: str, kwargs: dict, env: dict[str, str] | None) -> dict:
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_work_and_send, args=(function, kwargs, env, send))
    process.start()
    send.close()
    try:
        outcome = receive.recv()
    except EOFError:
        outcome = {"error": "the worker died without an answer"}
    process.join()
    if "error" in outcome:
        raise RuntimeError(f"bench.worker {function} failed:\n{outcome['error'][-3000:]}")
    return outcome["result"]


def _work_and_send(function: str, kwargs: dict, env: dict[str, str] | None, send) -> None:
    import traceback

    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    try:
        from bench import worker

        result = json.loads(json.dumps(getattr(worker, function)(**kwargs)))
        send.send({"result": result})
    except BaseException:  # the parent reports it
        send.send({"error": traceback.format_exc()})
    finally:
        send.close()
        os._exit(0)


def commit_stamp() -> str:
    """The commit measured, flagged when the code differs from it (not the docs, which the
    benchmarks themselves write one file after another)."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        except OSError:  # no git: a tarball of the project
            return ""
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    code = ("*.py", "*.sql", "pyproject.toml", "uv.lock")
    return head + (
        " (with uncommitted changes)" if git("status", "--porcelain", "--", *code) else ""
    )


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


class ForkedCli:
    """``dagster <args>`` as a process of its own with exactly ``env`` and ``cwd``, forked from
    this one (Dagster imported already) instead of a new interpreter that spends seconds
    importing it. The code location's modules are imported again in the child, so that they
    read ``env`` as a fresh ``dagster`` process would. ``wait()`` gives the exit code and the
    output (stdout and stderr together, as a terminal shows them)."""

    def __init__(
        self, args: list[str], env: dict[str, str], cwd: str | os.PathLike, log: str | os.PathLike
    ) -> None:
        self.log = Path(log)
        self.process = multiprocessing.get_context("fork").Process(
            target=_dagster_cli_here, args=(list(args), dict(env), str(cwd), str(self.log))
        )
        self.process.start()

    def wait(self, timeout: float = 300) -> tuple[int | None, str]:
        self.process.join(timeout)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()
        return self.process.exitcode, self.log.read_text(errors="replace")


def _dagster_cli_here(args: list[str], env: dict[str, str], cwd: str, log: str) -> None:
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(out, 1)
    os.dup2(out, 2)
    sys.stdout = sys.stderr = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for name in [m for m in sys.modules if m.split(".")[0] in ("alohub_assets", "bench")]:
        del sys.modules[name]
    code = 1
    try:
        from dagster._cli import ENV_PREFIX, cli

        cli.main(args=args, prog_name="dagster", auto_envvar_prefix=ENV_PREFIX)
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:  # noqa: BLE001 (reported in the output, as the CLI would)
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
    os._exit(code)
