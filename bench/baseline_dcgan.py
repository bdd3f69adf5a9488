"""Baseline: a pytorch/examples-style DCGAN training loop on MNIST, for benchmarking.

This is the reference point that ganzoo's training engine is measured against.
It trains the *same* networks that ganzoo builds (``ganzoo.create("dcgan")``:
MNIST 1x28x28, or ``--image-size 32`` for ``data_shape=(1, 32, 32)`` with the
images resized), but with the loop written the way ``pytorch/examples``
``dcgan/main.py`` writes it:

* ``torchvision.datasets.MNIST`` with ``ToTensor`` + ``Normalize((0.5,), (0.5,))``
  behind a ``torch.utils.data.DataLoader`` (shuffle, ``--workers`` worker
  processes, ``pin_memory`` on CUDA, ``drop_last``);
* fp32, ``nn.BCEWithLogitsLoss`` (ganzoo's discriminator returns logits of
  shape ``(N,)``), ``Adam(lr=2e-4, betas=(0.5, 0.999))`` for both networks;
* per batch: a D step on real images (label 1) and ``fake.detach()`` (label 0),
  then a G step with the non-saturating loss (label 1); the losses and D's
  mean outputs are read with ``.item()`` every step, as the example does.

Throughput is ``batch_size * steps / seconds`` over the timed steps that follow
``--warmup`` untimed ones (with ``torch.cuda.synchronize()`` before each clock
read on CUDA). The DataLoader is iterated across epochs when needed.

Data: torchvision's ``MNIST`` wants the *extracted* IDX files in
``ROOT/MNIST/raw/``. ``--data-dir`` (default ``$GANZOO_DATA``, else
``../shared/data/mnist`` next to the repository) is searched for them; when
only the ``.gz`` files are there (the shared folder is read-only), they are
gunzipped once into ``--work-dir`` (default ``/tmp/ganzoo-baseline-data``,
i.e. ``/tmp/ganzoo-baseline-data/MNIST/raw/``) and torchvision reads them from
there. Nothing is downloaded.

Run (from the repository root)::

    python bench/baseline_dcgan.py                          # auto device, bs 64, 20 warm-up + 200 timed steps
    python bench/baseline_dcgan.py --device cpu --steps 30 --warmup 5
    python bench/baseline_dcgan.py --device cuda --batch-size 128 --json runs/baseline.json
    python bench/baseline_dcgan.py --image-size 32

It prints one line such as
``baseline dcgan mnist bs=64 device=cpu: 1234.5 img/s (200 steps, 10.4 s)`` and,
with ``--json PATH``, writes the numbers there.

Only APIs available in torch 2.11 / torchvision 0.26 (and older) are used.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import shutil
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.utils.data
from torch import nn

import ganzoo

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "mnist"
DEFAULT_WORK_DIR = Path("/tmp/ganzoo-baseline-data")

# torchvision.datasets.MNIST checks for all four extracted files (train and test).
MNIST_STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


# --------------------------------------------------------------------------- data


def _idx_complete(path: Path) -> bool:
    """True if ``path`` is an uncompressed IDX file whose length matches its header."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(4)
            if len(head) != 4 or head[0] != 0 or head[1] != 0 or head[2] != 0x08:
                return False
            ndim = head[3]
            dims = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
    except (OSError, struct.error):
        return False
    n = 1
    for d in dims:
        n *= d
    return size == 4 + 4 * ndim + n  # uint8 payload


def _find(root: Path, name: str) -> Path | None:
    """Look for ``name`` in the usual layouts: ROOT/MNIST/raw, ROOT/raw, ROOT."""
    for base in (root / "MNIST" / "raw", root / "raw", root):
        if (base / name).is_file():
            return base / name
    return None


def prepare_mnist_root(data_dir: Path, work_dir: Path) -> Path:
    """Return a folder ``R`` such that ``R/MNIST/raw/`` holds the four extracted IDX files.

    ``data_dir`` is used as is when it already has them in that layout; otherwise the
    files (extracted or ``.gz``) are found in ``data_dir`` and written to ``work_dir``.
    """
    if all(_idx_complete(data_dir / "MNIST" / "raw" / s) for s in MNIST_STEMS):
        return data_dir
    # Accept --work-dir given either as the torchvision root or as ROOT/MNIST/raw.
    if work_dir.name == "raw" and work_dir.parent.name == "MNIST":
        work_dir = work_dir.parent.parent
    raw = work_dir / "MNIST" / "raw"
    missing = [s for s in MNIST_STEMS if not _idx_complete(raw / s)]
    if not missing:
        return work_dir
    raw.mkdir(parents=True, exist_ok=True)
    for stem in missing:
        src = _find(data_dir, stem)
        if src is not None and _idx_complete(src):
            opener = open
        else:
            src = _find(data_dir, stem + ".gz")
            opener = gzip.open
        if src is None:
            sys.exit(
                f"error: {stem}(.gz) not found under {data_dir} (looked in MNIST/raw/, raw/ and the "
                f"folder itself); pass --data-dir or set $GANZOO_DATA"
            )
        tmp = raw / f".{stem}.{os.getpid()}.tmp"
        with opener(src, "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
        os.replace(tmp, raw / stem)  # atomic: no half-written file is ever seen as complete
        if not _idx_complete(raw / stem):
            sys.exit(f"error: {src} does not hold a valid IDX file")
    return work_dir


def build_loader(root: Path, image_size: int, batch_size: int, workers: int, pin_memory: bool, seed: int):
    import torchvision.datasets as dset
    import torchvision.transforms as transforms

    tfs = [transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]
    if image_size != 28:
        tfs.insert(0, transforms.Resize(image_size))
    dataset = dset.MNIST(root=str(root), train=True, download=False, transform=transforms.Compose(tfs))
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        pin_memory=pin_memory,
        drop_last=True,
        generator=torch.Generator().manual_seed(seed),
    )


def forever(loader) -> Iterator:
    """Batches from ``loader``, epoch after epoch."""
    while True:
        yield from loader


# --------------------------------------------------------------------------- helpers


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("error: --device cuda but torch.cuda.is_available() is False")
    return torch.device(name)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------- main


def parse_args(argv=None) -> argparse.Namespace:
    env = os.environ.get("GANZOO_DATA")
    p = argparse.ArgumentParser(
        description="pytorch/examples-style DCGAN training loop on MNIST (throughput baseline for ganzoo)"
    )
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: auto)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=200, help="timed training steps (default: 200)")
    p.add_argument("--warmup", type=int, default=20, help="untimed steps before timing (default: 20)")
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes (default: 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image-size", type=int, default=28, choices=(28, 32),
                   help="28 (native MNIST) or 32 (resized; builds dcgan with data_shape=(1, 32, 32))")
    p.add_argument("--data-dir", type=Path, default=Path(env) if env else DEFAULT_DATA_DIR,
                   help="folder with the MNIST IDX files, .gz or extracted, in MNIST/raw/, raw/ or itself "
                        "(default: $GANZOO_DATA, else ../shared/data/mnist next to the repository)")
    p.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR,
                   help="writable folder the .gz files are extracted into, as WORK_DIR/MNIST/raw/ "
                        f"(default: {DEFAULT_WORK_DIR})")
    p.add_argument("--log-every", type=int, default=0,
                   help="print the losses every N steps, like the example (default: 0, never)")
    p.add_argument("--json", type=Path, default=None, help="write the results to this JSON file")
    args = p.parse_args(argv)
    if args.batch_size < 1 or args.steps < 1 or args.warmup < 0 or args.workers < 0:
        p.error("--batch-size and --steps must be >= 1; --warmup and --workers >= 0")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    device = pick_device(args.device)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as in pytorch/examples dcgan/main.py

    # The same networks as ganzoo's "dcgan" model.
    if args.image_size == 28:
        gan = ganzoo.create("dcgan")
    else:
        gan = ganzoo.create("dcgan", data_shape=(1, args.image_size, args.image_size))
    netG = gan.generator.to(device)
    netD = gan.discriminator.to(device)
    nz = netG.latent_dim

    root = prepare_mnist_root(args.data_dir.expanduser(), args.work_dir.expanduser())
    loader = build_loader(root, args.image_size, args.batch_size, args.workers,
                          pin_memory=device.type == "cuda", seed=args.seed)
    if len(loader) == 0:
        sys.exit(f"error: batch size {args.batch_size} is larger than the dataset")

    criterion = nn.BCEWithLogitsLoss()
    real_label, fake_label = 1.0, 0.0
    optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    netG.train()
    netD.train()

    total = args.warmup + args.steps
    batches = forever(loader)
    t0 = None
    errD = errG = None
    for step in range(total):
        if step == args.warmup:
            sync(device)
            t0 = time.perf_counter()
        data = next(batches)

        ############################
        # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
        ###########################
        # train with real
        netD.zero_grad()
        real_cpu = data[0].to(device)
        batch_size = real_cpu.size(0)
        label = torch.full((batch_size,), real_label, dtype=real_cpu.dtype, device=device)
        output = netD(real_cpu)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.sigmoid().mean().item()

        # train with fake
        noise = torch.randn(batch_size, nz, 1, 1, device=device)
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.sigmoid().mean().item()
        errD = errD_real + errD_fake
        optimizerD.step()

        ############################
        # (2) Update G: maximize log(D(G(z)))
        ###########################
        netG.zero_grad()
        label.fill_(real_label)  # fake labels are real for generator cost
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.sigmoid().mean().item()
        optimizerG.step()

        loss_d, loss_g = errD.item(), errG.item()
        if args.log_every and (step + 1) % args.log_every == 0:
            print(f"[{step + 1}/{total}] Loss_D: {loss_d:.4f} Loss_G: {loss_g:.4f} "
                  f"D(x): {D_x:.4f} D(G(z)): {D_G_z1:.4f} / {D_G_z2:.4f}", flush=True)
    sync(device)
    seconds = time.perf_counter() - t0
    images_per_s = args.batch_size * args.steps / seconds

    result = {
        "impl": "pytorch-examples-style",
        "model": "dcgan",
        "dataset": "mnist",
        "image_size": args.image_size,
        "batch_size": args.batch_size,
        "device": device.type,
        "images_per_s": images_per_s,
        "steps": args.steps,
        "warmup": args.warmup,
        "seconds": seconds,
        "workers": args.workers,
        "final_loss_d": loss_d,
        "final_loss_g": loss_g,
        "torch": torch.__version__,
        "device_name": device_name(device),
    }
    size = "" if args.image_size == 28 else f" {args.image_size}x{args.image_size}"
    print(f"baseline dcgan mnist{size} bs={args.batch_size} device={device.type}: "
          f"{images_per_s:.1f} img/s ({args.steps} steps, {seconds:.1f} s)", flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
