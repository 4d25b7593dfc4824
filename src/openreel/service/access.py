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

`Access` is the one object the API, CLI and services use. Its parts live beside
it, each readable alone: keys.py (roles, scopes, the users and api_keys tables),
leaks.py (request counts and the leak rules), audit.py (the hash chain). Their
names are re-exported here, so `from openreel.service.access import ...` keeps working.

No HTTP here: the API layer passes the header, client address and user agent.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from . import audit as audit_chain
from .audit import GENESIS, audit_log  # noqa: F401  (re-exported)
from .keys import KEY_PREFIX, ROLES, SCOPES, api_keys, users  # noqa: F401  (SCOPES re-exported)
from .leaks import LeakRules, LeakWatch
from .leaks import MinuteCounts, hash_prompt, key_minutes, key_sightings  # noqa: F401  (re-exported)
from .settings import Settings
from .store import Store, metadata


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


class Access:
    """Users, keys, the checks on every request, and the audit trail, over one database."""

    def __init__(self, settings: Settings, store: Store):
        self.settings = settings
        self.store = store
        self.engine = store.engine
        metadata.create_all(self.engine)  # keys.py's, leaks.py's and audit.py's tables (the store made its own)
        self.rules = LeakRules(**settings.leak_rules)
        self._secret = settings.secret_key.encode()
        self.leaks = LeakWatch(self.engine, self.rules)  # per-process memos; the database stays the truth
        self.counts = self.leaks.counts

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
            self.leaks.forget(c, key_id)  # a fresh start for the leak rules
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
        count, new_sighting = self.leaks.count_request(p.key_id, minute, client_ip, user_agent, now,
                                                       k["last_used_at"])
        reason = self.leaks.request_leak(p.key_id, minute, count, now, new_sighting)
        if reason:
            self.suspend(p.key_id, f"possible leak: {reason}")
            raise AccessError(403, f"this API key is suspended: possible leak ({reason}). An admin can reinstate "
                                   "it; other keys are not affected", "key_suspended")
        if scope not in p.scopes:
            raise AccessError(403, f"this API key lacks the {scope} scope", "missing_scope", type="permission_error")
        if p.limits["rpm"] and count > p.limits["rpm"]:
            retry = max(1, int(60 - now % 60) + 1)
            raise AccessError(429, f"rate limit: {p.limits['rpm']} requests per minute for this key; retry in {retry} s",
                              "rate_limit_exceeded", type="rate_limit_error", headers={"Retry-After": str(retry)})
        return p

    def record_prompt(self, p: Principal, prompt: str) -> None:
        """Track distinct prompts per key; a burst far above the key's baseline suspends it."""
        reason = self.leaks.prompt_leak(p.key_id, prompt)
        if reason:
            self.suspend(p.key_id, f"possible leak: {reason}")
            raise AccessError(403, f"this API key is suspended: possible leak ({reason})", "key_suspended")

    def check_job(self, p: Principal, seconds: int, width: int, height: int) -> None:
        """Per-key caps on one video, on jobs in flight, and the daily quota of video-seconds.

        A cheap early refusal, before anything is stored; the counts are checked again, binding, by
        reserve_job in the transaction that inserts the job."""
        lim = p.limits
        if lim["max_seconds"] and seconds > lim["max_seconds"]:
            raise AccessError(403, f"seconds {seconds} is over this key's limit of {lim['max_seconds']}",
                              "key_limit", type="permission_error", param="seconds")
        if lim["max_pixels"] and width * height > lim["max_pixels"]:
            raise AccessError(403, f"size {width}x{height} is over this key's limit of {lim['max_pixels']} pixels",
                              "key_limit", type="permission_error", param="size")
        self._check_counts(p, seconds)

    def reserve_job(self, conn: Connection, p: Principal, seconds: int) -> None:
        """check_job's jobs-in-flight and daily-quota checks, made binding: called by Store.insert_job
        inside its serialized transaction, just before the insert. The key's row is locked first
        (FOR UPDATE on PostgreSQL; SQLite's transaction already holds the write lock), so creates on
        one key count and insert one at a time and the limits hold exactly however many race.
        Raises AccessError (and so rolls the insert back) when the job would cross a limit."""
        lim = p.limits
        if not (lim["max_concurrent"] or lim["daily_seconds"]):
            return
        if conn.dialect.name != "sqlite":
            found = conn.execute(select(api_keys.c.id).where(api_keys.c.id == p.key_id).with_for_update()).first()
            if found is None:  # no row to lock (a principal not from the database): lock on its id instead
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": p.key_id})
        self._check_counts(p, seconds, conn)

    def _check_counts(self, p: Principal, seconds: int, conn: Connection | None = None) -> None:
        lim = p.limits
        if lim["max_concurrent"]:
            running = self.store.in_flight_of_key(p.key_id, conn)
            if running >= lim["max_concurrent"]:
                raise AccessError(429, f"this key already has {running} jobs queued or running (limit "
                                       f"{lim['max_concurrent']}); wait for one to finish",
                                  "concurrent_limit_exceeded", type="rate_limit_error",
                                  headers={"Retry-After": "5"})
        if lim["daily_seconds"]:
            day_start = int(time.time() // 86400 * 86400)
            used = self.store.seconds_of_key_since(p.key_id, day_start, conn)
            if used + seconds > lim["daily_seconds"]:
                raise AccessError(429, f"daily quota: {used} of {lim['daily_seconds']} video-seconds used today "
                                       f"(UTC); this request needs {seconds}", "insufficient_quota",
                                  type="insufficient_quota",
                                  headers={"Retry-After": str(day_start + 86400 - int(time.time()))})

    # -- audit ---------------------------------------------------------------------

    def audit(self, actor: str, action: str, target: str | None, details: dict) -> None:
        """Append one row to the hash chain (retrying if another process appended first)."""
        audit_chain.append(self.engine, actor, action, target, details)

    def audit_rows(self, limit: int = 1000) -> list[dict]:
        return audit_chain.rows(self.engine, limit)

    def verify_audit(self) -> tuple[bool, int | None, str]:
        """Walk the chain. Returns (ok, first bad row's seq, message)."""
        return audit_chain.verify(self.engine)

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


def _in_networks(ip: str, cidrs: list[str]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in ipaddress.ip_network(c, strict=False) for c in cidrs)
