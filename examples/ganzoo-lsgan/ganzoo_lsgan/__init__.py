"""LSGAN: Mao, Li, Xie, Lau, Wang & Smolley (2017), "Least Squares Generative Adversarial
Networks", ICCV. arXiv:1611.04076.

The discriminator's sigmoid cross-entropy is replaced by a least-squares loss,
which penalises samples that sit on the right side of the decision boundary
but far from the data, so G keeps getting gradients. ganzoo's built-in
``lsgan`` loss uses the paper's 0-1 binary coding (a=0, b=1, c=1). The
networks follow the paper's design scaled to 28x28 and 32x32: G projects z
with a fully connected layer, then upsamples with 3x3 stride-2 transposed
convolutions, BatchNorm and ReLU, ending in Tanh; D uses 5x5 stride-2
convolutions with LeakyReLU(0.2), BatchNorm after the first layer, and a
linear layer to one raw score (no sigmoid: the loss is least squares). Adam,
lr 2e-4, beta1 0.5, as in the paper.

This package is an example of a third-party ganzoo plugin: its own
distribution (``ganzoo-lsgan``), found through the ``ganzoo`` entry point.
Besides the model it registers a loss that any model can train with,
``ralsgan`` (relativistic average least squares, Jolicoeur-Martineau 2018,
arXiv:1807.00734: its generator loss needs the real batch), and a 2-D dataset,
``two-moons``, that built-in models train on with their recipe for 2-D points.

``lsgan-ac`` is the class-conditional variant in the style of AC-GAN (Odena, Olah &
Shlens 2017, arXiv:1610.09585): G takes labels, D takes none but has two heads, the
least-squares score and class logits (an extra output, ``Discriminator.extras``), and
its loss ``aux-lsgan`` adds a cross-entropy on the class head, with the fakes' labels
drawn uniformly (``GANLoss.fake_labels = "uniform"``).

Code: Apache-2.0.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo import Discriminator, GANLoss, Generator, ModelSpec, TrainDefaults, hookimpl
from ganzoo.data import DatasetSpec, TensorDataset
from ganzoo.errors import ConfigError, DataError, IncompatibleLossError
from ganzoo.interfaces import LABELS, scores_and_extras
from ganzoo.nn import dcgan_init_, dcgan_plan

# Building blocks


def up_block(c_in: int, c_out: int) -> list[nn.Module]:
    """Double the spatial size: 3x3 transposed convolution, stride 2, BatchNorm, ReLU."""
    return [
        nn.ConvTranspose2d(c_in, c_out, 3, 2, padding=1, output_padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(True),
    ]


def down_block(c_in: int, c_out: int, norm: bool) -> list[nn.Module]:
    """Halve the spatial size: 5x5 convolution, stride 2, optional BatchNorm, LeakyReLU(0.2)."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 5, 2, padding=2, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    return layers + [nn.LeakyReLU(0.2, True)]


# The model


class LSGANGenerator(Generator):
    """z -> fully connected -> (start x start) map -> stride-2 upsampling -> Tanh image."""

    def __init__(self, data_shape: tuple[int, int, int], latent_dim: int = 100, width: int = 64):
        super().__init__()
        channels, start, doublings = dcgan_plan(data_shape)
        self.latent_dim = latent_dim
        self.num_classes = None
        self.output_shape = tuple(data_shape)
        c = width * 2 ** (doublings - 1)
        self.start_shape = (c, start, start)
        self.project = nn.Linear(latent_dim, c * start * start, bias=False)
        # BatchNorm2d after the reshape (not BatchNorm1d before it): works for a batch of one too.
        layers: list[nn.Module] = [nn.BatchNorm2d(c), nn.ReLU(True)]
        for _ in range(doublings):
            layers += up_block(c, c // 2)
            c //= 2
        layers += [nn.Conv2d(c, channels, 3, 1, padding=1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(self.project(z).view(z.shape[0], *self.start_shape))


class LSGANDiscriminator(Discriminator):
    """Image -> stride-2 convolutions -> linear -> one raw least-squares score per sample."""

    def __init__(self, data_shape: tuple[int, int, int], width: int = 64):
        super().__init__()
        channels, start, doublings = dcgan_plan(data_shape)
        self.input_shape = tuple(data_shape)
        layers = down_block(channels, width, norm=False)
        c = width
        for _ in range(doublings - 1):
            layers += down_block(c, c * 2, norm=True)
            c *= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c * start * start, 1)
        dcgan_init_(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.head(self.features(x).flatten(1)).flatten()


def build(data_shape=(1, 28, 28), latent_dim=100, num_classes=None, width=64):
    if num_classes is not None:
        raise ConfigError("lsgan is unconditional; use 'cgan' for class-conditional generation")
    return LSGANGenerator(data_shape, latent_dim, width), LSGANDiscriminator(data_shape, width)


# The AC-GAN-style variant: a conditional G, a two-headed D


class ACGenerator(LSGANGenerator):
    """LSGAN's generator, conditioned by scaling z with a learned embedding of the label."""

    def __init__(self, data_shape, latent_dim: int = 100, num_classes: int = 10, width: int = 64):
        super().__init__(data_shape, latent_dim, width)
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, latent_dim)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if y is None:
            raise ValueError("ACGenerator is class-conditional: pass labels y")
        return super().forward(z * self.embed(y))


class ACDiscriminator(LSGANDiscriminator):
    """LSGAN's discriminator with a second head: class logits, an extra output.

    It takes no labels (``takes_labels = False``) but predicts them (``num_classes``).
    """

    takes_labels = False
    extras = ("class_logits",)

    def __init__(self, data_shape, num_classes: int = 10, width: int = 64):
        super().__init__(data_shape, width)
        self.num_classes = num_classes
        self.classifier = nn.Linear(self.head.in_features, num_classes)

    def forward(self, x: Tensor, y: Tensor | None = None, return_extras: bool = False):
        h = self.features(x).flatten(1)
        scores = self.head(h).flatten()
        if not return_extras:
            return scores
        return scores, {"class_logits": self.classifier(h)}

    def classify(self, x: Tensor) -> Tensor:
        """The predicted class of each sample (a method of the plugin's own, not a training path)."""
        return self.classifier(self.features(x).flatten(1)).argmax(1)


def build_ac(data_shape=(1, 28, 28), latent_dim=100, num_classes=10, width=64):
    if num_classes is None:
        raise ConfigError("lsgan-ac is class-conditional; give num_classes (or use 'lsgan')")
    return ACGenerator(data_shape, latent_dim, num_classes, width), ACDiscriminator(data_shape, num_classes, width)


class AuxLSGANLoss(GANLoss):
    """Least squares on D's score plus ``aux_weight`` times the cross-entropy of its class head.

    D learns the classes of the real batch and of the fakes (labels of their own, uniform
    over the classes); G is rewarded for fakes D classifies as the label they were made for.
    """

    output = "score"
    needs = (LABELS,)
    fake_labels = "uniform"

    def __init__(self, aux_weight: float = 1.0):
        if aux_weight < 0:
            raise ValueError(f"aux_weight must be >= 0, got {aux_weight}")
        self.aux_weight = float(aux_weight)

    def check_compatible(self, gan) -> None:
        if "class_logits" not in getattr(gan.discriminator, "extras", ()):
            raise IncompatibleLossError(
                f"loss 'aux-lsgan' needs a discriminator with a class head (extras 'class_logits'); "
                f"{gan.spec.name!r} has none: use 'lsgan-ac' or another loss")

    def discriminator_loss(self, D, real, fake, y=None, fake_y=None):
        fake_y = y if fake_y is None else fake_y
        real_out, real_x = scores_and_extras(D, real)
        fake_out, fake_x = scores_and_extras(D, fake)
        adv = 0.5 * ((real_out.float() - 1) ** 2).mean() + 0.5 * (fake_out.float() ** 2).mean()
        aux = F.cross_entropy(real_x["class_logits"].float(), y) + F.cross_entropy(fake_x["class_logits"].float(), fake_y)
        loss = adv + self.aux_weight * aux
        return loss, {"loss_d": loss.detach(), "aux_d": aux.detach(),
                      **self._report("D(x)", real_out), **self._report("D(G(z))", fake_out)}

    def generator_loss(self, D, fake, y=None, real=None):
        out, extras = scores_and_extras(D, fake)
        aux = F.cross_entropy(extras["class_logits"].float(), y)
        loss = 0.5 * ((out.float() - 1) ** 2).mean() + self.aux_weight * aux
        return loss, {"loss_g": loss.detach(), "aux_g": aux.detach()}


# Pretrained generators, by id (none published yet)

pretrained: dict = {}


# Registration


@hookimpl
def ganzoo_register_models(register):
    register(
        ModelSpec(
            name="lsgan",
            family="lsgan",
            paper="Mao et al. 2017, arXiv:1611.04076",
            build=build,
            defaults={
                "data_shape": (1, 28, 28),
                "latent_dim": 100,
                "num_classes": None,
                "width": 64,
            },
            train=TrainDefaults(
                loss="lsgan", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch_size=64
            ),
            # D uses BatchNorm, so no gradient penalty ('wgan-gp').
            compatible_losses=("lsgan", "non-saturating", "minimax", "hinge"),
            datasets=("mnist", "fashion-mnist", "cifar10", "folder"),
            pretrained=pretrained,
            description="Least squares GAN: FC + stride-2 transposed-conv G, 5x5 conv D with a linear score",
        )
    )
    register(
        ModelSpec(
            name="lsgan-ac",
            family="lsgan",
            paper="Mao et al. 2017, arXiv:1611.04076; Odena et al. 2017, arXiv:1610.09585",
            build=build_ac,
            defaults={"data_shape": (1, 28, 28), "latent_dim": 100, "num_classes": 10, "width": 64},
            train=TrainDefaults(loss="aux-lsgan", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch_size=64),
            compatible_losses=("aux-lsgan",),
            datasets=("mnist", "fashion-mnist", "cifar10"),
            description="LSGAN with an AC-GAN class head: conditional G, D with a score and class logits",
        )
    )


# A loss for every model: relativistic average least squares


class RaLSGANLoss(GANLoss):
    """Relativistic average LSGAN (Jolicoeur-Martineau 2018, arXiv:1807.00734, eq. 14-15).

    D asks whether a real sample scores higher than the average fake (and a fake lower
    than the average real); G's loss is the same game with the targets swapped, so it
    needs D's scores of the real batch.
    """

    output = "score"
    needs = ("real-batch",)  # the generator step gets the real batch, so g_loss sees real_out

    def d_loss_from_outputs(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return ((real_out - fake_out.mean() - 1) ** 2).mean() + ((fake_out - real_out.mean() + 1) ** 2).mean()

    def g_loss_from_outputs(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        return ((fake_out - real_out.mean() - 1) ** 2).mean() + ((real_out - fake_out.mean() + 1) ** 2).mean()


@hookimpl
def ganzoo_register_losses(register):
    register("ralsgan", RaLSGANLoss)
    register("aux-lsgan", AuxLSGANLoss)


# A dataset: two interleaving half circles in 2-D


def load_two_moons(root, split="train", download=False, image_shape=None) -> TensorDataset:
    """20,000 noisy points on two interleaving half circles, the same for every call of a split."""
    seeds = {"train": 0, "test": 1}
    if split not in seeds:
        raise DataError(f"two-moons has splits 'train' and 'test', not {split!r}")
    g = torch.Generator().manual_seed(seeds[split])
    n = 20_000
    angle = torch.rand(n, generator=g) * math.pi
    upper = torch.rand(n, generator=g) < 0.5
    x = torch.where(upper, angle.cos(), 1 - angle.cos())
    y = torch.where(upper, angle.sin(), 0.5 - angle.sin())
    points = torch.stack([x, y], dim=1) + 0.05 * torch.randn(n, 2, generator=g)
    return TensorDataset(name="two-moons", data=points, kind="points")


@hookimpl
def ganzoo_register_datasets(register):
    register(DatasetSpec(
        name="two-moons",
        description="2-D toy: two interleaving half circles, noise std 0.05",
        shape=(2,),
        num_classes=None,
        load=load_two_moons,
        kind="points-2d",  # models' recipes for 2-D points apply (e.g. vanilla's toy recipe)
    ))
