"""The access program, end to end against live servers: the 2024 leak replayed, revocation across
processes, every route x role x scope, limits, the audit chain and secrets kept out of logs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import warnings

import httpx
import pytest
from sqlalchemy import create_engine, text

from serving import Receiver, Server

warnings.filterwarnings("ignore", category=DeprecationWarning)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
PROMPT = "a blue square moving down on a gray background"
ALL_KEYS: list[str] = []  # every key used in this module, for the log check at the end
LOG_DIRS: list = []  # every server's data folder (its logs live there)


def make_user(srv: Server, name: str, role: str) -> str:
    r = srv.http.post("/v1/admin/users", json={"name": name, "role": role})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def make_key(srv: Server, owner: str, name: str, **kw) -> tuple[str, str]:
    r = srv.http.post("/v1/admin/keys", json={"owner": owner, "name": name, **kw})
    assert r.status_code == 200, r.text
    body = r.json()
    ALL_KEYS.append(body["key"])
    return body["id"], body["key"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("access")).start()
    ALL_KEYS.append(srv.admin_key)
    LOG_DIRS.append(srv.data_dir)
    yield srv
    srv.stop()


def wait_done(client, vid: str, timeout: float = 180) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = client.get(f"/v1/videos/{vid}")
        assert r.status_code == 200, r.text
        if r.json()["status"] in ("completed", "failed"):
            return r.json()
        time.sleep(0.2)
    raise AssertionError(f"{vid} never finished")


# ---------------------------------------------------------------------------
# Keys: format, storage, lookup

def test_keys_are_prefixed_shown_once_and_stored_only_as_digests(server):
    owner = make_user(server, "keyformat", "creator")
    key_id, key = make_key(server, owner, "laptop")
    assert key.startswith("ork_") and len(key) >= 4 + 43
    listed = server.http.get("/v1/admin/keys", params={"owner": owner}).json()["data"]
    assert [k["id"] for k in listed] == [key_id] and "key" not in listed[0] and "digest" not in listed[0]
    assert listed[0]["prefix"] == key[:8] and listed[0]["status"] == "active"
    engine = create_engine(f"sqlite:///{server.data_dir / 'openreel.db'}")
    with engine.connect() as c:
        dump = "\n".join(str(tuple(r)) for t in ("api_keys", "audit_log") for r in c.execute(text(f"SELECT * FROM {t}")))
    engine.dispose()
    assert key not in dump and key[8:] not in dump  # neither the key nor its secret part is stored


# ---------------------------------------------------------------------------
# Authorization: every /v1 route x role x scope

# Every /v1 route: method, path, the scope it needs, and what an authorised caller gets.
# {vid} is a completed video the creator owns (already asked to be shared); bogus ids give 404.
# "owned" routes touch that video (by path or by {"video": {"id": vid}}): others get 404.
ROUTES = [
    ("POST", "/v1/videos", "videos:create", 200, False),
    ("GET", "/v1/videos", "videos:read", 200, False),
    ("GET", "/v1/videos/{vid}", "videos:read", 200, True),
    ("GET", "/v1/videos/{vid}/content", "videos:read", 200, True),
    ("POST", "/v1/videos/{vid}/remix", "videos:create", 200, True),
    ("POST", "/v1/videos/edits", "videos:create", 200, True),
    ("POST", "/v1/videos/extensions", "videos:create", 200, True),
    ("DELETE", "/v1/videos/{vid}", "videos:delete", 200, True),
    ("GET", "/v1/models", "videos:read", 200, False),
    ("POST", "/v1/verify", "videos:read", 400, False),  # authorised, but the body has no file
    ("POST", "/v1/videos/{vid}/share", "videos:create", 200, True),
    ("GET", "/v1/videos/{vid}/share", "videos:read", 200, True),
    ("POST", "/v1/videos/{vid}/feedback", "videos:create", 200, True),
    ("GET", "/v1/videos/{vid}/feedback", "videos:read", 200, True),
    ("GET", "/v1/review/queue", "review", 200, False),
    ("GET", "/v1/review/share_nope/content", "review", 404, False),
    ("POST", "/v1/review/share_nope/approve", "review", 404, False),
    ("POST", "/v1/review/share_nope/reject", "review", 404, False),
    ("GET", "/v1/admin/users", "admin", 200, False),
    ("POST", "/v1/admin/users", "admin", 200, False),
    ("GET", "/v1/admin/keys", "admin", 200, False),
    ("POST", "/v1/admin/keys", "admin", 200, False),
    ("POST", "/v1/admin/keys/key_nope/revoke", "admin", 404, False),
    ("POST", "/v1/admin/keys/key_nope/reinstate", "admin", 404, False),
    ("GET", "/v1/admin/audit", "admin", 200, False),
    ("GET", "/v1/admin/audit/verify", "admin", 200, False),
    ("GET", "/v1/admin/feedback", "admin", 200, False),
    ("GET", "/v1/admin/feedback/summary", "admin", 200, False),
]
SCOPES_OF = {"admin": {"videos:create", "videos:read", "videos:delete", "review", "admin"},
             "reviewer": {"videos:read", "review"}, "creator": {"videos:create", "videos:read", "videos:delete"},
             "viewer": {"videos:read"}, "creator-readonly": {"videos:read"},
             "other-creator": {"videos:create", "videos:read", "videos:delete"}}


def test_the_table_covers_every_v1_route(server):
    from openreel.api.app import create_app
    from openreel.service.settings import Settings
    app = create_app(Settings(data_dir=server.data_dir))
    served = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() if p.startswith("/v1") for m in ops}
    norm = {(m, re.sub(r"\{\w+\}", "{}", p)) for m, p in served}
    table = {(m, re.sub(r"\{\w+\}|share_nope|key_nope", "{}", p)) for m, p, *_ in ROUTES}
    # Withdrawing a share changes state for everyone after it, so it has its own test below.
    assert norm - table == {("POST", "/v1/videos/{}/share/withdraw")}, norm - table


@pytest.fixture(scope="module")
def principals(server):
    """Keys for each role with full scopes, plus narrowed keys, and a shared video owned by the creator."""
    ids = {role: make_user(server, f"authz-{role}", role) for role in ("admin", "reviewer", "creator", "viewer")}
    other = make_user(server, "authz-other-creator", "creator")
    keys = {role: make_key(server, uid, "full")[1] for role, uid in ids.items()}
    keys["creator-readonly"] = make_key(server, ids["creator"], "ro", scopes=["videos:read"])[1]
    keys["other-creator"] = make_key(server, other, "full")[1]
    with server.as_key(keys["creator"]) as c:
        vid = c.post("/v1/videos", json={"prompt": PROMPT, "size": "64x64", "seconds": 1}).json()["id"]
        wait_done(c, vid)
        assert c.post(f"/v1/videos/{vid}/share").status_code == 200
    return keys, vid


@pytest.mark.parametrize("method,path,scope,authorised,owned", ROUTES)
@pytest.mark.parametrize("who", ["none", "bogus", "admin", "reviewer", "creator", "viewer", "creator-readonly",
                                 "other-creator"])
def test_authorization_table(server, principals, who, method, path, scope, authorised, owned):
    keys, vid = principals
    key = {"none": None, "bogus": "ork_" + "x" * 43}.get(who, keys.get(who))
    body = {"prompt": PROMPT, "size": "64x64", "seconds": 1, "video": {"id": vid}, "rating": 3,
            "name": f"made-by-{who}-{time.time_ns()}", "role": "viewer", "owner": "authz-viewer"}
    if path == "/v1/videos/{vid}" and method == "DELETE" and who in ("admin", "creator"):
        # Delete a throwaway video of the creator's, so the shared one stays for the other rows.
        with server.as_key(keys["creator"]) as c:
            vid = c.post("/v1/videos", json={"prompt": PROMPT, "size": "64x64", "seconds": 1}).json()["id"]
    with server.as_key(key) as c:
        r = c.request(method, path.format(vid=vid), json=body if method == "POST" else None)
    if who in ("none", "bogus"):
        want = 401
    elif scope not in SCOPES_OF[who]:
        want = 403
    elif owned and who not in ("admin", "creator", "creator-readonly"):
        want = 404  # another user's video: as if it did not exist
    else:
        want = authorised
    assert r.status_code == want, (who, method, path, r.status_code, r.text)
    if want >= 400:
        assert set(r.json()["error"]) == {"message", "type", "param", "code"}


def test_withdraw_is_for_the_owner_or_a_reviewer(server, principals):
    keys, _ = principals
    with server.as_key(keys["creator"]) as c:
        vids = []
        for _ in range(2):
            vid = c.post("/v1/videos", json={"prompt": PROMPT, "size": "64x64", "seconds": 1}).json()["id"]
            wait_done(c, vid)
            assert c.post(f"/v1/videos/{vid}/share").status_code == 200
            vids.append(vid)
    codes = {}
    for who in ("none", "viewer", "other-creator", "creator-readonly"):
        with server.as_key(keys.get(who)) as c:
            codes[who] = c.post(f"/v1/videos/{vids[0]}/share/withdraw").status_code
    assert codes == {"none": 401, "viewer": 403, "other-creator": 404, "creator-readonly": 403}
    with server.as_key(keys["creator"]) as c:
        assert c.post(f"/v1/videos/{vids[0]}/share/withdraw").json()["status"] == "withdrawn"
    with server.as_key(keys["reviewer"]) as c:
        assert c.post(f"/v1/videos/{vids[1]}/share/withdraw").json()["status"] == "withdrawn"


# ---------------------------------------------------------------------------
# Limits

def test_rate_limit_gives_429_with_retry_after(server):
    uid = make_user(server, "limits-rate", "creator")
    _, key = make_key(server, uid, "rate", rpm=5)
    if time.time() % 60 > 50:  # the limit counts per clock minute: don't straddle one
        time.sleep(61 - time.time() % 60)
    with server.as_key(key) as c:
        codes = [c.get("/v1/models").status_code for _ in range(7)]
        r = c.get("/v1/models")
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert r.json()["error"]["code"] == "rate_limit_exceeded"


def test_daily_quota_gives_429_insufficient_quota(server):
    uid = make_user(server, "limits-quota", "creator")
    _, key = make_key(server, uid, "quota", daily_seconds=5)
    with server.as_key(key) as c:
        assert c.post("/v1/videos", json={"prompt": PROMPT, "size": "64x64", "seconds": 4}).status_code == 200
        r = c.post("/v1/videos", json={"prompt": PROMPT + " again", "size": "64x64", "seconds": 2})
        assert r.status_code == 429 and r.json()["error"]["code"] == "insufficient_quota"
        assert "4 of 5 video-seconds" in r.json()["error"]["message"]
        assert c.post("/v1/videos", json={"prompt": PROMPT + " short", "size": "64x64", "seconds": 1}).status_code == 200


def test_concurrent_job_cap(server):
    uid = make_user(server, "limits-concurrent", "creator")
    _, key = make_key(server, uid, "conc", max_concurrent=2)
    with server.as_key(key) as c:
        ids = [c.post("/v1/videos", json={"prompt": f"{PROMPT} {i}", "size": "64x64", "seconds": 1}).json()["id"]
               for i in range(2)]
        r = c.post("/v1/videos", json={"prompt": PROMPT + " 3", "size": "64x64", "seconds": 1})
        assert r.status_code == 429 and r.json()["error"]["code"] == "concurrent_limit_exceeded"
        for vid in ids:
            wait_done(c, vid)
        assert c.post("/v1/videos", json={"prompt": PROMPT + " 4", "size": "64x64", "seconds": 1}).status_code == 200


def test_per_key_size_and_duration_caps(server):
    uid = make_user(server, "limits-caps", "creator")
    _, key = make_key(server, uid, "caps", max_seconds=4, max_pixels=64 * 112)
    with server.as_key(key) as c:
        r = c.post("/v1/videos", json={"prompt": PROMPT, "size": "64x64", "seconds": 8})
        assert r.status_code == 403 and r.json()["error"]["param"] == "seconds"
        r = c.post("/v1/videos", json={"prompt": PROMPT, "size": "1280x720", "seconds": 4})
        assert r.status_code == 403 and r.json()["error"]["param"] == "size"
        assert c.post("/v1/videos", json={"prompt": PROMPT, "size": "112x64", "seconds": 4}).status_code == 200


def test_another_users_video_is_404_and_absent_from_lists(server):
    a = make_user(server, "iso-a", "creator")
    b = make_user(server, "iso-b", "creator")
    _, ka = make_key(server, a, "a")
    _, kb = make_key(server, b, "b")
    with server.as_key(ka) as ca, server.as_key(kb) as cb:
        vid = ca.post("/v1/videos", json={"prompt": PROMPT, "size": "64x64", "seconds": 1}).json()["id"]
        assert cb.get(f"/v1/videos/{vid}").status_code == 404
        assert cb.delete(f"/v1/videos/{vid}").status_code == 404
        assert vid not in [v["id"] for v in cb.get("/v1/videos").json()["data"]]
        assert vid in [v["id"] for v in ca.get("/v1/videos").json()["data"]]
        # The same idempotency key from two users makes two jobs.
        j1 = ca.post("/v1/videos", json={"prompt": PROMPT, "size": "64x64", "seconds": 1}, headers={"Idempotency-Key": "same"})
        j2 = cb.post("/v1/videos", json={"prompt": PROMPT, "size": "64x64", "seconds": 1}, headers={"Idempotency-Key": "same"})
        assert j1.json()["id"] != j2.json()["id"]


# ---------------------------------------------------------------------------
# Revocation across processes

def test_revocation_holds_on_the_next_request_in_another_server_process(server, tmp_path):
    uid = make_user(server, "revoke-me", "creator")
    key_id, key = make_key(server, uid, "soon revoked")
    second = Server(server.data_dir, workers=0, admin_key=server.admin_key).start(wait_workers=False)
    try:
        with server.as_key(key) as c1, second.as_key(key) as c2:
            queued = c2.post("/v1/videos", json={"prompt": PROMPT, "size": "64x64", "seconds": 4, "steps": 80}).json()["id"]
            c2.post("/v1/videos", json={"prompt": PROMPT + " 2", "size": "64x64", "seconds": 4, "steps": 80})
            assert c1.get("/v1/models").status_code == 200 and c2.get("/v1/models").status_code == 200
            r = server.http.post(f"/v1/admin/keys/{key_id}/revoke", json={"cancel_jobs": True})
            assert r.status_code == 200 and r.json()["status"] == "revoked"
            r2 = c2.get("/v1/models")
            assert r2.status_code == 401 and r2.json()["error"]["code"] == "invalid_api_key"
            assert c1.get("/v1/models").status_code == 401
        assert server.http.post(f"/v1/admin/keys/{key_id}/reinstate").status_code == 400  # final
        cancelled = r.json()["cancelled_jobs"]
        states = {v: server.http.get(f"/v1/videos/{v}").json() for v in cancelled}
        assert all(s["status"] == "failed" and s["error"]["code"] == "cancelled" for s in states.values())
        assert queued in cancelled or server.http.get(f"/v1/videos/{queued}").json()["status"] != "queued"
    finally:
        second.stop()


# ---------------------------------------------------------------------------
# The 2024 leak, replayed

def test_leaked_key_is_suspended_and_nobody_else_notices(tmp_path):
    rules = {"window": 600, "max_addresses": 8, "max_user_agents": 8, "rate_floor": 120, "rate_factor": 5,
             "prompt_floor": 40, "prompt_factor": 5}
    admins = Receiver(fail_first=0)
    from openreel.service import webhooks
    secret = webhooks.new_secret()
    srv = Server(tmp_path / "data", env={"OPENREEL_LEAK_RULES": json.dumps(rules),
                                         "OPENREEL_ADMIN_WEBHOOK_URLS": json.dumps([admins.url]),
                                         "OPENREEL_WEBHOOK_SECRET": secret}).start()
    ALL_KEYS.append(srv.admin_key)
    LOG_DIRS.append(srv.data_dir)
    try:
        tester = make_user(srv, "tester", "creator")
        leaked_id, leaked = make_key(srv, tester, "wired into a public front end")
        _, studio_key = make_key(srv, tester, "the tester's own studio key")
        bystander = make_user(srv, "another-artist", "creator")
        _, bystander_key = make_key(srv, bystander, "studio")

        # The legitimate baseline: the tester's own modest use, from one address.
        with srv.as_key(leaked) as c:
            first = c.post("/v1/videos", json={"prompt": PROMPT, "size": "64x64", "seconds": 1}).json()["id"]
            wait_done(c, first)

        # Meanwhile the others keep working, throughout.
        others_ok: list[int] = []
        others_jobs: list[str] = []
        stop = threading.Event()

        def honest_traffic():
            with srv.as_key(studio_key) as me, srv.as_key(bystander_key) as them:
                i = 0
                while not stop.is_set():
                    for c in (me, them):
                        r = c.post("/v1/videos", json={"prompt": f"{PROMPT} honest {i}", "size": "64x64", "seconds": 1})
                        others_ok.append(r.status_code)
                        others_jobs.append(r.json().get("id")) if r.status_code == 200 else None
                        others_ok.append(c.get("/v1/videos").status_code)
                    i += 1
                    stop.wait(1.0)

        honest = threading.Thread(target=honest_traffic)
        honest.start()

        # The front end: many visitors, each with their own address and browser, ever more of them.
        started = time.time()
        sent, suspended_at = 0, None
        for visitor in range(200):
            addr = f"127.0.{visitor // 250}.{2 + visitor % 250}"
            agent = f"Mozilla/5.0 (visitor {visitor})"
            with httpx.Client(base_url=srv.url, transport=httpx.HTTPTransport(local_address=addr), timeout=60,
                              headers={"authorization": f"Bearer {leaked}", "user-agent": agent}) as c:
                r = c.post("/v1/videos", json={"prompt": f"a visitor's idea number {visitor}", "size": "64x64", "seconds": 1})
                sent += 1
                if r.status_code == 403:
                    assert r.json()["error"]["code"] == "key_suspended" and "leak" in r.json()["error"]["message"]
                    suspended_at = time.time()
                    break
                assert r.status_code == 200, r.text
        assert suspended_at is not None, "the leaked key was never suspended"
        assert suspended_at - started < 60 and sent <= rules["max_addresses"] + 1
        # It stays suspended for everyone, wherever they call from.
        with srv.as_key(leaked) as c:
            r = c.get("/v1/models")
            assert r.status_code == 403 and r.json()["error"]["code"] == "key_suspended"

        time.sleep(2)
        stop.set()
        honest.join()
        assert others_ok and set(others_ok) == {200}, others_ok
        for vid in others_jobs:
            assert wait_done(srv.http, vid)["status"] == "completed"

        # Admins are told (a signed webhook), it is audited, and an admin can reinstate it.
        deadline = time.time() + 20
        while not admins.got and time.time() < deadline:
            time.sleep(0.1)
        [(headers, body)] = admins.got
        assert json.loads(body)["type"] == "key.suspended" and json.loads(body)["data"]["key_id"] == leaked_id
        assert webhooks.verify(secret, headers, body)
        audit = srv.http.get("/v1/admin/audit").json()["data"]
        assert any(a["action"] == "key.suspend" and a["target"] == leaked_id for a in audit)
        assert srv.http.post(f"/v1/admin/keys/{leaked_id}/reinstate").json()["status"] == "active"
        with srv.as_key(leaked) as c:
            assert c.get("/v1/models").status_code == 200
    finally:
        srv.stop()
        admins.http.shutdown()


# ---------------------------------------------------------------------------
# Audit chain and logs

def test_tampering_with_one_audit_row_fails_verify_naming_it(server):
    cmd = [sys.executable, "-m", "openreel.cli", "audit", "verify", "--data-dir", str(server.data_dir)]
    ok = subprocess.run(cmd, capture_output=True, text=True)
    assert ok.returncode == 0 and "intact" in ok.stdout
    engine = create_engine(f"sqlite:///{server.data_dir / 'openreel.db'}")
    with engine.begin() as c:
        seq = c.execute(text("SELECT seq FROM audit_log WHERE action = 'key.create' ORDER BY seq LIMIT 1 OFFSET 1")).scalar()
        original = c.execute(text("SELECT details FROM audit_log WHERE seq = :s"), {"s": seq}).scalar()
        c.execute(text("UPDATE audit_log SET details = :d WHERE seq = :s"),
                  {"d": original.replace("creator", "admin").replace("laptop", "innocent"), "s": seq})
    try:
        bad = subprocess.run(cmd, capture_output=True, text=True)
        assert bad.returncode == 1 and f"row {seq}" in bad.stderr, bad.stderr
    finally:
        with engine.begin() as c:
            c.execute(text("UPDATE audit_log SET details = :d WHERE seq = :s"), {"d": original, "s": seq})
        engine.dispose()


def test_videos_record_their_creating_key_in_the_audit_log(server):
    uid = make_user(server, "audited", "creator")
    key_id, key = make_key(server, uid, "audited")
    with server.as_key(key) as c:
        vid = c.post("/v1/videos", json={"prompt": PROMPT, "size": "64x64", "seconds": 1}).json()["id"]
    rows = server.http.get("/v1/admin/audit").json()["data"]
    [row] = [r for r in rows if r["target"] == vid]
    assert row["action"] == "video.create" and row["actor"] == f"key:{key_id}"


def test_no_key_ever_reaches_the_logs(server):
    """Runs last in this module: every key used above is looked for in every server log."""
    logs = "".join(p.read_text(errors="replace") for d in LOG_DIRS for p in d.glob("*.log"))
    assert logs  # the server did log
    leaked = [k[:12] for k in ALL_KEYS if k in logs]
    assert not leaked, f"keys found in logs: {leaked}"


def test_the_first_start_prints_a_bootstrap_admin_key_once(tmp_path, capsys):
    from openreel.api.app import create_app
    from openreel.service.settings import Settings
    create_app(Settings(data_dir=tmp_path))
    printed = capsys.readouterr().err
    key = next(w for w in printed.split() if w.startswith("ork_"))
    create_app(Settings(data_dir=tmp_path))
    assert "ork_" not in capsys.readouterr().err  # never again
    from fastapi.testclient import TestClient
    client = TestClient(create_app(Settings(data_dir=tmp_path)))
    assert client.get("/v1/admin/users", headers={"authorization": f"Bearer {key}"}).status_code == 200


def test_default_secret_is_refused_outside_development(tmp_path):
    env = {"OPENREEL_ENVIRONMENT": "production", "OPENREEL_DATA_DIR": str(tmp_path)}
    import os
    r = subprocess.run([sys.executable, "-m", "openreel.cli", "serve", "--port", "1"], env={**os.environ, **env},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "OPENREEL_SECRET_KEY" in r.stderr


def test_cors_is_closed_by_default(server):
    r = httpx.options(server.url + "/v1/videos", headers={"Origin": "https://evil.example",
                                                          "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in {k.lower() for k in r.headers}
