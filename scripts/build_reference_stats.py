"""Make the reference statistics that ship with ganzoo (``ganzoo/metrics/reference/``).

With them, ``ganzoo eval`` and ``ganzoo eval REF --verify`` work with no dataset files and
no network (:mod:`ganzoo.metrics.shipped`). For a dataset's feature network this computes,
from the dataset's files, exactly what evaluation would compute and cache: the test split's
features, their float64 mean and covariance and their k-NN radii, and the real-vs-real floor
for n=10,000 (all metrics), keyed by the sha256 of the network's weights and of the data::

    python scripts/build_reference_stats.py --dataset mnist --data-dir ../shared/data/mnist

Rerun it whenever the feature network's weights change (tests/test_shipped_stats.py fails
until then). About 25 s for MNIST on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ganzoo.metrics.evaluate import (
    _FLOOR_VERSION,
    METRICS,
    feature_network,
    real_vs_real,
    reference_stats,
)
from ganzoo.metrics.feature_metrics import PR_NEIGHBOURS
from ganzoo.metrics.shipped import SHIPPED_DIR, write_shipped, write_shipped_floor

FLOOR_N = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--data-dir", required=True, help="dataset root holding the files (nothing is downloaded)")
    parser.add_argument("--out", type=Path, default=SHIPPED_DIR)
    args = parser.parse_args()

    _, record, _ = feature_network(args.dataset)
    network, net_sha = record["name"], record["sha256"]
    shipped = SHIPPED_DIR.resolve()
    with tempfile.TemporaryDirectory() as cache:  # computed from the data, never from a cache
        # Statistics already shipped for this data would be reused: hide them while building.
        stale = sorted(p for p in shipped.glob(f"{network}.{args.dataset}-*") if p.is_file())
        moved = [p.rename(Path(cache) / p.name) for p in stale]
        try:
            ref = reference_stats(args.dataset, args.data_dir, cache_dir=cache)
            radii = ref.radii
            floor = real_vs_real(args.dataset, args.data_dir, n=FLOOR_N, metrics=METRICS, cache_dir=cache)
        except BaseException:
            for p, original in zip(moved, stale):
                p.rename(original)
            raise
    path = write_shipped(network, args.dataset, ref.split,
                         {"features": ref.features, "logits": ref.logits, "labels": ref.labels, "mu": ref.mu,
                          "sigma": ref.sigma, "radii": radii},
                         network_sha256=net_sha, data_sha256=ref.sha256, files=ref.files, k=PR_NEIGHBOURS,
                         directory=args.out)
    floor_path = write_shipped_floor(network, args.dataset, floor, network_sha256=net_sha,
                                     reference_sha256=ref.sha256, version=_FLOOR_VERSION, directory=args.out)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) and {floor_path}")
    print(f"data sha256 {ref.sha256}, network {network} sha256 {net_sha}")
    print("floor:", {k: round(v, 5) for k, v in floor["metrics"].items()})


if __name__ == "__main__":
    main()
