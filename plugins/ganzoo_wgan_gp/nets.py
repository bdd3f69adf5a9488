"""The networks of ganzoo_wgan_gp and their builder, imported only when a model is built (see the package's docstring)."""

from __future__ import annotations

from ganzoo_dcgan.nets import DCGANDiscriminator, DCGANGenerator
from torch import Tensor, nn

from ganzoo import Discriminator, Generator
from ganzoo.errors import ConfigError
from ganzoo.nn import dcgan_init_, map_sizes

ARCHS = ("paper", "dcgan")


class Crop(nn.Module):
    """Keep the top-left ``size x size`` of a feature map (the paper's code crops 8x8 to 7x7)."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x: Tensor) -> Tensor:
        return x[:, :, : self.size, : self.size]


class WGANGPGenerator(Generator):
    """z -> linear -> (4 * width) x 4 x 4 -> 5x5 stride-2 transposed convolutions -> Tanh."""

    def __init__(self, data_shape: tuple[int, int, int], latent_dim: int = 128, width: int = 64):
        super().__init__()
        self.latent_dim = latent_dim
        self.num_classes = None
        self.output_shape = tuple(data_shape)
        sizes = map_sizes(data_shape, "4x4")[::-1]  # 28x28: 4, 7, 14, 28
        c = width * 2 ** (len(sizes) - 2)
        self.project = nn.Sequential(nn.Linear(latent_dim, c * sizes[0] ** 2), nn.ReLU(True))
        self.start = (c, sizes[0], sizes[0])
        layers: list[nn.Module] = []
        for i, (small, big) in enumerate(zip(sizes[:-1], sizes[1:])):
            last = i == len(sizes) - 2
            layers.append(nn.ConvTranspose2d(c, data_shape[0] if last else c // 2, 5, 2, 2, output_padding=1))
            if big < 2 * small:
                layers.append(Crop(big))
            layers.append(nn.Tanh() if last else nn.ReLU(True))
            c //= 2
        self.net = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(self.project(z).view(z.shape[0], *self.start))


class WGANGPCritic(Discriminator):
    """5x5 stride-2 convolutions (width, 2 * width, 4 * width) with LeakyReLU, then linear."""

    def __init__(self, data_shape: tuple[int, int, int], width: int = 64, norm: str | None = None):
        super().__init__()
        self.input_shape = tuple(data_shape)
        sizes = map_sizes(data_shape, "4x4")  # 28x28: 28, 14, 7, 4
        layers: list[nn.Module] = []
        c_in, c = data_shape[0], width
        for i in range(len(sizes) - 1):
            layers.append(nn.Conv2d(c_in, c, 5, 2, 2))
            if norm == "layer" and i > 0:
                layers.append(nn.GroupNorm(1, c))  # LayerNorm over (C, H, W), per sample
            layers.append(nn.LeakyReLU(0.2, True))
            c_in, c = c, c * 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in * sizes[-1] ** 2, 1)
        dcgan_init_(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.head(self.features(x).flatten(1)).flatten()


def build(data_shape=(1, 28, 28), latent_dim=128, num_classes=None, width=64, critic_norm=None, arch="paper"):
    """``critic_norm``: None (the paper's default) or ``"layer"``, never BatchNorm; ``arch``: see :data:`ARCHS`."""
    if num_classes is not None:
        raise ConfigError("wgan-gp is unconditional; use 'cgan' for class-conditional generation")
    if critic_norm not in (None, "layer"):
        raise ConfigError(f"wgan-gp's critic_norm must be None or 'layer', got {critic_norm!r} (BatchNorm "
                          "would couple the samples the gradient penalty treats one by one)")
    if arch == "dcgan":
        return (DCGANGenerator(data_shape, latent_dim, width, plan="legacy"),
                DCGANDiscriminator(data_shape, width, norm=critic_norm, plan="legacy"))
    if arch != "paper":
        raise ConfigError(f"arch must be one of {', '.join(map(repr, ARCHS))}, got {arch!r}")
    return WGANGPGenerator(data_shape, latent_dim, width), WGANGPCritic(data_shape, width, critic_norm)
