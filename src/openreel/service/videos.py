"""The Videos service: all of the Videos API's logic, with no HTTP in it.

The HTTP layer (openreel.api) turns a request into plain values and calls one method here; the
CLI and tests can call the same methods. Every method either returns plain data or raises
ServiceError, whose fields map one to one onto OpenAI's error envelope.

A create becomes one typed request (openreel.requests), checked against the chosen model's
capabilities before anything is stored or queued, so a refused request leaves no trace. The job's
spec is that request as versioned JSON: the worker rebuilds it and runs it through the runner.
"""

from __future__ import annotations

import math
import time
from contextvars import ContextVar
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import requests as R
from ..requests import Capabilities, RequestError, parse_size
from .doorbell import Doorbell
from .errors import ServiceError, bad
from .fields import parse_extras
from .models import Models
from .settings import Settings
from .storage import INPUT_IMAGE, NATIVE, SOURCE_VIDEO, Storage
from .store import Job, Store, new_video_id
from .uploads import Upload, decode_image, save_image, save_video

if TYPE_CHECKING:
    from .access import Access, Principal

__all__ = ["VideoService", "ServiceError", "Upload", "bad", "SORA_SIZES", "SORA_SECONDS"]

# Sora's sizes and durations. A size the model cannot make is generated at its native size of the
# same aspect ratio, then scaled when the MP4 is written; a duration past one pass is a long video.
SORA_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024", "1920x1080", "1080x1920")
SORA_SECONDS = (4, 8, 12, 16, 20)
WORKER_SEEN_SECONDS = 10.0  # a worker not seen for this long is not counted as serving its models


class VideoService:
    def __init__(self, settings: Settings, store: Store | None = None, access: "Access | None" = None):
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = store or Store(settings.db_url())
        self.access = access  # None: no keys (the service used from Python or tests without the access program)
        self._moderator = None
        self.storage = Storage(settings.data_dir)
        self.doorbell = Doorbell(settings.data_dir)  # wakes an idle worker on this machine at once
        self.models = Models(settings)
        if self.models.resolve(settings.default_model) is None:
            raise ValueError(f"OPENREEL_DEFAULT_MODEL {settings.default_model!r} is neither a model nor an alias; "
                             f"models: {', '.join(self.models.names())}")

    # -- a model's menu --------------------------------------------------------------

    def caps(self, name: str | None = None) -> Capabilities:
        return self.models.capabilities(name or self.models.resolve(self.settings.default_model))

    def allowed_sizes(self, name: str | None = None) -> list[str]:
        caps = self.caps(name)
        return list(SORA_SIZES) + [s for s in caps.sizes if s not in SORA_SIZES]

    def allowed_seconds(self, name: str | None = None) -> list[int]:
        caps = self.caps(name)
        chained = "long" in caps.modes
        return sorted(s for s in set(caps.seconds) | set(SORA_SECONDS)
                      if s in caps.seconds or (chained and s <= caps.max_seconds))

    def native_size_for(self, size: str, name: str | None = None) -> str:
        """The size the model makes for a requested one: itself if the model can, else the native size
        whose aspect ratio is closest."""
        caps = self.caps(name)
        if caps.allows_size(size):
            return size
        w, h = parse_size(size)
        return min(caps.sizes, key=lambda s: abs(math.log((parse_size(s)[0] / parse_size(s)[1]) / (w / h))))

    # -- field checks (each names the field and what is allowed) ---------------

    def check_prompt(self, prompt: Any) -> str:
        if not isinstance(prompt, str) or not prompt.strip():
            raise bad("prompt", f"prompt is required: a non-empty string of 1 to {R.MAX_PROMPT_CHARS} characters",
                      "missing_required_parameter" if prompt in (None, "") else "invalid_value")
        return prompt

    def check_model(self, model: Any) -> tuple[str, str]:
        """(the name the client gave, the catalog name that runs it)."""
        model = self.settings.default_model if model in (None, "") else model
        name = self.models.resolve(model) if isinstance(model, str) else None
        if name is None:
            raise bad("model", f"model must be one of {', '.join(self.models.names())}, got {model!r}")
        refused = self.models.refusal(name)
        if refused:
            raise ServiceError(400, refused, param="model", code="model_refused")
        return model, name

    def check_seconds(self, seconds: Any, name: str) -> int:
        allowed = self.allowed_seconds(name)
        if seconds in (None, ""):  # Sora's default where the model makes it, else the model's own
            seconds = self.settings.default_seconds if self.settings.default_seconds in allowed \
                else self.caps(name).default_seconds
        try:
            value = int(str(seconds).strip())
            if str(value) != str(seconds).strip() or value not in allowed:
                raise ValueError
        except ValueError:
            raise bad("seconds", f"seconds must be one of {', '.join(map(str, allowed))} for {name} (a string or "
                                 f"an integer), got {seconds!r}") from None
        return value

    def check_size(self, size: Any, name: str) -> str:
        size = self.settings.default_size if size in (None, "") else size
        caps = self.caps(name)
        if not isinstance(size, str) or not (size in SORA_SIZES or caps.allows_size(size)):
            rule = (f", or any WIDTHxHEIGHT whose sides are multiples of {caps.size_multiple}"
                    if caps.size_multiple else "")
            raise bad("size", f"size must be one of {', '.join(self.allowed_sizes(name))}{rule} for {name}, "
                              f"got {size!r}")
        return size

    def options(self, fields: dict, **given) -> tuple[R.SamplingOptions, float | None, dict]:
        """The request's sampling options, its strength, and the extras as given (the job keeps them)."""
        extras = parse_extras(fields)
        out = {k: v for k, v in extras.items() if k != "strength"}
        return R.SamplingOptions(**{**out, **given}), extras.get("strength"), extras

    def checked(self, request: R.Request, name: str) -> R.Request:
        """request.check against the model: the one rule set; its field becomes the error's param."""
        try:
            request.check(self.caps(name))
        except RequestError as exc:
            raise bad(exc.field, str(exc)) from None
        return request

    def reading(self, prompt: str, name: str) -> dict:
        """What the built-in model will draw for the prompt, and the words it cannot place (a warning,
        or a 400 with OPENREEL_REFUSE_UNPLACED_PROMPTS)."""
        reader = self.models.reader(name)
        if reader is None:
            return {}
        explained = reader(prompt)
        out = {}
        if explained.revised != prompt:
            out["revised_prompt"] = explained.revised
        if explained.unplaced:
            if self.settings.refuse_unplaced_prompts:
                raise bad("prompt", f"model {name} {explained.message}; describe one shape, colour, motion and "
                                    "background it knows", "prompt_not_drawable")
            out["warnings"] = [explained.message]
        return out

    # -- sources -------------------------------------------------------------

    def visible(self, job: Job, who: "Principal | None") -> bool:
        """Owners see their own videos, admins everything; anyone else gets 404, so ids can't be probed."""
        return who is None or who.sees_everything or job.owner_id == who.user_id

    def source_from(self, ref: Any, param: str = "video", who: "Principal | None" = None) -> dict:
        """A `video` field, as {id} of a completed video or an uploaded file: what the worker will read."""
        if isinstance(ref, dict) and isinstance(ref.get("id"), str):
            src = self.store.get(ref["id"])
            if src is None or not self.visible(src, who):
                raise ServiceError(404, f"no video with id {ref['id']!r}", param=f"{param}.id", code="not_found")
            if src.status != "completed":
                raise ServiceError(409, f"video {src.id} is {src.status}; only a completed video can be used as "
                                        f"{param}", param=f"{param}.id", code="video_not_ready")
            if not self.storage.path(src.id, NATIVE).exists():
                raise ServiceError(410, f"the files of video {src.id} have expired or were deleted",
                                   param=f"{param}.id", code="video_expired")
            return {"source_id": src.id, "native_size": src.params["native_size"], "size": src.size,
                    "source_seconds": float(src.params.get("total_seconds", src.seconds)),
                    "ref": self.storage.ref(src.id, NATIVE)}
        if isinstance(ref, Upload):
            return {"upload": ref}
        raise bad(param, f"{param} is required: a video file, or {{\"id\": \"video_...\"}} of a completed video",
                  "missing_required_parameter" if ref is None else "invalid_value")

    # -- create ----------------------------------------------------------------

    def _idempotent(self, key: str | None, who: "Principal | None") -> tuple[str | None, dict | None]:
        """The key scoped to its user (one user's key never returns another's job), and a job it already made."""
        if not key:
            return None, None
        scoped = f"{who.user_id}:{key}" if who else key
        found = self.store.by_idempotency_key(scoped)
        return scoped, (self.to_object(found) if found else None)

    @property
    def moderator(self):
        if self._moderator is None:
            from .moderation import Moderator
            self._moderator = Moderator(self.settings.moderation_policy or None)
        return self._moderator

    def _moderate(self, prompt: str):
        """The moderation Verdict if the prompt is blocked (the job is then stored as failed, never queued)."""
        if not self.settings.moderation:
            return None
        verdict = self.moderator.check(prompt)
        return verdict if verdict.blocked else None

    # What _admit let through, for _queue to make binding: (principal, video-seconds charged). A context
    # variable, so each request (thread or task) sees only its own, without changing the callers.
    _admitted: ContextVar = ContextVar("openreel_admitted", default=None)

    def _admit(self, who: "Principal | None", prompt: str, seconds: int, size: str) -> None:
        """The key's caps, quota and prompt-burst rule, before anything is stored. The jobs-in-flight and
        quota counts are checked again, binding, in the transaction that inserts the job (see _queue)."""
        self._admitted.set(None)
        if self.access and who:
            w, h = parse_size(size)
            self.access.check_job(who, seconds, w, h)
            self.access.record_prompt(who, prompt)
            self._admitted.set((who, seconds))

    def create(self, fields: dict, idempotency_key: str | None = None, who: "Principal | None" = None) -> dict:
        """POST /v1/videos: text -> video, or image -> video with input_reference."""
        idempotency_key, found = self._idempotent(idempotency_key, who)
        if found:
            return found
        prompt = self.check_prompt(fields.get("prompt"))
        model, name = self.check_model(fields.get("model"))
        seconds = self.check_seconds(fields.get("seconds"), name)
        size = self.check_size(fields.get("size"), name)
        native = self.native_size_for(size, name)
        image = None
        if fields.get("input_reference") not in (None, ""):
            image = decode_image(fields["input_reference"], self.settings.max_image_pixels)
        vid = new_video_id()
        o, _, extras = self.options(fields, size=native)
        ref = self.storage.ref(vid, INPUT_IMAGE) if image is not None else None
        if seconds in self.caps(name).seconds:
            o = replace(o, seconds=seconds)
            request = R.ImageToVideo(prompt, ref, o) if image is not None else R.TextToVideo(prompt, o)
        else:
            request = R.Long(prompt, replace(o, seconds=seconds), image=ref)
        self.checked(request, name)
        extra = self.reading(prompt, name)
        self._admit(who, prompt, seconds, size)
        params = {"mode": "image" if image is not None else "text", "native_size": native, "output_size": size,
                  "seconds": seconds, **extras, "spec": R.to_spec(request), **extra}
        if image is not None:
            save_image(self.storage.folder(vid, create=True) / INPUT_IMAGE, image)
        return self._queue(vid, "create", model, name, prompt, size, str(seconds), params, None, idempotency_key, who)

    def remix(self, video_id: str, fields: dict, idempotency_key: str | None = None,
              who: "Principal | None" = None) -> dict:
        """POST /v1/videos/{id}/remix: the same video under a new prompt (SDEdit)."""
        idempotency_key, found = self._idempotent(idempotency_key, who)
        if found:
            return found
        src = self.store.get(video_id)
        if src is None or not self.visible(src, who):
            raise ServiceError(404, f"no video with id {video_id!r}", param="video_id", code="not_found")
        prompt = self.check_prompt(fields.get("prompt"))
        name = src.backend or self.settings.model_name
        source = self.source_from({"id": video_id}, who=who)
        o, strength, extras = self.options(fields, size=source["native_size"])
        request = self.checked(R.Remix(source["ref"], prompt, strength, o), name)
        extra = self.reading(prompt, name)
        self._admit(who, prompt, int(round(source["source_seconds"])), src.size)
        params = {"mode": "remix", "native_size": source["native_size"], "output_size": src.size,
                  "source_id": src.id, **extras, "spec": R.to_spec(request), **extra}
        return self._queue(new_video_id(), "remix", src.model, name, prompt, src.size, src.seconds, params, src.id,
                           idempotency_key, who)

    def edit(self, fields: dict, idempotency_key: str | None = None, who: "Principal | None" = None) -> dict:
        """POST /v1/videos/edits: a new prompt over a source video (an id or an upload)."""
        idempotency_key, found = self._idempotent(idempotency_key, who)
        if found:
            return found
        prompt = self.check_prompt(fields.get("prompt"))
        source = self.source_from(fields.get("video"), who=who)
        return self._queue_from_source("edit", prompt, fields, source, None, idempotency_key, who)

    def extend(self, fields: dict, idempotency_key: str | None = None, who: "Principal | None" = None) -> dict:
        """POST /v1/videos/extensions: N more seconds after a video; `seconds` of the result is the total."""
        idempotency_key, found = self._idempotent(idempotency_key, who)
        if found:
            return found
        prompt = self.check_prompt(fields.get("prompt"))
        model, name = self.check_model(fields.get("model"))
        if fields.get("seconds") in (None, ""):
            raise bad("seconds", f"seconds is required: one of {', '.join(map(str, self.allowed_seconds(name)))}",
                      "missing_required_parameter")
        seconds = self.check_seconds(fields.get("seconds"), name)
        source = self.source_from(fields.get("video"), who=who)
        return self._queue_from_source("extend", prompt, fields, source, seconds, idempotency_key, who)

    def _queue_from_source(self, kind: str, prompt: str, fields: dict, source: dict, extension: int | None,
                           idempotency_key: str | None, who: "Principal | None" = None) -> dict:
        model, name = self.check_model(fields.get("model"))
        vid = new_video_id()
        if "upload" in source:
            # Probed, bounded and decoded frame by frame straight to the native size and into the
            # stored source (uploads.save_video): never a whole clip in memory. Removed again if the
            # request is refused before it is queued (_queue cleans up after itself).
            try:
                native, count, fps = save_video(source["upload"], self.settings.max_source_seconds,
                                                lambda w, h: self.native_size_for(f"{w}x{h}", name),
                                                self.storage.folder(vid, create=True) / SOURCE_VIDEO)
            except BaseException:
                self.storage.delete(vid)
                raise
            size, source_seconds = native, count / fps
            ref = self.storage.ref(vid, SOURCE_VIDEO)
        else:
            native, size, source_seconds, ref = (source["native_size"], source["size"], source["source_seconds"],
                                                 source["ref"])
        try:
            o, strength, extras = self.options(fields, size=native)
            if kind == "extend":
                request = R.Extend(ref, prompt, options=replace(o, seconds=extension))
            else:
                request = R.Edit(ref, prompt, strength, o)
            self.checked(request, name)
            extra = self.reading(prompt, name)
            total = source_seconds + (extension or 0)
            params = {"mode": kind, "native_size": native, "output_size": size, "total_seconds": total, **extras,
                      "spec": R.to_spec(request), **extra}
            if "source_id" in source:
                params["source_id"] = source["source_id"]
            if extension is not None:
                params["seconds"] = extension
            self._admit(who, prompt, extension or max(1, int(round(source_seconds))), size)
        except BaseException:
            if "upload" in source:
                self.storage.delete(vid)
            raise
        return self._queue(vid, kind, model, name, prompt, size, str(int(round(total))), params,
                           source.get("source_id") if kind != "extend" else None, idempotency_key, who)

    def _queue(self, vid: str, kind: str, model: str, backend: str, prompt: str, size: str, seconds: str,
               params: dict, remixed_from: str | None, idempotency_key: str | None,
               who: "Principal | None" = None) -> dict:
        options = self.models.catalog.get(backend).get("options")
        if options:  # memory and speed options change the arithmetic: the job records them (so do its credentials)
            params = {**params, "model_options": options}
        admitted, admit = self._admitted.get(), None
        self._admitted.set(None)
        if self.access and who:  # the key's limits, checked and the job inserted in one serialized transaction
            charge = admitted[1] if admitted and admitted[0] is who else int(float(seconds))
            access = self.access

            def admit(conn) -> None:
                access.reserve_job(conn, who, charge)
        blocked = self._moderate(prompt)
        refused = None
        if blocked:
            refused = ("moderation_blocked", f"This prompt was blocked by the content policy (category: "
                                             f"{blocked.category}). Nothing was generated.")
            self.storage.delete(vid)  # an upload for a blocked job is not kept
        try:
            job = self.store.insert_job(video_id=vid, kind=kind, model=model, prompt=prompt, size=size,
                                        seconds=seconds, params=params, remixed_from=remixed_from,
                                        idempotency_key=idempotency_key, owner_id=who.user_id if who else None,
                                        key_id=who.key_id if who else None, refused=refused, backend=backend,
                                        admit=admit)
        except BaseException:
            self.storage.delete(vid)
            raise
        if job.id != vid:  # an idempotent retry raced us and won: drop our upload
            self.storage.delete(vid)
        elif self.access:
            actor = f"key:{who.key_id}" if who else "system"
            if refused:
                self.access.audit(actor, "moderation.block", vid, {"owner": job.owner_id, "key": job.key_id,
                                                                   "category": blocked.category,
                                                                   "rule": blocked.reason})
            else:
                self.access.audit(actor, f"video.{kind}", vid,
                                  {"owner": job.owner_id, "key": job.key_id, "model": model, "seconds": seconds,
                                   "size": size, "source": params.get("source_id")})
        if job.id == vid and not refused:
            self.doorbell.ring()
        return self.to_object(job)

    # -- read, list, delete, content -------------------------------------------

    def job(self, video_id: str, who: "Principal | None" = None) -> Job:
        job = self.store.get(video_id)
        if job is None or not self.visible(job, who):
            raise ServiceError(404, f"no video with id {video_id!r}", param="video_id", code="not_found")
        return job

    def retrieve(self, video_id: str, who: "Principal | None" = None) -> dict:
        return self.to_object(self.job(video_id, who))

    def list(self, after: str | None = None, limit: int = 20, order: str = "desc", who: "Principal | None" = None) -> dict:
        if not 0 <= limit <= 100:
            raise bad("limit", f"limit must be between 0 and 100, got {limit}")
        if order not in ("asc", "desc"):
            raise bad("order", f"order must be asc or desc, got {order!r}")
        owner = None if who is None or who.sees_everything else who.user_id
        jobs, more = self.store.list(after=after or None, limit=limit, order=order, owner_id=owner)
        data = [self.to_object(j) for j in jobs]
        return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None, "has_more": more}

    def delete(self, video_id: str, who: "Principal | None" = None) -> dict:
        """Delete a video and its files; a queued or running job is cancelled."""
        self.job(video_id, who)  # 404 unless visible
        job = self.store.mark_deleted(video_id)
        if job is None:
            raise ServiceError(404, f"no video with id {video_id!r}", param="video_id", code="not_found")
        if job.status != "in_progress":
            self.storage.delete(video_id)  # a running job's worker removes its files when it stops
        return {"id": video_id, "deleted": True, "object": "video.deleted"}

    def content(self, video_id: str, variant: str = "video", who: "Principal | None" = None) -> tuple[Path, str]:
        """(file path, content type) of a completed video's asset."""
        from .storage import VARIANTS
        if variant not in VARIANTS:
            raise bad("variant", f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
        job = self.job(video_id, who)
        if job.status != "completed":
            detail = f" ({job.error_code}: {job.error_message})" if job.status == "failed" else ""
            raise ServiceError(409, f"video {video_id} is {job.status}{detail}; content is available once its "
                                    "status is completed", param="video_id", code="video_not_ready")
        if job.expires_at and job.expires_at < time.time():
            raise ServiceError(410, f"the files of video {video_id} expired at {job.expires_at}",
                               param="video_id", code="video_expired")
        path, content_type = self.storage.variant(video_id, variant)
        if not path.exists():
            raise ServiceError(410, f"the {variant} of video {video_id} is no longer stored", param="video_id",
                               code="video_expired")
        return path, content_type

    def list_models(self) -> dict:
        """GET /v1/models: every model with its family, capabilities and licence."""
        return {"object": "list", "data": self.models.public()}

    # -- provenance ----------------------------------------------------------------

    def instance_id(self) -> str:
        """This instance's id, made once and kept in the data folder (it goes into credentials)."""
        from .provenance import instance_id
        return instance_id(self.settings.data_dir)

    @property
    def provenance(self):
        if not hasattr(self, "_provenance"):
            from .provenance import Provenance
            self._provenance = Provenance(self.settings, self.store, self.instance_id(), self.models.identity)
        return self._provenance

    def model_version(self, job: Job | None = None) -> str:
        """A job's model as name@weights-digest prefix (the digest the C2PA claims cite in full)."""
        m = self.models.identity(job.backend if job and job.backend else self.settings.model_name)
        return f"{m.name}@{m.weights_sha256[:16]}"

    def credentials_summary(self, job: Job) -> list[str]:
        """What the public page says about where the video came from."""
        c = self.provenance.claims(job)
        lines = ["AI-generated: C2PA digitalSourceType trainedAlgorithmicMedia, signed by this instance",
                 f"model {c['model']} ({c['model_family']}, weights SHA-256 {c['model_weights_sha256'][:16]}...)"]
        if c.get("training_data_manifest_sha256"):
            lines.append(f"trained only on OpenReel's procedural world (data manifest SHA-256 "
                         f"{c['training_data_manifest_sha256'][:16]}...)")
        return lines + [f"video {c['video_id']} on instance {c['instance_id']}, OpenReel {c['openreel_version']}",
                        "an invisible watermark in the frames traces copies back to this video",
                        "prompt moderated and the video reviewed before publication"]

    # -- the wire object -----------------------------------------------------

    def waiting_for(self, job: Job) -> str | None:
        """For a queued job whose model no running worker serves: what it waits for."""
        if job.status != "queued":
            return None
        served = self.store.served_models(WORKER_SEEN_SECONDS)
        name = job.backend or self.settings.model_name
        if served is None or name in served:
            return None
        return (f"no running worker serves model {name}; it stays queued until one does "
                f"(openreel worker --model {name})")

    def to_object(self, job: Job) -> dict:
        """The Videos API's `Video` object, plus OpenReel's notes on how the prompt was read."""
        error = {"code": job.error_code, "message": job.error_message or ""} if job.status == "failed" else None
        out = {
            "id": job.id, "object": "video", "model": job.model, "status": job.status,
            "progress": 100 if job.status == "completed" else int(job.progress or 0),
            "created_at": job.created_at, "completed_at": job.completed_at, "expires_at": job.expires_at,
            "prompt": job.prompt, "size": job.size, "seconds": job.seconds,
            "remixed_from_video_id": job.remixed_from_video_id, "error": error,
        }
        for key in ("revised_prompt", "warnings"):
            if key in job.params:
                out[key] = job.params[key]
        waiting = self.waiting_for(job)
        if waiting:
            out["waiting_for"] = waiting
        return out
