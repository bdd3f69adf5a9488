"""The networks of ganzoo_vanilla and their builder, imported only when a model is built (see the package's docstring)."""

from __future__ import annotations

import math

from torch import Tensor, nn

from ganzoo import Discriminator, Generator
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
