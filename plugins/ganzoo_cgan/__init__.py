"""Conditional GAN: Mirza & Osindero (2014), "Conditional Generative Adversarial Nets".
arXiv:1411.1784. Discriminator conditioning by projection: Miyato & Koyama (2018),
"cGANs with Projection Discriminator", ICLR. arXiv:1802.05637.

G upsamples the noise with DCGAN's blocks and receives the class through
class-conditional BatchNorm (or, with ``conditioning="concat"``, as a label
embedding concatenated to the noise, as in Mirza & Osindero). D scores
``psi(phi(x)) + <embed(y), phi(x)>``: the projection form. We chose projection
over concatenating labels to D's input because it follows from the
probabilistic model of the conditional likelihood ratio and, in Miyato &
Koyama's experiments, gives clearly better class fidelity; it also keeps D's
convolutional body identical to the unconditional one.

As in that paper, D uses spectral normalisation (Miyato et al. 2018) instead of
BatchNorm, and the default loss is the hinge loss. Our first version paired the
projection with a BatchNorm D and the non-saturating loss; trained 30 epochs on
MNIST it collapsed within classes (every sample of a class nearly identical),
which is why the paper's pairing is the default here.

Code: Apache-2.0, part of ganzoo.
"""

from __future__ import annotations

from typing import Any

from ganzoo import ModelSpec, PretrainedEntry, TrainDefaults, hookimpl
from ganzoo.specs import Lazy

# The networks live in .nets and are imported when a model is first built, so registering
# this family (every `ganzoo list`) does not import torch. Their names read as before:
# ganzoo_cgan.build, ganzoo_cgan.<network class> (PEP 562).
build = Lazy("ganzoo_cgan.nets:build")


def __getattr__(name: str) -> Any:
    if name.startswith("__") or name == "nets":
        raise AttributeError(f"module 'ganzoo_cgan' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module("ganzoo_cgan.nets"), name)


# Pretrained generators: bundles shipped in this package (sha256-checked at load), trained on a
# lent GPU with ganzoo's own engine; scripts/train_zoo.sh has the commands, scripts/build_zoo.py
# built and evaluated the bundles (numbers: bench/RESULTS.md).
pretrained = {
    "cgan-mnist": PretrainedEntry.shipped(
        __file__, "cgan-mnist", dataset="mnist", hub_repo="ganzoo/cgan-mnist", sha256="a82bd1a88805c31ceba26d8135df58ac4f3510011241e5b5f9525fb837caf355",
        description="class-conditional, 30 epochs of MNIST, EMA generator; FID 0.44, asked-for label 98.3%",
    ),
    # Trained on a 2-core CPU (scripts/train_zoo.sh cgan-fashion, FASHION_EPOCHS=20), 2026-12-01.
    "cgan-fashion-mnist": PretrainedEntry.shipped(
        __file__, "cgan-fashion-mnist", dataset="fashion-mnist", hub_repo="ganzoo/cgan-fashion-mnist",
        sha256="5dd2e021556be754daec23dee3288533d142b5c5e52131aec9d5f75c361a8994",
        description="class-conditional, 20 epochs of Fashion-MNIST, EMA generator; FID 3.21 (real data 0.11), "
                    "asked-for class 90.9% (real images 93.1%)",
    ),
}


@hookimpl
def ganzoo_register_models(register):
    register(
        ModelSpec(
            name="cgan",
            family="cgan",
            paper=("Mirza & Osindero 2014, arXiv:1411.1784; projection D: Miyato & Koyama 2018, "
                   "arXiv:1802.05637; spectral norm: Miyato et al. 2018, arXiv:1802.05957"),
            build=build,
            defaults={"data_shape": (1, 28, 28), "latent_dim": 100, "num_classes": 10, "embed_dim": 50, "width": 64,
                      "conditioning": "cbn"},
            train=TrainDefaults(loss="hinge", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch_size=128),
            compatible_losses=("hinge", "non-saturating", "minimax", "lsgan", "wgan-gp"),
            datasets=("mnist", "fashion-mnist", "cifar10"),
            pretrained=pretrained,
            description="Class-conditional GAN: conditional-BatchNorm G, spectral-norm projection D",
        )
    )
