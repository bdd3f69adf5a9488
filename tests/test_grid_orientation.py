"""#25 item 11: one grid convention, a row per class / label, everywhere a grid is drawn.

A stub generator paints each image with its label (label k: brightness k / 9, the same in every
pixel), so the PNG itself says which label sits where. Also ``sample --nrow/--scale`` (#23).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from torch import nn

import ganzoo
from ganzoo.cli import cli
from ganzoo.engine.rundir import write_samples
from ganzoo.sampling import latent_walk, sample_batch

H = W = 6
PAD = 2


class LabelPainter(ganzoo.Generator):
    """Conditional stub: image = label / 9 * 2 - 1 in every pixel (the noise is ignored)."""

    latent_dim = 4
    num_classes = 10
    output_shape = (1, H, W)

    def __init__(self) -> None:
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))

    def forward(self, z, y=None):
        value = y.float() / 9 * 2 - 1
        return value.view(-1, 1, 1, 1).expand(len(z), 1, H, W) + 0 * self.anchor


def _tiles(path, rows, cols, size=H, scale=1):
    """The label painted in each tile of a grid PNG, as a rows x cols array (-1: an empty tile)."""
    img = np.asarray(Image.open(path).convert("L"), dtype=np.float64) / 255
    step = size * scale + PAD
    assert img.shape == (rows * step + PAD, cols * step + PAD), img.shape
    out = np.full((rows, cols), -1)
    for r in range(rows):
        for c in range(cols):
            tile = img[PAD + r * step: PAD + r * step + size * scale, PAD + c * step: PAD + c * step + size * scale]
            assert tile.std() < 1e-6, "one flat tile per image"
            out[r, c] = round(tile.mean() * 9)
    return out


def test_sample_batch_gives_one_row_per_label():
    g = LabelPainter()
    x, y, row = sample_batch(g, 30, labels=[7, 2, 5])
    assert row == 10 and y.tolist() == [7] * 10 + [2] * 10 + [5] * 10
    x, y, row = sample_batch(g, 20)  # every class, 2 each
    assert row == 2 and y.tolist() == [c for c in range(10) for _ in range(2)]
    x, y, row = sample_batch(g, 7, labels=[1, 3])  # not a multiple: the last run is shorter
    assert row == 4 and y.tolist() == [1, 1, 1, 1, 3, 3, 3]


def test_cli_sample_grid_has_a_row_per_label(tmp_path, monkeypatch):
    monkeypatch.setattr(ganzoo, "load", lambda *a, **k: LabelPainter())
    out = tmp_path / "s.png"
    result = CliRunner().invoke(cli, ["sample", "whatever", "--labels", "3,8,1", "-n", "12", "-o", str(out)])
    assert result.exit_code == 0, result.output
    # small images are enlarged by default, as in a run's grids (a 28-px grid was 138 px wide)
    from ganzoo.images import readable_scale

    auto = readable_scale(H, W)
    assert auto > 1 and _tiles(out, 3, 4, scale=auto).tolist() == [[3] * 4, [8] * 4, [1] * 4]
    # Default count: 8 per label, every class; --scale 1 keeps the images' own size.
    result = CliRunner().invoke(cli, ["sample", "whatever", "-o", str(out), "--overwrite", "--scale", "1"])
    assert result.exit_code == 0, result.output
    assert _tiles(out, 10, 8).tolist() == [[c] * 8 for c in range(10)]


def test_cli_sample_nrow_and_scale(tmp_path, monkeypatch):
    monkeypatch.setattr(ganzoo, "load", lambda *a, **k: LabelPainter())
    out = tmp_path / "s.png"
    result = CliRunner().invoke(cli, ["sample", "x", "--labels", "4", "-n", "6", "--nrow", "3", "--scale", "3",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert _tiles(out, 2, 3, scale=3).tolist() == [[4] * 3] * 2
    for flags, word in ((["--scale", "0"], "--scale"), (["--scale", "17"], "--scale"), (["--nrow", "0"], "--nrow")):
        result = CliRunner().invoke(cli, ["sample", "x", "-o", str(tmp_path / "t.png"), *flags])
        assert result.exit_code == 2 and word in result.output and "Traceback" not in result.output
    assert not (tmp_path / "t.png").exists()


def test_cli_refuses_a_grid_too_large_before_drawing_it(tmp_path, monkeypatch):
    monkeypatch.setattr(ganzoo, "load", lambda *a, **k: LabelPainter())
    drawn = []
    monkeypatch.setattr("ganzoo.images.save_grid", lambda *a, **k: drawn.append(1))
    result = CliRunner().invoke(cli, ["sample", "x", "-n", "5000", "--nrow", "5000", "--scale", "2",
                                      "-o", str(tmp_path / "wide.png")])
    assert result.exit_code == 2 and "pixels" in result.output and "--format npz" in result.output
    assert drawn == [] and not (tmp_path / "wide.png").exists()


def test_latent_walk_keeps_one_label_per_row(tmp_path, monkeypatch):
    g = LabelPainter()
    _, y, steps = latent_walk(g, rows=3, steps=4, labels=[6, 0])
    assert steps == 4 and y.view(3, 4).tolist() == [[6] * 4, [0] * 4, [6] * 4]


def test_run_grids_have_a_row_per_class(tmp_path):
    from ganzoo.engine.config import TrainConfig
    from ganzoo.engine.setup import fixed_noise

    g = LabelPainter()
    cfg = TrainConfig(model="cgan", num_samples=30, seed=0)
    z, y = fixed_noise(cfg, g, torch.device("cpu"))
    path = write_samples(tmp_path, 5, g(z, y), num_classes=10, data=torch.zeros(1, 1, H, W))
    # small images are enlarged in a run's grids (readable_scale), each tile still one image
    from ganzoo.images import readable_scale

    assert _tiles(path, 10, 3, scale=readable_scale(H, W)).tolist() == [[c] * 3 for c in range(10)]


def test_bundle_samples_png_has_a_row_per_class(tmp_path):
    from ganzoo.zoo import _save_samples

    _save_samples(LabelPainter(), tmp_path / "samples.png")
    assert _tiles(tmp_path / "samples.png", 10, 10).tolist() == [[c] * 10 for c in range(10)]


@pytest.mark.parametrize("scale", [1, 4])
def test_save_grid_scale_is_nearest_neighbour(tmp_path, scale):
    from ganzoo.images import save_grid

    x = torch.tensor([[-1.0, 1.0], [1.0, -1.0]]).view(1, 1, 2, 2).repeat(2, 1, 1, 1)
    save_grid(x, tmp_path / "g.png", nrow=1, scale=scale)
    img = np.asarray(Image.open(tmp_path / "g.png").convert("L"))
    assert img.shape == (2 * (2 * scale + PAD) + PAD, 2 * scale + 2 * PAD)
    inner = img[PAD:PAD + 2 * scale, PAD:PAD + 2 * scale]
    assert set(np.unique(inner)) == {0, 255}, "sharp pixels, no blur"
    assert (inner[:scale, :scale] == 0).all() and (inner[:scale, scale:] == 255).all()


def test_a_run_grid_of_few_classes_is_not_a_strip():
    """64 samples of 2 classes were 2 rows of 32 (a 2,114 x 134 px strip in the report): at most 16 a row."""
    from ganzoo.engine.config import TrainConfig
    from ganzoo.engine.setup import MAX_PER_CLASS_ROW, fixed_noise

    class TwoClasses(LabelPainter):
        num_classes = 2

    z, y = fixed_noise(TrainConfig(model="cgan", num_samples=64, seed=0), TwoClasses(), torch.device("cpu"))
    assert y.tolist() == [0] * MAX_PER_CLASS_ROW + [1] * MAX_PER_CLASS_ROW and len(z) == 2 * MAX_PER_CLASS_ROW
