"""The example third-party plugin in examples/ganzoo-lsgan, when it is installed.

Install it with ``pip install -e examples/ganzoo-lsgan``.
"""

from __future__ import annotations

import importlib.metadata

import pytest

import ganzoo
import ganzoo.testing

try:
    importlib.metadata.distribution("ganzoo-lsgan")
except importlib.metadata.PackageNotFoundError:
    pytest.skip(
        "the example plugin is not installed (pip install -e examples/ganzoo-lsgan)",
        allow_module_level=True,
    )


def test_lsgan_is_registered_by_its_own_distribution():
    assert "lsgan" in ganzoo.list_models()
    spec = ganzoo.get_spec("lsgan")
    assert spec.plugin == "lsgan"
    (info,) = [i for i in ganzoo.plugins.list_plugins() if i.name == spec.plugin]
    assert info.distribution == "ganzoo-lsgan"
    assert info.module == "ganzoo_lsgan"
    assert info.status == "ok"


def test_lsgan_defaults_follow_the_paper():
    gan = ganzoo.create("lsgan")
    assert gan.loss_name == "lsgan"
    assert gan.config["data_shape"] == (1, 28, 28)
    assert gan.config["num_classes"] is None
    assert gan.spec.train.betas == (0.5, 0.999)
    assert gan.spec.train.lr_g == gan.spec.train.lr_d == 2e-4
    assert "lsgan" in gan.spec.compatible_losses


@pytest.mark.parametrize("data_shape", [(1, 28, 28), (3, 32, 32)], ids=["28", "32"])
def test_lsgan_passes_the_conformance_kit(data_shape):
    ganzoo.testing.check_model("lsgan", data_shape=data_shape)


def test_lsgan_refuses_labels():
    with pytest.raises(ganzoo.errors.ConfigError, match="unconditional"):
        ganzoo.create("lsgan", num_classes=10)
