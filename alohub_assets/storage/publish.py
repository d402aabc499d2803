"""Atomic writes: a reader sees the previous file or folder of a partition, or the new one.

No Dagster import. Files are written under a hidden temporary name in the same folder and
renamed into place; partition folders are staged whole and exchanged with the old one in one
step (``storage.leftovers``). Work files left by killed runs are removed by the next writer.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
from pathlib import Path

from alohub_assets.storage.leftovers import (
    exchange,
    remove_abandoned,
    work_name,
)


def failpoint(name: str) -> None:
    """Crash-safety tests set ``ALOHUB_FAILPOINT`` to a name to have the process killed here."""
    if os.environ.get("ALOHUB_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def temporary_sibling(path: Path) -> Path:
    """A hidden name in the same folder (same file system, so the rename is atomic); hidden so
    that ``*.parquet`` globs never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return work_name(path, "tmp")


def publish_file(tmp: Path, final: Path) -> None:
    """Atomically puts ``tmp`` in place of ``final``: readers see the old file or the new one.
    Temporary files of killed writers of ``final`` are removed on the way."""
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    failpoint("before_file_publish")
    os.replace(tmp, final)
    remove_abandoned(final)


def publish_dir(staging: Path, final: Path) -> None:
    """Replaces a partition folder by a complete staged one. Where the system can, the two are
    exchanged in one atomic step, so readers always find the folder (old or new); elsewhere two
    renames leave a moment with no folder. Work folders of killed writers are removed after."""
    final.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(10):  # another run of the same partition may be swapping at the same time
        trash = work_name(final, "trash")
        if final.exists() and exchange(staging, final):
            failpoint("between_folder_renames")  # the new folder is in; the old one beside it
            os.replace(staging, trash)
            break
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
    remove_abandoned(final)


def staging_dir_for(final: Path) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = work_name(final, "staging")
    staging.mkdir()
    return staging
