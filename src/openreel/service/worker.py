"""A worker process: load the model once, then claim and run jobs until told to stop.

    python -m openreel.service.worker --name w1      (or `openreel worker`)

`openreel serve` starts and supervises these. Each job is held with a lease
that a heartbeat thread renews; if this process dies (kill -9 included) the
lease runs out and another worker's reaper gives the job back to the queue,
or fails it with `worker_lost` after max_attempts. Every file is written
atomically before the job is marked completed, so `completed` always means
the assets are there.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Callable


from .doorbell import Doorbell
from .settings import Settings
from .storage import INPUT_IMAGE, NATIVE, SOURCE_VIDEO, Storage, VARIANTS
from .store import Job, Store
from .webhooks import deliver_due, queue_event

log = logging.getLogger("openreel.worker")

CANCEL_LOOK_SECONDS = 0.25  # how often a running job checks whether it was deleted (between denoising steps)
SEEN_EVERY_SECONDS = 2.0  # how often an idle or busy worker says it is alive (and which models it serves)


class Cancelled(Exception):
    """The job was deleted while it ran."""


class LeaseLost(Exception):
    """Another worker owns the job now (our lease ran out); stop without writing anything."""


def _size(size: str) -> tuple[int, int]:
    w, h = size.split("x")
    return int(w), int(h)


def job_request(job: Job, storage: Storage):
    """The job's typed request, from its spec (versioned JSON written by the service)."""
    from ..requests import from_spec
    if "spec" not in job.params:
        return legacy_request(job, storage)
    return from_spec(job.params["spec"])


def legacy_request(job: Job, storage: Storage):
    """A job queued before specs existed (its params name the mode): the same request, typed."""
    from .. import requests as R
    p = job.params
    o = R.SamplingOptions(size=p.get("native_size"), seed=p.get("seed", 0), steps=p.get("steps"),
                          guidance=p.get("guidance"), fps=p.get("fps"))
    source = storage.ref(p["source_id"], NATIVE) if "source_id" in p else storage.ref(job.id, SOURCE_VIDEO)
    mode = p["mode"]
    if mode in ("text", "image"):
        image = storage.ref(job.id, INPUT_IMAGE) if mode == "image" else None
        seconds = p["seconds"]
        if mode == "image" and seconds <= 4:
            return R.ImageToVideo(job.prompt, image, replace(o, seconds=seconds))
        if seconds <= 4:
            return R.TextToVideo(job.prompt, replace(o, seconds=seconds))
        return R.Long(job.prompt, replace(o, seconds=seconds), image=image)
    if mode in ("remix", "edit"):
        cls = R.Remix if mode == "remix" else R.Edit
        return cls(source, job.prompt, p.get("strength"), replace(o, size=None))
    return R.Extend(source, job.prompt, options=replace(o, size=None, seconds=p["seconds"]))


def generate(backend, job: Job, storage: Storage, callback: Callable[[int, int], None]):
    """Run one job on its backend, through the one runner the CLI uses too. Returns the Video."""
    from ..runner import run
    return run(backend, job_request(job, storage), callback, resolve=storage.resolve)


def write_assets(video, job: Job, storage: Storage, provenance=None, pool=None) -> None:
    """The MP4 at the asked size, the native MP4 (a source for remixes), thumbnail and sprite sheet.

    With provenance, the frames carry the invisible watermark and the MP4 is signed with C2PA,
    listing the source videos (remix, edit, extend) as ingredients.

    With a thread pool, the stills are made beside the MP4. It gains little, because the MP4
    (watermark, encode, signature) is the longest path (docs/decisions/api-performance.md).
    """
    from ..media.previews import spritesheet, thumbnail, write_atomic
    from ..media.video import write_mp4
    folder = storage.folder(job.id, create=True)
    out = _size(job.params["output_size"])
    frames = provenance.mark(video.frames, job) if provenance else video.frames
    native = (frames.shape[2], frames.shape[1])
    signing = bool(provenance and provenance.settings.c2pa)
    final = folder / VARIANTS["video"][0]
    sources = []
    if "source_id" in job.params:
        sources.append(storage.path(job.params["source_id"], VARIANTS["video"][0]))
    elif job.params.get("mode") in ("edit", "extend"):
        sources.append(storage.path(job.id, SOURCE_VIDEO))

    def native_mp4():
        write_mp4(folder / NATIVE, frames, video.fps, all_intra=video.all_intra)
        if out == native:  # the same file: one encode, then the signed copy (or a link) beside it
            if signing:
                provenance.sign(folder / NATIVE, job, sources, dst=final)
            else:
                _link_atomic(folder / NATIVE, final)

    def scaled_mp4():
        write_mp4(final, frames, video.fps, scale_to=out, all_intra=video.all_intra)
        if signing:
            provenance.sign(final, job, sources)

    def still(variant: str, data: Callable[[], bytes]):
        path = write_atomic(folder / VARIANTS[variant][0], data())
        if signing:
            provenance.sign_still(path, job)

    tasks = [native_mp4, lambda: still("thumbnail", lambda: thumbnail(frames, out)),
             lambda: still("spritesheet", lambda: spritesheet(frames))]
    if out != native:
        tasks.insert(1, scaled_mp4)
    if pool is None:
        for task in tasks:
            task()
    else:
        for future in [pool.submit(task) for task in tasks]:
            future.result()  # the first error is raised here, as in the loop above


def _link_atomic(src, dst) -> None:
    """dst becomes another name of src's file, replacing any dst atomically."""
    tmp = dst.with_name(f".tmp-link-{uuid.uuid4().hex}")
    os.link(src, tmp)
    os.replace(tmp, dst)


class Worker:
    """Claims jobs for the models it serves (`models`; empty = every model) and runs them."""

    def __init__(self, settings: Settings, name: str | None = None, pipeline=None, models: list[str] | None = None):
        from .models import Models
        self.settings = settings
        self.name = name or f"worker-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.store = Store(settings.db_url())
        self.storage = Storage(settings.data_dir)
        self.doorbell = Doorbell(settings.data_dir)
        self.models = list(models if models is not None else settings.worker_models)
        self.catalog = Models(settings)
        self._backends: dict = {}
        if pipeline is not None:  # tests pass a built-in pipeline of tiny (or stand-in) components
            from ..backends.builtin import BuiltinBackend
            self._backends[settings.model_name] = BuiltinBackend(settings.model_name, pipeline=pipeline)
        self.stopping = threading.Event()
        # Threads for a finished job's files (write_assets): one per file, at most four.
        self.files = ThreadPoolExecutor(max_workers=4, thread_name_prefix="files")
        from .provenance import Provenance, instance_id
        self.provenance = Provenance(settings, self.store, instance_id(settings.data_dir), self.identity)

    def backend(self, name: str):
        """A served model, loaded once per process."""
        if name not in self._backends:
            self._backends[name] = self.catalog.catalog.load(name)
        return self._backends[name]

    def identity(self, name: str):
        return self.backend(name).identity() if name in self._backends else self.catalog.identity(name)

    def seen(self) -> None:
        self.store.worker_seen(self.name, self.models)

    def run(self, watch_parent: int | None = None) -> None:
        # Load before the first claim, so the first job isn't slower: the served models, or the built-in one.
        for name in self.models or [self.settings.model_name]:
            backend = self.backend(name)
            if hasattr(backend, "pipe"):
                _ = backend.pipe
        log.info("%s ready (models: %s)", self.name, ", ".join(self.models) or "all")
        last_reap = last_seen = 0.0
        try:
            while not self.stopping.is_set():
                if watch_parent and os.getppid() != watch_parent:
                    log.warning("%s: parent process is gone; exiting", self.name)
                    return
                now = time.time()
                if now - last_seen > SEEN_EVERY_SECONDS:
                    self.seen()
                    last_seen = now
                if now - last_reap > min(self.settings.lease_seconds / 3, 5):
                    self.reap()
                    last_reap = now
                deliver_due(self.store, self.settings)
                job = self.store.claim(self.name, self.settings.lease_seconds, self.models or None)
                if job is None:
                    self.doorbell.wait(self.settings.poll_idle_seconds, self.stopping)
                    continue
                self.process(job)
        finally:
            self.store.worker_gone(self.name)

    def reap(self) -> None:
        requeued, failed = self.store.reap(self.settings.max_attempts)
        for vid in requeued:
            log.warning("job %s lost its worker; queued again", vid)
        for vid in failed:
            log.error("job %s lost its worker too many times; failed with worker_lost", vid)
            queue_event(self.store, self.settings, "video.failed", vid)
        for vid in self.store.expired():  # retention: the files go, the record stays (content answers 410)
            if self.storage.folder(vid).exists():
                self.storage.delete(vid)

    def process(self, job: Job) -> None:
        state = {"progress": 0, "lost": False, "looked": time.monotonic()}
        done = threading.Event()

        def heartbeat():
            while not done.wait(self.settings.heartbeat_seconds):
                self.seen()  # a busy worker still serves its models: their queued jobs are not orphans
                if not self.store.heartbeat(job.id, self.name, self.settings.lease_seconds, state["progress"]):
                    state["lost"] = True
                    return

        def callback(i: int, n: int) -> None:
            state["progress"] = min(99, int(100 * i / max(n, 1)))
            if state["lost"]:
                raise LeaseLost()
            now = time.monotonic()
            if now - state["looked"] >= CANCEL_LOOK_SECONDS:  # a query per step is wasted on short steps
                state["looked"] = now
                if self.store.cancel_requested(job.id):
                    raise Cancelled()

        beat = threading.Thread(target=heartbeat, daemon=True)
        beat.start()
        try:
            started = time.time()
            video = generate(self.backend(job.backend or self.settings.model_name), job, self.storage, callback)
            generated = time.time()
            if state["lost"]:
                raise LeaseLost()
            write_assets(video, job, self.storage, self.provenance, self.files)
            written = time.time()
            total = job.params.get("total_seconds")
            seconds = str(int(round(len(video.frames) / video.fps))) if total is not None else None
            if self.store.complete(job.id, self.name, self.settings.retention_seconds, seconds):
                log.info("job %s completed in %.2f s (generation %.2f s, files %.2f s)", job.id,
                         time.time() - started, generated - started, written - generated)
                queue_event(self.store, self.settings, "video.completed", job.id)
            if self.store.get(job.id) is None:  # deleted while we wrote
                self.storage.delete(job.id)
        except Cancelled:
            log.info("job %s cancelled (deleted)", job.id)
            self.store.fail(job.id, "cancelled", "the video was deleted while it was generating", self.name)
            self.storage.delete(job.id)
        except LeaseLost:
            log.warning("job %s: lease lost to another worker; dropping our result", job.id)
        except ValueError as exc:
            # The request was checked when it was made; a ValueError here is a request the model refuses.
            log.warning("job %s failed: %s", job.id, exc)
            if self.store.fail(job.id, "invalid_request", str(exc), self.name):
                queue_event(self.store, self.settings, "video.failed", job.id)
        except Exception as exc:
            log.exception("job %s failed", job.id)
            if self.store.fail(job.id, "generation_failed", f"{type(exc).__name__}: {exc}", self.name):
                queue_event(self.store, self.settings, "video.failed", job.id)
        finally:
            done.set()
            beat.join()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run one OpenReel worker (settings from OPENREEL_* variables).")
    parser.add_argument("--name", default=None)
    parser.add_argument("--model", action="append", default=[], help="serve only this model (repeatable)")
    parser.add_argument("--watch-parent", type=int, default=0, help="exit when this parent pid goes away")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = Settings()
    if settings.worker_nice and hasattr(os, "nice"):
        # Generation uses every core it gets; on a small machine that starved the API, whose answers
        # (polls, downloads) then queued for seconds. A lower priority costs generation only the CPU
        # the API actually uses.
        os.nice(settings.worker_nice)
    worker = Worker(settings, args.name, models=args.model or None)
    signal.signal(signal.SIGTERM, lambda *_: worker.stopping.set())
    worker.run(watch_parent=args.watch_parent or None)


if __name__ == "__main__":
    main()

