"""Issue #25, items 4 and 5: a two-headed D (extras) trained under --compile and DDP, the loss
reaching the plugin's own module, and which labels the fakes get (``GANLoss.fake_labels``)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo.engine import TrainConfig, Trainer
from ganzoo.errors import ConfigError
from ganzoo.interfaces import plugin_module, scores_and_extras
from ganzoo.testing import ConformanceError, check_discriminator_output, check_loss, check_model

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ganzoo-lsgan"
try:
    importlib.metadata.distribution("ganzoo-lsgan")
except importlib.metadata.PackageNotFoundError:  # a source checkout: register the example by hand
    sys.path.insert(0, str(EXAMPLE))

import ganzoo_lsgan  # noqa: E402

QUIET = {"quiet": True, "sample_every": 10**9, "checkpoint_every": 10**9, "device": "cpu"}
SMALL = {"dataset": "mnist", "batch_size": 8, "model_args": {"width": 8}}


@pytest.fixture(autouse=True)
def _example_plugin():
    """The example plugin's models, registered by hand in a source checkout (other tests reset the plugins)."""
    if "lsgan-ac" not in ganzoo.list_models():
        ganzoo.plugins.register_plugin(ganzoo_lsgan, name="lsgan")


@pytest.fixture(autouse=True)
def _mnist(request, monkeypatch):
    """The training tests train on MNIST: $GANZOO_DATA for them (and their subprocesses), or a skip."""
    if request.node.get_closest_marker("data"):
        monkeypatch.setenv("GANZOO_DATA", str(request.getfixturevalue("mnist_dir")))


@pytest.fixture
def seen(monkeypatch):
    """What the two-headed D's loss received, step by step."""
    calls: list[dict] = []
    original = ganzoo_lsgan.AuxLSGANLoss.discriminator_loss

    def spy(self, D, real, fake, y=None, fake_y=None):
        calls.append({"D": D, "plugin": plugin_module(D), "num_classes": D.num_classes,
                      "classify": D.classify(real[:2]), "y": y.clone(), "fake_y": fake_y.clone()})
        return original(self, D, real, fake, y, fake_y)

    monkeypatch.setattr(ganzoo_lsgan.AuxLSGANLoss, "discriminator_loss", spy)
    return calls


# Item 4: extra outputs, and the D a loss receives


def test_scores_and_extras_of_the_two_headed_d():
    d = ganzoo.create("lsgan-ac", width=8).discriminator
    x = torch.randn(3, 1, 28, 28)
    scores, extras = scores_and_extras(d, x)
    assert scores.shape == (3,) and extras["class_logits"].shape == (3, 10)
    assert torch.equal(scores, d(x))  # plain D(x) is the scores alone: every loss can train it
    assert scores_and_extras(ganzoo.create("dcgan").discriminator, x)[1] == {}


def test_extras_that_do_not_match_their_names_are_refused_in_one_line():
    class Liar(ganzoo_lsgan.ACDiscriminator):
        extras = ("class_logits", "features")

    with pytest.raises(ValueError, match=r"extras \('class_logits', 'features'\).*returned \('class_logits',\)"):
        scores_and_extras(Liar((1, 28, 28), 10, 8), torch.randn(2, 1, 28, 28))


def test_the_two_headed_model_and_its_loss_conform():
    check_model("lsgan-ac", width=8)
    assert check_loss("aux-lsgan") == ["lsgan-ac"]  # refused by every D without a class head


def test_extras_of_the_wrong_batch_size_fail_the_output_check():
    gan = ganzoo.create("lsgan-ac", width=8)

    class Bad(ganzoo_lsgan.ACDiscriminator):
        def forward(self, x, y=None, return_extras=False):
            out = super().forward(x, y, return_extras)
            return (out[0], {"class_logits": out[1]["class_logits"][:1]}) if return_extras else out

    gan.discriminator = Bad((1, 28, 28), 10, 8)
    with pytest.raises(ConformanceError, match="'class_logits' must be a tensor with the batch"):
        check_discriminator_output(gan)


@pytest.mark.data
def test_two_headed_d_trains_under_compile_and_the_loss_reaches_the_plugin_module(tmp_path, seen, capsys):
    import torch._dynamo

    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    run = ganzoo.train("lsgan-ac", steps=2, compile=True, out=str(tmp_path / "run"), **SMALL, **QUIET)
    err = capsys.readouterr().err
    compiled = run.D._compiled_call_impl is not None  # CompileGuard resets it when it falls back
    if compiled:
        assert "torch.compile failed" not in err
        assert torch._dynamo.utils.counters["stats"]["unique_graphs"] > 0  # the compiled forward ran
    else:
        assert "torch.compile failed" in err and "training eagerly" in err
    # Both paths: the loss got the plugin's own module (compiled in place), its attributes and methods.
    assert len(seen) == 2
    for call in seen:
        assert call["D"] is run.D and type(call["plugin"]) is ganzoo_lsgan.ACDiscriminator
        assert call["num_classes"] == 10 and call["classify"].shape == (2,)
    assert run.D.classifier.weight.grad is not None  # the class head trained


DDP_SCRIPT = """
import hashlib, json, os, sys, torch
import ganzoo, ganzoo_lsgan
from ganzoo.engine import Trainer, TrainConfig
from ganzoo.interfaces import plugin_module
if "lsgan" not in ganzoo.list_models():
    ganzoo.plugins.register_plugin(ganzoo_lsgan, name="lsgan")
seen = []
original = ganzoo_lsgan.AuxLSGANLoss.discriminator_loss
def spy(self, D, real, fake, y=None, fake_y=None):
    seen.append([type(D).__name__, type(plugin_module(D)).__name__, D.num_classes,
                 list(D.classify(real[:2]).shape), fake_y.tolist()])
    return original(self, D, real, fake, y, fake_y)
ganzoo_lsgan.AuxLSGANLoss.discriminator_loss = spy
out = sys.argv[1]
t = Trainer(TrainConfig(model="lsgan-ac", dataset="mnist", steps=2, batch_size=8,
    model_args={"width": 8}, out=out, quiet=True, sample_every=10**9, checkpoint_every=10**9, device="cpu"))
t.fit()
h = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in t.D.parameters())).hexdigest()  # weights (BatchNorm statistics stay per process)
json.dump({"hash": h, "seen": seen, "world": t.world}, open(os.path.join(out, f"rank{t.rank}.json"), "w"))
torch.distributed.destroy_process_group()
"""


@pytest.mark.slow
@pytest.mark.data
def test_two_headed_d_under_ddp_on_gloo(tmp_path):
    script = tmp_path / "ddp_ac.py"
    script.write_text(DDP_SCRIPT)
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = os.pathsep.join([str(EXAMPLE), env.get("PYTHONPATH", "")])
    res = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(script), str(out)],
        env=env, capture_output=True, text=True,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    r0, r1 = (json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2
    for r in (r0, r1):
        assert len(r["seen"]) == 2
        for wrapper, plugin, k, classified, _ in r["seen"]:
            # the loss got DDP's wrapper (so D(...) averages gradients) and it reaches the plugin's module
            assert (wrapper, plugin, k, classified) == ("PluginDDP", "ACDiscriminator", 10, [2])
    assert r0["hash"] == r1["hash"]  # both heads' gradients were averaged: the replicas stayed identical
    assert r0["seen"][0][4] != r1["seen"][0][4]  # each process draws its own fake labels


# Item 5: which labels the fakes get


@pytest.mark.data
def test_uniform_fake_labels_come_from_the_runs_own_stream_and_resume_exactly(tmp_path, seen):
    full = ganzoo.train("lsgan-ac", steps=4, out=str(tmp_path / "full"), **SMALL, **QUIET)
    assert len(seen) == 4
    for call in seen:
        assert call["fake_y"].shape == call["y"].shape and not torch.equal(call["fake_y"], call["y"])
        assert 0 <= int(call["fake_y"].min()) and int(call["fake_y"].max()) < 10
    full_labels = [c["fake_y"] for c in seen]
    seen.clear()
    ganzoo.train("lsgan-ac", steps=2, out=str(tmp_path / "half"), **SMALL, **{**QUIET, "checkpoint_every": 2})
    resumed = Trainer(TrainConfig(resume=str(tmp_path / "half"), steps=4, quiet=True)).fit()
    assert all(torch.equal(a, c["fake_y"]) for a, c in zip(full_labels, seen))
    for name, value in full.D.state_dict().items():
        assert torch.equal(value, resumed.D.state_dict()[name]), name


def test_real_fake_labels_stay_the_default():
    assert ganzoo.GANLoss.fake_labels == "real"
    assert ganzoo.create_loss("hinge").fake_labels == "real"


@pytest.mark.data
def test_a_bad_fake_labels_choice_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(ganzoo_lsgan.AuxLSGANLoss, "fake_labels", "shuffled")
    with pytest.raises(ConfigError, match=r"fake_labels='shuffled'; use one of 'real', 'uniform'"):
        ganzoo.train("lsgan-ac", steps=1, out=str(tmp_path / "r"), **SMALL, **QUIET)


@pytest.mark.data
def test_uniform_fake_labels_need_a_fake_y_parameter(tmp_path, monkeypatch):
    def old(self, D, real, fake, y=None):
        raise AssertionError("not reached")

    monkeypatch.setattr(ganzoo_lsgan.AuxLSGANLoss, "discriminator_loss", old)
    with pytest.raises(ConfigError, match="takes no fake_y; add fake_y=None"):
        ganzoo.train("lsgan-ac", steps=1, out=str(tmp_path / "r"), **SMALL, **QUIET)
