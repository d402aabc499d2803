"""The sandbox is a second, independent reading of the vendor document: it must not borrow the
pipeline's parsing or formatting, or a misreading would be made identically on both sides."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SANDBOX_MODULES = ("alohub_dev.sandbox.server", "alohub_dev.sandbox.calls")

CHECK = """
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
borrowed = sorted(m for m in sys.modules if m.split(".")[0] == "alohub_assets")
print(",".join(borrowed))
"""


def test_the_sandbox_imports_nothing_from_the_pipeline():
    out = subprocess.run(
        [sys.executable, "-c", CHECK, *SANDBOX_MODULES],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert out == "", f"the sandbox imports pipeline modules: {out}"


def test_the_sandbox_writes_times_as_the_document_shows():
    from datetime import UTC, datetime

    from alohub_dev.sandbox.vendor import looks_like_call_id, vendor_time

    # 02:52:33 UTC is 09:52:33 in UTC+7; day and month first, zero-padded.
    assert vendor_time(datetime(2026, 1, 21, 2, 52, 33, tzinfo=UTC)) == "21/01/2026 09:52:33"
    assert vendor_time(datetime(2026, 3, 3, 17, 0, 0, tzinfo=UTC)) == "04/03/2026 00:00:00"
    assert looks_like_call_id("20260310095227-ABCXYZ-342")
    assert not looks_like_call_id("2026031009522-ABCXYZ-342")
