"""Vanilla GAN: Goodfellow et al. (2014), "Generative Adversarial Nets", NeurIPS.
arXiv:1406.2661.

Multilayer perceptrons for G and D, trained with the minimax objective
(``minimax``) or its non-saturating variant (``non-saturating``, the default,
section 3 of the paper). One model serves flattened images (``data_shape``
``(C, H, W)``, Tanh output in [-1, 1]) and 2-D points (``data_shape=(2,)``,
raw linear output) such as the ``ring8`` and ``grid25`` toys. Departures from
the paper, for stability with Adam: LeakyReLU(0.2) in D instead of maxout, and for
images BatchNorm after each hidden layer of G (as most MLP-GAN implementations have it).

Code: Apache-2.0, part of ganzoo.
"""

from __future__ import annotations

from typing import Any

from ganzoo import ModelSpec, PretrainedEntry, TrainDefaults, hookimpl
from ganzoo.specs import Lazy

# The networks live in .nets and are imported when a model is first built, so registering
# this family (every `ganzoo list`) does not import torch. Their names read as before:
# ganzoo_vanilla.build, ganzoo_vanilla.<network class> (PEP 562).
build = Lazy("ganzoo_vanilla.nets:build")


def __getattr__(name: str) -> Any:
    if name.startswith("__") or name == "nets":
        raise AttributeError(f"module 'ganzoo_vanilla' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module("ganzoo_vanilla.nets"), name)


# Pretrained generators: bundles shipped in this package (sha256-checked at load), trained on a
# lent GPU with ganzoo's own engine; scripts/train_zoo.sh has the commands, scripts/build_zoo.py
# built and evaluated the bundles (numbers: bench/RESULTS.md).
pretrained = {
    "vanilla-mnist": PretrainedEntry.shipped(
        __file__, "vanilla-mnist", dataset="mnist", hub_repo="ganzoo/vanilla-mnist", sha256="920787a9a35211f94f3556fa070d575ffece245489a0db66b8be7e6ded22984d",
        description="MLP GAN, 100 epochs of MNIST, EMA generator; FID 3.50 (paper recipe, 30 epochs: 7.76)",
    ),
}

# The 2-D toys need another recipe than MNIST: a 2-D latent (as in PacGAN's code), narrower
# MLPs, a larger batch and learning rate, hinge loss. bench/RESULTS.md ("2-D toys") shows how it was
# chosen; over 10 seeds it covers 8/8 ring8 modes with 96.4% high-quality samples (20k steps)
# and 25/25 grid25 modes with 92.3% (10k steps).
_TOY = dict(
    loss="hinge", lr_g=1e-3, lr_d=1e-3, betas=(0.0, 0.9), batch_size=256,
    model_args={"latent_dim": 2, "g_hidden": (128, 128, 128), "d_hidden": (128, 128, 128)},
)
TOY_RECIPES = {
    "ring8": TrainDefaults(**_TOY, steps=20_000),
    "grid25": TrainDefaults(**_TOY, steps=10_000),
    # Any other 2-D point dataset (a plugin's, say) gets the toy recipe too, by its kind.
    "points-2d": TrainDefaults(**_TOY, steps=10_000),
}


@hookimpl
def ganzoo_register_models(register):
    register(
        ModelSpec(
            name="vanilla",
            family="vanilla",
            paper="Goodfellow et al. 2014, arXiv:1406.2661",
            build=build,
            # g_norm None: BatchNorm in G for images, none for points (build() decides by data_shape).
            # dropout None: 0.3 for images with g_norm "none", else 0 (recorded, so saved files say so).
            defaults={"data_shape": (1, 28, 28), "latent_dim": 100, "num_classes": None, "g_norm": None,
                      "dropout": None},
            saved_defaults={"g_norm": "none"},  # bundles saved before `g_norm` existed: no BatchNorm
            train=TrainDefaults(loss="non-saturating", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch_size=64),
            compatible_losses=("non-saturating", "minimax", "hinge", "lsgan", "wgan-gp"),
            datasets=("mnist", "fashion-mnist", "ring8", "grid25"),
            pretrained=pretrained,
            recipes=TOY_RECIPES,
            description="MLP generator and discriminator, for flattened images and 2-D points",
        )
    )
