"""The API under attack: hostile input is a 400 naming the field (never a 5xx), on SQLite and PostgreSQL;
proxy headers only from trusted proxies; security headers on HTML; an honest OpenAPI schema.

Most tests drive the app in-process (TestClient); the proxy-header tests need a live uvicorn.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import secrets
import warnings

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from openreel.api.app import create_app
from openreel.service.settings import Settings
from serving import Server

warnings.filterwarnings("ignore", category=DeprecationWarning)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
KEY = "ork_" + "h" * 43
PROMPT = "a red circle moving right on a navy background"


def _pg_database():
    import sqlalchemy as sa
    name = "openreel_hostile_" + secrets.token_hex(4)
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request, tmp_path_factory):
    """(client with the admin key, app, id of a queued video), on each database."""
    data = tmp_path_factory.mktemp(request.param)
    urls = _pg_database() if request.param == "postgresql" else iter([""])
    url = next(urls)
    app = create_app(Settings(data_dir=data, database_url=url, bootstrap_admin_key=KEY, moderation=False,
                              leak_rules={"rate_floor": 1000000}))
    client = TestClient(app, headers={"authorization": f"Bearer {KEY}"}, raise_server_exceptions=False)
    r = client.post("/v1/videos", json={"prompt": PROMPT, "size": "64x64", "seconds": 1})
    assert r.status_code == 200, r.text
    yield client, app, r.json()["id"]
    client.close()
    counts = getattr(app.state.service.access.leaks, "counts", None)  # request counts written behind
    if counts is not None:
        counts.flush()  # now, while the database is still there
    app.state.service.store.engine.dispose()
    for _ in urls:  # drops the PostgreSQL database
        pass


def refused(r: httpx.Response, param: str | None, status: int = 400) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    assert error["param"] == param, error
    return error


def raw_json(client, path: str, text: str, **headers):
    return client.post(path, content=text.encode(), headers={"content-type": "application/json", **headers})


# ---------------------------------------------------------------------------
# Lone surrogates and NUL bytes: in bodies, path ids, query strings

def test_a_lone_surrogate_in_a_prompt(api):
    client, _, _ = api
    refused(raw_json(client, "/v1/videos", '{"prompt": "a red \\ud800 circle", "size": "64x64"}'), "prompt")
    # and nested, by its path
    body = '{"prompt": "x", "input_reference": {"image_url": "data:image/png;base64,\\udfff"}}'
    refused(raw_json(client, "/v1/videos", body), "input_reference.image_url")
    # a pair is a character, not an attack
    r = raw_json(client, "/v1/videos", '{"prompt": "a red circle \\ud83d\\ude00", "size": "64x64", "seconds": 1}')
    assert r.status_code == 200, r.text


def test_a_lone_surrogate_in_a_video_id(api):
    client, app, vid = api
    refused(client.get("/v1/videos/%ED%A0%80"), "video_id")  # what a server makes of the bytes: U+FFFD
    refused(raw_json(client, "/v1/videos/edits", '{"prompt": "x", "video": {"id": "video_\\ud800"}}'), "video.id")
    # A server that passes the surrogate itself through to the app:
    status, body = asgi_get(app, "/v1/videos/video_\ud800")
    assert status == 400 and json.loads(body)["error"]["param"] == "video_id"


def test_a_lone_surrogate_in_a_feedback_comment(api):
    client, _, vid = api
    refused(raw_json(client, f"/v1/videos/{vid}/feedback", '{"rating": 4, "comment": "nice \\udc00"}'), "comment")
    refused(raw_json(client, f"/v1/videos/{vid}/feedback", '{"rating": 4, "flags": ["ok", "\\ud800"]}'),
            "flags[1]")


def test_a_nul_in_a_prompt_a_path_id_and_after(api):
    client, _, vid = api
    refused(client.post("/v1/videos", json={"prompt": "a red\x00circle"}), "prompt")
    refused(client.post("/v1/videos", data={"prompt": "a red\x00circle"}), "prompt")  # urlencoded form
    refused(client.post("/v1/videos", files={"prompt": (None, "a red\x00circle")}), "prompt")  # multipart
    refused(client.get("/v1/videos/video_%00abc"), "video_id")
    refused(client.get(f"/v1/videos/{vid}%00"), "video_id")
    refused(client.get("/v1/videos", params={"after": "video_\x00"}), "after")
    refused(client.get("/v1/admin/keys", params={"owner": "admin\x00"}), "owner")
    refused(client.post("/v1/admin/users", json={"name": "eve\x00", "role": "viewer"}), "name")
    refused(client.get("/v1/models", headers={"user-agent": "sdk\x00"}), "user-agent")


def test_path_ids_are_checked_for_shape_before_the_database(api):
    client, _, vid = api
    for path, param in [(f"/v1/videos/{'v' * 65}", "video_id"), ("/v1/videos/vidéo", "video_id"),
                        ("/v1/videos/a%20b/content", "video_id"), ("/v1/videos/a.b/remix", "video_id"),
                        ("/v1/videos/%27or%201=1/share", "video_id"), (f"/v1/review/{'s' * 65}/content", "share_id"),
                        ("/v1/admin/keys/k%3Bdrop/reinstate", "key_id"), (f"/p/{'t' * 65}", "token"),
                        ("/p/%00/video.mp4", "token")]:
        r = client.post(path, json={"prompt": "x"}) if path.endswith(("remix", "share", "reinstate")) else client.get(path)
        refused(r, param)
    for path in ["/v1/review/share_nope/approve", "/v1/admin/keys/key_nope/reinstate"]:
        assert client.post(path).status_code == 404
    assert client.get("/v1/videos/video_nope").status_code == 404  # a well-formed unknown id: 404 as before
    assert client.get(f"/v1/videos/{vid}").status_code == 200
    assert client.get("/v1/videos", params={"after": vid, "limit": 1}).status_code == 200


def asgi_get(app, path: str) -> tuple[int, bytes]:
    """One GET straight into the ASGI app, with a path no HTTP client would send."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode("utf-8", "surrogatepass"), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {KEY}".encode())],
             "client": ("127.0.0.1", 1234), "server": ("testserver", 80)}
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


# ---------------------------------------------------------------------------
# Deep JSON

def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_nested_deeper_than_64_levels(api):
    client, _, vid = api
    for depth in (64, 1000, 100_000):  # 1 + depth levels: too deep; the last would blow the parser's recursion
        error = refused(raw_json(client, "/v1/videos", f'{{"prompt": "x", "seed": {nested(depth)}}}'), "seed")
        assert error["code"] == "invalid_json" and "nested deeper than 64" in error["message"]
    refused(raw_json(client, f"/v1/videos/{vid}/feedback", f'{{"rating": 4, "flags": {nested(5000)}}}'), "flags")
    refused(raw_json(client, "/v1/admin/users", nested(70)), None)
    # inside multipart, as the JSON-string form of an object
    r = client.post("/v1/videos/edits", files={"prompt": (None, "x"), "video": (None, '{"id": ' + nested(3000) + "}")})
    refused(r, "video")
    # 64 levels is allowed: it gets past the door to the field's own check
    error = refused(raw_json(client, "/v1/videos", f'{{"prompt": "x", "seed": {nested(63)}}}'), "seed")
    assert "nested" not in error["message"]


# ---------------------------------------------------------------------------
# Headers

def test_idempotency_key_length_and_control_characters(api):
    client, _, _ = api
    body = {"prompt": PROMPT, "size": "64x64", "seconds": 1}
    refused(client.post("/v1/videos", json=body, headers={"idempotency-key": "k" * 201}), "Idempotency-Key")
    for bad in ("abc\x01def", "abc\x7f", "tab\there"):
        refused(client.post("/v1/videos", json=body, headers={"idempotency-key": bad}), "Idempotency-Key")
    key = secrets.token_hex(100)  # 200 characters: allowed
    first = client.post("/v1/videos", json=body, headers={"idempotency-key": key})
    again = client.post("/v1/videos", json=body, headers={"idempotency-key": key})
    assert first.status_code == again.status_code == 200 and first.json()["id"] == again.json()["id"]


def test_an_oversized_x_forwarded_for(api):
    client, _, _ = api
    refused(client.get("/v1/models", headers={"x-forwarded-for": ", ".join(["10.1.2.3"] * 60)}), "X-Forwarded-For")
    assert client.get("/v1/models", headers={"x-forwarded-for": "10.1.2.3, 10.4.5.6"}).status_code == 200


# ---------------------------------------------------------------------------
# Security headers, /healthz

def test_healthz_says_only_ok(api):
    client, _, _ = api
    r = client.get("/healthz", headers={"authorization": ""})
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["x-content-type-options"] == "nosniff"


def test_every_response_is_nosniff_and_docs_pages_are_off(api):
    client, _, vid = api
    for r in [client.get(f"/v1/videos/{vid}"), client.get("/v1/videos/video_nope"), client.get("/openapi.json"),
              client.get("/v1/videos/%00"), client.get("/v1/models", headers={"authorization": ""})]:
        assert r.headers["x-content-type-options"] == "nosniff", r.url
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404


def test_the_public_page_has_a_strict_csp(tmp_path):
    import hashlib
    import re

    from openreel.service.worker import Worker

    s = Settings(data_dir=tmp_path, bootstrap_admin_key=KEY, auto_approve_roles=["admin"], moderation=False)
    client = TestClient(create_app(s), headers={"authorization": f"Bearer {KEY}"})
    vid = client.post("/v1/videos", json={"prompt": PROMPT, "size": "64x64", "seconds": 1}).json()["id"]
    worker = Worker(s, "w")  # the built-in model: 1 s at 64x64 is quick
    worker.process(worker.store.claim("w", 10))
    url = client.post(f"/v1/videos/{vid}/share").json()["url"].replace("http://testserver", "")
    page = client.get(url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = {d.split()[0]: d.split()[1:] for d in page.headers["content-security-policy"].split("; ")}
    assert csp["default-src"] == ["'none'"] and csp["media-src"] == ["'self'"] and csp["img-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"] and "script-src" not in csp
    assert "'unsafe-inline'" not in page.headers["content-security-policy"]
    style = re.search(r"<style>(.*?)</style>", page.text, re.S)[1]  # the one inline style, allowed by its hash
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert csp["style-src"] == [f"'sha256-{digest}'"]
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "style=" not in page.text and "<script" not in page.text
    video = client.get(url + "/video.mp4")
    assert video.status_code == 200 and video.headers["x-content-type-options"] == "nosniff"


# ---------------------------------------------------------------------------
# The OpenAPI schema

def test_the_schema_lists_400_with_the_envelope_and_no_422(api):
    _, app, _ = api
    schema = app.openapi()
    envelope = schema["components"]["schemas"]["Error"]
    assert envelope["properties"]["error"]["required"] == ["message", "type", "param", "code"]
    assert "HTTPValidationError" not in json.dumps(schema)
    operations = [(p, m, op) for p, ops in schema["paths"].items() if p.startswith("/v1/") for m, op in ops.items()]
    assert len(operations) > 20
    for path, method, op in operations:
        responses = op["responses"]
        assert "422" not in responses, (method, path)
        for status in ("400", "401", "403", "429") + (("404",) if "{" in path else ()):
            schema_ref = responses[status]["content"]["application/json"]["schema"]
            assert schema_ref == {"$ref": "#/components/schemas/Error"}, (method, path, status)
    assert {"409", "410"} <= set(schema["paths"]["/v1/videos/{video_id}/content"]["get"]["responses"])
    assert {"413", "415"} <= set(schema["paths"]["/v1/videos"]["post"]["responses"])


# ---------------------------------------------------------------------------
# input_reference as an image URL, from the official SDK

def test_input_reference_image_url_with_the_sdk(api):
    import openai
    client, app, _ = api
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 40)).save(buf, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    sdk = openai.OpenAI(base_url="http://testserver/v1", api_key=KEY, max_retries=0, http_client=client)
    with pytest.raises(RuntimeError):  # the SDK takes only a file for input_reference itself
        sdk.videos.create(prompt=PROMPT, input_reference={"image_url": url})
    # The documented way (README): sent as the form field input_reference[image_url]
    video = sdk.videos.create(prompt=PROMPT, size="720x1280", seconds="4",
                              extra_body={"input_reference": {"image_url": url}})
    assert video.status == "queued"
    assert app.state.service.store.get(video.id).params["mode"] == "image"


# ---------------------------------------------------------------------------
# Proxy headers: only from OPENREEL_FORWARDED_ALLOW_IPS, decided by uvicorn (a live server)

def _key_for_10_net(srv: Server) -> str:
    admin = srv.http
    owner = admin.get("/v1/admin/users").json()["data"][0]["id"]
    r = admin.post("/v1/admin/keys", json={"owner": owner, "name": "office", "scopes": ["videos:read"],
                                           "allowed_cidrs": ["10.0.0.0/8"]})
    assert r.status_code == 200, r.text
    return r.json()["key"]


@pytest.mark.parametrize("trusted", ["", "127.0.0.1"])
def test_forwarded_for_is_believed_only_from_trusted_proxies(tmp_path, trusted):
    srv = Server(tmp_path, workers=0, env={"OPENREEL_FORWARDED_ALLOW_IPS": trusted}).start(wait_workers=False)
    try:
        key = _key_for_10_net(srv)
        with srv.as_key(key) as c:
            r = c.get("/v1/models", headers={"x-forwarded-for": "10.1.2.3"})
        if trusted:
            assert r.status_code == 200, r.text  # the proxy (loopback) is trusted: the client is 10.1.2.3
        else:
            # The forged header is ignored: the client is 127.0.0.1, outside the key's networks.
            assert r.status_code == 403 and r.json()["error"]["code"] == "key_suspended", r.text
            assert "127.0.0.1" in json.dumps(srv.http.get("/v1/admin/keys").json())
        with srv.http as c:  # and over real HTTP, hostile input is still a 400
            refused(c.get("/v1/videos/video_%00"), "video_id")
            refused(c.get("/v1/videos", params={"after": "\x00"}), "after")
    finally:
        srv.stop()
