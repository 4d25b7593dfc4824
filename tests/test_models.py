"""Model shapes across sizes and durations, causality, and the sampler maths."""

import pytest
import torch

from openreel.diffusion.flow import SAMPLERS, flow_loss, guided, motion_loss, noisy, sample_euler, timesteps
from openreel.models.autoencoder import AutoencoderConfig, VideoAutoencoder, latent_frames
from openreel.models.dit import DIT_PRESETS, DiT, DiT_XS, sincos_3d

TINY_AE = AutoencoderConfig(channels=(8, 8, 16), group_channels=16, latent_channels=4)


@pytest.fixture(scope="module")
def ae():
    torch.manual_seed(0)
    return VideoAutoencoder(TINY_AE).eval()


@pytest.mark.parametrize("frames,n", [(1, 1), (2, 2), (5, 2), (9, 3), (16, 5), (17, 5), (32, 9), (33, 9)])
def test_latent_frame_count(frames, n):
    assert latent_frames(frames) == n


@pytest.mark.parametrize("w,h", [(64, 64), (112, 64), (64, 112)])
@pytest.mark.parametrize("frames", [1, 9, 16, 33])
def test_autoencoder_shapes(ae, w, h, frames):
    x = torch.rand(2, frames, 3, h, w) * 2 - 1
    with torch.no_grad():
        z = ae.encode(x)
        y = ae.decode(z, frames=frames)
    assert z.shape == (2, latent_frames(frames), 4, h // 4, w // 4)
    assert y.shape == x.shape


def test_autoencoder_is_causal_in_time(ae):
    torch.manual_seed(1)
    x = torch.rand(1, 9, 3, 16, 16) * 2 - 1
    x2 = x.clone()
    x2[:, 5:] = torch.rand(1, 4, 3, 16, 16)  # change only the last group of frames
    with torch.no_grad():
        z, z2 = ae.encode(x), ae.encode(x2)
        # An image is a one-frame video, and its latent is the first latent frame of any clip starting with it.
        img = ae.encode(x[:, :1])
        y, y2 = ae.decode(z), ae.decode(z2)
    assert torch.equal(z[:, :2], z2[:, :2]) and not torch.equal(z[:, 2], z2[:, 2])
    assert torch.allclose(img, z[:, :1], atol=1e-5)
    assert torch.allclose(y[:, :5], y2[:, :5], atol=1e-5)  # decoding is causal too


def test_autoencoder_refuses_sizes_off_its_grid(ae):
    with pytest.raises(ValueError, match="multiples of 4"):
        ae.encode(torch.zeros(1, 1, 3, 30, 32))


@pytest.mark.parametrize("n,h,w", [(1, 16, 16), (5, 16, 16), (9, 16, 16), (5, 16, 28), (5, 28, 16)])
def test_dit_shapes_across_durations_and_aspect_ratios(n, h, w):
    torch.manual_seed(0)
    dit = DiT(DiT_XS(latent_channels=4)).eval()
    # Open the adaLN-zero gates so the output is not trivially zero.
    for p in dit.parameters():
        if p.abs().sum() == 0:
            torch.nn.init.normal_(p, std=0.02)
    z = torch.randn(2, n, 4, h, w)
    text, mask = torch.randn(2, 7, 384), torch.ones(2, 7, dtype=torch.bool)
    mask[1, 3:] = False
    v = dit(z, torch.tensor([0.3, 0.9]), text, mask)
    assert v.shape == z.shape and torch.isfinite(v).all() and v.abs().sum() > 0


def test_dit_starts_as_zero_velocity():
    dit = DiT(DiT_XS(latent_channels=4))
    v = dit(torch.randn(1, 2, 4, 8, 8), torch.tensor([0.5]), torch.randn(1, 3, 384), torch.ones(1, 3, dtype=torch.bool))
    assert torch.count_nonzero(v) == 0  # adaLN-zero init


def opened(cfg, seed=0):
    """A DiT with its zero-initialised layers given small random weights, so outputs aren't trivially zero."""
    torch.manual_seed(seed)
    dit = DiT(cfg).eval()
    for p in dit.parameters():
        if p.abs().sum() == 0:
            torch.nn.init.normal_(p, std=0.02)
    return dit


def test_frame_conditioning_starts_as_the_model_it_fine_tunes():
    plain = opened(DiT_XS(latent_channels=4))
    cond = DiT(DiT_XS(latent_channels=4, frame_cond=True)).eval()
    cond.load_state_dict(plain.state_dict())  # a text -> video checkpoint: frames_in is missing, filled with zeros
    assert torch.count_nonzero(cond.frames_in.weight) == 0
    z, text, mask = torch.randn(1, 3, 4, 8, 8), torch.randn(1, 3, 384), torch.ones(1, 3, dtype=torch.bool)
    known, known_mask = torch.randn(1, 3, 4, 8, 8), torch.tensor([[True, False, True]])
    with torch.no_grad():
        want = plain(z, torch.tensor([0.5]), text, mask)
        assert torch.equal(cond(z, torch.tensor([0.5]), text, mask), want)
        assert torch.equal(cond(z, torch.tensor([0.5]), text, mask, known, known_mask), want)
    with pytest.raises(ValueError, match="frame_cond"):
        plain(z, torch.tensor([0.5]), text, mask, known, known_mask)


def test_frame_conditioning_sees_only_known_frames():
    dit = opened(DiT_XS(latent_channels=4, frame_cond=True))
    z, text, mask = torch.randn(1, 3, 4, 8, 8), torch.randn(1, 3, 384), torch.ones(1, 3, dtype=torch.bool)
    known, known_mask = torch.randn(1, 3, 4, 8, 8), torch.tensor([[True, False, False]])
    other = known.clone()
    other[:, 1:] = torch.randn(1, 2, 4, 8, 8)  # differs only where nothing is known
    with torch.no_grad():
        v = dit(z, torch.tensor([0.5]), text, mask, known, known_mask)
        assert torch.equal(v, dit(z, torch.tensor([0.5]), text, mask, other, known_mask))
        assert not torch.allclose(v, dit(z, torch.tensor([0.5]), text, mask))  # knowing a frame changes the field


def test_dit_rejects_latents_off_the_patch_grid():
    dit = DiT(DiT_XS(latent_channels=4))
    with pytest.raises(ValueError, match="multiples of 4"):
        dit(torch.randn(1, 2, 4, 8, 10), torch.tensor([0.5]), torch.randn(1, 3, 384), torch.ones(1, 3, dtype=torch.bool))


def test_positions_differ_everywhere():
    pos = sincos_3d(3, 4, 7, 64)
    assert pos.shape == (84, 64)
    assert torch.cdist(pos, pos).add(torch.eye(84) * 10).min() > 1e-3


def test_presets_are_configs():
    for name, preset in DIT_PRESETS.items():
        cfg = preset()
        assert cfg.width % cfg.heads == 0, name


# ---------------------------------------------------------------------------
# Sampler maths

def test_timesteps_run_from_noise_to_data():
    for shift in (1.0, 3.0):
        ts = timesteps(10, shift)
        assert ts[0] == 1.0 and ts[-1] == 0.0 and len(ts) == 11
        assert (ts[1:] < ts[:-1]).all()
    assert timesteps(10, 3.0)[5] > timesteps(10, 1.0)[5]  # shift spends longer at high noise
    with pytest.raises(ValueError, match="steps"):
        timesteps(0)


@pytest.mark.parametrize("name", list(SAMPLERS))
@pytest.mark.parametrize("steps", [1, 3, 10])
def test_samplers_land_on_the_endpoint_of_a_straight_flow(name, steps):
    torch.manual_seed(0)
    x0, noise = torch.randn(4, 3), torch.randn(4, 3)

    def velocity(x, t):  # the exact field of the straight path from x0 to noise
        return noise - x0

    out = SAMPLERS[name](velocity, noise.clone(), timesteps(steps, 2.0))
    assert torch.allclose(out, x0, atol=1e-5)


def test_higher_order_solver_beats_euler_on_a_curved_flow():
    # dx/dt = x has the exact solution x(0) = x(1) * e^-1.
    x1 = torch.ones(1)
    exact = x1 * torch.exp(torch.tensor(-1.0))
    ts = timesteps(8)
    err_euler = (SAMPLERS["euler"](lambda x, t: x, x1, ts) - exact).abs().item()
    err_mid = (SAMPLERS["midpoint"](lambda x, t: x, x1, ts) - exact).abs().item()
    assert err_mid < err_euler / 5


def test_flow_loss_is_zero_for_the_true_velocity():
    x0, noise, t = torch.randn(2, 5), torch.randn(2, 5), torch.tensor([0.2, 0.7])
    xt = noisy(x0, noise, t)
    assert torch.allclose(xt[0], 0.8 * x0[0] + 0.2 * noise[0])
    assert flow_loss(noise - x0, x0, noise) == 0
    assert flow_loss(torch.zeros_like(x0), x0, noise) > 0


def test_motion_loss_prefers_errors_that_persist_over_ones_that_hop():
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(2, 4, 3, 2, 2, generator=g), torch.randn(2, 4, 3, 2, 2, generator=g)
    true_v = noise - x0
    bias = torch.randn(2, 1, 3, 2, 2, generator=g)
    steady = true_v + bias  # the same error in every latent frame
    hopping = true_v + bias * torch.tensor([1.0, -1.0, 1.0, -1.0]).view(1, 4, 1, 1, 1)  # as large, alternating
    # flow_loss can't tell them apart (equal up to rounding: the same squared errors, summed in another order)
    assert torch.allclose(flow_loss(steady, x0, noise), flow_loss(hopping, x0, noise))
    assert motion_loss(steady, x0, noise).abs() < 1e-6
    assert motion_loss(hopping, x0, noise) > 1.0
    assert motion_loss(hopping[:, :1], x0[:, :1], noise[:, :1]) == 0  # one-frame clips: no steps


def test_guidance_extrapolates_from_unconditional():
    v = guided(lambda x, t: torch.full_like(x, 2.0), lambda x, t: torch.full_like(x, 1.0), 3.0)
    assert torch.equal(v(torch.zeros(2), 0.5), torch.full((2,), 4.0))
    assert sample_euler(lambda x, t: torch.zeros_like(x), torch.ones(2), timesteps(4)).eq(1).all()
