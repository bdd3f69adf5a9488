"""WGAN-GP: Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville (2017), "Improved Training
of Wasserstein GANs", NeurIPS. arXiv:1704.00028.

A DCGAN-shaped generator and a critic without BatchNorm (the gradient penalty
is per sample; the paper's Algorithm 1 uses no critic batch normalisation),
trained with ``E[D(fake)] - E[D(real)] + 10 * E[(||grad D(x_hat)||_2 - 1)^2]``,
five critic steps per generator step and Adam(1e-4, betas=(0.0, 0.9)).

Code: Apache-2.0, part of ganzoo.
"""

from __future__ import annotations

from ganzoo_dcgan import DCGANDiscriminator, DCGANGenerator

from ganzoo import ModelSpec, PretrainedEntry, TrainDefaults, hookimpl
from ganzoo.errors import ConfigError


def build(data_shape=(1, 28, 28), latent_dim=128, num_classes=None, width=64, critic_norm=None):
    """``critic_norm``: None (the paper's default) or ``"layer"``; never BatchNorm."""
    if num_classes is not None:
        raise ConfigError("wgan-gp is unconditional; use 'cgan' for class-conditional generation")
    if critic_norm == "batch":
        raise ConfigError("wgan-gp's critic cannot use BatchNorm (the gradient penalty is per sample); use None or 'layer'")
    return DCGANGenerator(data_shape, latent_dim, width), DCGANDiscriminator(data_shape, width, norm=critic_norm)


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
            defaults={"data_shape": (1, 28, 28), "latent_dim": 128, "num_classes": None, "width": 64},
            train=TrainDefaults(loss="wgan-gp", lr_g=1e-4, lr_d=1e-4, betas=(0.0, 0.9), batch_size=64, n_critic=5),
            compatible_losses=("wgan-gp", "hinge", "lsgan", "non-saturating", "minimax"),
            datasets=("mnist", "fashion-mnist", "cifar10", "folder"),
            pretrained=pretrained,
            description="Wasserstein GAN with gradient penalty; DCGAN-shaped critic without BatchNorm",
        )
    )
