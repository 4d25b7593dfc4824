"""Trust features in-process (no worker): auto-approval, expiring public pages, the visible label."""

from __future__ import annotations

import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from openreel.api.app import create_app
from openreel.backends.builtin import load_defaults
from openreel.video import Video
from openreel.service.settings import Settings
from openreel.service.worker import Worker


class Still:  # a stand-in pipeline: these tests are about sharing, not the model
    def __init__(self, defaults):
        self.defaults = defaults

    def __call__(self, prompt, seconds, callback=None, **kw):
        frames = np.full((8 * seconds, 64, 64, 3), 40, np.uint8)
        frames[:, 20:40, 20:40] = (220, 40, 40)
        return Video(frames, 8, prompt, {})


def setup(tmp_path, **settings):
    s = Settings(data_dir=tmp_path, bootstrap_admin_key="ork_" + "a" * 43, **settings)
    app = create_app(s)
    client = TestClient(app, headers={"authorization": "Bearer ork_" + "a" * 43})
    vid = client.post("/v1/videos", json={"prompt": "a red square staying still", "size": "64x64", "seconds": 1}).json()["id"]
    worker = Worker(s, "w", pipeline=Still(load_defaults()))
    worker.process(worker.store.claim("w", 10))
    assert client.get(f"/v1/videos/{vid}").json()["status"] == "completed"
    return client, vid


def test_trusted_roles_skip_review(tmp_path):
    client, vid = setup(tmp_path, auto_approve_roles=["admin"])
    share = client.post(f"/v1/videos/{vid}/share").json()
    assert share["status"] == "approved" and share["url"]
    assert client.get(share["url"].replace("http://testserver", "")).status_code == 200


def test_an_expired_public_page_answers_404(tmp_path):
    client, vid = setup(tmp_path, auto_approve_roles=["admin"], public_page_ttl_seconds=1)
    url = client.post(f"/v1/videos/{vid}/share").json()["url"].replace("http://testserver", "")
    assert client.get(url).status_code == 200
    time.sleep(2.1)
    assert client.get(url).status_code == 404 and client.get(url + "/video.mp4").status_code == 404


@pytest.mark.parametrize("visible", [False, True])
def test_the_visible_label_is_off_by_default_and_on_when_asked(tmp_path, visible):
    from openreel.media.video import read_video
    client, vid = setup(tmp_path, visible_watermark=visible)
    path = tmp_path / "videos" / vid / "native.mp4"
    frames, _ = read_video(path)
    corner = frames[:, -12:, -40:].astype(int)
    # The corner of this clip is flat (40, 40, 40) apart from the faint invisible watermark.
    assert (np.abs(corner - 40).max() > 100) == visible


def test_an_organisations_certificate_from_configuration_signs_outputs(tmp_path):
    from openreel.media.c2pa_sign import make_credentials, read_mp4
    org = make_credentials("Example Studio")
    for name, text in (("chain.pem", org.chain_pem), ("key.pem", org.key_pem), ("ca.pem", org.ca_pem)):
        (tmp_path / name).write_text(text)
    client, vid = setup(tmp_path / "data", c2pa_chain_pem=str(tmp_path / "chain.pem"),
                        c2pa_key_pem=str(tmp_path / "key.pem"), c2pa_ca_pem=str(tmp_path / "ca.pem"))
    report = read_mp4(tmp_path / "data" / "videos" / vid / "video.mp4", org.ca_pem)
    assert report.valid and report.trusted and report.claims["video_id"] == vid
