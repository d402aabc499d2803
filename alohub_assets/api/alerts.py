"""Alerts to a chat webhook: a short JSON message with a Slack-compatible ``text`` field, so a
Slack or Teams incoming webhook (or any HTTP receiver) takes it as is.

Pure Python, no Dagster; the standard library's ``urllib``, since httpx logs every request's URL
at INFO. The webhook URL (``ALOHUB_ALERT_WEBHOOK_URL``) is a secret: a
Slack URL is its own credential. It is never logged and never put in an error text or in the
message; logs say only "the webhook" and the failure's kind (status code or exception class).
Delivery is best effort: bounded retries, then ``False``, never an exception, so an unreachable
webhook cannot fail the pipeline.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

WEBHOOK_URL_ENV = "ALOHUB_ALERT_WEBHOOK_URL"
UI_BASE_URL_ENV = "ALOHUB_UI_BASE_URL"
DEFAULT_UI_BASE_URL = "http://127.0.0.1:3000"
ERROR_SUMMARY_CHARS = 500
SECRET_ENV_VARS = (WEBHOOK_URL_ENV, "ALOHUB_API_KEY", "ALOHUB_PII_HMAC_KEY")


@dataclass(frozen=True)
class Alert:
    """What went wrong, where, and where to look."""

    kind: str  # "run_failure" | "freshness"
    job: str | None
    partition: str | None
    error: str
    link: str

    def payload(self) -> dict[str, str | None]:
        where = self.job or "pipeline"
        if self.partition:
            where += f" [{self.partition}]"
        title = "failed" if self.kind == "run_failure" else "is late"
        return {
            "text": f"AloHub {where} {title}: {self.error}\n{self.link}",
            "kind": self.kind,
            "job": self.job,
            "partition": self.partition,
            "error": self.error,
            "link": self.link,
        }


def ui_base_url() -> str:
    """``ALOHUB_UI_BASE_URL``: where an operator opens the Dagster UI (links in alerts)."""
    return (os.getenv(UI_BASE_URL_ENV) or DEFAULT_UI_BASE_URL).rstrip("/")


def run_link(run_id: str) -> str:
    return f"{ui_base_url()}/runs/{run_id}"


def summarize_error(text: str | None, limit: int = ERROR_SUMMARY_CHARS) -> str:
    """The first lines of an error, shortened, with any configured secret value masked."""
    summary = " ".join((text or "unknown error").split())
    for name in SECRET_ENV_VARS:
        value = os.getenv(name)
        if value and len(value) >= 6:
            summary = summary.replace(value, f"<{name}>")
    return summary if len(summary) <= limit else summary[: limit - 1] + "…"


def _post_once(url: str, body: bytes, timeout_seconds: float) -> int:
    """The status code of one POST (an HTTP error status is returned, not raised)."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def post_alert(
    alert: Alert,
    url: str | None = None,
    *,
    attempts: int = 3,
    timeout_seconds: float = 5.0,
    backoff_seconds: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Posts ``alert`` to the webhook (``url``, else ``ALOHUB_ALERT_WEBHOOK_URL``); ``True`` when
    it answered 2xx. No webhook configured: nothing sent, ``False``."""
    url = url or os.getenv(WEBHOOK_URL_ENV)
    if not url:
        log.info("no alert webhook configured (%s unset): alert not sent", WEBHOOK_URL_ENV)
        return False
    if not url.startswith(("https://", "http://")):
        log.warning("alert not sent: %s is not an http(s) URL", WEBHOOK_URL_ENV)
        return False
    body = json.dumps(alert.payload()).encode()
    failure = "not attempted"
    for attempt in range(1, max(1, attempts) + 1):
        try:
            status = _post_once(url, body, timeout_seconds)
        except Exception as error:  # noqa: BLE001 (its text can hold the URL: the class only)
            failure = type(error).__name__
        else:
            if 200 <= status < 300:
                log.info("alert %s sent to the webhook (attempt %d)", alert.kind, attempt)
                return True
            failure = f"HTTP {status}"
            if status < 500 and status != 429:
                break  # the webhook refuses this message: asking again will not help
        if attempt < attempts:
            sleep(backoff_seconds * 2 ** (attempt - 1))
    log.warning("alert %s not delivered to the webhook: %s", alert.kind, failure)
    return False
