"""Keyed hashing of personal data (``ALOHUB_PII_HMAC_KEY``), computed inside DuckDB."""

from __future__ import annotations

import hashlib
import hmac


def hmac_pads(key: str) -> dict[str, bytes]:
    """HMAC-SHA256's inner and outer keys, so SQL can compute HMAC(key, value) as
    sha256(opad || sha256(ipad || value)) without the key itself entering the query."""
    raw = key.encode()
    if len(raw) > 64:
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(64, b"\0")
    return {"ipad": bytes(b ^ 0x36 for b in raw), "opad": bytes(b ^ 0x5C for b in raw)}


def hmac_token(key: str, value: str) -> str:
    """The token ``call_logs`` stores for ``value`` under the PII option (the SQL computes the same
    from ``hmac_pads``): lets a setting written in clear (a hotline number) find its calls."""
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()
