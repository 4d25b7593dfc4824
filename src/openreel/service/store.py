"""The job store: every video job's state lives here, in SQL, through SQLAlchemy Core.

SQLite (the embedded default) and PostgreSQL run the same statements. Workers
claim jobs with a compare-and-set UPDATE (`WHERE status = 'queued'`), hold
them with a lease they renew by heartbeat, and a job whose lease runs out is
given back to the queue (or failed with `worker_lost` after max_attempts), so
no job stays `in_progress` forever and none is lost when a process dies.
"""

from __future__ import annotations

import json
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from sqlalchemy import (JSON, BigInteger, Column, Float, Integer, MetaData, String, Table, Text, create_engine,
                        event, func, insert, select, update)
from sqlalchemy.engine import Connection, Engine

metadata = MetaData()

videos = Table(
    "videos", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),  # creation order, for lists and cursors
    Column("id", String(64), unique=True, nullable=False),
    Column("kind", String(16), nullable=False),  # create | remix | edit | extend
    Column("status", String(16), nullable=False, index=True),  # queued | in_progress | completed | failed
    Column("progress", Integer, nullable=False, default=0),
    Column("model", String(64), nullable=False),  # the name the client asked for (an alias is echoed back)
    Column("backend", String(64), index=True),  # the catalog model that runs it: workers claim by this
    Column("prompt", Text, nullable=False),
    Column("size", String(16), nullable=False),
    Column("seconds", String(8), nullable=False),
    Column("params", JSON, nullable=False),  # everything the worker needs to generate
    Column("remixed_from_video_id", String(64)),
    Column("idempotency_key", String(255), unique=True),
    Column("owner_id", String(40), index=True),  # the user whose key created it (null: created without a key)
    Column("key_id", String(40), index=True),  # the key that created it
    Column("claimed_at", Float),  # when a worker last took it: fair scheduling serves the longest-waiting owner
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger),
    Column("completed_at", BigInteger),
    Column("expires_at", BigInteger),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("worker", String(64)),
    Column("lease_until", Float),
    Column("cancel_requested", Integer, nullable=False, default=0),
    Column("deleted_at", BigInteger, index=True),
)

# Workers say which models they serve, so a job for a model nobody serves can say so while it waits.
workers = Table(
    "workers", metadata,
    Column("name", String(128), primary_key=True),
    Column("models", JSON, nullable=False),  # catalog names; [] = every model
    Column("seen_at", Float, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(64), unique=True, nullable=False),  # msg_...: the webhook-id header, stable across retries
    Column("url", Text, nullable=False),
    Column("event", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("delivered_at", Float),
    Column("gave_up_at", Float),
    Column("last_error", Text),
)

TERMINAL = ("completed", "failed")


def new_video_id() -> str:
    return "video_" + secrets.token_hex(24)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record):
            # WAL lets the API read while a worker writes; several processes share the file.
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


@dataclass
class Job:
    """One row of `videos`, as the service and workers use it."""
    seq: int
    id: str
    kind: str
    status: str
    progress: int
    model: str
    prompt: str
    size: str
    seconds: str
    params: dict[str, Any]
    remixed_from_video_id: str | None
    idempotency_key: str | None
    created_at: int
    started_at: int | None
    completed_at: int | None
    expires_at: int | None
    error_code: str | None
    error_message: str | None
    attempts: int
    worker: str | None
    lease_until: float | None
    cancel_requested: int
    deleted_at: int | None
    owner_id: str | None = None
    key_id: str | None = None
    claimed_at: float | None = None
    backend: str | None = None

    @classmethod
    def from_row(cls, row) -> "Job":
        d = dict(row._mapping)
        if isinstance(d["params"], str):
            d["params"] = json.loads(d["params"])
        return cls(**d)


class Store:
    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        metadata.create_all(self.engine)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Columns added since a database was made (create_all only makes missing tables)."""
        from sqlalchemy import inspect, text
        have = {c["name"] for c in inspect(self.engine).get_columns("videos")}
        if "backend" not in have:
            with self.engine.begin() as c:
                c.execute(text("ALTER TABLE videos ADD COLUMN backend VARCHAR(64)"))

    def dispose(self) -> None:
        self.engine.dispose()

    # -- create and read -------------------------------------------------------

    def insert_job(self, *, video_id: str | None = None, kind: str, model: str, prompt: str, size: str, seconds: str, params: dict,
                   remixed_from: str | None = None, idempotency_key: str | None = None,
                   owner_id: str | None = None, key_id: str | None = None,
                   refused: tuple[str, str] | None = None, backend: str | None = None,
                   admit: Callable[[Connection], None] | None = None) -> Job:
        """Queue a job. With an idempotency key already used, returns that job instead.

        `admit(conn)` runs in the inserting transaction, just before the insert, inside `serialized()`:
        it may count what the database holds and raise to refuse (nothing is written then). The
        access program checks a key's jobs in flight and daily quota there, so that no two creates
        can both count and then both insert."""
        if idempotency_key:
            found = self.by_idempotency_key(idempotency_key)
            if found:
                return found
        vid = video_id or new_video_id()
        row = dict(id=vid, kind=kind, status="queued", progress=0, model=model, prompt=prompt, size=size,
                   seconds=seconds, params=params, remixed_from_video_id=remixed_from,
                   idempotency_key=idempotency_key or None, created_at=int(time.time()), attempts=0,
                   cancel_requested=0, owner_id=owner_id, key_id=key_id, backend=backend or model)
        if refused:  # recorded as failed at once and never queued (e.g. blocked by moderation)
            now = int(time.time())
            row.update(status="failed", error_code=refused[0], error_message=refused[1], completed_at=now)
        try:
            if admit is None:
                with self.engine.begin() as c:
                    c.execute(insert(videos).values(**row))
            else:
                with self.serialized() as c:
                    if idempotency_key:  # a retry that won the race while we waited: its job, not a refusal
                        hit = c.execute(select(videos.c.id).where(videos.c.idempotency_key == idempotency_key,
                                                                  videos.c.deleted_at.is_(None))).scalar()
                        if hit:
                            vid = hit
                    if vid == row["id"]:
                        admit(c)
                        c.execute(insert(videos).values(**row))
        except Exception:
            # Two retries with one key racing: the loser returns the winner's job.
            if idempotency_key and (found := self.by_idempotency_key(idempotency_key)):
                return found
            raise
        return self.get(vid)

    @contextmanager
    def serialized(self) -> Iterator[Connection]:
        """A transaction for check-then-write. On SQLite it takes the database's write lock up front
        (BEGIN IMMEDIATE; pysqlite would otherwise begin lazily, at the first write, after the checks'
        reads), so such transactions run one at a time and their reads see every committed write. On
        PostgreSQL it is a plain transaction: the caller locks the row it serializes on (FOR UPDATE)."""
        with self.engine.connect() as c:
            if c.dialect.name == "sqlite":
                c.exec_driver_sql("BEGIN IMMEDIATE")  # waits up to busy_timeout for other writers
            try:
                yield c
            except BaseException:
                c.rollback()
                raise
            c.commit()

    def by_idempotency_key(self, key: str) -> Job | None:
        with self.engine.connect() as c:
            row = c.execute(select(videos).where(videos.c.idempotency_key == key,
                                                 videos.c.deleted_at.is_(None))).first()
        return Job.from_row(row) if row else None

    def get(self, video_id: str, include_deleted: bool = False) -> Job | None:
        q = select(videos).where(videos.c.id == video_id)
        if not include_deleted:
            q = q.where(videos.c.deleted_at.is_(None))
        with self.engine.connect() as c:
            row = c.execute(q).first()
        return Job.from_row(row) if row else None

    def list(self, *, after: str | None, limit: int, order: str, owner_id: str | None = None) -> tuple[list[Job], bool]:
        """A page of live jobs in creation order (only owner_id's, if given), and whether more follow."""
        q = select(videos).where(videos.c.deleted_at.is_(None))
        if owner_id is not None:
            q = q.where(videos.c.owner_id == owner_id)
        with self.engine.connect() as c:
            if after:
                anchor = c.execute(select(videos.c.seq).where(videos.c.id == after)).scalar()
                if anchor is None:
                    return [], False
                q = q.where(videos.c.seq > anchor if order == "asc" else videos.c.seq < anchor)
            q = q.order_by(videos.c.seq.asc() if order == "asc" else videos.c.seq.desc()).limit(limit + 1)
            rows = c.execute(q).fetchall()
        return [Job.from_row(r) for r in rows[:limit]], len(rows) > limit

    def count(self, status: str) -> int:
        with self.engine.connect() as c:
            return c.execute(select(func.count()).select_from(videos).where(
                videos.c.status == status, videos.c.deleted_at.is_(None))).scalar()

    # -- delete and cancel -----------------------------------------------------

    def mark_deleted(self, video_id: str) -> Job | None:
        """Hide the job at once; a queued job is never claimed, a running one is told to stop."""
        now = int(time.time())
        with self.engine.begin() as c:
            res = c.execute(update(videos).where(videos.c.id == video_id, videos.c.deleted_at.is_(None))
                            .values(deleted_at=now, cancel_requested=1))
        return self.get(video_id, include_deleted=True) if res.rowcount else None

    def cancel_requested(self, video_id: str) -> bool:
        with self.engine.connect() as c:
            return bool(c.execute(select(videos.c.cancel_requested).where(videos.c.id == video_id)).scalar())

    # -- per key (for the access program's limits) -----------------------------

    def in_flight_of_key(self, key_id: str, conn: Connection | None = None) -> int:
        """A key's jobs queued or running (failed ones, moderation's refusals among them, don't count).
        With `conn`, counted in that transaction."""
        q = select(func.count()).select_from(videos).where(
            videos.c.key_id == key_id, videos.c.status.in_(("queued", "in_progress")), videos.c.deleted_at.is_(None))
        if conn is not None:
            return conn.execute(q).scalar()
        with self.engine.connect() as c:
            return c.execute(q).scalar()

    def seconds_of_key_since(self, key_id: str, since: int, conn: Connection | None = None) -> int:
        """Video-seconds asked for by a key since a time (failed jobs included: they used the queue too).
        With `conn`, counted in that transaction."""
        q = select(videos.c.seconds).where(videos.c.key_id == key_id, videos.c.created_at >= since)
        if conn is not None:
            return sum(int(float(s)) for s in conn.execute(q).scalars())
        with self.engine.connect() as c:
            return sum(int(float(s)) for s in c.execute(q).scalars())

    def cancel_queued_of_key(self, key_id: str) -> list[str]:
        """Fail a key's queued jobs as cancelled (a revocation may ask for it)."""
        now = int(time.time())
        with self.engine.begin() as c:
            ids = list(c.execute(select(videos.c.id).where(videos.c.key_id == key_id,
                                                           videos.c.status == "queued")).scalars())
            if ids:
                c.execute(update(videos).where(videos.c.id.in_(ids), videos.c.status == "queued").values(
                    status="failed", error_code="cancelled", completed_at=now,
                    error_message="cancelled: the API key that created this job was revoked"))
        return ids

    # -- the worker's side -----------------------------------------------------

    def next_job_id(self, c, models: list[str] | None = None) -> str | None:
        """Fair choice: among owners with queued work, the one with the fewest running jobs, then the one
        served longest ago; their oldest queued job. One heavy key cannot starve everyone else.
        With `models`, only jobs for those catalog models."""
        live = videos.c.deleted_at.is_(None)
        owner = func.coalesce(videos.c.owner_id, "")
        wanted = [videos.c.status == "queued", live]
        if models:
            wanted.append(videos.c.backend.in_(list(models)))
        queued = dict(c.execute(select(owner, func.min(videos.c.seq)).where(*wanted)
                                .group_by(owner)).fetchall())
        if not queued:
            return None
        running = dict(c.execute(select(owner, func.count()).where(videos.c.status == "in_progress")
                                 .group_by(owner)).fetchall())
        served = dict(c.execute(select(owner, func.max(videos.c.claimed_at)).where(owner.in_(list(queued)))
                                .group_by(owner)).fetchall())
        pick = min(queued, key=lambda o: (running.get(o, 0), served.get(o) or 0.0, queued[o]))
        return c.execute(select(videos.c.id).where(videos.c.seq == queued[pick])).scalar()

    def claim(self, worker: str, lease_seconds: float, models: list[str] | None = None) -> Job | None:
        """Take the next queued job (see next_job_id), or None. Safe with any number of workers on any database.
        With `models`, only a job for one of those catalog models."""
        for _ in range(5):
            with self.engine.begin() as c:
                vid = self.next_job_id(c, models)
                if vid is None:
                    return None
                now = time.time()
                res = c.execute(update(videos).where(videos.c.id == vid, videos.c.status == "queued")
                                .values(status="in_progress", worker=worker, lease_until=now + lease_seconds,
                                        attempts=videos.c.attempts + 1, progress=0, claimed_at=now,
                                        started_at=func.coalesce(videos.c.started_at, int(now))))
            if res.rowcount == 1:
                return self.get(vid, include_deleted=True)
        return None

    def worker_seen(self, name: str, models: list[str]) -> None:
        """A worker's sign of life and the models it serves ([] = all)."""
        now = time.time()
        with self.engine.begin() as c:
            res = c.execute(update(workers).where(workers.c.name == name).values(models=list(models), seen_at=now))
            if res.rowcount == 0:
                c.execute(insert(workers).values(name=name, models=list(models), seen_at=now))

    def worker_gone(self, name: str) -> None:
        from sqlalchemy import delete
        with self.engine.begin() as c:
            c.execute(delete(workers).where(workers.c.name == name))

    def served_models(self, within_seconds: float, now: float | None = None) -> set[str] | None:
        """The models some worker seen in the last `within_seconds` serves; None when one serves every model."""
        since = (time.time() if now is None else now) - within_seconds
        with self.engine.connect() as c:
            rows = c.execute(select(workers.c.models).where(workers.c.seen_at >= since)).fetchall()
        served: set[str] = set()
        for (models,) in rows:
            models = json.loads(models) if isinstance(models, str) else models
            if not models:
                return None
            served.update(models)
        return served

    def heartbeat(self, video_id: str, worker: str, lease_seconds: float, progress: int | None = None) -> bool:
        """Renew the lease (and report progress). False if the job is no longer this worker's."""
        values: dict[str, Any] = {"lease_until": time.time() + lease_seconds}
        if progress is not None:
            values["progress"] = progress
        return self._update_running(video_id, worker, values)

    def _update_running(self, video_id: str, worker: str, values: dict) -> bool:
        """Update a job only while this worker still runs it (a lost lease makes this a no-op)."""
        with self.engine.begin() as c:
            res = c.execute(update(videos).where(videos.c.id == video_id, videos.c.worker == worker,
                                                 videos.c.status == "in_progress").values(**values))
        return res.rowcount == 1

    def complete(self, video_id: str, worker: str, retention_seconds: int, seconds: str | None = None) -> bool:
        now = int(time.time())
        values = dict(status="completed", progress=100, completed_at=now, expires_at=now + retention_seconds,
                      lease_until=None)
        if seconds is not None:
            values["seconds"] = seconds
        return self._update_running(video_id, worker, values)

    def fail(self, video_id: str, code: str, message: str, worker: str | None = None) -> bool:
        q = update(videos).where(videos.c.id == video_id, videos.c.status.notin_(TERMINAL))
        if worker is not None:
            q = q.where(videos.c.worker == worker)
        with self.engine.begin() as c:
            res = c.execute(q.values(status="failed", error_code=code, error_message=message,
                                     completed_at=int(time.time()), lease_until=None))
        return res.rowcount == 1

    def reap(self, max_attempts: int) -> tuple[list[str], list[str]]:
        """Give lost jobs (lease expired) back to the queue, or fail them after max_attempts.

        Returns (requeued ids, failed ids).
        """
        now = time.time()
        requeued, failed = [], []
        with self.engine.begin() as c:
            rows = c.execute(select(videos.c.id, videos.c.attempts).where(
                videos.c.status == "in_progress", videos.c.lease_until < now)).fetchall()
            for vid, attempts in rows:
                base = update(videos).where(videos.c.id == vid, videos.c.status == "in_progress",
                                            videos.c.lease_until < now)
                if attempts >= max_attempts:
                    res = c.execute(base.values(
                        status="failed", error_code="worker_lost", completed_at=int(now), lease_until=None,
                        error_message=f"the worker running this job stopped responding, {attempts} times; "
                                      "giving up"))
                    if res.rowcount:
                        failed.append(vid)
                else:
                    res = c.execute(base.values(status="queued", worker=None, lease_until=None, progress=0))
                    if res.rowcount:
                        requeued.append(vid)
        return requeued, failed

    def expired(self, now: float | None = None, limit: int = 100) -> list[str]:
        """Ids of completed jobs whose assets are past expires_at (their files can go)."""
        with self.engine.connect() as c:
            return list(c.execute(select(videos.c.id).where(
                videos.c.expires_at < int(now or time.time())).limit(limit)).scalars())

    # -- webhooks --------------------------------------------------------------

    def queue_webhook(self, url: str, event_name: str, body: str) -> None:
        with self.engine.begin() as c:
            c.execute(insert(webhook_deliveries).values(
                id="msg_" + secrets.token_hex(16), url=url, event=event_name, body=body, attempts=0,
                next_attempt_at=time.time()))

    def due_webhooks(self, limit: int = 20) -> list[dict]:
        with self.engine.connect() as c:
            rows = c.execute(select(webhook_deliveries).where(
                webhook_deliveries.c.delivered_at.is_(None), webhook_deliveries.c.gave_up_at.is_(None),
                webhook_deliveries.c.next_attempt_at <= time.time()).order_by(webhook_deliveries.c.seq)
                .limit(limit)).fetchall()
        return [dict(r._mapping) for r in rows]

    def webhook_result(self, msg_id: str, ok: bool, error: str | None, max_attempts: int) -> None:
        now = time.time()
        with self.engine.begin() as c:
            attempts = c.execute(select(webhook_deliveries.c.attempts).where(
                webhook_deliveries.c.id == msg_id)).scalar() + 1
            values: dict[str, Any] = {"attempts": attempts, "last_error": error}
            if ok:
                values["delivered_at"] = now
            elif attempts >= max_attempts:
                values["gave_up_at"] = now
            else:
                values["next_attempt_at"] = now + 2 ** (attempts - 1)  # 1, 2, 4, 8 ... seconds
            c.execute(update(webhook_deliveries).where(webhook_deliveries.c.id == msg_id).values(**values))

    def webhook_rows(self) -> list[dict]:
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(select(webhook_deliveries).order_by(webhook_deliveries.c.seq))]
