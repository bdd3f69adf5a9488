"""Score an MNIST generator with ganzoo's protocol, plus the share of confidently classified samples.

Shared by ``bench/reference_dcgan.py`` and ``bench/calibrate.py`` so the reference DCGAN and
ganzoo's families are measured by one function:

* ``ganzoo.metrics.evaluate``: 10,000 samples (seed 0, batches of 500) against the 10,000
  MNIST test images, FID / precision / recall / ``confident`` (the share of samples whose top
  class probability exceeds 0.9) in ganzoo's MNIST classifier's 128-d feature space and, in
  ``cross_check``, in the cross-check network's (``mnist-resnet``), each with the real-vs-real
  floor (10,000 train images against the test images: ``real``, whose ``confident`` is the
  train images'; ``confident_test`` is the test images' share, what results scored before the
  cross-check called ``real.confident``).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ganzoo import Generator
from ganzoo.data import load_dataset
from ganzoo.metrics import evaluate
from ganzoo.metrics.feature_metrics import confident_share
from ganzoo.metrics.networks import feature_network

N, SEED, BATCH = 10_000, 0, 500


@torch.inference_mode()
def test_images_confident_share(data_dir: str | Path | None, n: int = N) -> float:
    """Share of the first ``n`` MNIST test images that ganzoo's classifier names with p > 0.9."""
    net, _, _ = feature_network("mnist", device="cpu")
    test = load_dataset("mnist", data_dir, split="test", download=False)
    return confident_share(torch.cat([net(x) for x in test.to_model_range(test.data[:n]).split(BATCH)]))


def score(generator: Generator, data_dir: str | Path | None, label: str) -> dict:
    """ganzoo's protocol on ``generator`` (where it is), on both MNIST feature networks.

    Top-level numbers are ganzoo's classifier's (as before); ``cross_check`` holds the same
    numbers on the cross-check network (``mnist-resnet``: another architecture, seed and
    augmentation), each with its own real-data row.
    """
    t = time.perf_counter()
    r = evaluate(generator, "mnist", data_dir, n=N, seed=SEED, batch_size=BATCH,
                 metrics=("fid", "precision", "recall", "confident"), model_name=label, cross_check=True)
    return {
        "label": label,
        "fid": r.metrics["fid"],
        "precision": r.metrics["precision"],
        "recall": r.metrics["recall"],
        "confident": r.metrics["confident"],
        "real": {**r.floor, "confident_test": test_images_confident_share(data_dir)},
        "cross_check": {name: {"metrics": c["metrics"], "real": c["floor"]} for name, c in r.cross_check.items()},
        "feature_network": r.receipt["feature_network"],
        "protocol": r.receipt["protocol"],
        "eval_seconds": round(time.perf_counter() - t, 1),
    }
