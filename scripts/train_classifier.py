"""Train the feature classifiers that ganzoo's MNIST-family metrics use.

``--arch cnn`` (default) trains :class:`ganzoo.metrics.classifier.MnistClassifier`, the
first network (``<dataset>-classifier``): Adam, one-cycle, random shifts, seed 0.
``--arch resnet`` trains :class:`ganzoo.metrics.classifier.ResNetClassifier`, the
cross-check network (``<dataset>-resnet``), built to differ in everything but the data:
SGD with Nesterov momentum and weight decay, random rotations, scalings and shifts
(bilinear, on the float image), seed 1. Either way the script reports accuracy on the
test split and writes ``<out>/<name>.safetensors`` and ``<out>/<name>.json``
(architecture, constructor config, test accuracy, epochs, seed, augmentation, sha256 of the
data files and of the weights, versions, hardware, wall time).
``ganzoo.metrics.load_classifier`` refuses weights whose sha256 does not match the JSON.

The shipped weights were made on a shared 2-core CPU (one thread), in minutes each; the
exact commands are in each JSON's ``command``::

    python scripts/train_classifier.py --dataset mnist --data-dir ../shared/data/mnist
    python scripts/train_classifier.py --dataset mnist --arch resnet --data-dir ../shared/data/mnist
    python scripts/train_classifier.py --dataset fashion-mnist --epochs 5 --data-dir DIR

The evaluation protocol compares generated samples with the *test* split, so the
classifier never sees a test image during training, and nothing (no early
stopping, no model selection) is tuned on the test split: it is reported once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import ganzoo
from ganzoo.data import load_dataset
from ganzoo.metrics.classifier import (
    ARCHITECTURES,
    CROSS_CHECK_NETWORKS,
    FEATURE_NETWORKS,
    WEIGHTS_DIR,
    sha256_file,
)


def random_shift(x: torch.Tensor, pad: int, g: torch.Generator) -> torch.Tensor:
    """Shift each uint8 image by up to ``pad`` pixels in x and y, filling with background (0)."""
    n, _, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=g)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=g)
    rows = (torch.arange(h) + dy[:, None])[:, :, None]
    cols = (torch.arange(w) + dx[:, None])[:, None, :]
    return xp[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)


def random_affine(x: torch.Tensor, degrees: float, scale: float, pad: int, g: torch.Generator) -> torch.Tensor:
    """Rotate by up to ``degrees``, scale by ``1 +- scale`` and shift by up to ``pad`` pixels, per image.

    ``x`` is float in [-1, 1]; the background (-1) fills what comes in from outside.
    """
    n, _, h, w = x.shape
    angle = (torch.rand(n, generator=g) * 2 - 1) * degrees * torch.pi / 180
    zoom = 1 + (torch.rand(n, generator=g) * 2 - 1) * scale
    shift = (torch.rand(n, 2, generator=g) * 2 - 1) * pad * 2 / torch.tensor([w, h])
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1


@torch.inference_mode()
def accuracy(net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = 1000) -> float:
    net.eval()
    correct = 0
    for i in range(0, len(images), batch):
        x = images[i : i + batch].float().div(127.5).sub(1.0)
        correct += int((net(x).argmax(1) == labels[i : i + batch]).sum())
    return correct / len(images)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="mnist", choices=sorted(FEATURE_NETWORKS))
    p.add_argument("--arch", default="cnn", choices=sorted(ARCHITECTURES),
                   help="cnn: the first network; resnet: the cross-check network")
    p.add_argument("--data-dir", default=None, help="dataset root (default: $GANZOO_DATA)")
    p.add_argument("--epochs", type=int, default=None, help="default: 3")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=None,
                   help="peak learning rate, one-cycle; default 3e-3 (cnn, Adam), 0.05 (resnet, SGD)")
    p.add_argument("--shift", type=int, default=2, help="random translation in pixels (0: none)")
    p.add_argument("--rotate", type=float, default=None, help="random rotation in degrees (resnet; default 12)")
    p.add_argument("--scale", type=float, default=None, help="random scaling 1 +- SCALE (resnet; default 0.1)")
    p.add_argument("--seed", type=int, default=None, help="default: 0 (cnn), 1 (resnet)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is kind to a shared box)")
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    args = p.parse_args(argv)
    resnet = args.arch == "resnet"
    if not resnet and (args.rotate or args.scale):
        p.error("--rotate and --scale are the resnet recipe's augmentation; the cnn recipe shifts only")
    defaults = {"epochs": 3, "lr": 0.05, "seed": 1, "rotate": 12.0, "scale": 0.1} if resnet else \
        {"epochs": 3, "lr": 3e-3, "seed": 0, "rotate": 0.0, "scale": 0.0}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    train = load_dataset(args.dataset, args.data_dir, split="train", download=False)
    test = load_dataset(args.dataset, args.data_dir, split="test", download=False)
    data_sha = {Path(f).name: sha256_file(Path(f)) for f in train.info["files"] + test.info["files"]}

    net = ARCHITECTURES[args.arch](num_classes=train.num_classes)
    if resnet:
        opt: torch.optim.Optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                                                     weight_decay=5e-4)
    else:
        opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    steps_per_epoch = len(train) // args.batch_size  # drop the ragged last batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch)

    start = time.perf_counter()
    for epoch in range(args.epochs):
        net.train()
        order = torch.randperm(len(train), generator=g)
        total = 0.0
        for i in range(steps_per_epoch):
            idx = order[i * args.batch_size : (i + 1) * args.batch_size]
            x = train.data[idx]
            if resnet:
                x = random_affine(x.float().div_(127.5).sub_(1.0), args.rotate, args.scale, args.shift, g)
            else:
                if args.shift:
                    x = random_shift(x, args.shift, g)
                x = x.float().div_(127.5).sub_(1.0)
            loss = F.cross_entropy(net(x), train.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        print(f"epoch {epoch + 1}/{args.epochs}: train loss {total / steps_per_epoch:.4f} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    seconds = time.perf_counter() - start
    test_acc = accuracy(net, test.data, test.labels)
    print(f"test accuracy {test_acc:.4f} ({round((1 - test_acc) * len(test))} errors of {len(test)})")

    name = CROSS_CHECK_NETWORKS[args.dataset][0] if resnet else FEATURE_NETWORKS[args.dataset]
    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / f"{name}.safetensors"
    tmp = weights.with_suffix(".tmp")
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp))
    os.replace(tmp, weights)
    os.chmod(weights, 0o644)  # safetensors writes 0600; the file ships in the package
    record = {
        "name": name,
        "dataset": args.dataset,
        "architecture": args.arch,
        "config": net.config,
        "feature_layer": "body: linear + non-affine batch norm, before the ReLU",
        "input": "(N, 1, 28, 28) float in [-1, 1]",
        "test_accuracy": test_acc,
        "test_split_size": len(test),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": "SGD, Nesterov momentum 0.9, weight decay 5e-4" if resnet else "Adam",
        "shift": args.shift,
        **({"rotate_degrees": args.rotate, "scale": args.scale} if resnet else {}),
        "seed": args.seed,
        "data_sha256": data_sha,
        "sha256": sha256_file(weights),
        "train_seconds": round(seconds, 1),
        "hardware": f"{platform.machine()} CPU, {os.cpu_count()} cores, {args.threads} torch thread(s)",
        "torch": torch.__version__,
        "ganzoo": ganzoo.__version__,
        "command": "python scripts/train_classifier.py " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    (args.out / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {weights} ({weights.stat().st_size / 1e6:.1f} MB) and {name}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
