"""ganzoo.metrics.toy_metrics: the VEEGAN / PacGAN 2-D toy evaluation.

Expected values come from closed forms that do not use the code under test:
the Rayleigh tail for the high-quality fraction of perfect samples, ``log K``
and ``log(K / m)`` for reverse KL against a uniform mixture, and disk area
over box area for uniform noise.
"""

from __future__ import annotations

import math

import pytest
import torch

import ganzoo.metrics.toy as toy_module
from ganzoo.data import GRID25, RING8, TOYS, ToyMixture
from ganzoo.errors import UnknownNameError
from ganzoo.metrics import toy_metrics

ALL_TOYS = pytest.mark.parametrize("toy", list(TOYS.values()), ids=list(TOYS))


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _centers(toy: ToyMixture) -> torch.Tensor:
    return torch.tensor(toy.centers, dtype=torch.float64)


def _ring_around(center: torch.Tensor, radius: float, k: int = 16) -> torch.Tensor:
    angles = torch.arange(k, dtype=torch.float64) * (2 * math.pi / k)
    return center + radius * torch.stack([angles.cos(), angles.sin()], dim=1)


# --------------------------------------------------------------------------- perfect and collapsed generators


@ALL_TOYS
def test_samples_from_the_mixture_cover_every_mode(toy):
    n = 20_000
    m = toy_metrics(toy.sample(n, _gen()), toy)
    k = len(toy.centers)
    assert m["n"] == n
    assert m["num_modes"] == k
    assert m["modes_covered"] == k
    # Radius of a 2-D standard normal is Rayleigh: P(R < 3) = 1 - exp(-9/2) = 0.98889.
    expected = 1 - math.exp(-(3.0**2) / 2)
    assert m["high_quality"] >= 0.98
    assert m["high_quality"] == pytest.approx(expected, abs=0.004)  # ~5 binomial std at n=20k
    assert 0 <= m["reverse_kl"] < 0.01
    assert len(m["mode_counts"]) == k
    assert sum(m["mode_counts"]) == round(m["high_quality"] * n)
    # Each mode gets about n * expected / k.
    per_mode = n * expected / k
    assert all(abs(c - per_mode) < 0.2 * per_mode for c in m["mode_counts"])


@ALL_TOYS
def test_the_papers_2500_samples_cover_every_mode(toy):
    m = toy_metrics(toy.sample(2500, _gen(1)), toy)
    assert m["modes_covered"] == len(toy.centers)
    assert m["reverse_kl"] < 0.05


@ALL_TOYS
@pytest.mark.parametrize("mode", [0, -1])
def test_samples_from_one_mode_cover_one_mode_and_score_log_k(toy, mode):
    center = _centers(toy)[mode]
    samples = center + toy.std * torch.randn(2500, 2, generator=_gen(2), dtype=torch.float64)
    m = toy_metrics(samples, toy)
    k = len(toy.centers)
    assert m["modes_covered"] == 1
    assert m["mode_counts"][mode] == sum(m["mode_counts"]) > 0
    # p_gen is one-hot: KL(onehot || uniform over k) = 1 * log(1 / (1/k)) = log k.
    assert m["reverse_kl"] == pytest.approx(math.log(k), abs=1e-12)


def test_an_even_split_over_m_modes_scores_log_k_over_m():
    centers = _centers(GRID25)
    samples = torch.cat([centers[:5]] * 4)  # 5 modes, 4 exact hits each
    m = toy_metrics(samples, GRID25)
    assert m["modes_covered"] == 5
    assert m["high_quality"] == 1.0
    assert m["reverse_kl"] == pytest.approx(math.log(25 / 5), abs=1e-12)


def test_an_uneven_split_matches_the_kl_formula():
    centers = _centers(RING8)
    counts = [6, 3, 1]
    samples = torch.cat([centers[i].repeat(c, 1) for i, c in enumerate(counts)])
    m = toy_metrics(samples, RING8)
    total = sum(counts)
    expected = sum(c / total * math.log((c / total) / (1 / 8)) for c in counts)
    assert m["mode_counts"] == counts + [0] * 5
    assert m["reverse_kl"] == pytest.approx(expected, abs=1e-12)


def test_samples_that_are_not_high_quality_do_not_enter_the_reverse_kl():
    centers = _centers(RING8)
    good = torch.cat([centers[:4]] * 10)  # 4 modes, evenly
    far = torch.full((40, 2), 50.0)  # nearest mode is some ring mode, but far outside 3 std
    m = toy_metrics(torch.cat([good, far]), RING8)
    assert m["high_quality"] == pytest.approx(0.5)
    assert m["modes_covered"] == 4
    assert m["reverse_kl"] == pytest.approx(math.log(8 / 4), abs=1e-12)


def test_no_high_quality_sample_gives_nan_reverse_kl_and_no_modes():
    m = toy_metrics(torch.full((10, 2), 50.0), RING8)
    assert m["high_quality"] == 0.0
    assert m["modes_covered"] == 0
    assert m["mode_counts"] == [0] * 8
    assert math.isnan(m["reverse_kl"])


# --------------------------------------------------------------------------- high-quality radius


@ALL_TOYS
def test_uniform_noise_over_the_bounding_box_is_mostly_low_quality(toy):
    c = _centers(toy)
    r = 3 * toy.std
    lo, hi = c.min(dim=0).values - r, c.max(dim=0).values + r  # every 3-std disk lies inside
    n = 200_000
    samples = lo + (hi - lo) * torch.rand(n, 2, generator=_gen(3), dtype=torch.float64)
    m = toy_metrics(samples, toy)
    # The disks do not overlap, so the hit rate is their total area over the box's area.
    expected = len(toy.centers) * math.pi * r**2 / float((hi - lo).prod())
    assert m["high_quality"] < 0.05
    assert m["high_quality"] == pytest.approx(expected, rel=0.1)


@ALL_TOYS
@pytest.mark.parametrize("n_std", [3.0, 1.0, 5.5])
def test_the_boundary_is_n_std_standard_deviations(toy, n_std):
    radius = n_std * toy.std
    eps = 1e-9
    centers = _centers(toy)
    outside = torch.cat([_ring_around(c, radius + eps) for c in centers])
    inside = torch.cat([_ring_around(c, radius - eps) for c in centers])

    out = toy_metrics(outside, toy, n_std=n_std)
    assert out["high_quality"] == 0.0
    assert out["modes_covered"] == 0

    ins = toy_metrics(inside, toy, n_std=n_std)
    assert ins["high_quality"] == 1.0
    assert ins["modes_covered"] == len(toy.centers)
    assert ins["mode_counts"] == [16] * len(toy.centers)


def test_float32_samples_just_outside_the_radius_are_not_high_quality():
    # The generator's dtype: the threshold must not move when samples are float32.
    radius = 3 * RING8.std
    pts = _ring_around(_centers(RING8)[2], radius * (1 + 1e-5)).float()
    assert toy_metrics(pts, RING8)["high_quality"] == 0.0
    pts = _ring_around(_centers(RING8)[2], radius * (1 - 1e-5)).float()
    assert toy_metrics(pts, RING8)["high_quality"] == 1.0


# --------------------------------------------------------------------------- min_count


def test_min_count_sets_how_many_samples_capture_a_mode():
    centers = _centers(GRID25)
    samples = torch.cat(
        [centers[0].repeat(20, 1), centers[1].repeat(19, 1), centers[2].repeat(1, 1)]
    )
    assert toy_metrics(samples, GRID25)["modes_covered"] == 3
    assert toy_metrics(samples, GRID25, min_count=2)["modes_covered"] == 2
    assert toy_metrics(samples, GRID25, min_count=20)["modes_covered"] == 1
    assert toy_metrics(samples, GRID25, min_count=21)["modes_covered"] == 0


# --------------------------------------------------------------------------- inputs


def test_a_name_and_the_mixture_give_the_same_result():
    samples = RING8.sample(1000, _gen(4))
    assert toy_metrics(samples, "ring8") == toy_metrics(samples, RING8)


def test_a_custom_mixture_is_accepted():
    toy = ToyMixture("pair", ((0.0, 0.0), (10.0, 0.0)), 1.0)
    m = toy_metrics(torch.tensor([[0.5, 0.5], [9.0, 0.0], [5.0, 5.0]]), toy)
    assert m["mode_counts"] == [1, 1]
    assert m["num_modes"] == 2
    assert m["high_quality"] == pytest.approx(2 / 3)
    assert m["reverse_kl"] == pytest.approx(0.0, abs=1e-12)


def test_blocking_does_not_change_the_result(monkeypatch):
    samples = GRID25.sample(1003, _gen(5))
    whole = toy_metrics(samples, GRID25)
    monkeypatch.setattr(toy_module, "_BLOCK_PAIRS", 25 * 97)  # blocks of 97 rows, ragged last block
    assert toy_metrics(samples, GRID25) == whole


def test_samples_that_require_grad_are_accepted():
    samples = RING8.sample(100, _gen(6)).requires_grad_()
    assert toy_metrics(samples, RING8)["n"] == 100


def test_result_types():
    m = toy_metrics(RING8.sample(100, _gen(7)), RING8)
    assert set(m) == {
        "modes_covered",
        "num_modes",
        "high_quality",
        "reverse_kl",
        "n",
        "mode_counts",
    }
    assert type(m["modes_covered"]) is int
    assert type(m["num_modes"]) is int
    assert type(m["n"]) is int
    assert type(m["high_quality"]) is float
    assert type(m["reverse_kl"]) is float
    assert all(type(c) is int for c in m["mode_counts"])


@pytest.mark.parametrize("shape", [(10, 3), (10,), (10, 2, 1), (2, 10), ()])
def test_wrong_shape_raises_naming_the_shape(shape):
    with pytest.raises(ValueError, match=r"\(N, 2\)") as err:
        toy_metrics(torch.zeros(shape), RING8)
    assert str(tuple(shape)) in str(err.value)


def test_empty_samples_raise():
    with pytest.raises(ValueError, match="empty"):
        toy_metrics(torch.zeros(0, 2), RING8)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_samples_raise_saying_how_many(bad):
    samples = RING8.sample(50, _gen(8))
    samples[3, 0] = bad
    samples[7, 1] = bad
    samples[7, 0] = bad  # two bad values in one row count as one sample
    with pytest.raises(ValueError, match=r"\b2 of 50 samples contain NaN or Inf"):
        toy_metrics(samples, RING8)


def test_not_a_tensor_raises():
    with pytest.raises(TypeError, match="torch.Tensor"):
        toy_metrics([[0.0, 2.0]], RING8)


def test_unknown_toy_name_suggests_the_close_one():
    with pytest.raises(UnknownNameError, match="ring8"):
        toy_metrics(torch.zeros(3, 2), "ring9")


def test_wrong_toy_type_raises():
    with pytest.raises(TypeError, match="ToyMixture"):
        toy_metrics(torch.zeros(3, 2), 8)


@pytest.mark.parametrize("min_count", [0, -1, 1.5, True])
def test_bad_min_count_raises(min_count):
    with pytest.raises(ValueError, match="min_count"):
        toy_metrics(torch.zeros(3, 2), RING8, min_count=min_count)


@pytest.mark.parametrize("n_std", [0.0, -3.0, math.nan, math.inf])
def test_bad_n_std_raises(n_std):
    with pytest.raises(ValueError, match="n_std"):
        toy_metrics(torch.zeros(3, 2), RING8, n_std=n_std)


def test_a_point_exactly_n_std_away_is_not_high_quality():
    # PacGAN's MetricLogger uses a strict ``min_dis < dis_thre``; 3.0 and 9.0 are exact in binary.
    toy = ToyMixture("unit", ((0.0, 0.0), (100.0, 0.0)), 1.0)
    m = toy_metrics(torch.tensor([[3.0, 0.0], [0.0, -3.0], [2.0, 0.0]]), toy)
    assert m["mode_counts"] == [1, 0]
