"""The OpenReel HTTP app: the OpenAI Videos API (`/v1/videos`), wire-compatible, over VideoService.

Routes only translate HTTP to service calls and back: parse the body
(JSON or multipart, as the official SDK sends it), call one VideoService
method, and render its result or its ServiceError in OpenAI's error
envelope. Generation never runs here; workers do it.
"""

from __future__ import annotations

import logging
import re
from typing import Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..service.access import Access, AccessError, Principal
from ..service.settings import Settings
from ..service.videos import ServiceError, Upload, VideoService
from .guard import AfterId, Guard, SecurityHeaders, VideoId, check_tree, load_json
from .schema import document_errors

log = logging.getLogger("openreel.api")
NESTED = re.compile(r"^(\w+)(?:\[(\w+)\]|\.(\w+))$")  # input_reference[image_url], video[id], video.id


# ----------------------------------------------------------------------------
# Request bodies: JSON or multipart/form-data, into plain fields

async def read_fields(request: Request, settings: Settings) -> dict:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        try:
            body = load_json(await request.body() or b"null")
        except (ValueError, UnicodeDecodeError):
            raise ServiceError(400, "the request body is not valid JSON", code="invalid_json") from None
        if not isinstance(body, dict):
            raise ServiceError(400, "the request body must be a JSON object", code="invalid_json")
        return body
    if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        boundary = re.search(r"boundary=\"?([^\";]+)", request.headers.get("content-type", ""))
        if ctype == "multipart/form-data" and boundary and f"--{boundary[1]}--".encode() not in await request.body():
            raise ServiceError(400, "the multipart body is malformed (it never closes its boundary); send "
                                    "multipart/form-data as the openai SDK does", code="invalid_multipart")
        try:
            form = await request.form(max_files=4, max_fields=64, max_part_size=settings.max_upload_bytes)
            items = list(form.multi_items())
        except Exception as exc:  # python-multipart and Starlette raise several types for a broken body
            raise ServiceError(400, f"the multipart body is malformed ({exc}); send multipart/form-data with a "
                                    "boundary, as the openai SDK does", code="invalid_multipart") from None
        fields: dict = {}
        for key, value in items:
            if isinstance(value, UploadFile):
                value = Upload(value.filename or "", value.content_type or "", await value.read())
            if m := NESTED.match(key):
                outer = fields.setdefault(m[1], {})
                if not isinstance(outer, dict):
                    raise ServiceError(400, f"{m[1]} is given both as a value and as an object", param=m[1])
                outer[m[2] or m[3]] = value
            else:
                fields[key] = value
        for key in ("video", "input_reference"):  # an object may also come as a JSON string
            if isinstance(fields.get(key), str) and fields[key].lstrip().startswith("{"):
                try:
                    fields[key] = load_json(fields[key], root=key)
                except ValueError:
                    raise ServiceError(400, f"{key} is not valid JSON", param=key) from None
        check_tree({k: v for k, v in fields.items() if not isinstance(v, Upload)})  # NUL, surrogates
        return fields
    if ctype == "" and not await request.body():
        return {}
    raise ServiceError(415, f"Content-Type {ctype!r} is not supported; send application/json or "
                            "multipart/form-data", code="unsupported_media_type")


class BodyLimit:
    """Refuse request bodies over max_bytes with 413, whether or not Content-Length is sent."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_big = ServiceError(413, f"the request body is larger than {self.max_bytes} bytes "
                                    "(OPENREEL_MAX_UPLOAD_BYTES)", code="request_too_large")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            return await JSONResponse(too_big.envelope(), 413)(scope, receive, send)
        seen = 0
        started = False

        async def limited_receive():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooBig()
            return message

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooBig:
            if not started:
                await JSONResponse(too_big.envelope(), 413)(scope, receive, send)


class _TooBig(Exception):
    pass


# ----------------------------------------------------------------------------
# OpenAPI descriptions of the bodies (parsed by hand above, so FastAPI can't infer them)

def _body(properties: dict, required: list[str], files: tuple[str, ...] = ()) -> dict:
    multipart = {k: ({"type": "string", "format": "binary"} if k in files else v) for k, v in properties.items()}
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "object", "properties": properties, "required": required}},
        "multipart/form-data": {"schema": {"type": "object", "properties": multipart, "required": required}},
    }}}


def _schemas(service: VideoService) -> dict:
    seconds = {"anyOf": [{"type": "string", "enum": [str(s) for s in service.allowed_seconds()]},
                         {"type": "integer", "enum": service.allowed_seconds()}]}
    extras = {"seed": {"type": "integer", "minimum": 0}, "steps": {"type": "integer", "minimum": 1},
              "guidance": {"type": "number"}, "fps": {"type": "integer"}, "negative_prompt": {"type": "string"}}
    prompt = {"type": "string", "minLength": 1, "maxLength": 32000}
    video_ref = {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}
    return {
        "create": _body({"prompt": prompt, "model": {"type": "string", "enum": service.models.names()},
                         "seconds": seconds, "size": {"type": "string", "enum": service.allowed_sizes()},
                         "input_reference": {"type": "object", "properties": {"image_url": {"type": "string"}}},
                         **extras}, ["prompt"], files=("input_reference",)),
        "remix": _body({"prompt": prompt, **extras, "strength": {"type": "number"}}, ["prompt"]),
        "edit": _body({"prompt": prompt, "video": video_ref, **extras, "strength": {"type": "number"}},
                      ["prompt", "video"], files=("video",)),
        "extend": _body({"prompt": prompt, "seconds": seconds, "video": video_ref, **extras},
                        ["prompt", "seconds", "video"], files=("video",)),
    }


# ----------------------------------------------------------------------------
# The app

def create_app(settings: Settings | None = None, service: VideoService | None = None) -> FastAPI:
    settings = settings or Settings()
    service = service or VideoService(settings)
    access = service.access = service.access or Access(settings, service.store)
    generated = access.bootstrap()
    if generated:  # printed once, on the console only: it is stored as a digest and never shown again
        import sys
        print(f"\nOpenReel: first start. The bootstrap admin key (shown once, keep it safe):\n\n    {generated}\n",
              file=sys.stderr, flush=True)
    # No /docs or /redoc: they load scripts from a CDN, which a strict CSP forbids. /openapi.json stays.
    app = FastAPI(title="OpenReel", version=_version(), docs_url=None, redoc_url=None,
                  description="Open, self-hosted text-to-video with a Sora-compatible Videos API.")
    app.state.service = service
    poll = {"openai-poll-after-ms": str(settings.poll_after_ms)}
    bodies = _schemas(service)

    def ok(body: dict, status: int = 200, headers: dict | None = None) -> JSONResponse:
        return JSONResponse(body, status, headers=headers)

    def auth(scope: str):
        """A dependency: the request's key must be valid and carry `scope`.

        It runs on the event loop, not in the thread pool: it is one indexed read (writes only for a
        new client address or a suspension), cheaper than a hop to a pool thread. With 200 SDK
        clients polling, those hops and the GIL handoffs between the loop and the pool threads on
        two cores held p99 at about 300 ms; on the loop it was under 20 ms (scripts/bench_api.py).
        """
        async def check(request: Request) -> Principal:
            client = request.client.host if request.client else ""
            return access.authenticate(request.headers.get("authorization"), client,
                                       request.headers.get("user-agent", ""), scope)
        return Depends(check)

    Create, Read, Delete, Admin = auth("videos:create"), auth("videos:read"), auth("videos:delete"), auth("admin")
    Review = auth("review")

    @app.exception_handler(AccessError)
    async def _access_error(request: Request, exc: AccessError):
        body = {"error": {"message": exc.message, "type": exc.type, "param": exc.param, "code": exc.code}}
        return JSONResponse(body, exc.status, headers=exc.headers)

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError):
        return JSONResponse(exc.envelope(), exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        param = str(first.get("loc", ["", "?"])[-1])
        message = f"{param}: {first.get('msg', 'invalid value')}"
        if first.get("loc", [""])[0] in ("path", "query") and first.get("type") in ("string_pattern_mismatch",
                                                                                    "string_too_long"):
            message = f"{param} is not a valid id: letters, digits, _ and - only, at most 64 characters"
        return JSONResponse(ServiceError(400, message, param=param).envelope(), 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return JSONResponse(ServiceError(exc.status_code, str(exc.detail), code=code).envelope(),
                            exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(ServiceError(500, "internal server error", type="server_error").envelope(), 500)

    @app.post("/v1/videos", openapi_extra=bodies["create"], tags=["videos"])
    async def create_video(request: Request, who: Principal = Create):
        fields = await read_fields(request, settings)
        key = request.headers.get("idempotency-key")
        return ok(await run_in_threadpool(service.create, fields, key, who), headers=poll)

    @app.get("/v1/videos", tags=["videos"])
    def list_videos(after: AfterId = None, limit: int = Query(20, ge=0, le=100),
                    order: Literal["asc", "desc"] = "desc", who: Principal = Read):
        return ok(service.list(after=after, limit=limit, order=order, who=who))

    @app.post("/v1/videos/edits", openapi_extra=bodies["edit"], tags=["videos"])
    async def edit_video(request: Request, who: Principal = Create):
        fields = await read_fields(request, settings)
        return ok(await run_in_threadpool(service.edit, fields, request.headers.get("idempotency-key"), who),
                  headers=poll)

    @app.post("/v1/videos/extensions", openapi_extra=bodies["extend"], tags=["videos"])
    async def extend_video(request: Request, who: Principal = Create):
        fields = await read_fields(request, settings)
        return ok(await run_in_threadpool(service.extend, fields, request.headers.get("idempotency-key"), who),
                  headers=poll)

    @app.get("/v1/videos/{video_id}", tags=["videos"])
    async def retrieve_video(video_id: VideoId, who: Principal = Read):  # every poll: one indexed read, on the loop like auth
        return ok(service.retrieve(video_id, who), headers=poll)

    @app.delete("/v1/videos/{video_id}", tags=["videos"])
    def delete_video(video_id: VideoId, who: Principal = Delete):
        return ok(service.delete(video_id, who))

    @app.get("/v1/videos/{video_id}/content", tags=["videos"],
             responses={200: {"content": {"video/mp4": {}, "image/webp": {}, "image/jpeg": {}}}})
    def video_content(video_id: VideoId, variant: Literal["video", "thumbnail", "spritesheet"] = "video",
                      who: Principal = Read):
        path, content_type = service.content(video_id, variant, who)
        # FileResponse answers Range requests (206), so browsers can seek in the MP4.
        return FileResponse(path, media_type=content_type, filename=f"{video_id}{path.suffix}",
                            content_disposition_type="inline")

    @app.post("/v1/videos/{video_id}/remix", openapi_extra=bodies["remix"], tags=["videos"])
    async def remix_video(video_id: VideoId, request: Request, who: Principal = Create):
        fields = await read_fields(request, settings)
        return ok(await run_in_threadpool(service.remix, video_id, fields, request.headers.get("idempotency-key"),
                                          who), headers=poll)

    @app.post("/v1/verify", tags=["provenance"], openapi_extra={"requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}},
                                           "required": ["file"]}}}}})
    async def verify_file(request: Request, who: Principal = Read):
        import tempfile
        from pathlib import Path
        from ..media.video import TooLarge
        fields = await read_fields(request, settings)
        upload = fields.get("file")
        if not isinstance(upload, Upload) or not upload.data:
            raise ServiceError(400, "file is required: the video to verify, as a multipart file", param="file",
                               code="missing_required_parameter")
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "upload.mp4"
            path.write_bytes(upload.data)
            try:  # bounded: probed, refused past the upload limits, decoded small, in one of 2 decode slots
                report = await run_in_threadpool(service.provenance.verify, path, who.sees_everything)
            except TooLarge as exc:
                from ..service.uploads import too_large
                raise too_large("file", exc) from None
            except ValueError as exc:
                raise ServiceError(400, f"file: {exc}", param="file", code="invalid_file") from None
        report["file"] = upload.filename or "upload"
        return ok(report)

    @app.get("/v1/models", tags=["models"])
    def list_models(who: Principal = Read):
        return ok(service.list_models())

    from ..service.sharing import Sharing
    from .admin import admin_router
    from .sharing import sharing_router
    app.include_router(admin_router(access, Admin))
    sharing = Sharing(service.store, access, settings.auto_approve_roles, service.model_version,
                      settings.public_page_ttl_seconds)
    app.include_router(sharing_router(service, sharing, Create, Read, Review, Admin, settings.public_base_url))

    @app.get("/healthz", include_in_schema=False)
    def health():  # liveness only: no key, so nothing about the queue or the instance
        return {"status": "ok"}

    document_errors(app)
    app.add_middleware(Guard)  # inside BodyLimit: what it buffers is bounded
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes)
    if settings.cors_origins:  # closed by default: browsers on other origins can't call the API
        from fastapi.middleware.cors import CORSMiddleware
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                           allow_headers=["authorization", "content-type", "idempotency-key"])
    app.add_middleware(SecurityHeaders)  # outermost: every response, errors included
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("openreel")
    except PackageNotFoundError:
        return "0"
