"""Errors ganzoo raises for user mistakes: each names the bad value and the next step."""

from __future__ import annotations

import difflib


class GanzooError(Exception):
    """Base class of ganzoo's own errors (the CLI prints these without a traceback)."""


class UnknownNameError(GanzooError, KeyError):
    """An unknown model, loss or dataset name."""

    def __init__(self, kind: str, name: str, known: list[str], hint: str = "", extra: str = ""):
        self.kind, self.name, self.known = kind, name, known
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        msg = f"unknown {kind} {name!r}"
        if close:
            msg += "; did you mean " + " or ".join(repr(c) for c in close) + "?"
        elif known:
            msg += f"; known {kind}s: " + ", ".join(sorted(known))
        if hint:
            msg += f" ({hint})"
        if extra:
            msg += "\n" + extra
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class PluginError(GanzooError):
    """A plugin failed to load or raised inside a hook."""


class DuplicateNameError(GanzooError):
    """Two plugins registered the same name."""


class IncompatibleLossError(GanzooError, ValueError):
    """A loss that cannot train the given model."""


class ConfigError(GanzooError, ValueError):
    """A bad configuration value."""


class DataError(GanzooError):
    """A dataset that is missing, unreadable or does not fit the model."""


class DataNotFoundError(DataError):
    """A dataset's files are not there (and were not, or could not be, downloaded)."""


class CheckpointError(GanzooError):
    """A missing, corrupt or mismatched checkpoint."""


class DivergenceError(GanzooError):
    """Training produced a NaN or infinite loss."""


class EvalError(GanzooError, ValueError):
    """An evaluation that cannot give a meaningful number: bad samples, shapes or settings."""


class BundleError(CheckpointError):
    """A bundle (``ganzoo.json`` plus safetensors) that is missing, corrupt or does not fit."""


class HubError(GanzooError):
    """A Hugging Face Hub request that failed: not found, unauthorized, offline and not cached."""
