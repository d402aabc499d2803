"""Atomic writes: a reader sees the previous file or folder of a partition, or the new one.

No Dagster import. Files are written under a hidden temporary name in the same folder and
renamed into place; partition folders are staged whole and swapped in.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import time
import uuid
from pathlib import Path

STALE_STAGING_SECONDS = 6 * 3600


def failpoint(name: str) -> None:
    """Crash-safety tests set ``ALOHUB_FAILPOINT`` to a name to have the process killed here."""
    if os.environ.get("ALOHUB_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def temporary_sibling(path: Path) -> Path:
    """A hidden name in the same folder (same file system, so the rename is atomic); hidden so
    that ``*.parquet`` globs never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


def publish_file(tmp: Path, final: Path) -> None:
    """Atomically puts ``tmp`` in place of ``final``: readers see the old file or the new one."""
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    failpoint("before_file_publish")
    os.replace(tmp, final)


def publish_dir(staging: Path, final: Path) -> None:
    """Replaces a partition folder by a complete staged one. A crash between the two renames
    leaves the old copy as ``.trash`` beside it and no partition, which the next run redoes."""
    final.parent.mkdir(parents=True, exist_ok=True)
    trash = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.trash")
    for _ in range(10):  # another run of the same partition may be swapping at the same time
        try:
            os.replace(final, trash)
        except FileNotFoundError:
            pass
        failpoint("between_folder_renames")
        try:
            os.replace(staging, final)
            break
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
    else:
        raise RuntimeError(f"could not publish {final}: another writer kept replacing it")
    shutil.rmtree(trash, ignore_errors=True)
    for stale in final.parent.glob(f".{final.name}.*.trash"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in final.parent.glob(f".{final.name}.*.staging"):  # left by killed runs
        if time.time() - stale.stat().st_mtime > STALE_STAGING_SECONDS:
            shutil.rmtree(stale, ignore_errors=True)


def staging_dir_for(final: Path) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.staging")
    staging.mkdir()
    return staging
