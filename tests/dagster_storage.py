"""Two costs of Dagster's storage that test processes pay far more often than a deployment,
cut without changing what is stored (applied by tests/conftest.py in each test process).

Connections: an ephemeral instance (``DagsterInstance.ephemeral()``, and ``dg.materialize``
without an instance) keeps its runs and events in a named in-memory SQLite database, but opens
a new connection, and sets two PRAGMAs on it, for every statement: 442 connections for one
daily run, about a quarter of the run's CPU. Here each thread keeps its connection and each use
is still one transaction, committed or rolled back at its end, under the storage's own lock:
the same SQL on the same database. A use nested inside another on the same thread (the run
storage takes no lock) gets a new connection, as before.

Migration scripts: every new SQLite database Dagster makes (each ephemeral instance, each run's
event log of a SQLite instance) is stamped with the schema's revision, and alembic reads and
resolves all of Dagster's migration scripts for each: 0.10 s of CPU per ephemeral instance. The
scripts of a folder are read once per process here (0.02-0.03 s per instance).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as db
from alembic.script import ScriptDirectory
from dagster._core.storage.event_log.in_memory import InMemoryEventLogStorage
from dagster._core.storage.runs.in_memory import InMemoryRunStorage


@contextmanager
def _fresh_connection(engine: db.Engine) -> Iterator[db.Connection]:
    """What Dagster's in-memory storages do for every statement."""
    with engine.connect() as conn, conn.begin():
        conn.execute(db.text("PRAGMA foreign_keys=ON;")).close()
        yield conn


def _closable_anywhere(dialect, conn_rec, cargs, cparams) -> None:
    """A kept connection is closed by the garbage collector, in whichever thread it runs:
    SQLite's own check would make that an error (each is still used by its thread alone)."""
    cparams["check_same_thread"] = False


@contextmanager
def _kept_connection(storage: object, engine: db.Engine) -> Iterator[db.Connection]:
    # Kept on the storage, so they go (and with the last one the database) when it goes.
    kept = storage.__dict__.setdefault("_kept_connections", threading.local())
    conn = getattr(kept, "conn", None)
    if conn is None or conn.closed:
        if not db.event.contains(engine, "do_connect", _closable_anywhere):
            db.event.listen(engine, "do_connect", _closable_anywhere)
        conn = kept.conn = engine.connect()
        conn.execute(db.text("PRAGMA foreign_keys=ON;")).close()
        conn.commit()
    if conn.in_transaction():  # nested in a use of the same thread's connection
        with _fresh_connection(engine) as fresh:
            yield fresh
        return
    with conn.begin():
        yield conn


def keep_connections() -> None:
    """Patches both storage classes for this process (and the processes it forks)."""

    @contextmanager
    def event_connection(self: InMemoryEventLogStorage) -> Iterator[db.Connection]:
        with self._db_lock, _kept_connection(self, self._engine) as conn:
            yield conn

    @contextmanager
    def run_connection(self: InMemoryRunStorage) -> Iterator[db.Connection]:
        with _kept_connection(self, self._engine) as conn:
            yield conn

    def dispose(original):
        def dispose_kept(self) -> None:
            conn = getattr(self.__dict__.get("_kept_connections"), "conn", None)
            if conn is not None:  # this thread's; another thread's goes with the storage
                conn.close()
            original(self)

        return dispose_kept

    InMemoryEventLogStorage._connect = event_connection
    InMemoryEventLogStorage.dispose = dispose(InMemoryEventLogStorage.dispose)
    InMemoryRunStorage.connect = run_connection
    InMemoryRunStorage.dispose = dispose(InMemoryRunStorage.dispose)


def cache_migration_scripts() -> None:
    """``ScriptDirectory.from_config`` once per script folder and options for this process: the
    scripts are Dagster's own files, which do not change while the tests run."""
    original = ScriptDirectory.from_config.__func__
    scripts: dict[tuple, ScriptDirectory] = {}
    lock = threading.Lock()

    def from_config(cls, config, *args, **kwargs):
        key = (cls, config.get_main_option("script_location"), args, tuple(sorted(kwargs.items())))
        with lock:
            if key not in scripts:
                scripts[key] = original(cls, config, *args, **kwargs)
            return scripts[key]

    ScriptDirectory.from_config = classmethod(from_config)


def speed_up() -> None:
    keep_connections()
    cache_migration_scripts()
