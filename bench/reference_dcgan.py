"""Calibration references: a plain 32x32 DCGAN (and a plain MLP GAN) on MNIST, scored with ganzoo's protocol.

A known-good model to put ganzoo's families beside (issue 15): the DCGAN of Radford, Metz &
Chintala (2016, arXiv:1511.06434) the way pytorch/examples' ``dcgan/main.py`` writes it,
sized for 32x32 single-channel images, with nothing of ganzoo's engine or models:

* data: ``torchvision.datasets.MNIST`` (train split), padded by 2 to 32x32 and scaled to
  [-1, 1] (what ``Pad(2), ToTensor(), Normalize((0.5,), (0.5,))`` does, applied once to the
  whole tensor), shuffled by a ``DataLoader`` each epoch, last partial batch dropped;
* G: z (100) -> ConvT 4x4 to 256x4x4 -> 128x8x8 -> 64x16x16 -> 1x32x32, BatchNorm and ReLU,
  Tanh output; D: 1x32x32 -> 64x16x16 -> 128x8x8 -> 256x4x4 strided 4x4 convolutions,
  BatchNorm (not on the first), LeakyReLU(0.2), a 4x4 convolution to one logit;
* weights ~ N(0, 0.02), BatchNorm scales ~ N(1, 0.02); Adam(2e-4, betas (0.5, 0.999)) for
  both; batch 128; ``BCEWithLogitsLoss``; per batch one D step (real 1, fake 0) then one G
  step with the non-saturating loss (labels 1), as in the example.

``--arch mlp`` trains instead the plain MLP GAN most GAN tutorials and model collections write
(the reference for ganzoo's ``vanilla``; the GAN of Goodfellow et al. 2014 with the now-common
BatchNorm in G): G z (100) -> 128 -> 256 -> 512 -> 1024 -> 784, LeakyReLU(0.2), BatchNorm1d on
the 256/512/1024 layers (torch's default eps), Tanh; D 784 -> 512 -> 256 -> 1, LeakyReLU(0.2),
no dropout, no normalisation; torch's default Linear initialisation; 28x28 images (no padding);
the same Adam, loss and step order; its usual batch is 64 (``--batch-size 64``).

Scoring: the DCGAN's 32x32 samples are **center-cropped** back to 28x28 (rows and columns
2..29, the inverse of the padding) and scored by ``bench/quality.py``: ganzoo's
``metrics.evaluate`` (10,000 samples, seed 0, against the 10,000 MNIST test images in ganzoo's
MNIST classifier's feature space) plus the share of samples classified with p > 0.9.

    python bench/reference_dcgan.py --epochs 3 --data-dir ../shared/data/mnist \\
        --json bench/results/reference-dcgan-3ep.json

Writes the JSON result (settings, seconds per epoch, losses, scores) and, with
``--weights``, the generator's weights as safetensors.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
import torchvision
from safetensors.torch import save_file
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline_dcgan import DEFAULT_WORK_DIR, prepare_mnist_root  # noqa: E402  (gunzips the raw files)
from quality import score  # noqa: E402

import ganzoo  # noqa: E402

NZ, NGF, NDF = 100, 64, 64


class Generator32(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(NZ, NGF * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(NGF * 4), nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 4, NGF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF * 2), nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF), nn.ReLU(True),
            nn.ConvTranspose2d(NGF, 1, 4, 2, 1, bias=False), nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.main(z.view(-1, NZ, 1, 1))


class Discriminator32(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(1, NDF, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
            nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 2), nn.LeakyReLU(0.2, True),
            nn.Conv2d(NDF * 2, NDF * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 4), nn.LeakyReLU(0.2, True),
            nn.Conv2d(NDF * 4, 1, 4, 1, 0, bias=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x).view(-1)


def weights_init(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class GeneratorMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Linear(NZ, 128), nn.LeakyReLU(0.2, True),
            nn.Linear(128, 256), nn.BatchNorm1d(256), nn.LeakyReLU(0.2, True),
            nn.Linear(256, 512), nn.BatchNorm1d(512), nn.LeakyReLU(0.2, True),
            nn.Linear(512, 1024), nn.BatchNorm1d(1024), nn.LeakyReLU(0.2, True),
            nn.Linear(1024, 28 * 28), nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.main(z.view(-1, NZ)).view(-1, 1, 28, 28)


class DiscriminatorMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Linear(28 * 28, 512), nn.LeakyReLU(0.2, True),
            nn.Linear(512, 256), nn.LeakyReLU(0.2, True),
            nn.Linear(256, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x.flatten(1)).view(-1)


ARCHS = {  # --arch: (G, D, pad to 32x32, label)
    "dcgan": (Generator32, Discriminator32, True, "reference DCGAN 32x32"),
    "mlp": (GeneratorMLP, DiscriminatorMLP, False, "reference MLP GAN"),
}


class Cropped28(ganzoo.Generator):
    """A reference G as a ganzoo Generator for ``evaluate``: 32x32 output cropped to 28x28."""

    def __init__(self, net: nn.Module, crop: bool = True) -> None:
        super().__init__()
        self.net, self.latent_dim, self.num_classes, self.output_shape = net, NZ, None, (1, 28, 28)
        self.crop = crop

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        x = self.net(z)
        return x[:, :, 2:30, 2:30] if self.crop else x


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", choices=sorted(ARCHS), default=None,
                   help="dcgan: the 32x32 DCGAN (default); mlp: the plain MLP GAN (--rescore: the result's)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--data-dir", type=Path,
                   default=Path(os.environ.get("GANZOO_DATA") or Path(__file__).resolve().parents[2] / "shared/data/mnist"))
    p.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR, help="where the .gz files are extracted")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu or cuda (scoring runs where G is)")
    p.add_argument("--json", type=Path, default=None, help="write the result here")
    p.add_argument("--weights", type=Path, default=None, help="save G's weights here (safetensors)")
    p.add_argument("--rescore", action="store_true",
                   help="train nothing: score the G saved at --weights again and update --json's score")
    args = p.parse_args(argv)
    if args.rescore:
        return rescore(args)
    args.arch = args.arch or "dcgan"
    torch.manual_seed(args.seed)
    make_g, make_d, pad, name = ARCHS[args.arch]

    mnist = torchvision.datasets.MNIST(str(prepare_mnist_root(args.data_dir, args.work_dir)), train=True)
    x = mnist.data.float().div(255).unsqueeze(1)
    x = (nn.functional.pad(x, (2, 2, 2, 2)) if pad else x).sub(0.5).div(0.5)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=args.batch_size,
                                         shuffle=True, drop_last=True)
    device = torch.device(args.device)

    netG, netD = make_g().to(device), make_d().to(device)
    if args.arch == "dcgan":
        netG.apply(weights_init)
        netD.apply(weights_init)
    criterion = nn.BCEWithLogitsLoss()
    optD = torch.optim.Adam(netD.parameters(), lr=args.lr, betas=(0.5, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=args.lr, betas=(0.5, 0.999))

    log, t0 = [], time.perf_counter()
    for epoch in range(args.epochs):
        te = time.perf_counter()
        for i, (real,) in enumerate(loader):
            real = real.to(device)
            b = real.size(0)
            ones, zeros = torch.ones(b, device=device), torch.zeros(b, device=device)
            # D: maximise log D(x) + log(1 - D(G(z)))
            netD.zero_grad()
            fake = netG(torch.randn(b, NZ, device=device))
            errD = criterion(netD(real), ones) + criterion(netD(fake.detach()), zeros)
            errD.backward()
            optD.step()
            # G: maximise log D(G(z)) (the non-saturating loss)
            netG.zero_grad()
            errG = criterion(netD(fake), ones)
            errG.backward()
            optG.step()
            if i % 100 == 0:
                print(f"[{epoch + 1}/{args.epochs}][{i}/{len(loader)}] loss_D {errD.item():.3f} "
                      f"loss_G {errG.item():.3f}", flush=True)
        log.append({"epoch": epoch + 1, "seconds": round(time.perf_counter() - te, 1),
                    "loss_d": errD.item(), "loss_g": errG.item()})
    train_s = time.perf_counter() - t0

    if args.weights:
        args.weights.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in netG.state_dict().items()}, str(args.weights))
    result = {
        "model": f"{name} (bench/reference_dcgan.py{' --arch mlp' if args.arch == 'mlp' else ''})",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python bench/reference_dcgan.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": (torch.cuda.get_device_name(device) if device.type == "cuda" else
                    f"{platform.machine()} CPU, {torch.get_num_threads()} threads") + f", torch {torch.__version__}",
        "settings": {"arch": args.arch, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                     "betas": [0.5, 0.999], "seed": args.seed, "steps": args.epochs * len(loader)},
        "params": {"G": sum(q.numel() for q in netG.parameters()), "D": sum(q.numel() for q in netD.parameters())},
        "train_seconds": round(train_s, 1),
        "epochs_log": log,
        "scoring": ("32x32 samples center-cropped to 28x28 (rows/cols 2..29)" if pad else "28x28 samples")
        + ", G in eval mode",
        "score": score(Cropped28(netG, crop=pad), args.data_dir, f"{name}, raw G"),
    }
    print(json.dumps({k: result[k] for k in ("train_seconds", "params")}), json.dumps(
        {k: result["score"][k] for k in ("fid", "precision", "recall", "confident")}), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


def rescore(args: argparse.Namespace) -> None:
    """Score a saved reference G again (e.g. after the protocol gained a second network)."""
    from safetensors.torch import load_file

    if args.weights is None or args.json is None:
        raise SystemExit("--rescore needs --weights (the saved G) and --json (the result to update)")
    result = json.loads(args.json.read_text())
    # the result names its arch (results of the first MLP runs only in their label)
    arch = args.arch or result.get("settings", {}).get("arch") or ("mlp" if "MLP" in result.get("model", "") else "dcgan")
    make_g, _, pad, name = ARCHS[arch]
    net = make_g()
    net.load_state_dict(load_file(str(args.weights)))
    result["score"] = score(Cropped28(net.to(args.device), crop=pad), args.data_dir, f"{name}, raw G")
    result["rescored"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result["score"][k] for k in ("fid", "precision", "recall", "confident")}), flush=True)


if __name__ == "__main__":
    main()
