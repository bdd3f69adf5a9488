"""ganzoo: a GAN model zoo and plugin framework for PyTorch.

Example:
    >>> import ganzoo
    >>> gan = ganzoo.create("dcgan")
    >>> gan.generator.sample(2).shape
    torch.Size([2, 1, 28, 28])
    >>> ganzoo.load("dcgan-mnist").sample(2).shape
    torch.Size([2, 1, 28, 28])
"""

from __future__ import annotations

__version__ = "0.1.0"

from ganzoo import plugins  # noqa: E402  (public: ganzoo.plugins.register_plugin)
from ganzoo.engine import TrainConfig, Trainer, train  # noqa: E402
from ganzoo.hub import push_to_hub  # noqa: E402
from ganzoo.interfaces import GAN, Discriminator, GANLoss, Generator
from ganzoo.plugins import hookimpl
from ganzoo.registry import (
    ModelSpec,
    PretrainedEntry,
    TrainDefaults,
    create,
    create_loss,
    get_pretrained,
    get_spec,
    list_losses,
    list_models,
    list_pretrained,
)
from ganzoo.zoo import load, save  # noqa: E402

__all__ = [
    "GAN",
    "Discriminator",
    "GANLoss",
    "Generator",
    "ModelSpec",
    "PretrainedEntry",
    "TrainConfig",
    "TrainDefaults",
    "Trainer",
    "__version__",
    "create",
    "create_loss",
    "get_pretrained",
    "get_spec",
    "hookimpl",
    "list_losses",
    "list_models",
    "list_pretrained",
    "load",
    "plugins",
    "push_to_hub",
    "save",
    "train",
]
