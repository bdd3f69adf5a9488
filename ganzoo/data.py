"""Datasets: registered by name through ``ganzoo_register_datasets``, held in memory as tensors.

Image datasets small enough to fit in memory (MNIST, Fashion-MNIST, CIFAR-10,
a modest image folder) become one ``uint8`` tensor ``(N, C, H, W)``: the
engine moves it to the device once and batches there, with no DataLoader in
the hot path. The 2-D toys are float point clouds.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ganzoo import limits
from ganzoo.errors import DataError, DataNotFoundError

# The dataset registry's lookups and the spec type, re-exported: ganzoo.data is where plugin
# authors and users have always found them.
from ganzoo.registry import dataset_kinds, get_dataset_spec, list_datasets
from ganzoo.specs import DatasetSpec

__all__ = [
    "DATA_ENV", "GRID25", "RING8", "TOYS", "DatasetSpec", "TensorDataset", "ToyMixture", "check_labels", "dataset_kinds",
    "default_data_dir", "get_dataset_spec", "list_datasets", "load_dataset", "read_idx",
]

DATA_ENV = "GANZOO_DATA"


def default_data_dir() -> Path:
    """``$GANZOO_DATA``, else ``~/.cache/ganzoo/data``."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ganzoo" / "data"


@dataclass
class TensorDataset:
    """A whole dataset as tensors.

    Attributes:
        name: registered dataset name.
        data: ``uint8 (N, C, H, W)`` for images, ``float32 (N, D)`` for points.
        labels: ``int64 (N,)`` or ``None``.
        num_classes: number of classes when labelled.
        kind: ``"image"`` or ``"points"``.
    """

    name: str
    data: Tensor
    labels: Tensor | None = None
    num_classes: int | None = None
    kind: str = "image"
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return self.data.shape[0]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape[1:])

    def to_model_range(self, x: Tensor) -> Tensor:
        """uint8 images to float in [-1, 1] (the generator's Tanh range); points unchanged."""
        if self.kind == "image":
            return x.float().div_(127.5).sub_(1.0)
        return x.float()


# --------------------------------------------------------------------------- downloads


def _download_into(root: Path, fetch: Callable[[Path], None]) -> None:
    """Run ``fetch(folder)`` in a fresh temporary folder, then move what it wrote into ``root``.

    A failed or interrupted download leaves nothing behind: no partial files and no empty
    folders, and ``root`` itself (the user's ``--data-dir``) is created only once the files
    are there. Files already in ``root`` are kept.
    """
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ganzoo-download-") as tmp:
        fetch(Path(tmp))
        for src in sorted(Path(tmp).rglob("*")):
            if src.is_file():
                dst = root / src.relative_to(tmp)
                if not dst.exists():
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    part = dst.with_name(f".{dst.name}.part")
                    shutil.move(str(src), part)
                    os.replace(part, dst)


# --------------------------------------------------------------------------- IDX (MNIST family)

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAX_RATIO = 1032  # deflate inflates one byte to at most 1032: a gzip file of n bytes holds < 1032 n
_READ_CHUNK = 1 << 20


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed), checking its header against its length.

    Exactly the bytes the header promises are read, into one array: a file holding more (a gzip
    bomb), less, or more than :data:`ganzoo.limits.MAX_DATASET_BYTES` is refused, in bounded memory.
    """
    path = Path(path)
    fix = "delete it and download it again"
    gz = path.suffix == ".gz"
    try:
        size = path.stat().st_size
        with (gzip.open if gz else open)(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES:
                raise DataError(f"{path} is not an IDX file (bad magic number); {fix}")
            ndim = head[3]
            raw_dims = f.read(4 * ndim)
            if len(raw_dims) < 4 * ndim:
                raise DataError(f"{path} is cut inside its header ({4 + len(raw_dims)} of {4 + 4 * ndim} bytes); {fix}")
            dims = struct.unpack(">" + "I" * ndim, raw_dims)
            dtype = np.dtype(_IDX_TYPES[head[2]])
            expected = math.prod(dims) * dtype.itemsize
            header = 4 + 4 * ndim
            if not gz and size - header != expected or gz and header + expected > size * _GZIP_MAX_RATIO:
                has = f"file has {size - header}" if not gz else f"a {size}-byte gzip file cannot hold that"
                raise DataError(f"{path} is truncated or corrupt: header says {dims} ({expected} bytes), {has}; {fix}")
            if expected > limits.MAX_DATASET_BYTES:
                raise DataError(f"{path}: its header says {dims} ({expected:,} bytes), more than the "
                                f"{limits.MAX_DATASET_BYTES:,} bytes ganzoo holds in memory "
                                "(ganzoo.limits.MAX_DATASET_BYTES); is it the right file?")
            body = np.empty(expected, dtype=np.uint8)
            view, got = memoryview(body), 0
            while got < expected:  # in chunks: no second copy of the whole body
                n = f.readinto(view[got : got + _READ_CHUNK])
                if not n:
                    break
                got += n
            if got < expected:
                raise DataError(f"{path} is truncated or corrupt: header says {dims} ({expected} bytes), file has "
                                f"{got}; {fix}")
            if f.read(1):  # one byte past the promise is enough to refuse: the rest is never inflated
                raise DataError(f"{path} holds more data than its header promises ({dims}, {expected} bytes); {fix}")
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot read {path}: {exc}; {fix}") from exc
    return body.view(dtype).reshape(dims)


def check_labels(labels: Tensor | np.ndarray, num_classes: int, source: object) -> None:
    """Refuse labels that are not whole numbers from 0 to ``num_classes - 1`` (naming the first bad one).

    A label out of range would train until the class embedding is indexed with it, then crash.
    """
    labels = torch.as_tensor(labels)
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise DataError(f"{source} has labels of type {labels.dtype}; labels must be whole numbers 0 to "
                        f"{num_classes - 1}")
    bad = ((labels < 0) | (labels >= num_classes)).nonzero()
    if len(bad):
        i = int(bad[0, 0]) if bad.dim() > 1 else int(bad[0])
        raise DataError(f"{source} holds label {int(labels.reshape(-1)[i])} (at index {i}); labels must be 0 to "
                        f"{num_classes - 1}, one per class")


def _find_raw(root: Path, folder: str, stem: str) -> Path | None:
    for base in (root / folder / "raw", root / "raw", root):
        for name in (stem, stem + ".gz"):
            if (base / name).is_file():
                return base / name
    return None


def _mnist_like(name: str, folder: str, tv_class: str) -> Callable[..., TensorDataset]:
    def load(root: Path, split: str = "train", download: bool = True, image_shape=None) -> TensorDataset:
        prefix = {"train": "train", "test": "t10k"}.get(split)
        if prefix is None:
            raise DataError(f"{name} has splits 'train' and 'test', not {split!r}")
        stems = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
        paths = [_find_raw(root, folder, s) for s in stems]
        if None in paths and download:
            import torchvision

            def fetch(tmp: Path) -> None:  # torchvision knows the mirrors and checksums
                getattr(torchvision.datasets, tv_class)(str(tmp), train=split == "train", download=True)

            try:
                _download_into(root, fetch)
            except Exception as exc:
                raise DataNotFoundError(_missing_idx(name, root, folder, stems, f"download failed: {exc}")) from exc
            paths = [_find_raw(root, folder, s) for s in stems]
        if None in paths:
            raise DataNotFoundError(_missing_idx(name, root, folder, stems, "download is off"))
        images = read_idx(paths[0])
        if images.dtype != np.uint8:
            raise DataError(f"{paths[0]} holds {images.dtype.name} images; {name} image files hold uint8 pixels "
                            "(IDX type 0x08): delete it and download it again")
        labels = read_idx(paths[1])
        if images.ndim != 3 or labels.shape != (images.shape[0],):
            raise DataError(f"{paths[0]} and {paths[1]} do not match: images {images.shape}, labels {labels.shape}")
        if labels.dtype.kind not in "iu":
            raise DataError(f"{paths[1]} holds {labels.dtype.name} labels; {name} labels are whole numbers 0 to 9: "
                            "delete it and download it again")
        labels = labels.astype(np.int64)
        check_labels(labels, 10, paths[1])
        return TensorDataset(
            name=name,
            data=torch.from_numpy(images).unsqueeze(1),  # read_idx's own array: no second copy
            labels=torch.from_numpy(labels),
            num_classes=10,
            info={"files": [str(p) for p in paths], "split": split},
        )

    return load


def _missing_idx(name: str, root: Path, folder: str, stems, why: str) -> str:
    files = ", ".join(f"{s}.gz" for s in stems)
    return (
        f"{name} not found under {root} ({why}). Put {files} in {root / folder / 'raw'}/ "
        f"(the standard files, gzipped or not), or pass --data-dir pointing at a folder that has "
        f"{folder}/raw/, or run once with network access to download them"
    )


# --------------------------------------------------------------------------- CIFAR-10 (binary version: no pickles)

_CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
_CIFAR_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"


def _load_cifar10(root: Path, split: str = "train", download: bool = True, image_shape=None) -> TensorDataset:
    folder = root / "cifar-10-batches-bin"
    files = [f"data_batch_{i}.bin" for i in range(1, 6)] if split == "train" else ["test_batch.bin"]
    if split not in ("train", "test"):
        raise DataError(f"cifar10 has splits 'train' and 'test', not {split!r}")
    if not all((folder / f).is_file() for f in files):
        archive = root / "cifar-10-binary.tar.gz"
        if not archive.is_file() and download:
            from torchvision.datasets.utils import download_url

            try:
                _download_into(root, lambda tmp: download_url(_CIFAR_URL, str(tmp), md5=_CIFAR_MD5))
            except Exception as exc:
                raise DataNotFoundError(_missing_cifar(root, f"download failed: {exc}")) from exc
        if not archive.is_file():
            raise DataNotFoundError(_missing_cifar(root, "download is off"))
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")
    records = []
    for f in files:
        raw = np.fromfile(folder / f, dtype=np.uint8)
        if raw.size % 3073:
            raise DataError(f"{folder / f} is truncated (size {raw.size} is not a multiple of 3073)")
        records.append(raw.reshape(-1, 3073))
    rec = np.concatenate(records)
    return TensorDataset(
        name="cifar10",
        data=torch.from_numpy(rec[:, 1:].reshape(-1, 3, 32, 32).copy()),
        labels=torch.from_numpy(rec[:, 0].astype(np.int64)),
        num_classes=10,
        info={"split": split},
    )


def _missing_cifar(root: Path, why: str) -> str:
    return (
        f"cifar10 not found under {root} ({why}). Put cifar-10-binary.tar.gz (the binary version, "
        f"from {_CIFAR_URL}) or its extracted cifar-10-batches-bin/ folder in {root}/"
    )


# --------------------------------------------------------------------------- image folder

_IMAGE_EXT = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}


def _load_folder(root: Path, split: str = "train", download: bool = False, image_shape=None) -> TensorDataset:
    """Every image under ``root``, resized (shorter side) and centre-cropped to the model's size.

    Sub-folders become labels (torchvision's ImageFolder convention) when there are several.
    The files are counted and the memory they need is estimated first: more than
    :data:`ganzoo.limits.MAX_FOLDER_IMAGES` files, or more than :data:`ganzoo.limits.MAX_DATASET_BYTES`
    bytes, is refused before any image is opened. The images go straight into one preallocated
    tensor. 16-bit images are scaled to 8 bits; images of float pixels are refused.
    """
    from PIL import Image
    from torchvision.transforms.v2 import functional as TF

    root = Path(root)
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist; pass --data-dir pointing at your images")
    c, h, w = image_shape or (3, 64, 64)
    mode = {1: "L", 3: "RGB"}.get(c)
    if mode is None:
        raise DataError(f"the folder dataset makes 1- or 3-channel images; the model wants {c} channels")
    paths = _image_paths(root)
    nbytes = len(paths) * c * h * w
    if nbytes > limits.MAX_DATASET_BYTES:
        raise DataError(
            f"{root} holds {len(paths):,} images: at {c}x{h}x{w} they take {nbytes:,} bytes "
            f"({_size(nbytes)}) in memory (and again on the device), more than the "
            f"{limits.MAX_DATASET_BYTES:,} bytes the folder dataset holds (ganzoo.limits.MAX_DATASET_BYTES). "
            "Train at a smaller data_shape, or on fewer images (a sub-folder), or raise "
            "ganzoo.limits.MAX_DATASET_BYTES from Python if the memory is there"
        )
    classes = sorted({p.parent.relative_to(root).as_posix() for p in paths})
    index = {name: i for i, name in enumerate(classes)}
    data = torch.empty((len(paths), c, h, w), dtype=torch.uint8)
    labels = torch.empty(len(paths), dtype=torch.int64)
    for i, p in enumerate(paths):
        try:
            with Image.open(p) as im:
                t = TF.pil_to_tensor(_eight_bit(im, p).convert(mode))
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"cannot read image {p}: {exc}; re-save it as PNG or JPEG, or move it out of "
                            f"the folder") from exc
        if tuple(t.shape[-2:]) != (h, w):
            t = TF.resize(t, [h], antialias=True) if h == w else TF.resize(t, [h, w], antialias=True)
            t = TF.center_crop(t, [h, w])
        data[i] = t
        labels[i] = index[p.parent.relative_to(root).as_posix()]
    labelled = len(classes) > 1
    return TensorDataset(
        name="folder",
        data=data,
        labels=labels if labelled else None,
        num_classes=len(classes) if labelled else None,
        info={"root": str(root), "classes": classes},
    )


def _size(nbytes: int) -> str:
    """A byte count as people say it: 1.2 GiB, 340 MiB, 0.4 KiB."""
    for unit, power in (("GiB", 30), ("MiB", 20)):
        if nbytes >= 2**power:
            return f"{nbytes / 2**power:.1f} {unit}"
    return f"{nbytes / 2**10:.1f} KiB"


def _image_paths(root: Path) -> list[Path]:
    """The image files under ``root``, sorted; counting stops past :data:`ganzoo.limits.MAX_FOLDER_IMAGES`."""
    cap = limits.MAX_FOLDER_IMAGES
    paths = []
    for p in root.rglob("*"):
        if p.suffix.lower() in _IMAGE_EXT:
            paths.append(p)
            if len(paths) > cap:
                raise DataError(
                    f"{root} holds more than {cap:,} images, more than the folder dataset reads "
                    "(ganzoo.limits.MAX_FOLDER_IMAGES): it holds every image in memory. Train on a sub-folder, "
                    "or raise ganzoo.limits.MAX_FOLDER_IMAGES from Python"
                )
    if not paths:
        raise DataError(f"no images ({', '.join(sorted(_IMAGE_EXT))}) found under {root}")
    return sorted(paths)


def _eight_bit(im, path: Path):
    """``im`` with 8-bit channels: 16-bit grey (``I;16``, or ``I`` within 0-65535) scaled, not clipped to white.

    Pillow's ``convert`` clips 16-bit values to 255; float pixels (``F``) and 32-bit integers beyond
    16 bits have no agreed scale and are refused, naming the file.
    """
    from PIL import Image

    if im.mode == "F":
        raise DataError(f"cannot read image {path}: it has 32-bit float pixels, which have no agreed 0-255 scale; "
                        "save it as an 8- or 16-bit image")
    if im.mode == "I" or im.mode.startswith("I;16"):
        a = np.asarray(im)
        lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 0)
        if lo < 0 or hi > 65535:
            raise DataError(f"cannot read image {path}: it has 32-bit integer pixels ({lo} to {hi}), beyond 16 bits; "
                            "save it as an 8- or 16-bit image")
        scaled = (a.astype(np.uint32) * 255 + 32767) // 65535  # 0-65535 to 0-255, rounded
        return Image.fromarray(scaled.astype(np.uint8), "L")
    return im


# --------------------------------------------------------------------------- 2-D toys


@dataclass(frozen=True)
class ToyMixture:
    """A mixture of isotropic 2-D Gaussians with equal weights.

    ``ring8``: 8 modes on a circle of radius 2, std 0.02; ``grid25``: a 5x5 grid
    at {-4, -2, 0, 2, 4}, std 0.05 (VEEGAN, Srivastava et al. 2017; PacGAN,
    Lin et al. 2018).
    """

    name: str
    centers: tuple[tuple[float, float], ...]
    std: float

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        centers = torch.tensor(self.centers, dtype=torch.float32)
        idx = torch.randint(0, len(centers), (n,), generator=generator)
        return centers[idx] + self.std * torch.randn(n, 2, generator=generator)


RING8 = ToyMixture(
    "ring8",
    tuple((2 * math.cos(2 * math.pi * i / 8), 2 * math.sin(2 * math.pi * i / 8)) for i in range(8)),
    0.02,
)
GRID25 = ToyMixture("grid25", tuple((float(x), float(y)) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)), 0.05)
TOYS = {t.name: t for t in (RING8, GRID25)}


def _toy_loader(toy: ToyMixture, n: int = 100_000) -> Callable[..., TensorDataset]:
    def load(root=None, split: str = "train", download: bool = False, image_shape=None) -> TensorDataset:
        g = torch.Generator().manual_seed({"train": 0, "test": 1}.get(split, 2))
        return TensorDataset(name=toy.name, data=toy.sample(n, g), kind="points", info={"split": split})

    return load


# --------------------------------------------------------------------------- what the core plugin loads


# What the core plugin's specs load (ganzoo.core_plugins names them, to register without torch).
load_mnist = _mnist_like("mnist", "MNIST", "MNIST")
load_fashion_mnist = _mnist_like("fashion-mnist", "FashionMNIST", "FashionMNIST")
load_cifar10 = _load_cifar10
load_folder = _load_folder
load_ring8 = _toy_loader(RING8)
load_grid25 = _toy_loader(GRID25)


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    *,
    split: str = "train",
    download: bool = True,
    image_shape: tuple[int, ...] | None = None,
) -> TensorDataset:
    """Load a registered dataset into memory.

    Args:
        name: dataset name (``ganzoo.data.list_datasets()``).
        data_dir: root folder; defaults to :func:`default_data_dir`.
        split: ``"train"`` or ``"test"``.
        download: fetch missing files through torchvision when online.
        image_shape: the model's shape, for sources that resize (``folder``).

    Example:
        >>> from ganzoo.data import load_dataset
        >>> load_dataset("ring8").shape
        (2,)
    """
    spec = get_dataset_spec(name)
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    ds = spec.load(root, split=split, download=download, image_shape=image_shape)
    if not isinstance(ds, TensorDataset):
        raise DataError(f"dataset {name!r} from plugin {spec.plugin!r} did not return a ganzoo.data.TensorDataset")
    if ds.labels is not None and ds.num_classes:
        check_labels(ds.labels, ds.num_classes, f"dataset {name!r} (from {root})")
    return ds
