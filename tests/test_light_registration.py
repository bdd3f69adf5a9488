"""`ganzoo list`, `info`, `datasets` and `plugins` answer from registrations, without importing torch.

The built-in families and ganzoo's core plugins name their builders, loaders and loss classes
(:class:`ganzoo.specs.Lazy`) instead of importing them; these tests check that torch stays out
of a fresh process until something is built, that what the light registration says matches
what the heavy modules hold, and that a lazy name that is wrong fails in one line.
"""

from __future__ import annotations

import inspect
import json
import os
import pickle
import subprocess
import sys
import textwrap

import pytest

import ganzoo
from ganzoo.errors import PluginError
from ganzoo.specs import Lazy

# A fresh interpreter: import ganzoo's CLI, run one command, then say whether torch (or any
# module under it) was imported. The meta-path finder refuses torch outright, so an import of
# it anywhere, even one whose error is caught, shows up.
PROBE = textwrap.dedent("""
    import sys
    asked = []
    class NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                asked.append(name)
                raise ImportError("torch refused by the test")
            return None
    sys.meta_path.insert(0, NoTorch())
    # Only ganzoo's own entry points: a third-party plugin installed beside it (CI installs the
    # example LSGAN plugin, which imports torch at the top) may be as heavy as it likes.
    import importlib.metadata as md
    _all = md.entry_points
    def own(**kw):
        return [ep for ep in _all(**kw) if ep.dist is None or ep.dist.metadata["Name"] == "ganzoo"]
    md.entry_points = own
    from ganzoo.cli import main
    sys.argv = ["ganzoo", *sys.argv[1:]]
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    print("\\nPROBE", code, asked[:1], file=sys.stderr)
""")


def _without_torch(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "GANZOO_DISABLE_PLUGIN_AUTOLOAD"}
    return subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("args", [("list",), ("list", "--json"), ("list", "--pretrained"), ("datasets",),
                                  ("plugins", "--json"), ("info", "dcgan")])
def test_metadata_commands_do_not_import_torch(args):
    done = _without_torch(*args)
    probe = done.stderr.strip().splitlines()[-1]
    if args[0] == "info":
        # info reads everything but `offers:` from the registration; offers needs the built
        # networks, so with torch refused it says it cannot build, and the rest is all there.
        assert probe.startswith("PROBE 0 ['torch"), done.stderr
        assert "pretrained:    dcgan-mnist" in done.stdout and "accepts:" in done.stdout
        assert "offers:        (cannot build it" in done.stdout
        return
    assert probe == "PROBE 0 []", done.stderr[-2000:]
    if args == ("list",):
        assert {"vanilla", "dcgan", "wgan-gp", "cgan"} <= {line.split()[0] for line in done.stdout.splitlines()[2:]}
    if args == ("plugins", "--json"):
        infos = {i["name"]: i for i in json.loads(done.stdout)}
        assert sorted(infos["ganzoo.losses"]["registered"]["losses"]) == ["hinge", "lsgan", "minimax",
                                                                          "non-saturating", "wgan-gp"]
        assert all(i["status"] == "ok" for i in infos.values())


def test_light_registration_matches_the_modules_it_names():
    """The facts ganzoo.core_plugins writes down (to stay light) are the heavy modules' own."""
    from ganzoo import core_plugins, losses
    from ganzoo.data import TOYS, load_dataset
    from ganzoo.metrics import classifier, inception
    from ganzoo.registry import get_dataset_spec

    assert {n: getattr(losses, c) for n, c in core_plugins.LOSS_CLASSES.items()} == losses.LOSSES
    for name in ganzoo.list_losses():
        if name in losses.LOSSES:
            assert type(ganzoo.create_loss(name)) is losses.LOSSES[name]
    assert core_plugins.CLASSIFIERS == classifier.FEATURE_NETWORKS
    assert core_plugins.CROSS_CHECKS == classifier.CROSS_CHECK_NETWORKS
    assert core_plugins.CLASSIFIER_INPUT == classifier.INPUT_SHAPE
    assert (core_plugins.INCEPTION, core_plugins.INCEPTION_FEATURES) == (inception.NAME, inception.FEATURE_DIM)
    assert set(core_plugins.TOY_DESCRIPTIONS) == set(TOYS)
    for name, toy in TOYS.items():
        assert core_plugins.TOY_DESCRIPTIONS[name] == f"2-D toy: {len(toy.centers)} Gaussians, std {toy.std}"
        ds = load_dataset(name)
        assert ds.name == name and tuple(ds.data.shape[1:]) == get_dataset_spec(name).shape


def test_builders_are_imported_when_a_model_is_built():
    spec = ganzoo.get_spec("dcgan")
    assert isinstance(spec.build, Lazy) and spec.build.ref == "ganzoo_dcgan.nets:build"
    # the builder's settings are its signature's, read through the lazy name
    assert "plan" in inspect.signature(spec.build).parameters
    with pytest.raises(Exception, match="has no setting 'depth'"):
        ganzoo.create("dcgan", depth=3)
    gan = ganzoo.create("dcgan")
    assert type(gan.generator).__module__ == "ganzoo_dcgan.nets"
    import ganzoo_dcgan
    import ganzoo_wgan_gp

    # the package still hands out its networks by their old names
    assert ganzoo_dcgan.DCGANGenerator is type(gan.generator)
    assert ganzoo_wgan_gp.WGANGPCritic.__module__ == "ganzoo_wgan_gp.nets"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ganzoo_dcgan.nope  # noqa: B018


@pytest.mark.parametrize("ref, message", [
    ("no_such_module_xyz:build", "cannot be loaded: ModuleNotFoundError"),
    ("ganzoo.specs:no_such_name", "cannot be loaded: AttributeError"),
    ("ganzoo.specs:NAME", "not something to call"),
])
def test_a_wrong_lazy_name_fails_in_one_line_when_used(ref, message):
    lazy = Lazy(ref)  # naming costs nothing and checks only the form
    with pytest.raises(PluginError, match=message) as info:
        lazy()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("ref", ["build", "a.b", ":x", "a:", "a:b:c", "a b:c", "../x:y", 3, None])
def test_a_malformed_lazy_name_is_refused_at_once(ref):
    with pytest.raises(PluginError, match="package.module:attribute"):
        Lazy(ref)


def test_lazy_copies_and_pickles_without_importing_its_target():
    lazy = Lazy("no_such_module_xyz:build")
    import copy

    assert copy.deepcopy(lazy) == lazy and pickle.loads(pickle.dumps(lazy)) == lazy
    assert repr(lazy) == "Lazy('no_such_module_xyz:build')"
    assert not hasattr(lazy, "__wrapped__")  # dunder lookups never import the target


def test_a_plugin_model_with_a_lazy_builder_that_is_wrong_is_named_when_built(tmp_path):
    """A third-party plugin registering Lazy('its.module:build') with a typo: `ganzoo list` still
    works (nothing is imported), building names the reference in one line."""
    from ganzoo.plugins import register_plugin, reset

    class Plugin:
        @ganzoo.hookimpl
        def ganzoo_register_models(self, register):
            register(ganzoo.ModelSpec(name="typo-gan", family="typo-gan", paper="none", build=Lazy("typo_gan.nets:biuld"),
                                      defaults={"data_shape": (2,), "latent_dim": 2, "num_classes": None}))

    plugin = Plugin()
    register_plugin(plugin, name="typo-gan-plugin")
    try:
        assert "typo-gan" in ganzoo.list_models()
        with pytest.raises(Exception, match="typo_gan.nets:biuld' cannot be loaded") as info:
            ganzoo.create("typo-gan")
        assert "\n" not in str(info.value)
    finally:
        reset()
