"""The access program: users, roles, scoped and limited API keys, leak containment, the audit trail.

Sora's preview lost control of leaked tester keys for about three hours, and
then paused every artist. Here:

  * every person and integration has its own key, `ork_` + 43 URL-safe
    characters (32 random bytes), shown once and stored only as an
    HMAC-SHA256 digest under the server secret, compared in constant time;
  * a key carries scopes and limits (rate, concurrent jobs, seconds and
    size per video, a daily quota of video-seconds, allowed networks);
  * every request looks its key up in the database, so a revocation or a
    suspension holds on the very next request in every process;
  * leak rules watch each key's traffic against its own baseline and
    suspend that key alone, within the request that crosses a threshold;
  * every administrative act, and every video's creating key, goes into an
    append-only, hash-chained audit log that `openreel audit verify` checks.

No HTTP here: the API layer passes the header, client address and user agent.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (JSON, BigInteger, Column, Float, Integer, String, Table, Text, UniqueConstraint, func,
                        insert, select, text, update)
from sqlalchemy.exc import IntegrityError, OperationalError

from .settings import Settings
from .store import Store, metadata

log = logging.getLogger("openreel.access")

SCOPES = ("videos:create", "videos:read", "videos:delete", "review", "admin")
ROLES: dict[str, tuple[str, ...]] = {  # the scopes a role's keys may carry
    "admin": SCOPES,
    "reviewer": ("videos:read", "review"),
    "creator": ("videos:create", "videos:read", "videos:delete"),
    "viewer": ("videos:read",),
}
KEY_PREFIX = "ork_"

users = Table(
    "users", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), unique=True, nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", String(40), primary_key=True),  # key_...: how admins refer to a key; never the secret
    Column("digest", String(64), unique=True, nullable=False),  # HMAC-SHA256(server secret, key), hex
    Column("prefix", String(16), nullable=False),  # the first characters, for people to recognise it
    Column("name", String(200), nullable=False),
    Column("owner_id", String(40), nullable=False, index=True),
    Column("scopes", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_used_at", BigInteger),
    Column("expires_at", BigInteger),
    Column("revoked_at", BigInteger),
    Column("suspended_at", BigInteger),
    Column("suspended_reason", Text),
    # Limits (null = no limit).
    Column("rpm", Integer),  # requests per minute
    Column("max_concurrent", Integer),  # queued + running jobs at once
    Column("max_seconds", Integer),  # per video
    Column("max_pixels", Integer),  # per video, width x height of the output
    Column("daily_seconds", Integer),  # video-seconds per UTC day
    Column("allowed_cidrs", JSON),  # client networks, e.g. ["10.0.0.0/8"]
)

# Per key and minute: request counts, the baseline's raw material.
key_minutes = Table(
    "key_minutes", metadata,
    Column("key_id", String(40), primary_key=True),
    Column("minute", BigInteger, primary_key=True),
    Column("requests", Integer, nullable=False),
)

# Per key: distinct client addresses, user agents and prompts, with when each was last seen.
key_sightings = Table(
    "key_sightings", metadata,
    Column("key_id", String(40), primary_key=True),
    Column("kind", String(8), primary_key=True),  # ip | ua | prompt
    Column("value", String(128), primary_key=True),  # prompts as a hash, never the text
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
)

audit_log = Table(
    "audit_log", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(80), nullable=False),  # user:<id> / key:<id> / system
    Column("action", String(40), nullable=False),
    Column("target", String(80)),
    Column("details", Text, nullable=False),  # canonical JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("prev_hash", name="audit_chain_is_linear"),  # two appends can't share a parent
)
GENESIS = "0" * 64


class AccessError(Exception):
    """A refused request: HTTP status plus OpenAI's error envelope fields."""

    def __init__(self, status: int, message: str, code: str, type: str = "invalid_request_error",
                 param: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.type, self.param = status, message, code, type, param
        self.headers = headers or {}


@dataclass
class Principal:
    """Who is asking: the key, its owner and what the key may do."""
    key_id: str
    user_id: str
    role: str
    scopes: tuple[str, ...]
    limits: dict[str, Any] = field(default_factory=dict)

    @property
    def sees_everything(self) -> bool:
        return "admin" in self.scopes


@dataclass(frozen=True)
class LeakRules:
    """When a key's traffic looks like a leak. Windows in seconds; counts per window."""
    window: float = 600.0
    max_addresses: int = 8  # distinct client addresses in a window (a laptop, CI and a server are 3)
    max_user_agents: int = 8  # distinct user agents in a window
    rate_floor: int = 1200  # requests in the current minute never trip below this (10 jobs polled at 2 Hz)...
    rate_factor: float = 5.0  # ...and trip above this many times the key's baseline per minute
    prompt_floor: int = 30  # distinct prompts in a window never trip below this...
    prompt_factor: float = 5.0  # ...and trip above this many times the baseline per window


def hash_prompt(prompt: str) -> str:
    return hashlib.sha256(prompt.encode()).hexdigest()[:32]


class MinuteCounts:
    """Requests per key and clock minute: counted in memory, added to key_minutes about once a second.

    Why not a write per request: every write takes the database's write lock (SQLite has one
    writer for all processes), and under a few hundred polls a second that lock, shared with the
    workers' heartbeats, set the latency, not the work. Here a request only touches a dict; a
    background thread adds the pending increments in one transaction and reads back the totals,
    which include other processes' requests. So within one process a count is exact; across
    processes it lags by at most `every` seconds; a crash loses at most that much counting.
    """

    def __init__(self, engine, every: float = 1.0):
        self.engine, self.every = engine, every
        self._lock = threading.Lock()  # guards the dicts; held for microseconds
        self._flushing = threading.Lock()  # one flush at a time (the thread, atexit)
        self._pending: dict[tuple[str, int], int] = {}  # not yet written
        self._known: dict[tuple[str, int], int] = {}  # the database's total at the last flush
        self._writing: dict[tuple[str, int], int] = {}  # being written now (counted until the totals are back)
        self._touched: dict[str, int] = {}  # key -> last_used_at to write
        self._thread: threading.Thread | None = None
        atexit.register(_flush_at_exit, weakref.ref(self))

    def add(self, key_id: str, minute: int, touched_at: int | None = None) -> int:
        """Count one request; returns the requests of this key in this minute, this one included."""
        with self._lock:
            k = (key_id, minute)
            self._pending[k] = self._pending.get(k, 0) + 1
            if touched_at is not None:
                self._touched[key_id] = touched_at
            if self._thread is None:
                self._thread = threading.Thread(target=_flush_every, args=(weakref.ref(self), self.every),
                                                name="minute-counts", daemon=True)
                self._thread.start()
            return self._known.get(k, 0) + self._writing.get(k, 0) + self._pending[k]

    def forget(self, key_id: str) -> None:
        """A reinstated key starts its minute again (its rows were deleted)."""
        with self._lock:
            for k in [k for k in self._known if k[0] == key_id]:
                del self._known[k]
            for k in [k for k in self._pending if k[0] == key_id]:
                del self._pending[k]
            self._writing = {k: n for k, n in self._writing.items() if k[0] != key_id}

    def flush(self) -> None:
        with self._flushing:
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            pending, touched = self._pending, self._touched
            self._pending, self._touched, self._writing = {}, {}, pending
        if not pending and not touched:
            return
        totals = {}
        try:
            with self.engine.begin() as c:
                if c.dialect.name == "postgresql":
                    c.execute(text("SET LOCAL synchronous_commit TO OFF"))  # counters: not worth an fsync
                for (key_id, minute), n in sorted(pending.items()):  # one order in every process: no deadlocks
                    totals[(key_id, minute)] = _upsert(
                        c, key_minutes, {"key_id": key_id, "minute": minute, "requests": n},
                        ["key_id", "minute"], {"requests": key_minutes.c.requests + n},
                        returning=key_minutes.c.requests)
                for key_id, at in sorted(touched.items()):
                    c.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=at))
        except BaseException:
            with self._lock:  # put them back, so nothing is lost
                self._writing = {}
                for k, n in pending.items():
                    self._pending[k] = self._pending.get(k, 0) + n
                for k, at in touched.items():
                    self._touched.setdefault(k, at)
            raise
        with self._lock:
            self._known.update(totals)
            self._writing = {}
            newest = max(m for _, m in self._known) if self._known else 0
            for k in [k for k in self._known if k[1] < newest - 1]:  # only this minute and the last matter
                del self._known[k]


def _flush_every(ref: "weakref.ref[MinuteCounts]", every: float) -> None:
    """The background writer: flushes while its MinuteCounts lives (a weak reference, so an
    Access that is dropped, as tests drop many, takes its thread with it)."""
    while True:
        time.sleep(every)
        counts = ref()
        if counts is None:
            return
        try:
            counts.flush()
        except Exception:  # the database is away for a moment: the counts are kept, try again
            log.exception("could not write request counts; will retry")
        del counts


def _flush_at_exit(ref: "weakref.ref[MinuteCounts]") -> None:
    counts = ref()
    if counts is None:
        return
    try:
        counts.flush()
    except Exception as exc:  # the database may be gone already (a test's temporary folder)
        log.warning("request counts not written at exit: %s", exc)


class Access:
    def __init__(self, settings: Settings, store: Store):
        self.settings = settings
        self.store = store
        self.engine = store.engine
        metadata.create_all(self.engine)  # this module's tables (the store made its own)
        self.rules = LeakRules(**settings.leak_rules)
        self._secret = settings.secret_key.encode()
        # Per-process memos that only skip redundant writes and reads; the database stays the truth.
        self._sighted: dict[tuple[str, str, str], float] = {}  # (key, kind, value) -> when this process last wrote it
        self._baseline: dict[tuple[str, int], float] = {}  # (key, minute) -> mean requests per earlier minute
        self.counts = MinuteCounts(self.engine)

    # -- keys ------------------------------------------------------------------

    def digest(self, key: str) -> str:
        return hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()

    def create_user(self, name: str, role: str, actor: str = "system") -> dict:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if not name or len(name) > 200:
            raise ValueError("name must be 1 to 200 characters")
        row = {"id": "user_" + secrets.token_hex(8), "name": name, "role": role, "created_at": int(time.time())}
        try:
            with self.engine.begin() as c:
                c.execute(insert(users).values(**row))
        except IntegrityError:
            raise ValueError(f"a user named {name!r} already exists") from None
        self.audit(actor, "user.create", row["id"], {"name": name, "role": role})
        return row

    def user(self, user_id_or_name: str) -> dict | None:
        with self.engine.connect() as c:
            row = c.execute(select(users).where((users.c.id == user_id_or_name) | (users.c.name == user_id_or_name))).first()
        return dict(row._mapping) if row else None

    def list_users(self) -> list[dict]:
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(select(users).order_by(users.c.created_at, users.c.name))]

    def create_key(self, owner: str, name: str, scopes: list[str] | None = None, *, rpm: int | None = None,
                   max_concurrent: int | None = None, max_seconds: int | None = None, max_pixels: int | None = None,
                   daily_seconds: int | None = None, allowed_cidrs: list[str] | None = None,
                   expires_in: int | None = None, actor: str = "system", secret: str | None = None) -> tuple[str, dict]:
        """A new key for a user. Returns (the key, shown this once; its record)."""
        user = self.user(owner)
        if user is None:
            raise ValueError(f"no user {owner!r}")
        allowed = ROLES[user["role"]]
        scopes = list(allowed) if scopes is None else list(scopes)
        bad = [s for s in scopes if s not in allowed]
        if bad or not scopes:
            raise ValueError(f"scopes for a {user['role']} must be among {', '.join(allowed)}; got {', '.join(scopes) or 'none'}")
        for cidr in allowed_cidrs or []:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"allowed_cidrs: {cidr!r} is not a network like 10.0.0.0/8") from None
        for label, value in (("rpm", rpm), ("max_concurrent", max_concurrent), ("max_seconds", max_seconds),
                             ("max_pixels", max_pixels), ("daily_seconds", daily_seconds), ("expires_in", expires_in)):
            if value is not None and not 1 <= value <= 2**31 - 1:
                raise ValueError(f"{label} must be a whole number from 1 to 2147483647, got {value}")
        key = secret or KEY_PREFIX + secrets.token_urlsafe(32)
        if not key.startswith(KEY_PREFIX) or len(key) < len(KEY_PREFIX) + 43:
            raise ValueError("a configured key must be ork_ followed by at least 43 URL-safe characters")
        now = int(time.time())
        row = dict(id="key_" + secrets.token_hex(8), digest=self.digest(key), prefix=key[:8], name=name,
                   owner_id=user["id"], scopes=scopes, created_at=now,
                   expires_at=now + expires_in if expires_in else None, rpm=rpm, max_concurrent=max_concurrent,
                   max_seconds=max_seconds, max_pixels=max_pixels, daily_seconds=daily_seconds,
                   allowed_cidrs=allowed_cidrs or None)
        with self.engine.begin() as c:
            c.execute(insert(api_keys).values(**row))
        self.audit(actor, "key.create", row["id"], {"owner": user["id"], "name": name, "scopes": scopes,
                                                     "prefix": row["prefix"]})
        return key, self.public_key(row)

    @staticmethod
    def public_key(row: dict) -> dict:
        """A key's record as shown to admins: everything but the digest."""
        d = {k: v for k, v in dict(row).items() if k != "digest"}
        d["status"] = ("revoked" if d.get("revoked_at") else "suspended" if d.get("suspended_at")
                       else "expired" if d.get("expires_at") and d["expires_at"] < time.time() else "active")
        return d

    def list_keys(self, owner: str | None = None) -> list[dict]:
        q = select(api_keys).order_by(api_keys.c.created_at)
        if owner:
            user = self.user(owner)
            q = q.where(api_keys.c.owner_id == (user["id"] if user else owner))
        with self.engine.connect() as c:
            return [self.public_key(r._mapping) for r in c.execute(q)]

    def key(self, key_id: str) -> dict | None:
        with self.engine.connect() as c:
            row = c.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        return self.public_key(row._mapping) if row else None

    def revoke(self, key_id: str, actor: str = "system", cancel_jobs: bool = False) -> dict:
        """Revoke for good (only a new key restores access); optionally cancel its queued jobs."""
        with self.engine.begin() as c:
            res = c.execute(update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                            .values(revoked_at=int(time.time())))
        if not res.rowcount:
            if self.key(key_id) is None:
                raise LookupError(f"no key {key_id!r}")
            raise ValueError(f"key {key_id} is already revoked")
        cancelled = self.store.cancel_queued_of_key(key_id) if cancel_jobs else []
        self.audit(actor, "key.revoke", key_id, {"cancelled_jobs": cancelled})
        return {**self.key(key_id), "cancelled_jobs": cancelled}

    def suspend(self, key_id: str, reason: str, actor: str = "system") -> bool:
        with self.engine.begin() as c:
            res = c.execute(update(api_keys).where(api_keys.c.id == key_id, api_keys.c.suspended_at.is_(None),
                                                   api_keys.c.revoked_at.is_(None))
                            .values(suspended_at=int(time.time()), suspended_reason=reason))
        if res.rowcount:
            self.audit(actor, "key.suspend", key_id, {"reason": reason})
            self.notify_admins("key.suspended", {"key_id": key_id, "reason": reason})
        return bool(res.rowcount)

    def reinstate(self, key_id: str, actor: str = "system") -> dict:
        """Lift a suspension (not a revocation: that is final)."""
        k = self.key(key_id)
        if k is None:
            raise LookupError(f"no key {key_id!r}")
        if k["revoked_at"]:
            raise ValueError(f"key {key_id} is revoked; revocation is final, create a new key instead")
        if not k["suspended_at"]:
            raise ValueError(f"key {key_id} is not suspended")
        with self.engine.begin() as c:
            c.execute(update(api_keys).where(api_keys.c.id == key_id).values(suspended_at=None, suspended_reason=None))
            # A fresh start for the leak rules: what tripped them is history now.
            c.execute(key_sightings.delete().where(key_sightings.c.key_id == key_id))
            c.execute(key_minutes.delete().where(key_minutes.c.key_id == key_id,
                                                 key_minutes.c.minute >= int(time.time() // 60) - 1))
        self.counts.forget(key_id)
        self.audit(actor, "key.reinstate", key_id, {})
        return self.key(key_id)

    def notify_admins(self, event_type: str, data: dict) -> None:
        if not self.settings.admin_webhook_urls:
            return
        body = json.dumps({"id": "evt_" + secrets.token_hex(16), "object": "event", "type": event_type,
                           "created_at": int(time.time()), "data": data}, separators=(",", ":"))
        for url in self.settings.admin_webhook_urls:
            self.store.queue_webhook(url, event_type, body)

    # -- every request -----------------------------------------------------------

    def authenticate(self, authorization: str | None, client_ip: str, user_agent: str, scope: str) -> Principal:
        """The key behind an Authorization header, checked for life, network, scope, rate and leaks."""
        token = (authorization or "").strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        if not token:
            raise AccessError(401, "no API key: send Authorization: Bearer ork_...", "missing_api_key")
        digest = self.digest(token)
        now = time.time()
        with self.engine.connect() as c:
            row = c.execute(select(api_keys, users.c.role).join(users, users.c.id == api_keys.c.owner_id)
                            .where(api_keys.c.digest == digest)).first()
        # The lookup is by digest (an index); compare_digest keeps the last step constant-time too.
        if row is None or not hmac.compare_digest(row.digest, digest):
            raise AccessError(401, "invalid API key", "invalid_api_key")
        k = row._mapping
        if k["revoked_at"]:
            raise AccessError(401, "this API key has been revoked", "invalid_api_key")
        if k["expires_at"] and k["expires_at"] < now:
            raise AccessError(401, "this API key has expired", "invalid_api_key")
        if k["suspended_at"]:
            raise AccessError(403, f"this API key is suspended: {k['suspended_reason']}. An admin can reinstate it; "
                                   "other keys are not affected", "key_suspended")
        p = Principal(k["id"], k["owner_id"], k["role"], tuple(k["scopes"]),
                      {n: k[n] for n in ("rpm", "max_concurrent", "max_seconds", "max_pixels", "daily_seconds")})
        if k["allowed_cidrs"] and not _in_networks(client_ip, k["allowed_cidrs"]):
            self.suspend(p.key_id, f"used from {client_ip}, outside its allowed networks")
            raise AccessError(403, "this API key is suspended: used from outside its allowed networks",
                              "key_suspended")
        minute = int(now // 60)
        count, new_sighting = self._count_request(p.key_id, minute, client_ip, user_agent, now, k["last_used_at"])
        self._check_leaks(p, minute, count, now, new_sighting)
        if scope not in p.scopes:
            raise AccessError(403, f"this API key lacks the {scope} scope", "missing_scope", type="permission_error")
        if p.limits["rpm"] and count > p.limits["rpm"]:
            retry = max(1, int(60 - now % 60) + 1)
            raise AccessError(429, f"rate limit: {p.limits['rpm']} requests per minute for this key; retry in {retry} s",
                              "rate_limit_exceeded", type="rate_limit_error", headers={"Retry-After": str(retry)})
        return p

    def _count_request(self, key_id: str, minute: int, ip: str, ua: str, now: float,
                       last_used: int | None) -> tuple[int, bool]:
        """Count this request in its minute, note a new address or agent, touch last_used_at.

        Returns (requests this minute, whether a new address or agent was written). The count and
        last_used_at are kept in memory and written in batches (MinuteCounts); a sighting is written
        at once, since the leak rules count distinct sightings, unless this process wrote the same one
        in the last 30 s (the leak window is minutes long). New sightings are rare, so most requests
        write nothing at all.
        """
        fresh = [(kind, value) for kind, value in (("ip", ip), ("ua", (ua or "")[:128]))
                 if now - self._sighted.get((key_id, kind, value), 0.0) > 30]
        if fresh:
            with self.engine.begin() as c:
                if c.dialect.name == "postgresql":
                    # Sightings may lose a moment's writes in a crash; not worth an fsync each.
                    c.execute(text("SET LOCAL synchronous_commit TO OFF"))
                for kind, value in fresh:
                    _upsert(c, key_sightings, {"key_id": key_id, "kind": kind, "value": value, "first_seen": now,
                                               "last_seen": now}, ["key_id", "kind", "value"], {"last_seen": now})
            for kind, value in fresh:
                self._sighted[(key_id, kind, value)] = now
            if len(self._sighted) > 100_000:
                self._sighted.clear()
        touch = not last_used or now - last_used >= 10  # coarse: last_used_at is for people, not for limits
        return self.counts.add(key_id, minute, int(now) if touch else None), bool(fresh)

    def _check_leaks(self, p: Principal, minute: int, count: int, now: float, new_sighting: bool) -> None:
        r = self.rules
        base = self._baseline.get((p.key_id, minute))
        if base is None:  # earlier minutes don't change within this one: read once per minute
            with self.engine.connect() as c:
                base = float(c.execute(select(func.avg(key_minutes.c.requests)).where(
                    key_minutes.c.key_id == p.key_id, key_minutes.c.minute < minute,
                    key_minutes.c.minute >= minute - 24 * 60)).scalar() or 0.0)
            if len(self._baseline) > 100_000:
                self._baseline.clear()
            self._baseline[(p.key_id, minute)] = base
        seen: dict[str, int] = {}
        if new_sighting:  # distinct counts only grow when something new is seen
            with self.engine.connect() as c:
                seen = dict(c.execute(select(key_sightings.c.kind, func.count()).where(
                    key_sightings.c.key_id == p.key_id, key_sightings.c.last_seen >= now - r.window)
                    .group_by(key_sightings.c.kind)).fetchall())
        base_rpm = base
        reason = None
        if seen.get("ip", 0) > r.max_addresses:
            reason = f"{seen['ip']} distinct client addresses in {r.window / 60:g} min (limit {r.max_addresses})"
        elif seen.get("ua", 0) > r.max_user_agents:
            reason = f"{seen['ua']} distinct user agents in {r.window / 60:g} min (limit {r.max_user_agents})"
        elif count > max(r.rate_floor, r.rate_factor * float(base_rpm)):
            reason = f"{count} requests this minute against a baseline of {float(base_rpm):.1f} per minute"
        if reason:
            self.suspend(p.key_id, f"possible leak: {reason}")
            raise AccessError(403, f"this API key is suspended: possible leak ({reason}). An admin can reinstate "
                                   "it; other keys are not affected", "key_suspended")

    def record_prompt(self, p: Principal, prompt: str) -> None:
        """Track distinct prompts per key; a burst far above the key's baseline suspends it."""
        r, now = self.rules, time.time()
        with self.engine.begin() as c:
            _upsert(c, key_sightings, {"key_id": p.key_id, "kind": "prompt", "value": hash_prompt(prompt),
                                       "first_seen": now, "last_seen": now},
                    ["key_id", "kind", "value"], {"last_seen": now})
            recent = c.execute(select(func.count()).select_from(key_sightings).where(
                key_sightings.c.key_id == p.key_id, key_sightings.c.kind == "prompt",
                key_sightings.c.first_seen >= now - r.window)).scalar()
            older = c.execute(select(func.count()).select_from(key_sightings).where(
                key_sightings.c.key_id == p.key_id, key_sightings.c.kind == "prompt",
                key_sightings.c.first_seen < now - r.window, key_sightings.c.first_seen >= now - 86400)).scalar()
        baseline = older / max(1.0, (86400 - r.window) / r.window)  # new prompts per window, over the last day
        if recent > max(r.prompt_floor, r.prompt_factor * baseline):
            reason = f"{recent} new distinct prompts in {r.window / 60:g} min against a baseline of {baseline:.1f}"
            self.suspend(p.key_id, f"possible leak: {reason}")
            raise AccessError(403, f"this API key is suspended: possible leak ({reason})", "key_suspended")

    def check_job(self, p: Principal, seconds: int, width: int, height: int) -> None:
        """Per-key caps on one video, on jobs in flight, and the daily quota of video-seconds."""
        lim = p.limits
        if lim["max_seconds"] and seconds > lim["max_seconds"]:
            raise AccessError(403, f"seconds {seconds} is over this key's limit of {lim['max_seconds']}",
                              "key_limit", type="permission_error", param="seconds")
        if lim["max_pixels"] and width * height > lim["max_pixels"]:
            raise AccessError(403, f"size {width}x{height} is over this key's limit of {lim['max_pixels']} pixels",
                              "key_limit", type="permission_error", param="size")
        if lim["max_concurrent"]:
            running = self.store.in_flight_of_key(p.key_id)
            if running >= lim["max_concurrent"]:
                raise AccessError(429, f"this key already has {running} jobs queued or running (limit "
                                       f"{lim['max_concurrent']}); wait for one to finish",
                                  "concurrent_limit_exceeded", type="rate_limit_error",
                                  headers={"Retry-After": "5"})
        if lim["daily_seconds"]:
            day_start = int(time.time() // 86400 * 86400)
            used = self.store.seconds_of_key_since(p.key_id, day_start)
            if used + seconds > lim["daily_seconds"]:
                raise AccessError(429, f"daily quota: {used} of {lim['daily_seconds']} video-seconds used today "
                                       f"(UTC); this request needs {seconds}", "insufficient_quota",
                                  type="insufficient_quota",
                                  headers={"Retry-After": str(day_start + 86400 - int(time.time()))})

    # -- audit ---------------------------------------------------------------------

    def audit(self, actor: str, action: str, target: str | None, details: dict) -> None:
        """Append one row to the hash chain (retrying if another process appended first)."""
        body = json.dumps(details, sort_keys=True, separators=(",", ":"), default=str)
        for _ in range(50):
            try:
                with self.engine.begin() as c:
                    prev = c.execute(select(audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)).scalar()
                    prev = prev or GENESIS
                    at = time.time()
                    c.execute(insert(audit_log).values(at=at, actor=actor, action=action, target=target, details=body,
                                                       prev_hash=prev,
                                                       hash=_chain(prev, at, actor, action, target, body)))
                return
            except (IntegrityError, OperationalError):
                time.sleep(0.01)
        raise RuntimeError("could not append to the audit log")

    def audit_rows(self, limit: int = 1000) -> list[dict]:
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(select(audit_log).order_by(audit_log.c.seq).limit(limit))]

    def verify_audit(self) -> tuple[bool, int | None, str]:
        """Walk the chain. Returns (ok, first bad row's seq, message)."""
        prev = GENESIS
        n = 0
        with self.engine.connect() as c:
            for r in c.execute(select(audit_log).order_by(audit_log.c.seq)):
                n += 1
                if r.prev_hash != prev:
                    return False, r.seq, f"row {r.seq}: its link to the previous row is broken (a row was removed or reordered)"
                if _chain(r.prev_hash, r.at, r.actor, r.action, r.target, r.details) != r.hash:
                    return False, r.seq, f"row {r.seq}: its contents do not match its hash (it was altered)"
                prev = r.hash
        return True, None, f"audit log intact: {n} rows"

    # -- first start ------------------------------------------------------------------

    def bootstrap(self) -> str | None:
        """With no admin yet: create one with a key. Returns the key if it was generated (print it once)."""
        with self.engine.connect() as c:
            if c.execute(select(func.count()).select_from(users).where(users.c.role == "admin")).scalar():
                return None
        try:
            admin = self.create_user("admin", "admin")
        except ValueError:  # another process won the race
            return None
        configured = self.settings.bootstrap_admin_key or None
        key, _ = self.create_key(admin["id"], "bootstrap", secret=configured)
        return None if configured else key


def _chain(prev: str, at: float, actor: str, action: str, target: str | None, details: str) -> str:
    payload = json.dumps([prev, repr(float(at)), actor, action, target, details], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def _in_networks(ip: str, cidrs: list[str]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in ipaddress.ip_network(c, strict=False) for c in cidrs)


def _upsert(conn, table: Table, values: dict, keys: list[str], on_conflict: dict, returning=None):
    """INSERT ... ON CONFLICT DO UPDATE [RETURNING], in the dialect at hand (SQLite and PostgreSQL both have it)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = dialect_insert(table).values(**values).on_conflict_do_update(index_elements=keys, set_=on_conflict)
    if returning is not None:
        return conn.execute(stmt.returning(returning)).scalar()
    conn.execute(stmt)
