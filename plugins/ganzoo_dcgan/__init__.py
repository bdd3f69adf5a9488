"""DCGAN: Radford, Metz & Chintala (2016), "Unsupervised Representation Learning with
Deep Convolutional Generative Adversarial Networks", ICLR. arXiv:1511.06434.

The architecture rules of section 3: strided convolutions instead of pooling,
BatchNorm in both networks (not on G's output or D's input), ReLU in G with a
Tanh output, LeakyReLU(0.2) in D, weights from N(0, 0.02), Adam with lr 2e-4
and beta1 0.5. For 32x32 and 64x64 images, the paper's stacks from and to 4x4
maps. For 28x28 MNIST, ``plan`` chooses (issue 15, bench/RESULTS.md, "Calibration
against a reference DCGAN"):

* ``"pad"`` (the default): the 32x32 nets themselves; D pads images with background to
  32x32 and G's 32x32 output is cropped back to 28x28, like training on MNIST padded by 2
  (at sizes that are already powers of two, such as CIFAR-10's 32x32, it pads nothing);
* ``"4x4"``: 28 -> 14 -> 7 -> 4, three strided convolutions in D with 64-128-256 channels
  and G from 256 channels, as deep and wide as the 32x32 DCGAN (the 7 <-> 4 step uses a
  3x3 kernel); 0.6x the compute of ``"pad"``, but clearly worse in the calibration;
* ``"legacy"``: ganzoo 0.1's nets (7x7 start, two strided convolutions in D, G from
  128 channels); bundles saved before ``plan`` existed rebuild these.

Code: Apache-2.0, part of ganzoo.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ganzoo import ModelSpec, PretrainedEntry, TrainDefaults, hookimpl
from ganzoo.specs import Lazy

# The networks live in .nets and are imported when a model is first built, so registering
# this family (every `ganzoo list`) does not import torch. Their names read as before:
# ganzoo_dcgan.build, ganzoo_dcgan.<network class> (PEP 562).
build = Lazy("ganzoo_dcgan.nets:build")


def __getattr__(name: str) -> Any:
    if name.startswith("__") or name == "nets":
        raise AttributeError(f"module 'ganzoo_dcgan' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module("ganzoo_dcgan.nets"), name)


# Pretrained generators: bundles shipped in this package (sha256-checked at load), trained with
# ganzoo's own engine (both on a 2-core CPU, 2026-12-01); scripts/train_zoo.sh has the
# commands, scripts/build_zoo.py built and evaluated the bundles (numbers: bench/RESULTS.md).
pretrained = {
    "dcgan-mnist": PretrainedEntry.shipped(
        __file__, "dcgan-mnist", dataset="mnist", hub_repo="ganzoo/dcgan-mnist",
        sha256="2caba0e04928228949b6aea4a96b375f9f741088478f9ae78d66f9a881df2efd",
        description="DCGAN (32x32 nets, plan pad), 20 epochs of MNIST on a CPU, EMA generator; FID 0.76 "
                    "(the 276-epoch bundle it replaced: 2.54)",
    ),
    # Trained on a 2-core CPU (scripts/train_zoo.sh dcgan-fashion, FASHION_EPOCHS=20), 2026-12-01.
    "dcgan-fashion-mnist": PretrainedEntry.shipped(
        __file__, "dcgan-fashion-mnist", dataset="fashion-mnist", hub_repo="ganzoo/dcgan-fashion-mnist",
        sha256="f5c9504625a506892a50f25465aa0b805c8bb78eb26d9c53fa3ef1e5a50b4357",
        description="DCGAN (32x32 nets, plan pad), 20 epochs of Fashion-MNIST on a CPU, EMA generator; FID 0.97 "
                    "(real data 0.11)",
    ),
}


# The paper trained on LSUN, ImageNet and faces with batch 128. On the 28x28 MNIST family the
# same recipe at batch 64 (pytorch/examples' choice) takes twice the steps per epoch, which is
# what a short run needs: one CPU epoch gave FID 31 at batch 64 against 120 at batch 128
# (bench/RESULTS.md, "One epoch on the CPU"). Everything else is the paper's.
PAPER_RECIPE = TrainDefaults(loss="non-saturating", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch_size=128)
_MNIST_RECIPE = replace(PAPER_RECIPE, batch_size=64)


@hookimpl
def ganzoo_register_models(register):
    register(
        ModelSpec(
            name="dcgan",
            family="dcgan",
            paper="Radford, Metz & Chintala 2016, arXiv:1511.06434",
            build=build,
            defaults={"data_shape": (1, 28, 28), "latent_dim": 100, "num_classes": None, "width": 64,
                      # Chosen by bench/RESULTS.md's calibration: after 5 epochs at the paper's
                      # recipe, "pad" beat the reference DCGAN and "4x4" lost to it (FID 4.6 and
                      # 8.2 against 5.5 on ganzoo's classifier; 3.5 and 7.0 against 4.3 on the
                      # cross-check network).
                      "plan": "pad"},
            saved_defaults={"plan": "legacy"},  # bundles saved before `plan` existed
            train=PAPER_RECIPE,
            recipes={"mnist": _MNIST_RECIPE, "fashion-mnist": _MNIST_RECIPE},
            compatible_losses=("non-saturating", "minimax", "hinge", "lsgan"),
            datasets=("mnist", "fashion-mnist", "cifar10", "folder"),
            pretrained=pretrained,
            description="Deep convolutional GAN: strided convs, BatchNorm, ReLU/LeakyReLU, Tanh",
        )
    )
