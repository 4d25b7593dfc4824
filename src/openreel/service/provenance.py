"""Provenance of every output: an invisible watermark in the frames and C2PA content credentials.

The watermark's 48-bit payload is (16-bit instance tag, 32-bit video serial):
it survives re-encoding, scaling and trimming, so a stripped or re-encoded
copy can still be traced to this instance and the video it came from. The
C2PA manifest, signed with the instance's own certificate chain (a local CA
and leaf made on first start, or an organisation's), says in a standard,
verifiable way that the video is AI-generated, by which model (and the
SHA-256 of its weights), from which training data (its manifest hash), with
which parameters (their hash), and from which source videos (ingredients).
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np

from ..backends.base import Identity
from .settings import Settings
from .store import Job, Store, videos

log = logging.getLogger("openreel.provenance")
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def instance_id(data_dir: Path) -> str:
    """This instance's id, made once and kept in the data folder (it goes into credentials)."""
    path = Path(data_dir) / "instance_id"
    if not path.exists():
        import secrets
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(path, "x") as f:  # the first process to get here wins; the others read its id
                f.write("inst_" + secrets.token_hex(8))
        except FileExistsError:
            pass
    return path.read_text().strip()


class Provenance:
    """Marks and signs a job's outputs; the model is cited from its backend's identity (backends.base.Identity)."""

    def __init__(self, settings: Settings, store: Store, instance_id: str,
                 identity_of: Callable[[str], Identity] | None = None):
        self.settings, self.store = settings, store
        self.instance_id = instance_id
        if identity_of is None:
            from .models import Models
            identity_of = Models(settings).identity
        self.identity_of = identity_of  # catalog name -> Identity (weights digest, licence, data manifest)
        self.tag = int(hashlib.sha256(instance_id.encode()).hexdigest()[:4], 16)  # 16 bits

    # -- what the credentials cite --------------------------------------------------

    def model_of(self, job: Job) -> Identity:
        return self.identity_of(job.backend or self.settings.model_name)

    @staticmethod
    def params_sha256(job: Job) -> str:
        body = json.dumps({"prompt": job.prompt, "model": job.model, "size": job.size, "seconds": job.seconds,
                           "params": job.params}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()

    @cached_property
    def version(self) -> str:
        from importlib.metadata import PackageNotFoundError, version
        try:
            return version("openreel")
        except PackageNotFoundError:
            return "0"

    def claims(self, job: Job) -> dict:
        model = self.model_of(job)
        claims = {"openreel_version": self.version, "model": model.name, "model_family": model.family,
                  "model_version": model.version, "model_weights_sha256": model.weights_sha256}
        if model.data_manifest_sha256:
            claims["training_data_manifest_sha256"] = model.data_manifest_sha256
        if model.license:
            claims["model_license"] = model.license
        if model.options:  # memory and speed options change the arithmetic, so the output may differ
            claims["model_options"] = json.dumps(model.options, sort_keys=True)
        return {**claims, "generation_parameters_sha256": self.params_sha256(job), "video_id": job.id,
                "instance_id": self.instance_id, "digital_source_type": DIGITAL_SOURCE_TYPE}

    # -- watermark ---------------------------------------------------------------------

    def payload(self, job: Job) -> int:
        return (self.tag << 32) | (job.seq & 0xFFFFFFFF)

    @cached_property
    def watermark_key(self) -> bytes:
        """The instance's secret watermark key, made once (0600) in the data folder: without it nobody
        can read, or forge, this instance's marks."""
        import os
        import secrets
        path = self.settings.data_dir / "watermark.key"
        if not path.exists():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_hex(32))
            except FileExistsError:
                pass
        return bytes.fromhex(path.read_text().strip())

    def mark(self, frames: np.ndarray, job: Job) -> np.ndarray:
        from ..media.watermark import SHORT_CELLS, embed
        if min(frames.shape[1:3]) < SHORT_CELLS:  # too small to hold the payload's cells (test-sized models only)
            log.warning("video %s is %dx%d, under %d px a side: no invisible watermark", job.id, frames.shape[2],
                        frames.shape[1], SHORT_CELLS)
            return frames
        marked = embed(frames, self.payload(job), key=self.watermark_key)
        if self.settings.visible_watermark:
            from ..media.previews import stamp
            marked = stamp(marked, self.settings.visible_watermark_text)
        return marked

    def trace(self, payload: int | None) -> Job | None:
        """The video a watermark payload names, if it is one of this instance's."""
        if payload is None or payload >> 32 != self.tag:
            return None
        from sqlalchemy import select
        with self.store.engine.connect() as c:
            vid = c.execute(select(videos.c.id).where(videos.c.seq == (payload & 0xFFFFFFFF))).scalar()
        return self.store.get(vid, include_deleted=True) if vid else None

    # -- C2PA ------------------------------------------------------------------------------

    @cached_property
    def credentials(self):
        from ..media.c2pa_sign import ensure_credentials
        s = self.settings
        org = {"chain_pem": Path(s.c2pa_chain_pem), "key_pem": Path(s.c2pa_key_pem),
               "ca_pem": Path(s.c2pa_ca_pem) if s.c2pa_ca_pem else None} if s.c2pa_chain_pem else {}
        return ensure_credentials(s.data_dir / "c2pa", org=f"OpenReel instance {self.instance_id}", **org)

    def sign(self, mp4: Path, job: Job, ingredients: list[Path], dst: Path | None = None) -> None:
        """Sign the MP4 into dst, or in place (either way through a temporary file and a rename)."""
        from ..media.c2pa_sign import sign_mp4
        sign_mp4(mp4, dst or mp4, self.claims(job), self.credentials,
                 ingredients=[p for p in ingredients if p.exists()])

    def sign_still(self, image: Path, job: Job) -> None:
        """Sign a thumbnail or sprite sheet in place (WebP and JPEG carry C2PA too)."""
        from ..media.c2pa_sign import sign_file
        sign_file(image, image, self.claims(job), self.credentials)

    def trust_anchor_pem(self) -> str:
        return self.credentials.ca_pem

    # -- verification ----------------------------------------------------------------------

    def verify(self, path: Path, show_owner: bool = False) -> dict:
        """What a file says about itself (C2PA) and what its frames say (watermark)."""
        from ..media.c2pa_sign import read_mp4
        from ..media.video import TooLarge
        from ..media.watermark import detect
        from .uploads import decode_slot, watermark_frames
        report: dict = {"file": path.name}
        # Probed and bounded like an upload (max_source_seconds, uploads.MAX_SOURCE_*: TooLarge names
        # the limit), decoded frame by frame to the detector's working size, in one of the decode slots.
        with decode_slot():
            try:
                frames = watermark_frames(path, self.settings.max_source_seconds)
            except TooLarge as exc:
                raise TooLarge(exc.limit, f"{path.name} {exc}") from None
            except Exception:
                raise ValueError(f"{path.name} is not a readable video file") from None
            wm = detect(frames, key=self.watermark_key)
            del frames
        try:
            c2 = read_mp4(path, self.trust_anchor_pem())
            report["c2pa"] = {"present": c2.has_manifest, "valid": c2.valid, "trusted": c2.trusted,
                              "claims": c2.claims, "ingredients": c2.ingredients, "errors": c2.errors,
                              "summary": c2.describe()}
        except ValueError as exc:
            report["c2pa"] = {"present": False, "valid": False, "trusted": False, "errors": [str(exc)], "summary": []}
        job = self.trace(wm.payload)
        report["watermark"] = {"found": wm.payload is not None, "payload": wm.payload, "confidence": wm.confidence,
                               "instance_match": wm.payload is not None and wm.payload >> 32 == self.tag,
                               "video_id": job.id if job else None,
                               "owner": (job.owner_id if job and show_owner else None)}
        return report
