"""Hostile and careless bundles, run directories and save targets (issue 13).

Each test reproduces an attack or fault: a 1 KB file asking for gigabytes, links that carry
outside files into a load or a publish, `save --overwrite` over the wrong folder, a bundle
without hashes, untrusted text in a suggested command, a folder shadowing a pretrained id.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

import ganzoo
from ganzoo.cli import cli
from ganzoo.errors import BundleError

QUIET = dict(quiet=True, sample_every=10**6, checkpoint_every=10**6, log_every=5)


def _tiny(tmp_path: Path, name: str = "bundle", **kw) -> Path:
    gan = ganzoo.create("vanilla", data_shape=(2,), latent_dim=2, g_hidden=(16,), d_hidden=(16,))
    return ganzoo.save(gan, tmp_path / name, dataset="ring8", samples=False, **kw)


def _meta(folder: Path) -> dict:
    return json.loads((folder / "ganzoo.json").read_text())


def _write_meta(folder: Path, meta: dict) -> None:
    (folder / "ganzoo.json").write_text(json.dumps(meta))


def _with_config(tmp_path: Path, name: str, **config) -> Path:
    folder = _tiny(tmp_path, name)
    meta = _meta(folder)
    meta["config"].update(config)
    _write_meta(folder, meta)
    return folder


def _run(tmp_path: Path) -> Path:
    return ganzoo.train("vanilla", dataset="ring8", steps=2, out=str(tmp_path / "run"), **QUIET).run_dir


# --------------------------------------------------------------------------- nothing big is allocated

# Runs in a child process whose address space is capped at what it uses after a first small load
# plus 1 GiB (and whose peak RSS is read): a hostile file that got anything big allocated fails
# with an allocator error or shows in the RSS, instead of being refused with a BundleError.
CHILD = textwrap.dedent("""
    import json, resource, sys
    import ganzoo
    from ganzoo.errors import BundleError

    def vsz():
        return int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024

    ganzoo.load(sys.argv[1])  # warm up: imports, thread pools, allocator arenas
    resource.setrlimit(resource.RLIMIT_AS, (vsz() + (1 << 30), resource.RLIM_INFINITY))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {}
    for ref in sys.argv[2:]:
        try:
            ganzoo.load(ref)
            out[ref] = "loaded"
        except BundleError as exc:
            out[ref] = "refused: " + str(exc)
        except BaseException as exc:
            out[ref] = f"crashed: {type(exc).__name__}: {exc}"[:300]
    out["rss_growth_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    print(json.dumps(out))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and RLIMIT_AS")
def test_hostile_sizes_are_refused_before_anything_is_allocated(tmp_path):
    good = _tiny(tmp_path, "good")
    hostile = {
        "g_hidden 65536x8192 (2 GB)": _with_config(tmp_path, "a", g_hidden=[65536, 8192]),
        "g_hidden 65536x65536 (17 GB)": _with_config(tmp_path, "b", g_hidden=[65536, 65536]),
        "g_hidden 8192x8192 (270 MB, under the cap)": _with_config(tmp_path, "c", g_hidden=[8192, 8192]),
    }
    dcgan = _tiny(tmp_path, "d")
    meta = _meta(dcgan)
    meta.update(model="dcgan", config={"data_shape": [1, 28, 28], "latent_dim": 100, "width": 65536})
    _write_meta(dcgan, meta)
    hostile["dcgan width 65536 (550 GB)"] = dcgan
    # A run directory whose state.json asks for the same.
    run = _run(tmp_path)
    from ganzoo.checkpoint import find_checkpoint

    state_file = find_checkpoint(run) / "state.json"
    state = json.loads(state_file.read_text())
    state["model_config"]["g_hidden"] = [65536, 8192]
    state_file.write_text(json.dumps(state))
    hostile["run directory g_hidden 65536x8192"] = run
    # A weights file (with a matching sha256) whose header declares a 4 TB tensor.
    tb = _tiny(tmp_path, "e")
    header = json.dumps({"net.0.weight": {"dtype": "F32", "shape": [1 << 20, 1 << 20], "data_offsets": [0, 1 << 42]}})
    (tb / "generator.safetensors").write_bytes(len(header).to_bytes(8, "little") + header.encode() + b"\0" * 64)
    meta = _meta(tb)
    meta["weights"]["generator"]["sha256"] = hashlib.sha256((tb / "generator.safetensors").read_bytes()).hexdigest()
    _write_meta(tb, meta)
    hostile["header declares 4 TB"] = tb

    res = subprocess.run([sys.executable, "-c", CHILD, str(good), *map(str, hostile.values())],
                         capture_output=True, text=True, env=os.environ)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    for what, folder in hostile.items():
        msg = out[str(folder)]
        assert msg.startswith("refused: "), f"{what}: {msg}"
        assert "\n" not in msg, f"{what}: a one-line error"
    assert out["rss_growth_mb"] < 100, f"{out['rss_growth_mb']:.0f} MB were allocated for refused files"
    assert "more than the 2,048 MiB" in out[str(hostile["dcgan width 65536 (550 GB)"])]
    assert "do not fit" in out[str(hostile["g_hidden 8192x8192 (270 MB, under the cap)"])]
    assert "does not hold" in out[str(tb)]


def test_hostile_size_from_the_hub(hub, tmp_path):
    folder = _with_config(tmp_path, "a", g_hidden=[65536, 65536])
    hub.create_repo("evil/big")
    hub.commit("evil/big", {p.name: p.read_bytes() for p in folder.iterdir()})
    with pytest.raises(BundleError, match=r"asks for a model of [\d,]+ MiB, more than the 2,048 MiB"):
        ganzoo.load("hf-hub:evil/big")


def test_safetensors_header_is_capped_and_checked(tmp_path):
    folder = _tiny(tmp_path)
    w = folder / "generator.safetensors"

    def put(data: bytes) -> None:
        w.write_bytes(data)
        meta = _meta(folder)
        meta["weights"]["generator"]["sha256"] = hashlib.sha256(data).hexdigest()
        _write_meta(folder, meta)

    put((1 << 40).to_bytes(8, "little") + b"{}")
    with pytest.raises(BundleError, match="header declares 1099511627776 bytes, more than"):
        ganzoo.load(folder)
    deep = b"[" * 100_000 + b"]" * 100_000
    put(len(deep).to_bytes(8, "little") + deep)
    with pytest.raises(BundleError, match="header is not valid JSON"):
        ganzoo.load(folder)
    # Right names and shapes, another dtype.
    gan = ganzoo.create("vanilla", data_shape=(2,), latent_dim=2, g_hidden=(16,), d_hidden=(16,))
    save_file({k: v.half() for k, v in gan.generator.state_dict().items()}, str(w))
    put(w.read_bytes())
    with pytest.raises(BundleError, match="dtype mismatch"):
        ganzoo.load(folder)


def test_deeply_nested_or_huge_json_is_one_line_error(tmp_path):
    folder = _tiny(tmp_path)
    (folder / "ganzoo.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(BundleError, match="nested too deeply"):
        ganzoo.load(folder)
    (folder / "ganzoo.json").write_text(json.dumps({"format": "ganzoo-bundle", "pad": "x" * (5 << 20)}))
    with pytest.raises(BundleError, match="larger than"):
        ganzoo.load(folder)
    run = _run(tmp_path)
    from ganzoo.checkpoint import find_checkpoint

    (find_checkpoint(run) / "state.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(BundleError, match="nested too deeply"):
        ganzoo.load(run)
    res = CliRunner().invoke(cli, ["sample", str(run), "-o", str(tmp_path / "x.png")])
    assert res.exit_code != 0 and "Traceback" not in res.output and "nested too deeply" in res.output


# --------------------------------------------------------------------------- sha256 required


@pytest.mark.parametrize("digest", ["<missing>", "", None, 12345, "ABC", "A" * 64, "g" * 64])
def test_every_weights_file_needs_a_valid_sha256(tmp_path, digest):
    folder = _tiny(tmp_path)
    meta = _meta(folder)
    if digest == "<missing>":
        del meta["weights"]["generator"]["sha256"]
    else:
        meta["weights"]["generator"]["sha256"] = digest
    _write_meta(folder, meta)
    with pytest.raises(BundleError, match="must carry their sha256"):
        ganzoo.load(folder)


# --------------------------------------------------------------------------- links


def test_load_refuses_weights_linked_from_outside(tmp_path):
    outside = _tiny(tmp_path, "outside")
    folder = _tiny(tmp_path, "bundle")
    (folder / "generator.safetensors").unlink()
    (folder / "generator.safetensors").symlink_to(outside / "generator.safetensors")
    meta = _meta(folder)
    meta["weights"]["generator"]["sha256"] = _meta(outside)["weights"]["generator"]["sha256"]
    _write_meta(folder, meta)
    with pytest.raises(BundleError, match="is a link to .*outside"):
        ganzoo.load(folder)
    # A link that stays inside the bundle is followed.
    (folder / "generator.safetensors").unlink()
    shutil.copy(outside / "generator.safetensors", folder / "real.safetensors")
    (folder / "generator.safetensors").symlink_to("real.safetensors")
    assert isinstance(ganzoo.load(folder), ganzoo.Generator)
    # ganzoo.json itself, and a run directory's checkpoint files, follow the same rule.
    other = _tiny(tmp_path, "other")
    (other / "ganzoo.json").unlink()
    (other / "ganzoo.json").symlink_to(outside / "ganzoo.json")
    with pytest.raises(BundleError, match="outside"):
        ganzoo.load(other)
    run = _run(tmp_path)
    from ganzoo.checkpoint import find_checkpoint

    g = find_checkpoint(run) / "generator_ema.safetensors"
    g.unlink()
    g.symlink_to(outside / "generator.safetensors")
    with pytest.raises(BundleError, match="outside"):
        ganzoo.load(run)
    with pytest.raises(BundleError, match="outside"):
        ganzoo.save(run, tmp_path / "b2")


def test_publish_never_uploads_a_linked_token(hub, tmp_path):
    token_file = tmp_path / "hf_home_token"
    token_file.write_text(hub.token)
    folder = _tiny(tmp_path)
    (folder / "README.md").unlink()
    (folder / "README.md").symlink_to(token_file)
    with pytest.raises(BundleError, match="holds links.*README.md"):
        ganzoo.push_to_hub(folder, "evil/leak")
    res = CliRunner().invoke(cli, ["publish", str(folder), "--repo", "evil/leak"])
    assert res.exit_code != 0 and "holds links" in res.output and "Traceback" not in res.output
    assert ("model", "evil/leak") not in hub.repos, "nothing was created or uploaded"
    assert hub.token_leaks() == []
    # A linked extra weights file, even one the bundle does not list, is refused too.
    (folder / "README.md").unlink()
    (folder / "notes.safetensors").symlink_to(_tiny(tmp_path, "x") / "generator.safetensors")
    with pytest.raises(BundleError, match="holds links.*notes.safetensors"):
        ganzoo.push_to_hub(folder, "evil/leak")


def test_publish_uploads_only_what_the_bundle_lists(hub, tmp_path):
    folder = _tiny(tmp_path)
    (folder / "extra.safetensors").write_bytes((folder / "generator.safetensors").read_bytes())
    (folder / "notes.txt").write_text("private notes")
    (folder / "sub").mkdir()
    (folder / "sub" / "more.safetensors").write_bytes(b"x")
    ganzoo.push_to_hub(folder, "me/b")
    files = set(hub.files("me/b")) - {".gitattributes"}
    assert files == {"ganzoo.json", "generator.safetensors", "discriminator.safetensors", "README.md"}


def test_a_corrupt_bundle_is_not_published(hub, tmp_path):
    folder = _tiny(tmp_path)
    w = folder / "discriminator.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 1
    w.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="refusing to publish.*discriminator.safetensors.*corrupt"):
        ganzoo.push_to_hub(folder, "me/b")
    assert ("model", "me/b") not in hub.repos


def test_a_folder_where_a_card_file_belongs_is_refused_in_one_line(hub, tmp_path):
    folder = _tiny(tmp_path)
    (folder / "samples.png").mkdir()
    with pytest.raises(BundleError, match=r"samples.png: it is not a regular file"):
        ganzoo.push_to_hub(folder, "me/b")
    res = CliRunner().invoke(cli, ["publish", str(folder), "--repo", "me/b"])
    assert res.exit_code != 0 and "not a regular file" in res.output and "Traceback" not in res.output
    assert ("model", "me/b") not in hub.repos


def test_a_bad_ganzoo_json_is_named_by_the_users_folder_not_the_staging_copy(hub, tmp_path):
    folder = _tiny(tmp_path)
    (folder / "ganzoo.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(BundleError) as info:
        ganzoo.push_to_hub(folder, "me/b")
    assert str(folder) in str(info.value) and "ganzoo-publish-" not in str(info.value), str(info.value)
    assert ("model", "me/b") not in hub.repos


def test_an_oversized_hub_file_is_refused_before_it_is_downloaded(hub, tmp_path, monkeypatch):
    import ganzoo.limits

    folder = _tiny(tmp_path)
    ganzoo.push_to_hub(folder, "big/weights")
    ganzoo.push_to_hub(folder, "big/meta")
    size = (folder / "generator.safetensors").stat().st_size
    # Stand-ins for 2 GiB of weights and a 4 MiB ganzoo.json, without writing gigabytes.
    monkeypatch.setattr(ganzoo.limits, "MAX_MODEL_BYTES", size // 2)
    monkeypatch.setattr(ganzoo.limits, "MAX_HEADER_BYTES", 0)
    with pytest.raises(BundleError, match=r"refusing to download hf-hub:big/weights: the Hub says generator.safetensors is [\d,]+ bytes"):
        ganzoo.load("hf-hub:big/weights")
    gets = [path for method, path in hub.requests if method == "GET"]
    assert not any("/big/weights/resolve/" in path and path.endswith(".safetensors") for path in gets), gets
    assert not list(hub.cache_dir.glob("models--big--weights/snapshots/*/generator.safetensors"))
    monkeypatch.setattr(ganzoo.limits, "MAX_JSON_BYTES", 10)
    res = CliRunner().invoke(cli, ["sample", "hf-hub:big/meta", "-o", str(tmp_path / "s.png")])
    assert res.exit_code != 0 and "ganzoo.json is" in res.output and "Traceback" not in res.output, res.output
    assert not list(hub.cache_dir.glob("models--big--meta/snapshots/*/ganzoo.json"))


def test_a_push_between_the_check_and_the_download_is_refused(hub, tmp_path, monkeypatch):
    # A push between the size check and the download must not slip an unchecked ganzoo.json in.
    import huggingface_hub

    import ganzoo.hub

    folder = _tiny(tmp_path)
    ganzoo.push_to_hub(folder, "race/b")
    first = huggingface_hub.HfApi().model_info("race/b").sha
    real = ganzoo.hub._refuse_oversized

    def check_then_push(*args, **kwargs):
        pinned = real(*args, **kwargs)
        if args[1] == "ganzoo.json":
            hub.corrupt("race/b", "ganzoo.json", b"[" * 100_000)  # a new commit on main, after the check
        return pinned

    monkeypatch.setattr(ganzoo.hub, "_refuse_oversized", check_then_push)
    with pytest.raises(BundleError, match=f"hf-hub:race/b changed while it was being loaded \\(commit {first[:12]}"):
        ganzoo.load("hf-hub:race/b")


def test_a_cached_pinned_load_asks_the_hub_nothing(hub, tmp_path):
    folder = _tiny(tmp_path)
    ganzoo.push_to_hub(folder, "cached/b")
    import huggingface_hub

    sha = huggingface_hub.HfApi().model_info("cached/b").sha
    ganzoo.load(f"hf-hub:cached/b@{sha}")
    seen = len(hub.requests)
    ganzoo.load(f"hf-hub:cached/b@{sha}")
    assert hub.requests[seen:] == []


# --------------------------------------------------------------------------- save --overwrite


def test_overwrite_never_deletes_the_run_or_a_user_folder(tmp_path):
    run = _run(tmp_path)
    before = sorted(str(p.relative_to(run)) for p in run.rglob("*"))
    runner = CliRunner()
    res = runner.invoke(cli, ["save", str(run), str(run), "--overwrite"])
    assert res.exit_code != 0 and "refusing to overwrite" in res.output and "Traceback" not in res.output
    assert sorted(str(p.relative_to(run)) for p in run.rglob("*")) == before, "the run is untouched"
    user = tmp_path / "photos"
    user.mkdir()
    (user / "cat.jpg").write_bytes(b"meow")
    res = runner.invoke(cli, ["save", str(run), str(user), "--overwrite"])
    assert res.exit_code != 0 and "not one" in res.output
    assert (user / "cat.jpg").read_bytes() == b"meow"
    # A bundle that holds the run being saved is not replaced either.
    outer = _tiny(tmp_path, "outer")
    inner = shutil.copytree(run, outer / "run")
    with pytest.raises(BundleError, match="refusing to overwrite"):
        ganzoo.save(inner, outer, overwrite=True)
    assert (inner / "checkpoints").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outer", "photos", "run"], "no temporary folder left"


def test_overwrite_replaces_an_existing_bundle(tmp_path):
    run = _run(tmp_path)
    old = _tiny(tmp_path, "b")
    res = CliRunner().invoke(cli, ["save", str(run), str(old), "--overwrite"])
    assert res.exit_code == 0, res.output
    meta = _meta(old)
    assert meta["training"]["steps"] == 2, "the new bundle is in place"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "run"], "no temporary or old folder left"


def test_overwrite_never_deletes_what_else_a_bundle_folder_holds(tmp_path):
    # A second review: a run trained into a bundle folder, a run nested in it, a user's notes.
    run = _run(tmp_path)
    for extra in ("notes.txt", "myrun/checkpoints/x", "photos/a.png"):
        bundle = _tiny(tmp_path, "b-" + extra.split("/")[0].replace(".", "-"))
        (bundle / extra).parent.mkdir(parents=True, exist_ok=True)
        (bundle / extra).write_text("mine")
        before = _meta(bundle)
        res = CliRunner().invoke(cli, ["save", str(run), str(bundle), "--overwrite"])
        assert res.exit_code != 0 and "--overwrite would delete" in res.output, res.output
        assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
        assert (bundle / extra).read_text() == "mine" and _meta(bundle) == before


def test_a_training_is_refused_inside_a_bundle_folder(tmp_path):
    bundle = _tiny(tmp_path, "b")
    before = sorted(p.name for p in bundle.iterdir())
    res = CliRunner().invoke(cli, ["train", "vanilla", "--dataset", "ring8", "--steps", "2", "--out", str(bundle),
                                   "-q"])
    assert res.exit_code != 0 and "is a bundle folder" in res.output, res.output
    assert sorted(p.name for p in bundle.iterdir()) == before, "nothing written into the bundle"


def test_outputs_never_replace_a_bundle_or_run_file_nor_write_through_a_link(tmp_path):
    bundle = _tiny(tmp_path, "b")
    before = (bundle / "ganzoo.json").read_bytes()
    res = CliRunner().invoke(cli, ["eval", "vanilla-mnist", "-n", "64", "--json", str(bundle / "ganzoo.json")])
    assert res.exit_code != 0 and "part of the bundle or run" in res.output, res.output
    assert (bundle / "ganzoo.json").read_bytes() == before
    run = _run(tmp_path)
    config = (run / "config.json").read_bytes()
    link = tmp_path / "link.png"
    link.symlink_to(run / "config.json")
    for target in (run / "config.json", link):
        res = CliRunner().invoke(cli, ["sample", "vanilla-mnist", "-n", "4", "-o", str(target)])
        assert res.exit_code != 0 and "Traceback" not in res.output, res.output
    assert (run / "config.json").read_bytes() == config


def test_overwrite_without_atomic_exchange_keeps_the_old_bundle_on_failure(tmp_path, monkeypatch):
    import ganzoo.zoo as zoo

    folder = _tiny(tmp_path, "b")
    before = (folder / "generator.safetensors").read_bytes()
    monkeypatch.setattr(zoo, "_exchange", lambda a, b: False)  # e.g. not Linux
    real_replace = os.replace

    def fail_second(src, dst):
        if Path(src).name.endswith(".tmp"):
            raise OSError("disk gone")
        return real_replace(src, dst)

    monkeypatch.setattr(zoo.os, "replace", fail_second)
    with pytest.raises(OSError, match="disk gone"):
        _tiny(tmp_path, "b", overwrite=True)
    assert (folder / "generator.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]
    monkeypatch.setattr(zoo.os, "replace", real_replace)
    _tiny(tmp_path, "b", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_bundles_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        folder = _tiny(tmp_path)
    finally:
        os.umask(old)
    assert folder.stat().st_mode & 0o777 == 0o777 & ~umask
    for f in folder.iterdir():
        assert f.stat().st_mode & 0o777 == 0o666 & ~umask, f.name


# --------------------------------------------------------------------------- untrusted text, names


def test_a_hostile_distribution_name_never_becomes_a_command(tmp_path):
    folder = _tiny(tmp_path)
    meta = _meta(folder)
    meta.update(model="stylegan9", plugin={"name": "x", "distribution": "evil; rm -rf ~", "version": "1\n$(id)"})
    _write_meta(folder, meta)
    with pytest.raises(BundleError) as info:
        ganzoo.load(folder)
    msg = str(info.value)
    assert "pip install" not in msg and "not a valid package name" in msg and "\n" not in msg
    from ganzoo.zoo import model_card

    card = model_card(meta)
    assert "pip install evil" not in card and "$(id)" not in card
    meta["plugin"] = {"distribution": "ganzoo-stylegan9", "version": "1.2.0"}
    _write_meta(folder, meta)
    with pytest.raises(BundleError, match=r"the bundle says .*'ganzoo-stylegan9'.*`pip install ganzoo-stylegan9`"):
        ganzoo.load(folder)


def test_pretrained_ids_win_over_folders_of_the_same_name(tmp_path, monkeypatch):
    from ganzoo.zoo import bundle_folder

    monkeypatch.chdir(tmp_path)
    _tiny(tmp_path, "dcgan-mnist")  # a vanilla bundle named like the pinned DCGAN
    with pytest.warns(UserWarning, match=r"ids win.*\./dcgan-mnist"):
        g = ganzoo.load("dcgan-mnist")
    assert type(g).__name__ == "DCGANGenerator", "the pinned, sha-checked id"
    assert type(ganzoo.load("./dcgan-mnist")).__name__ == "MLPGenerator"
    assert type(ganzoo.load(Path("dcgan-mnist"))).__name__ == "MLPGenerator"
    assert type(ganzoo.load(tmp_path / "dcgan-mnist")).__name__ == "MLPGenerator"
    _tiny(tmp_path, "mine")  # a bare name that is no id still finds the folder
    assert type(ganzoo.load("mine")).__name__ == "MLPGenerator"
    with pytest.raises(BundleError, match="not a ganzoo bundle"):
        bundle_folder("./nothing-here")


def test_a_normal_bundle_still_round_trips_exactly(tmp_path):
    gan = ganzoo.create("cgan", width=8)
    folder = ganzoo.save(gan, tmp_path / "c", dataset="mnist", samples=False)
    for comp in ("generator", "discriminator"):
        loaded = ganzoo.load(folder, component=comp)
        own = getattr(gan, comp).state_dict()
        assert loaded.state_dict().keys() == own.keys()
        assert all(torch.equal(loaded.state_dict()[k], v) for k, v in own.items())
        assert not any(t.is_meta for t in [*loaded.parameters(), *loaded.buffers()])
        assert all(p.requires_grad for p in loaded.parameters()), "fine-tuning still works"


class _ScaledGenerator(ganzoo.Generator):
    """A generator holding a non-persistent buffer (not in its weights file): needs a real build."""

    def __init__(self, data_shape=(2,), latent_dim=4):
        super().__init__()
        self.latent_dim, self.num_classes, self.output_shape = latent_dim, None, tuple(data_shape)
        self.net = torch.nn.Linear(latent_dim, data_shape[0])
        self.register_buffer("scale", torch.full((1,), 0.5), persistent=False)

    def forward(self, z, y=None):
        return self.net(z) * self.scale


class _TinyDiscriminator(ganzoo.Discriminator):
    def __init__(self, data_shape=(2,)):
        super().__init__()
        self.input_shape = tuple(data_shape)
        self.net = torch.nn.Linear(data_shape[0], 1)

    def forward(self, x, y=None):
        return self.net(x).flatten()


def test_modules_with_state_outside_their_weights_are_built_for_real(tmp_path):
    import types

    module = types.ModuleType("scaled_plugin")

    @ganzoo.hookimpl
    def ganzoo_register_models(register):
        register(ganzoo.ModelSpec(name="scaled", family="scaled", paper="none (a test plugin)",
                                  build=lambda data_shape=(2,), latent_dim=4, num_classes=None: (
                                      _ScaledGenerator(data_shape, latent_dim), _TinyDiscriminator(data_shape)),
                                  defaults={"data_shape": (2,), "latent_dim": 4, "num_classes": None}))

    module.ganzoo_register_models = ganzoo_register_models
    ganzoo.plugins.register_plugin(module, name="scaled-plugin")
    try:
        gan = ganzoo.create("scaled")
        folder = ganzoo.save(gan, tmp_path / "s", samples=False)
        g = ganzoo.load(folder)
        assert g.scale.item() == 0.5 and not g.scale.is_meta
        z = torch.randn(3, 4)
        with torch.no_grad():
            assert torch.equal(g(z), gan.generator.eval()(z))
    finally:
        ganzoo.plugins.reset()
