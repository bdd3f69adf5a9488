"""Make the reference statistics that ship with ganzoo (``ganzoo/metrics/reference/``).

With them, ``ganzoo eval`` and ``ganzoo eval REF --verify`` work with no dataset files and
no network (:mod:`ganzoo.metrics.shipped`). For a dataset's feature network this computes,
from the dataset's files, exactly what evaluation would compute and cache: the test split's
features, their float64 mean and covariance and their k-NN radii, and the real-vs-real floor
for n=10,000 (all metrics), keyed by the sha256 of the network's weights and of the data, for
each of the dataset's feature networks (the first and the cross-check ones; ``--network NAME``
for one)::

    python scripts/build_reference_stats.py --dataset mnist --data-dir ../shared/data/mnist

Rerun it whenever the feature network's weights change (tests/test_shipped_stats.py fails
until then). About 25 s for MNIST on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ganzoo.metrics.classifier import dataset_networks
from ganzoo.metrics.feature_metrics import PR_NEIGHBOURS
from ganzoo.metrics.networks import feature_network
from ganzoo.metrics.protocol import _FLOOR_VERSION, METRICS
from ganzoo.metrics.real_data import real_vs_real, reference_stats
from ganzoo.metrics.shipped import SHIPPED_DIR, write_shipped, write_shipped_floor

FLOOR_N = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--data-dir", required=True, help="dataset root holding the files (nothing is downloaded)")
    parser.add_argument("--network", action="append",
                        help="a feature network of the dataset (repeatable; default: all of them)")
    parser.add_argument("--out", type=Path, default=SHIPPED_DIR)
    args = parser.parse_args()
    for name in args.network or dataset_networks(args.dataset):
        build(args.dataset, args.data_dir, name, args.out)


def build(dataset: str, data_dir: str, name: str, out: Path) -> None:
    """Compute and write the shipped reference and floor of ``dataset`` in network ``name``'s space."""
    _, record, _ = feature_network(dataset, name=name)
    network, net_sha = record["name"], record["sha256"]
    shipped = SHIPPED_DIR.resolve()
    with tempfile.TemporaryDirectory() as cache:  # computed from the data, never from a cache
        # Statistics already shipped for this data would be reused: hide them while building.
        stale = sorted(p for p in shipped.glob(f"{network}.{dataset}-*") if p.is_file())
        moved = [p.rename(Path(cache) / p.name) for p in stale]
        try:
            ref = reference_stats(dataset, data_dir, cache_dir=cache, network=name)
            radii = ref.radii
            floor = real_vs_real(dataset, data_dir, n=FLOOR_N, metrics=METRICS, cache_dir=cache, network=name)
        except BaseException:
            for p, original in zip(moved, stale):
                p.rename(original)
            raise
    path = write_shipped(network, dataset, ref.split,
                         {"features": ref.features, "logits": ref.logits, "labels": ref.labels, "mu": ref.mu,
                          "sigma": ref.sigma, "radii": radii},
                         network_sha256=net_sha, data_sha256=ref.sha256, files=ref.files, k=PR_NEIGHBOURS,
                         directory=out)
    floor_path = write_shipped_floor(network, dataset, floor, network_sha256=net_sha,
                                     reference_sha256=ref.sha256, version=_FLOOR_VERSION, directory=out)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) and {floor_path}")
    print(f"data sha256 {ref.sha256}, network {network} sha256 {net_sha}")
    print("floor:", {k: round(v, 5) for k, v in floor["metrics"].items()})


if __name__ == "__main__":
    main()
