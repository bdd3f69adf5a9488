"""Check ganzoo's FID Inception-v3 against pytorch-fid's own model class, weight for weight.

ganzoo builds the FID Inception-v3 (:mod:`ganzoo.metrics.inception`) on torchvision's blocks
with its own four pooling patches; pytorch-fid (``pytorch_fid.inception``) is the reference
port of the TF 2015-12-05 graph. This script loads *identical* weights into both and compares
what they compute:

1. **Architecture.** Random weights made realistic: batch-norm scales and shifts drawn at
   random, then every batch norm's running statistics set from one batch of real MNIST
   images (so activations stay O(1) through all 94 layers instead of vanishing). The same
   state dict goes into ganzoo's ``FIDInceptionV3`` and into pytorch-fid's ``InceptionV3``
   (``use_fid_inception=True``; its weight download is replaced by this state dict) and
   into the torchvision ``Inception3`` that pytorch-fid builds (for the 1008 logits, which
   pytorch-fid's wrapper does not expose). Compared: pool3 features and logits of MNIST
   test images, max absolute and max relative difference.
2. **The whole FID.** ``N`` test images against ``N`` train images, and against ``N`` train
   images with Gaussian noise: each pipeline computes its own features and its own FID
   (ganzoo: ``frechet_distance`` on float64 statistics, an ``eigh``-based trace of the
   matrix root; pytorch-fid: ``calculate_frechet_distance``, ``scipy.linalg.sqrtm``).
   With ``N`` below 2048 the covariances are rank-deficient; both formulas still define the
   number, and the check is that they agree, not that the number means anything.

pytorch-fid is not a ganzoo dependency: run this in a scratch environment that has it::

    python3 -m venv /work/venvs/fid
    echo /work/venv/lib/python3.11/site-packages > /work/venvs/fid/lib/python3.11/site-packages/base.pth
    /work/venvs/fid/bin/pip install --no-deps pytorch-fid scipy
    PYTHONPATH=. /work/venvs/fid/bin/python bench/inception_check.py --data-dir ../shared/data/mnist \\
        --out bench/results/inception_check-2026-12-01.json

Results: ``bench/RESULTS.md`` ("FID Inception-v3 against pytorch-fid").
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def realistic_random_weights(net: torch.nn.Module, calibration: torch.Tensor, seed: int) -> None:
    """Random BN affine parameters, then BN running statistics from one batch of real images."""
    g = torch.Generator().manual_seed(seed)
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in bns:
            bn.weight.copy_(0.5 + torch.rand(bn.weight.shape, generator=g))
            bn.bias.copy_(0.1 * torch.randn(bn.bias.shape, generator=g))
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: after one batch, exactly that batch's statistics
        net.train()
        net.features_and_logits(calibration)
    for bn in bns:
        bn.momentum = 0.1
    net.eval()


def max_diffs(a: torch.Tensor, b: torch.Tensor) -> dict[str, float]:
    diff = (a.double() - b.double()).abs()
    return {"max_abs": float(diff.max()), "max_rel": float(diff.max() / b.double().abs().max()),
            "scale": float(b.double().abs().max())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default="../shared/data/mnist")
    p.add_argument("--n", type=int, default=300, help="images per set for the whole-FID comparison")
    p.add_argument("--compare", type=int, default=64, help="test images for the feature comparison")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    import pytorch_fid
    import pytorch_fid.inception as pfi
    from pytorch_fid.fid_score import calculate_frechet_distance

    from ganzoo.data import load_dataset
    from ganzoo.metrics import feature_metrics as fm
    from ganzoo.metrics.inception import FIDInceptionV3, _file_names

    test = load_dataset("mnist", args.data_dir, split="test", download=False).data
    train = load_dataset("mnist", args.data_dir, split="train", download=False).data
    as01 = lambda u8: u8.float().div(255.0)  # noqa: E731  pytorch-fid's input range

    ours = FIDInceptionV3()
    realistic_random_weights(ours, as01(train[-32:]).mul(2).sub(1), args.seed)
    state = _file_names(ours.state_dict())
    pfi.load_state_dict_from_url = lambda *a, **k: {k2: v.clone() for k2, v in state.items()}
    theirs = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=True,
                             normalize_input=True, use_fid_inception=True).eval()
    theirs_full = pfi.fid_inception_v3().eval()

    @torch.inference_mode()
    def ours_features(u8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return ours.features_and_logits(as01(u8).mul(2).sub(1), chunk=50)

    @torch.inference_mode()
    def theirs_features(u8: torch.Tensor) -> torch.Tensor:
        x = as01(u8).expand(-1, 3, -1, -1)
        return torch.cat([theirs(block)[0].flatten(1) for block in x.split(50)])

    @torch.inference_mode()
    def theirs_logits(u8: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(as01(u8).expand(-1, 3, -1, -1), size=(299, 299), mode="bilinear",
                          align_corners=False).mul(2).sub(1)
        return torch.cat([theirs_full(block) for block in x.split(50)])

    start = time.perf_counter()
    images = test[: args.compare]
    f_ours, l_ours = ours_features(images)
    result: dict = {
        "pytorch_fid": pytorch_fid.__version__, "torch": torch.__version__,
        "platform": f"{platform.system()} {platform.machine()}", "seed": args.seed,
        "weights": "random; BN affine random, BN running statistics from 32 MNIST train images",
        "features": {"images": args.compare, **max_diffs(f_ours, theirs_features(images))},
        "logits": {"images": args.compare, **max_diffs(l_ours, theirs_logits(images))},
    }
    # The same comparison in float64: float32 rounding through 94 layers explains the ~1e-5
    # above only if the float64 difference is at rounding level (~1e-12).
    ours.double()
    theirs.double()
    theirs_full.double()
    with torch.inference_mode():
        x64 = images.double().div(255.0)
        f64_ours, l64_ours = ours.features_and_logits(x64.mul(2).sub(1))
        f64_theirs = theirs(x64.expand(-1, 3, -1, -1))[0].flatten(1)
        l64_theirs = theirs_full(F.interpolate(x64.expand(-1, 3, -1, -1), size=(299, 299), mode="bilinear",
                                               align_corners=False).mul(2).sub(1))
    result["features_float64"] = {"images": args.compare, **max_diffs(f64_ours, f64_theirs)}
    result["logits_float64"] = {"images": args.compare, **max_diffs(l64_ours, l64_theirs)}
    ours.float()
    theirs.float()
    print(json.dumps(result, indent=2), flush=True)

    gen = torch.Generator().manual_seed(args.seed)
    noised = (train[args.n : 2 * args.n].float() + 60 * torch.randn(args.n, 1, 28, 28, generator=gen))
    sets = {"test": test[: args.n], "train": train[: args.n], "train+noise": noised.clamp(0, 255).to(torch.uint8)}
    ours_f = {k: ours_features(v)[0].double() for k, v in sets.items()}
    theirs_f = {k: theirs_features(v).double() for k, v in sets.items()}
    fids = []
    for other in ("train", "train+noise"):
        g_fid = fm.frechet_distance(*fm.gaussian_stats(ours_f["test"]), *fm.gaussian_stats(ours_f[other]))
        a, b = theirs_f["test"].numpy(), theirs_f[other].numpy()
        p_fid = float(calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)))
        # ganzoo's formula on pytorch-fid's features: separates the network from the formula
        mixed = fm.frechet_distance(*fm.gaussian_stats(theirs_f["test"]), *fm.gaussian_stats(theirs_f[other]))
        fids.append({"pair": f"test vs {other}", "n": args.n, "ganzoo": g_fid, "pytorch_fid": p_fid,
                     "ganzoo_formula_on_pytorch_fid_features": mixed,
                     "rel_diff": abs(g_fid - p_fid) / abs(p_fid)})
    result["fid"] = fids
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(fids, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
