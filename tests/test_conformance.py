"""Every registered model, and the built-ins at other shapes, pass the conformance kit."""

from __future__ import annotations

import dataclasses

import ganzoo_vanilla
import pytest
import torch
from torch import Tensor, nn

import ganzoo
from ganzoo.testing import (
    CHECKS,
    ConformanceError,
    check_conditioning,
    check_determinism,
    check_gradients,
    check_image_range,
    check_interface,
    check_losses_finite,
    check_model,
    check_output_shape,
    check_safetensors_roundtrip,
)

SHAPES = [
    ("dcgan", (3, 32, 32)),
    ("dcgan", (3, 64, 64)),
    ("wgan-gp", (3, 32, 32)),
    ("cgan", (3, 32, 32)),
    ("vanilla", (2,)),
]


@pytest.fixture(scope="module", params=ganzoo.list_models())
def registered(request) -> ganzoo.GAN:
    return ganzoo.create(request.param)


@pytest.fixture(
    scope="module", params=SHAPES, ids=[f"{m}-{'x'.join(map(str, s))}" for m, s in SHAPES]
)
def reshaped(request) -> ganzoo.GAN:
    name, shape = request.param
    return ganzoo.create(name, data_shape=shape)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_registered_model(registered, check):
    check(registered)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_model_at_other_shape(reshaped, check):
    check(reshaped)
    assert reshaped.generator.sample(2).shape[1:] == reshaped.config["data_shape"]


def test_check_model_runs_every_check():
    check_model("vanilla", data_shape=(2,))


def test_check_model_unknown_name_is_not_a_failed_check():
    with pytest.raises(ganzoo.errors.UnknownNameError):
        check_model("dcgn")


def test_check_model_reports_a_build_failure():
    with pytest.raises(ConformanceError, match=r"model 'dcgan' failed to build.*even"):
        check_model("dcgan", data_shape=(1, 27, 27))


def test_checks_leave_the_model_as_found():
    gan = ganzoo.create("dcgan")
    gan.generator.eval()
    before = {k: v.clone() for k, v in gan.discriminator.state_dict().items()}
    for check in CHECKS:
        check(gan)
    assert not gan.generator.training
    assert gan.discriminator.training
    after = gan.discriminator.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BatchNorm statistics too
    assert all(p.grad is None for p in gan.generator.parameters())


# The kit must catch broken models: each case below breaks one rule.


def _break_generator(gan: ganzoo.GAN, forward) -> ganzoo.GAN:
    gan.generator.forward = forward.__get__(gan.generator)
    return gan


def test_kit_catches_wrong_output_shape():
    gan = ganzoo.create("vanilla", data_shape=(2,))
    original = type(gan.generator).forward

    def forward(self, z, y=None):
        return original(self, z, y)[:, :1]

    with pytest.raises(ConformanceError, match=r"'vanilla'.*check_output_shape.*expected \(1, 2\)"):
        check_output_shape(_break_generator(gan, forward))


def test_kit_catches_images_out_of_range():
    gan = ganzoo.create("vanilla", g_hidden=(8,), d_hidden=(8,))
    gan.generator.net = gan.generator.net[:-1]  # drop the Tanh
    with pytest.raises(ConformanceError, match=r"check_image_range: images must lie in \[-1, 1\]"):
        check_image_range(gan)


def test_kit_catches_hidden_global_randomness():
    gan = ganzoo.create("vanilla", data_shape=(2,))
    original = type(gan.generator).forward

    def forward(self, z, y=None):
        return original(self, z + torch.randn_like(z), y)

    with pytest.raises(ConformanceError, match="check_determinism: the same generator seed"):
        check_determinism(_break_generator(gan, forward))


def test_kit_catches_a_generator_cut_off_from_the_loss():
    gan = ganzoo.create("vanilla", data_shape=(2,))
    original = type(gan.generator).forward

    def forward(self, z, y=None):
        return original(self, z, y).detach() + 0 * self.net[0].bias.sum()

    with pytest.raises(
        ConformanceError,
        match=r"check_gradients: generator parameters get (no|an all-zero) gradient",
    ):
        check_gradients(_break_generator(gan, forward))


class _Unsaved(nn.Module):
    """Adds a random offset kept outside the state dict: it does not survive a save."""

    def __init__(self):
        super().__init__()
        self.register_buffer("offset", torch.randn(2), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.offset


def test_kit_catches_state_outside_the_state_dict():
    gan = ganzoo.create("vanilla", data_shape=(2,))
    gan.generator.net.append(_Unsaved())
    with pytest.raises(
        ConformanceError, match="check_safetensors_roundtrip: the rebuilt generator"
    ):
        check_safetensors_roundtrip(gan)


def test_kit_catches_a_generator_that_ignores_labels():
    gan = ganzoo.create("cgan", width=8, embed_dim=4)
    original = type(gan.generator).forward

    def forward(self, z, y=None):
        if y is None:
            raise ValueError("labels required")
        return original(self, z, torch.zeros_like(y))

    with pytest.raises(
        ConformanceError, match="check_conditioning: the generator ignores its labels"
    ):
        check_conditioning(_break_generator(gan, forward))


def test_kit_catches_a_conditional_generator_accepting_no_labels():
    gan = ganzoo.create("cgan", width=8, embed_dim=4)
    original = type(gan.generator).forward

    def forward(self, z, y=None):
        return original(self, z, torch.zeros(z.shape[0], dtype=torch.long) if y is None else y)

    with pytest.raises(ConformanceError, match="forward must raise when y is None"):
        check_conditioning(_break_generator(gan, forward))


def test_kit_catches_an_unconditional_sample_accepting_labels(monkeypatch):
    gan = ganzoo.create("vanilla", data_shape=(2,))
    monkeypatch.setattr(gan.generator, "check_labels", lambda y, n, **kw: None)
    with pytest.raises(ConformanceError, match="unconditional generator's sample"):
        check_conditioning(gan)


def test_kit_catches_networks_that_disagree_with_the_config():
    gan = ganzoo.create("vanilla", data_shape=(2,))
    gan.config = {**gan.config, "data_shape": (3,)}
    with pytest.raises(
        ConformanceError, match=r"check_interface: generator.output_shape is \(2,\)"
    ):
        check_interface(gan)


def test_kit_catches_a_declared_loss_that_refuses_the_model():
    gan = ganzoo.create("dcgan", width=8)
    gan.spec = dataclasses.replace(
        gan.spec, compatible_losses=(*gan.spec.compatible_losses, "wgan-gp")
    )
    with pytest.raises(
        ConformanceError, match=r"check_losses_finite: it declares loss 'wgan-gp'.*BatchNorm"
    ):
        check_losses_finite(gan)


def test_check_model_names_the_model_and_the_failed_check(monkeypatch):
    original = ganzoo_vanilla.MLPDiscriminator.forward

    def forward(self, x, y=None):
        return original(self, x, y).unsqueeze(1)  # (N, 1) instead of (N,)

    monkeypatch.setattr(ganzoo_vanilla.MLPDiscriminator, "forward", forward)
    with pytest.raises(
        ConformanceError,
        match=r"model 'vanilla' \(data_shape=\(2,\)\) failed check_discriminator_output: "
        r"D on a batch of 4 real data must return shape \(4,\), got \(4, 1\)",
    ):
        check_model("vanilla", data_shape=(2,))


def test_check_model_reports_an_exception_inside_a_check(monkeypatch):
    def forward(self, z, y=None):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    monkeypatch.setattr(ganzoo_vanilla.MLPGenerator, "forward", forward)
    with pytest.raises(
        ConformanceError,
        match=r"model 'vanilla' .* failed check_output_shape: it raised RuntimeError: mat1 and mat2",
    ):
        check_model("vanilla", data_shape=(2,))
