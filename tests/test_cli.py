"""The `openreel` command end to end, through the installed entry point."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from openreel.media.video import read_video

OPENREEL = str(Path(sys.executable).parent / "openreel")


def run(*args, timeout=600):
    return subprocess.run([OPENREEL, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_generate_writes_a_browser_playable_mp4(tmp_path):
    out = tmp_path / "clip.mp4"
    r = run("generate", "a yellow square moving up on a black background", "-o", out, "--seed", 3)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("clip.mp4")
    frames, fps = read_video(out)
    assert frames.shape == (16, 64, 64, 3) and fps == 8
    import av
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
    head = out.read_bytes()[:4096]
    assert head.find(b"moov") != -1 and head.find(b"moov") < max(head.find(b"mdat"), 0) + 4096  # faststart


def test_generate_other_sizes_and_durations(tmp_path):
    out = tmp_path / "wide.mp4"
    r = run("generate", "a green ball moving left", "-o", out, "--size", "112x64", "--seconds", 1, "--steps", 4)
    assert r.returncode == 0, r.stderr
    frames, fps = read_video(out)
    assert frames.shape == (8, 64, 112, 3) and fps == 8


@pytest.mark.parametrize("args,field", [
    (["", "-o", "{tmp}/a.mp4"], "prompt"),
    (["a ball", "--size", "100x100", "-o", "{tmp}/a.mp4"], "size"),
    (["a ball", "--seconds", "9", "-o", "{tmp}/a.mp4"], "seconds"),
    (["a ball", "--steps", "0", "-o", "{tmp}/a.mp4"], "steps"),
    (["a ball", "--steps", "-2", "-o", "{tmp}/a.mp4"], "steps"),
    (["a ball", "--fps", "60", "-o", "{tmp}/a.mp4"], "fps"),
    (["a ball", "-o", "{tmp}/no/such/folder/a.mp4"], "output folder"),
    (["a ball", "-o", "{tmp}/a.gif"], "output"),
])
def test_bad_input_is_one_clear_line_exit_2_and_nothing_written(tmp_path, args, field):
    r = run("generate", *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}"), r.stderr
    assert list(tmp_path.rglob("*")) == []


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """One smoke training run (its folder and result), shared by the tests that read it or continue it."""
    out = tmp_path_factory.mktemp("smoke") / "run"
    return out, run("train", "--smoke", "--out", out, "--ae-steps", 120, "--dit-steps", 120, "--reader-steps", 60)


def test_smoke_training_loss_falls_and_exports_a_working_model(smoke_run, tmp_path):
    out, r = smoke_run
    assert r.returncode == 0, r.stderr[-2000:]

    def losses(name, key):
        return [row[key] for row in map(json.loads, (out / name).read_text().splitlines()) if key in row]

    ae, dit = losses("autoencoder.log.jsonl", "rec"), losses("dit.log.jsonl", "loss")
    assert len(ae) == 120 and len(dit) == 120
    assert np.mean(ae[-20:]) < 0.8 * np.mean(ae[:20])
    assert np.mean(dit[-20:]) < 0.8 * np.mean(dit[:20])
    reader = losses("reader.log.jsonl", "loss")
    assert len(reader) == 60 and np.mean(reader[-10:]) < 0.8 * np.mean(reader[:10])
    assert (out / "weights" / "prompt_reader.safetensors").exists()
    manifest = json.loads((out / "weights" / "data_manifest.json").read_text())
    assert manifest["license"].startswith("CC0") and len(manifest["sha256"]) == 64
    clip = tmp_path / "smoke.mp4"
    r = run("generate", "a red ball", "-o", clip, "--weights", out / "weights", "--steps", 2)
    assert r.returncode == 0, r.stderr
    assert read_video(clip)[0].shape == (16, 64, 64, 3)


def test_a_continued_run_without_a_reader_stage_keeps_the_reader(smoke_run, tmp_path):
    init, first = smoke_run
    assert first.returncode == 0, first.stderr[-2000:]
    out = tmp_path / "more"
    r = run("train", "--smoke", "--out", out, "--init-from", init / "weights", "--dit-steps", 5, "--reader-steps", 0)
    assert r.returncode == 0, r.stderr[-2000:]
    before, after = init / "weights", out / "weights"
    assert (after / "prompt_reader.safetensors").read_bytes() == (before / "prompt_reader.safetensors").read_bytes()
    config, previous = (json.loads((d / "config.json").read_text()) for d in (after, before))
    assert config["prompt_reader"] == previous["prompt_reader"]
    assert config["train_reader"] == previous["train"]  # the settings that trained the kept reader
    assert config["train"]["reader_steps"] == 0 and config["train"]["dit_steps"] == 5
    stages = json.loads((after / "data_manifest.json").read_text())["stages"]
    assert "prompt_reader" not in stages and "prompt_reader" in stages["continued_from"]["stages"]
