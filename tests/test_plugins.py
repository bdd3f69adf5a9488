"""Plugin discovery through real (temporary) distributions, isolation of broken plugins."""

from __future__ import annotations

import importlib
import sys
import textwrap
import types
from pathlib import Path

import pytest

import ganzoo
import ganzoo.testing
from ganzoo.errors import PluginError, UnknownNameError
from ganzoo.plugins import AUTOLOAD_ENV

TINY_MODEL = """
import torch
from torch import nn

import ganzoo


class TinyGenerator(ganzoo.Generator):
    def __init__(self, data_shape=(2,), latent_dim=4):
        super().__init__()
        self.latent_dim = latent_dim
        self.output_shape = tuple(data_shape)
        self.net = nn.Sequential(nn.Linear(latent_dim, 8), nn.ReLU(), nn.Linear(8, data_shape[0]))

    def forward(self, z, y=None):
        return self.net(z)


class TinyDiscriminator(ganzoo.Discriminator):
    def __init__(self, data_shape=(2,)):
        super().__init__()
        self.input_shape = tuple(data_shape)
        self.net = nn.Sequential(nn.Linear(data_shape[0], 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))

    def forward(self, x, y=None):
        return self.net(x).flatten()


def build(data_shape=(2,), latent_dim=4, num_classes=None):
    return TinyGenerator(data_shape, latent_dim), TinyDiscriminator(data_shape)


def spec(name):
    return ganzoo.ModelSpec(
        name=name,
        family=name,
        paper="none (a test plugin)",
        build=build,
        defaults={"data_shape": (2,), "latent_dim": 4, "num_classes": None},
    )
"""


class FakeDists:
    """Writes installed-looking distributions (dist-info + module) into one sys.path folder."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch):
        self.root = root
        self.modules: list[str] = []
        monkeypatch.syspath_prepend(str(root))

    def add(self, dist: str, version: str, entry_point: str, module: str, source: str) -> None:
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[ganzoo]\n{entry_point} = {module}\n")
        (self.root / f"{module}.py").write_text(textwrap.dedent(source))
        self.modules.append(module)

    def add_model_plugin(self, dist: str, entry_point: str, module: str, model: str) -> None:
        source = (
            TINY_MODEL
            + f"""

@ganzoo.hookimpl
def ganzoo_register_models(register):
    register(spec({model!r}))
"""
        )
        self.add(dist, "1.0", entry_point, module, source)


@pytest.fixture
def dists(tmp_path, monkeypatch):
    """Fake distributions on sys.path; the normal plugin state is restored afterwards."""
    fake = FakeDists(tmp_path, monkeypatch)
    yield fake
    monkeypatch.undo()
    for module in fake.modules:
        sys.modules.pop(module, None)
    importlib.invalidate_caches()
    ganzoo.plugins.reset()


@pytest.fixture
def fresh_plugins(monkeypatch):
    """For tests that reset the plugin manager without fake distributions."""
    yield monkeypatch
    monkeypatch.undo()
    ganzoo.plugins.reset()


def _info(plugin_name: str) -> ganzoo.plugins.PluginInfo:
    (info,) = [i for i in ganzoo.plugins.list_plugins() if i.name == plugin_name]
    return info


def test_plugin_is_discovered_from_its_distribution(dists):
    dists.add_model_plugin("ganzoo-fakeplug", "fakeplug", "ganzoo_fakeplug", "fakeplug-tiny")
    ganzoo.plugins.reset()
    assert "fakeplug-tiny" in ganzoo.list_models()
    spec = ganzoo.get_spec("fakeplug-tiny")
    assert spec.plugin == "fakeplug"
    info = _info("fakeplug")
    assert (info.distribution, info.version, info.status, info.module) == (
        "ganzoo-fakeplug",
        "1.0",
        "ok",
        "ganzoo_fakeplug",
    )
    assert ganzoo.create("fakeplug-tiny").generator.sample(3).shape == (3, 2)
    assert {"dcgan", "vanilla", "wgan-gp", "cgan"} <= set(ganzoo.list_models())


def test_third_party_model_passes_the_conformance_kit(dists):
    dists.add_model_plugin("ganzoo-fakeplug", "fakeplug", "ganzoo_fakeplug", "fakeplug-tiny")
    ganzoo.plugins.reset()
    ganzoo.testing.check_model("fakeplug-tiny")


BROKEN_IMPORT = """
raise ImportError("ganzoo-brokenimport needs libfoo")
"""

BROKEN_HOOK = (
    TINY_MODEL
    + """

@ganzoo.hookimpl
def ganzoo_register_models(register):
    register(spec("brokenhook-tiny"))
    raise RuntimeError("hook exploded half-way")
"""
)


@pytest.fixture
def broken(dists):
    dists.add("ganzoo-brokenimport", "0.3", "brokenimport", "ganzoo_brokenimport", BROKEN_IMPORT)
    dists.add("ganzoo-brokenhook", "0.4", "brokenhook", "ganzoo_brokenhook", BROKEN_HOOK)
    ganzoo.plugins.reset()
    ganzoo.list_models()  # runs the registration hooks
    return dists


def test_broken_plugins_are_listed_with_their_error(broken):
    by_name = {i.name: i for i in ganzoo.plugins.list_plugins()}
    assert by_name["brokenimport"].status == "broken"
    assert by_name["brokenimport"].distribution == "ganzoo-brokenimport"
    assert "ImportError: ganzoo-brokenimport needs libfoo" in by_name["brokenimport"].error
    assert by_name["brokenhook"].status == "broken"
    assert "RuntimeError: hook exploded half-way" in by_name["brokenhook"].error
    assert by_name["dcgan"].status == "ok"


def test_broken_plugins_do_not_break_the_builtins(broken):
    assert {"dcgan", "vanilla", "wgan-gp", "cgan"} <= set(ganzoo.list_models())
    assert ganzoo.create("dcgan").generator.sample(1).shape == (1, 1, 28, 28)


def test_a_hook_that_raises_leaves_nothing_registered(broken):
    assert "brokenhook-tiny" not in ganzoo.list_models()


@pytest.mark.parametrize(
    "model, dist, cause",
    [
        ("brokenimport", "ganzoo-brokenimport", "needs libfoo"),
        ("brokenhook-tiny", "ganzoo-brokenhook", "hook exploded half-way"),
    ],
)
def test_asking_for_a_broken_plugins_model_names_plugin_and_cause(broken, model, dist, cause):
    with pytest.raises(PluginError) as excinfo:
        ganzoo.create(model)
    assert f"plugin {dist!r} failed to load" in str(excinfo.value)
    assert cause in str(excinfo.value)


def test_unknown_model_mentions_broken_plugins(broken):
    with pytest.raises(UnknownNameError, match="note: plugin 'ganzoo-brokenimport' is broken"):
        ganzoo.create("zzz-nothing")


def test_duplicate_model_name_first_registration_wins_later_plugin_is_broken(dists):
    dists.add_model_plugin("ganzoo-twin-a", "twina", "ganzoo_twin_a", "twin")
    dists.add_model_plugin("ganzoo-twin-b", "twinb", "ganzoo_twin_b", "twin")
    ganzoo.plugins.reset()
    assert "twin" in ganzoo.list_models()  # no exception: one bad plugin breaks nothing
    assert ganzoo.get_spec("twin").plugin == "twina"
    assert _info("twina").status == "ok"
    info = _info("twinb")
    assert info.status == "broken"
    assert "'twin'" in info.error and "ganzoo-twin-a" in info.error
    assert ganzoo.create("vanilla").generator.sample(2).shape == (2, 1, 28, 28)


def _cli(*args: str):
    from click.testing import CliRunner

    from ganzoo.cli import cli

    return CliRunner().invoke(cli, list(args), prog_name="ganzoo")


def test_plugin_registering_a_builtin_name_is_broken_and_changes_nothing(dists):
    # "aaa-..." sorts before "ganzoo": the built-ins still come first, so they keep their names.
    dists.add_model_plugin("aaa-copycat", "copycat", "aaa_copycat", "dcgan")
    ganzoo.plugins.reset()
    assert ganzoo.create("dcgan").spec.plugin == "dcgan"
    assert ganzoo.load("dcgan-mnist").sample(1).shape == (1, 1, 28, 28)
    assert ganzoo.data.load_dataset("ring8").shape == (2,)
    assert _info("copycat").status == "broken" and "dcgan" in _info("copycat").error
    listed = _cli("list")
    assert listed.exit_code == 0 and "dcgan" in listed.output
    shown = _cli("plugins")
    assert shown.exit_code == 0
    (row,) = [line for line in shown.output.splitlines() if line.startswith("copycat ")]
    assert "broken" in row and "'dcgan'" in row and "registered first" in row
    assert "ok" in next(line for line in shown.output.splitlines() if line.startswith("dcgan "))


def _plugin_source(body: str) -> str:
    return TINY_MODEL + "\n\n@ganzoo.hookimpl\n" + textwrap.dedent(body)


@pytest.mark.parametrize("body, reason", [
    ("""
     def ganzoo_register_models(register):
         register(spec("good-part"))
         register({"name": "not-a-spec"})
     """, "takes a ganzoo.ModelSpec"),
    ("""
     def ganzoo_register_models(register):
         s = spec("stealer")
         entry = ganzoo.PretrainedEntry(id="dcgan-mnist", dataset="mnist")
         register(ganzoo.ModelSpec(**{**s.__dict__, "pretrained": {"dcgan-mnist": entry}}))
     """, "pretrained id 'dcgan-mnist'"),
    ("""
     def ganzoo_register_losses(register):
         register("hinge", ganzoo.GANLoss)
     """, "loss 'hinge'"),
    ("""
     def ganzoo_register_datasets(register):
         from ganzoo.data import DatasetSpec
         register(DatasetSpec("mnist", "fake", (2,), None, load=print))
     """, "dataset 'mnist'"),
    ("""
     def ganzoo_register_datasets(register):
         register("points")
     """, "takes a ganzoo.data.DatasetSpec"),
], ids=["not-a-spec", "pretrained-id", "loss", "dataset", "dataset-not-a-spec"])
def test_a_bad_registration_marks_only_that_plugin_broken(dists, body, reason):
    dists.add("ganzoo-bad", "0.1", "bad", "ganzoo_bad", _plugin_source(body))
    ganzoo.plugins.reset()
    models, datasets = ganzoo.list_models(), ganzoo.data.list_datasets()
    assert {"dcgan", "vanilla"} <= set(models) and {"mnist", "ring8"} <= set(datasets)
    assert "good-part" not in models and "stealer" not in models  # nothing of it is kept
    assert ganzoo.get_pretrained("dcgan-mnist")[0].name == "dcgan"
    assert ganzoo.create_loss("hinge").__class__.__module__ == "ganzoo.losses"
    assert ganzoo.data.get_dataset_spec("mnist").plugin == "ganzoo.data"
    info = _info("bad")
    assert info.status == "broken" and reason in info.error


@pytest.mark.parametrize("source, cause", [
    ("raise SystemExit(3)\n", "SystemExit(3)"),
    ("raise RuntimeError('first line\\nsecond line')\n", "first line second line"),
], ids=["system-exit", "multi-line"])
def test_import_failures_are_isolated_and_shown_on_one_line(dists, source, cause):
    dists.add("ganzoo-exits", "0.1", "exits", "ganzoo_exits", source)
    ganzoo.plugins.reset()
    result = _cli("list")
    assert result.exit_code == 0 and "dcgan" in result.output
    assert cause in _info("exits").error and "\n" not in _info("exits").error
    table = _cli("plugins").output.splitlines()
    assert sum(line.startswith("exits ") for line in table) == 1 and not any(
        line.startswith("second line") for line in table)


def test_unknown_model_name_suggests_close_matches():
    with pytest.raises(UnknownNameError) as excinfo:
        ganzoo.create("dcgn")
    assert "did you mean 'dcgan'" in str(excinfo.value)
    assert "`ganzoo list`" in str(excinfo.value)


def test_disabled_autoload_finds_no_families_until_registered(fresh_plugins):
    fresh_plugins.setenv(AUTOLOAD_ENV, "1")
    ganzoo.plugins.reset()
    assert ganzoo.list_models() == []
    assert "wgan-gp" in ganzoo.list_losses()  # the core plugins are not entry points

    import ganzoo_dcgan

    name = ganzoo.plugins.register_plugin(ganzoo_dcgan)
    assert ganzoo.list_models() == ["dcgan"]
    assert ganzoo.get_spec("dcgan").plugin == name
    assert _info(name).status == "ok"


def test_register_plugin_takes_a_module_object(fresh_plugins):
    fresh_plugins.setenv(AUTOLOAD_ENV, "1")
    ganzoo.plugins.reset()
    module = types.ModuleType("my_plugin")
    exec(compile(TINY_MODEL, "my_plugin", "exec"), module.__dict__)

    @ganzoo.hookimpl
    def ganzoo_register_models(register):
        register(module.spec("mine"))

    module.ganzoo_register_models = ganzoo_register_models
    ganzoo.plugins.register_plugin(module, name="my-plugin")
    assert ganzoo.list_models() == ["mine"]
    assert ganzoo.get_spec("mine").plugin == "my-plugin"


def test_autoload_is_back_after_reset():
    # Runs after the tests above in file order: their fixtures must have restored discovery.
    assert {"dcgan", "vanilla", "wgan-gp", "cgan"} <= set(ganzoo.list_models())
    assert not [i for i in ganzoo.plugins.list_plugins() if i.status == "broken"]
