"""Leak containment: each key's traffic against its own baseline, and when that looks like a leak.

Sora's preview lost control of leaked tester keys for hours. Here every
request is counted per key and minute, and each key's client addresses, user
agents and prompts (as hashes) are noted; a key whose traffic crosses a rule
is named within the request that crosses it. This module only detects:
Access suspends that key alone and refuses the request, so the refusals stay
in one place.

  * LeakRules: the thresholds (settings.leak_rules);
  * MinuteCounts: request counts, kept in memory and written in batches;
  * LeakWatch: counting, sightings, and the rules applied to them.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import threading
import time
import weakref
from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Float, Integer, String, Table, func, select, text, update

from .keys import api_keys
from .store import metadata

log = logging.getLogger("openreel.access")  # the name it had when this lived in access.py


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


# -- request counts ---------------------------------------------------------------

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


# -- the rules ---------------------------------------------------------------------

class LeakWatch:
    """Counts each request, notes new addresses, agents and prompts, and names a leak when a rule trips.

    The methods that judge return the reason, or None; the caller suspends the key and refuses.
    """

    def __init__(self, engine, rules: LeakRules):
        self.engine, self.rules = engine, rules
        # Per-process memos that only skip redundant writes and reads; the database stays the truth.
        self._sighted: dict[tuple[str, str, str], float] = {}  # (key, kind, value) -> when this process last wrote it
        self._baseline: dict[tuple[str, int], float] = {}  # (key, minute) -> mean requests per earlier minute
        self.counts = MinuteCounts(engine)

    def count_request(self, key_id: str, minute: int, ip: str, ua: str, now: float,
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

    def request_leak(self, key_id: str, minute: int, count: int, now: float, new_sighting: bool) -> str | None:
        """Too many addresses or agents in the window, or a minute far above the key's baseline."""
        r = self.rules
        base = self._baseline.get((key_id, minute))
        if base is None:  # earlier minutes don't change within this one: read once per minute
            with self.engine.connect() as c:
                base = float(c.execute(select(func.avg(key_minutes.c.requests)).where(
                    key_minutes.c.key_id == key_id, key_minutes.c.minute < minute,
                    key_minutes.c.minute >= minute - 24 * 60)).scalar() or 0.0)
            if len(self._baseline) > 100_000:
                self._baseline.clear()
            self._baseline[(key_id, minute)] = base
        seen: dict[str, int] = {}
        if new_sighting:  # distinct counts only grow when something new is seen
            with self.engine.connect() as c:
                seen = dict(c.execute(select(key_sightings.c.kind, func.count()).where(
                    key_sightings.c.key_id == key_id, key_sightings.c.last_seen >= now - r.window)
                    .group_by(key_sightings.c.kind)).fetchall())
        if seen.get("ip", 0) > r.max_addresses:
            return f"{seen['ip']} distinct client addresses in {r.window / 60:g} min (limit {r.max_addresses})"
        if seen.get("ua", 0) > r.max_user_agents:
            return f"{seen['ua']} distinct user agents in {r.window / 60:g} min (limit {r.max_user_agents})"
        if count > max(r.rate_floor, r.rate_factor * float(base)):
            return f"{count} requests this minute against a baseline of {float(base):.1f} per minute"
        return None

    def prompt_leak(self, key_id: str, prompt: str) -> str | None:
        """Note this prompt; too many new distinct prompts against the key's baseline is a leak."""
        r, now = self.rules, time.time()
        with self.engine.begin() as c:
            _upsert(c, key_sightings, {"key_id": key_id, "kind": "prompt", "value": hash_prompt(prompt),
                                       "first_seen": now, "last_seen": now},
                    ["key_id", "kind", "value"], {"last_seen": now})
            recent = c.execute(select(func.count()).select_from(key_sightings).where(
                key_sightings.c.key_id == key_id, key_sightings.c.kind == "prompt",
                key_sightings.c.first_seen >= now - r.window)).scalar()
            older = c.execute(select(func.count()).select_from(key_sightings).where(
                key_sightings.c.key_id == key_id, key_sightings.c.kind == "prompt",
                key_sightings.c.first_seen < now - r.window, key_sightings.c.first_seen >= now - 86400)).scalar()
        baseline = older / max(1.0, (86400 - r.window) / r.window)  # new prompts per window, over the last day
        if recent > max(r.prompt_floor, r.prompt_factor * baseline):
            return f"{recent} new distinct prompts in {r.window / 60:g} min against a baseline of {baseline:.1f}"
        return None

    def forget(self, c, key_id: str) -> None:
        """A fresh start for a reinstated key, in the caller's transaction: what tripped the rules is history now.

        Call counts.forget(key_id) after that transaction commits."""
        c.execute(key_sightings.delete().where(key_sightings.c.key_id == key_id))
        c.execute(key_minutes.delete().where(key_minutes.c.key_id == key_id,
                                             key_minutes.c.minute >= int(time.time() // 60) - 1))


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
