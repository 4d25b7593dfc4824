"""Jobs are never lost: kill -9 a worker or the server, and every job still ends completed or failed.

Also the store's lease machinery on both databases (SQLite and the local
PostgreSQL), webhooks with their Standard Webhooks signatures and retries,
and a whole server on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import threading
import time
import warnings

import httpx
import pytest

from openreel.backends.builtin import load_defaults
from openreel.service import webhooks
from openreel.service.settings import Settings
from openreel.service.store import Store
from serving import Receiver, Server

warnings.filterwarnings("ignore", category=DeprecationWarning)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
PROMPT = "a cyan triangle moving left on a brown background"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def wait_terminal(server: Server, ids: list[str], timeout: float = 300) -> dict[str, dict]:
    deadline = time.time() + timeout
    out: dict[str, dict] = {}
    while time.time() < deadline:
        for vid in ids:
            if vid not in out:
                v = server.http.get(f"/v1/videos/{vid}").json()
                if v["status"] in ("completed", "failed"):
                    out[vid] = v
        if len(out) == len(ids):
            return out
        time.sleep(0.2)
    raise AssertionError(f"jobs never reached a terminal status: {set(ids) - set(out)}")


# ---------------------------------------------------------------------------
# Killing processes

def test_kill9_a_worker_mid_job_and_the_job_still_finishes(tmp_path):
    srv = Server(tmp_path / "data").start()
    try:
        client = srv.client()
        job = client.videos.create(prompt=PROMPT, size="64x64", seconds="4", extra_body={"steps": 150})
        deadline = time.time() + 120
        while client.videos.retrieve(job.id).progress < 5:  # it is really running
            assert time.time() < deadline
            time.sleep(0.05)
        [victim] = srv.worker_pids()
        os.kill(victim, signal.SIGKILL)
        done = wait_terminal(srv, [job.id])[job.id]
        assert done["status"] == "completed" or done["error"]["code"] == "worker_lost", done
        assert done["status"] == "completed"  # one loss is well under max_attempts (3)
        assert victim not in srv.worker_pids() and len(srv.worker_pids()) == 1  # the supervisor replaced it
        assert client.videos.download_content(job.id).read()[4:8] == b"ftyp"
    finally:
        srv.stop()


def test_kill9_the_server_with_jobs_queued_and_they_all_complete_after_restart(tmp_path):
    srv = Server(tmp_path / "data").start()
    ids = []
    try:
        client = srv.client()
        ids = [client.videos.create(prompt=PROMPT, size="64x64", seconds="2", extra_body={"seed": i}).id
               for i in range(6)]
        srv.kill9()  # workers notice their parent is gone and leave
        deadline = time.time() + 60
        while srv.worker_pids() and time.time() < deadline:
            time.sleep(0.2)
        assert not srv.worker_pids()
    finally:
        srv.stop()
    again = Server(tmp_path / "data", admin_key=srv.admin_key).start()
    try:
        done = wait_terminal(again, ids)
        assert all(v["status"] == "completed" for v in done.values()), done
        # Nothing is left in flight: every job in the store is terminal.
        rows = again.http.get("/v1/videos", params={"limit": 100}).json()["data"]
        assert {r["status"] for r in rows} == {"completed"} and len(rows) == 6
    finally:
        again.stop()


# ---------------------------------------------------------------------------
# The store's leases, on SQLite and PostgreSQL

@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    yield from _pg_database()


def _pg_database():
    import sqlalchemy as sa
    name = "openreel_test_" + secrets.token_hex(4)
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def _job(store: Store, n: int = 0):
    return store.insert_job(kind="create", model="sora-2", prompt=f"p{n}", size="64x64", seconds="4",
                            params={"mode": "text", "native_size": "64x64", "output_size": "64x64", "seconds": 4})


def test_claims_are_exclusive_and_in_order(store_url):
    store = Store(store_url)
    ids = [_job(store, i).id for i in range(20)]
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(name):
        s = Store(store_url)
        while (job := s.claim(name, 30)) is not None:
            with lock:
                claimed.append(job.id)
        s.dispose()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids) and len(set(claimed)) == 20  # each job exactly once
    store.dispose()


def test_a_lost_lease_is_requeued_then_failed_with_worker_lost(store_url):
    store = Store(store_url)
    job = _job(store)
    assert store.claim("a", lease_seconds=0.05).id == job.id
    time.sleep(0.1)
    assert store.reap(max_attempts=2) == ([job.id], [])
    assert store.get(job.id).status == "queued"
    assert store.claim("b", lease_seconds=0.05).attempts == 2
    assert not store.complete(job.id, "a", 60)  # the first worker no longer owns it
    time.sleep(0.1)
    assert store.reap(max_attempts=2) == ([], [job.id])
    lost = store.get(job.id)
    assert lost.status == "failed" and lost.error_code == "worker_lost" and "stopped responding" in lost.error_message
    assert not store.heartbeat(job.id, "b", 30)  # a terminal job takes no more heartbeats
    store.dispose()


def test_claims_are_fair_across_owners(store_url):
    store = Store(store_url)
    heavy = [store.insert_job(kind="create", model="m", prompt=f"h{i}", size="64x64", seconds="1", params={},
                              owner_id="user_heavy").id for i in range(10)]
    light = store.insert_job(kind="create", model="m", prompt="l", size="64x64", seconds="1", params={},
                             owner_id="user_light").id
    order = []
    for _ in range(4):  # one worker: claim, finish, claim ...
        job = store.claim("w", 30)
        order.append(job.id)
        assert store.complete(job.id, "w", 60)
    # The light user's one job, queued after ten heavy ones, runs second, not eleventh.
    assert order == [heavy[0], light, heavy[1], heavy[2]]
    store.dispose()


def test_pagination_and_idempotency_in_the_store(store_url):
    store = Store(store_url)
    ids = [_job(store, i).id for i in range(7)]
    page, more = store.list(after=None, limit=3, order="desc")
    assert [j.id for j in page] == ids[::-1][:3] and more
    page, more = store.list(after=page[-1].id, limit=10, order="desc")
    assert [j.id for j in page] == ids[::-1][3:] and not more
    a = store.insert_job(kind="create", model="m", prompt="p", size="64x64", seconds="4", params={}, idempotency_key="k")
    b = store.insert_job(kind="create", model="m", prompt="p", size="64x64", seconds="4", params={}, idempotency_key="k")
    assert a.id == b.id
    store.dispose()


def test_a_whole_server_on_postgresql(tmp_path):
    for url in _pg_database():
        srv = Server(tmp_path / "data", env={"OPENREEL_DATABASE_URL": url}).start()
        try:
            client = srv.client()
            video = client.videos.create_and_poll(prompt=PROMPT, size="64x64", seconds="2")
            assert video.status == "completed", video.error
            assert [v.id for v in client.videos.list()] == [video.id]
            assert not (tmp_path / "data" / "openreel.db").exists()  # the store really is PostgreSQL
        finally:
            srv.stop()


# ---------------------------------------------------------------------------
# Webhooks

def test_webhooks_are_signed_and_retried(tmp_path):
    recv = Receiver(fail_first=1)
    secret = webhooks.new_secret()
    env = {"OPENREEL_WEBHOOK_URLS": json.dumps([recv.url]), "OPENREEL_WEBHOOK_SECRET": secret}
    srv = Server(tmp_path / "data", env=env).start()
    try:
        video = srv.client().videos.create_and_poll(prompt=PROMPT, size="64x64", seconds="1")
        deadline = time.time() + 30
        while not recv.got and time.time() < deadline:
            time.sleep(0.1)
        [(headers, body)] = recv.got
        assert recv.calls == 2  # the first try got a 500 and was retried
        event = json.loads(body)
        assert event["type"] == "video.completed" and event["data"]["id"] == video.id
        assert webhooks.verify(secret, headers, body)
        assert not webhooks.verify(secret, headers, body.replace(video.id, "video_other"))
        assert not webhooks.verify(webhooks.new_secret(), headers, body)
    finally:
        srv.stop()
        recv.http.shutdown()


def test_a_failing_generation_fails_the_job_and_sends_video_failed(tmp_path):
    from openreel.service.videos import VideoService
    from openreel.service.worker import Worker

    class Broken:
        defaults = load_defaults()

        def __call__(self, *a, **k):
            raise RuntimeError("out of memory, say")

    recv = Receiver(fail_first=0)
    secret = webhooks.new_secret()
    settings = Settings(data_dir=tmp_path, webhook_urls=[recv.url], webhook_secret=secret)
    service = VideoService(settings)
    vid = service.create({"prompt": PROMPT, "size": "64x64", "seconds": "2"})["id"]
    w = Worker(settings, "w-test", pipeline=Broken())
    w.process(w.store.claim(w.name, 10))
    failed = service.retrieve(vid)
    assert failed["status"] == "failed" and failed["error"]["code"] == "generation_failed"
    assert "out of memory" in failed["error"]["message"]
    assert webhooks.deliver_due(w.store, settings) == 1
    [(headers, body)] = recv.got
    assert json.loads(body)["type"] == "video.failed" and webhooks.verify(secret, headers, body)
    recv.http.shutdown()


def test_assets_expire_after_the_retention_period(tmp_path):
    import numpy as np

    from openreel.video import Video
    from openreel.service.videos import ServiceError, VideoService
    from openreel.service.worker import Worker

    class Still:  # a stand-in pipeline: this test is about the files' lifetime, not the model
        defaults = load_defaults()

        def __call__(self, prompt, seconds, callback=None, **kw):
            return Video(np.full((8 * seconds, 64, 64, 3), 128, np.uint8), 8, prompt, {})

    # Timestamps are whole seconds, so a file kept N s after a completion at x.9 s lasts N - 0.9 s:
    # with 1 s the first content() could already find it gone (seen once on a loaded machine).
    settings = Settings(data_dir=tmp_path, retention_seconds=3)
    service = VideoService(settings)
    vid = service.create({"prompt": PROMPT, "size": "64x64", "seconds": "1"})["id"]
    w = Worker(settings, "w-test", pipeline=Still())
    w.process(w.store.claim(w.name, 10))
    done = service.retrieve(vid)
    assert done["status"] == "completed" and done["expires_at"] == done["completed_at"] + 3
    assert service.content(vid, "video")[0].exists()
    time.sleep(4.1)
    with pytest.raises(ServiceError) as gone:
        service.content(vid, "video")
    assert gone.value.status == 410 and gone.value.code == "video_expired"
    w.reap()
    assert not (tmp_path / "videos" / vid).exists()
    assert service.retrieve(vid)["status"] == "completed"  # the record stays
