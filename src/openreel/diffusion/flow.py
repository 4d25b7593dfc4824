"""Rectified flow: schedules, the training loss and samplers, as pure functions.

Convention (Liu et al. 2022, "Flow Straight and Fast"; Esser et al. 2024, SD3):
    x_t = (1 - t) * x0 + t * noise,   t in [0, 1], t = 1 is pure noise,
and the model predicts the velocity v = dx_t/dt = noise - x0. Sampling
integrates dx/dt = v from t = 1 down to t = 0.

Samplers share one signature, after k-diffusion:
    sample_x(model, x, ts, callback=None) -> x at ts[-1]
where model(x, t) returns the velocity and ts is a decreasing schedule.
"""

from __future__ import annotations

from typing import Callable

import torch

Velocity = Callable[[torch.Tensor, float], torch.Tensor]


# ----------------------------------------------------------------------------
# Schedules

def timesteps(steps: int, shift: float = 1.0, start: float = 1.0) -> torch.Tensor:
    """steps + 1 times from `start` to 0. shift > 1 spends more steps at high noise (SD3's
    resolution shift): t' = shift * t / (1 + (shift - 1) * t). start < 1 begins part-way,
    from a partly noised input (SDEdit); the spacing is the same shifted one, cut at `start`."""
    if steps < 1:
        raise ValueError(f"steps must be a positive integer; got {steps}")
    if not 0 < start <= 1:
        raise ValueError(f"start must be in (0, 1]; got {start}")
    u0 = start / (shift - (shift - 1) * start)  # the unshifted time that shifts to `start`
    t = torch.linspace(u0, 0.0, steps + 1, dtype=torch.float64)
    return (shift * t / (1 + (shift - 1) * t)).float()


def sample_t(batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Training times from a logit-normal(0, 1) (SD3): most weight on the middle, where it is hardest."""
    return torch.sigmoid(torch.randn(batch, generator=generator))


# ----------------------------------------------------------------------------
# Training objective

def noisy(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    tb = t.view(-1, *([1] * (x0.ndim - 1)))
    return (1 - tb) * x0 + tb * noise


def flow_loss(pred_v: torch.Tensor, x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Mean squared error against the straight-line velocity."""
    return (pred_v - (noise - x0)).pow(2).mean()


def motion_loss(pred_v: torch.Tensor, x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the velocity error's step from one latent frame to the next.

    pred_v, x0, noise: (B, n, C, h, w). flow_loss weighs every frame's error alone, so it
    is as happy with an object placed a little left in one latent frame and a little right
    in the next as with one placed a little left in both; the first shows as a hop at the
    group seam, the second doesn't. This term prefers errors that persist over time to
    errors that jump. One-frame clips (n = 1) give 0.
    """
    err = pred_v - (noise - x0)
    if err.shape[1] < 2:
        return err.new_zeros(())
    return (err[:, 1:] - err[:, :-1]).pow(2).mean()


def guided(model_cond: Velocity, model_uncond: Velocity, scale: float) -> Velocity:
    """Classifier-free guidance (Ho & Salimans 2022): v = v_u + scale * (v_c - v_u)."""
    if scale == 1.0:
        return model_cond

    def v(x, t):
        vu = model_uncond(x, t)
        return vu + scale * (model_cond(x, t) - vu)
    return v


def with_known(model: Velocity, known: torch.Tensor, noise: torch.Tensor, mask: torch.Tensor,
               guide: float = 0.0, guide_model: Velocity | None = None) -> Velocity:
    """Condition a model that was never trained to be conditioned on known latent frames.

    Replacement (SDEdit, Meng et al. 2022; RePaint, Lugmayr et al. 2022): where `mask` is
    True the velocity is the straight line's own, noise - known, so a known frame started
    at its noise stays on x_t = (1 - t) known + t noise under every sampler and ends at
    `known`; the model draws the other frames, seeing the known ones noised to the same t.

    Replacement alone lets the model draw the free frames as if the known ones weren't
    there. guide > 0 adds reconstruction guidance (Ho et al. 2022, "Video Diffusion
    Models", eq. 7): the free frames move along the gradient that brings the clean estimate
    x - t v of the known frames closer to them. The estimate comes from `guide_model` (say,
    the unguided conditional model, whose estimate isn't stretched by classifier-free
    guidance), else `model`. It costs a forward and a backward pass of it.
    known, noise: like x; mask: bool, broadcastable to x.
    """
    line = noise - known
    estimator = guide_model or model

    def v(x, t):
        out = model(x, t)
        if guide > 0 and t > 0:
            with torch.enable_grad():
                xg = x.detach().requires_grad_(True)
                err = ((xg - t * estimator(xg, t) - known) ** 2 * mask).sum()  # x - t v estimates x0
                grad, = torch.autograd.grad(err, xg)
            out = out + guide * grad / t  # moving the x0 estimate by -guide * grad moves v by +guide * grad / t
        return torch.where(mask, line, out)
    return v


# ----------------------------------------------------------------------------
# Samplers

@torch.no_grad()
def sample_euler(model: Velocity, x: torch.Tensor, ts: torch.Tensor, callback=None) -> torch.Tensor:
    """Euler's method on the probability-flow ODE (first order, one model call per step)."""
    for i in range(len(ts) - 1):
        t, t_next = float(ts[i]), float(ts[i + 1])
        x = x + (t_next - t) * model(x, t)
        if callback is not None:
            callback(i, len(ts) - 1, x)
    return x


@torch.no_grad()
def sample_heun(model: Velocity, x: torch.Tensor, ts: torch.Tensor, callback=None) -> torch.Tensor:
    """Heun's method (second order; Karras et al. 2022, Algorithm 1): an Euler step, then the
    average of the slopes at both ends. The last step to t = 0 is plain Euler."""
    for i in range(len(ts) - 1):
        t, t_next = float(ts[i]), float(ts[i + 1])
        d = model(x, t)
        x_euler = x + (t_next - t) * d
        if t_next == 0.0:
            x = x_euler
        else:
            x = x + (t_next - t) * 0.5 * (d + model(x_euler, t_next))
        if callback is not None:
            callback(i, len(ts) - 1, x)
    return x


@torch.no_grad()
def sample_midpoint(model: Velocity, x: torch.Tensor, ts: torch.Tensor, callback=None) -> torch.Tensor:
    """The explicit midpoint method (second order, RK2): slope taken half a step ahead."""
    for i in range(len(ts) - 1):
        t, t_next = float(ts[i]), float(ts[i + 1])
        t_mid = 0.5 * (t + t_next)
        x_mid = x + (t_mid - t) * model(x, t)
        x = x + (t_next - t) * model(x_mid, t_mid)
        if callback is not None:
            callback(i, len(ts) - 1, x)
    return x


SAMPLERS = {"euler": sample_euler, "heun": sample_heun, "midpoint": sample_midpoint}
