"""Service parts that keep the API fast under load, in-process: the doorbell, request counting, job files."""

from __future__ import annotations

import threading
import time

import numpy as np
from sqlalchemy import select

from openreel.video import Video
from openreel.service.access import MinuteCounts, key_minutes
from openreel.service.doorbell import Doorbell
from openreel.service.settings import Settings
from openreel.service.store import Store


# --------------------------------------------------------------------------
# The doorbell

def test_a_ring_wakes_a_waiting_worker_at_once(tmp_path):
    bell = Doorbell(tmp_path)
    assert bell.wait(0.01) is False  # nobody rang: it waits the whole timeout
    woke = {}

    def listen():
        t = time.monotonic()
        woke["rung"] = bell.wait(10)
        woke["after"] = time.monotonic() - t

    listener = threading.Thread(target=listen)
    listener.start()
    time.sleep(0.2)
    Doorbell(tmp_path).ring()  # another process's view of the same folder
    listener.join(5)
    assert woke["rung"] is True and woke["after"] < 2
    assert bell.wait(0.01) is False  # the ring was taken; the next wait sleeps again
    bell.close()


def test_rings_wait_for_the_next_look_and_ringing_nobody_is_harmless(tmp_path):
    Doorbell(tmp_path / "nowhere").ring()  # no folder, no pipe, no listener: nothing happens
    bell = Doorbell(tmp_path)
    bell.wait(0.001)  # now listening
    for _ in range(3):
        Doorbell(tmp_path).ring()
    assert bell.wait(0.01) is True  # rings made while busy are answered by the next look, together
    assert bell.wait(0.01) is False
    bell.close()


# --------------------------------------------------------------------------
# Request counting

def count_in_db(store: Store, key: str, minute: int) -> int:
    with store.engine.connect() as c:
        return c.execute(select(key_minutes.c.requests).where(key_minutes.c.key_id == key,
                                                              key_minutes.c.minute == minute)).scalar() or 0


def test_minute_counts_are_exact_in_process_and_shared_through_the_database(tmp_path):
    from openreel.service.access import metadata
    store = Store(Settings(data_dir=tmp_path).db_url())
    metadata.create_all(store.engine)
    one, two = MinuteCounts(store.engine, every=3600), MinuteCounts(store.engine, every=3600)  # flushed by hand
    assert [one.add("key_a", 7) for _ in range(5)] == [1, 2, 3, 4, 5]
    assert count_in_db(store, "key_a", 7) == 0  # nothing written per request
    one.flush()
    assert count_in_db(store, "key_a", 7) == 5
    assert two.add("key_a", 7) == 1  # the other process hasn't heard yet ...
    two.flush()
    assert two.add("key_a", 7) == 7  # ... and after its flush it counts both processes' requests
    assert one.add("key_a", 8) == 1  # a new minute starts from zero
    one.forget("key_a")
    assert one.add("key_a", 8) == 1


# --------------------------------------------------------------------------
# A finished job's files, made side by side

def running_job(job_id: str, out: str):
    from openreel.service.store import Job
    return Job(seq=1, id=job_id, kind="create", status="in_progress", progress=0, model="m",
               prompt="p", size=out, seconds="1", params={"output_size": out}, remixed_from_video_id=None,
               idempotency_key=None, created_at=0, started_at=0, completed_at=None, expires_at=None,
               error_code=None, error_message=None, attempts=1, worker="w", lease_until=None,
               cancel_requested=0, deleted_at=None)


def test_job_files_are_the_same_made_in_parallel_or_in_turn(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from openreel.media.video import read_video
    from openreel.service.storage import NATIVE, VARIANTS, Storage
    from openreel.service.store import Job
    from openreel.service.worker import write_assets
    frames = np.full((9, 64, 64, 3), 30, np.uint8)
    frames[:, 20:40, 10:30] = (220, 40, 40)
    video = Video(frames, 8)
    storage = Storage(tmp_path)
    made = {}
    for name, pool in (("video_inturn", None), ("video_parallel", ThreadPoolExecutor(4))):
        for out in ("64x64", "128x128"):
            job = running_job(f"{name}{out}", out)
            write_assets(video, job, storage, None, pool)
            folder = storage.folder(job.id)
            made[name, out] = {f: (folder / f).read_bytes() for f in [NATIVE] + [v[0] for v in VARIANTS.values()]}
            assert read_video(folder / VARIANTS["video"][0])[0].shape == (9, int(out.split("x")[1]), int(out.split("x")[0]), 3)
    for out in ("64x64", "128x128"):
        assert made["video_inturn", out] == made["video_parallel", out]


def test_job_files_of_extensions_and_loops_are_all_keyframes(tmp_path):
    import av

    from openreel.service.storage import NATIVE, VARIANTS, Storage
    from openreel.service.worker import write_assets
    frames = np.full((9, 64, 64, 3), 30, np.uint8)
    for t in range(9):
        frames[t, 20:40, 10 + t:30 + t] = (220, 40, 40)
    storage = Storage(tmp_path)
    for mode, intra in (("extend", True), ("loop", True), ("remix", False)):
        for out in ("64x64", "128x128"):
            job = running_job(f"video_{mode}{out}", out)
            write_assets(Video(frames, 8, "p", {"mode": mode}), job, storage)
            for name in {NATIVE, VARIANTS["video"][0]}:
                with av.open(str(storage.folder(job.id) / name)) as f:
                    keys = [p.is_keyframe for p in f.demux(f.streams.video[0]) if p.size]
                assert all(keys) == intra and keys[0], (mode, out, name)


def test_a_dropped_minute_counts_takes_its_thread_with_it(tmp_path):
    import gc
    store = Store(Settings(data_dir=tmp_path).db_url())
    from openreel.service.access import metadata
    metadata.create_all(store.engine)
    counts = MinuteCounts(store.engine, every=0.05)
    counts.add("key_a", 1)
    thread = counts._thread
    time.sleep(0.2)
    assert count_in_db(store, "key_a", 1) == 1  # the thread wrote it
    del counts
    gc.collect()
    thread.join(2)
    assert not thread.is_alive()
