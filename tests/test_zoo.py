"""Bundles, `ganzoo.load`, the shipped pretrained generators and `ganzoo sample`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

import ganzoo
from ganzoo.cli import cli
from ganzoo.engine import TrainConfig, Trainer
from ganzoo.errors import BundleError, ConfigError, UnknownNameError
from ganzoo.metrics.classifier import load_classifier

PRETRAINED = ["cgan-fashion-mnist", "cgan-mnist", "dcgan-fashion-mnist", "dcgan-mnist", "vanilla-mnist",
              "wgan-gp-mnist"]
QUIET = dict(quiet=True, sample_every=10**6, checkpoint_every=10**6, log_every=5)


def _bundle_copy(tmp_path: Path, pid: str = "dcgan-mnist") -> Path:
    _, entry = ganzoo.get_pretrained(pid)
    dst = tmp_path / pid
    shutil.copytree(entry.bundle, dst)
    return dst


def _edit_meta(folder: Path, **changes) -> None:
    meta = json.loads((folder / "ganzoo.json").read_text())
    meta.update(changes)
    (folder / "ganzoo.json").write_text(json.dumps(meta))


# --------------------------------------------------------------------------- pretrained ids


def test_every_builtin_family_ships_a_pretrained_mnist_generator():
    assert ganzoo.list_pretrained() == PRETRAINED
    assert {ganzoo.get_pretrained(pid)[0].family for pid in PRETRAINED if pid.endswith("-mnist")
            and not pid.endswith("fashion-mnist")} == {"dcgan", "wgan-gp", "vanilla", "cgan"}
    for pid in PRETRAINED:
        spec, entry = ganzoo.get_pretrained(pid)
        dataset = "fashion-mnist" if pid.endswith("-fashion-mnist") else "mnist"
        assert entry.dataset == dataset and entry.hub_repo and entry.revision and len(entry.sha256) == 64
        assert (Path(entry.bundle) / "ganzoo.json").is_file(), entry.bundle
        meta = json.loads((Path(entry.bundle) / "ganzoo.json").read_text())
        assert meta["model"] == spec.name and meta["id"] == pid
        assert meta["weights"]["generator"]["sha256"] == entry.sha256
        assert meta["weights"]["generator"]["ema"] is True, "the shipped generators are EMA weights"
        card = (Path(entry.bundle) / "README.md").read_text()
        assert "library_name: ganzoo" in card and f"- {spec.family}" in card and f"- {dataset}" in card
        assert meta["dataset"] == dataset
        assert "| fid |" in card and meta["evaluation"], "the card shows how it was measured"


@pytest.mark.parametrize("pid", PRETRAINED)
def test_load_pretrained_offline(pid, monkeypatch):
    # No Hub at all: the weights ship in the plugin package.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    g = ganzoo.load(pid)
    assert isinstance(g, ganzoo.Generator) and not g.training
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in g.parameters())
    x = g.sample(16, generator=torch.Generator().manual_seed(0))
    assert x.shape == (16, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
    assert x.std() > 0.2, "not a constant image"


@pytest.mark.parametrize("pid", [p for p in PRETRAINED if not p.endswith("fashion-mnist")])
def test_pretrained_samples_are_digits(pid):
    """ganzoo's classifier recognises a digit in nearly every sample; cgan draws the asked-for one.

    For scale: on real MNIST test images 99.9% get a top probability above 0.5.
    """
    net, _ = load_classifier("mnist")
    g = ganzoo.load(pid)
    y = torch.arange(500) % 10 if g.num_classes else None
    with torch.no_grad():
        x = g.sample(500, y, generator=torch.Generator().manual_seed(1))
        probs = net(x).softmax(1)
    confident = (probs.max(1).values > 0.5).float().mean().item()
    assert confident > 0.9, f"{pid}: only {confident:.0%} of samples look like one digit"
    classes = probs.argmax(1)
    assert len(classes.unique()) == 10, "every digit appears (no mode collapse)"
    if y is not None:
        assert (classes == y).float().mean().item() >= 0.95


@pytest.mark.parametrize("network", ["fashion-mnist-classifier", "fashion-mnist-resnet"])
def test_the_fashion_generator_draws_the_asked_for_garment(network, fashion_mnist_dir):
    """Both Fashion-MNIST classifiers name the asked-for class in most samples, measured against
    what they do on the real test images (about 91-92%: some classes look alike)."""
    from ganzoo.data import load_dataset

    net, _ = load_classifier("fashion-mnist", name=network)
    test = load_dataset("fashion-mnist", fashion_mnist_dir, split="test", download=False)
    with torch.no_grad():
        real = (net(test.to_model_range(test.data[:1000])).argmax(1) == test.labels[:1000]).float().mean().item()
        g = ganzoo.load("cgan-fashion-mnist")
        y = torch.arange(1000) % 10
        probs = net(g.sample(1000, y, generator=torch.Generator().manual_seed(1))).softmax(1)
    accuracy = (probs.argmax(1) == y).float().mean().item()
    assert accuracy >= 0.9 * real, f"{network}: {accuracy:.1%} of samples are the asked-for class (real: {real:.1%})"
    assert len(probs.argmax(1).unique()) == 10


@pytest.mark.parametrize("network", ["fashion-mnist-classifier", "fashion-mnist-resnet"])
def test_the_unconditional_fashion_generator_draws_every_garment(network, fashion_mnist_dir):
    """dcgan-fashion-mnist's samples spread over the ten classes and are named confidently by both
    Fashion-MNIST classifiers at least 70% as often as the test images (measured: 61% against 77%,
    its receipt: 0.62 / 0.64 against 0.77 / 0.77)."""
    from ganzoo.data import load_dataset
    from ganzoo.metrics.feature_metrics import confident_share

    net, _ = load_classifier("fashion-mnist", name=network)
    test = load_dataset("fashion-mnist", fashion_mnist_dir, split="test", download=False)
    with torch.no_grad():
        real = net(test.to_model_range(test.data[:1000]))
        g = ganzoo.load("dcgan-fashion-mnist")
        fake = net(g.sample(1000, generator=torch.Generator().manual_seed(1)))
    share = torch.bincount(fake.argmax(1), minlength=10).float() / 1000
    assert share.min() >= 0.04, f"{network}: a class is nearly missing (shares {share.tolist()})"
    confident, real_confident = confident_share(fake), confident_share(real)
    assert confident >= 0.7 * real_confident, f"{network}: {confident:.1%} confident (real: {real_confident:.1%})"


def test_load_errors_name_the_fix():
    with pytest.raises(UnknownNameError, match="did you mean 'dcgan-mnist'"):
        ganzoo.load("dcgan-mnst")
    with pytest.raises(UnknownNameError, match="is a model name; its pretrained generators: dcgan-mnist"):
        ganzoo.load("dcgan")
    with pytest.raises(ConfigError, match="component"):
        ganzoo.load("dcgan-mnist", component="critic")
    with pytest.raises(BundleError, match="runs/nowhere does not exist"):
        ganzoo.load("runs/nowhere")


def test_pretrained_sha256_is_checked(tmp_path, monkeypatch):
    import dataclasses

    spec, entry = ganzoo.get_pretrained("vanilla-mnist")
    folder = _bundle_copy(tmp_path, "vanilla-mnist")
    bad = dataclasses.replace(entry, bundle=str(folder), sha256="0" * 64)
    from ganzoo import (
        registry,  # specs are read-only: swap the registry's spec, as a plugin update would
    )

    monkeypatch.setitem(registry._get().models, spec.name,
                        dataclasses.replace(spec, pretrained={**spec.pretrained, "vanilla-mnist": bad}))
    with pytest.raises(BundleError, match="corrupt or truncated.*pretrained entry.*reinstall"):
        ganzoo.load("vanilla-mnist")


# --------------------------------------------------------------------------- saving and loading bundles


def test_save_run_directory_then_load_gives_the_same_generator(tmp_path):
    run = Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=6, out=str(tmp_path / "run"),
                              **{**QUIET, "checkpoint_every": 3})).fit()
    folder = ganzoo.save(run.run_dir, tmp_path / "bundle")
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md", "discriminator.safetensors", "ganzoo.json", "generator.safetensors", "samples.png"]
    meta = json.loads((folder / "ganzoo.json").read_text())
    assert meta["format_version"] == 1 and meta["model"] == "vanilla" and meta["dataset"] == "ring8"
    assert meta["plugin"]["distribution"] == "ganzoo" and meta["weights"]["generator"]["ema"] is True
    assert meta["training"]["loss"] == "hinge" and "out" not in meta["training"], "no machine-local paths"
    z = torch.randn(32, 2)
    with torch.no_grad():
        ref = run.sampling_generator.eval()(z)
        assert torch.equal(ganzoo.load(folder)(z), ref)
        assert torch.equal(ganzoo.load(run.run_dir)(z), ref)  # a run directory loads directly too
    d = ganzoo.load(folder, component="discriminator")
    assert isinstance(d, ganzoo.Discriminator) and not d.training


def test_save_from_trainer_and_gan(tmp_path):
    run = Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=3, out=str(tmp_path / "run"), **QUIET)).fit()
    a = ganzoo.save(run, tmp_path / "a", samples=False)
    assert json.loads((a / "ganzoo.json").read_text())["weights"]["generator"]["ema"] is True
    b = ganzoo.save(run, tmp_path / "b", ema=False, discriminator=False, samples=False)
    meta = json.loads((b / "ganzoo.json").read_text())
    assert meta["weights"]["generator"]["ema"] is False and "discriminator" not in meta["weights"]
    with pytest.raises(BundleError, match="no discriminator weights"):
        ganzoo.load(b, component="discriminator")
    gan = ganzoo.create("cgan", width=8)
    c = ganzoo.save(gan, tmp_path / "c", dataset="mnist")
    saved = load_file(str(c / "generator.safetensors"))
    assert saved.keys() == gan.generator.state_dict().keys()
    assert all(torch.equal(saved[k], v) for k, v in gan.generator.state_dict().items())


def test_save_never_destroys_an_existing_bundle(tmp_path, monkeypatch):
    gan = ganzoo.create("vanilla", data_shape=(2,), latent_dim=2)
    folder = ganzoo.save(gan, tmp_path / "b", samples=False)
    before = (folder / "generator.safetensors").read_bytes()
    with pytest.raises(BundleError, match="already exists.*overwrite"):
        ganzoo.save(ganzoo.create("vanilla", data_shape=(2,), latent_dim=2), folder)
    import ganzoo.zoo as zoo

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(zoo, "model_card", boom)
    with pytest.raises(OSError, match="disk full"):
        ganzoo.save(ganzoo.create("vanilla", data_shape=(2,), latent_dim=2), folder, overwrite=True, samples=False)
    assert (folder / "generator.safetensors").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["b"], "no temporary folder left behind"


def test_corrupt_and_truncated_weights(tmp_path):
    folder = _bundle_copy(tmp_path)
    w = folder / "generator.safetensors"
    data = w.read_bytes()
    w.write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="corrupt or truncated"):
        ganzoo.load(folder)
    assert w.stat().st_size == len(data) // 2, "the file is left as it was"
    w.write_bytes(b"garbage")
    with pytest.raises(BundleError, match="not a readable safetensors file"):
        ganzoo.load(folder)
    # Same length, other bytes: only the hash tells.
    w.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(BundleError, match="corrupt or truncated: its sha256"):
        ganzoo.load(folder)


def test_bad_ganzoo_json(tmp_path):
    folder = _bundle_copy(tmp_path)
    (folder / "ganzoo.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        ganzoo.load(folder)
    folder = _bundle_copy(tmp_path / "2")
    _edit_meta(folder, format_version=99)
    with pytest.raises(BundleError, match="upgrade ganzoo"):
        ganzoo.load(folder)


def test_model_from_a_missing_plugin_names_the_distribution(tmp_path):
    folder = _bundle_copy(tmp_path)
    _edit_meta(folder, model="stylegan9", plugin={"name": "stylegan9", "distribution": "ganzoo-stylegan9",
                                                  "version": "1.2.0"})
    with pytest.raises(BundleError, match=r"ganzoo-stylegan9.*pip install ganzoo-stylegan9"):
        ganzoo.load(folder)


def test_config_is_validated_before_building(tmp_path, monkeypatch):
    import ganzoo.factory

    built = []
    real_create = ganzoo.factory.create
    monkeypatch.setattr(ganzoo.factory, "create", lambda *a, **k: built.append(a) or real_create(*a, **k))
    folder = _bundle_copy(tmp_path)
    meta = json.loads((folder / "ganzoo.json").read_text())
    for bad, msg in [
        ({"data_shape": [1, 100000, 100000]}, "data_shape"),
        ({"latent_dim": -3}, "out of range"),
        ({"latent_dim": 10**9}, "out of range"),
        ({"width": {"__class__": "os.system"}}, "must be a number, string or list"),
        ({"dropout_p": 0.5}, "has no setting 'dropout_p'"),
    ]:
        _edit_meta(folder, config={**meta["config"], **bad})
        with pytest.raises(BundleError, match=msg):
            ganzoo.load(folder)
    assert built == [], "nothing was built from a bad config"
    _edit_meta(folder, config=meta["config"], weights={"generator": {"file": "../../etc/passwd.safetensors"}})
    with pytest.raises(BundleError, match="plain"):
        ganzoo.load(folder)


def test_weights_that_do_not_fit_the_config(tmp_path):
    folder = _bundle_copy(tmp_path)
    meta = json.loads((folder / "ganzoo.json").read_text())
    _edit_meta(folder, config={**meta["config"], "width": 32})
    with pytest.raises(BundleError, match="do not fit DCGANGenerator.*shape mismatch"):
        ganzoo.load(folder)


# --------------------------------------------------------------------------- ganzoo sample


def test_sample_png_grid(tmp_path):
    out = tmp_path / "digits.png"
    res = CliRunner().invoke(cli, ["sample", "dcgan-mnist", "-n", "16", "-o", str(out)])
    assert res.exit_code == 0, res.output
    from PIL import Image

    assert Image.open(out).size == (4 * 58 + 2, 4 * 58 + 2)  # 4x4 grid of 28px images shown at 2x, 2px padding


def test_sample_labels_and_raw_formats(tmp_path):
    npz = tmp_path / "s.npz"
    res = CliRunner().invoke(cli, ["sample", "cgan-mnist", "-n", "20", "--labels", "3,7", "-o", str(npz)])
    assert res.exit_code == 0, res.output
    arr = np.load(npz)
    assert arr["images"].shape == (20, 1, 28, 28) and list(arr["labels"]) == [3] * 10 + [7] * 10  # one grid row per label
    net, _ = load_classifier("mnist")
    pred = net(torch.from_numpy(arr["images"])).argmax(1)
    assert (pred == torch.from_numpy(arr["labels"])).float().mean() >= 0.9
    pt = tmp_path / "s.pt"
    res = CliRunner().invoke(cli, ["sample", "vanilla-mnist", "-n", "5", "--format", "pt", "-o", str(pt), "--seed", "3"])
    assert res.exit_code == 0, res.output
    saved = torch.load(pt, weights_only=True)  # we wrote it; still, never unpickle more than tensors
    assert saved["images"].shape == (5, 1, 28, 28) and saved["labels"] is None


def test_sample_is_reproducible_and_interpolates(tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    for f in (a, b):
        assert CliRunner().invoke(cli, ["sample", "wgan-gp-mnist", "-n", "4", "-o", str(f), "--seed", "5"]).exit_code == 0
    assert np.array_equal(np.load(a)["images"], np.load(b)["images"])
    walk = tmp_path / "walk.npz"
    res = CliRunner().invoke(cli, ["sample", "dcgan-mnist", "--interpolate", "-n", "20", "--steps", "5", "-o", str(walk)])
    assert res.exit_code == 0, res.output
    x = torch.from_numpy(np.load(walk)["images"]).view(4, 5, -1)
    step = (x[:, 1:] - x[:, :-1]).norm(dim=-1)
    ends = (x[:, -1] - x[:, 0]).norm(dim=-1)
    assert (step < ends[:, None]).all(), "a walk moves in small steps between its two ends"


def test_sample_bad_input():
    runner = CliRunner()
    res = runner.invoke(cli, ["sample", "dcgan-mnist", "--labels", "1,2"])
    assert res.exit_code != 0 and "unconditional" in res.output
    res = runner.invoke(cli, ["sample", "cgan-mnist", "--labels", "1,12"])
    assert res.exit_code != 0 and "out of range" in res.output and "0 to 9" in res.output
    res = runner.invoke(cli, ["sample", "cgan-mnist", "--labels", "one"])
    assert res.exit_code != 0 and "comma-separated" in res.output
    res = runner.invoke(cli, ["sample", "dcgan-mnst"])
    assert res.exit_code != 0 and "did you mean 'dcgan-mnist'" in res.output


def test_cli_save_and_list_pretrained(tmp_path):
    run = Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=3, out=str(tmp_path / "run"), **QUIET)).fit()
    runner = CliRunner()
    res = runner.invoke(cli, ["save", str(run.run_dir), str(tmp_path / "bundle")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["save", str(run.run_dir), str(tmp_path / "bundle")])
    assert res.exit_code != 0 and "--overwrite" in res.output
    res = runner.invoke(cli, ["sample", str(tmp_path / "bundle"), "-o", str(tmp_path / "pts.png")])
    assert res.exit_code == 0 and (tmp_path / "pts.png").stat().st_size > 0
    res = runner.invoke(cli, ["list", "--pretrained"])
    assert res.exit_code == 0 and all(p in res.output for p in PRETRAINED)


@pytest.mark.slow
def test_eval_verifies_the_receipt_shipped_in_a_bundle(mnist_dir):
    res = CliRunner().invoke(cli, ["eval", "vanilla-mnist", "--verify", "--data-dir", str(mnist_dir)])
    assert res.exit_code == 0, res.output
    assert "verified" in res.output


def test_saving_is_deterministic(tmp_path):
    gan = ganzoo.create("dcgan", width=8)
    a = ganzoo.save(gan, tmp_path / "a", samples=False)
    b = ganzoo.save(gan, tmp_path / "b", samples=False)
    ma, mb = (json.loads((f / "ganzoo.json").read_text()) for f in (a, b))
    assert ma["weights"] == mb["weights"], "the same weights give the same files and sha256"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_sampling_is_bf16_inside_and_float32_outside():
    from ganzoo.sampling import sample_batch

    cpu, _, _ = sample_batch(ganzoo.load("dcgan-mnist"), 64, seed=3)
    gpu, _, _ = sample_batch(ganzoo.load("dcgan-mnist", device="cuda"), 64, seed=3)
    assert gpu.dtype == torch.float32 and gpu.device.type == "cpu"
    assert (gpu - cpu).abs().mean() < 0.05, "bf16 changes pixels a little, not the images"

    g = ganzoo.load("dcgan-mnist", device="cuda")
    rng = torch.Generator(device="cuda")
    auto = g.sample(64, generator=rng.manual_seed(3))
    exact = g.sample(64, generator=rng.manual_seed(3), precision="fp32")
    assert auto.dtype == exact.dtype == torch.float32
    assert 0 < (auto - exact).abs().mean() < 0.05  # bf16 inside: close, not equal


def test_sample_precision_is_checked_and_fp32_on_cpu():
    g = ganzoo.load("dcgan-mnist")
    rng = torch.Generator()
    assert torch.equal(g.sample(4, generator=rng.manual_seed(1)), g.sample(4, generator=rng.manual_seed(1), precision="fp32"))
    assert g.sample(2).dtype == torch.float32
    with pytest.raises(ValueError, match="precision must be 'auto' or 'fp32', got 'bf32'"):
        g.sample(2, precision="bf32")


def test_a_run_directory_is_checked_like_a_bundle(tmp_path):
    run = Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=3, out=str(tmp_path / "run"), **QUIET)).fit()
    from ganzoo.checkpoint import find_checkpoint

    state_file = find_checkpoint(run.run_dir) / "state.json"
    state = json.loads(state_file.read_text())
    state["model_config"]["data_shape"] = [100000, 100000]
    state_file.write_text(json.dumps(state))
    with pytest.raises(BundleError, match="data_shape"):
        ganzoo.load(run.run_dir)


def test_model_card_shows_both_feature_networks():
    # a receipt with a cross-check network gets one value and one real-data column per network
    from ganzoo import zoo

    meta = json.loads((zoo.bundle_folder("cgan-mnist")[0] / "ganzoo.json").read_text())
    receipt = dict(meta["evaluation"][0], metrics={"fid": 1.25, "confident": 0.9612},
                   floor={"metrics": {"fid": 0.21, "confident": 0.9899}})
    receipt["cross_check"] = [{"feature_network": {"name": "mnist-resnet", "sha256": "ab" * 32},
                               "metrics": {"fid": 3.5, "confident": 0.9433},
                               "floor": {"metrics": {"fid": 0.42, "confident": 0.9901}}}]
    card = zoo.model_card({**meta, "evaluation": [receipt], "comparison": []})
    assert "| metric | `mnist-classifier` | real data | `mnist-resnet` | real data |" in card
    assert "| confident | 0.9612 | 0.9899 | 0.9433 | 0.9901 |" in card
    assert "cross-check network `mnist-resnet` (sha256 `abababababab…`)" in card
