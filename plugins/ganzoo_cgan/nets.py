"""The networks of ganzoo_cgan and their builder, imported only when a model is built (see the package's docstring)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ganzoo import Discriminator, Generator
from ganzoo.errors import ConfigError
from ganzoo.nn import dcgan_init_, downsampling_stack, upsampling_stack


def _require_labels(y: Tensor | None, who: str) -> Tensor:
    if y is None:
        raise ValueError(f"{who} is class-conditional: pass labels y of shape (N,)")
    return y


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose scale and shift are looked up per class (de Vries et al. 2017)."""

    def __init__(self, num_features: int, num_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, affine=False)
        self.gamma = nn.Embedding(num_classes, num_features)
        self.beta = nn.Embedding(num_classes, num_features)

    def reset_parameters(self) -> None:  # DCGAN's BatchNorm initialisation, per class
        nn.init.normal_(self.gamma.weight, 1.0, 0.02)
        nn.init.normal_(self.beta.weight, 0.0, 0.02)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = self.bn(x)
        return h * self.gamma(y).to(h.dtype)[:, :, None, None] + self.beta(y).to(h.dtype)[:, :, None, None]


class ConditionalGenerator(Generator):
    """DCGAN's generator, told the class in one of two ways.

    ``conditioning="concat"`` is Mirza & Osindero's: a label embedding
    concatenated to the noise. ``"cbn"`` (the default) puts the class into
    every BatchNorm's scale and shift instead (class-conditional BatchNorm, as
    in Miyato & Koyama's projection cGAN). With concatenation, our 30-epoch
    MNIST run learned to ignore the noise: every sample of a class came out
    nearly the same. With conditional BatchNorm the noise is G's only input.
    """

    def __init__(self, data_shape, latent_dim: int, num_classes: int, embed_dim: int, width: int,
                 conditioning: str = "cbn"):
        super().__init__()
        if conditioning not in ("cbn", "concat"):
            raise ConfigError(f"conditioning must be 'cbn' or 'concat', got {conditioning!r}")
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.output_shape = tuple(data_shape)
        self.conditioning = conditioning
        in_dim = latent_dim + (embed_dim if conditioning == "concat" else 0)
        self.embed = nn.Embedding(num_classes, embed_dim) if conditioning == "concat" else None
        layers = list(upsampling_stack(in_dim, data_shape, width))
        if conditioning == "cbn":
            layers = [ConditionalBatchNorm2d(m.num_features, num_classes) if isinstance(m, nn.BatchNorm2d) else m
                      for m in layers]
        self.net = nn.ModuleList(layers)
        dcgan_init_(self)
        for m in self.modules():
            if isinstance(m, ConditionalBatchNorm2d):
                m.reset_parameters()
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, 0.0, 1.0)  # labels as informative as the N(0, 1) noise

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        y = _require_labels(y, "cgan's generator")
        h = z if self.embed is None else torch.cat([z, self.embed(y).to(z.dtype)], dim=1)
        h = h.view(h.shape[0], h.shape[1], 1, 1)
        for m in self.net:
            h = m(h, y) if isinstance(m, ConditionalBatchNorm2d) else m(h)
        return h


class ProjectionDiscriminator(Discriminator):
    def __init__(self, data_shape, num_classes: int, width: int):
        super().__init__()
        self.input_shape = tuple(data_shape)
        self.num_classes = num_classes
        self.features, c, size = downsampling_stack(data_shape, width, norm=None)
        feat = c * size * size
        self.psi = nn.Linear(feat, 1)
        self.embed = nn.Embedding(num_classes, feat)
        dcgan_init_(self)
        for m in self.modules():  # spectral norm on every weight, after the initialisation
            if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
                spectral_norm(m)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        y = _require_labels(y, "cgan's discriminator")
        h = self.features(x).flatten(1)
        return self.psi(h).flatten() + (self.embed(y).to(h.dtype) * h).sum(dim=1)


def build(data_shape=(1, 28, 28), latent_dim=100, num_classes=10, embed_dim=50, width=64, conditioning="cbn"):
    if not num_classes or num_classes < 2:
        raise ConfigError(f"cgan needs num_classes >= 2, got {num_classes}")
    return (
        ConditionalGenerator(data_shape, latent_dim, num_classes, embed_dim, width, conditioning),
        ProjectionDiscriminator(data_shape, num_classes, width),
    )
