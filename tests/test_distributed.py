"""The training code runs unchanged under torchrun (DDP over gloo on CPU)."""

import json
import subprocess
import sys
from pathlib import Path

from safetensors.torch import load_file


def test_both_stages_run_under_torchrun_with_two_processes(tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    out = tmp_path / "ddp"
    cmd = [str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "openreel.train", "--out", str(out),
           "--ae-steps", "3", "--ae-batch", "4", "--ae-frames", "5", "--dit-steps", "3", "--dit-batch", "4",
           "--dit-preset", "XS", "--pool-scale", "0", "--dit-image-steps", "0", "--probe-every", "0", "--log-every", "1",
           # stage 3 (the prompt reader, rank 0 alone) briefly: its default run takes minutes
           "--reader-steps", "20", "--reader-sentences", "64", "--reader-batch", "8"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "autoencoder.log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows if "rec" in row] == [1, 2, 3]  # only rank 0 logs
    weights = load_file(out / "weights" / "transformer.safetensors")
    assert weights and all(v.isfinite().all() for v in weights.values())
    assert (out / "weights" / "prompt_reader.safetensors").exists()
