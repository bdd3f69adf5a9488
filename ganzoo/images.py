"""Writing sample grids and 2-D scatter plots as PNG (Pillow only)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

MAX_SCALE = 16  # tile enlargement of a sample grid


def readable_scale(height: int, width: int) -> int:
    """How many times a run's sample grid enlarges its tiles: small images to about 64 pixels (at most 4x).

    Example:
        >>> readable_scale(28, 28), readable_scale(32, 32), readable_scale(16, 16), readable_scale(64, 64)
        (2, 2, 4, 1)
    """
    return max(1, min(4, 64 // max(height, width, 1)))


def save_grid(x: Tensor, path: str | Path, nrow: int = 8, padding: int = 2, scale: int = 1) -> Path:
    """Save images in [-1, 1], ``(N, C, H, W)``, as one PNG grid with ``nrow`` images per row.

    ``scale``: each image enlarged ``scale`` times with nearest-neighbour (sharp pixels), so a
    grid of 28-pixel images is readable; the padding between tiles is not enlarged.
    """
    from torchvision.utils import save_image

    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= MAX_SCALE:
        raise ValueError(f"scale must be a whole number from 1 to {MAX_SCALE}, got {scale!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    x = x.detach().float().cpu().clamp(-1, 1) * 0.5 + 0.5
    if scale > 1:
        x = x.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)
    save_image(x, str(path), nrow=max(1, nrow), padding=padding)
    return path


def save_scatter(points: Tensor, path: str | Path, reference: Tensor | None = None, size: int = 480) -> Path:
    """Save 2-D points (red) over reference points (grey) as a PNG scatter plot."""
    from PIL import Image, ImageDraw

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pts = points.detach().float().cpu()
    allpts = torch.cat([pts, reference.float().cpu()]) if reference is not None else pts
    finite = allpts[torch.isfinite(allpts).all(1)]
    lim = float(finite.abs().max()) * 1.1 if len(finite) else 1.0
    lim = max(lim, 1e-3)
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)

    def px(p: Tensor) -> tuple[float, float]:
        return ((float(p[0]) / lim + 1) * size / 2, (1 - float(p[1]) / lim) * size / 2)

    for group, color in ((reference, (170, 170, 170)), (pts, (200, 30, 30))):
        if group is None:
            continue
        for p in group.float().cpu():
            if torch.isfinite(p).all():
                x, y = px(p)
                draw.ellipse((x - 1.5, y - 1.5, x + 1.5, y + 1.5), fill=color)
    img.save(path)
    return path
