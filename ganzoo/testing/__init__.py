"""A conformance kit: the checks every registered model must pass.

Plugin authors run it on their own models; ganzoo's test suite runs it on every
model in the registry. :func:`check_model` builds a model and runs all checks;
each check is also a public function taking a :class:`ganzoo.GAN`, so pytest
can parametrise over them and report each one separately. A failed check
raises :class:`ConformanceError` (an ``AssertionError``) naming the model, the
check and what was wrong.

The checks use small batches and run on the model's device (CPU for a model
fresh from :func:`ganzoo.create`). They leave the model as they found it:
weights, BatchNorm statistics and train/eval modes are restored, and
parameters' ``.grad`` is not touched.

Example:
    In a plugin's test suite::

        import ganzoo
        import pytest
        from ganzoo.testing import CHECKS, check_model

        def test_mygan_conforms():
            check_model("mygan")

        @pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
        def test_mygan_at_32(check):
            check(ganzoo.create("mygan", data_shape=(3, 32, 32)))
"""

from __future__ import annotations

from ganzoo.testing.datasets import check_dataset
from ganzoo.testing.feature_networks import check_feature_network
from ganzoo.testing.hub import LocalHub, local_hub
from ganzoo.testing.losses import check_loss
from ganzoo.testing.models import (
    CHECKS,
    check_conditioning,
    check_determinism,
    check_discriminator_output,
    check_gradients,
    check_image_range,
    check_interface,
    check_losses_finite,
    check_model,
    check_output_shape,
    check_safetensors_roundtrip,
)
from ganzoo.testing.report import ConformanceError, ConformanceReport

__all__ = [
    "CHECKS",
    "ConformanceError",
    "ConformanceReport",
    "check_conditioning",
    "check_dataset",
    "check_feature_network",
    "check_determinism",
    "check_discriminator_output",
    "check_gradients",
    "check_image_range",
    "check_interface",
    "check_loss",
    "check_losses_finite",
    "check_model",
    "check_output_shape",
    "check_safetensors_roundtrip",
    "LocalHub",
    "local_hub",
]
