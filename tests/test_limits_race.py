"""A key's limits hold under a burst: 50 simultaneous creates on one key get exactly what its
max_concurrent and daily quota allow, on SQLite and PostgreSQL (issue: check and insert were two
transactions, so 20 racing creates let 16 through a max_concurrent of 1).

Each create goes through VideoService.create with the key's Principal from Access.authenticate, every
thread with its own VideoService (as separate API processes would be). No workers, so every accepted
job stays queued and counts as in flight."""

from __future__ import annotations

import io
import secrets
import threading

import pytest
from sqlalchemy import func, select

from openreel.service.access import Access, AccessError
from openreel.service.settings import Settings
from openreel.service.store import Store, videos
from openreel.service.uploads import Upload
from openreel.service.videos import VideoService

PROMPT = "a blue square moving down on a gray background"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BURST = 50
ROUNDS = 10


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'openreel.db'}"
        return
    import sqlalchemy as sa
    name = "openreel_race_" + secrets.token_hex(4)  # a database of its own: runs never collide
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def services(tmp_path, db_url: str, n: int) -> tuple[list[VideoService], Settings]:
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, moderation=False)
    out = []
    for _ in range(n):
        store = Store(db_url)
        svc = VideoService(settings, store, Access(settings, store))
        svc.models.reader(svc.models.resolve(settings.default_model))  # load the prompt reader now, not 50 at once
        out.append(svc)
    return out, settings


def png() -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (40, 90, 200)).save(buf, format="PNG")
    return buf.getvalue()


def burst(svcs: list[VideoService], key: str, fields: dict) -> tuple[list[str], list[AccessError]]:
    """BURST creates at once, one thread each, released together. Returns (accepted ids, refusals)."""
    accepted: list[str] = []
    refused: list[AccessError] = []
    other: list[BaseException] = []
    lock = threading.Lock()
    go = threading.Barrier(BURST)

    def one(i: int) -> None:
        svc = svcs[i % len(svcs)]
        who = svc.access.authenticate(f"Bearer {key}", "127.0.0.1", "race-test", "videos:create")
        go.wait(30)
        try:
            v = svc.create(dict(fields), who=who)
        except AccessError as exc:
            with lock:
                refused.append(exc)
        except BaseException as exc:  # anything else fails the test below
            with lock:
                other.append(exc)
        else:
            with lock:
                accepted.append(v["id"])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(BURST)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not other, other[:3]
    assert len(accepted) + len(refused) == BURST
    return accepted, refused


def all_jobs(svc: VideoService) -> set[str]:
    with svc.store.engine.connect() as c:
        return set(c.execute(select(videos.c.id)).scalars())


def jobs_of_key(svc: VideoService, key_id: str) -> list[str]:
    with svc.store.engine.connect() as c:
        return list(c.execute(select(videos.c.id).where(videos.c.key_id == key_id)).scalars())


@pytest.mark.parametrize("case", ["concurrency", "quota"])
def test_a_burst_gets_exactly_what_the_limits_allow(tmp_path, db_url, case):
    svcs, settings = services(tmp_path, db_url, 4)
    access = svcs[0].access
    owner = access.create_user("racer", "creator")["id"]
    limits = ({"max_concurrent": 2, "daily_seconds": 12} if case == "concurrency"
              else {"max_concurrent": 1000, "daily_seconds": 12})
    want, code, status = ((2, "concurrent_limit_exceeded", 429) if case == "concurrency"
                          else (3, "insufficient_quota", 429))
    image = png()
    try:
        for round_ in range(ROUNDS):
            key, rec = access.create_key(owner, f"k{round_}", **limits)
            fields = {"prompt": PROMPT, "size": "64x64", "seconds": "4"}
            if round_ % 2:  # every other round with an upload: a refused create must not keep it
                fields["input_reference"] = Upload("ref.png", "image/png", image)
            accepted, refused = burst(svcs, key, fields)
            assert len(accepted) == want, (round_, len(accepted), [e.message for e in refused[:3]])
            assert {(e.status, e.code) for e in refused} == {(status, code)}, {(e.status, e.code) for e in refused}
            # No trace of the refused ones: only the accepted jobs are stored, and only jobs keep files.
            assert sorted(jobs_of_key(svcs[0], rec["id"])) == sorted(accepted)
            folders = {p.name for p in (settings.data_dir / "videos").iterdir()}
            assert folders <= all_jobs(svcs[0]), folders - all_jobs(svcs[0])
            if round_ % 2:
                assert all(svcs[0].storage.folder(v).exists() for v in accepted)
            # Queued jobs count; a finished one frees its slot (quota keeps counting it).
            if case == "concurrency":
                svcs[0].store.fail(accepted[0], "test", "freed for the next create")
                who = access.authenticate(f"Bearer {key}", "127.0.0.1", "race-test", "videos:create")
                v = svcs[0].create({"prompt": PROMPT, "size": "64x64", "seconds": "4"}, who=who)
                assert v["status"] == "queued"  # 8 + 4 = 12 s: still within the quota
                with pytest.raises(AccessError) as exc:
                    svcs[0].create({"prompt": PROMPT, "size": "64x64", "seconds": "4"}, who=who)
                assert exc.value.code == "concurrent_limit_exceeded"
    finally:
        for s in svcs:
            s.access.counts.flush()  # now, not at exit, when the PostgreSQL database is gone
            s.store.dispose()


def test_moderation_refusals_do_not_count_as_in_flight(tmp_path, db_url):
    """A prompt moderation blocks is stored as failed: it uses no slot of max_concurrent."""
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url)
    store = Store(db_url)
    svc = VideoService(settings, store, Access(settings, store))
    try:
        owner = svc.access.create_user("mod", "creator")["id"]
        key, rec = svc.access.create_key(owner, "m", max_concurrent=1)
        who = svc.access.authenticate(f"Bearer {key}", "127.0.0.1", "t", "videos:create")
        blocked = "a graphic beheading with blood everywhere"
        for _ in range(3):
            assert svc.create({"prompt": blocked, "size": "64x64", "seconds": "4"}, who=who)["status"] == "failed"
        assert svc.create({"prompt": PROMPT, "size": "64x64", "seconds": "4"}, who=who)["status"] == "queued"
        with pytest.raises(AccessError) as exc:
            svc.create({"prompt": PROMPT, "size": "64x64", "seconds": "4"}, who=who)
        assert exc.value.status == 429 and exc.value.code == "concurrent_limit_exceeded"
        with store.engine.connect() as c:
            assert c.execute(select(func.count()).select_from(videos)).scalar() == 4
    finally:
        svc.access.counts.flush()
        store.dispose()

