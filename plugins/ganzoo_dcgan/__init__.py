"""DCGAN: Radford, Metz & Chintala (2016), "Unsupervised Representation Learning with
Deep Convolutional Generative Adversarial Networks", ICLR. arXiv:1511.06434.

The architecture rules of section 3: strided convolutions instead of pooling,
BatchNorm in both networks (not on G's output or D's input), ReLU in G with a
Tanh output, LeakyReLU(0.2) in D, weights from N(0, 0.02), Adam with lr 2e-4
and beta1 0.5. Sized for 28x28 single-channel MNIST (7x7 start, two
upsamplings) and for 32x32 and 64x64 RGB.

Code: Apache-2.0, part of ganzoo.
"""

from __future__ import annotations

from dataclasses import replace

from torch import Tensor, nn

from ganzoo import Discriminator, Generator, ModelSpec, PretrainedEntry, TrainDefaults, hookimpl
from ganzoo.errors import ConfigError
from ganzoo.nn import dcgan_init_, downsampling_stack, upsampling_stack


class DCGANGenerator(Generator):
    def __init__(self, data_shape: tuple[int, int, int], latent_dim: int = 100, width: int = 64):
        super().__init__()
        self.latent_dim = latent_dim
        self.num_classes = None
        self.output_shape = tuple(data_shape)
        self.net = upsampling_stack(latent_dim, data_shape, width)
        dcgan_init_(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(z.view(z.shape[0], self.latent_dim, 1, 1))


class DCGANDiscriminator(Discriminator):
    def __init__(self, data_shape: tuple[int, int, int], width: int = 64, norm: str | None = "batch"):
        super().__init__()
        self.input_shape = tuple(data_shape)
        self.features, c, size = downsampling_stack(data_shape, width, norm)
        # The last convolution covers the whole remaining map (7x7 for MNIST, 4x4 for 32/64).
        self.head = nn.Conv2d(c, 1, size, 1, 0, bias=False)
        dcgan_init_(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.head(self.features(x)).flatten()


def build(data_shape=(1, 28, 28), latent_dim=100, num_classes=None, width=64):
    if num_classes is not None:
        raise ConfigError("dcgan is unconditional; use 'cgan' for class-conditional generation")
    return (
        DCGANGenerator(data_shape, latent_dim, width),
        DCGANDiscriminator(data_shape, width, norm="batch"),
    )


# Pretrained generators: bundles shipped in this package (sha256-checked at load), trained on a
# lent GPU with ganzoo's own engine; scripts/train_zoo.sh has the commands, scripts/build_zoo.py
# built and evaluated the bundles (numbers: bench/RESULTS.md).
pretrained = {
    "dcgan-mnist": PretrainedEntry.shipped(
        __file__, "dcgan-mnist", dataset="mnist", hub_repo="ganzoo/dcgan-mnist", sha256="422e5b298aa5adcd8b77dc7767b9f6e22d368aae3395c4ffec27ff8a4f288535",
        description="DCGAN, 276 epochs of MNIST, EMA generator; FID 2.54 (paper recipe, 30 epochs: 8.09)",
    ),
}


# The paper trained on LSUN, ImageNet and faces with batch 128. On the 28x28 MNIST family the
# same recipe at batch 64 (pytorch/examples' choice) takes twice the steps per epoch, which is
# what a short run needs: one CPU epoch gave FID 31 at batch 64 against 120 at batch 128
# (bench/RESULTS.md, "One epoch on the CPU"). Everything else is the paper's.
PAPER_RECIPE = TrainDefaults(loss="non-saturating", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch_size=128)
_MNIST_RECIPE = replace(PAPER_RECIPE, batch_size=64)


@hookimpl
def ganzoo_register_models(register):
    register(
        ModelSpec(
            name="dcgan",
            family="dcgan",
            paper="Radford, Metz & Chintala 2016, arXiv:1511.06434",
            build=build,
            defaults={"data_shape": (1, 28, 28), "latent_dim": 100, "num_classes": None, "width": 64},
            train=PAPER_RECIPE,
            recipes={"mnist": _MNIST_RECIPE, "fashion-mnist": _MNIST_RECIPE},
            compatible_losses=("non-saturating", "minimax", "hinge", "lsgan"),
            datasets=("mnist", "fashion-mnist", "cifar10", "folder"),
            pretrained=pretrained,
            description="Deep convolutional GAN: strided convs, BatchNorm, ReLU/LeakyReLU, Tanh",
        )
    )
