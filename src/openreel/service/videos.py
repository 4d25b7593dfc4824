"""The Videos service: all of the Videos API's logic, with no HTTP in it.

The HTTP layer (openreel.api) turns a request into plain values and calls
one method here; the CLI and tests can call the same methods. Every method
either returns plain data or raises ServiceError, whose fields map one to one
onto OpenAI's error envelope. Validation happens here, before anything is
stored or queued, so a refused request leaves no trace.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .doorbell import Doorbell
from .settings import Settings
from .storage import INPUT_IMAGE, NATIVE, SOURCE_VIDEO, Storage
from .store import Job, Store, new_video_id

if TYPE_CHECKING:
    from .access import Access, Principal

# Sora's sizes. Each is generated at the model's native size of the same
# aspect ratio, then scaled up when the MP4 is written.
SORA_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024", "1920x1080", "1080x1920")
SORA_SECONDS = (4, 8, 12, 16, 20)


class ServiceError(Exception):
    """An error for the client: HTTP status plus OpenAI's envelope fields."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 type: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = status, message, param, code, type

    def envelope(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad(param: str, message: str, code: str = "invalid_value") -> ServiceError:
    return ServiceError(400, message, param=param, code=code)


@dataclass
class Upload:
    """A file part of a request, already read (the HTTP layer caps its size)."""
    filename: str
    content_type: str
    data: bytes


def _size_tuple(size: str) -> tuple[int, int]:
    w, h = size.lower().split("x")
    return int(w), int(h)


class VideoService:
    def __init__(self, settings: Settings, store: Store | None = None, access: "Access | None" = None):
        from ..pipeline import load_defaults
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = store or Store(settings.db_url())
        self.access = access  # None: no keys (the service used from Python or tests without the access program)
        self._moderator = None
        self.storage = Storage(settings.data_dir)
        self.doorbell = Doorbell(settings.data_dir)  # wakes an idle worker on this machine at once
        self.defaults = load_defaults(settings.weights or None)  # the model's native sizes, durations, fps

    # -- the model's menu --------------------------------------------------------

    def native_sizes(self) -> list[str]:
        return list(self.defaults.sizes)

    def allowed_sizes(self) -> list[str]:
        return list(SORA_SIZES) + [s for s in self.native_sizes() if s not in SORA_SIZES]

    def allowed_seconds(self) -> list[int]:
        return sorted(set(self.defaults.seconds) | set(SORA_SECONDS))

    def native_size_for(self, size: str) -> str:
        """The native size whose aspect ratio is closest to size's."""
        if size in self.native_sizes():
            return size
        w, h = _size_tuple(size)
        return min(self.native_sizes(), key=lambda s: abs(math.log((_size_tuple(s)[0] / _size_tuple(s)[1]) / (w / h))))

    # -- field checks (each names the field and what is allowed) ---------------

    def check_prompt(self, prompt: Any) -> str:
        if not isinstance(prompt, str) or not prompt.strip():
            raise bad("prompt", "prompt is required: a non-empty string of 1 to 32000 characters",
                      "missing_required_parameter" if prompt in (None, "") else "invalid_value")
        if len(prompt) > 32000:
            raise bad("prompt", f"prompt must be at most 32000 characters, got {len(prompt)}")
        return prompt

    def check_model(self, model: Any) -> str:
        model = self.settings.default_model if model in (None, "") else model
        if not isinstance(model, str) or self.settings.resolve_model(model) is None:
            raise bad("model", f"model must be one of {', '.join(self.settings.public_models())}, got {model!r}")
        return model

    def check_seconds(self, seconds: Any, default: int | None = None) -> int:
        if seconds in (None, ""):
            seconds = self.settings.default_seconds if default is None else default
        allowed = self.allowed_seconds()
        try:
            value = int(str(seconds).strip())
            if str(value) != str(seconds).strip() or value not in allowed:
                raise ValueError
        except ValueError:
            raise bad("seconds", f"seconds must be one of {', '.join(map(str, allowed))} (a string or an "
                                 f"integer), got {seconds!r}") from None
        return value

    def check_size(self, size: Any) -> str:
        size = self.settings.default_size if size in (None, "") else size
        if not isinstance(size, str) or size not in self.allowed_sizes():
            raise bad("size", f"size must be one of {', '.join(self.allowed_sizes())}, got {size!r}")
        return size

    def check_extras(self, fields: dict, native_size: str, seconds: int) -> dict:
        """OpenReel's optional extras (ignored by the SDK): seed, steps, guidance, fps, strength."""
        from ..pipeline import check_inputs
        d = self.defaults
        out: dict[str, Any] = {}
        casts = {"seed": int, "steps": int, "guidance": float, "fps": int, "strength": float}
        for name, cast in casts.items():
            value = fields.get(name)
            if value in (None, ""):
                continue
            try:
                if isinstance(value, bool):
                    raise ValueError
                out[name] = cast(value)
                if cast is int and str(value).strip() != str(out[name]) and not isinstance(value, int):
                    raise ValueError
            except (TypeError, ValueError):
                raise bad(name, f"{name} must be {'an integer' if cast is int else 'a number'}, got {value!r}") from None
        if "seed" in out and not 0 <= out["seed"] < 2**63:
            raise bad("seed", f"seed must be in [0, 2^63), got {out['seed']}")
        if "strength" in out and not 0 < out["strength"] <= 1:
            raise bad("strength", f"strength must be in (0, 1], got {out['strength']}")
        try:
            check_inputs(d, "x", min(seconds, max(d.seconds)), native_size, out.get("fps", d.default_fps),
                         out.get("steps", d.steps), out.get("guidance", d.guidance), d.sampler)
        except ValueError as exc:
            field = str(exc).split()[0]
            raise bad(field, str(exc)) from None
        return out

    # -- uploaded media ------------------------------------------------------

    def decode_image(self, ref: Any, param: str = "input_reference"):
        """An image upload, or {image_url: data URL}, as an RGB PIL image; refuses bombs and non-images."""
        from PIL import Image
        if isinstance(ref, Upload):
            data = ref.data
        elif isinstance(ref, dict) and isinstance(ref.get("image_url"), str):
            url = ref["image_url"]
            if not url.startswith("data:") or ";base64," not in url:
                raise bad(param, f"{param}.image_url must be a base64 data URL (data:image/png;base64,...); "
                                 "this server does not fetch remote URLs")
            try:
                data = base64.b64decode(url.split(";base64,", 1)[1], validate=True)
            except (binascii.Error, ValueError):
                raise bad(param, f"{param}.image_url is not valid base64") from None
        elif isinstance(ref, dict) and ref.get("file_id"):
            raise bad(param, f"{param}.file_id is not supported here; upload the image or send image_url")
        else:
            raise bad(param, f"{param} must be an image file (PNG, JPEG or WebP) or {{\"image_url\": data URL}}")
        try:
            im = Image.open(io.BytesIO(data))
            if im.format not in ("PNG", "JPEG", "WEBP", "GIF", "BMP"):
                raise bad(param, f"{param} must be a PNG, JPEG or WebP image, got {im.format}")
            w, h = im.size
            if w * h > self.settings.max_image_pixels:
                raise bad(param, f"{param} is {w}x{h}, more than {self.settings.max_image_pixels} pixels; "
                                 "send a smaller image", "image_too_large")
            im.load()
            return im.convert("RGB")
        except ServiceError:
            raise
        except Exception as exc:  # Pillow raises many types for corrupt data, bombs included
            raise bad(param, f"{param} is not a readable image ({type(exc).__name__}); send a PNG, JPEG "
                             "or WebP file") from None

    def decode_video(self, upload: Upload, native_size: str | None, param: str = "video") -> tuple[np.ndarray, int, str]:
        """An uploaded video -> (frames at a native size, fps, native size)."""
        from PIL import Image

        from ..media.video import read_video
        with tempfile.NamedTemporaryFile(suffix=Path(upload.filename or "v.mp4").suffix or ".mp4") as f:
            f.write(upload.data)
            f.flush()
            try:
                frames, fps = read_video(f.name)
            except Exception:
                raise bad(param, f"{param} is not a readable video file; send an MP4 or WebM") from None
        if len(frames) < 2:
            raise bad(param, f"{param} has {len(frames)} frame(s); at least 2 are needed")
        if len(frames) / max(fps, 1e-6) > self.settings.max_source_seconds:
            raise bad(param, f"{param} is longer than {self.settings.max_source_seconds:g} s")
        h, w = frames.shape[1:3]
        native = native_size or self.native_size_for(f"{w}x{h}")
        nw, nh = _size_tuple(native)
        if (w, h) != (nw, nh):
            frames = np.stack([np.asarray(Image.fromarray(fr).resize((nw, nh), Image.BICUBIC)) for fr in frames])
        fps_out = int(round(fps)) if round(fps) in self.defaults.fps else self.defaults.default_fps
        return frames, fps_out, native

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
                    "source_seconds": float(src.params.get("total_seconds", src.seconds))}
        if isinstance(ref, Upload):
            return {"upload": ref}
        raise bad(param, f"{param} is required: a video file, or {{\"id\": \"video_...\"}} of a completed video",
                  "missing_required_parameter" if ref is None else "invalid_value")

    # -- create ----------------------------------------------------------------

    def visible(self, job: Job, who: "Principal | None") -> bool:
        """Owners see their own videos, admins everything; anyone else gets 404, so ids can't be probed."""
        return who is None or who.sees_everything or job.owner_id == who.user_id

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

    def _admit(self, who: "Principal | None", prompt: str, seconds: int, size: str) -> None:
        """The key's caps, quota and prompt-burst rule, before anything is stored."""
        if self.access and who:
            w, h = _size_tuple(size)
            self.access.check_job(who, seconds, w, h)
            self.access.record_prompt(who, prompt)

    def create(self, fields: dict, idempotency_key: str | None = None, who: "Principal | None" = None) -> dict:
        """POST /v1/videos"""
        idempotency_key, found = self._idempotent(idempotency_key, who)
        if found:
            return found
        prompt = self.check_prompt(fields.get("prompt"))
        model = self.check_model(fields.get("model"))
        seconds = self.check_seconds(fields.get("seconds"))
        size = self.check_size(fields.get("size"))
        native = self.native_size_for(size)
        extras = self.check_extras(fields, native, seconds)
        image = None
        if fields.get("input_reference") not in (None, ""):
            image = self.decode_image(fields["input_reference"])
        self._admit(who, prompt, seconds, size)
        params = {"mode": "image" if image else "text", "native_size": native, "output_size": size,
                  "seconds": seconds, **extras}
        vid = new_video_id()
        if image is not None:
            self._save_image(vid, image, native)
        return self._queue(vid, "create", model, prompt, size, str(seconds), params, None, idempotency_key, who)

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
        source = self.source_from({"id": video_id}, who=who)
        seconds = int(round(source["source_seconds"]))
        extras = self.check_extras(fields, source["native_size"], seconds)
        self._admit(who, prompt, seconds, src.size)
        params = {"mode": "remix", "native_size": source["native_size"], "output_size": src.size,
                  "source_id": src.id, **extras}
        return self._queue(new_video_id(), "remix", src.model, prompt, src.size, src.seconds, params, src.id,
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
        if fields.get("seconds") in (None, ""):
            raise bad("seconds", f"seconds is required: one of {', '.join(map(str, self.allowed_seconds()))}",
                      "missing_required_parameter")
        seconds = self.check_seconds(fields.get("seconds"))
        source = self.source_from(fields.get("video"), who=who)
        return self._queue_from_source("extend", prompt, fields, source, seconds, idempotency_key, who)

    def _queue_from_source(self, kind: str, prompt: str, fields: dict, source: dict, extension: int | None,
                           idempotency_key: str | None, who: "Principal | None" = None) -> dict:
        model = self.check_model(fields.get("model"))
        vid = new_video_id()
        if "upload" in source:
            frames, fps, native = self.decode_video(source["upload"], None)
            size = native
            source_seconds = len(frames) / fps
        else:
            native, size, source_seconds = source["native_size"], source["size"], source["source_seconds"]
        extras = self.check_extras(fields, native, extension or max(1, int(round(source_seconds))))
        params = {"mode": kind, "native_size": native, "output_size": size, **extras}
        if "source_id" in source:
            params["source_id"] = source["source_id"]
        if extension is not None:
            params["seconds"] = extension
        total = source_seconds + (extension or 0)
        params["total_seconds"] = total
        seconds = str(int(round(total)))
        self._admit(who, prompt, extension or max(1, int(round(source_seconds))), size)
        if "upload" in source:
            from ..media.video import write_mp4
            write_mp4(self.storage.folder(vid, create=True) / SOURCE_VIDEO, frames, fps)
        return self._queue(vid, kind, model, prompt, size, seconds, params,
                           source.get("source_id") if kind != "extend" else None, idempotency_key, who)

    def _save_image(self, vid: str, image, native: str) -> None:
        from ..media.previews import write_atomic
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        write_atomic(self.storage.folder(vid, create=True) / INPUT_IMAGE, buf.getvalue())

    def _queue(self, vid: str, kind: str, model: str, prompt: str, size: str, seconds: str, params: dict,
               remixed_from: str | None, idempotency_key: str | None, who: "Principal | None" = None) -> dict:
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
                                        key_id=who.key_id if who else None, refused=refused)
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

    def models(self) -> dict:
        now = int(time.time())
        return {"object": "list", "data": [
            {"id": name, "object": "model", "created": now, "owned_by": "openreel"}
            for name in self.settings.public_models()]}

    # -- provenance ----------------------------------------------------------------

    def instance_id(self) -> str:
        """This instance's id, made once and kept in the data folder (it goes into credentials)."""
        from .provenance import instance_id
        return instance_id(self.settings.data_dir)

    @property
    def provenance(self):
        if not hasattr(self, "_provenance"):
            from .provenance import Provenance
            self._provenance = Provenance(self.settings, self.store, self.instance_id(), self.settings.model_name)
        return self._provenance

    def model_version(self) -> str:
        """The built-in model's version: a prefix of the weights' SHA-256 that the C2PA claims cite too
        (provenance hashes the files once per process)."""
        return f"{self.settings.model_name}@{self.provenance.weights_sha256[:16]}"

    def credentials_summary(self, job: Job) -> list[str]:
        """What the public page says about where the video came from."""
        c = self.provenance.claims(job)
        return ["AI-generated: C2PA digitalSourceType trainedAlgorithmicMedia, signed by this instance",
                f"model {c['model']} (weights SHA-256 {c['model_weights_sha256'][:16]}...)",
                f"trained only on OpenReel's procedural world (data manifest SHA-256 "
                f"{c['training_data_manifest_sha256'][:16]}...)",
                f"video {c['video_id']} on instance {c['instance_id']}, OpenReel {c['openreel_version']}",
                "an invisible watermark in the frames traces copies back to this video",
                "prompt moderated and the video reviewed before publication"]

    # -- the wire object -----------------------------------------------------

    def to_object(self, job: Job) -> dict:
        """The Videos API's `Video` object."""
        error = {"code": job.error_code, "message": job.error_message or ""} if job.status == "failed" else None
        return {
            "id": job.id, "object": "video", "model": job.model, "status": job.status,
            "progress": 100 if job.status == "completed" else int(job.progress or 0),
            "created_at": job.created_at, "completed_at": job.completed_at, "expires_at": job.expires_at,
            "prompt": job.prompt, "size": job.size, "seconds": job.seconds,
            "remixed_from_video_id": job.remixed_from_video_id, "error": error,
        }
