"""Review before sharing, public pages, and tester feedback.

Every video is private to its owner. Publishing is a request that waits in a
review queue; a reviewer approves (the video gets a public page at an
unguessable URL) or rejects it with a reason, and the owner or a reviewer can
withdraw a page, after which it answers 404. Roles listed in
OPENREEL_AUTO_APPROVE_ROLES skip the queue. Every step is audited.

Feedback is the point of a tester program: creators rate a video (1-5) and
flag problems, each row linked to the video, its generation parameters and
the model version, and admins export it or read a per-model summary.
"""

from __future__ import annotations

import csv
import io
import secrets
import time
from typing import TYPE_CHECKING, Callable

from sqlalchemy import JSON, BigInteger, Column, Integer, String, Table, Text, func, insert, select, update

from .store import Job, Store, metadata

if TYPE_CHECKING:
    from .access import Access, Principal

shares = Table(
    "shares", metadata,
    Column("id", String(40), primary_key=True),
    Column("video_id", String(64), nullable=False, index=True),
    Column("owner_id", String(40)),
    Column("status", String(16), nullable=False, index=True),  # pending | approved | rejected | withdrawn
    Column("token", String(64), unique=True, nullable=False),  # the public page's unguessable path
    Column("requested_at", BigInteger, nullable=False),
    Column("decided_at", BigInteger),
    Column("reviewer", String(80)),  # key:<id> of the reviewer, or "auto"
    Column("reason", Text),
    Column("withdrawn_at", BigInteger),
    Column("withdrawn_by", String(80)),
    Column("expires_at", BigInteger),  # an approved page stops answering after this (null: never)
)

feedback = Table(
    "feedback", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(40), unique=True, nullable=False),
    Column("video_id", String(64), nullable=False, index=True),
    Column("user_id", String(40)),
    Column("rating", Integer, nullable=False),
    Column("flags", JSON, nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("model", String(64), nullable=False),
    Column("model_version", String(80), nullable=False),  # the weights' SHA-256 prefix
    Column("params", JSON, nullable=False),  # the video's generation parameters, as generated
    Column("prompt", Text, nullable=False),
)

FLAGS = ("prompt_mismatch", "artifact", "unsafe", "other")
FEEDBACK_FIELDS = ("id", "video_id", "user_id", "rating", "flags", "comment", "created_at", "model", "model_version",
                   "prompt", "params")


class SharingError(Exception):
    def __init__(self, status: int, message: str, code: str, param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param


class Sharing:
    def __init__(self, store: Store, access: "Access", auto_approve_roles: list[str], model_version: Callable[[Job], str],
                 page_ttl_seconds: int = 0):
        self.store, self.access = store, access
        self.engine = store.engine
        self.auto_approve_roles = set(auto_approve_roles)
        self.model_version = model_version
        self.page_ttl = page_ttl_seconds
        metadata.create_all(self.engine)

    # -- shares ------------------------------------------------------------------------

    def _share(self, **where) -> dict | None:
        q = select(shares)
        for k, v in where.items():
            q = q.where(getattr(shares.c, k) == v)
        with self.engine.connect() as c:
            row = c.execute(q.order_by(shares.c.requested_at.desc())).first()
        return dict(row._mapping) if row else None

    @staticmethod
    def public(share: dict, base_url: str = "") -> dict:
        out = {k: share[k] for k in ("id", "video_id", "status", "requested_at", "decided_at", "reason", "withdrawn_at",
                                     "expires_at")}
        out["object"] = "video.share"
        out["url"] = f"{base_url}/p/{share['token']}" if share["status"] == "approved" else None
        return out

    def request(self, video_id: str, who: "Principal") -> dict:
        """Ask to publish a completed video; auto-approved for trusted roles."""
        job = self.store.get(video_id)
        if job.status != "completed":
            raise SharingError(409, f"video {video_id} is {job.status}; only a completed video can be shared",
                               "video_not_ready", "video_id")
        current = self._share(video_id=video_id)
        if current and current["status"] in ("pending", "approved"):
            return current
        now = int(time.time())
        row = dict(id="share_" + secrets.token_hex(8), video_id=video_id, owner_id=job.owner_id, status="pending",
                   token=secrets.token_urlsafe(32), requested_at=now)
        if who.role in self.auto_approve_roles:
            row.update(status="approved", decided_at=now, reviewer="auto", reason=f"auto-approved ({who.role})",
                       expires_at=now + self.page_ttl if self.page_ttl else None)
        with self.engine.begin() as c:
            c.execute(insert(shares).values(**row))
        self.access.audit(f"key:{who.key_id}", "share.request", video_id, {"share": row["id"], "status": row["status"]})
        return self.by_id(row["id"])

    def get(self, video_id: str) -> dict | None:
        return self._share(video_id=video_id)

    def queue(self) -> list[dict]:
        with self.engine.connect() as c:
            rows = c.execute(select(shares).where(shares.c.status == "pending").order_by(shares.c.requested_at))
            return [dict(r._mapping) for r in rows]

    def by_id(self, share_id: str) -> dict:
        share = self._share(id=share_id)
        if share is None:
            raise SharingError(404, f"no share request {share_id!r}", "not_found", "share_id")
        return share

    def decide(self, share_id: str, approve: bool, reason: str, who: "Principal") -> dict:
        share = self.by_id(share_id)
        if share["status"] != "pending":
            raise SharingError(409, f"share {share_id} is {share['status']}, not pending review", "not_pending")
        if not approve and not (reason or "").strip():
            raise SharingError(400, "reason is required to reject: tell the creator why", "missing_required_parameter",
                               "reason")
        status = "approved" if approve else "rejected"
        with self.engine.begin() as c:
            now = int(time.time())
            res = c.execute(update(shares).where(shares.c.id == share_id, shares.c.status == "pending").values(
                status=status, decided_at=now, reviewer=f"key:{who.key_id}", reason=reason or None,
                expires_at=now + self.page_ttl if approve and self.page_ttl else None))
        if not res.rowcount:
            raise SharingError(409, f"share {share_id} was decided by someone else meanwhile", "not_pending")
        self.access.audit(f"key:{who.key_id}", f"share.{'approve' if approve else 'reject'}", share["video_id"],
                          {"share": share_id, "reason": reason})
        return self.by_id(share_id)

    def withdraw(self, video_id: str, who: "Principal") -> dict:
        share = self._share(video_id=video_id)
        if share is None or share["status"] not in ("pending", "approved"):
            raise SharingError(404, f"video {video_id} has no pending or public share", "not_found", "video_id")
        with self.engine.begin() as c:
            c.execute(update(shares).where(shares.c.id == share["id"]).values(
                status="withdrawn", withdrawn_at=int(time.time()), withdrawn_by=f"key:{who.key_id}"))
        self.access.audit(f"key:{who.key_id}", "share.withdraw", video_id, {"share": share["id"]})
        return self.by_id(share["id"])

    def resolve_public(self, token: str) -> dict | None:
        """The approved share behind a public token, or None (forged, rejected, withdrawn)."""
        if not token or len(token) > 64:
            return None
        share = self._share(token=token)
        if share is None or share["status"] != "approved" or not secrets.compare_digest(share["token"], token):
            return None
        if share["expires_at"] and share["expires_at"] < time.time():
            return None  # expired: the page is gone, as if withdrawn
        return share

    # -- feedback ------------------------------------------------------------------------

    def add_feedback(self, video_id: str, who: "Principal", rating, flags, comment) -> dict:
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise SharingError(400, f"rating must be a whole number from 1 to 5, got {rating!r}", "invalid_value", "rating")
        flags = flags or []
        if not isinstance(flags, list) or any(f not in FLAGS for f in flags):
            raise SharingError(400, f"flags must be a list drawn from {', '.join(FLAGS)}, got {flags!r}",
                               "invalid_value", "flags")
        comment = comment or ""
        if not isinstance(comment, str) or len(comment) > 4000:
            raise SharingError(400, "comment must be text of at most 4000 characters", "invalid_value", "comment")
        job = self.store.get(video_id)
        row = dict(id="fb_" + secrets.token_hex(8), video_id=video_id, user_id=who.user_id, rating=rating,
                   flags=sorted(set(flags)), comment=comment, created_at=int(time.time()), model=job.model,
                   model_version=self.model_version(job), params=job.params, prompt=job.prompt)
        with self.engine.begin() as c:
            c.execute(insert(feedback).values(**row))
        return row

    def feedback_for(self, video_id: str) -> list[dict]:
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(
                select(feedback).where(feedback.c.video_id == video_id).order_by(feedback.c.seq))]

    def export(self, fmt: str = "json") -> tuple[str, str]:
        """All feedback as (body, content type): JSON lines of objects, or CSV with JSON-encoded lists."""
        import json
        with self.engine.connect() as c:
            rows = [dict(r._mapping) for r in c.execute(select(feedback).order_by(feedback.c.seq))]
        rows = [{k: r[k] for k in FEEDBACK_FIELDS} for r in rows]
        if fmt == "json":
            return json.dumps({"object": "list", "data": rows}), "application/json"
        if fmt == "csv":
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=FEEDBACK_FIELDS)
            w.writeheader()
            for r in rows:
                w.writerow({**r, "flags": json.dumps(r["flags"]), "params": json.dumps(r["params"], sort_keys=True)})
            return buf.getvalue(), "text/csv; charset=utf-8"
        raise SharingError(400, f"format must be json or csv, got {fmt!r}", "invalid_value", "format")

    def summary(self) -> dict:
        """Per model and version: how many ratings, their mean, and how often each flag was raised."""
        with self.engine.connect() as c:
            rows = c.execute(select(feedback.c.model, feedback.c.model_version, func.count(), func.avg(feedback.c.rating))
                             .group_by(feedback.c.model, feedback.c.model_version)).fetchall()
            flags = c.execute(select(feedback.c.model, feedback.c.model_version, feedback.c.flags)).fetchall()
        out = []
        for model, version, n, mean in rows:
            counts = {f: 0 for f in FLAGS}
            for m, v, fl in flags:
                if (m, v) == (model, version):
                    for f in fl:
                        counts[f] += 1
            out.append({"model": model, "model_version": version, "ratings": n, "mean_rating": round(float(mean), 3),
                        "flags": counts})
        return {"object": "list", "data": out}
