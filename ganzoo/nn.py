"""Building blocks shared by the built-in families and available to plugins.

The DCGAN-style conv stacks the built-in ``dcgan``, ``wgan-gp`` and ``cgan`` models are made of,
public for plugins: :func:`upsampling_stack` (a generator body), :func:`downsampling_stack` (a
discriminator body), the size arithmetic behind them (:func:`dcgan_plan`, :func:`map_sizes`,
:data:`PLANS`) and :func:`dcgan_init_`. Square images of an even size >= 8 only.

Example:
    >>> import torch
    >>> from ganzoo.nn import downsampling_stack, upsampling_stack
    >>> G = upsampling_stack(100, (1, 28, 28), width=8, plan="4x4")
    >>> G(torch.randn(2, 100, 1, 1)).shape
    torch.Size([2, 1, 28, 28])
    >>> D, channels, size = downsampling_stack((1, 28, 28), width=8, plan="4x4")
    >>> D(torch.randn(2, 1, 28, 28)).shape == (2, channels, size, size)
    True
"""

from __future__ import annotations

from torch import nn

from ganzoo.errors import ConfigError


def dcgan_plan(data_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Return ``(channels, start_size, doublings)`` for a square image shape.

    The spatial size is halved while it stays even and above 7, so 28x28 MNIST
    starts from 7x7 (2 doublings), 32x32 from 4x4 (3) and 64x64 from 4x4 (4):
    the generator's output always matches the data, with no 32-vs-28 mismatch.

    Raises:
        ConfigError: the shape is not ``(C, H, W)`` with ``H == W``, even and at least 8.

    Example:
        >>> dcgan_plan((1, 28, 28)), dcgan_plan((3, 32, 32)), dcgan_plan((3, 64, 64))
        ((1, 7, 2), (3, 4, 3), (3, 4, 4))
    """
    if len(data_shape) != 3:
        raise ConfigError(
            f"convolutional models need data_shape (channels, height, width), got {tuple(data_shape)}"
        )
    c, h, w = data_shape
    if h != w:
        raise ConfigError(f"convolutional models need square images, got {h}x{w}; resize or crop first")
    if h < 8 or h % 2:
        raise ConfigError(f"image size must be even and at least 8, got {h}")
    size, doublings = h, 0
    while size % 2 == 0 and size > 7:
        size //= 2
        doublings += 1
    return c, size, doublings


PLANS = ("legacy", "4x4")
"""How a conv stack shrinks an image to its smallest feature map (the ``plan`` argument).

``"legacy"``: halve while the size is even and above 7 (ganzoo 0.1: a 28x28 image stops at
7x7 after two convolutions). ``"4x4"``: halve, rounding up, down to 4x4 (28 -> 14 -> 7 -> 4,
three convolutions, like the 32x32 DCGAN). The two agree for 32x32 and 64x64 images.

Example:
    >>> [map_sizes((1, 28, 28), plan) for plan in PLANS]
    [[28, 14, 7], [28, 14, 7, 4]]
"""


def map_sizes(data_shape: tuple[int, ...], plan: str = "legacy") -> list[int]:
    """Spatial sizes of a conv stack's feature maps, from the image down to the smallest.

    ``plan`` is one of :data:`PLANS`; one stride-2 convolution goes from each size to the next.

    Example:
        >>> map_sizes((1, 28, 28)), map_sizes((1, 28, 28), "4x4"), map_sizes((3, 32, 32), "4x4")
        ([28, 14, 7], [28, 14, 7, 4], [32, 16, 8, 4])
    """
    _, start, doublings = dcgan_plan(data_shape)
    if plan == "legacy":
        return [start * 2**i for i in range(doublings, -1, -1)]
    if plan != "4x4":
        raise ConfigError(f"plan must be one of {', '.join(map(repr, PLANS))}, got {plan!r}")
    sizes = [data_shape[1]]
    while sizes[-1] > 4:
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


def _resampling(big: int, small: int) -> tuple[int, int, int]:
    """(kernel, stride, padding) of a stride-2 conv from ``big`` to ``small`` (and its transpose back).

    4x4 kernels halve an even size; an odd one (7 -> 4) takes a 3x3 kernel, whose transpose
    maps 4 back to exactly 7.
    """
    return (4, 2, 1) if big == 2 * small else (3, 2, 1)


def upsampling_stack(in_dim: int, data_shape: tuple[int, ...], width: int, plan: str = "legacy") -> nn.Sequential:
    """DCGAN generator body: project ``in_dim`` to the smallest map, then upsample.

    Fractionally strided convolutions, BatchNorm and ReLU everywhere but the
    output, which is a Tanh (Radford et al. 2015, section 3). Input is
    ``(N, in_dim, 1, 1)``. The first map has ``width * 2**(upsamplings - 1)``
    channels, halved at each upsampling; ``plan`` is one of :data:`PLANS`. Wrap it in a
    :class:`ganzoo.Generator` whose ``forward`` reshapes ``z`` to ``(N, latent_dim, 1, 1)``.

    Example:
        >>> import torch
        >>> body = upsampling_stack(64, (3, 32, 32), width=16)
        >>> body(torch.randn(2, 64, 1, 1)).shape  # 1 -> 4 -> 8 -> 16 -> 32, Tanh at the end
        torch.Size([2, 3, 32, 32])
    """
    sizes = map_sizes(data_shape, plan)[::-1]
    c = width * 2 ** (len(sizes) - 2)
    layers: list[nn.Module] = [
        nn.ConvTranspose2d(in_dim, c, sizes[0], 1, 0, bias=False),
        nn.BatchNorm2d(c),
        nn.ReLU(True),
    ]
    for small, big in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.ConvTranspose2d(c, c // 2, *_resampling(big, small), bias=False),
                   nn.BatchNorm2d(c // 2), nn.ReLU(True)]
        c //= 2
    layers += [nn.ConvTranspose2d(c, data_shape[0], *_resampling(sizes[-1], sizes[-2]), bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def downsampling_stack(data_shape: tuple[int, ...], width: int, norm: str | None = "batch",
                       plan: str = "legacy") -> tuple[nn.Sequential, int, int]:
    """DCGAN discriminator body: strided convolutions with LeakyReLU(0.2).

    No normalisation on the first layer (Radford et al. 2015); ``norm`` is
    ``"batch"``, ``"layer"`` (per-sample, safe for gradient penalties) or
    ``None`` for the others. Channels start at ``width`` and double at each
    convolution; ``plan`` is one of :data:`PLANS`. Returns ``(body, channels, size)``
    of the final feature map: a head on ``channels * size * size`` features (a linear layer
    to one raw score, and for an AC-GAN a second one to class logits) completes the
    discriminator.

    Example:
        >>> import torch
        >>> body, channels, size = downsampling_stack((1, 28, 28), width=16, norm="layer")
        >>> channels, size  # 28 -> 14 -> 7: two convolutions, 16 then 32 channels
        (32, 7)
        >>> head = torch.nn.Linear(channels * size * size, 1)
        >>> head(body(torch.randn(2, 1, 28, 28)).flatten(1)).flatten().shape
        torch.Size([2])
    """
    if norm not in ("batch", "layer", None):
        raise ConfigError(f"norm must be 'batch', 'layer' or None, got {norm!r}")
    sizes = map_sizes(data_shape, plan)
    c = width
    layers: list[nn.Module] = [nn.Conv2d(data_shape[0], c, *_resampling(sizes[0], sizes[1]), bias=False),
                               nn.LeakyReLU(0.2, True)]
    for big, small in zip(sizes[1:-1], sizes[2:]):
        layers.append(nn.Conv2d(c, c * 2, *_resampling(big, small), bias=norm is None))
        c *= 2
        if norm == "batch":
            layers.append(nn.BatchNorm2d(c))
        elif norm == "layer":
            layers.append(nn.GroupNorm(1, c))  # LayerNorm over (C, H, W), per sample
        layers.append(nn.LeakyReLU(0.2, True))
    return nn.Sequential(*layers), c, sizes[-1]


def dcgan_init_(module: nn.Module) -> None:
    """DCGAN's initialisation, in place: conv and linear weights ~ N(0, 0.02); norm scales ~ N(1, 0.02).

    Biases become zero. Call it on a whole network at the end of its ``__init__``.

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(100, 1000), torch.nn.BatchNorm1d(1000))
        >>> dcgan_init_(net)
        >>> round(net[0].weight.std().item(), 2), net[0].bias.abs().max().item()
        (0.02, 0.0)
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, nn.GroupNorm)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
