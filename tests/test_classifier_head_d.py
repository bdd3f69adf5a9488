"""#25 item 6: the conformance kit and an auxiliary-classifier (AC-GAN) discriminator.

Such a D has ``num_classes`` (its class head) but predicts labels instead of taking them; it
declares ``takes_labels = False``, and the kit checks that it scores without labels instead of
failing it for "ignoring its labels".
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import Tensor, nn

import ganzoo
from ganzoo.interfaces import d_takes_labels
from ganzoo.testing import ConformanceError, check_conditioning


class ClassHeadD(ganzoo.Discriminator):
    takes_labels = False

    def __init__(self, inner: nn.Module, num_classes: int):
        super().__init__()
        self.inner, self.num_classes, self.input_shape = inner, num_classes, inner.input_shape
        self.head = nn.Linear(1, num_classes)  # predicts the class from the score, a stand-in head

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        ones = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        return self.inner(x, ones)  # its labels are predicted, never taken

    def classify(self, x: Tensor) -> Tensor:
        return self.head(self.forward(x)[:, None])


def _acgan_like(takes_labels: bool) -> ganzoo.GAN:
    gan = ganzoo.create("cgan")
    d = ClassHeadD(gan.discriminator, gan.generator.num_classes)
    if takes_labels:
        d.takes_labels = None  # today's rule: num_classes set means "takes labels"
    return dataclasses.replace(gan, discriminator=d)


def test_a_classifier_head_d_passes_when_it_says_so():
    gan = _acgan_like(takes_labels=False)
    assert not d_takes_labels(gan.discriminator)
    check_conditioning(gan)


def test_without_the_flag_it_is_checked_as_a_label_taking_d():
    with pytest.raises(ConformanceError, match="ignores its labels.*takes_labels = False"):
        check_conditioning(_acgan_like(takes_labels=True))
