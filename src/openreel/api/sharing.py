"""Share, review, public pages and feedback routes: thin shells over openreel.service.sharing."""

from __future__ import annotations

import base64
import hashlib
import html
import time

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, Field

from ..service.access import AccessError, Principal
from ..service.sharing import Sharing, SharingError
from ..service.videos import VideoService
from .guard import ShareId, Token, VideoId

# The public page's only style, allowed by its hash: the page's CSP forbids everything else.
PAGE_STYLE = ("body{font-family:system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem;color:#222}\n"
              "video{width:100%;max-height:70vh;background:#000}.prompt{font-size:1.2rem}")
PAGE_CSP = ("default-src 'none'; media-src 'self'; img-src 'self'; "
            f"style-src 'sha256-{base64.b64encode(hashlib.sha256(PAGE_STYLE.encode()).digest()).decode()}'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class Decision(BaseModel):
    reason: str = Field("", max_length=2000)


class Feedback(BaseModel):
    rating: int
    flags: list[str] = []
    comment: str = ""


def refuse(exc: SharingError) -> AccessError:
    return AccessError(exc.status, exc.message, exc.code, param=exc.param)


def sharing_router(service: VideoService, sharing: Sharing, Create, Read, Review, Admin, base_url: str) -> APIRouter:
    r = APIRouter()

    def mine(video_id: str, who: Principal):
        return service.job(video_id, who)  # 404 unless the caller owns it (or is an admin)

    def url_base(request: Request) -> str:
        return base_url or str(request.base_url).rstrip("/")

    # -- the owner's side --------------------------------------------------------------

    @r.post("/v1/videos/{video_id}/share", tags=["sharing"])
    def request_share(video_id: VideoId, request: Request, who: Principal = Create):
        mine(video_id, who)
        try:
            return sharing.public(sharing.request(video_id, who), url_base(request))
        except SharingError as exc:
            raise refuse(exc) from None

    @r.get("/v1/videos/{video_id}/share", tags=["sharing"])
    def get_share(video_id: VideoId, request: Request, who: Principal = Read):
        mine(video_id, who)
        share = sharing.get(video_id)
        if share is None:
            raise AccessError(404, f"video {video_id} has never been shared", "not_found", param="video_id")
        return sharing.public(share, url_base(request))

    @r.post("/v1/videos/{video_id}/share/withdraw", tags=["sharing"])
    def withdraw(video_id: VideoId, request: Request, who: Principal = Read):
        if "review" not in who.scopes:  # reviewers may withdraw anyone's page; owners their own
            if "videos:create" not in who.scopes:
                raise AccessError(403, "withdrawing needs the videos:create scope (owner) or review", "missing_scope",
                                  type="permission_error")
            mine(video_id, who)
        elif service.store.get(video_id) is None:
            raise AccessError(404, f"no video with id {video_id!r}", "not_found", param="video_id")
        try:
            return sharing.public(sharing.withdraw(video_id, who), url_base(request))
        except SharingError as exc:
            raise refuse(exc) from None

    @r.post("/v1/videos/{video_id}/feedback", tags=["feedback"])
    def add_feedback(video_id: VideoId, body: Feedback, who: Principal = Create):
        mine(video_id, who)  # someone else's private video: 404
        try:
            return sharing.add_feedback(video_id, who, body.rating, body.flags, body.comment)
        except SharingError as exc:
            raise refuse(exc) from None

    @r.get("/v1/videos/{video_id}/feedback", tags=["feedback"])
    def list_feedback(video_id: VideoId, who: Principal = Read):
        mine(video_id, who)
        return {"object": "list", "data": sharing.feedback_for(video_id)}

    # -- reviewers -------------------------------------------------------------------------

    @r.get("/v1/review/queue", tags=["review"])
    def review_queue(request: Request, who: Principal = Review):
        data = []
        for share in sharing.queue():
            job = service.store.get(share["video_id"])
            if job is not None:
                data.append({**sharing.public(share, url_base(request)), "video": service.to_object(job)})
        return {"object": "list", "data": data}

    @r.get("/v1/review/{share_id}/content", tags=["review"])
    def review_content(share_id: ShareId, who: Principal = Review):
        try:
            share = sharing.by_id(share_id)
        except SharingError as exc:
            raise refuse(exc) from None
        path, content_type = service.content(share["video_id"], "video")
        return FileResponse(path, media_type=content_type)

    def decide(share_id: str, approve: bool, request: Request, body: Decision | None, who: Principal):
        try:
            return sharing.public(sharing.decide(share_id, approve, body.reason if body else "", who), url_base(request))
        except SharingError as exc:
            raise refuse(exc) from None

    @r.post("/v1/review/{share_id}/approve", tags=["review"])
    def approve(share_id: ShareId, request: Request, body: Decision | None = None, who: Principal = Review):
        return decide(share_id, True, request, body, who)

    @r.post("/v1/review/{share_id}/reject", tags=["review"])
    def reject(share_id: ShareId, request: Request, body: Decision | None = None, who: Principal = Review):
        return decide(share_id, False, request, body, who)

    # -- admins: feedback export ------------------------------------------------------------

    @r.get("/v1/admin/feedback", tags=["admin"])
    def export_feedback(format: str = "json", who: Principal = Admin):
        try:
            body, content_type = sharing.export(format)
        except SharingError as exc:
            raise refuse(exc) from None
        return Response(body, media_type=content_type)

    @r.get("/v1/admin/feedback/summary", tags=["admin"])
    def feedback_summary(who: Principal = Admin):
        return sharing.summary()

    # -- the public page (no key: the unguessable URL is the permission) ------------------

    def public_share(token: str) -> dict:
        share = sharing.resolve_public(token)
        if share is None:
            raise AccessError(404, "no such page", "not_found")
        return share

    @r.get("/p/{token}", response_class=HTMLResponse, include_in_schema=False)
    def public_page(token: Token):
        share = public_share(token)
        job = service.store.get(share["video_id"])
        if job is None:
            raise AccessError(404, "no such page", "not_found")
        credentials = service.credentials_summary(job)
        items = "".join(f"<li>{html.escape(line)}</li>" for line in credentials)
        made = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(job.completed_at or job.created_at))
        return HTMLResponse(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>OpenReel video</title>
<style>{PAGE_STYLE}</style></head>
<body><main><video controls playsinline loop src="/p/{html.escape(token)}/video.mp4"></video>
<p class="prompt">&ldquo;{html.escape(job.prompt)}&rdquo;</p>
<p>{html.escape(job.size)}, {html.escape(job.seconds)} s, made {made} with {html.escape(job.model)}.
Approved by a reviewer before publication.</p>
<h2>Content credentials</h2><ul>{items}</ul></main></body></html>""",
                            headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex",
                                     "Referrer-Policy": "no-referrer", "Content-Security-Policy": PAGE_CSP,
                                     "X-Frame-Options": "DENY"})

    @r.get("/p/{token}/video.mp4", include_in_schema=False)
    def public_video(token: Token):
        share = public_share(token)
        path, content_type = service.content(share["video_id"], "video")
        return FileResponse(path, media_type=content_type, headers={"Cache-Control": "no-store"})

    return r
