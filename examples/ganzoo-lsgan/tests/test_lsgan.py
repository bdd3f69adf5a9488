"""The plugin's own tests: ganzoo's conformance kit for each thing it registers, and what is special
about each (the model's settings, the loss's formula and its use of the real batch, the dataset's
recipe). Run with ``python -m pytest -q tests`` from the plugin's folder."""

from __future__ import annotations

import pytest
import torch

import ganzoo
from ganzoo.testing import CHECKS, check_dataset, check_loss, check_model


def test_lsgan_conforms():
    check_model("lsgan")


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_lsgan_conforms_at_32x32(check):
    check(ganzoo.create("lsgan", data_shape=(3, 32, 32), width=8))


def test_lsgan_refuses_labels():
    with pytest.raises(ganzoo.errors.ConfigError, match="unconditional"):
        ganzoo.create("lsgan", num_classes=10)


# The loss


def test_ralsgan_conforms_on_every_model_that_fits():
    # It needs only the real batch, which the engine gives every model: all of them fit.
    assert set(check_loss("ralsgan")) == set(ganzoo.list_models())


def test_ralsgan_trains_a_builtin_model_it_was_not_declared_for():
    assert "ralsgan" not in ganzoo.get_spec("vanilla").compatible_losses
    gan = ganzoo.create("vanilla", data_shape=(2,), loss="ralsgan")
    assert gan.loss_name == "ralsgan"


class ScoreD(ganzoo.Discriminator):
    """D(x) = x[:, 0]: scores that can be checked by hand."""

    input_shape = (2,)

    def forward(self, x, y=None):
        return x[:, 0]


def test_ralsgan_follows_the_paper():
    loss = ganzoo.create_loss("ralsgan")
    real = torch.tensor([[1.0, 0.0], [3.0, 0.0]])  # scores 1, 3: mean 2
    fake = torch.tensor([[0.0, 0.0], [-2.0, 0.0]])  # scores 0, -2: mean -1
    d_loss, _ = loss.discriminator_loss(ScoreD(), real, fake)
    # E_r[(C(r) - mean C(f) - 1)^2] + E_f[(C(f) - mean C(r) + 1)^2]
    expected_d = ((torch.tensor([1.0, 3.0]) + 1 - 1) ** 2).mean() + ((torch.tensor([0.0, -2.0]) - 2 + 1) ** 2).mean()
    assert d_loss.item() == pytest.approx(expected_d.item())
    g_loss, logs = loss.generator_loss(ScoreD(), fake, real=real)
    expected_g = ((torch.tensor([0.0, -2.0]) - 2 - 1) ** 2).mean() + ((torch.tensor([1.0, 3.0]) + 1 + 1) ** 2).mean()
    assert g_loss.item() == pytest.approx(expected_g.item())
    assert logs["loss_g"].item() == pytest.approx(expected_g.item())


def test_ralsgan_generator_loss_needs_the_real_batch():
    with pytest.raises(ValueError, match="real"):
        ganzoo.create_loss("ralsgan").generator_loss(ScoreD(), torch.zeros(2, 2))


def test_training_hands_the_real_batch_to_the_generator_loss(tmp_path, monkeypatch):
    seen = []
    original = ganzoo.GANLoss.generator_loss

    def spy(self, D, fake, y=None, real=None):
        seen.append(None if real is None else real.detach().clone())
        return original(self, D, fake, y, real=real)

    monkeypatch.setattr(ganzoo.GANLoss, "generator_loss", spy)
    run = ganzoo.train("vanilla", dataset="two-moons", loss="ralsgan", steps=3, batch_size=32,
                       out=str(tmp_path / "run"), quiet=True, sample_every=10**9, checkpoint_every=10**9)
    assert run.step == 3 and len(seen) == 3
    data = run.dataset.data
    for real in seen:
        assert real is not None and real.shape == (32, 2)
        assert all(bool((data == row).all(dim=1).any()) for row in real)  # rows of the dataset itself
    assert torch.isfinite(run.sampling_generator.sample(4)).all()


# The dataset


def test_two_moons_conforms():
    ds = check_dataset("two-moons")
    assert ds.shape == (2,) and len(ds) == 20_000


def test_two_moons_gets_the_recipe_for_2d_points():
    cfg = ganzoo.TrainConfig(model="vanilla", dataset="two-moons").resolve()
    toy = ganzoo.get_spec("vanilla").recipe("ring8")
    assert (cfg.batch_size, cfg.loss, cfg.model_args["latent_dim"]) == (toy.batch_size, toy.loss, 2)
    assert cfg.batch_size != ganzoo.get_spec("vanilla").train.batch_size  # not the MNIST recipe


def test_two_moons_refuses_an_unknown_split():
    with pytest.raises(ganzoo.errors.DataError, match="'train' and 'test'"):
        ganzoo.data.load_dataset("two-moons", split="val")
