"""The FID Inception-v3 for RGB datasets: architecture, user-supplied weights, and CIFAR-10 evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import ganzoo.metrics.inception as inception
from ganzoo.errors import EvalError
from ganzoo.interfaces import Generator
from ganzoo.metrics import evaluate
from ganzoo.metrics.inception import FIDInceptionV3, convert, load_inception


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return FIDInceptionV3().eval()


def _file_state(net: FIDInceptionV3) -> dict[str, torch.Tensor]:
    return {k.removeprefix("stem."): v.clone() for k, v in net.state_dict().items()}


def test_architecture_and_key_names(net):
    state = _file_state(net)
    # The standard file's names (torchvision's module tree, 1008 logits, no auxiliary head).
    assert state["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)
    assert state["Mixed_7c.branch_pool.conv.weight"].shape == (192, 2048, 1, 1)
    assert state["fc.weight"].shape == (1008, 2048)
    assert not any(k.startswith("AuxLogits") for k in state)
    assert sum(p.numel() for p in net.parameters()) == 23_850_960
    with torch.no_grad():
        f, logits = net.features_and_logits(torch.rand(3, 1, 28, 28) * 2 - 1)  # grey, any size
    assert f.shape == (3, 2048) and logits.shape == (3, 1008) and torch.isfinite(f).all()


def test_fid_blocks_pool_like_the_tf_graph(net):
    """The FID blocks leave zero padding out of their average pools (A), and the last one max-pools."""
    from torchvision.models.inception import InceptionA, InceptionE

    x = torch.randn(1, 192, 9, 9)
    ours, theirs = net.stem["Mixed_5b"], InceptionA(192, pool_features=32).eval()
    theirs.load_state_dict(ours.state_dict())
    with torch.no_grad():
        a, b = ours(x), theirs(x)
    pool = slice(a.shape[1] - 32, None)  # the pool branch is last
    assert torch.allclose(a[:, :pool.start], b[:, :pool.start])  # other branches are the same
    assert torch.allclose(a[:, pool, 1:-1, 1:-1], b[:, pool, 1:-1, 1:-1], atol=1e-5)  # interior agrees
    assert not torch.allclose(a[:, pool, 0, 0], b[:, pool, 0, 0], atol=1e-4)  # the corners do not
    last, plain = net.stem["Mixed_7c"], InceptionE(2048).eval()
    plain.load_state_dict(last.state_dict())
    x = torch.randn(1, 2048, 4, 4)
    with torch.no_grad():
        assert not torch.allclose(last(x), plain(x), atol=1e-4)


def test_missing_weights_say_which_file_and_how_to_make_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GANZOO_INCEPTION_WEIGHTS", raising=False)
    with pytest.raises(EvalError) as info:
        load_inception()
    msg = str(info.value)
    assert str(tmp_path / "cache" / "weights" / "pt_inception-2015-12-05.safetensors") in msg
    assert "GANZOO_INCEPTION_WEIGHTS" in msg and "pt_inception-2015-12-05-6726825d.pth" in msg
    assert "ganzoo fetch inception --from pt_inception-2015-12-05-6726825d.pth" in msg

    class RGB(Generator):
        def __init__(self):
            super().__init__()
            self.latent_dim, self.output_shape = 4, (3, 32, 32)
            self.calls = 0

        def forward(self, z, y=None):
            self.calls += 1
            return torch.zeros(z.shape[0], 3, 32, 32)

    g = RGB()
    with pytest.raises(EvalError, match="Inception-v3 FID weights not found"):
        evaluate(g, "cifar10", tmp_path / "data", n=5000)
    assert g.calls == 0, "the missing file is reported before any sampling"


def test_convert_checks_the_file_and_round_trips(tmp_path, net):
    pth = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    state = _file_state(net)
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}  # like the real file
    torch.save(state, pth)
    with pytest.raises(EvalError, match="not the standard.*--any-file"):
        convert(pth, tmp_path / "w.safetensors")
    out = convert(pth, tmp_path / "w.safetensors", check_hash=False)
    loaded, record = load_inception(out)
    assert record["name"] == inception.NAME and len(record["sha256"]) == 64
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(loaded.features_and_logits(x)[0], net.features_and_logits(x)[0])
    torch.save({"fc.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(EvalError, match="not the FID Inception-v3 state dict"):
        convert(tmp_path / "other.pth", tmp_path / "x.safetensors", check_hash=False)
    save_file({"fc.weight": torch.zeros(1008, 2048)}, str(tmp_path / "partial.safetensors"))
    with pytest.raises(EvalError, match="does not hold the FID Inception-v3 weights"):
        load_inception(tmp_path / "partial.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(EvalError, match="not a readable safetensors file"):
        load_inception(tmp_path / "junk.safetensors")


class TinyFeatures(nn.Module):
    """A stand-in for Inception (8-d features) so the CIFAR-10 pipeline runs in a second."""

    feature_dim, num_classes = 8, 10

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.proj = nn.Linear(3 * 32 * 32, 8)
        self.fc = nn.Linear(8, 10)

    def features_and_logits(self, x):
        f = self.proj(x.flatten(1))
        return f, self.fc(f)


class Replay(Generator):
    def __init__(self, images):
        super().__init__()
        self.latent_dim, self.output_shape = 1, (3, 32, 32)
        self.register_buffer("images", images.float() / 127.5 - 1)
        self.pos = 0

    def forward(self, z, y=None):
        idx = (torch.arange(z.shape[0]) + self.pos) % len(self.images)
        self.pos += z.shape[0]
        return self.images[idx]


def test_cifar10_evaluation_pipeline(tmp_path, monkeypatch):
    folder = tmp_path / "data" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, n in [("test_batch.bin", 200)] + [(f"data_batch_{i}.bin", 60) for i in range(1, 6)]:
        rec = rng.integers(0, 256, (n, 3073), dtype=np.uint8)
        rec[:, 0] = np.arange(n) % 10
        rec.tofile(folder / name)
    monkeypatch.setattr(inception, "load_inception", lambda weights=None, device=None: (
        TinyFeatures().eval(), {"name": "tiny", "sha256": "0" * 64, "layer": "tiny", "test_accuracy": None}))
    from ganzoo.data import load_dataset

    test = load_dataset("cifar10", tmp_path / "data", split="test", download=False)
    res = evaluate(Replay(test.data), "cifar10", tmp_path / "data", n=200, metrics=["fid", "precision"],
                   cache_dir=tmp_path / "cache")
    assert res.metrics["fid"] < 1e-4 and res.metrics["precision"] == 1.0
    assert res.receipt["protocol"]["image_shape"] == [3, 32, 32]
    assert res.receipt["feature_network"]["name"] == "tiny" and res.floor["fid"] > 0
    noise = evaluate(Replay(torch.randint(0, 256, (200, 3, 32, 32), dtype=torch.uint8)), "cifar10",
                     tmp_path / "data", n=200, metrics=["fid"], cache_dir=tmp_path / "cache", floor=False)
    assert noise.metrics["fid"] > 0.01
    conditional = Replay(test.data)
    conditional.num_classes = 10
    with pytest.raises(EvalError, match="label_accuracy needs a classifier"):
        evaluate(conditional, "cifar10", tmp_path / "data", n=200, metrics=["label_accuracy"])
    with pytest.raises(EvalError, match=r"cifar10 images are \(3, 32, 32\)"):
        import ganzoo

        evaluate(ganzoo.create("dcgan", width=8).generator, "cifar10", tmp_path / "data", n=200)


def test_same_outputs_as_pytorch_fids_own_model_class(monkeypatch):
    """pytorch-fid's InceptionV3 with the same weights computes the same pool3 features and logits.

    pytorch-fid is not a ganzoo dependency (bench/inception_check.py has the full check,
    float32 and whole FID); this runs where it is installed, in float64 so that any
    difference beyond rounding is a difference of architecture.
    """
    pfi = pytest.importorskip("pytorch_fid.inception")
    torch.manual_seed(1)
    ours = FIDInceptionV3().double()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # non-trivial batch norms, so every one of them is exercised
        for bn in (m for m in ours.modules() if isinstance(m, nn.BatchNorm2d)):
            bn.running_mean.copy_(0.1 * torch.randn(bn.running_mean.shape, generator=g))
            bn.running_var.copy_(0.5 + torch.rand(bn.running_var.shape, generator=g))
    ours.eval()
    state = _file_state(ours)
    monkeypatch.setattr(pfi, "load_state_dict_from_url", lambda *a, **k: dict(state))
    theirs = pfi.InceptionV3([3], resize_input=True, normalize_input=True, use_fid_inception=True).double().eval()
    full = pfi.fid_inception_v3().double().eval()
    x = torch.rand(2, 1, 28, 28, generator=g, dtype=torch.float64)  # [0, 1], pytorch-fid's range
    with torch.no_grad():
        f, logits = ours.features_and_logits(x * 2 - 1)
        f_ref = theirs(x.expand(-1, 3, -1, -1))[0].flatten(1)
        x299 = torch.nn.functional.interpolate(x.expand(-1, 3, -1, -1), size=(299, 299), mode="bilinear",
                                               align_corners=False)
        logits_ref = full(x299 * 2 - 1)
    assert f.abs().max() > 1e-3  # not vanished to zero, so the comparison means something
    torch.testing.assert_close(f, f_ref, rtol=1e-9, atol=1e-9 * float(f_ref.abs().max()))
    torch.testing.assert_close(logits, logits_ref, rtol=1e-9, atol=1e-9 * float(logits_ref.abs().max()))
