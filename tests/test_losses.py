"""The standard losses against hand-computed values, and their refusals."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import Tensor, nn

import ganzoo
from ganzoo.errors import IncompatibleLossError
from ganzoo.losses import gradient_penalty


class SumD(ganzoo.Discriminator):
    """D(x) = sum of x's entries per sample: a batch of shape (N, 1) scores as itself."""

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return x.flatten(1).sum(1)


class SquareD(ganzoo.Discriminator):
    """D(x) = sum(w * x**2) per sample: grad 2 w x differs per sample, and D has a parameter."""

    def __init__(self, w: Tensor):
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return (self.w * x**2).flatten(1).sum(1)


def scores(*values: float) -> Tensor:
    """A batch whose SumD scores are ``values``."""
    return torch.tensor(values).unsqueeze(1)


# sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4, sigmoid(-ln 3) = 1/4
LOGIT_REAL = scores(0.0, math.log(3.0))
LOGIT_FAKE = scores(0.0, -math.log(3.0))
SCORE_REAL = scores(0.5, 2.0)
SCORE_FAKE = scores(-2.0, 0.5)


@pytest.mark.parametrize(
    "name, real, fake, d_expected, g_expected",
    [
        # D: -mean(log D(x)) - mean(log(1 - D(G(z)))); G: mean(log(1 - D(G(z))))
        (
            "minimax",
            LOGIT_REAL,
            LOGIT_FAKE,
            -(math.log(1 / 2) + math.log(3 / 4)) / 2 - (math.log(1 / 2) + math.log(3 / 4)) / 2,
            (math.log(1 / 2) + math.log(3 / 4)) / 2,
        ),
        # G: -mean(log D(G(z)))
        (
            "non-saturating",
            LOGIT_REAL,
            LOGIT_FAKE,
            -(math.log(1 / 2) + math.log(3 / 4)) / 2 - (math.log(1 / 2) + math.log(3 / 4)) / 2,
            -(math.log(1 / 2) + math.log(1 / 4)) / 2,
        ),
        # D: mean(relu(1 - r)) + mean(relu(1 + f)) = (0.5 + 0)/2 + (0 + 1.5)/2; G: -mean(f)
        ("hinge", SCORE_REAL, SCORE_FAKE, 0.25 + 0.75, 0.75),
        # D: 0.5 mean((r - 1)^2) + 0.5 mean(f^2) = 0.5 (0.25 + 1)/2 + 0.5 (4 + 0.25)/2
        # G: 0.5 mean((f - 1)^2) = 0.5 (9 + 0.25)/2
        ("lsgan", SCORE_REAL, SCORE_FAKE, 0.3125 + 1.0625, 2.3125),
        # D(x) = sum(x) has gradient 1 everywhere: norm 1 for one feature, penalty 0.
        # D: mean(f) - mean(r) = -0.75 - 1.25; G: -mean(f)
        ("wgan-gp", SCORE_REAL, SCORE_FAKE, -2.0, 0.75),
    ],
)
def test_loss_values(name, real, fake, d_expected, g_expected):
    loss = ganzoo.create_loss(name)
    d_loss, d_logs = loss.discriminator_loss(SumD(), real, fake)
    g_loss, g_logs = loss.generator_loss(SumD(), fake)
    assert d_loss.item() == pytest.approx(d_expected, rel=1e-6)
    assert g_loss.item() == pytest.approx(g_expected, rel=1e-6)
    assert d_logs["loss_d"].item() == pytest.approx(d_expected, rel=1e-6)
    assert g_logs["loss_g"].item() == pytest.approx(g_expected, rel=1e-6)


def test_logit_losses_report_probabilities_and_score_losses_raw_scores():
    _, logs = ganzoo.create_loss("minimax").discriminator_loss(SumD(), LOGIT_REAL, LOGIT_FAKE)
    assert logs["D(x)"].item() == pytest.approx((1 / 2 + 3 / 4) / 2)
    assert logs["D(G(z))"].item() == pytest.approx((1 / 2 + 1 / 4) / 2)
    _, logs = ganzoo.create_loss("hinge").discriminator_loss(SumD(), SCORE_REAL, SCORE_FAKE)
    assert logs["D(x)"].item() == pytest.approx(1.25)
    assert logs["D(G(z))"].item() == pytest.approx(-0.75)


def test_wgan_gp_loss_adds_the_weighted_penalty():
    # Four features per sample: grad of the sum is all ones, norm 2, penalty (2 - 1)^2 = 1.
    real = torch.tensor([[0.5, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    fake = torch.tensor([[-1.0, -1.0, 0.0, 0.0], [0.25, 0.25, 0.0, 0.0]])
    loss = ganzoo.create_loss("wgan-gp", gp_weight=3.0)
    d_loss, logs = loss.discriminator_loss(SumD(), real, fake)
    assert logs["wasserstein"].item() == pytest.approx(1.25 - (-0.75))
    assert logs["gp"].item() == pytest.approx(1.0)
    assert d_loss.item() == pytest.approx(-2.0 + 3.0 * 1.0)


HUGE = 1e4


@pytest.mark.parametrize("name", ["minimax", "non-saturating"])
def test_logit_losses_stay_finite_for_huge_logits(name):
    naive = torch.log(torch.sigmoid(torch.tensor(-HUGE))).item()
    assert naive == -math.inf  # the case is one where log(sigmoid) fails
    real = scores(HUGE, -HUGE).requires_grad_(True)
    fake = scores(HUGE, -HUGE).requires_grad_(True)
    loss = ganzoo.create_loss(name)
    d_loss, _ = loss.discriminator_loss(SumD(), real, fake)
    g_loss, _ = loss.generator_loss(SumD(), fake)
    # -log sigmoid(-1e4) = 1e4 and -log(1 - sigmoid(1e4)) = 1e4; the confident halves cost 0.
    assert d_loss.item() == pytest.approx(HUGE / 2 + HUGE / 2)
    assert g_loss.item() == pytest.approx(-HUGE / 2 if name == "minimax" else HUGE / 2)
    d_loss.backward()
    assert torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()
    assert real.grad.abs().sum() > 0


def _fixed_rand(alpha: Tensor):
    """A stand-in for torch.rand returning ``alpha``, shaped as the caller asks (one per sample)."""

    def rand(*size, **kwargs):
        shape = (
            tuple(size[0])
            if len(size) == 1 and isinstance(size[0], (tuple, list, torch.Size))
            else size
        )
        assert math.prod(shape) == alpha.numel(), (
            f"expected one alpha per sample, asked for {shape}"
        )
        return alpha.reshape(shape).to(
            dtype=kwargs.get("dtype") or torch.float32, device=kwargs.get("device")
        )

    return rand


def _reference_penalty(
    w: Tensor, real: Tensor, fake: Tensor, alpha: Tensor
) -> tuple[Tensor, Tensor]:
    """Gulrajani et al.'s penalty in float64, and its gradient with respect to w."""
    w64 = w.detach().double().requires_grad_(True)
    a = alpha.double().view(-1, 1, 1, 1)
    x_hat = (a * real.double() + (1 - a) * fake.double()).requires_grad_(True)
    out = (w64 * x_hat**2).sum(dim=(1, 2, 3))
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    norms = torch.sqrt((grad**2).sum(dim=(1, 2, 3)))
    penalty = ((norms - 1) ** 2).mean()
    (dw,) = torch.autograd.grad(penalty, w64)
    return penalty, dw


@pytest.fixture
def penalty_case(monkeypatch):
    gen = torch.Generator().manual_seed(0)
    w = torch.rand(2, 3, 3, generator=gen) + 0.5
    real = torch.randn(4, 2, 3, 3, generator=gen)
    fake = torch.randn(4, 2, 3, 3, generator=gen)
    alpha = torch.tensor([0.1, 0.4, 0.7, 0.95])
    monkeypatch.setattr(torch, "rand", _fixed_rand(alpha))
    return w, real, fake, alpha


def test_gradient_penalty_matches_float64_reference(penalty_case):
    w, real, fake, alpha = penalty_case
    D = SquareD(w)
    expected, expected_dw = _reference_penalty(w, real, fake, alpha)
    assert expected.item() > 1.0  # the case is far from norm 1, so a wrong norm shows
    gp = gradient_penalty(D, real, fake)
    assert gp.item() == pytest.approx(expected.item(), rel=1e-5)
    gp.backward()  # the penalty must train D: its graph is kept
    torch.testing.assert_close(D.w.grad.double(), expected_dw, rtol=1e-4, atol=1e-6)


class RecordingD(ganzoo.Discriminator):
    """D(x) = sum(x**2) per sample, remembering the inputs it saw."""

    def __init__(self):
        super().__init__()
        self.seen: list[Tensor] = []

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        self.seen.append(x.detach().clone())
        return (x**2).flatten(1).sum(1)


def test_gradient_penalty_draws_one_alpha_per_sample():
    # With real = 1 and fake = 0, the interpolate x_hat is alpha itself, entry by entry.
    real, fake = torch.ones(64, 2, 3, 3), torch.zeros(64, 2, 3, 3)
    torch.manual_seed(0)
    D = RecordingD()
    gradient_penalty(D, real, fake)
    alpha = D.seen[-1].flatten(1)
    assert (alpha == alpha[:, :1]).all(), "one alpha for all entries of a sample"
    assert alpha[:, 0].unique().numel() == 64, "a different alpha for each sample"
    assert 0.0 <= alpha.min() and alpha.max() <= 1.0
    torch.manual_seed(0)
    gradient_penalty(D, real, fake)
    assert torch.equal(D.seen[-1].flatten(1), alpha), "alpha follows torch's seed"


def test_wgan_gp_loss_matches_float64_reference(penalty_case):
    w, real, fake, alpha = penalty_case
    D = SquareD(w)
    gp, _ = _reference_penalty(w, real, fake, alpha)
    with torch.no_grad():
        wdist = D(real.double()).mean() - D(fake.double()).mean()
    loss, logs = ganzoo.create_loss("wgan-gp").discriminator_loss(D, real, fake)
    assert loss.item() == pytest.approx((-wdist + 10.0 * gp).item(), rel=1e-5)
    assert logs["gp"].item() == pytest.approx(gp.item(), rel=1e-5)


def test_wgan_gp_loss_refuses_a_batchnorm_discriminator():
    with pytest.raises(IncompatibleLossError, match="BatchNorm"):
        ganzoo.create("dcgan", loss="wgan-gp")


def test_wgan_gp_loss_accepts_the_wgan_gp_critic():
    assert ganzoo.create("wgan-gp", data_shape=(1, 28, 28)).loss_name == "wgan-gp"


class CustomLoss(ganzoo.GANLoss):
    name = "my-loss"

    def d_loss_from_outputs(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return fake_out.mean() - real_out.mean()

    def g_loss_from_outputs(self, fake_out: Tensor) -> Tensor:
        return -fake_out.mean()


def test_a_loss_the_model_does_not_declare_trains_it_when_its_needs_are_met():
    # compatible_losses is what the model was made for, not an allow-list (issue 14, item 5).
    gan = ganzoo.create("vanilla", data_shape=(2,), loss=CustomLoss())
    assert gan.loss.name == "my-loss"


class NeedsPerSampleD(CustomLoss):
    name = "needs-per-sample"
    needs = ("per-sample-d",)


class NeedsSomethingNew(CustomLoss):
    name = "needs-new"
    needs = ("spectral-norm-d",)


def test_a_loss_whose_needs_the_model_lacks_is_refused_with_the_reason():
    with pytest.raises(IncompatibleLossError, match=r"loss 'needs-per-sample' does not fit model 'dcgan'.*"
                       r"needs 'per-sample-d'.*BatchNorm.*--force-loss"):
        ganzoo.create("dcgan", loss=NeedsPerSampleD())
    assert ganzoo.create("wgan-gp", loss=NeedsPerSampleD()).loss.name == "needs-per-sample"


def test_a_capability_of_a_plugins_own_is_offered_only_when_the_spec_says_so():
    with pytest.raises(IncompatibleLossError, match="spectral-norm-d"):
        ganzoo.create("vanilla", loss=NeedsSomethingNew())
    gan = ganzoo.create("vanilla", loss=CustomLoss())
    gan.spec = dataclasses.replace(gan.spec, offers=("per-sample-d", "spectral-norm-d"))
    gan.loss = NeedsSomethingNew()
    ganzoo.factory.check_loss(gan)  # offered now: no error
    gan.spec = dataclasses.replace(gan.spec, offers=())
    gan.loss = NeedsPerSampleD()
    with pytest.raises(IncompatibleLossError, match="omits it"):
        ganzoo.factory.check_loss(gan)


def test_an_incompatible_loss_can_be_forced_with_a_warning():
    with pytest.warns(UserWarning, match="forced: loss 'wgan-gp' does not fit model 'dcgan'"):
        gan = ganzoo.create("dcgan", loss="wgan-gp", allow_incompatible=True)
    assert gan.loss_name == "wgan-gp"


def test_unknown_loss_name_is_refused_with_suggestions():
    with pytest.raises(ganzoo.errors.UnknownNameError, match="did you mean 'hinge'"):
        ganzoo.create("dcgan", loss="hinj")


@pytest.mark.parametrize("kwargs", [{"gp_weight": -1.0}, {"n_critic": 0}])
def test_wgan_gp_loss_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ganzoo.create_loss("wgan-gp", **kwargs)
