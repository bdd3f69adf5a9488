"""Reference statistics that ship inside ganzoo, so evaluation works with no data and no network.

For each feature network, ganzoo may ship what :func:`ganzoo.metrics.evaluate` needs from a
dataset's reference split (the features, their Gaussian statistics and k-NN radii) and the
real-vs-real floor for the protocol's default ``n``, in ``ganzoo/metrics/reference/``:

* ``<network>.<dataset>-<split>.safetensors``: tensors ``features`` and ``logits`` (float32),
  ``labels`` (int64), ``mu`` and ``sigma`` (float64), ``radii`` (float32); metadata ``network_sha256`` and ``data_sha256``
  (the sha256 of the decoded images then labels, as evaluation computes it), ``files`` (JSON:
  sha256 of each data file read) and ``k``.
* ``<network>.<dataset>-floor-n<N>.json``: the floor record (the first ``N`` train images
  against the reference split), with the hashes it was made from.

A file is used only when its hashes match: the feature network that is installed and, when
the data is at hand, the data's own sha256. So a retrained network or another copy of the
data never meets stale numbers; it gets the statistics computed from the data instead.
``scripts/build_reference_stats.py`` makes these files; any feature network can have them.

Example:
    >>> from ganzoo.metrics.classifier import load_classifier
    >>> _, record = load_classifier("mnist")
    >>> ref = shipped_reference("mnist-classifier", "mnist", "test", network_sha256=record["sha256"])
    >>> ref["features"].shape
    torch.Size([10000, 128])
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SHIPPED_DIR = Path(__file__).resolve().parent / "reference"
#: What a shipped reference file holds (all of :class:`ganzoo.metrics.Reference`'s tensors).
TENSORS = ("features", "logits", "labels", "mu", "sigma", "radii")


def reference_file(network: str, dataset: str, split: str, directory: Path | None = None) -> Path:
    """Where the shipped statistics of ``dataset``'s ``split`` in ``network``'s space live."""
    return (directory or SHIPPED_DIR) / f"{network}.{dataset}-{split}.safetensors"


def floor_file(network: str, dataset: str, n: int, directory: Path | None = None) -> Path:
    """Where the shipped real-vs-real floor for ``n`` samples lives."""
    return (directory or SHIPPED_DIR) / f"{network}.{dataset}-floor-n{n}.json"


def shipped_reference(
    network: str,
    dataset: str,
    split: str,
    *,
    network_sha256: str,
    data_sha256: str | None = None,
    directory: Path | None = None,
) -> dict[str, Any] | None:
    """The shipped statistics of a reference split, or ``None`` when none match.

    Args:
        network: the feature network's name (``"mnist-classifier"``).
        dataset, split: the reference data (``"mnist"``, ``"test"``).
        network_sha256: sha256 of the installed network's weights; must equal the file's.
        data_sha256: sha256 of the data at hand (decoded images then labels), when there is
            data; must then equal the file's. ``None``: there is no data to compare with.
        directory: where to look (default :data:`SHIPPED_DIR`).

    Returns:
        the :data:`TENSORS` plus ``"data_sha256"``, ``"files"``
        and ``"path"``; ``None`` if no file ships for these names or its hashes differ.
    """
    from safetensors import SafetensorError, safe_open

    path = reference_file(network, dataset, split, directory)
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("network_sha256") != network_sha256:
                return None
            if data_sha256 is not None and meta.get("data_sha256") != data_sha256:
                return None
            out: dict[str, Any] = {k: f.get_tensor(k) for k in TENSORS}
    except (SafetensorError, OSError, ValueError, KeyError):
        return None  # damaged: the statistics are computed from the data instead
    out.update(data_sha256=meta.get("data_sha256"), files=json.loads(meta.get("files", "{}")), path=path)
    return out


def shipped_floor(
    network: str,
    dataset: str,
    n: int,
    *,
    network_sha256: str,
    reference_sha256: str,
    version: int,
    directory: Path | None = None,
) -> dict[str, Any] | None:
    """The shipped real-vs-real floor record for ``n`` samples, or ``None`` when none matches."""
    path = floor_file(network, dataset, n, directory)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    keys = record.pop("key", {})
    wanted = {"network_sha256": network_sha256, "reference_sha256": reference_sha256, "version": version}
    if keys != wanted or not isinstance(record.get("metrics"), dict):
        return None
    return record


def write_shipped(
    network: str,
    dataset: str,
    split: str,
    tensors: dict[str, Any],
    *,
    network_sha256: str,
    data_sha256: str,
    files: dict[str, str],
    k: int,
    directory: Path | None = None,
) -> Path:
    """Write a reference file (``scripts/build_reference_stats.py``)."""
    from safetensors.torch import save_file

    path = reference_file(network, dataset, split, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"network": network, "dataset": dataset, "split": split, "network_sha256": network_sha256,
            "data_sha256": data_sha256, "files": json.dumps(files, sort_keys=True), "k": str(k)}
    save_file({name: tensors[name].contiguous() for name in TENSORS}, str(path),
              metadata=meta)
    path.chmod(0o644)  # safetensors writes 0600; these files ship to every user of an install
    return path


def write_shipped_floor(
    network: str, dataset: str, record: dict[str, Any], *, network_sha256: str, reference_sha256: str,
    version: int, directory: Path | None = None,
) -> Path:
    """Write a floor file (``scripts/build_reference_stats.py``)."""
    path = floor_file(network, dataset, record["n"], directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = {"network_sha256": network_sha256, "reference_sha256": reference_sha256, "version": version}
    path.write_text(json.dumps({**record, "key": key}, indent=2) + "\n")
    return path
