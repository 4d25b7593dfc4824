"""Webhooks: `video.completed` and `video.failed`, signed the Standard Webhooks way.

Each event is first written to the database (one row per URL), then posted by
whichever worker gets to it, and retried with exponential backoff until it
is delivered or runs out of attempts. The signature is

    webhook-signature: v1,<base64 HMAC-SHA256(secret, f"{webhook-id}.{webhook-timestamp}.{body}")>

with the secret given as "whsec_" + base64, as in the Standard Webhooks spec,
so any of its verification libraries (or `verify` below) can check it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import logging
import secrets
import time

from .settings import Settings
from .store import Store

log = logging.getLogger("openreel.webhooks")
TOLERANCE_SECONDS = 300  # a receiver refuses signatures older (or newer) than this


def _key(secret: str) -> bytes:
    if not secret.startswith("whsec_"):
        raise ValueError("webhook_secret must start with whsec_ followed by base64 (e.g. from new_secret())")
    return base64.b64decode(secret[len("whsec_"):])


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    digest = hmac.new(_key(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: dict, body: str, now: float | None = None) -> bool:
    """Check a delivery as a receiver would: signature and timestamp."""
    h = {k.lower(): v for k, v in headers.items()}
    try:
        ts = int(h["webhook-timestamp"])
        expected = sign(secret, h["webhook-id"], ts, body).split(",", 1)[1]
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - ts) > TOLERANCE_SECONDS:
        return False
    offered = [s.split(",", 1)[1] for s in h.get("webhook-signature", "").split() if s.startswith("v1,")]
    return any(hmac.compare_digest(expected, s) for s in offered)


def queue_event(store: Store, settings: Settings, event_type: str, video_id: str) -> None:
    """Record an event for every configured URL; delivery happens in deliver_due."""
    if not settings.webhook_urls:
        return
    body = json.dumps({"id": "evt_" + secrets.token_hex(16), "object": "event", "type": event_type,
                       "created_at": int(time.time()), "data": {"id": video_id}}, separators=(",", ":"))
    for url in settings.webhook_urls:
        store.queue_webhook(url, event_type, body)


@functools.cache
def _client(timeout: float):
    """One HTTP client per process, kept: making one (its TLS context) costs about 20 ms, which a
    worker would otherwise pay before every delivery, between a job's end and the next one's start."""
    import httpx
    return httpx.Client(timeout=timeout)


def deliver_due(store: Store, settings: Settings) -> int:
    """Post every delivery that is due; returns how many succeeded."""
    if not (settings.webhook_urls or settings.admin_webhook_urls):
        return 0
    import httpx
    ok_count = 0
    for row in store.due_webhooks():
        client = _client(settings.webhook_timeout_seconds)
        ts = int(time.time())
        headers = {"content-type": "application/json", "webhook-id": row["id"], "webhook-timestamp": str(ts),
                   "webhook-signature": sign(settings.webhook_secret, row["id"], ts, row["body"])}
        try:
            r = client.post(row["url"], content=row["body"], headers=headers)
            ok, error = 200 <= r.status_code < 300, None if r.status_code < 300 else f"HTTP {r.status_code}"
        except httpx.HTTPError as exc:
            ok, error = False, f"{type(exc).__name__}: {exc}"
        if not ok:
            log.warning("webhook %s to %s failed (%s); will retry", row["id"], row["url"], error)
        store.webhook_result(row["id"], ok, error, settings.webhook_max_attempts)
        ok_count += ok
    return ok_count
