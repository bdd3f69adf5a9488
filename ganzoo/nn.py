"""Building blocks shared by the built-in families and available to plugins."""

from __future__ import annotations

from torch import nn

from ganzoo.errors import ConfigError


def dcgan_plan(data_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Return ``(channels, start_size, doublings)`` for a square image shape.

    The spatial size is halved while it stays even and above 7, so 28x28 MNIST
    starts from 7x7 (2 doublings), 32x32 from 4x4 (3) and 64x64 from 4x4 (4):
    the generator's output always matches the data, with no 32-vs-28 mismatch.
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


def upsampling_stack(in_dim: int, data_shape: tuple[int, ...], width: int) -> nn.Sequential:
    """DCGAN generator body: project ``in_dim`` to a ``start x start`` map, then upsample.

    Fractionally strided convolutions, BatchNorm and ReLU everywhere but the
    output, which is a Tanh (Radford et al. 2015, section 3). Input is
    ``(N, in_dim, 1, 1)``.
    """
    channels, start, doublings = dcgan_plan(data_shape)
    c = width * 2 ** (doublings - 1)
    layers: list[nn.Module] = [
        nn.ConvTranspose2d(in_dim, c, start, 1, 0, bias=False),
        nn.BatchNorm2d(c),
        nn.ReLU(True),
    ]
    for _ in range(doublings - 1):
        layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU(True)]
        c //= 2
    layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def downsampling_stack(data_shape: tuple[int, ...], width: int, norm: str | None = "batch") -> tuple[nn.Sequential, int, int]:
    """DCGAN discriminator body: strided convolutions with LeakyReLU(0.2).

    No normalisation on the first layer (Radford et al. 2015); ``norm`` is
    ``"batch"``, ``"layer"`` (per-sample, safe for gradient penalties) or
    ``None`` for the others. Returns ``(body, channels, size)`` of the final
    feature map.
    """
    channels, start, doublings = dcgan_plan(data_shape)
    c = width
    size = data_shape[1] // 2
    layers: list[nn.Module] = [nn.Conv2d(channels, c, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
    for _ in range(doublings - 1):
        layers.append(nn.Conv2d(c, c * 2, 4, 2, 1, bias=norm is None))
        c *= 2
        size //= 2
        if norm == "batch":
            layers.append(nn.BatchNorm2d(c))
        elif norm == "layer":
            layers.append(nn.GroupNorm(1, c))  # LayerNorm over (C, H, W), per sample
        elif norm is not None:
            raise ConfigError(f"norm must be 'batch', 'layer' or None, got {norm!r}")
        layers.append(nn.LeakyReLU(0.2, True))
    assert size == start
    return nn.Sequential(*layers), c, size


def dcgan_init_(module: nn.Module) -> None:
    """DCGAN's initialisation: conv and linear weights ~ N(0, 0.02); norm scales ~ N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, nn.GroupNorm)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
