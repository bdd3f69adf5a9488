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

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The public names are imported on first use (PEP 562), so that `import ganzoo` and the
# command line's `--help` do not pay for importing torch (seconds) before they need it.
_LAZY = {
    "plugins": "ganzoo.plugins",  # public: ganzoo.plugins.register_plugin
    "TrainConfig": "ganzoo.engine",
    "Trainer": "ganzoo.engine",
    "train": "ganzoo.engine",
    "push_to_hub": "ganzoo.zoo",
    "GAN": "ganzoo.interfaces",
    "Discriminator": "ganzoo.interfaces",
    "GANLoss": "ganzoo.interfaces",
    "Generator": "ganzoo.interfaces",
    "hookimpl": "ganzoo.plugins",
    "ModelSpec": "ganzoo.specs",
    "PretrainedEntry": "ganzoo.specs",
    "TrainDefaults": "ganzoo.specs",
    "create": "ganzoo.factory",
    "create_loss": "ganzoo.factory",
    "get_pretrained": "ganzoo.registry",
    "get_spec": "ganzoo.registry",
    "list_losses": "ganzoo.registry",
    "list_models": "ganzoo.registry",
    "list_pretrained": "ganzoo.registry",
    "load": "ganzoo.zoo",
    "save": "ganzoo.zoo",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")
    import importlib

    value = importlib.import_module(module)
    if name != "plugins":
        value = getattr(value, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # for type checkers and the API reference's static analysis
    from ganzoo import plugins
    from ganzoo.engine import TrainConfig, Trainer, train
    from ganzoo.factory import create, create_loss
    from ganzoo.interfaces import GAN, Discriminator, GANLoss, Generator
    from ganzoo.plugins import hookimpl
    from ganzoo.registry import (
        get_pretrained,
        get_spec,
        list_losses,
        list_models,
        list_pretrained,
    )
    from ganzoo.specs import ModelSpec, PretrainedEntry, TrainDefaults
    from ganzoo.zoo import load, push_to_hub, save

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
