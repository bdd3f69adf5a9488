"""The feature network check: :func:`check_feature_network`."""

from __future__ import annotations

import math
from typing import Any

import torch

from ganzoo.testing._helpers import _NAME, _Failed, _require
from ganzoo.testing.report import ConformanceError


def check_feature_network(name: str, dataset: str | None = None, *, n: int = 8) -> dict[str, Any]:
    """Load the registered feature network ``name`` and check it against its spec.

    Checks the name and the datasets it scores, that ``dataset`` (default: its first name that
    is a registered dataset) is scored by it, that ``load(device)`` gives a network with
    ``features_and_logits`` and an integer ``feature_dim`` (the spec's, when it gives one),
    that ``n`` images in [-1, 1] of the shape it scores give finite ``(n, feature_dim)``
    float features and logits (``num_classes`` wide when it names classes), the same for the
    same images (no randomness at evaluation), and that its record's sha256 is stable.

    Returns:
        The network's record (``name``, ``sha256``, ``layer``, ...).

    Raises:
        ConformanceError: naming the network and the problem.

    Example:
        >>> from ganzoo.testing import check_feature_network
        >>> check_feature_network("mnist-classifier")["name"]
        'mnist-classifier'
    """
    from ganzoo.errors import GanzooError
    from ganzoo.metrics.networks import feature_network, image_shape_of, network_specs
    from ganzoo.registry import get_feature_network_spec, list_datasets

    spec = get_feature_network_spec(name)
    who = f"feature network {name!r}"
    try:
        _require(_NAME.fullmatch(spec.name), f"the name must be lowercase words joined by hyphens, got {spec.name!r}")
        if dataset is None:
            known = [d for d in spec.datasets if d in list_datasets()]
            _require(known, f"none of the datasets it names ({', '.join(spec.datasets)}) is registered; "
                            "pass dataset= (a dataset of a kind it scores)")
            dataset = known[0]
        _require(name in [s.name for s in network_specs(dataset)],
                 f"dataset {dataset!r} is not scored by it (another network registered for it comes first)")
        try:
            net, record, shape = feature_network(dataset, name=name)
            again = feature_network(dataset, name=name)[1]
        except GanzooError:
            raise
        except Exception as exc:
            raise _Failed(f"load() raised {type(exc).__name__}: {exc} (raise ganzoo.errors.EvalError "
                          "with the fix for missing or bad weights)") from exc
        _require(record["sha256"] == again["sha256"], "two loads give different sha256s: receipts could never verify")
        if spec.feature_dim is not None:
            _require(net.feature_dim == spec.feature_dim,
                     f"its feature_dim is {net.feature_dim}, the spec says {spec.feature_dim}")
        shape = shape or image_shape_of(spec, dataset) or (3, 32, 32)
        x = torch.rand((n, *shape), generator=torch.Generator().manual_seed(0)) * 2 - 1
        with torch.inference_mode():
            f, lg = net.features_and_logits(x)
            f2, _ = net.features_and_logits(x.clone())
        _require(isinstance(f, torch.Tensor) and tuple(f.shape) == (n, net.feature_dim) and f.is_floating_point(),
                 f"features must be float (N, feature_dim) = {(n, net.feature_dim)}, got "
                 f"{tuple(f.shape) if isinstance(f, torch.Tensor) else type(f).__name__}")
        _require(bool(torch.isfinite(f).all()), "features hold NaN or Inf")
        _require(torch.allclose(f, f2, rtol=1e-5, atol=1e-6), "the same images give other features (eval mode?)")
        if spec.logits:
            _require(isinstance(lg, torch.Tensor) and lg.dim() == 2 and lg.shape[0] == n,
                     "features_and_logits must return logits (N, K) (or set logits=False in its spec)")
            _require(bool(torch.isfinite(lg).all()), "logits hold NaN or Inf")
            if spec.num_classes is not None:
                _require(lg.shape[1] == spec.num_classes,
                         f"its logits have {lg.shape[1]} classes, the spec says num_classes={spec.num_classes}")
        _require(math.isfinite(float(f.double().var())), "features overflow")
    except _Failed as exc:
        raise ConformanceError(f"{who}: {exc}") from None
    return record
