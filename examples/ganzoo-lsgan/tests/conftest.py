"""Make the plugin known to ganzoo when it runs from a source checkout that is not installed."""

from __future__ import annotations

import importlib.metadata

import ganzoo

try:
    importlib.metadata.distribution("ganzoo-lsgan")
except importlib.metadata.PackageNotFoundError:  # not pip-installed: register the module by hand
    import ganzoo_lsgan

    if "lsgan" not in ganzoo.list_models():
        ganzoo.plugins.register_plugin(ganzoo_lsgan, name="lsgan")
