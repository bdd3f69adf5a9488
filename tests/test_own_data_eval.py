"""Evaluation for every image dataset: feature networks from plugins, Inception-v3 for any images,
cached reference statistics of your own folder, receipts that verify, and `ganzoo fetch inception`."""

from __future__ import annotations

import hashlib
import json
import shutil
import types
import urllib.error
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from torch import nn

import ganzoo
import ganzoo.metrics.inception as inception
from ganzoo.cli import cli
from ganzoo.errors import ConfigError, EvalError
from ganzoo.interfaces import Generator
from ganzoo.metrics import evaluate, reference_stats
from ganzoo.plugins import hookimpl
from ganzoo.registry import feature_networks_for, list_feature_networks
from ganzoo.specs import FeatureNetworkSpec
from ganzoo.testing import ConformanceError, check_feature_network


class TinyConv(nn.Module):
    """A stand-in feature network: a random conv net that takes grey or RGB images of any size."""

    feature_dim = 8

    def __init__(self, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.conv = nn.Conv2d(3, 4, 3, stride=2)
        self.proj = nn.Linear(16, 8)
        self.fc = nn.Linear(8, 5)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)

    def features_and_logits(self, x):
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        h = nn.functional.adaptive_avg_pool2d(torch.tanh(self.conv(x)), 2).flatten(1)
        f = self.proj(h)
        return f, self.fc(f)


@pytest.fixture
def folder(tmp_path):
    """100 synthetic 32x32 RGB PNGs: blobs of colour on noise."""
    root = tmp_path / "my-images"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(100):
        a = rng.integers(0, 80, (32, 32, 3), dtype=np.uint8)
        y, x = rng.integers(4, 28, 2)
        a[max(0, y - 4):y + 4, max(0, x - 4):x + 4] = rng.integers(120, 256, 3, dtype=np.uint8)
        Image.fromarray(a, "RGB").save(root / f"img{i:03d}.png")
    return root


@pytest.fixture
def plugins(monkeypatch, tmp_path):
    """A clean plugin set afterwards, and evaluation's cache in tmp_path."""
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GANZOO_INCEPTION_WEIGHTS", raising=False)
    yield monkeypatch
    monkeypatch.undo()
    ganzoo.plugins.reset()


def _standin_plugin(name="standin-net", datasets=("folder",), **fields):
    mod = types.ModuleType(f"plugin_{name.replace('-', '_')}")

    @hookimpl
    def ganzoo_register_feature_networks(register):
        register(FeatureNetworkSpec(name, datasets, lambda device=None: TinyConv(), feature_dim=8, **fields))

    mod.ganzoo_register_feature_networks = ganzoo_register_feature_networks
    ganzoo.plugins.register_plugin(mod, name=name)
    return mod


class Replay(Generator):
    def __init__(self, images):
        super().__init__()
        self.latent_dim, self.output_shape = 1, tuple(images.shape[1:])
        self.register_buffer("images", images.float() / 127.5 - 1)
        self.pos = 0

    def forward(self, z, y=None):
        idx = (torch.arange(z.shape[0]) + self.pos) % len(self.images)
        self.pos += z.shape[0]
        return self.images[idx]


# --------------------------------------------------------------------------- the hook and the registry


def test_builtin_networks_register_through_the_hook():
    assert {"mnist-classifier", "mnist-resnet", "fashion-mnist-classifier", "fashion-mnist-resnet",
            inception.NAME} <= set(list_feature_networks())
    assert [s.name for s in feature_networks_for("mnist")] == ["mnist-classifier", "mnist-resnet"]
    mnist = feature_networks_for("mnist")[0]
    assert mnist.plugin == "ganzoo.metrics.networks" and mnist.num_classes == 10
    # every other image dataset (by its kind) gets Inception-v3; points get nothing
    for dataset in ("cifar10", "folder"):
        assert [s.name for s in feature_networks_for(dataset)] == [inception.NAME]
    assert feature_networks_for("ring8") == []
    registered = [i for i in ganzoo.plugins.list_plugins() if i.name == "ganzoo.metrics.networks"][0].registered
    assert "mnist-classifier" in registered["feature-networks"]


def test_a_plugin_network_scores_its_dataset_and_passes_the_kit(plugins):
    _standin_plugin()
    assert [s.name for s in feature_networks_for("folder")] == ["standin-net"]  # its name beats the kind
    record = check_feature_network("standin-net")
    assert record["name"] == "standin-net" and len(record["sha256"]) == 64  # hashed from its state_dict
    assert check_feature_network("mnist-classifier")["name"] == "mnist-classifier"


def test_the_kit_and_the_registry_refuse_bad_networks(plugins):
    _standin_plugin("wrong-dim", datasets=("wrong-dim-data",), num_classes=3)
    with pytest.raises(ConformanceError, match="wrong-dim"):
        check_feature_network("wrong-dim", dataset="folder")  # folder is scored by another network
    mod = types.ModuleType("bad_nets")

    @hookimpl
    def ganzoo_register_feature_networks(register):
        register(FeatureNetworkSpec("bad-net", "folder", lambda device=None: TinyConv()))  # a bare string

    mod.ganzoo_register_feature_networks = ganzoo_register_feature_networks
    ganzoo.plugins.register_plugin(mod, name="bad-nets")
    assert "bad-net" not in list_feature_networks()
    info = [i for i in ganzoo.plugins.list_plugins() if i.name == "bad-nets"][0]
    assert info.status == "broken" and "datasets must be a tuple" in info.error
    # a plugin cannot take over a built-in network's name
    _standin_plugin("mnist-classifier", datasets=("folder",))
    assert feature_networks_for("mnist")[0].plugin == "ganzoo.metrics.networks"


# --------------------------------------------------------------------------- your own folder, end to end


def test_folder_run_scores_and_verifies_with_a_plugin_network(plugins, folder, tmp_path):
    _standin_plugin()
    run = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", "dcgan", "--dataset", "folder", "--data-dir", str(folder),
                                   "--model-arg", "data_shape=[3,32,32]", "--model-arg", "width=8",
                                   "--steps", "2", "--batch-size", "16", "--eval-every", "2", "--eval-n", "64",
                                   "--out", str(run)])
    assert res.exit_code == 0, res.output
    rows = [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["eval"]["fid"] > 0 for r in rows if "eval" in r] == [True]
    assert f"ganzoo eval {run}" in res.output and "fetch inception" not in res.output  # the hint that works
    receipt = tmp_path / "receipt.json"
    # no --dataset, no --data-dir: the run's own
    res = CliRunner().invoke(cli, ["eval", str(run), "-n", "64", "--json", str(receipt)])
    assert res.exit_code == 0, res.output
    rec = json.loads(receipt.read_text())
    assert rec["reference"]["dataset"] == "folder" and rec["reference"]["n"] == 100
    assert rec["feature_network"]["name"] == "standin-net" and rec["protocol"]["image_shape"] == [3, 32, 32]
    assert set(rec["metrics"]) >= {"fid", "kid", "precision", "recall", "is"}
    assert "confident" not in rec["metrics"]  # its logits are not the folder's classes
    assert rec["floor"]["metrics"]["fid"] >= 0
    cached = list((tmp_path / "cache" / "stats").glob("folder-test-*.safetensors"))
    assert len(cached) == 1
    ok = CliRunner().invoke(cli, ["eval", str(run), "--verify", str(receipt)])
    assert ok.exit_code == 0 and "verified" in ok.output, ok.output
    rec["metrics"]["fid"] *= 1.5
    receipt.write_text(json.dumps(rec))
    bad = CliRunner().invoke(cli, ["eval", str(run), "--verify", str(receipt)])
    assert bad.exit_code == 1 and "NOT verified" in bad.output
    # a bundle saved with --eval records the receipt, and eval on it defaults to its dataset
    bundle = tmp_path / "bundle"
    res = CliRunner().invoke(cli, ["save", str(run), str(bundle), "--eval"])
    assert res.exit_code == 0 and "bundle written" in res.output, res.output
    assert json.loads((bundle / "ganzoo.json").read_text())["evaluation"][0]["reference"]["dataset"] == "folder"
    res = CliRunner().invoke(cli, ["eval", str(bundle), "-n", "64", "--data-dir", str(folder)])
    assert res.exit_code == 0 and "folder: 64 samples" in res.output, res.output
    missing = CliRunner().invoke(cli, ["eval", str(bundle), "-n", "64", "--data-dir", str(tmp_path / "nope")])
    assert missing.exit_code != 0 and "folder" in missing.output and "Traceback" not in missing.output


def test_reference_statistics_are_cached_and_tampering_is_recomputed(plugins, folder, tmp_path):
    _standin_plugin()
    cache = tmp_path / "stats"
    ref = reference_stats("folder", folder, cache_dir=cache, image_shape=(3, 32, 32))
    assert ref.n == 100 and ref.path.is_file() and ref.path.parent == cache
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(ref.path), framework="pt") as f:
        meta = f.metadata()
    tensors = load_file(str(ref.path))
    tensors["mu"] = tensors["mu"] + 1.0  # edited numbers, metadata left as it was
    save_file(tensors, str(ref.path), metadata=meta)
    again = reference_stats("folder", folder, cache_dir=cache, image_shape=(3, 32, 32))
    assert torch.allclose(again.mu, ref.mu)  # recomputed, not trusted
    assert torch.allclose(load_file(str(ref.path))["mu"], ref.mu)  # and rewritten
    # other images: another file (keyed by the data's hash), never the stale one
    Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8), "RGB").save(folder / "img000.png")
    other = reference_stats("folder", folder, cache_dir=cache, image_shape=(3, 32, 32))
    assert other.sha256 != ref.sha256 and other.path != ref.path


def test_any_image_dataset_is_scored_on_inception(plugins, folder, tmp_path):
    """Grey or RGB, any size: the folder goes through the Inception-v3 spec (a stand-in for its weights)."""
    plugins.setattr(inception, "load_inception", lambda weights=None, device=None: (
        TinyConv(1), {"name": inception.NAME, "sha256": "1" * 64, "layer": "stand-in", "test_accuracy": None}))
    from ganzoo.data import load_dataset

    for shape in ((3, 32, 32), (1, 24, 24)):
        real = load_dataset("folder", folder, image_shape=shape)
        res = evaluate(Replay(real.data), "folder", folder, n=100, metrics=["fid", "precision"],
                       cache_dir=tmp_path / "c", cross_check=False)
        assert res.metrics["fid"] < 1e-3 and res.metrics["precision"] == 1.0
        assert res.receipt["feature_network"]["name"] == inception.NAME
        assert res.receipt["protocol"]["image_shape"] == list(shape)
    with pytest.raises(EvalError, match="confident needs a classifier of folder's own classes"):
        evaluate(Replay(real.data), "folder", folder, n=100, metrics=["confident"])


def test_eval_every_and_hints_offer_only_what_works(plugins, tmp_path):
    from ganzoo.cli.training import _next_steps
    from ganzoo.engine import TrainConfig, Trainer

    with pytest.raises(ConfigError, match="ganzoo fetch inception"):
        Trainer(TrainConfig(model="dcgan", dataset="folder", eval_every=5, out=str(tmp_path / "r")))
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"x")
    plugins.setenv("GANZOO_INCEPTION_WEIGHTS", str(weights))
    with pytest.raises(ConfigError, match="--eval-n 4096 or more"):
        Trainer(TrainConfig(model="dcgan", dataset="folder", eval_every=5, out=str(tmp_path / "r")))
    plugins.delenv("GANZOO_INCEPTION_WEIGHTS")

    def hints(dataset):
        cfg = SimpleNamespace(model="dcgan", dataset=dataset)
        return _next_steps(SimpleNamespace(run_dir=tmp_path / "run", config=cfg, step=10))

    folder_hints = hints("folder")
    assert "ganzoo fetch inception" in folder_hints and "add --eval once the weights are fetched" in folder_hints
    save = next(line for line in folder_hints.splitlines() if "ganzoo save" in line)
    assert " --eval " not in save.split("#")[0] + " "  # not a command that fails until the fetch
    assert "ganzoo eval" in hints("mnist") and "--dataset" not in hints("fashion-mnist")
    toy = hints("ring8")
    assert "ganzoo eval" not in toy and "--eval" in toy  # save --eval prints the toy metrics


# --------------------------------------------------------------------------- ganzoo fetch inception


@pytest.fixture(scope="module")
def synthetic_pth(tmp_path_factory):
    torch.manual_seed(0)
    state = {k.removeprefix("stem."): v.clone() for k, v in inception.FIDInceptionV3().state_dict().items()
             if not k.endswith("num_batches_tracked")}
    path = tmp_path_factory.mktemp("pth") / "synthetic.pth"
    torch.save(state, path)
    return path


def test_fetch_inception_downloads_checks_converts_and_caches(plugins, synthetic_pth, tmp_path):
    sha = hashlib.sha256(synthetic_pth.read_bytes()).hexdigest()
    calls = []

    def fake_download(url, dest, max_bytes=inception.PTH_BYTES):
        calls.append(url)
        shutil.copyfile(synthetic_pth, dest)

    plugins.setattr(inception, "_download", fake_download)
    # not the published file: refused, nothing cached
    res = CliRunner().invoke(cli, ["fetch", "inception"])
    assert res.exit_code != 0 and "not the standard" in res.output
    target = tmp_path / "cache" / "weights" / inception.WEIGHTS_NAME
    assert not target.exists() and not list(target.parent.glob("*.part"))
    plugins.setattr(inception, "PTH_SHA256", sha)
    res = CliRunner().invoke(cli, ["fetch", "inception"])
    assert res.exit_code == 0 and str(target) in res.output, res.output
    assert calls == [inception.PTH_URL] * 2
    net, record = inception.load_inception()  # where eval looks
    assert record["file"] == inception.WEIGHTS_NAME
    again = CliRunner().invoke(cli, ["fetch", "inception"])
    assert again.exit_code == 0 and "already at" in again.output and len(calls) == 2
    from ganzoo.metrics.networks import network_problem

    assert network_problem("folder") is None


def test_fetch_inception_offline_says_which_file_and_where(plugins, synthetic_pth, tmp_path):
    def offline(url, dest, max_bytes=0):
        raise urllib.error.URLError("no network")

    plugins.setattr(inception, "_download", offline)
    res = CliRunner().invoke(cli, ["fetch", "inception"])
    errors = [line for line in res.output.splitlines() if line.startswith("Error")]
    assert res.exit_code != 0 and len(errors) == 1 and "Traceback" not in res.output
    assert inception.PTH_NAME in errors[0] and "--from" in errors[0]
    assert str(tmp_path / "cache" / "weights" / inception.WEIGHTS_NAME) in errors[0]
    # the file from elsewhere: converted with the same checks
    plugins.setattr(inception, "PTH_SHA256", hashlib.sha256(synthetic_pth.read_bytes()).hexdigest())
    res = CliRunner().invoke(cli, ["fetch", "inception", "--from", str(synthetic_pth)])
    assert res.exit_code == 0 and "written to" in res.output, res.output


def test_a_file_with_another_hash_is_refused_with_advice_that_works(plugins, synthetic_pth, tmp_path):
    """The refusal named `--any-file`, an option `ganzoo fetch` did not have (found by a new user)."""
    import shlex

    plugins.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    plugins.delenv("GANZOO_INCEPTION_WEIGHTS", raising=False)
    res = CliRunner().invoke(cli, ["fetch", "inception", "--from", str(synthetic_pth)])
    [error] = [line for line in res.output.splitlines() if line.startswith("Error")]
    assert res.exit_code != 0 and hashlib.sha256(synthetic_pth.read_bytes()).hexdigest() in error  # whole hashes
    assert inception.PTH_SHA256 in error
    advice = error[error.index("ganzoo fetch inception --from"):]
    res = CliRunner().invoke(cli, shlex.split(advice)[1:])  # the advice, to the letter
    assert res.exit_code == 0 and "written to" in res.output, res.output
    res = CliRunner().invoke(cli, ["fetch", "inception", "--any-file"])
    assert res.exit_code == 2 and "--any-file goes with --from" in res.output


def test_convert_loads_tensors_only(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pth"
    torch.save({"fc.weight": Evil()}, path)
    with pytest.raises(Exception) as info:
        inception.convert(path, tmp_path / "out.safetensors", check_hash=False)
    assert "pwned" not in str(info.value) and not (tmp_path / "out.safetensors").exists()
