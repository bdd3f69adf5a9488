"""Device names from the user, checked: ``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``."""

from __future__ import annotations

import torch

from ganzoo.errors import ConfigError


def pick_device(name: str | torch.device | None, default_index: int = 0) -> torch.device:
    """The :class:`torch.device` that ``name`` means, or a one-line error naming the fix.

    ``auto`` (or None) is the CUDA device ``default_index`` when one is visible, else the CPU.

    Example:
        >>> from ganzoo.devices import pick_device
        >>> pick_device("cpu")
        device(type='cpu')
    """
    if name is None or name == "auto":
        return torch.device("cuda", default_index) if torch.cuda.is_available() else torch.device("cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} asked for, but this torch sees no CUDA GPU; use --device cpu")
        if dev.index is None:
            dev = torch.device("cuda", default_index)
        if dev.index >= torch.cuda.device_count():
            raise ConfigError(f"device {name!r} asked for, but this machine has {torch.cuda.device_count()} "
                              f"CUDA GPU(s): cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ConfigError(f"device {name!r} asked for, but MPS is not available here; use --device cpu")
    elif dev.type != "cpu":
        raise ConfigError(f"device {name!r} is not supported; use auto, cpu, cuda or cuda:N")
    return dev
