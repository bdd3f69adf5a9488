"""Hostile Hubs, bundles and plugins, round 3 (issue 22): the Hub client, bundles and cards, plugins.

Each test reproduces an attack from the review: a Hub file with no size or a lying one, a revision
that walks out of the Hub cache, a redirect loop, a bundle claiming another family, a pretrained id
that lands in a model card's code, a plugin with 2,000 models, a slow, chatty or meddling plugin.
Caps are lowered with monkeypatch (as in test_hostile_bundles.py), so no test writes much.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import sys
import types
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

import ganzoo
import ganzoo.limits
from ganzoo.cli import cli
from ganzoo.errors import BundleError, ConfigError, HubError, PluginError
from ganzoo.specs import PretrainedEntry, TrainDefaults


def _tiny(tmp_path: Path, name: str = "bundle", **kw) -> Path:
    gan = ganzoo.create("vanilla", data_shape=(2,), latent_dim=2, g_hidden=(16,), d_hidden=(16,))
    return ganzoo.save(gan, tmp_path / name, dataset="ring8", samples=False, **kw)


def _cache_state(hub) -> dict[str, str]:
    """Every path under the Hub cache, with what it holds (a link's target, a file's bytes)."""
    out = {}
    for p in sorted(Path(hub.cache_dir).rglob("*")):
        rel = str(p.relative_to(hub.cache_dir))
        if p.is_symlink():
            out[rel] = "-> " + str(p.readlink())
        elif p.is_file():
            out[rel] = p.read_bytes().hex()
        else:
            out[rel] = "dir"
    return out


def _one_line(result) -> str:
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


# --------------------------------------------------------------------------- High 3: no announced size


@pytest.mark.parametrize("file", ["ganzoo.json", "generator.safetensors"])
def test_a_hub_file_without_a_size_is_byte_capped_and_leaves_nothing(hub, tmp_path, monkeypatch, file):
    folder = _tiny(tmp_path)
    ganzoo.push_to_hub(folder, "nosize/b")
    if file == "ganzoo.json":  # 300 KB of ganzoo.json against a 64 KB cap (stand-ins for 300 MB and 4 MiB)
        hub.corrupt("nosize/b", "ganzoo.json", b" " * 300_000 + (folder / "ganzoo.json").read_bytes())
        monkeypatch.setattr(ganzoo.limits, "MAX_JSON_BYTES", 64 << 10)
        what = "a bundle's ganzoo.json"
    else:  # weights of twice the model cap
        size = (folder / "generator.safetensors").stat().st_size
        monkeypatch.setattr(ganzoo.limits, "MAX_MODEL_BYTES", size // 2)
        monkeypatch.setattr(ganzoo.limits, "MAX_HEADER_BYTES", 0)
        what = "a GAN's weights"
    hub.tamper[("nosize/b", file)] = {"no_size": True}
    before = _cache_state(hub)
    with pytest.raises(BundleError, match=f"the Hub announced no size for {file} and sent more than {what} can be"):
        ganzoo.load("hf-hub:nosize/b")
    after = _cache_state(hub)
    if file == "ganzoo.json":
        assert after == before, "a refused file leaves nothing in the cache"
    else:  # ganzoo.json (checked, small) stays; nothing of the weights
        assert not [p for p in after if "generator" in p or p.endswith(".incomplete")], after
    assert hub.finished[("nosize/b", file)].wait(600)
    res = CliRunner().invoke(cli, ["sample", "hf-hub:nosize/b", "-o", str(tmp_path / "s.npz")])
    assert "announced no size" in _one_line(res)
    assert not (tmp_path / "s.npz").exists()


def test_a_hub_file_without_a_size_still_loads_when_it_fits(hub, tmp_path):
    folder = _tiny(tmp_path)
    ganzoo.push_to_hub(folder, "nosize/ok")
    for file in ("ganzoo.json", "generator.safetensors"):
        hub.tamper[("nosize/ok", file)] = {"no_size": True}
    g = ganzoo.load("hf-hub:nosize/ok")
    assert g.sample(2).shape == (2, 2)
    hub.set_offline(True)  # the cache layout is the client's own: offline loads find it
    assert ganzoo.load("hf-hub:nosize/ok").sample(2).shape == (2, 2)


# --------------------------------------------------------------------------- Medium 12: a lying size


def test_a_lying_hub_size_stops_the_download_and_keeps_the_cache(hub, tmp_path):
    folder = _tiny(tmp_path)
    ganzoo.push_to_hub(folder, "liar/b")
    ganzoo.load("hf-hub:liar/b")  # a good commit in the cache, which must stay as it is
    data = (folder / "ganzoo.json").read_bytes()
    hub.commit("liar/b", {"ganzoo.json": data + b"\n"})  # a new commit: its ganzoo.json is downloaded
    extra = 48 << 20  # HEAD announces the true size, GET sends 48 MiB more
    hub.tamper[("liar/b", "ganzoo.json")] = {"extra": extra}
    before = _cache_state(hub)
    with pytest.raises(BundleError, match=r"the Hub announced [\d,]+ bytes for ganzoo.json and sent more; the "
                                          r"download was stopped there and nothing was kept"):
        ganzoo.load("hf-hub:liar/b")
    assert _cache_state(hub) == before, "the cache is left as it was: no partial file, no new ref"
    assert hub.finished[("liar/b", "ganzoo.json")].wait(600)
    # What the server got out before the client hung up: socket buffers, never the whole lie.
    assert hub.sent[("liar/b", "ganzoo.json")] < len(data) + extra // 2, hub.sent
    with pytest.raises(BundleError, match="sent more"):
        ganzoo.load("hf-hub:liar/b")  # and again: nothing cached makes it pass


# --------------------------------------------------------------------------- High 4: revisions


BAD_REVISIONS = ["../../../../victim.txt", "..", "a..b", "a\x00b", "a\nb", "a\tb", "a b", "a~1", "a^", "a:b",
                 "a?", "a*", "a[b", "a\\b", "/main", "-main", "main/", "main.lock", "main.", "a//b", "a@{1}", "@",
                 ".hidden", "a/.b", "x" * 300]
GOOD_REVISIONS = ["main", "v1.0", "refs/pr/1", "feature/x-y_z", "a@b", "0123456789abcdef0123456789abcdef01234567"]


@pytest.mark.parametrize("revision", BAD_REVISIONS)
def test_a_revision_outside_git_ref_rules_is_refused(revision):
    from ganzoo.hub import parse_hub_ref

    with pytest.raises(HubError, match="is not a valid branch, tag or commit name") as info:
        parse_hub_ref(f"hf-hub:org/name@{revision}")
    assert "\n" not in str(info.value)
    with pytest.raises(PluginError, match="is not a valid branch, tag or commit name"):
        PretrainedEntry(id="x-mnist", dataset="mnist", hub_repo="org/name", revision=revision)


@pytest.mark.parametrize("revision", GOOD_REVISIONS)
def test_a_revision_git_accepts_is_kept(revision):
    from ganzoo.hub import parse_hub_ref

    assert parse_hub_ref(f"hf-hub:org/name@{revision}") == ("org/name", revision)
    assert PretrainedEntry(id="x-mnist", dataset="mnist", revision=revision).revision == revision


def test_a_dotdot_revision_never_writes_outside_the_hub_cache(hub, tmp_path):
    folder = _tiny(tmp_path)
    ganzoo.push_to_hub(folder, "org/name")
    hub.repos[("model", "org/name")].any_revision = True  # an endpoint that resolves any revision
    victim = Path(hub.cache_dir).parent.parent / "victim.txt"  # beside HF_HOME
    victim.write_text("precious")
    seen = len(hub.requests)
    with pytest.raises(HubError, match=r"revision '\.\./\.\./\.\./\.\./victim\.txt' is not a valid branch"):
        ganzoo.load("hf-hub:org/name@../../../../victim.txt")
    assert victim.read_text() == "precious"
    assert hub.requests[seen:] == [], "refused before anything is asked"
    res = CliRunner().invoke(cli, ["sample", "hf-hub:org/name@../../../../victim.txt", "-o", str(tmp_path / "s.npz")])
    assert "not a valid branch" in _one_line(res)
    assert victim.read_text() == "precious"
    # Where a revision enters otherwise: download_bundle, and the branch push_to_hub commits to.
    from ganzoo.hub import download_bundle

    with pytest.raises(HubError, match="not a valid branch"):
        download_bundle("org/name", "../../../../victim.txt")
    with pytest.raises(HubError, match="not a valid branch"):
        ganzoo.push_to_hub(folder, "org/other", revision="../../x")
    assert ("model", "org/other") not in hub.repos
    res = CliRunner().invoke(cli, ["publish", str(folder), "--repo", "org/other", "--revision", "a b"])
    assert "not a valid branch" in _one_line(res)
    assert victim.read_text() == "precious"


def test_a_plugin_whose_pretrained_entry_has_a_bad_revision_is_broken(fresh):
    module = types.ModuleType("bad_revision_plugin")
    spec = ganzoo.get_spec("vanilla")

    @ganzoo.hookimpl
    def ganzoo_register_models(register):
        register(dataclasses.replace(spec, name="bad-rev", pretrained={"bad-rev-mnist": PretrainedEntry(
            id="bad-rev-mnist", dataset="mnist", hub_repo="org/name", revision="../../../../victim.txt")}))

    module.ganzoo_register_models = ganzoo_register_models
    ganzoo.plugins.register_plugin(module, name="bad-revision")
    assert "bad-rev" not in ganzoo.list_models()
    (info,) = [i for i in ganzoo.plugins.list_plugins() if i.name == "bad-revision"]
    assert info.status == "broken" and "not a valid branch" in info.error


# --------------------------------------------------------------------------- Low: redirect loops


@pytest.mark.parametrize("method", ["head", "get"])
def test_a_redirect_loop_from_the_hub_is_one_line(hub, tmp_path, method):
    folder = _tiny(tmp_path)
    ganzoo.push_to_hub(folder, "loop/b")
    hub.tamper[("loop/b", "ganzoo.json")] = {"redirect_loop": method}
    before = _cache_state(hub)
    with pytest.raises(HubError, match="endless redirects") as info:
        ganzoo.load("hf-hub:loop/b")
    assert "\n" not in str(info.value) and hub.token not in str(info.value)
    assert _cache_state(hub) == before
    res = CliRunner().invoke(cli, ["sample", "hf-hub:loop/b", "-o", str(tmp_path / "s.npz")])
    assert "endless redirects" in _one_line(res)


# --------------------------------------------------------------------------- Low: claims of a bundle


def _claiming(tmp_path: Path) -> Path:
    folder = _tiny(tmp_path, "claims")
    meta = json.loads((folder / "ganzoo.json").read_text())
    meta.update(family="dcgan", paper="Fake et al. 2099, a paper that does not exist",
                plugin={"name": "evil", "distribution": "evil-dist", "version": "9.9"})
    (folder / "ganzoo.json").write_text(json.dumps(meta))
    return folder


def test_a_bundle_claiming_another_family_plugin_or_paper_is_named(tmp_path):
    folder = _claiming(tmp_path)
    with pytest.warns(UserWarning, match=r"names the model 'vanilla' but claims family 'dcgan' \(installed: "
                                         r"'vanilla'\); paper 'Fake et al.*plugin 'evil'"):
        g = ganzoo.load(folder)
    assert g.sample(2).shape == (2, 2), "it still loads: the model name decides what is built"
    with warnings.catch_warnings():  # an honest bundle: no word
        warnings.simplefilter("error")
        ganzoo.load(_tiny(tmp_path, "honest"))


def test_a_regenerated_card_states_the_installed_spec_not_the_claims(hub, tmp_path):
    folder = _claiming(tmp_path)
    (folder / "README.md").unlink()  # the card is written anew at publishing
    with pytest.warns(UserWarning, match="claims family 'dcgan'"):
        ganzoo.push_to_hub(folder, "claims/b")
    card = hub.files("claims/b")["README.md"].decode()
    spec = ganzoo.get_spec("vanilla")
    assert "vanilla family" in card and spec.paper in card and "- vanilla" in card, card
    for claim in ("Fake et al.", "evil-dist", "- dcgan", "dcgan family"):
        assert claim not in card, claim


# --------------------------------------------------------------------------- Low: --pretrained-id


HOSTILE_ID = 'x"); __import__("os").system("echo owned"); ("'


def test_save_refuses_a_pretrained_id_that_breaks_the_id_rule(tmp_path):
    gan = ganzoo.create("vanilla", data_shape=(2,), latent_dim=2, g_hidden=(16,), d_hidden=(16,))
    for bad in (HOSTILE_ID, "Dcgan MNIST", "", "a--b"):
        with pytest.raises(ConfigError, match="is not an id: ids are lowercase letters and digits"):
            ganzoo.save(gan, tmp_path / "b", pretrained_id=bad, samples=False)
        assert not (tmp_path / "b").exists()
    with pytest.raises(ConfigError, match="not a Hub repository id"):
        ganzoo.save(gan, tmp_path / "b", repo_id='me/x"); evil("', samples=False)
    ganzoo.save(gan, tmp_path / "b", pretrained_id="my-gan-2", samples=False)
    assert 'ganzoo.load("my-gan-2")' in (tmp_path / "b" / "README.md").read_text()


def test_cli_save_refuses_a_hostile_pretrained_id_in_one_line(tmp_path):
    run = ganzoo.train("vanilla", dataset="ring8", steps=2, out=str(tmp_path / "run"), quiet=True,
                       sample_every=10**6, checkpoint_every=10**6).run_dir
    res = CliRunner().invoke(cli, ["save", str(run), str(tmp_path / "b"), "--pretrained-id", HOSTILE_ID])
    assert "is not an id" in _one_line(res)
    assert not (tmp_path / "b").exists()


def test_a_card_never_puts_a_hostile_id_or_repo_in_its_code():
    from ganzoo.card import model_card

    meta = json.loads((Path(ganzoo.get_pretrained("dcgan-mnist")[1].bundle) / "ganzoo.json").read_text())
    card = model_card({**meta, "id": HOSTILE_ID}, repo_id='me/x"); evil("')
    assert "owned" not in card and "evil" not in card
    assert 'ganzoo.load("path/to/this/folder")' in card


# --------------------------------------------------------------------------- plugins


@pytest.fixture
def fresh():
    """Plugins registered by a test are forgotten afterwards (a fresh manager, discovery as usual)."""
    ganzoo.plugins.reset()
    yield
    ganzoo.plugins.reset()


class _Counted(str):
    """A name that counts how often it is compared or hashed (str's own hash is cached; this one is not)."""

    calls = [0]

    def __eq__(self, other):
        _Counted.calls[0] += 1
        return str.__eq__(self, other)

    def __ne__(self, other):
        _Counted.calls[0] += 1
        return str.__ne__(self, other)

    def __hash__(self):
        _Counted.calls[0] += 1
        return str.__hash__(self)


def test_many_models_from_one_plugin_register_and_list_in_linear_work(fresh):
    n = 2000
    base = ganzoo.get_spec("vanilla")

    @ganzoo.hookimpl
    def ganzoo_register_models(register):
        for i in range(n):
            pid = _Counted(f"many-{i}-ring8")
            register(dataclasses.replace(base, name=_Counted(f"many-{i}"), pretrained={
                pid: PretrainedEntry(id=pid, dataset="ring8", hub_repo="org/many")}))

    module = types.ModuleType("many_models")
    module.ganzoo_register_models = ganzoo_register_models
    ganzoo.plugins.register_plugin(module, name="many")
    _Counted.calls[0] = 0
    assert len(ganzoo.list_models("many-*")) == n
    res = CliRunner().invoke(cli, ["list", "many-*", "--json"])
    assert res.exit_code == 0 and len(json.loads(res.stdout)) == n
    res = CliRunner().invoke(cli, ["list", "--pretrained", "many-*", "--json"])
    assert res.exit_code == 0 and len(json.loads(res.stdout)) == n
    # Registration, listing and the pretrained lookups: a few comparisons per name, not one per pair.
    assert _Counted.calls[0] < 100 * n, f"{_Counted.calls[0]:,} comparisons for {n:,} models (quadratic)"


def _plugin(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name.replace("-", "_"))
    for hook, fn in hooks.items():
        setattr(module, hook, ganzoo.hookimpl(fn))
    ganzoo.plugins.register_plugin(module, name=name)
    return module


def _hello_commands(cli):
    import click

    @cli.command("hello-there")
    def hello_there():
        """Say hello."""
        click.echo("hello")


def test_help_runs_no_registration_hook(fresh):
    calls = {"models": 0}

    def models(register):
        calls["models"] += 1  # stands in for a hook that sleeps or registers 10,000 models

    _plugin("slow-models", ganzoo_register_models=models, ganzoo_register_commands=_hello_commands)
    res = CliRunner().invoke(cli, ["--help"])
    assert res.exit_code == 0 and "hello-there" in res.output, res.output
    assert calls["models"] == 0, "--help ran the registration hooks"
    res = CliRunner().invoke(cli, ["hello-there"])
    assert res.exit_code == 0 and res.stdout == "hello\n"
    assert calls["models"] == 1, "a command runs after the registration hooks"


def test_a_slow_plugin_hook_is_named(fresh, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(ganzoo.plugins, "_clock", lambda: now[0], raising=False)

    def models(register):
        now[0] += 42.0  # the hook took 42 s (a fake clock: no test waits)

    _plugin("sleepy", ganzoo_register_models=models)
    res = CliRunner().invoke(cli, ["list", "--json"])
    assert res.exit_code == 0
    json.loads(res.stdout)
    assert "plugin 'sleepy' took 42.0 s in ganzoo_register_models" in res.stderr, res.stderr


def test_what_a_plugin_prints_never_reaches_json_output(fresh):
    def models(register):
        print("hello from a chatty plugin's models hook")

    def commands(cli):
        print("hello from a chatty plugin's commands hook")

    _plugin("chatty", ganzoo_register_models=models, ganzoo_register_commands=commands)
    stderr = ""
    for args in (["list", "--json"], ["list", "--pretrained", "--json"], ["plugins", "--json"],
                 ["datasets", "--json"], ["losses", "--json"]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 0, res.output
        json.loads(res.stdout)  # only JSON on stdout
        stderr += res.stderr
    assert "chatty plugin's models hook" in stderr and "chatty plugin's commands hook" in stderr, stderr


def test_what_a_plugin_prints_at_import_goes_to_stderr(tmp_path, monkeypatch, capsys):
    import importlib.metadata

    (tmp_path / "chatty_at_import.py").write_text("print('hello from an import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = importlib.metadata.EntryPoint("chatty", "chatty_at_import", "ganzoo")
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group=None, **kw: [ep])
    try:
        ganzoo.plugins.reset(autoload=True)
        out, err = capsys.readouterr()
        assert "hello from an import" not in out and "hello from an import" in err
    finally:
        monkeypatch.undo()
        sys.modules.pop("chatty_at_import", None)
        ganzoo.plugins.reset()


def test_a_plugin_cannot_change_another_models_settings(fresh):
    base = ganzoo.get_spec("vanilla")
    _plugin("listy", ganzoo_register_models=lambda register: register(dataclasses.replace(
        base, name="listy", defaults={**base.defaults, "g_hidden": [32, 32]}, pretrained={},
        recipes={"ring8": TrainDefaults(model_args={"d_hidden": [8]})})))
    vanilla, listy = ganzoo.get_spec("vanilla"), ganzoo.get_spec("listy")
    before = (copy.deepcopy(vanilla.defaults), dict(vanilla.pretrained), copy.deepcopy(listy.defaults))
    attacks = [
        lambda: vanilla.defaults.__setitem__("latent_dim", 5),
        lambda: vanilla.defaults.update(latent_dim=5),
        lambda: vanilla.defaults.pop("latent_dim"),
        lambda: vanilla.pretrained.clear(),
        lambda: vanilla.pretrained.__setitem__("vanilla-mnist", PretrainedEntry(id="vanilla-mnist", dataset="x")),
        lambda: vanilla.saved_defaults.__setitem__("g_norm", "batch"),
        lambda: vanilla.recipes.__setitem__("mnist", TrainDefaults()),
        lambda: vanilla.recipes["ring8"].model_args.__setitem__("latent_dim", 64),
        lambda: listy.defaults["g_hidden"].append(64),
        lambda: listy.defaults["g_hidden"].__setitem__(0, 1),
        lambda: listy.recipes["ring8"].model_args["d_hidden"].extend([1, 2]),
    ]
    for attack in attacks:
        with pytest.raises(TypeError, match="read-only"):
            attack()
    assert (vanilla.defaults, dict(vanilla.pretrained), listy.defaults) == before
    # ganzoo itself works with the read-only views: building, copies, asdict, pickling, `ganzoo info`.
    assert ganzoo.create("listy", data_shape=(2,)).config["g_hidden"] == [32, 32]
    config = listy.resolve_config({})
    config["g_hidden"].append(1)  # the builder's own copy
    assert listy.defaults["g_hidden"] == [32, 32]
    mutable = copy.deepcopy(listy.defaults)
    mutable["g_hidden"].append(1)
    assert type(mutable) is dict and pickle.loads(pickle.dumps(listy.defaults)) == listy.defaults
    assert dataclasses.asdict(listy.recipes["ring8"])["model_args"] == {"d_hidden": [8]}
    res = CliRunner().invoke(cli, ["info", "listy"])
    assert res.exit_code == 0 and "g_hidden=[32, 32]" in res.output, res.output


def test_the_registering_plugin_cannot_change_its_spec_afterwards_either(fresh):
    kept = {}
    base = ganzoo.get_spec("vanilla")

    def models(register):
        spec = dataclasses.replace(base, name="later", defaults={**base.defaults}, pretrained={})
        kept["defaults"] = spec.defaults
        register(spec)

    _plugin("later", ganzoo_register_models=models)
    assert ganzoo.get_spec("later").defaults["latent_dim"] == 100
    kept["defaults"]["latent_dim"] = 7  # the plugin's own dict: the registry holds a copy
    assert ganzoo.get_spec("later").defaults["latent_dim"] == 100


def test_a_hub_download_of_a_normal_bundle_is_unchanged(hub, tmp_path):
    """The capped download writes the client's cache layout: hf_hub_download and offline loads find it."""
    import huggingface_hub

    folder = _tiny(tmp_path)
    ganzoo.push_to_hub(folder, "plain/b")
    g = ganzoo.load("hf-hub:plain/b")
    sha = hub.head("plain/b")
    cached = huggingface_hub.try_to_load_from_cache("plain/b", "generator.safetensors", revision=sha)
    assert isinstance(cached, str) and Path(cached).read_bytes() == (folder / "generator.safetensors").read_bytes()
    assert (Path(hub.cache_dir) / "models--plain--b" / "refs" / "main").read_text() == sha
    assert not list(Path(hub.cache_dir).rglob("*.incomplete"))
    hub.set_offline(True)
    assert Path(huggingface_hub.hf_hub_download("plain/b", "ganzoo.json")).read_bytes() == (
        folder / "ganzoo.json").read_bytes()
    assert ganzoo.load("hf-hub:plain/b").sample(2).shape == g.sample(2).shape


@pytest.mark.parametrize("args", [["--revision", "../../x"], ["--id", "x'); import os #"], ["--hub-repo", "a/b/c"]])
def test_pin_never_prints_an_entry_ganzoo_would_refuse(args):
    """What `ganzoo pin` prints is pasted into a plugin: a bad revision, id or repository is refused first."""
    import ganzoo
    from ganzoo.cli import cli

    bundle = ganzoo.get_pretrained("dcgan-mnist")[1].bundle
    res = CliRunner().invoke(cli, ["pin", bundle, *args])
    assert res.exit_code == 2 and "PretrainedEntry(" not in res.output and "Traceback" not in res.output, res.output
