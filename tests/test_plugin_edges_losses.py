"""Issue 25, items 1, 2, 7, 8, 9 and 12: the edges an AC-GAN plugin author hit, on losses and helpers.

A toy AC-GAN (2-D points with 4 classes; D with a score head and a class head; a loss that
trains the class head) is registered by hand, as a plugin would register it.
"""

from __future__ import annotations

import doctest
import json
import re
import types
import warnings
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch import nn

import ganzoo
import ganzoo.nn
from ganzoo.cli import cli
from ganzoo.errors import ConfigError, IncompatibleLossError, PluginError
from ganzoo.factory import offered
from ganzoo.specs import CAPABILITIES, LABELS, LOSS_CAPABILITIES

DOCS = Path(__file__).resolve().parent.parent / "docs"
CLASSES = 4


# ------------------------------------------------------------------ the toy AC-GAN plugin


class ToyG(ganzoo.Generator):
    def __init__(self, latent_dim=4, num_classes=CLASSES):
        super().__init__()
        self.latent_dim, self.num_classes, self.output_shape = latent_dim, num_classes, (2,)
        self.embed = nn.Embedding(num_classes, latent_dim)
        self.net = nn.Sequential(nn.Linear(latent_dim, 16), nn.ReLU(), nn.Linear(16, 2))

    def forward(self, z, y=None):
        return self.net(z + self.embed(y))


class ToyD(ganzoo.Discriminator):
    """A score head and a class head (AC-GAN): labels are predicted, not taken as input."""

    def __init__(self, num_classes=CLASSES, declare_classes=True):
        super().__init__()
        self.input_shape = (2,)
        self.num_classes = num_classes if declare_classes else None
        self.body = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2))
        self.score = nn.Linear(16, 1)
        self.classes = nn.Linear(16, num_classes)

    def forward(self, x, y=None):
        return self.score(self.body(x)).flatten()

    def classify(self, x):
        return self.classes(self.body(x))


def build(data_shape=(2,), latent_dim=4, num_classes=CLASSES, declare_classes=True):
    return ToyG(latent_dim, num_classes), ToyD(num_classes, declare_classes)


class ToyACGANLoss(ganzoo.GANLoss):
    """Non-saturating loss plus aux_weight times the class head's cross-entropy."""

    needs = ("labels",)
    provides = ("class-head",)

    def __init__(self, aux_weight: float = 1.0):
        if aux_weight < 0:
            raise ValueError(f"aux_weight must be >= 0, got {aux_weight}")
        self.aux_weight = float(aux_weight)

    def discriminator_loss(self, D, real, fake, y=None):
        adv = nn.functional.softplus(-D(real, y)).mean() + nn.functional.softplus(D(fake, y)).mean()
        aux = nn.functional.cross_entropy(D.classify(real), y) + nn.functional.cross_entropy(D.classify(fake), y)
        loss = adv + self.aux_weight * aux
        return loss, {"loss_d": loss.detach(), "aux": aux.detach()}

    def generator_loss(self, D, fake, y=None, real=None):
        loss = nn.functional.softplus(-D(fake, y)).mean() + self.aux_weight * nn.functional.cross_entropy(
            D.classify(fake), y)
        return loss, {"loss_g": loss.detach()}


def load_labelled_ring(root=None, split="train", download=False, image_shape=None):
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, CLASSES, (256,), generator=g)
    angle = labels.float() * (torch.pi / 2)
    points = torch.stack([angle.cos(), angle.sin()], 1) + 0.05 * torch.randn(256, 2, generator=g)
    return ganzoo.data.TensorDataset(name="labelled-ring", data=points, labels=labels, num_classes=CLASSES,
                                     kind="points")


def _spec(name="toy-acgan", **fields):
    fields.setdefault("train", ganzoo.TrainDefaults(loss="toy-acgan", batch_size=16,
                                                     loss_args={"aux_weight": 0.5}))
    fields.setdefault("needs_from_loss", ("class-head",))
    fields.setdefault("defaults", {"data_shape": (2,), "latent_dim": 4, "num_classes": CLASSES})
    return ganzoo.ModelSpec(name=name, family="toy-acgan", paper="none (a test)", build=build,
                            datasets=("labelled-ring",), compatible_losses=("toy-acgan",), **fields)


@pytest.fixture
def acgan():
    """The toy AC-GAN, its loss and dataset as a plugin; a second model that accepts only hinge."""
    module = types.ModuleType("test_plugin_toy_acgan")

    def models(register):
        register(_spec())
        register(_spec("toy-picky", accepts_losses=("hinge",), needs_from_loss=(),
                       train=ganzoo.TrainDefaults(loss="hinge", batch_size=16)))
        register(_spec("toy-blind-d", needs_from_loss=(), defaults={"data_shape": (2,), "latent_dim": 4,
                                                                    "num_classes": CLASSES, "declare_classes": False},
                       train=ganzoo.TrainDefaults(loss="hinge", batch_size=16)))

    def losses(register):
        register("toy-acgan", ToyACGANLoss)

    def datasets(register):
        register(ganzoo.data.DatasetSpec("labelled-ring", "4 labelled points", (2,), CLASSES,
                                         load_labelled_ring, kind="points-2d"))

    for hook, fn in (("ganzoo_register_models", models), ("ganzoo_register_losses", losses),
                     ("ganzoo_register_datasets", datasets)):
        setattr(module, hook, ganzoo.hookimpl(fn))
    ganzoo.plugins.register_plugin(module, name="toy-acgan")
    yield
    ganzoo.plugins.reset()


def _invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="ganzoo")


def _config(tmp_path, **kwargs):
    return ganzoo.TrainConfig(**{"model": "toy-acgan", "steps": 2, "out": str(tmp_path / "run"), "quiet": True,
                                 "sample_every": 10**9, "checkpoint_every": 10**9, **kwargs})


def _one_line_error(result, *needles):
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output, result.output
    error = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(error) == 1, result.output
    for needle in needles:
        assert needle in error[0], error[0]
    return error[0]


# ------------------------------------------------------------------ 1: loss arguments


def test_the_recipes_loss_args_are_used_and_the_users_win(acgan, tmp_path):
    trainer = ganzoo.Trainer(_config(tmp_path / "a"))
    assert trainer.gan.loss.aux_weight == 0.5
    assert json.loads((trainer.run_dir / "config.json").read_text())["loss_args"] == {"aux_weight": 0.5}
    assert ganzoo.Trainer(_config(tmp_path / "b", loss_args={"aux_weight": 2.0})).gan.loss.aux_weight == 2.0
    # The recipe's arguments go with the recipe's loss only (like its n_critic).
    resolved = ganzoo.TrainConfig(model="toy-picky", dataset="labelled-ring").resolve()
    assert resolved.loss_args == {}
    assert ganzoo.TrainConfig(model="toy-acgan", loss="toy-acgan").resolve().loss_args == {"aux_weight": 0.5}


def test_a_recipes_loss_args_are_read_only(acgan):
    with pytest.raises(TypeError, match="read-only"):
        ganzoo.get_spec("toy-acgan").train.loss_args["aux_weight"] = 9.0


def test_loss_arg_on_the_command_line_is_recorded_and_checked(acgan, tmp_path):
    result = _invoke("train", "toy-acgan", "--steps", 1, "--loss-arg", "aux_weight=2", "--out", tmp_path / "r", "-q")
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["loss_args"] == {"aux_weight": 2}
    state = json.loads(next((tmp_path / "r" / "checkpoints").glob("*/state.json")).read_text())
    assert state["config"]["loss_args"] == {"aux_weight": 2}
    _one_line_error(_invoke("train", "toy-acgan", "--steps", 1, "--loss-arg", "weight=2", "--out", tmp_path / "x"),
                    "'weight'", "aux_weight=1.0", "--loss-arg")
    _one_line_error(_invoke("train", "toy-acgan", "--steps", 1, "--loss-arg", "aux_weight=-1", "--out", tmp_path / "y"),
                    "aux_weight must be >= 0")
    _one_line_error(_invoke("train", "toy-acgan", "--loss-arg", "aux_weight", "--out", tmp_path / "z"),
                    "--loss-arg", "KEY=VALUE")
    # A built-in loss too: wgan-gp's penalty weight.
    result = _invoke("train", "vanilla", "--dataset", "ring8", "--loss", "wgan-gp", "--loss-arg", "gp_weight=5",
                     "--steps", 1, "--batch-size", 16, "--out", tmp_path / "w", "-q")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "w" / "config.json").read_text())["loss_args"] == {"gp_weight": 5, "n_critic": 5}


def test_resume_keeps_loss_args_and_refuses_a_change(acgan, tmp_path):
    run = tmp_path / "r"
    assert _invoke("train", "toy-acgan", "--steps", 1, "--loss-arg", "aux_weight=2", "--out", run, "-q").exit_code == 0
    _one_line_error(_invoke("train", "toy-acgan", "--resume", run, "--steps", 2, "--loss-arg", "aux_weight=3"),
                    "--loss-arg aux_weight=3 cannot change when resuming", "aux_weight=2")
    result = _invoke("train", "toy-acgan", "--resume", run, "--steps", 2, "--loss-arg", "aux_weight=2", "-q")
    assert result.exit_code == 0, result.output
    result = _invoke("train", "toy-acgan", "--resume", run, "--steps", 3, "-q")  # the run's own, not the recipe's 0.5
    assert result.exit_code == 0, result.output
    assert json.loads((run / "config.json").read_text())["loss_args"] == {"aux_weight": 2}


def test_a_run_saved_before_loss_args_resumes_with_none(acgan, tmp_path):
    run = tmp_path / "old"
    trainer = ganzoo.Trainer(_config(tmp_path, out=str(run), steps=1))
    trainer.fit()
    trainer.save_checkpoint()
    for path in [run / "config.json", *run.glob("checkpoints/*/state.json")]:  # as an older ganzoo wrote them
        data = json.loads(path.read_text())
        (data["config"] if "config" in data else data).pop("loss_args")
        path.write_text(json.dumps(data))
    resumed = ganzoo.Trainer(ganzoo.TrainConfig(resume=str(run), steps=2, quiet=True))
    assert resumed.gan.loss.aux_weight == 1.0  # the loss's own default: missing means no loss arguments
    assert ganzoo.TrainConfig.from_json({"model": "toy-acgan"}).loss_args == {}


# ------------------------------------------------------------------ 2: a model refuses a loss


def test_a_model_refuses_a_loss_that_does_not_provide_what_it_needs(acgan):
    with pytest.raises(IncompatibleLossError) as err:
        ganzoo.create("toy-acgan", loss="hinge")
    message = str(err.value)
    assert "\n" not in message
    for needle in ("loss 'hinge' does not fit model 'toy-acgan'", "provides 'class-head'", "made for toy-acgan",
                   "--force-loss"):
        assert needle in message, message
    with pytest.warns(UserWarning, match="forced: loss 'hinge'"):
        gan = ganzoo.create("toy-acgan", loss="hinge", allow_incompatible=True)
    assert gan.loss_name == "hinge"
    assert ganzoo.create("toy-acgan").loss_name == "toy-acgan"


def test_a_model_that_accepts_only_some_losses(acgan):
    assert ganzoo.create("toy-picky", loss="hinge").loss_name == "hinge"
    with pytest.raises(IncompatibleLossError, match="model 'toy-picky' accepts only the losses hinge"):
        ganzoo.create("toy-picky", loss="lsgan")


def test_refusing_a_loss_on_the_command_line_and_forcing_it(acgan, tmp_path):
    _one_line_error(_invoke("train", "toy-acgan", "--loss", "hinge", "--steps", 1, "--out", tmp_path / "a"),
                    "'hinge'", "'toy-acgan'", "class-head", "--force-loss")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = _invoke("train", "toy-acgan", "--loss", "hinge", "--force-loss", "--steps", 1,
                         "--out", tmp_path / "b", "-q")
    assert result.exit_code == 0, result.output


def test_bad_declarations_are_refused_at_registration():
    with pytest.raises(PluginError, match=r"accepts_losses='hinge'.*\('non-saturating',\)"):
        _spec(accepts_losses="hinge")
    with pytest.raises(PluginError, match="needs_from_loss='class-head'"):
        _spec(needs_from_loss="class-head")
    assert _spec(accepts_losses=["hinge"]).accepts_losses == ("hinge",)


def test_a_loss_with_a_bad_provides_is_a_broken_plugin(acgan):
    class Bad(ToyACGANLoss):
        provides = "class-head"

    module = types.ModuleType("test_plugin_bad_provides")
    module.ganzoo_register_losses = ganzoo.hookimpl(lambda register: register("bad-provides", Bad))
    ganzoo.plugins.register_plugin(module, name="bad-provides")
    with pytest.raises(PluginError, match="has provides='class-head'"):
        ganzoo.create_loss("bad-provides")


def test_losses_and_info_show_both_directions(acgan):
    out = _invoke("losses").output
    row = next(line for line in out.splitlines() if line.startswith("toy-acgan "))
    assert row.split()[1:3] == ["labels", "class-head"]
    rows = json.loads(_invoke("losses", "--json").output)
    assert next(r for r in rows if r["name"] == "toy-acgan")["provides"] == ["class-head"]
    assert next(r for r in rows if r["name"] == "hinge")["provides"] == []
    assert "accepts:       losses that provide class-head" in _invoke("info", "toy-acgan").output
    assert "accepts:       only hinge" in _invoke("info", "toy-picky").output
    assert "class-head" in LOSS_CAPABILITIES


# ------------------------------------------------------------------ 7: the labels capability


def test_labels_are_offered_when_g_and_d_are_both_conditional(acgan):
    assert "G and D both have num_classes" in CAPABILITIES[LABELS]
    assert offered(ganzoo.create("cgan"))[LABELS] == ""
    assert offered(ganzoo.create("toy-acgan"))[LABELS] == ""
    assert "unconditional" in offered(ganzoo.create("dcgan"))[LABELS]
    blind = offered(ganzoo.create("toy-blind-d"))[LABELS]
    assert "discriminator's num_classes is None" in blind
    with pytest.raises(IncompatibleLossError, match="needs 'labels'.*discriminator's num_classes is None"):
        ganzoo.create("toy-blind-d", loss="toy-acgan")


# ------------------------------------------------------------------ 8: ganzoo info shows the fit


def test_info_shows_what_a_model_offers_and_why_it_lacks_the_rest():
    out = _invoke("info", "dcgan").output
    assert re.search(r"^  offers: +real-batch$", out, flags=re.MULTILINE), out
    assert re.search(r"^  lacks: +per-sample-d \(its discriminator has BatchNorm", out, flags=re.MULTILINE), out
    assert "labels (it is unconditional" in out
    assert re.search(r"^  accepts: +any loss whose needs it offers$", out, flags=re.MULTILINE), out
    assert re.search(r"^  offers: +real-batch, per-sample-d, labels$", _invoke("info", "cgan").output, flags=re.MULTILINE)
    assert "`ganzoo info MODEL` shows what a model offers" in " ".join(_invoke("losses", "--help").output.split())


# ------------------------------------------------------------------ 9: the EMA's warm-up


def test_the_ema_warm_up_is_what_the_docs_say(tmp_path):
    trainer = ganzoo.Trainer(ganzoo.TrainConfig(model="vanilla", dataset="ring8", steps=1, batch_size=16,
                                                ema_decay=0.999, out=str(tmp_path / "r"), quiet=True))
    before = [p.detach().clone() for p in trainer.G_ema.parameters()]
    trainer.fit()
    decay = (1 + 1) / (10 + 1)  # the documented ramp at update 1: min((1 + n) / (10 + n), ema_decay)
    for old, new, ema in zip(before, trainer.G.parameters(), trainer.G_ema.parameters()):
        torch.testing.assert_close(ema, decay * old + (1 - decay) * new.detach())
    for page in (DOCS / "concepts.md", DOCS / "plugins" / "guide.md"):
        text = " ".join(page.read_text().split())
        assert "min((1 + n) / (10 + n), ema_decay)" in text, page
    assert "9/(1-decay)" in " ".join(_invoke("train", "--help").output.split())


# ------------------------------------------------------------------ 12: ganzoo.nn documented


NN_PUBLIC = ("PLANS", "dcgan_plan", "map_sizes", "upsampling_stack", "downsampling_stack", "dcgan_init_")


def test_nn_helpers_have_examples_and_a_reference_page():
    assert doctest.testmod(ganzoo.nn).failed == 0
    public = {n for n in vars(ganzoo.nn) if not n.startswith("_") and n not in ("annotations", "nn", "ConfigError")}
    assert public == set(NN_PUBLIC)
    finder = doctest.DocTestFinder()
    for name in NN_PUBLIC[1:]:
        assert finder.find(getattr(ganzoo.nn, name))[0].examples, f"ganzoo.nn.{name} has no example"
    assert ">>> [map_sizes" in (ganzoo.nn.__doc__ + Path(ganzoo.nn.__file__).read_text())
    reference = (DOCS / "reference" / "nn.md").read_text()
    for name in NN_PUBLIC:
        assert f"::: ganzoo.nn.{name}" in reference, name
    assert "reference/nn.md" in (DOCS.parent / "mkdocs.yml").read_text()
    guide = (DOCS / "plugins" / "guide.md").read_text()
    for name in NN_PUBLIC:
        assert f"`{name}" in guide, f"the plugin guide does not name ganzoo.nn.{name}"


def test_config_error_of_a_bad_plan_is_one_line():
    with pytest.raises(ConfigError, match="plan must be one of 'legacy', '4x4'"):
        ganzoo.nn.map_sizes((1, 28, 28), "pad")


def test_info_still_shows_a_model_that_cannot_be_built_with_its_defaults():
    def broken_build(**config):
        raise RuntimeError("needs a GPU\nsecond line")

    module = types.ModuleType("test_plugin_unbuildable")
    module.ganzoo_register_models = ganzoo.hookimpl(lambda register: register(
        ganzoo.ModelSpec(
            name="unbuildable", family="x", paper="none", build=broken_build,
            defaults={"data_shape": (2,), "latent_dim": 2, "num_classes": None})))
    ganzoo.plugins.register_plugin(module, name="unbuildable")
    try:
        result = _invoke("info", "unbuildable")
    finally:
        ganzoo.plugins.reset()
    assert result.exit_code == 0, result.output
    assert "cannot build it with its defaults to inspect: RuntimeError: needs a GPU" in result.output
    assert "accepts:       any loss whose needs it offers" in result.output
