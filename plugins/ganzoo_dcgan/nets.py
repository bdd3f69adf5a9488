"""The networks of ganzoo_dcgan and their builder, imported only when a model is built (see the package's docstring)."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from ganzoo import Discriminator, Generator
from ganzoo.errors import ConfigError
from ganzoo.nn import PLANS as NN_PLANS
from ganzoo.nn import dcgan_init_, downsampling_stack, upsampling_stack


def _pad_to(data_shape: tuple[int, int, int], plan: str) -> tuple[tuple[int, int, int], int]:
    """The shape the convolutions see and the border added on each side (``plan="pad"`` only)."""
    if plan != "pad" or len(data_shape) != 3:
        return tuple(data_shape), 0  # not an image: the conv stack says so in its own words
    c, h, w = data_shape
    if h != w:
        raise ConfigError(f"dcgan makes square images; data_shape {tuple(data_shape)} is {h}x{w}: use "
                          f"--model-arg data_shape=[{c},{min(h, w)},{min(h, w)}] (a folder's images are resized and "
                          "centre-cropped to it)")
    size = 1 << (h - 1).bit_length()  # the next power of two: 28 -> 32
    if (size - h) % 2:
        raise ConfigError(f"dcgan pads images to a power of two with the same border on each side, so their size must "
                          f"be even; data_shape {tuple(data_shape)} is {h}x{w}: use --model-arg "
                          f"data_shape=[{c},{h + 1},{h + 1}] or [{c},{h - 1},{h - 1}]")
    return (c, size, size), (size - h) // 2


class DCGANGenerator(Generator):
    """z -> ConvTranspose to the smallest map -> upsamplings -> Tanh image (cropped under ``plan="pad"``)."""

    def __init__(self, data_shape: tuple[int, int, int], latent_dim: int = 100, width: int = 64,
                 plan: str = "legacy"):
        super().__init__()
        self.latent_dim = latent_dim
        self.num_classes = None
        self.output_shape = tuple(data_shape)
        inner, self.border = _pad_to(data_shape, plan)
        self.net = upsampling_stack(latent_dim, inner, width, "4x4" if plan == "pad" else plan)
        dcgan_init_(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        x = self.net(z.view(z.shape[0], self.latent_dim, 1, 1))
        b = self.border
        return x[:, :, b : x.shape[2] - b, b : x.shape[3] - b] if b else x


class DCGANDiscriminator(Discriminator):
    """Strided convolutions down to the smallest map, then one convolution over all of it."""

    def __init__(self, data_shape: tuple[int, int, int], width: int = 64, norm: str | None = "batch",
                 plan: str = "legacy"):
        super().__init__()
        self.input_shape = tuple(data_shape)
        inner, self.border = _pad_to(data_shape, plan)
        self.features, c, size = downsampling_stack(inner, width, norm, "4x4" if plan == "pad" else plan)
        # The last convolution covers the whole remaining map (4x4; 7x7 for MNIST's legacy plan).
        self.head = nn.Conv2d(c, 1, size, 1, 0, bias=False)
        dcgan_init_(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        if self.border:  # the padding is background, -1 in the model's range
            x = F.pad(x, (self.border,) * 4, value=-1.0)
        return self.head(self.features(x)).flatten()


def build(data_shape=(1, 28, 28), latent_dim=100, num_classes=None, width=64, plan="legacy"):
    """``plan``: ``"pad"`` (the default for new models), ``"4x4"`` or ``"legacy"``; see :data:`PLANS`."""
    if num_classes is not None:
        raise ConfigError("dcgan is unconditional; use 'cgan' for class-conditional generation")
    _check_plan(plan)
    return (
        DCGANGenerator(data_shape, latent_dim, width, plan),
        DCGANDiscriminator(data_shape, width, norm="batch", plan=plan),
    )


#: ``plan`` values: how the convolutions shrink the image (ganzoo.nn.PLANS), or ``"pad"``: pad
#: 28x28 images with background to 32x32 inside D, make 32x32 in G and crop its border off.
PLANS = (*NN_PLANS, "pad")


def _check_plan(plan: object) -> None:
    if plan not in PLANS:
        raise ConfigError(f"plan must be one of {', '.join(map(repr, PLANS))}, got {plan!r}")
