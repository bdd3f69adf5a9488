"""The conv nets of dcgan and wgan-gp at 28x28 and vanilla's MLPs (issue 15), and files saved with the older ones."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest
import torch
from torch import nn

import ganzoo
import ganzoo.nn
from ganzoo.data import TensorDataset
from ganzoo.engine import TrainConfig, Trainer
from ganzoo.errors import ConfigError

QUIET = dict(quiet=True, sample_every=10**6, checkpoint_every=10**6, log_every=10**6)


def _layers(module: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, kind)]


def _random_mnist(n: int) -> TensorDataset:
    """``n`` random 28x28 images with labels, named mnist: enough for a step or two of training."""
    g = torch.Generator().manual_seed(0)
    return TensorDataset("mnist", torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8),
                         torch.randint(0, 10, (n,), generator=g), 10)


def test_map_sizes_doctest():
    assert doctest.testmod(ganzoo.nn).failed == 0


def test_dcgan_at_28x28_is_as_deep_and_wide_as_the_32x32_dcgan():
    assert ganzoo.create("dcgan").config["plan"] == "pad"  # the default: the 32x32 nets themselves
    gan = ganzoo.create("dcgan", plan="4x4")
    convs = _layers(gan.discriminator.features, nn.Conv2d)
    assert [c.out_channels for c in convs] == [64, 128, 256] and all(c.stride == (2, 2) for c in convs)
    assert gan.discriminator.features(torch.zeros(2, 1, 28, 28)).shape == (2, 256, 4, 4)
    ups = _layers(gan.generator, nn.ConvTranspose2d)
    assert [u.out_channels for u in ups] == [256, 128, 64, 1]
    assert gan.generator.sample(2).shape == (2, 1, 28, 28)
    # the 32x32 plan is the standard DCGAN's, whatever the plan says
    for plan in ("legacy", "4x4"):
        d = ganzoo.create("dcgan", data_shape=(3, 32, 32), plan=plan).discriminator
        assert [c.out_channels for c in _layers(d.features, nn.Conv2d)] == [64, 128, 256]


def test_dcgan_pad_plan_sees_32x32():
    gan = ganzoo.create("dcgan", plan="pad")
    x = gan.generator.sample(2)
    assert x.shape == (2, 1, 28, 28)
    assert gan.generator.net(torch.randn(2, 100, 1, 1)).shape == (2, 1, 32, 32)
    assert gan.discriminator(x).shape == (2,)
    convs = _layers(gan.discriminator.features, nn.Conv2d)
    assert [c.out_channels for c in convs] == [64, 128, 256] and all(c.kernel_size == (4, 4) for c in convs)
    assert [u.out_channels for u in _layers(gan.generator, nn.ConvTranspose2d)] == [256, 128, 64, 1]
    # exactly the reference DCGAN's parameter counts (bench/reference_dcgan.py: G 1,066,880, D 661,248)
    assert sum(q.numel() for q in gan.generator.parameters()) == 1_066_880
    assert sum(q.numel() for q in gan.discriminator.parameters()) == 661_248
    # D sees the image padded with background (-1): a black border changes nothing
    cifar = ganzoo.create("dcgan", data_shape=(3, 32, 32), plan="pad")
    assert cifar.generator.border == 0 and cifar.discriminator.border == 0


def test_wgan_gp_follows_the_papers_mnist_nets():
    gan = ganzoo.create("wgan-gp")
    g, d = gan.generator, gan.discriminator
    assert _layers(g, nn.Linear)[0].out_features == 4 * 4 * 256
    assert not _layers(g, nn.BatchNorm2d) and not _layers(d, nn.BatchNorm2d) and not _layers(d, nn.GroupNorm)
    convs = _layers(d, nn.Conv2d)
    assert [c.out_channels for c in convs] == [64, 128, 256] and all(c.kernel_size == (5, 5) for c in convs)
    assert _layers(d, nn.Linear)[0].in_features == 256 * 4 * 4
    assert g.sample(2).shape == (2, 1, 28, 28)
    layer = ganzoo.create("wgan-gp", critic_norm="layer").discriminator
    assert len(_layers(layer, nn.GroupNorm)) == 2  # not on the first convolution


def test_vanilla_normalises_its_generator_for_images_only():
    image = ganzoo.create("vanilla")
    assert [m.num_features for m in _layers(image.generator, nn.BatchNorm1d)] == [256, 512, 1024]
    assert not _layers(image.discriminator, nn.BatchNorm1d)
    # the 2-D toys' recipe was tuned without it, and keeps it off
    assert not _layers(ganzoo.create("vanilla", data_shape=(2,)).generator, nn.BatchNorm1d)
    assert not _layers(ganzoo.create("vanilla", g_norm="none").generator, nn.BatchNorm1d)
    assert len(_layers(ganzoo.create("vanilla", data_shape=(2,), g_norm="batch").generator, nn.BatchNorm1d)) == 3
    # D's dropout steadied the unnormalised G only: on with g_norm none (the old nets), off otherwise
    assert not _layers(image.discriminator, nn.Dropout)
    assert {m.p for m in _layers(ganzoo.create("vanilla", g_norm="none").discriminator, nn.Dropout)} == {0.3}
    assert not _layers(ganzoo.create("vanilla", data_shape=(2,)).discriminator, nn.Dropout)
    assert {m.p for m in _layers(ganzoo.create("vanilla", dropout=0.5).discriminator, nn.Dropout)} == {0.5}


def test_one_sample_from_a_training_mode_batchnorm_generator_is_a_one_line_error():
    g = ganzoo.create("vanilla").generator  # BatchNorm1d in G, training mode as created
    with pytest.raises(ValueError, match=r"n=1 cannot be sampled in training mode.*\.eval\(\)") as exc:
        g.sample(1)
    assert "\n" not in str(exc.value)
    assert g.sample(2).shape == (2, 1, 28, 28)
    assert g.eval().sample(1).shape == (1, 1, 28, 28)
    assert ganzoo.create("dcgan").generator.sample(1).shape == (1, 1, 28, 28)  # BatchNorm2d: fine


def test_batch_size_one_with_batchnorm1d_is_refused_before_the_run_starts(tmp_path):
    data = _random_mnist(8)
    with pytest.raises(ConfigError, match="--batch-size 1 cannot train 'vanilla'.*--batch-size 2") as exc:
        Trainer(TrainConfig(model="vanilla", dataset="mnist", steps=1, batch_size=1, out=str(tmp_path / "run"),
                            **QUIET), dataset=data).fit()
    assert "\n" not in str(exc.value) and not (tmp_path / "run").exists()


def test_the_shipped_vanilla_bundle_builds_the_nets_its_config_names():
    # Whether vanilla-mnist was saved before g_norm existed (no key: the old nets) or after, its
    # weights (sha256-checked) must load into what its config says.
    folder = Path(ganzoo.get_pretrained("vanilla-mnist")[1].bundle)
    config = json.loads((folder / "ganzoo.json").read_text())["config"]
    g = ganzoo.load("vanilla-mnist")
    assert bool(_layers(g, nn.BatchNorm1d)) == (config.get("g_norm", "none") in ("batch", None))


@pytest.mark.parametrize("model,setting,bad", [("dcgan", "plan", "deep"), ("wgan-gp", "arch", "big"),
                                               ("wgan-gp", "critic_norm", "batch"), ("vanilla", "g_norm", "layer")])
def test_bad_architecture_settings_are_one_line_errors(model, setting, bad):
    with pytest.raises(ConfigError, match=f"{setting} must be .*got '{bad}'") as exc:
        ganzoo.create(model, **{setting: bad})
    assert "\n" not in str(exc.value)


SMALL = {"dcgan": {"width": 8}, "wgan-gp": {"width": 8}, "vanilla": {"g_hidden": (16, 32), "d_hidden": (32, 16)}}


@pytest.mark.parametrize("model,key,old", [("dcgan", "plan", "legacy"), ("wgan-gp", "arch", "dcgan"),
                                           ("vanilla", "g_norm", "none")])
def test_bundles_saved_before_the_setting_rebuild_their_old_nets(model, key, old, tmp_path):
    # What ganzoo 0.1 wrote: the old nets, and no `plan` / `arch` / `g_norm` in ganzoo.json at all.
    legacy = ganzoo.create(model, **SMALL[model], **{key: old})
    ganzoo.save(legacy, tmp_path / "old", dataset="mnist", samples=False)
    meta = json.loads((tmp_path / "old" / "ganzoo.json").read_text())
    assert meta["config"].pop(key) == old
    (tmp_path / "old" / "ganzoo.json").write_text(json.dumps(meta))
    g = ganzoo.load(tmp_path / "old")
    assert [tuple(p.shape) for p in g.parameters()] == [tuple(p.shape) for p in legacy.generator.parameters()]
    d = ganzoo.load(tmp_path / "old", component="discriminator")  # D too (vanilla's keeps its dropout)
    assert [type(m) for m in d.modules()] == [type(m) for m in legacy.discriminator.modules()]
    torch.testing.assert_close(g.sample(2, generator=torch.Generator().manual_seed(0)),
                               legacy.generator.eval().sample(2, generator=torch.Generator().manual_seed(0)))
    # a bundle written today records the setting and comes back with the same nets
    gan = ganzoo.create(model, **SMALL[model])
    ganzoo.save(gan, tmp_path / "new", dataset="mnist", samples=False)
    saved = json.loads((tmp_path / "new" / "ganzoo.json").read_text())["config"]
    assert saved[key] != old
    back = ganzoo.load(tmp_path / "new")
    assert [tuple(p.shape) for p in back.parameters()] == [tuple(p.shape) for p in gan.generator.parameters()]


@pytest.mark.parametrize("pid,key", [("wgan-gp-mnist", "arch")])
def test_shipped_bundles_on_old_nets_name_them(pid, key):
    # Rebuilt receipts write the old setting out; the weights still load into those nets.
    folder = Path(ganzoo.get_pretrained(pid)[1].bundle)
    config = json.loads((folder / "ganzoo.json").read_text())["config"]
    spec = ganzoo.get_spec(ganzoo.get_pretrained(pid)[0].name)
    assert config.get(key, spec.saved_defaults[key]) == spec.saved_defaults[key]
    assert isinstance(ganzoo.load(pid), ganzoo.Generator)


@pytest.mark.parametrize("dataset", ["mnist", "ring8"])
def test_a_vanilla_run_saved_before_g_norm_resumes_with_its_old_nets(dataset, tmp_path):
    out = tmp_path / "run"
    small = {"g_hidden": [16, 16], "d_hidden": [16, 16]}
    data = _random_mnist(64) if dataset == "mnist" else None
    Trainer(TrainConfig(model="vanilla", dataset=dataset, steps=1, batch_size=8, out=str(out), **QUIET,
                        model_args={**small, "g_norm": "none"}), dataset=data).fit()
    # what ganzoo wrote before g_norm existed: no `g_norm` anywhere in the checkpoint
    state_file = next((out / "checkpoints").glob("*/state.json"))
    state = json.loads(state_file.read_text())
    del state["model_config"]["g_norm"], state["config"]["model_args"]["g_norm"]
    state_file.write_text(json.dumps(state))
    # naming the old setting on resume is the same run, not a change
    t = Trainer(TrainConfig(steps=2, resume=str(out), quiet=True, model_args={"g_norm": "none"}), dataset=data).fit()
    assert t.gan.config["g_norm"] == "none" and t.step == 2
    assert not _layers(t.gan.generator, nn.BatchNorm1d)
    dropout = {m.p for m in _layers(t.gan.discriminator, nn.Dropout)}
    assert dropout == ({0.3} if dataset == "mnist" else set())


def test_a_run_saved_before_plan_resumes_with_its_old_nets(tmp_path):
    data = _random_mnist(64)
    out = tmp_path / "run"
    Trainer(TrainConfig(model="dcgan", dataset="mnist", steps=1, batch_size=8, out=str(out), **QUIET,
                        model_args={"width": 8, "plan": "legacy"}), dataset=data).fit()
    # what ganzoo 0.1 wrote: no `plan` anywhere in the checkpoint
    state_file = next((out / "checkpoints").glob("*/state.json"))
    state = json.loads(state_file.read_text())
    del state["model_config"]["plan"], state["config"]["model_args"]["plan"]
    state_file.write_text(json.dumps(state))
    t = Trainer(TrainConfig(steps=2, resume=str(out), quiet=True), dataset=data).fit()
    assert t.gan.config["plan"] == "legacy" and t.step == 2
    assert ganzoo.load(out).output_shape == (1, 28, 28)


@pytest.mark.parametrize("shape, says", [((3, 32, 48), r"square.*data_shape=\[3,32,32\]"),
                                         ((3, 31, 31), r"even.*data_shape=\[3,32,32\] or \[3,30,30\]")])
def test_dcgan_refuses_a_shape_it_cannot_make_with_the_shape_to_use(shape, says):
    """A 32x48 shape was built as 32x32 and then blamed on the plugin ('report it to its authors')."""
    from ganzoo.errors import ConfigError
    from ganzoo.factory import create

    with pytest.raises(ConfigError, match=says) as info:
        create("dcgan", data_shape=shape)
    assert "authors" not in str(info.value)
