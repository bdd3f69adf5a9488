"""The standard GAN losses, registered by name as a core plugin.

All logit losses are written with ``softplus`` / log-sigmoid on the raw
discriminator output, never as the log of a sigmoid: ``log(sigmoid(t))`` is
``-softplus(-t)``, finite for every ``t``, where ``log(D(x))`` of a saturated
sigmoid is ``-inf``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ganzoo.interfaces import PER_SAMPLE_D, Discriminator, GANLoss, LossLogs


class MinimaxLoss(GANLoss):
    """Goodfellow et al. (2014), the minimax objective exactly as stated.

    D maximises ``log D(x) + log(1 - D(G(z)))``; G minimises
    ``log(1 - D(G(z)))`` (the saturating form: weak gradients early on, when D
    rejects fakes confidently; see :class:`NonSaturatingLoss`).
    """

    def d_loss_from_outputs(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        # -log(sigmoid(r)) = softplus(-r);  -log(1 - sigmoid(f)) = softplus(f)
        return F.softplus(-real_out).mean() + F.softplus(fake_out).mean()

    def g_loss_from_outputs(self, fake_out: Tensor) -> Tensor:
        # log(1 - sigmoid(f)) = -softplus(f)
        return (-F.softplus(fake_out)).mean()


class NonSaturatingLoss(MinimaxLoss):
    """Goodfellow et al. (2014), section 3: G minimises ``-log D(G(z))`` instead.

    Same fixed point as the minimax game, strong gradients early in training.
    """

    def g_loss_from_outputs(self, fake_out: Tensor) -> Tensor:
        return F.softplus(-fake_out).mean()


class HingeLoss(GANLoss):
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018): ``relu(1 - D(x)) + relu(1 + D(G(z)))``."""

    output = "score"

    def d_loss_from_outputs(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return F.relu(1.0 - real_out).mean() + F.relu(1.0 + fake_out).mean()

    def g_loss_from_outputs(self, fake_out: Tensor) -> Tensor:
        return -fake_out.mean()


class LSGANLoss(GANLoss):
    """Least squares GAN (Mao et al. 2017), targets a=0, b=1, c=1."""

    output = "score"

    def d_loss_from_outputs(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return 0.5 * ((real_out - 1.0) ** 2).mean() + 0.5 * (fake_out**2).mean()

    def g_loss_from_outputs(self, fake_out: Tensor) -> Tensor:
        return 0.5 * ((fake_out - 1.0) ** 2).mean()


def gradient_penalty(D: Discriminator, real: Tensor, fake: Tensor, y: Tensor | None = None) -> Tensor:
    """Gulrajani et al. (2017): ``E[(||grad_x D(x_hat)||_2 - 1)^2]``.

    ``x_hat = a * real + (1 - a) * fake`` with one ``a ~ U[0, 1]`` per sample;
    the norm is taken over all non-batch dimensions. The graph is kept
    (``create_graph=True``) so the penalty trains D.
    """
    alpha = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    x_hat = (alpha * real + (1.0 - alpha) * fake).requires_grad_(True)
    out = D(x_hat, y).float()
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    norms = grad.float().flatten(1).norm(2, dim=1)
    return ((norms - 1.0) ** 2).mean()


class WGANGPLoss(GANLoss):
    """WGAN with gradient penalty (Gulrajani et al. 2017).

    Critic: ``E[D(fake)] - E[D(real)] + lambda * GP``; generator: ``-E[D(fake)]``.
    ``n_critic`` critic steps per generator step (5 in the paper).

    The penalty is per sample, so the critic must not mix samples in a batch:
    BatchNorm discriminators are refused (the paper suggests LayerNorm or none):
    the loss needs ``"per-sample-d"``.
    """

    output = "score"
    needs = (PER_SAMPLE_D,)

    def __init__(self, gp_weight: float = 10.0, n_critic: int = 5):
        if gp_weight < 0:
            raise ValueError(f"gp_weight must be >= 0, got {gp_weight}")
        if n_critic < 1:
            raise ValueError(f"n_critic must be >= 1, got {n_critic}")
        self.gp_weight = float(gp_weight)
        self.n_critic = int(n_critic)

    def discriminator_loss(
        self, D: Discriminator, real: Tensor, fake: Tensor, y: Tensor | None = None
    ) -> tuple[Tensor, LossLogs]:
        real_out = D(real, y).float()
        fake_out = D(fake, y).float()
        wdist = real_out.mean() - fake_out.mean()
        gp = gradient_penalty(D, real, fake, y)
        loss = -wdist + self.gp_weight * gp
        logs = {
            "loss_d": loss.detach(),
            "wasserstein": wdist.detach(),
            "gp": gp.detach(),
            **self._report("D(x)", real_out),
            **self._report("D(G(z))", fake_out),
        }
        return loss, logs

    def g_loss_from_outputs(self, fake_out: Tensor) -> Tensor:
        return -fake_out.mean()


LOSSES: dict[str, type[GANLoss]] = {
    "minimax": MinimaxLoss,
    "non-saturating": NonSaturatingLoss,
    "hinge": HingeLoss,
    "lsgan": LSGANLoss,
    "wgan-gp": WGANGPLoss,
}

