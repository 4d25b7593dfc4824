"""Training is deterministic from a seed and resumes exactly from its checkpoint."""

import pytest
import torch

from openreel.train import Dist, Interrupted, TrainConfig, lr_at, train_autoencoder

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
