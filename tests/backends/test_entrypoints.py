"""Open-weight families end to end: `openreel models add`, the CLI, and the HTTP API through the
official `openai` SDK, on tiny random-weight folders built in code (nothing fetched)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import tiny
from openreel.media.video import read_video
from serving import Server

warnings.filterwarnings("ignore", category=DeprecationWarning)  # the SDK marks videos.* deprecated
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
OPENREEL = str(Path(sys.executable).parent / "openreel")
FIRST = {"wan": "t2v", "ltx": "t2v", "cogvideox": "t2v", "hunyuan": "t2v", "skyreels": "df"}  # one folder each


def cli(*args):
    return subprocess.run([OPENREEL, *map(str, args)], capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL, env={**os.environ, "HF_HUB_OFFLINE": "1"})


@pytest.fixture(scope="module")
def data_dir(tiny_folder, tmp_path_factory):
    """A data folder whose catalog holds one tiny folder of every family."""
    data = tmp_path_factory.mktemp("data")
    for family, variant in FIRST.items():
        r = cli("models", "add", f"tiny-{family}", "--path", tiny_folder(family, variant), "--data-dir", data)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"tiny-{family}: {family} from ")
    return data


def caps_of(data_dir: Path, name: str):
    from openreel.backends.catalog import Catalog
    return Catalog(data_dir).capabilities(name)


@pytest.mark.parametrize("family", FIRST)
def test_the_cli_generates_with_a_registered_model(family, data_dir, tmp_path):
    t, out = tiny(family), tmp_path / "v.mp4"
    r = cli("generate", "a red ball moving right", "--model", f"tiny-{family}", "--data-dir", data_dir,
            "--size", t.SIZE, "--seconds", t.SECONDS, "--fps", t.FPS, "--steps", 2, "--seed", 3, "-o", out)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == str(out)
    frames, fps = read_video(out)
    w, h = (int(v) for v in t.SIZE.split("x"))
    caps = caps_of(data_dir, f"tiny-{family}")
    assert frames.shape == (caps.frames_for(t.SECONDS, t.FPS), h, w, 3) and round(fps) == t.FPS


@pytest.mark.parametrize("family", FIRST)
def test_the_python_api_runs_a_registered_model(family, data_dir):
    from openreel import load_backend, run
    from openreel.requests import SamplingOptions, TextToVideo
    t = tiny(family)
    backend = load_backend(f"tiny-{family}", data_dir=data_dir)
    video = run(backend, TextToVideo("a red ball moving right", SamplingOptions(size=t.SIZE, seconds=t.SECONDS,
                                                                                 fps=t.FPS, steps=2, seed=3)))
    w, h = (int(v) for v in t.SIZE.split("x"))
    assert video.frames.shape == (caps_of(data_dir, f"tiny-{family}").frames_for(t.SECONDS, t.FPS), h, w, 3)
    assert video.fps == t.FPS and video.params["model"] == f"tiny-{family}" and video.params["family"] == family
    again = run(backend, TextToVideo("a red ball moving right", SamplingOptions(size=t.SIZE, seconds=t.SECONDS,
                                                                                 fps=t.FPS, steps=2, seed=3)))
    assert np.array_equal(video.frames, again.frames)  # the same seed, the same frames


def test_the_cli_refuses_what_a_model_cannot_do_naming_the_model_and_its_modes(data_dir, tmp_path):
    r = cli("generate", "a red ball", "--loop", "--model", "tiny-cogvideox", "--data-dir", data_dir,
            "-o", tmp_path / "v.mp4")
    assert r.returncode == 2
    assert r.stderr.strip() == ("error: mode loop is not one model tiny-cogvideox has; its modes are "
                                "text, remix, edit")
    r = cli("generate", "a red ball", "--model", "tiny-wan", "--size", "40x40", "--data-dir", data_dir,
            "-o", tmp_path / "v.mp4")
    assert r.returncode == 2 and r.stderr.startswith("error: size must be one of") and "multiples of 16" in r.stderr
    assert not (tmp_path / "v.mp4").exists()


def test_models_list_info_and_remove(data_dir, tmp_path):
    listed = cli("models", "list", "--data-dir", data_dir).stdout.splitlines()
    assert [line.split()[:2] for line in listed] == [["openreel-1", "builtin"]] + sorted(
        [f"tiny-{f}", f] for f in FIRST)
    info = json.loads(cli("models", "info", "tiny-wan", "--data-dir", data_dir).stdout)
    assert info["family"] == "wan" and info["capabilities"]["frame_rule"] == [4, 1]
    assert info["capabilities"]["license"] == "apache-2.0" and "text" in info["capabilities"]["modes"]
    other = tmp_path / "data"
    assert cli("models", "add", "again", "--path", info["path"], "--data-dir", other,
               "--option", "dtype=bfloat16", "--option", "vae_tiling=true").returncode == 0
    assert json.loads(cli("models", "info", "again", "--data-dir", other).stdout)["options"] == {
        "dtype": "bfloat16", "vae_tiling": "true"}
    bad = cli("models", "add", "worse", "--path", info["path"], "--data-dir", other, "--option", "dtype=int3")
    assert bad.returncode == 2 and bad.stderr.startswith("error: option dtype must be one of")
    hunyuan = json.loads(cli("models", "info", "tiny-hunyuan", "--data-dir", data_dir).stdout)["path"]
    bad = cli("models", "add", "worse", "--path", hunyuan, "--data-dir", other, "--option", "cache=first_block")
    assert bad.returncode == 2 and "cache=first_block is not available for hunyuan models" in bad.stderr
    assert cli("models", "remove", "again", "--data-dir", other).returncode == 0
    assert "again" not in cli("models", "list", "--data-dir", other).stdout
    gone = cli("models", "info", "again", "--data-dir", other)
    assert gone.returncode == 2 and "not in this instance's catalog" in gone.stderr


def test_family_detection_refuses_a_folder_of_no_known_kind(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    r = cli("models", "add", "sd", "--path", tmp_path / "m", "--data-dir", tmp_path / "d")
    assert r.returncode == 2 and "no family recognises this folder" in r.stderr


def test_memory_and_speed_options_are_recorded_in_the_job_and_its_identity(tiny_folder, tmp_path):
    from openreel.service.settings import Settings
    from openreel.service.store import Store
    from openreel.service.videos import VideoService
    service = VideoService(Settings(data_dir=tmp_path, moderation=False))
    service.models.catalog.add("wan-bf16", tiny_folder("wan", "t2v"), options={"dtype": "bfloat16", "vae_tiling": "true"})
    made = service.create({"prompt": "a red ball", "model": "wan-bf16", "size": "32x32", "seconds": "1"})
    assert Store(service.settings.db_url()).get(made["id"]).params["model_options"] == {
        "dtype": "bfloat16", "vae_tiling": "true"}
    assert service.models.identity("wan-bf16").options == {"dtype": "bfloat16", "vae_tiling": True}


def test_a_non_commercial_model_is_refused_by_the_cli_on_a_commercial_instance(tiny_folder, tmp_path):
    data = tmp_path / "data"
    assert cli("models", "add", "nc", "--path", tiny_folder("wan", "t2v"), "--license", "cc-by-nc-4.0",
               "--data-dir", data).returncode == 0
    r = subprocess.run([OPENREEL, "generate", "a red ball", "--model", "nc", "--data-dir", str(data), "--size", "32x32",
                        "-o", str(tmp_path / "v.mp4")], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       env={**os.environ, "OPENREEL_COMMERCIAL_USE": "true"})
    assert r.returncode == 2 and "non-commercial licence (cc-by-nc-4.0)" in r.stderr and "error: model" in r.stderr


@pytest.fixture(scope="module")
def server(data_dir):
    srv = Server(data_dir, env={"HF_HUB_OFFLINE": "1"}).start()
    yield srv
    srv.stop()


def test_every_family_through_the_http_api_with_the_openai_sdk(server, data_dir):
    client = server.client()
    listed = {m.id: m for m in client.models.list().data}
    for family in FIRST:
        m = listed[f"tiny-{family}"].model_dump()
        assert m["family"] == family and m["capabilities"]["modes"] and m["license"]
    assert listed["sora-2"].model_dump()["alias_of"] == "openreel-1"
    made = {}
    for family in FIRST:
        t = tiny(family)
        made[family] = client.videos.create(model=f"tiny-{family}", prompt="a red ball moving right", size=t.SIZE,
                                            seconds=str(t.SECONDS), extra_body={"steps": 2, "fps": t.FPS, "seed": 5})
    for family, video in made.items():
        t = tiny(family)
        done = client.videos.poll(video.id)
        assert done.status == "completed", (family, done.error)
        data = client.videos.download_content(video.id).read()
        with av.open(io.BytesIO(data)) as c:
            s = c.streams.video[0]
            frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(s)])
            fps = float(s.average_rate)
        w, h = (int(v) for v in t.SIZE.split("x"))
        caps = caps_of(data_dir, f"tiny-{family}")
        assert frames.shape == (caps.frames_for(t.SECONDS, t.FPS), h, w, 3) and round(fps) == t.FPS, family


def test_the_http_api_refuses_a_mode_the_model_lacks(server):
    import httpx
    client = server.client()
    t = tiny("cogvideox")
    made = client.videos.create(model="tiny-cogvideox", prompt="a red ball", size=t.SIZE, seconds=str(t.SECONDS),
                                extra_body={"steps": 2, "fps": t.FPS})
    assert client.videos.poll(made.id).status == "completed"
    r = server.http.post("/v1/videos/extensions",
                   json={"model": "tiny-cogvideox", "prompt": "more", "seconds": "1", "video": {"id": made.id}})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["param"] == "mode" and "tiny-cogvideox" in err["message"] and "text, remix, edit" in err["message"]
