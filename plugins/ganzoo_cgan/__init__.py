"""Conditional GAN: Mirza & Osindero (2014), "Conditional Generative Adversarial Nets".
arXiv:1411.1784. Discriminator conditioning by projection: Miyato & Koyama (2018),
"cGANs with Projection Discriminator", ICLR. arXiv:1802.05637.

G receives the noise concatenated with a learned label embedding (as in Mirza
& Osindero) and upsamples it with DCGAN's blocks. D scores
``psi(phi(x)) + <embed(y), phi(x)>``: the projection form. We chose projection
over concatenating labels to D's input because it follows from the
probabilistic model of the conditional likelihood ratio and, in Miyato &
Koyama's experiments, gives clearly better class fidelity; it also keeps D's
convolutional body identical to the unconditional one.

Code: Apache-2.0, part of ganzoo.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganzoo import Discriminator, Generator, ModelSpec, TrainDefaults, hookimpl
from ganzoo.errors import ConfigError
from ganzoo.nn import dcgan_init_, downsampling_stack, upsampling_stack


def _require_labels(y: Tensor | None, who: str) -> Tensor:
    if y is None:
        raise ValueError(f"{who} is class-conditional: pass labels y of shape (N,)")
    return y


class ConditionalGenerator(Generator):
    def __init__(self, data_shape, latent_dim: int, num_classes: int, embed_dim: int, width: int):
        super().__init__()
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.output_shape = tuple(data_shape)
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.net = upsampling_stack(latent_dim + embed_dim, data_shape, width)
        dcgan_init_(self)
        nn.init.normal_(self.embed.weight, 0.0, 1.0)  # labels as informative as the N(0, 1) noise

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        y = _require_labels(y, "cgan's generator")
        h = torch.cat([z, self.embed(y).to(z.dtype)], dim=1)
        return self.net(h.view(h.shape[0], h.shape[1], 1, 1))


class ProjectionDiscriminator(Discriminator):
    def __init__(self, data_shape, num_classes: int, width: int):
        super().__init__()
        self.input_shape = tuple(data_shape)
        self.num_classes = num_classes
        self.features, c, size = downsampling_stack(data_shape, width, norm="batch")
        feat = c * size * size
        self.psi = nn.Linear(feat, 1)
        self.embed = nn.Embedding(num_classes, feat)
        dcgan_init_(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        y = _require_labels(y, "cgan's discriminator")
        h = self.features(x).flatten(1)
        return self.psi(h).flatten() + (self.embed(y).to(h.dtype) * h).sum(dim=1)


def build(data_shape=(1, 28, 28), latent_dim=100, num_classes=10, embed_dim=50, width=64):
    if not num_classes or num_classes < 2:
        raise ConfigError(f"cgan needs num_classes >= 2, got {num_classes}")
    return (
        ConditionalGenerator(data_shape, latent_dim, num_classes, embed_dim, width),
        ProjectionDiscriminator(data_shape, num_classes, width),
    )


pretrained: dict = {}


@hookimpl
def ganzoo_register_models(register):
    register(
        ModelSpec(
            name="cgan",
            family="cgan",
            paper="Mirza & Osindero 2014, arXiv:1411.1784; projection D: Miyato & Koyama 2018, arXiv:1802.05637",
            build=build,
            defaults={"data_shape": (1, 28, 28), "latent_dim": 100, "num_classes": 10, "embed_dim": 50, "width": 64},
            train=TrainDefaults(loss="non-saturating", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch_size=128),
            compatible_losses=("non-saturating", "minimax", "hinge", "lsgan"),
            datasets=("mnist", "fashion-mnist", "cifar10"),
            pretrained=pretrained,
            description="Class-conditional GAN: label-embedding G, projection D",
        )
    )
