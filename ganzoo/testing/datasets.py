"""The dataset check: :func:`check_dataset`."""

from __future__ import annotations

import os
from typing import Any

import torch

from ganzoo.errors import GanzooError
from ganzoo.testing._helpers import _NAME, _Failed, _require
from ganzoo.testing.report import ConformanceError


def check_dataset(name: str, data_dir: str | os.PathLike | None = None, *, split: str = "train",
                  download: bool = False) -> Any:
    """Load the registered dataset ``name`` and check it against its :class:`~ganzoo.data.DatasetSpec`.

    Checks the name, the declared kind and shape, the tensors' dtypes and shapes (``uint8
    (N, C, H, W)`` images or ``float32 (N, D)`` points), labels in ``[0, num_classes)``,
    and that the model-range conversion gives [-1, 1] images.

    Args:
        name: a registered dataset name.
        data_dir: its root folder (default: ganzoo's data folder).
        split: the split to load.
        download: let the loader download (off by default: tests run offline).

    Returns:
        The loaded :class:`~ganzoo.data.TensorDataset`.

    Raises:
        ConformanceError: naming the dataset and the problem.

    Example:
        >>> from ganzoo.testing import check_dataset
        >>> check_dataset("ring8").shape
        (2,)
    """
    from ganzoo.data import TensorDataset, get_dataset_spec, load_dataset

    spec = get_dataset_spec(name)
    who = f"dataset {name!r}"
    try:
        _require(_NAME.fullmatch(spec.name), f"the name must be lowercase words joined by hyphens, got {spec.name!r}")
        kinds = spec.kinds
        _require(kinds and all(isinstance(k, str) and k for k in kinds), f"its kinds {kinds!r} are not names")
        images = "images" in kinds
        points = "points" in kinds
        _require(images or points or spec.kind, "it declares no kind")
        if spec.shape is not None:
            _require(len(spec.shape) in (1, 3), f"shape must be (C, H, W) or (D,), got {spec.shape}")
        try:
            ds = load_dataset(name, data_dir, split=split, download=download,
                              image_shape=None if spec.shape else (3, 32, 32))
        except GanzooError:
            raise
        except Exception as exc:
            raise _Failed(f"load() raised {type(exc).__name__}: {exc} (raise ganzoo.errors.DataError "
                          "with the fix for a missing or bad file)") from exc
        _require(isinstance(ds, TensorDataset), "load() must return a ganzoo.data.TensorDataset")
        _require(len(ds) > 0, "it is empty")
        if spec.shape is not None:
            _require(ds.shape == tuple(spec.shape), f"samples have shape {ds.shape}, the spec says {spec.shape}")
        if ds.kind == "image":
            _require(ds.data.dtype == torch.uint8 and ds.data.dim() == 4,
                     f"images must be uint8 (N, C, H, W), got {ds.data.dtype} {tuple(ds.data.shape)}")
            x = ds.to_model_range(ds.data[:16].clone())
            _require(float(x.min()) >= -1 and float(x.max()) <= 1, "images do not map to [-1, 1]")
        else:
            _require(ds.kind == "points", f"TensorDataset.kind must be 'image' or 'points', got {ds.kind!r}")
            _require(ds.data.dtype == torch.float32 and ds.data.dim() == 2,
                     f"points must be float32 (N, D), got {ds.data.dtype} {tuple(ds.data.shape)}")
            _require(bool(torch.isfinite(ds.data).all()), "points must be finite")
        _require((ds.kind == "image") == images,
                 f"it declares the kinds {kinds} but loads {'images' if ds.kind == 'image' else 'points'}")
        if ds.labels is not None:
            _require(ds.labels.dtype == torch.int64 and ds.labels.shape == (len(ds),),
                     f"labels must be int64 of shape ({len(ds)},), got {ds.labels.dtype} {tuple(ds.labels.shape)}")
            k = ds.num_classes or spec.num_classes
            _require(k is not None, "it has labels but no num_classes")
            _require(int(ds.labels.min()) >= 0 and int(ds.labels.max()) < k, f"labels fall outside [0, {k})")
        if spec.num_classes is not None:
            _require(ds.labels is not None, f"the spec says {spec.num_classes} classes but it loads no labels")
    except _Failed as exc:
        raise ConformanceError(f"{who}: {exc}") from None
    return ds
