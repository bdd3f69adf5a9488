"""Evaluate a generator on MNIST, Fashion-MNIST or CIFAR-10 with a fixed protocol, and write a receipt.

The protocol (what makes two numbers comparable):

* **Samples.** ``n`` samples (default 10,000) from ``generator.sample`` in
  chunks of ``batch_size``, in ``eval()`` mode under ``torch.inference_mode``,
  with the noise from a ``torch.Generator`` seeded with ``seed`` on the
  generator's device. A conditional model gets balanced labels, class
  ``i % num_classes`` for sample ``i``. The noise depends on the device type
  (CPU and CUDA generators differ) and on ``batch_size``; both are recorded.
* **Images.** Generated images must have the dataset's shape (``(1, 28, 28)``
  for the MNIST family, ``(3, 32, 32)`` for CIFAR-10), values in [-1, 1]. There
  is no resize rule for generators: another output shape is an error, and so is
  a NaN or Inf in any sample.
* **Features.** MNIST and Fashion-MNIST: the shipped classifier for the dataset
  (:mod:`ganzoo.metrics.classifier`): 128-d penultimate features for FID,
  KID, precision and recall; logits for the Inception Score, label accuracy and
  the confident share (samples classified with softmax probability above 0.9).
  Every number is also computed on the dataset's independently built
  cross-check network (:data:`~ganzoo.metrics.classifier.CROSS_CHECK_NETWORKS`,
  96-d features) from the same samples, and reported beside the first
  (``cross_check`` in the receipt): when the two networks rank models
  differently, neither ranking is to be trusted alone (:func:`rank_disagreements`).
  CIFAR-10: the FID Inception-v3 (:mod:`ganzoo.metrics.inception`, weights
  supplied by the user as safetensors): 2048-d pool3 features of real and generated
  images alike resized to 299x299, and its 1008 logits for the Inception Score;
  no label accuracy (those logits are not CIFAR-10's classes).
* **Reference.** All 10,000 images of the test split. Their features (and
  Gaussian statistics and k-NN radii) are cached under
  ``$GANZOO_CACHE/stats`` (default ``~/.cache/ganzoo/stats``) in a
  safetensors file whose name holds the sha256 of the data and of the feature
  network, so a changed dataset or network never reuses stale statistics.
* **Floor.** The same metrics for the first ``n`` images of the *train* split
  against the test split: what real data scores, printed beside every number.
  It is cached too (it depends on ``n``, the data and the network, not on the
  generator).
* **Minimum n.** ``n`` must be at least twice the feature size (256 for the
  128-d features): below ``feature_dim + 1`` samples the covariance is singular,
  and just above it the estimate is still very noisy. This
  is a floor for a meaningful number, not a recommendation; FID is biased
  upwards at small ``n``, so only numbers with the same ``n`` compare.
* **Maximum.** ``n``, ``batch_size`` and the seed are bounded (:mod:`ganzoo.limits`:
  ``MAX_EVAL_SAMPLES`` 100,000, ``MAX_EVAL_BATCH_SIZE`` 10,000, ``MAX_SEED``), and checked
  before a dataset, feature network or sample is touched; so is a receipt's protocol
  before :func:`verify_receipt` recomputes it.

:func:`evaluate` returns an :class:`EvalResult` whose ``receipt`` records each
number with everything needed to reproduce it; :func:`verify_receipt`
recomputes a receipt and checks it within ganzoo's tolerances (never the receipt's own).

Example:
    >>> import ganzoo
    >>> from ganzoo.metrics import evaluate
    >>> g = ganzoo.create("dcgan").generator
    >>> result = evaluate(g, "mnist", n=1000, metrics=("fid",))  # doctest: +SKIP
    >>> print(result.table())  # doctest: +SKIP
"""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganzoo.errors import EvalError
from ganzoo.interfaces import Generator
from ganzoo.metrics import feature_metrics as fm
from ganzoo.metrics.cache import default_cache_dir
from ganzoo.metrics.classifier import INPUT_SHAPE
from ganzoo.metrics.networks import (
    FeatureNet,
    _logits_or_empty,
    feature_network,
    image_shape_of,
    logit_metrics,
    network_spec,
    network_specs,
)
from ganzoo.metrics.protocol import (
    DEFAULT_METRICS,
    DEFAULT_TOLERANCE,
    FLOOR_SPLIT,
    METRICS,
    RECEIPT_VERSION,
    REFERENCE_SPLIT,
    check_protocol,
    min_samples,
)
from ganzoo.metrics.real_data import _compute, _floor, _reference


@dataclass
class EvalResult:
    """What :func:`evaluate` returns.

    Attributes:
        metrics: metric name to value (``fid``, ``kid``, ``kid_std``, ``is``, ``precision``,
            ``recall``, ``label_accuracy``: those asked for).
        floor: the same metrics for ``n`` real train images against the test split
            (empty when ``evaluate(..., floor=False)``).
        receipt: a JSON-able record of the numbers and of how they were made.
        cross_check: per cross-check network name, ``{"metrics": ..., "floor": ...}``: the
            same numbers from the same samples on an independently built network.
    """

    metrics: dict[str, float]
    floor: dict[str, float]
    receipt: dict[str, Any] = field(repr=False)
    cross_check: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    @classmethod
    def from_receipt(cls, receipt: dict[str, Any]) -> EvalResult:
        """The result a receipt records (its numbers, floors and cross-check numbers), e.g. to print its table."""
        floor = (receipt.get("floor") or {}).get("metrics", {})
        checks = {c["feature_network"]["name"]: {"metrics": dict(c["metrics"]),
                                                 "floor": dict((c.get("floor") or {}).get("metrics", {}))}
                  for c in receipt.get("cross_check") or []}
        return cls(dict(receipt["metrics"]), dict(floor), receipt, checks)

    def table(self) -> str:
        """A plain-text table: metric, value and real-vs-real floor, per feature network."""
        r = self.receipt
        first = r["feature_network"]["name"]
        head = (f"{r['reference']['dataset']}: {r['protocol']['n']} samples (seed {r['protocol']['seed']}) vs "
                f"{r['reference']['n']} {r['reference']['split']} images; features: {first}"
                + "".join(f", {name} (cross-check)" for name in self.cross_check))
        nets = [(first, self.metrics, self.floor)] + [(name, c["metrics"], c["floor"])
                                                      for name, c in self.cross_check.items()]
        width = max(12, *(len(name) + 2 for name, _, _ in nets)) if self.cross_check else 12
        rows = [head]
        if self.cross_check:
            rows.append(" " * 16 + "".join(f"{name:>{width}}{'':>12}" for name, _, _ in nets))
        rows.append(f"{'metric':<16}" + f"{'value':>{width}}{'real data':>12}" * len(nets))
        for metric in self.metrics:
            row = f"{metric:<16}"
            for _, values, floor in nets:
                v, f = values.get(metric), floor.get(metric)
                row += f"{_fmt(v) if v is not None else '':>{width}}{_fmt(f) if f is not None else '':>12}"
            rows.append(row)
        if r["floor"]:
            rows.append(f"real data: {r['floor']['n']} {FLOOR_SPLIT} images vs the {REFERENCE_SPLIT} split")
        return "\n".join(rows)

    def to_json(self) -> str:
        return json.dumps(self.receipt, indent=2)


def _fmt(v: float) -> str:
    if v != 0 and abs(v) < 0.01:
        return f"{v:.2e}"
    return f"{v:.4f}" if abs(v) < 10 else f"{v:.2f}"

# --------------------------------------------------------------------------- sampling


def _check_request(generator: Any, metrics: Sequence[str] | None, n: int, batch_size: int, seed: int,
                   dataset: str = "mnist") -> tuple[str, ...]:
    if not isinstance(generator, Generator):
        hint = "; pass gan.generator" if hasattr(generator, "generator") else ""
        raise EvalError(f"evaluate() takes a ganzoo.Generator, not {type(generator).__name__}{hint}")
    if metrics is None:
        names = DEFAULT_METRICS + (("label_accuracy",) if generator.is_conditional else ())
        names = _offered(names, dataset)
    else:
        names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
        unknown = [m for m in names if m not in METRICS]
        if unknown or not names:
            raise EvalError(f"unknown metric(s) {unknown}; choose from {', '.join(METRICS)}")
    if "label_accuracy" in names and not generator.is_conditional:
        raise EvalError(
            f"label_accuracy needs a class-conditional generator (such as 'cgan'); "
            f"{type(generator).__name__} takes no labels. Drop 'label_accuracy' from metrics"
        )
    check_protocol(n, seed, batch_size)  # bounded (ganzoo.limits) before anything is loaded
    spec = network_spec(dataset)  # named as such, not by a shape the dataset does not have
    offered = logit_metrics(spec)
    for name in ("label_accuracy", "confident", "is"):
        if name in names and name not in offered:
            need = "logits" if name == "is" else f"a classifier of {dataset}'s own classes"
            raise EvalError(f"{name} needs {need}; {dataset} is scored with {spec.name}, whose "
                            f"{'logits are not those' if spec.logits else 'features have no logits'}. "
                            f"Drop {name!r} (choose from {', '.join(m for m in METRICS if m not in ('is', 'label_accuracy', 'confident') or m in offered)})")
    shape, want = tuple(getattr(generator, "output_shape", ())), image_shape_of(spec, dataset)
    if want is None:  # the network scores any image shape, and the dataset (a folder) has none of its own
        if len(shape) != 3:
            raise EvalError(f"{type(generator).__name__} makes samples of shape {shape}, but {dataset} is scored on "
                            "images (C, H, W); evaluate it on the dataset it was trained on")
    elif shape != want:
        raise EvalError(
            f"{type(generator).__name__} makes images of shape {shape}, but {dataset} images are {want} "
            "(values in [-1, 1]); ganzoo does not resize generated images for evaluation. Evaluate it "
            "on the dataset it was trained on"
        )
    return tuple(dict.fromkeys(names))


def _offered(names: Sequence[str], dataset: str) -> tuple[str, ...]:
    """The default metrics ``dataset``'s feature network can give (no classes: no label accuracy or confident share)."""
    try:
        offered = logit_metrics(network_spec(dataset))
    except EvalError:
        return tuple(names)  # no network: refused with its own message in _check_request
    return tuple(m for m in names if m not in ("is", "label_accuracy", "confident") or m in offered)


@torch.inference_mode()
def _sample_features(
    generator: Generator, nets: Sequence[FeatureNet], n: int, seed: int, batch_size: int, device: torch.device,
    shape: tuple[int, ...] | None = INPUT_SHAPE,
) -> tuple[list[tuple[Tensor, Tensor]], Tensor | None]:
    """``[(features, logits)]`` of ``n`` samples, one pair per network (the same samples), and the labels."""
    gen_device = generator._device()
    rng = torch.Generator(device=gen_device).manual_seed(seed)
    labels = torch.arange(n) % generator.num_classes if generator.is_conditional else None
    feats: list[list[Tensor]] = [[] for _ in nets]
    logits: list[list[Tensor]] = [[] for _ in nets]
    for start in range(0, n, batch_size):
        size = min(batch_size, n - start)
        y = labels[start : start + size].to(gen_device) if labels is not None else None
        # bf16 on CUDA: sampling is the cheap half, and the features stay float32.
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=gen_device.type == "cuda"):
            x = generator.sample(size, y, generator=rng, device=gen_device)
        if tuple(x.shape) != (size, *shape):
            raise EvalError(
                f"{type(generator).__name__}.sample({size}) returned shape {tuple(x.shape)}; "
                f"expected {(size, *shape)}"
            )
        x = x.to(device=device, dtype=torch.float32)
        bad = int((~torch.isfinite(x)).flatten(1).any(dim=1).sum())
        if bad:
            raise EvalError(
                f"{bad} of {size} generated samples (samples {start} to {start + size - 1}) contain NaN "
                "or Inf: the generator has diverged or its weights are damaged; metrics on them "
                "would be meaningless. Evaluate an earlier checkpoint"
            )
        for i, net in enumerate(nets):
            f, lg = net.features_and_logits(x)
            feats[i].append(f)
            logits[i].append(_logits_or_empty(f, lg))
    return [(torch.cat(f), torch.cat(lg)) for f, lg in zip(feats, logits)], labels


# --------------------------------------------------------------------------- public API


def evaluate(
    generator: Generator,
    dataset: str = "mnist",
    data_dir: str | Path | None = None,
    *,
    n: int = 10_000,
    seed: int = 0,
    batch_size: int = 500,
    device: torch.device | str | None = None,
    metrics: Sequence[str] | None = None,
    model_name: str | None = None,
    cache_dir: str | Path | None = None,
    floor: bool = True,
    download: bool = True,
    cross_check: bool = True,
) -> EvalResult:
    """Score a generator's samples against the test split, beside the real-vs-real floor.

    See the module docstring for the protocol.

    Args:
        generator: a :class:`ganzoo.Generator` making ``(1, 28, 28)`` images in [-1, 1]
            (use the EMA generator of a run when it has one).
        dataset: ``"mnist"`` or ``"fashion-mnist"``.
        data_dir: dataset root (default ``$GANZOO_DATA``); missing files are downloaded as for
            training, when online.
        n: number of generated samples (at least :func:`min_samples`, 256; at most
            :data:`ganzoo.limits.MAX_EVAL_SAMPLES`).
        seed: seed of the sampling noise (0 to :data:`ganzoo.limits.MAX_SEED`).
        batch_size: samples per ``generator.sample`` call (changes the noise; recorded; at most
            :data:`ganzoo.limits.MAX_EVAL_BATCH_SIZE`).
        device: where the feature network runs (default: the generator's device).
        metrics: names from :data:`METRICS`; default :data:`DEFAULT_METRICS`, plus
            ``label_accuracy`` for a conditional generator.
        model_name: what was evaluated (a model id, run folder or file), for the receipt.
        cache_dir: where reference statistics live (default :func:`default_cache_dir`).
        floor: also report the real-vs-real floor (``False`` skips it, for quick checks;
            the receipt then records ``"floor": null``).
        download: fetch missing dataset files when online. Either way, when the files are
            not there, the statistics that ship with ganzoo (:mod:`ganzoo.metrics.shipped`:
            the MNIST test split and the floor for n=10000, per feature network) are used and
            nothing is fetched.
        cross_check: also score the same samples on the dataset's cross-check networks
            (MNIST family; ``False`` skips them, for quick checks during training).

    Returns:
        An :class:`EvalResult` with ``metrics``, ``floor``, ``cross_check`` and ``receipt``.

    Raises:
        EvalError: an unsupported dataset or image shape, too few samples or more than the
            protocol maximum (:mod:`ganzoo.limits`, checked before anything is loaded), label accuracy
            for an unconditional generator, NaN or Inf samples, damaged feature weights.
        DataError: the dataset files are missing.

    Example:
        >>> import ganzoo
        >>> from ganzoo.metrics import evaluate
        >>> gan = ganzoo.create("dcgan")
        >>> r = evaluate(gan.generator, "mnist", n=500, metrics=["fid"])  # doctest: +SKIP
        >>> r.metrics["fid"] > r.floor["fid"]  # doctest: +SKIP
        True
    """
    names = _check_request(generator, metrics, n, batch_size, seed, dataset)
    gen_device = generator._device()
    device = torch.device(device) if device is not None else gen_device
    specs = network_specs(dataset)
    net, record, shape = feature_network(dataset, device=device)
    shape = shape or tuple(generator.output_shape)  # a folder is read at the generator's image shape
    others = [feature_network(dataset, device=device, name=other.name)[:2]
              for other in (specs[1:] if cross_check else ())]
    for each in [net, *(o for o, _ in others)]:
        if n < min_samples(each.feature_dim):
            raise EvalError(
                f"n={n} is too few samples: the {each.feature_dim}x{each.feature_dim} feature covariance "
                f"needs n >= {min_samples(each.feature_dim)} (twice the feature size) to be stable; "
                "the protocol's default is 10000"
            )
    if "label_accuracy" in names and generator.num_classes != specs[0].num_classes:
        raise EvalError(
            f"label_accuracy needs the generator's classes to be {dataset}'s {specs[0].num_classes} "
            f"classes; {type(generator).__name__} has {generator.num_classes}"
        )
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()

    was_training = generator.training
    generator.eval()
    try:
        scored, labels = _sample_features(generator, [net, *(o for o, _ in others)], n, seed, batch_size,
                                          device, shape)
    finally:
        generator.train(was_training)

    def score(net: FeatureNet, net_record: dict[str, Any], features: Tensor, logits: Tensor, extras):
        net_sha, net_name = net_record["sha256"], net_record["name"]
        ref = _reference(dataset, data_dir, net, net_sha, cache, device, batch_size, net_name, download,
                         image_shape=shape)
        values = _compute(names, features, logits.cpu(), labels, ref, seed)
        floor_record = (_floor(dataset, data_dir, n, names, net, net_sha, ref, cache, device, batch_size,
                               net_name, download, image_shape=shape, extras=extras)
                        if floor else None)
        return values, floor_record, ref

    values, floor_record, ref = score(net, record, *scored[0], logit_metrics(specs[0]))
    floor_values = {k: v for k, v in floor_record["metrics"].items() if k in values} if floor_record else {}
    checks: dict[str, dict[str, dict[str, float]]] = {}
    check_receipts = []
    for (other, other_record), pair, other_spec in zip(others, scored[1:], specs[1:]):
        other_values, other_floor, _ = score(other, other_record, *pair, logit_metrics(other_spec))
        other_floor_values = ({k: v for k, v in other_floor["metrics"].items() if k in other_values}
                              if other_floor else {})
        checks[other_record["name"]] = {"metrics": other_values, "floor": other_floor_values}
        check_receipts.append({
            "feature_network": _network_entry(other_record),
            "metrics": other_values,
            "floor": {"metrics": other_floor_values} if other_floor else None,
        })

    import ganzoo

    receipt = {
        "receipt_version": RECEIPT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": model_name if model_name is not None else type(generator).__name__,
        "metrics": values,
        "floor": {"metrics": floor_values, **{k: v for k, v in floor_record.items() if k != "metrics"}}
        if floor_record else None,
        "protocol": {
            "n": n,
            "seed": seed,
            "batch_size": batch_size,
            "labels": "balanced: class i % num_classes for sample i" if labels is not None else None,
            "num_classes": generator.num_classes,
            "sample_precision": "bf16 autocast" if gen_device.type == "cuda" else "float32",
            "image_shape": list(shape),
            "fid": "float64 statistics of the feature layer",
            "kid": {"subsets": fm.KID_SUBSETS, "subset_size": min(fm.KID_SUBSET_SIZE, n, ref.n),
                    "kernel": "(x.y/d + 1)^3", "seed": seed},
            "is": {"splits": 1, "on": "logits"},
            "precision_recall": {"k": fm.PR_NEIGHBOURS},
        },
        "tolerance": {k: list(v) for k, v in DEFAULT_TOLERANCE.items() if k in values},
        "feature_network": _network_entry(record),
        "reference": {"dataset": dataset, "split": REFERENCE_SPLIT, "n": ref.n,
                      "sha256": ref.sha256, "files": ref.files},
        "versions": {"ganzoo": ganzoo.__version__, "torch": torch.__version__,
                     "python": platform.python_version()},
        "device": str(gen_device),
        "feature_device": str(device),
        "platform": f"{platform.system()} {platform.machine()}",
    }
    if check_receipts:
        receipt["cross_check"] = check_receipts
    return EvalResult(metrics=values, floor=floor_values, receipt=receipt, cross_check=checks)


def _network_entry(record: dict[str, Any]) -> dict[str, Any]:
    return {"name": record["name"], "sha256": record["sha256"], "test_accuracy": record.get("test_accuracy"),
            "layer": record["layer"]}
