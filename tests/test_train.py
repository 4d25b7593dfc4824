"""Training is deterministic from a seed and resumes exactly from its checkpoint."""

import pytest
import torch

import numpy as np

from openreel.models.autoencoder import AutoencoderConfig, VideoAutoencoder
from openreel.train import Dist, Interrupted, TrainConfig, encode_stills, frame_mask, lr_at, train_autoencoder

CPU = torch.device("cpu")
COMMON = dict(ae_steps=4, ae_batch=2, ae_frames=5, probe_every=0, ckpt_every=100, log_every=1)


def weights(model):
    return torch.cat([p.detach().flatten() for p in model.state_dict().values() if p.is_floating_point()])


def test_autoencoder_stage_is_deterministic_and_resumable(tmp_path):
    straight = train_autoencoder(TrainConfig(out=str(tmp_path / "a"), **COMMON), CPU, Dist())
    again = train_autoencoder(TrainConfig(out=str(tmp_path / "b"), **COMMON), CPU, Dist())
    assert torch.equal(weights(straight), weights(again))
    other_seed = train_autoencoder(TrainConfig(out=str(tmp_path / "s"), seed=1, **COMMON), CPU, Dist())
    assert not torch.equal(weights(straight), weights(other_seed))

    # Stop half-way (as a killed run would, after its checkpoint), then resume.
    with pytest.raises(Interrupted, match="step 2 of 4"):
        train_autoencoder(TrainConfig(out=str(tmp_path / "c"), session_steps=2, **COMMON), CPU, Dist())
    resumed = train_autoencoder(TrainConfig(out=str(tmp_path / "c"), **COMMON), CPU, Dist())
    assert torch.allclose(weights(resumed), weights(straight), atol=1e-6)


def test_learning_rate_warms_up_then_decays():
    lrs = [lr_at(s, 1000, 1e-3, warmup=100) for s in range(1000)]
    assert lrs[0] < lrs[50] < lrs[99] == pytest.approx(1e-3)
    assert lrs[500] < lrs[200] and lrs[-1] == pytest.approx(1e-4, rel=0.05)


def test_frame_masks_cover_first_last_both_and_none():
    rng = np.random.default_rng(0)
    masks = [frame_mask(rng, 5, 0.5) for _ in range(2000)]
    kinds = {"none": 0, "first": 0, "last": 0, "both": 0}
    for m in masks:
        if not m.any():
            kinds["none"] += 1
        elif m[0] and m[-1] and m.sum() < 5:
            kinds["both"] += 1
        elif m[0]:
            assert m[:m.sum()].all()  # a run from the start
            kinds["first"] += 1
        else:
            assert m[-m.sum():].all()  # a run to the end
            kinds["last"] += 1
    assert 0.45 < kinds["none"] / 2000 < 0.55 and min(kinds.values()) > 100
    assert not any(frame_mask(rng, 5, 0.0).any() for _ in range(100))


def test_known_frame_latents_are_single_frames():
    torch.manual_seed(0)
    ae = VideoAutoencoder(AutoencoderConfig(channels=(8, 8, 16), group_channels=16, latent_channels=4)).eval()
    x = torch.rand(2, 9, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        stills = encode_stills(ae, x)
        assert stills.shape == (2, 3, 4, 4, 4)
        assert torch.allclose(stills[:, 0], ae.encode(x)[:, 0], atol=1e-5)  # latent 0 is frame 0 alone anyway
        assert torch.allclose(stills[:, 2], ae.encode(x[:, 5:6])[:, 0], atol=1e-5)  # group 2 starts at frame 5
