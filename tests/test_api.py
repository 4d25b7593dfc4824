"""The Videos API, driven by the official `openai` SDK against a live `openreel serve` on loopback.

The SDK is used unmodified but for base_url. Plain httpx covers what the SDK
cannot send (bad bodies, Range requests, idempotency keys).
"""

from __future__ import annotations

import base64
import io
import time
import warnings

import av
import httpx
import numpy as np
import pytest
from PIL import Image

from serving import Server

warnings.filterwarnings("ignore", category=DeprecationWarning)  # the SDK marks videos.* deprecated (Sora's API closed)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
PROMPT = "a red circle moving right on a navy background"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("serve")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    return server.client()


def decode_mp4(data: bytes):
    with av.open(io.BytesIO(data)) as c:
        s = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(s)]
        return np.stack(frames), float(s.average_rate), s.codec_context.name, s.codec_context.pix_fmt


def png_bytes(color=(40, 190, 70), size=(64, 64), fmt="PNG") -> bytes:
    im = Image.new("RGB", size, (20, 24, 90))
    w, h = size
    for x in range(w // 4, w // 2):
        for y in range(h // 3, h // 2 + 4):
            im.putpixel((x, y), color)
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


# ---------------------------------------------------------------------------
# The happy path with the real SDK

def test_create_and_poll_then_download_every_variant(client):
    video = client.videos.create_and_poll(prompt=PROMPT, size="64x64", seconds="4", extra_body={"seed": 3})
    assert video.status == "completed", video.error
    assert video.object == "video" and video.id.startswith("video_") and video.progress == 100
    assert video.seconds == "4" and video.size == "64x64" and video.model == "sora-2"
    assert video.completed_at >= video.created_at and video.expires_at > video.completed_at

    frames, fps, codec, pix_fmt = decode_mp4(client.videos.download_content(video.id).read())
    assert frames.shape == (32, 64, 64, 3) and fps == 8 and codec == "h264" and pix_fmt == "yuv420p"
    thumb = Image.open(io.BytesIO(client.videos.download_content(video.id, variant="thumbnail").read()))
    assert thumb.format == "WEBP" and thumb.size == (64, 64)
    sheet = Image.open(io.BytesIO(client.videos.download_content(video.id, variant="spritesheet").read()))
    assert sheet.format == "JPEG" and sheet.size[0] > 64


def test_the_model_follows_the_prompt_through_the_api(client):
    from openreel.eval.probe import probe
    video = client.videos.create_and_poll(prompt="a yellow square moving up on a black background",
                                          size="64x64", seconds="2", extra_body={"seed": 1})
    frames = decode_mp4(client.videos.download_content(video.id).read())[0]
    reading = probe(frames)
    assert (reading.color, reading.background) == ("yellow", "black")


def test_a_sora_size_is_generated_natively_and_scaled(client):
    video = client.videos.create_and_poll(prompt=PROMPT, size="1280x720", seconds="4")
    frames, fps, _, _ = decode_mp4(client.videos.download_content(video.id).read())
    assert frames.shape[1:] == (720, 1280, 3) and fps == 8
    assert Image.open(io.BytesIO(client.videos.download_content(video.id, variant="thumbnail").read())).size == (1280, 720)


def test_retrieve_list_across_pages_and_delete(client, server):
    ids = [client.videos.create(prompt=f"{PROMPT} {i}", size="64x64", seconds="1").id for i in range(5)]
    got = client.videos.retrieve(ids[0])
    assert got.id == ids[0] and got.status in ("queued", "in_progress", "completed")

    page = client.videos.list(limit=2)
    assert len(page.data) == 2 and page.has_more
    listed = [v.id for v in client.videos.list(limit=2)]  # the SDK follows last_id across pages
    assert listed[:5] == ids[::-1]  # newest first
    asc = [v.id for v in client.videos.list(limit=3, order="asc")]
    assert [i for i in asc if i in ids] == ids
    raw = server.http.get("/v1/videos", params={"limit": 2}).json()
    assert raw["object"] == "list" and raw["first_id"] == raw["data"][0]["id"] and raw["last_id"] == raw["data"][1]["id"]

    for vid in ids:
        client.videos.poll(vid)
    deleted = client.videos.delete(ids[0])
    assert (deleted.id, deleted.deleted, deleted.object) == (ids[0], True, "video.deleted")
    assert not (server.data_dir / "videos" / ids[0]).exists()
    import openai
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(ids[0])
    assert ids[0] not in [v.id for v in client.videos.list(limit=100)]


def test_delete_cancels_a_queued_job(client, server):
    busy = client.videos.create(prompt=PROMPT, size="64x64", seconds="4", extra_body={"steps": 60})
    queued = client.videos.create(prompt=PROMPT, size="64x64", seconds="4")
    assert client.videos.delete(queued.id).deleted
    client.videos.poll(busy.id)
    time.sleep(0.5)
    assert not (server.data_dir / "videos" / queued.id).exists()
    rows = server.http.get("/v1/videos", params={"limit": 100}).json()["data"]
    assert queued.id not in [r["id"] for r in rows]


def test_input_reference_from_a_file_becomes_the_first_frame(client):
    image = png_bytes()
    video = client.videos.create_and_poll(prompt="a green square moving right on a navy background", size="64x64",
                                          seconds="2", input_reference=("ref.png", image, "image/png"))
    assert video.status == "completed", video.error
    first = decode_mp4(client.videos.download_content(video.id).read())[0][0].astype(float)
    want = np.asarray(Image.open(io.BytesIO(image)).convert("RGB")).astype(float)
    psnr = 10 * np.log10(255 ** 2 / np.mean((first - want) ** 2))
    assert psnr > 20, psnr


def test_input_reference_as_a_data_url_in_json(server):
    url = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    r = server.http.post("/v1/videos", json={"prompt": PROMPT, "size": "64x64", "seconds": 1,
                                                     "input_reference": {"image_url": url}})
    assert r.status_code == 200 and r.json()["status"] == "queued"


def test_remix_edit_and_extend(client):
    source = client.videos.create_and_poll(prompt="a red circle moving right on a gray background", size="64x64",
                                           seconds="2", extra_body={"seed": 5})
    remix = client.videos.poll(client.videos.remix(source.id, prompt="a blue circle moving right on a gray background").id)
    assert remix.status == "completed", remix.error
    assert remix.remixed_from_video_id == source.id and remix.seconds == "2"

    # openai 3.54 refuses video={"id": ...} client-side (it expects a file at that path), so a
    # reference to a stored video goes in extra_body, which the SDK sends as the form field video[id].
    import openai
    by_id = {"video": openai.omit, "extra_body": {"video": {"id": source.id}}}
    edit = client.videos.poll(client.videos.edit(prompt="a white circle moving right on a gray background",
                                                 **by_id).id)
    assert edit.status == "completed", edit.error
    mp4 = client.videos.download_content(source.id).read()
    edit_file = client.videos.poll(client.videos.edit(prompt="a white circle moving right on a gray background",
                                                      video=("source.mp4", mp4, "video/mp4")).id)
    assert edit_file.status == "completed", edit_file.error
    assert decode_mp4(client.videos.download_content(edit_file.id).read())[0].shape == (16, 64, 64, 3)

    ext = client.videos.poll(client.videos.extend(prompt="a red circle moving right on a gray background",
                                                  seconds="4", **by_id).id)
    assert ext.status == "completed", ext.error
    assert ext.seconds == "6"  # the stitched total
    frames = decode_mp4(client.videos.download_content(ext.id).read())[0]
    assert len(frames) == 48


def test_longer_than_one_pass_is_chained(client):
    video = client.videos.create_and_poll(prompt=PROMPT, size="64x64", seconds="8")
    assert video.status == "completed", video.error
    assert decode_mp4(client.videos.download_content(video.id).read())[0].shape == (64, 64, 64, 3)


def test_models_list(client):
    ids = {m.id for m in client.models.list()}
    assert {"sora-2", "sora-2-pro", "openreel-1"} <= ids


# ---------------------------------------------------------------------------
# HTTP details the SDK relies on

def test_poll_header_range_requests_and_idempotency(client, server):
    video = client.videos.create_and_poll(prompt=PROMPT, size="64x64", seconds="1")
    r = server.http.get(f"/v1/videos/{video.id}")
    assert r.headers["openai-poll-after-ms"] == "100"
    url = f"/v1/videos/{video.id}/content"
    whole = server.http.get(url)
    assert whole.headers["content-type"] == "video/mp4"
    part = server.http.get(url, headers={"Range": "bytes=10-109"})
    assert part.status_code == 206 and part.content == whole.content[10:110]
    assert part.headers["content-range"] == f"bytes 10-109/{len(whole.content)}"

    body = {"prompt": PROMPT, "size": "64x64", "seconds": "1"}
    a = server.http.post("/v1/videos", json=body, headers={"Idempotency-Key": "k-123"}).json()
    b = server.http.post("/v1/videos", json=body, headers={"Idempotency-Key": "k-123"}).json()
    c = server.http.post("/v1/videos", json=body).json()
    assert a["id"] == b["id"] != c["id"]


def test_content_of_an_unfinished_video_is_a_clear_4xx(client, server):
    video = client.videos.create(prompt=PROMPT, size="64x64", seconds="4", extra_body={"steps": 40})
    r = server.http.get(f"/v1/videos/{video.id}/content")
    assert r.status_code == 409 and "completed" in r.json()["error"]["message"]
    client.videos.poll(video.id)


# ---------------------------------------------------------------------------
# Bad input: a 4xx naming the field, and nothing stored or queued

def _bomb_png() -> bytes:
    # A valid PNG header claiming 30000 x 30000 pixels, with almost no data: decoding would need 2.7 GB.
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = zlib.compress(b"\x00" * 30001 * 16)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


BAD_CREATES = [
    ({"size": "64x64"}, None, "prompt"),
    ({"prompt": "", "size": "64x64"}, None, "prompt"),
    ({"prompt": "   "}, None, "prompt"),
    ({"prompt": "x" * 32001}, None, "prompt"),
    ({"prompt": PROMPT, "size": "640x480"}, None, "size"),
    ({"prompt": PROMPT, "seconds": "5"}, None, "seconds"),
    ({"prompt": PROMPT, "seconds": "four"}, None, "seconds"),
    ({"prompt": PROMPT, "model": "dall-e-3"}, None, "model"),
    ({"prompt": PROMPT, "steps": "0"}, None, "steps"),
    ({"prompt": PROMPT, "seed": "-1"}, None, "seed"),
    ({"prompt": PROMPT}, ("input_reference", ("notes.txt", b"hello, not an image", "text/plain")), "input_reference"),
    ({"prompt": PROMPT}, ("input_reference", ("ref.png", png_bytes()[:60], "image/png")), "input_reference"),
    ({"prompt": PROMPT}, ("input_reference", ("bomb.png", _bomb_png(), "image/png")), "input_reference"),
]


def _stored(server) -> tuple[int, int]:
    rows = server.http.get("/v1/videos", params={"limit": 100}).json()["data"]
    return len(rows), len(list((server.data_dir / "videos").iterdir()))


@pytest.mark.parametrize("fields,file,param", BAD_CREATES)
def test_bad_create_names_the_field_and_stores_nothing(server, fields, file, param):
    before = _stored(server)
    if file:
        r = server.http.post("/v1/videos", data=fields, files=[file])
    else:
        r = server.http.post("/v1/videos", data=fields, files=[("x", ("x", b"", "text/plain"))])
    assert 400 <= r.status_code < 500, r.text
    err = r.json()["error"]
    assert err["param"] == param and param in err["message"] and err["type"] == "invalid_request_error"
    assert _stored(server) == before


def test_malformed_multipart_and_oversized_uploads_are_refused(server):
    before = _stored(server)
    r = server.http.post("/v1/videos", content=b"--xx\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nhi",
                   headers={"content-type": "multipart/form-data; boundary=xx"})
    assert r.status_code == 400 and "multipart" in r.json()["error"]["message"]
    r = server.http.post("/v1/videos", content=b"garbage", headers={"content-type": "multipart/form-data"})
    assert r.status_code == 400 and "multipart" in r.json()["error"]["message"]
    big = b"\x00" * (51 * 1024 * 1024)
    r = server.http.post("/v1/videos", data={"prompt": PROMPT}, files={"input_reference": ("a.png", big, "image/png")})
    assert r.status_code == 413 and "larger than" in r.json()["error"]["message"]
    assert _stored(server) == before


def test_unknown_ids_are_404_in_the_error_envelope(server):
    for method, path in [("GET", "/v1/videos/video_nope"), ("DELETE", "/v1/videos/video_nope"),
                         ("GET", "/v1/videos/video_nope/content"), ("POST", "/v1/videos/video_nope/remix")]:
        r = server.http.request(method, path, json={"prompt": PROMPT})
        assert r.status_code == 404, (method, path, r.text)
        assert set(r.json()["error"]) == {"message", "type", "param", "code"}


def test_bad_edit_and_extend_inputs(server, client):
    before = _stored(server)
    r = server.http.post("/v1/videos/extensions", data={"prompt": PROMPT, "seconds": "4"},
                   files={"video": ("v.mp4", b"not a video at all", "video/mp4")})
    assert r.status_code == 400 and r.json()["error"]["param"] == "video"
    r = server.http.post("/v1/videos/extensions", json={"prompt": PROMPT, "video": {"id": "video_x"}})
    assert r.status_code == 400 and r.json()["error"]["param"] == "seconds"
    r = server.http.post("/v1/videos/edits", json={"prompt": PROMPT})
    assert r.status_code == 400 and r.json()["error"]["param"] == "video"
    assert _stored(server) == before


def test_the_readme_sdk_example_works_as_written(server, tmp_path, monkeypatch):
    import re
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Serve the Sora Videos API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)[1]
    assert len(code.strip().splitlines()) <= 10
    assert 'base_url="http://127.0.0.1:8000/v1"' in code
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENREEL_API_KEY", server.admin_key)
    exec(code.replace("http://127.0.0.1:8000", server.url), {})
    frames, fps, _, _ = decode_mp4((tmp_path / "video.mp4").read_bytes())
    assert frames.shape == (32, 720, 1280, 3) and fps == 8
