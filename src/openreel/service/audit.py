"""The audit trail: an append-only, hash-chained log that `openreel audit verify` checks.

Each row's hash covers the previous row's hash and its own contents, so a row
that is removed, reordered or altered breaks the chain where it happened. A
unique constraint on prev_hash keeps the chain linear when processes append at
once: the loser retries on the new tip. Access.audit, audit_rows and
verify_audit are thin wrappers over the functions here.
"""

from __future__ import annotations

import hashlib
import json
import time

from sqlalchemy import Column, Float, Integer, String, Table, Text, UniqueConstraint, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from .store import metadata

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


def append(engine, actor: str, action: str, target: str | None, details: dict) -> None:
    """Append one row to the hash chain (retrying if another process appended first)."""
    body = json.dumps(details, sort_keys=True, separators=(",", ":"), default=str)
    for _ in range(50):
        try:
            with engine.begin() as c:
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


def rows(engine, limit: int = 1000) -> list[dict]:
    with engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(select(audit_log).order_by(audit_log.c.seq).limit(limit))]


def verify(engine) -> tuple[bool, int | None, str]:
    """Walk the chain. Returns (ok, first bad row's seq, message)."""
    prev = GENESIS
    n = 0
    with engine.connect() as c:
        for r in c.execute(select(audit_log).order_by(audit_log.c.seq)):
            n += 1
            if r.prev_hash != prev:
                return False, r.seq, f"row {r.seq}: its link to the previous row is broken (a row was removed or reordered)"
            if _chain(r.prev_hash, r.at, r.actor, r.action, r.target, r.details) != r.hash:
                return False, r.seq, f"row {r.seq}: its contents do not match its hash (it was altered)"
            prev = r.hash
    return True, None, f"audit log intact: {n} rows"


def _chain(prev: str, at: float, actor: str, action: str, target: str | None, details: str) -> str:
    payload = json.dumps([prev, repr(float(at)), actor, action, target, details], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()
