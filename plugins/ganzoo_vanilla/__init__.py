"""Vanilla GAN: Goodfellow et al. (2014), "Generative Adversarial Nets", NeurIPS.
arXiv:1406.2661.

Multilayer perceptrons for G and D, trained with the minimax objective
(``minimax``) or its non-saturating variant (``non-saturating``, the default,
section 3 of the paper). One model serves flattened images (``data_shape``
``(C, H, W)``, Tanh output in [-1, 1]) and 2-D points (``data_shape=(2,)``,
raw linear output) such as the ``ring8`` and ``grid25`` toys. Departures from
the paper, for stability with Adam: LeakyReLU(0.2) in D instead of maxout, and for
images BatchNorm after each hidden layer of G (as most MLP-GAN implementations have it).

Code: Apache-2.0, part of ganzoo.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from ganzoo import Discriminator, Generator, ModelSpec, PretrainedEntry, TrainDefaults, hookimpl
from ganzoo.errors import ConfigError


def _mlp(sizes: list[int], act: nn.Module, dropout: float = 0.0, norm: bool = False) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), *([nn.BatchNorm1d(b)] if norm else []), act]
        if dropout:
            layers.append(nn.Dropout(dropout))
    return layers


def _is_image(shape: tuple[int, ...]) -> bool:
    return len(shape) == 3


class MLPGenerator(Generator):
    def __init__(self, data_shape: tuple[int, ...], latent_dim: int, hidden: tuple[int, ...], norm: bool = False):
        super().__init__()
        self.latent_dim = latent_dim
        self.num_classes = None
        self.output_shape = tuple(data_shape)
        out = math.prod(data_shape)
        layers = _mlp([latent_dim, *hidden], nn.ReLU(True), norm=norm) + [nn.Linear(hidden[-1], out)]
        if _is_image(data_shape):
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(z).view(z.shape[0], *self.output_shape)


class MLPDiscriminator(Discriminator):
    def __init__(self, data_shape: tuple[int, ...], hidden: tuple[int, ...], dropout: float):
        super().__init__()
        self.input_shape = tuple(data_shape)
        layers = _mlp([math.prod(data_shape), *hidden], nn.LeakyReLU(0.2, True), dropout)
        self.net = nn.Sequential(*layers, nn.Linear(hidden[-1], 1))

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(x.flatten(1)).flatten()


def build(data_shape=(1, 28, 28), latent_dim=100, num_classes=None, g_hidden=None, d_hidden=None, dropout=None,
          g_norm=None):
    """Build G and D; hidden sizes, dropout and G's normalisation default by data kind (images or points).

    ``g_norm``: ``"batch"`` puts BatchNorm1d after every hidden layer of G (the default for
    images since 2026-12-01: without it, G lost plainly to a plain MLP GAN, bench/RESULTS.md),
    ``"none"`` nothing (the default for points, whose toy recipe was tuned without it).
    ``dropout`` (in D) defaults to 0.3 for images with an unnormalised G (ganzoo 0.1's nets, and
    bundles saved before ``g_norm`` existed), 0 otherwise.
    """
    if num_classes is not None:
        raise ConfigError("vanilla is unconditional; use 'cgan' for class-conditional generation")
    data_shape = tuple(data_shape)
    if len(data_shape) not in (1, 3):
        raise ConfigError(f"vanilla takes points (D,) or images (C, H, W), got data_shape {data_shape}")
    image = _is_image(data_shape)
    g_hidden = tuple(g_hidden or ((256, 512, 1024) if image else (256, 256, 256)))
    d_hidden = tuple(d_hidden or ((1024, 512, 256) if image else (256, 256, 256)))
    g_norm = ("batch" if image else "none") if g_norm is None else g_norm
    if g_norm not in ("none", "batch"):
        raise ConfigError(f"vanilla: g_norm must be 'none' or 'batch', got {g_norm!r}")
    # Dropout in D steadied the unnormalised G on images; with BatchNorm in G it only hurt
    # (5-epoch calibration, bench/RESULTS.md), as in the plain MLP GAN, which has none.
    dropout = (0.3 if image and g_norm == "none" else 0.0) if dropout is None else float(dropout)
    return (MLPGenerator(data_shape, latent_dim, g_hidden, norm=g_norm == "batch"),
            MLPDiscriminator(data_shape, d_hidden, dropout))


# Pretrained generators: bundles shipped in this package (sha256-checked at load), trained on a
# lent GPU with ganzoo's own engine; scripts/train_zoo.sh has the commands, scripts/build_zoo.py
# built and evaluated the bundles (numbers: bench/RESULTS.md).
pretrained = {
    "vanilla-mnist": PretrainedEntry.shipped(
        __file__, "vanilla-mnist", dataset="mnist", hub_repo="ganzoo/vanilla-mnist", sha256="920787a9a35211f94f3556fa070d575ffece245489a0db66b8be7e6ded22984d",
        description="MLP GAN, 100 epochs of MNIST, EMA generator; FID 3.50 (paper recipe, 30 epochs: 7.76)",
    ),
}

# The 2-D toys need another recipe than MNIST: a 2-D latent (as in PacGAN's code), narrower
# MLPs, a larger batch and learning rate, hinge loss. bench/RESULTS.md ("2-D toys") shows how it was
# chosen; over 10 seeds it covers 8/8 ring8 modes with 96.4% high-quality samples (20k steps)
# and 25/25 grid25 modes with 92.3% (10k steps).
_TOY = dict(
    loss="hinge", lr_g=1e-3, lr_d=1e-3, betas=(0.0, 0.9), batch_size=256,
    model_args={"latent_dim": 2, "g_hidden": (128, 128, 128), "d_hidden": (128, 128, 128)},
)
TOY_RECIPES = {
    "ring8": TrainDefaults(**_TOY, steps=20_000),
    "grid25": TrainDefaults(**_TOY, steps=10_000),
    # Any other 2-D point dataset (a plugin's, say) gets the toy recipe too, by its kind.
    "points-2d": TrainDefaults(**_TOY, steps=10_000),
}


@hookimpl
def ganzoo_register_models(register):
    register(
        ModelSpec(
            name="vanilla",
            family="vanilla",
            paper="Goodfellow et al. 2014, arXiv:1406.2661",
            build=build,
            # g_norm None: BatchNorm in G for images, none for points (build() decides by data_shape).
            # dropout None: 0.3 for images with g_norm "none", else 0 (recorded, so saved files say so).
            defaults={"data_shape": (1, 28, 28), "latent_dim": 100, "num_classes": None, "g_norm": None,
                      "dropout": None},
            saved_defaults={"g_norm": "none"},  # bundles saved before `g_norm` existed: no BatchNorm
            train=TrainDefaults(loss="non-saturating", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch_size=64),
            compatible_losses=("non-saturating", "minimax", "hinge", "lsgan", "wgan-gp"),
            datasets=("mnist", "fashion-mnist", "ring8", "grid25"),
            pretrained=pretrained,
            recipes=TOY_RECIPES,
            description="MLP generator and discriminator, for flattened images and 2-D points",
        )
    )
