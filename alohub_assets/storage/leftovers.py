"""Atomic folder exchange and the clean-up of what killed writers leave behind.

No Dagster import. A partition folder is replaced by exchanging it with its complete staged copy
in one ``renameat2(RENAME_EXCHANGE)`` call (Linux 3.15+, glibc 2.28+), so a reader always finds
the folder, old or new. Where the call is missing (another OS, a file system without it) the
caller falls back to two renames, with a moment in between where the folder is absent.

Hidden work files carry their writer's process id (``.NAME.<pid>.<hex>.staging|tmp|trash``): a
later run removes those whose writer is gone, and never a live concurrent run's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import time
import uuid
from pathlib import Path

RENAME_EXCHANGE = 2
AT_FDCWD = -100
ABANDONED_AFTER_SECONDS = 6 * 3600  # a writer on another machine sharing the folder

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_renameat2 = getattr(_libc, "renameat2", None)


def exchange(a: Path, b: Path) -> bool:
    """Swaps two existing paths atomically; False when this system cannot (use two renames)."""
    if _renameat2 is None:
        return False
    result = _renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (38, 22, 95):  # ENOSYS, EINVAL, EOPNOTSUPP: no exchange here
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def work_name(final: Path, kind: str) -> Path:
    """A hidden sibling of ``final`` owned by this process (same file system: renames are atomic;
    hidden: ``*.parquet`` globs and readers of the folder never see it)."""
    return final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.{kind}")


def _writer_gone(path: Path) -> bool:
    parts = path.name.rsplit(".", 3)  # [".NAME", pid, hex, kind]
    try:
        pid = int(parts[1])
    except (IndexError, ValueError):
        pid = None
    if pid is not None and pid != os.getpid():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
    try:
        return time.time() - path.lstat().st_mtime > ABANDONED_AFTER_SECONDS
    except FileNotFoundError:
        return False


def remove_abandoned(final: Path) -> list[Path]:
    """Removes the hidden work files of ``final`` whose writer is no longer running."""
    removed = []
    for path in final.parent.glob(f".{final.name}.*"):
        if path.name.endswith((".staging", ".tmp", ".trash")) and _writer_gone(path):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed
