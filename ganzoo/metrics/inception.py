"""Inception-v3 features for FID on RGB datasets (the network of Heusel et al.'s FID code).

FID on RGB images is, by convention, computed on the 2048-d pool3 features of the
Inception-v3 graph of TensorFlow 2015-12-05 that the original FID code uses. Its
PyTorch port (pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``) differs from
torchvision's ImageNet Inception-v3 in four pooling layers and has 1008 logits; this
module builds that network on torchvision's blocks and loads its weights from a
**safetensors** file the user supplies (ganzoo never downloads or unpickles it):

* put ``pt_inception-2015-12-05.safetensors`` in ``$GANZOO_CACHE/weights/`` (default
  ``~/.cache/ganzoo/weights/``) or point ``GANZOO_INCEPTION_WEIGHTS`` at it;
* to make it from the standard ``.pth`` file, once, run
  ``python -m ganzoo.metrics.inception convert pt_inception-2015-12-05-6726825d.pth``: it checks the
  file's sha256 prefix (``6726825d``) and reads it with ``torch.load(weights_only=True)``,
  which loads tensors only.

Inputs are images in [-1, 1], grey (repeated to 3 channels) or RGB, any size; they are
resized to 299x299 (bilinear, as pytorch-fid does). The numbers are comparable with
pytorch-fid's up to its resize and float differences, not bit-identical.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo.checkpoint import sha256_file
from ganzoo.errors import EvalError
from ganzoo.fsio import replace_file, temporary_name
from ganzoo.metrics.cache import cache_root

WEIGHTS_NAME = "pt_inception-2015-12-05.safetensors"
PTH_NAME = "pt_inception-2015-12-05-6726825d.pth"
PTH_SHA256_PREFIX = "6726825d"  # torch hub names files with the first 8 hex digits of their sha256
#: The full sha256 of pytorch-fid's published file (its release ``fid_weights``), and its size.
PTH_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
PTH_BYTES = 95_628_359
PTH_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + PTH_NAME
WEIGHTS_ENV = "GANZOO_INCEPTION_WEIGHTS"
NAME = "inception-v3-fid-2015-12-05"
FEATURE_DIM = 2048
NUM_LOGITS = 1008
INPUT_SIZE = 299


def _avg3(x: Tensor) -> Tensor:
    # The TF graph's average pools leave the zero padding out of the mean; torchvision's count it.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _blocks():
    from torchvision.models import inception as tv

    class FIDInceptionA(tv.InceptionA):
        def _forward(self, x: Tensor) -> list[Tensor]:
            b5 = self.branch5x5_2(self.branch5x5_1(x))
            b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
            return [self.branch1x1(x), b5, b3, self.branch_pool(_avg3(x))]

    class FIDInceptionC(tv.InceptionC):
        def _forward(self, x: Tensor) -> list[Tensor]:
            b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
            d = x
            for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                          self.branch7x7dbl_4, self.branch7x7dbl_5):
                d = layer(d)
            return [self.branch1x1(x), b7, d, self.branch_pool(_avg3(x))]

    class FIDInceptionE(tv.InceptionE):
        def __init__(self, in_channels: int, max_pool: bool) -> None:
            super().__init__(in_channels)
            self.max_pool = max_pool  # the last block of the TF graph max-pools its pool branch

        def _forward(self, x: Tensor) -> list[Tensor]:
            b3 = self.branch3x3_1(x)
            b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
            d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
            d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
            pool = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else _avg3(x)
            return [self.branch1x1(x), b3, d, self.branch_pool(pool)]

    return tv, FIDInceptionA, FIDInceptionC, FIDInceptionE


class FIDInceptionV3(nn.Module):
    """The FID Inception-v3: ``features_and_logits(x)`` gives 2048-d pool3 features and 1008 logits.

    Built with random weights; :func:`load_inception` loads the real ones.

    Example:
        >>> net = FIDInceptionV3().eval()
        >>> f, logits = net.features_and_logits(torch.zeros(2, 3, 32, 32))
        >>> tuple(f.shape), tuple(logits.shape)
        ((2, 2048), (2, 1008))
    """

    feature_dim = FEATURE_DIM
    num_classes = NUM_LOGITS

    def __init__(self) -> None:
        super().__init__()
        tv, block_a, block_c, block_e = _blocks()
        # torchvision's module tree, so the state dict keys are those of the standard file.
        net = tv.Inception3(num_classes=NUM_LOGITS, aux_logits=False, init_weights=False)
        net.Mixed_5b = block_a(192, pool_features=32)
        net.Mixed_5c = block_a(256, pool_features=64)
        net.Mixed_5d = block_a(288, pool_features=64)
        net.Mixed_6b = block_c(768, channels_7x7=128)
        net.Mixed_6c = block_c(768, channels_7x7=160)
        net.Mixed_6d = block_c(768, channels_7x7=160)
        net.Mixed_6e = block_c(768, channels_7x7=192)
        net.Mixed_7b = block_e(1280, max_pool=False)
        net.Mixed_7c = block_e(2048, max_pool=True)
        self.stem = nn.ModuleDict({name: getattr(net, name) for name in self._ORDER})
        self.fc = net.fc

    _ORDER = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
              "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b",
              "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c")

    def features_and_logits(self, x: Tensor, chunk: int = 100) -> tuple[Tensor, Tensor]:
        """``x``: ``(N, 1 or 3, H, W)`` in [-1, 1] -> ``(N, 2048)`` features, ``(N, 1008)`` logits.

        Runs ``chunk`` images at a time: at 299x299 the activations of a large batch
        would take many GB.
        """
        if x.shape[0] > chunk:
            parts = [self.features_and_logits(block, chunk) for block in x.split(chunk)]
            return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        for name in self._ORDER:
            x = self.stem[name](x)
        f = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return f, self.fc(f)

    def forward(self, x: Tensor) -> Tensor:
        return self.features_and_logits(x)[1]


def _file_names(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Our keys (``stem.Mixed_5b.…``) as the standard file names them (``Mixed_5b.…``)."""
    return {k.removeprefix("stem."): v for k, v in state.items()}


def default_weights_path() -> Path:
    env = os.environ.get(WEIGHTS_ENV)
    return Path(env).expanduser() if env else cache_root() / "weights" / WEIGHTS_NAME


def load_inception(
    weights: str | Path | None = None, *, device: torch.device | str | None = None,
) -> tuple[FIDInceptionV3, dict[str, Any]]:
    """The FID Inception-v3 with the user's weights file, and its record (name, sha256).

    Raises:
        EvalError: the file is missing (the message says which file, where, and how to make
            it), unreadable, or does not hold this network's weights.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(weights).expanduser() if weights is not None else default_weights_path()
    if not path.is_file():
        raise EvalError(
            f"Inception-v3 FID weights not found at {path}. FID on RGB datasets needs the standard "
            f"FID Inception weights as safetensors: put {WEIGHTS_NAME} there (or set {WEIGHTS_ENV}). "
            f"Run `ganzoo fetch inception` to download and convert it, or, with pytorch-fid's {PTH_NAME} "
            f"({PTH_URL}) downloaded elsewhere: ganzoo fetch inception --from {PTH_NAME}"
        )
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise EvalError(f"{path} is not a readable safetensors file ({exc}); convert the weights again") from exc
    net = FIDInceptionV3()
    own = _file_names(net.state_dict())
    for k in own:  # BatchNorm's step counters are not weights; files made by older torch lack them
        if k.endswith("num_batches_tracked") and k not in tensors:
            tensors[k] = own[k]
    missing, unexpected = sorted(set(own) - set(tensors)), sorted(set(tensors) - set(own))
    bad = [k for k in own if k in tensors and tensors[k].shape != own[k].shape]
    if missing or unexpected or bad:
        raise EvalError(
            f"{path} does not hold the FID Inception-v3 weights (missing {missing[:3]}, unexpected "
            f"{unexpected[:3]}, mis-shaped {bad[:3]}); make it again: ganzoo fetch inception --force "
            f"(or --from {PTH_NAME} --force)"
        )
    net.load_state_dict({f"stem.{k}" if not k.startswith("fc.") else k: v for k, v in tensors.items()})
    net = net.to(device or "cpu").eval().requires_grad_(False)
    record = {"name": NAME, "sha256": sha256_file(path), "file": path.name, "test_accuracy": None,
              "layer": "pool3, 2048-d (Inception-v3, TF graph 2015-12-05)"}
    return net, record


def convert(src: str | Path, dst: str | Path | None = None, *, check_hash: bool = True) -> Path:
    """Convert pytorch-fid's ``.pth`` weights to the safetensors file ganzoo reads.

    The ``.pth`` is read with ``torch.load(weights_only=True)`` (tensors only, no code), after
    its sha256 is checked against the standard file's (``check_hash=False`` skips that, for a
    file you trust).
    """
    from safetensors.torch import save_file

    src = Path(src)
    digest = sha256_file(src)
    if check_hash and digest != PTH_SHA256:
        raise EvalError(
            f"{src} has sha256 {digest}, not the standard {PTH_NAME}'s {PTH_SHA256}; refusing to convert "
            f"it. Download it again, or, for a file you trust: ganzoo fetch inception --from {src} --any-file"
        )
    state = torch.load(str(src), map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise EvalError(f"{src} is not a state dict of tensors")
    own = _file_names(FIDInceptionV3().state_dict())
    missing = sorted(k for k in set(own) - set(state) if not k.endswith("num_batches_tracked"))
    if missing:
        raise EvalError(f"{src} is not the FID Inception-v3 state dict (missing {missing[:3]})")
    dst = Path(dst) if dst is not None else default_weights_path()
    dst.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: state[k].contiguous() for k in own if k in state}
    meta = {"source": PTH_NAME if digest == PTH_SHA256 else src.name, "sha256": digest}
    replace_file(dst, lambda tmp: save_file(tensors, str(tmp), metadata=meta))
    return dst


def _download(url: str, dest: Path, max_bytes: int = PTH_BYTES) -> None:
    """Download ``url`` to ``dest``, refusing more than ``max_bytes`` (the known size of the file)."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response, open(dest, "wb") as out:  # noqa: S310 (a fixed https URL)
        total = 0
        while True:
            chunk = response.read(1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:
                raise EvalError(f"{url} sent more than the {max_bytes:,} bytes of {PTH_NAME}; refusing it")
            out.write(chunk)


def fetch_inception(dst: str | Path | None = None, *, source: str | Path | None = None,
                    force: bool = False, check_hash: bool = True) -> tuple[Path, str]:
    """Get the FID Inception-v3 weights where evaluation looks: download, check, convert, cache.

    Downloads pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` from its published address
    (:data:`PTH_URL`), or takes ``source`` (that file, downloaded elsewhere), checks its sha256
    (:data:`PTH_SHA256`; ``check_hash=False`` skips that for a ``source`` you trust), converts it
    to safetensors with tensors-only loading (:func:`convert`) and writes it to ``dst`` (default :func:`default_weights_path`). Nothing is done when a
    readable file is already there (``force`` converts again).

    Returns:
        ``(path, what was done)``: ``"present"``, ``"converted"`` or ``"downloaded"``.

    Raises:
        EvalError: offline (one line naming the file and where to put it), or a file that is
            not the standard one.
    """
    dst = Path(dst).expanduser() if dst is not None else default_weights_path()
    if dst.is_file() and not force:
        load_inception(dst)  # a damaged file is said so, with the fix
        return dst, "present"
    if source is not None:
        return convert(source, dst, check_hash=check_hash), "converted"
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(dst.with_name(PTH_NAME))  # unguessable: nothing can be planted there first
    try:
        try:
            _download(PTH_URL, tmp)
        except OSError as exc:  # URLError and timeouts are OSErrors
            reason = getattr(exc, "reason", exc)
            raise EvalError(
                f"cannot download {PTH_URL} ({reason}); offline, get {PTH_NAME} (sha256 {PTH_SHA256[:16]}…) "
                f"from that address elsewhere and run `ganzoo fetch inception --from {PTH_NAME}` "
                f"(it writes {dst})"
            ) from exc
        return convert(tmp, dst), "downloaded"
    finally:
        tmp.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ganzoo.metrics.inception",
                                description="Convert pytorch-fid's FID Inception weights to safetensors.")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert", help=f"convert {PTH_NAME}")
    c.add_argument("pth")
    c.add_argument("-o", "--out", help=f"output file (default {default_weights_path()})")
    c.add_argument("--any-file", action="store_true", help="skip the sha256 check of the .pth file")
    args = p.parse_args(argv)
    try:
        out = convert(args.pth, args.out, check_hash=not args.any_file)
    except (EvalError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"written": str(out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
