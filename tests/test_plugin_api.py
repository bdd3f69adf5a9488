"""Plugin API v1 (issue 14): what a plugin author relies on, each behaviour checked through the
public API or the command line."""

from __future__ import annotations

import json
import types

import click
import ganzoo_vanilla
import pytest
import torch
from click.testing import CliRunner

import ganzoo
from ganzoo.cli import cli
from ganzoo.errors import ConfigError, PluginError
from ganzoo.losses import HingeLoss
from ganzoo.testing import ConformanceError, check_dataset, check_loss


@pytest.fixture
def plugin():
    """Register plugin modules by hand (beside the installed ones); forgotten afterwards."""
    names = []

    def add(name: str, **hooks) -> str:
        module = types.ModuleType(f"test_plugin_{name}")
        for hook_name, fn in hooks.items():
            setattr(module, hook_name, ganzoo.hookimpl(fn))
        names.append(ganzoo.plugins.register_plugin(module, name=name))
        return names[-1]

    yield add
    ganzoo.plugins.reset()


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="ganzoo")


def _toy_spec(name: str, **fields) -> ganzoo.ModelSpec:
    return ganzoo.ModelSpec(name=name, family=name, paper="none (a test)", build=ganzoo_vanilla.build,
                            defaults={"data_shape": (2,), "latent_dim": 2, "num_classes": None,
                                      "g_hidden": (8,), "d_hidden": (8,)},
                            datasets=("ring8",), **fields)


def _run(tmp_path, **kwargs) -> ganzoo.Trainer:
    return ganzoo.Trainer(ganzoo.TrainConfig(steps=1, batch_size=16, out=str(tmp_path / "run"), quiet=True,
                                             sample_every=10**9, checkpoint_every=10**9, **kwargs))


# ------------------------------------------------------------------ bug 1: the recipe's n_critic


def test_the_recipes_n_critic_is_used_and_recorded(plugin, tmp_path):
    plugin("critic", ganzoo_register_models=lambda register: register(
        _toy_spec("critic-toy", train=ganzoo.TrainDefaults(loss="hinge", n_critic=3))))
    trainer = _run(tmp_path, model="critic-toy", dataset="ring8")
    assert trainer.n_critic == 3 and trainer.gan.loss.n_critic == 3
    assert "n_critic=3" in trainer.describe()
    assert json.loads((trainer.run_dir / "config.json").read_text())["n_critic"] == 3


def test_n_critic_precedence_user_then_recipe_then_loss(plugin, tmp_path):
    plugin("critic", ganzoo_register_models=lambda register: register(
        _toy_spec("critic-toy", train=ganzoo.TrainDefaults(loss="hinge", n_critic=3))))
    assert _run(tmp_path / "a", model="critic-toy", dataset="ring8", n_critic=2).n_critic == 2
    # Another loss than the recipe's: its own count, not the recipe's.
    assert _run(tmp_path / "b", model="critic-toy", dataset="ring8", loss="non-saturating").n_critic == 1


# ------------------------------------------------------------------ bug 2: errors at the group


def test_a_plugin_commands_ganzoo_error_is_one_line(plugin):
    @click.command("explode")
    def explode():
        raise ConfigError("bad value 'x'; use 'y'")

    plugin("boom", ganzoo_register_commands=lambda cli: cli.add_command(explode))
    result = _invoke("explode")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: bad value 'x'; use 'y'"
    assert not isinstance(result.exception, ConfigError)  # handled, not raised


def test_a_command_hook_that_raises_is_reported_and_a_clash_names_the_plugin(plugin):
    def clash(cli):
        cli.add_command(click.Command("list", callback=lambda: click.echo("hijacked")))

    def failing(cli):
        raise RuntimeError("no commands today")

    plugin("clasher", ganzoo_register_commands=clash)
    plugin("failer", ganzoo_register_commands=failing)
    result = _invoke("plugins")
    assert _invoke("list").output.count("hijacked") == 0
    err = result.output
    try:  # click < 8.2 keeps stderr apart only when asked; 8.2 has both
        err += result.stderr
    except ValueError:
        pass
    assert "plugin 'clasher' tried to replace the built-in command 'list'" in err
    assert "plugin 'failer' failed to add its commands: RuntimeError: no commands today" in err


def test_model_arg_helpers_are_public(plugin):
    from ganzoo.cli import model_arg_option, parse_model_args

    @click.command("latent")
    @click.argument("model")
    @model_arg_option
    def latent(model, model_args):
        click.echo(ganzoo.create(model, **model_args).generator.latent_dim)

    plugin("latent", ganzoo_register_commands=lambda cli: cli.add_command(latent))
    result = _invoke("latent", "dcgan", "--model-arg", "latent_dim=7")
    assert result.exit_code == 0 and result.output.strip() == "7"
    assert _invoke("latent", "dcgan", "--model-arg", "nokey").exit_code == 2
    assert parse_model_args(["a=[1,2]", "b=text"]) == {"a": [1, 2], "b": "text"}


def test_plugins_shows_what_each_plugin_registered(plugin):
    plugin("shower", ganzoo_register_commands=lambda cli: cli.add_command(click.Command("hello")))
    out = _invoke("plugins").output
    assert "commands: hello" in next(line for line in out.splitlines() if line.startswith("shower "))
    assert "models: dcgan; pretrained: dcgan-mnist" in out
    assert "losses: minimax, non-saturating, hinge, lsgan, wgan-gp" in out


# ------------------------------------------------------------------ bug 4: a loss's config


class Margin(ganzoo.GANLoss):
    output = "score"

    def __init__(self, margin: float = 1.0, *, scale: float = 2.0):
        self.margin, self.scale = margin, scale

    def d_loss_from_outputs(self, real_out, fake_out):
        return self.scale * (torch.relu(self.margin - real_out).mean() + torch.relu(self.margin + fake_out).mean())

    def g_loss_from_outputs(self, fake_out):
        return -fake_out.mean()


class WiderMargin(Margin):
    def __init__(self, width: int = 3, **kwargs):
        super().__init__(margin=float(width), **kwargs)


def test_loss_constructor_arguments_are_recorded():
    assert Margin(0.5).config() == {"margin": 0.5, "scale": 2.0}
    assert WiderMargin(4, scale=1.0).config() == {"width": 4, "scale": 1.0}  # the outer call's, not super()'s
    assert repr(Margin(scale=3.0)) == "Margin(margin=1.0, scale=3.0)"


def test_recorded_loss_config_reaches_run_and_bundle(plugin, tmp_path):
    plugin("margin", ganzoo_register_losses=lambda register: register("margin", Margin))
    trainer = _run(tmp_path, model="vanilla", dataset="ring8", loss="margin", loss_args={"scale": 0.5})
    trainer.fit()
    assert json.loads((trainer.run_dir / "config.json").read_text())["loss_args"] == {"margin": 1.0, "scale": 0.5}
    bundle = ganzoo.save(trainer, tmp_path / "bundle")
    assert json.loads((bundle / "ganzoo.json").read_text())["loss_config"] == {"margin": 1.0, "scale": 0.5}


def test_a_factory_that_drops_its_arguments_is_an_error(plugin):
    plugin("dropper", ganzoo_register_losses=lambda register: register("dropper", lambda **kw: Margin()))
    assert ganzoo.create_loss("dropper").config() == {"margin": 1.0, "scale": 2.0}
    with pytest.raises(PluginError, match=r"built with width but its config\(\) omits them"):
        ganzoo.create_loss("dropper", width=3)


def test_a_loss_taking_star_args_must_override_config():
    class Star(ganzoo.GANLoss):
        def __init__(self, *weights):
            self.weights = weights

    with pytest.raises(TypeError, match="override config"):
        Star(1, 2).config()


# ------------------------------------------------------------------ 6: recipes by dataset kind


def _circle(root=None, split="train", download=False, image_shape=None):
    angle = torch.linspace(0, 6.28, 1000)
    return ganzoo.data.TensorDataset(name="circle", data=torch.stack([angle.cos(), angle.sin()], 1), kind="points")


def test_a_new_2d_dataset_gets_the_models_recipe_for_its_kind(plugin):
    plugin("circle", ganzoo_register_datasets=lambda register: register(
        ganzoo.data.DatasetSpec("circle", "a circle", (2,), None, _circle, kind="points-2d")))
    spec = ganzoo.get_spec("vanilla")
    assert spec.recipe("circle") is spec.recipes["points-2d"]
    assert spec.recipe("ring8") is spec.recipes["ring8"]  # a dataset's own recipe wins
    assert spec.recipe("mnist") is spec.train
    cfg = ganzoo.TrainConfig(model="vanilla", dataset="circle").resolve()
    assert cfg.model_args["latent_dim"] == 2 and cfg.batch_size == 256
    assert "points-2d" in _invoke("datasets").output


@pytest.mark.parametrize("shape, kind, kinds", [
    ((2,), "", ("points-2d", "points")),
    ((5,), "points", ("points",)),
    ((1, 28, 28), "image", ("grey-images", "images")),
    ((3, 64, 64), "", ("rgb-images", "images")),
    (None, "", ("images",)),
    ((2,), "spirals", ("spirals",)),
])
def test_dataset_kinds(shape, kind, kinds):
    assert ganzoo.data.DatasetSpec("x", "", shape, None, print, kind=kind).kinds == kinds


# ------------------------------------------------------------------ 7: the real batch in the G step


class OldStyle(ganzoo.GANLoss):
    """An override written before generator_loss took the real batch."""

    calls = 0

    def d_loss_from_outputs(self, real_out, fake_out):
        return torch.nn.functional.softplus(-real_out).mean() + torch.nn.functional.softplus(fake_out).mean()

    def generator_loss(self, D, fake, y=None):
        OldStyle.calls += 1
        loss = torch.nn.functional.softplus(-D(fake, y).float()).mean()
        return loss, {"loss_g": loss.detach()}


def test_an_old_signature_generator_loss_still_trains(tmp_path):
    assert not ganzoo.interfaces.takes_real_batch(OldStyle())
    gan = ganzoo.create("vanilla", data_shape=(2,), loss=OldStyle())
    trainer = ganzoo.Trainer(ganzoo.TrainConfig(model="vanilla", dataset="ring8", steps=2, batch_size=16, quiet=True,
                                                out=str(tmp_path / "run"), checkpoint_every=10**9,
                                                sample_every=10**9), gan=gan)
    trainer.fit()
    assert OldStyle.calls == 2 and trainer.step == 2


# ------------------------------------------------------------------ 8, 10: docs and conformance


@pytest.mark.parametrize("method", ["discriminator_loss", "generator_loss", "d_loss_from_outputs",
                                    "g_loss_from_outputs", "check_compatible", "config"])
def test_every_public_ganloss_method_has_a_docstring(method):
    doc = getattr(ganzoo.GANLoss, method).__doc__
    assert doc and "Returns" in doc or "Raises" in doc


def test_check_loss_catches_a_loss_that_ignores_the_real_batch_it_needs(plugin):
    class Ignores(ganzoo.GANLoss):
        needs = ("real-batch",)

        def d_loss_from_outputs(self, real_out, fake_out):
            return (fake_out - real_out).mean()

        def g_loss_from_outputs(self, fake_out, real_out=None):
            return -fake_out.mean()

    plugin("ignores", ganzoo_register_losses=lambda register: register("ignores", Ignores))
    with pytest.raises(ConformanceError, match="ignores the real batch"):
        check_loss("ignores", models=["vanilla"])


def test_check_dataset_catches_wrong_dtypes(plugin):
    def floats(root=None, split="train", download=False, image_shape=None):
        return ganzoo.data.TensorDataset(name="floats", data=torch.rand(10, 1, 8, 8))

    plugin("floats", ganzoo_register_datasets=lambda register: register(
        ganzoo.data.DatasetSpec("floats", "float images", (1, 8, 8), None, floats)))
    with pytest.raises(ConformanceError, match="images must be uint8"):
        check_dataset("floats")


def test_losses_command_lists_needs_and_train_help_does_not_hardcode_losses():
    out = _invoke("losses").output
    assert next(line for line in out.splitlines() if line.startswith("wgan-gp ")).split()[1] == "per-sample-d"
    assert "ganzoo losses" in _invoke("train", "--help").output
    assert "minimax, non-saturating" not in _invoke("train", "--help").output


# ------------------------------------------------------------------ 9, 12: pins and smaller items


def test_pin_prints_the_entry_of_a_saved_bundle(tmp_path):
    trainer = _run(tmp_path, model="vanilla", dataset="ring8")
    trainer.fit()
    trainer.save_checkpoint()
    result = _invoke("save", str(trainer.run_dir), str(tmp_path / "b"), "--pretrained-id", "vanilla-ring8")
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "b" / "ganzoo.json").read_text())
    assert meta["id"] == "vanilla-ring8"
    pinned = _invoke("pin", str(tmp_path / "b"), "--hub-repo", "me/vanilla-ring8", "--shipped")
    assert pinned.exit_code == 0, pinned.output
    assert f"sha256={meta['weights']['generator']['sha256']!r}" in pinned.output
    assert "PretrainedEntry.shipped(" in pinned.output and "hub_repo='me/vanilla-ring8'" in pinned.output
    (tmp_path / "b" / "generator.safetensors").write_bytes(b"changed")
    tampered = _invoke("pin", str(tmp_path / "b"))
    assert tampered.exit_code == 1 and "does not match the sha256" in tampered.output


def test_list_pretrained_shows_no_revision_without_a_hub_repo(plugin):
    entry = ganzoo.PretrainedEntry(id="toy-local", dataset="ring8", bundle="/nowhere")
    plugin("local", ganzoo_register_models=lambda register: register(_toy_spec("toy-l", pretrained={"toy-local": entry})))
    row = next(line for line in _invoke("list", "--pretrained").output.splitlines() if line.startswith("toy-local"))
    assert "@" not in row


def test_a_run_of_an_uninstalled_plugin_names_the_distribution(plugin, tmp_path):
    plugin("gone", ganzoo_register_models=lambda register: register(_toy_spec("gone-toy")))
    trainer = _run(tmp_path, model="gone-toy", dataset="ring8")
    trainer.fit()
    trainer.save_checkpoint()
    state = trainer.run_dir / "checkpoints"
    ganzoo.plugins.reset()
    for f in state.rglob("state.json"):  # as if a distribution had made it
        data = json.loads(f.read_text())
        data["plugin"]["distribution"] = "ganzoo-gone"
        f.write_text(json.dumps(data))
    with pytest.raises(ganzoo.errors.BundleError, match=r"pip install ganzoo-gone") as excinfo:
        ganzoo.load(trainer.run_dir)
    assert "did you mean" not in str(excinfo.value)


# ------------------------------------------------------------------ review i14b: a broken plugin is broken everywhere


def _raise(*_args, **_kwargs):
    raise RuntimeError("second hook fails")


def test_a_plugin_failing_in_a_later_hook_loses_its_models_too(plugin, tmp_path):
    plugin("half", ganzoo_register_models=lambda register: register(_toy_spec("halfmodel")),
           ganzoo_register_losses=lambda register: register("half-loss", HingeLoss),
           ganzoo_register_datasets=_raise)
    assert "halfmodel" not in ganzoo.list_models()
    assert "half-loss" not in ganzoo.list_losses()
    with pytest.raises(ganzoo.errors.GanzooError, match="plugin 'half' is broken .RuntimeError: second hook fails"):
        ganzoo.create("halfmodel")
    info = next(i for i in ganzoo.plugins.list_plugins() if i.name == "half")
    assert info.status == "broken" and info.registered == {}
    assert "halfmodel" not in _invoke("list").output


def test_a_plugin_whose_commands_hook_fails_loses_its_models(plugin):
    plugin("halfcmd", ganzoo_register_models=lambda register: register(_toy_spec("halfcmd-toy")),
           ganzoo_register_commands=_raise)
    assert "halfcmd-toy" in ganzoo.list_models()  # Python alone never runs the commands hook
    result = _invoke("list")
    assert result.exit_code == 0 and "halfcmd-toy" not in result.output
    assert "halfcmd-toy" not in ganzoo.list_models()


@pytest.mark.parametrize("hook, item, reason", [
    ("ganzoo_register_models", lambda: _toy_spec("Bad_Model"), "model named 'Bad_Model'"),
    ("ganzoo_register_losses", lambda: ("Bad Name!", HingeLoss), "loss named 'Bad Name!'"),
    ("ganzoo_register_datasets",
     lambda: ganzoo.data.DatasetSpec("../../etc", "x", (2,), None, _circle, kind="points-2d"),
     "dataset named '../../etc'"),
    ("ganzoo_register_models",
     lambda: _toy_spec("okname", pretrained={"Up/../x": ganzoo.PretrainedEntry(id="Up/../x", dataset="ring8")}),
     "pretrained id named 'Up/../x'"),
])
def test_bad_names_mark_the_plugin_broken(plugin, hook, item, reason):
    value = item()

    def register_it(register):
        register(*value) if isinstance(value, tuple) else register(value)

    plugin("badname", **{hook: register_it})
    ganzoo.list_models()
    info = next(i for i in ganzoo.plugins.list_plugins() if i.name == "badname")
    assert info.status == "broken" and reason in info.error and "lowercase" in info.error
    assert "okname" not in ganzoo.list_models()


class _StringNeeds(HingeLoss):
    needs = "labels"  # a string, not a tuple: would be read letter by letter


def test_a_loss_whose_needs_is_a_string_marks_the_plugin_broken(plugin):
    plugin("strneeds", ganzoo_register_losses=lambda register: register("str-needs", _StringNeeds))
    assert "str-needs" not in ganzoo.list_losses()
    info = next(i for i in ganzoo.plugins.list_plugins() if i.name == "strneeds")
    assert info.status == "broken" and "needs='labels'" in info.error


def test_a_loss_factory_building_string_needs_is_refused(plugin):
    plugin("strneedsf", ganzoo_register_losses=lambda register: register("str-needs-f", lambda: _StringNeeds()))
    with pytest.raises(PluginError, match="needs='labels'"):
        ganzoo.create_loss("str-needs-f")
    assert next(i for i in ganzoo.plugins.list_plugins() if i.name == "strneedsf").status == "broken"


def test_register_plugin_with_a_wrong_parameter_name_is_a_plugin_error():
    module = types.ModuleType("wrong_param")
    module.ganzoo_register_models = ganzoo.hookimpl(lambda registr: None)
    try:
        with pytest.raises(PluginError, match="cannot be registered") as err:
            ganzoo.plugins.register_plugin(module, name="wrong-param")
        assert "\n" not in str(err.value)
        assert not ganzoo.plugins.get_plugin_manager().pm.has_plugin("wrong-param")
    finally:
        ganzoo.plugins.reset()


def test_a_multi_line_ganzoo_error_prints_on_one_line(plugin):
    @click.command("twolines")
    def twolines():
        raise ConfigError("first line\nsecond line")

    plugin("two", ganzoo_register_commands=lambda cli: cli.add_command(twolines))
    result = _invoke("twolines")
    assert result.exit_code == 1 and result.output.strip() == "Error: first line; second line"


def test_a_plugin_command_crash_is_one_line_unless_asked(plugin, monkeypatch):
    @click.command("crash")
    def crash():
        raise ValueError("inner\nproblem")

    plugin("crasher", ganzoo_register_commands=lambda cli: cli.add_command(crash))
    monkeypatch.delenv("GANZOO_TRACEBACK", raising=False)
    result = _invoke("crash")
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: command 'crash' of plugin 'crasher' failed: ValueError: inner; "
                                     "problem (set GANZOO_TRACEBACK=1 to see the traceback)")
    monkeypatch.setenv("GANZOO_TRACEBACK", "1")
    assert isinstance(_invoke("crash").exception, ValueError)
