"""WGAN-GP: Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville (2017), "Improved Training
of Wasserstein GANs", NeurIPS. arXiv:1704.00028.

Trained with ``E[D(fake)] - E[D(real)] + 10 * E[(||grad D(x_hat)||_2 - 1)^2]``, five critic
steps per generator step and Adam(1e-4, betas=(0.0, 0.9)). The networks (``arch="paper"``,
the default) follow the shape of the paper's MNIST models in its released code: G projects z
with a linear layer to a 4x4 map of ``4 * width`` channels, then 5x5 transposed convolutions
with stride 2 and ReLU (no BatchNorm) halve the channels while doubling the size, cropping 8x8
to 7x7 on the way to 28x28, and end in Tanh; the critic mirrors it with 5x5 stride-2
convolutions of ``width``, ``2 * width`` and ``4 * width`` channels, LeakyReLU(0.2), no
normalisation (the gradient penalty is per sample: Algorithm 1 uses no critic BatchNorm) and
a linear layer to one score. ``arch="dcgan"`` rebuilds ganzoo 0.1's networks (dcgan's legacy
28x28 stacks: two convolutions in the critic, G from 128 channels), which bundles saved
before ``arch`` existed were trained with.

Code: Apache-2.0, part of ganzoo.
"""

from __future__ import annotations

from typing import Any

from ganzoo import ModelSpec, PretrainedEntry, TrainDefaults, hookimpl
from ganzoo.specs import Lazy

# The networks live in .nets and are imported when a model is first built, so registering
# this family (every `ganzoo list`) does not import torch. Their names read as before:
# ganzoo_wgan_gp.build, ganzoo_wgan_gp.<network class> (PEP 562).
build = Lazy("ganzoo_wgan_gp.nets:build")


def __getattr__(name: str) -> Any:
    if name.startswith("__") or name == "nets":
        raise AttributeError(f"module 'ganzoo_wgan_gp' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module("ganzoo_wgan_gp.nets"), name)


# Pretrained generators: bundles shipped in this package (sha256-checked at load), trained on a
# lent GPU with ganzoo's own engine; scripts/train_zoo.sh has the commands, scripts/build_zoo.py
# built and evaluated the bundles (numbers: bench/RESULTS.md).
pretrained = {
    "wgan-gp-mnist": PretrainedEntry.shipped(
        __file__, "wgan-gp-mnist", dataset="mnist", hub_repo="ganzoo/wgan-gp-mnist", sha256="2ec849330bf7c4fe5b093c733729642d0d27bc3c3c3e13fc048a1cab22ac8783",
        description="WGAN-GP, 131 epochs of MNIST, EMA generator; FID 2.13 (paper recipe, 30 epochs: 7.56)",
    ),
}


@hookimpl
def ganzoo_register_models(register):
    register(
        ModelSpec(
            name="wgan-gp",
            family="wgan-gp",
            paper="Gulrajani et al. 2017, arXiv:1704.00028",
            build=build,
            defaults={"data_shape": (1, 28, 28), "latent_dim": 128, "num_classes": None, "width": 64,
                      "arch": "paper"},
            saved_defaults={"arch": "dcgan"},  # bundles saved before `arch` existed
            train=TrainDefaults(loss="wgan-gp", lr_g=1e-4, lr_d=1e-4, betas=(0.0, 0.9), batch_size=64, n_critic=5),
            compatible_losses=("wgan-gp", "hinge", "lsgan", "non-saturating", "minimax"),
            datasets=("mnist", "fashion-mnist", "cifar10", "folder"),
            pretrained=pretrained,
            description="Wasserstein GAN with gradient penalty; the paper's conv nets, critic without BatchNorm",
        )
    )
