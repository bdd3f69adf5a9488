"""Publishing bundles to the Hub and loading them back, through the real `huggingface_hub` client.

The `hub` fixture (tests/conftest.py) starts a local Hub-compatible server (ganzoo/testing/hub_server.py, via `ganzoo.testing.local_hub`)
and points the client at it; nothing here can reach the real Hub or read a real token.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import ganzoo
from ganzoo.cli import cli
from ganzoo.errors import BundleError, HubError

pytest.importorskip("huggingface_hub")
# The client's LFS upload passes `data=` to httpx, which warns about it.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REPO = "ganzoo-test/vanilla-points"


@pytest.fixture
def bundle(tmp_path) -> Path:
    gan = ganzoo.create("vanilla", data_shape=(2,), latent_dim=2, g_hidden=(16,), d_hidden=(16,))
    return ganzoo.save(gan, tmp_path / "bundle", dataset="ring8")


def _cache_files(hub) -> dict[str, int]:
    root = Path(hub.cache_dir)
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def test_publish_then_load_round_trip(hub, bundle):
    url = ganzoo.push_to_hub(bundle, REPO)
    assert "/commit/" in url
    files = {path for _, path in hub.requests}
    assert any(p.endswith(".git/info/lfs/objects/batch") for p in files), "weights go through the LFS path"
    # The uploaded model card names the repository it lives in.
    from huggingface_hub import hf_hub_download

    card = Path(hf_hub_download(REPO, "README.md")).read_text()
    assert f"hf-hub:{REPO}" in card and "library_name: ganzoo" in card
    g = ganzoo.load(f"hf-hub:{REPO}")
    z = torch.randn(64, 2)
    with torch.no_grad():
        assert torch.equal(g(z), ganzoo.load(bundle)(z))
    assert not g.training and next(g.parameters()).device.type == "cpu"
    d = ganzoo.load(f"hf-hub:{REPO}", component="discriminator")
    assert isinstance(d, ganzoo.Discriminator)
    assert hub.token_leaks() == [], "the token travels in the Authorization header only"


def test_revisions_branches_and_offline_cache(hub, tmp_path, bundle):
    ganzoo.push_to_hub(bundle, REPO)
    other = ganzoo.save(ganzoo.create("vanilla", data_shape=(2,), latent_dim=2, g_hidden=(16,), d_hidden=(16,)),
                        tmp_path / "other", dataset="ring8")
    ganzoo.push_to_hub(other, REPO, revision="v2", message="second model")
    main_sha = hub.repos[("model", REPO)].branches["main"]
    z = torch.randn(8, 2)
    with torch.no_grad():
        assert torch.equal(ganzoo.load(f"hf-hub:{REPO}@v2")(z), ganzoo.load(other)(z))
        assert torch.equal(ganzoo.load(f"hf-hub:{REPO}@{main_sha}")(z), ganzoo.load(bundle)(z))
        assert torch.equal(ganzoo.load(f"hf-hub:{REPO}")(z), ganzoo.load(bundle)(z))
        # Offline: served from the cache, with zero requests.
        seen = len(hub.requests)
        hub.set_offline(True)
        assert torch.equal(ganzoo.load(f"hf-hub:{REPO}")(z), ganzoo.load(bundle)(z))
        assert torch.equal(ganzoo.load(f"hf-hub:{REPO}@v2")(z), ganzoo.load(other)(z))
        assert len(hub.requests) == seen
        with pytest.raises(HubError, match="not in the local Hub cache.*HF_HUB_OFFLINE"):
            ganzoo.load("hf-hub:ganzoo-test/never-downloaded")


def test_cli_publish(hub, bundle):
    res = CliRunner().invoke(cli, ["publish", str(bundle), "--repo", REPO, "--private", "--message", "hello"])
    assert res.exit_code == 0, res.output
    assert f'ganzoo.load("hf-hub:{REPO}")' in res.output and hub.token not in res.output
    assert hub.repos[("model", REPO)].private
    res = CliRunner().invoke(cli, ["sample", f"hf-hub:{REPO}", "-o", str(bundle.parent / "s.npz")])
    assert res.exit_code == 0, res.output


def test_publish_a_run_directory(hub, tmp_path):
    run = ganzoo.train("vanilla", dataset="ring8", steps=3, out=str(tmp_path / "run"), quiet=True,
                       sample_every=10**6, checkpoint_every=10**6)
    ganzoo.push_to_hub(run.run_dir, REPO)
    z = torch.randn(8, 2)
    with torch.no_grad():
        assert torch.equal(ganzoo.load(f"hf-hub:{REPO}")(z), run.sampling_generator.eval()(z))
    meta = json.loads((tmp_path / "run" / "config.json").read_text())
    assert meta["model"] == "vanilla"
    for path in (tmp_path / "run").rglob("*"):  # nothing of the token lands in the run directory
        if path.is_file():
            assert hub.token.encode() not in path.read_bytes()


def test_hub_errors_are_clear(hub, bundle):
    with pytest.raises(HubError, match="'ganzoo-test/missing' not found, or it is private"):
        ganzoo.load("hf-hub:ganzoo-test/missing")
    ganzoo.push_to_hub(bundle, REPO)
    with pytest.raises(HubError, match="revision 'nope' does not exist"):
        ganzoo.load(f"hf-hub:{REPO}@nope")
    hub.create_repo("ganzoo-test/not-a-bundle")
    hub.commit("ganzoo-test/not-a-bundle", {"README.md": b"hello"})
    with pytest.raises(HubError, match="no ganzoo.json: it is not a ganzoo bundle"):
        ganzoo.load("hf-hub:ganzoo-test/not-a-bundle")
    with pytest.raises(HubError, match="bad Hub reference"):
        ganzoo.load("hf-hub:just-a-name")


def test_unauthorized_and_missing_token(hub, bundle, monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setenv("HF_TOKEN", "hf_wrong_token_123456")
    with pytest.raises(HubError) as info:
        ganzoo.push_to_hub(bundle, REPO)
    assert "refused" in str(info.value) and "HF_TOKEN" in str(info.value)
    assert "hf_wrong_token_123456" not in str(info.value), "a token never appears in errors"
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(Path(hub.cache_dir).parent / "no-token"), raising=False)
    with pytest.raises(HubError, match="no Hugging Face token found"):
        ganzoo.push_to_hub(bundle, REPO)
    # A private repository is invisible without the token.
    monkeypatch.setenv("HF_TOKEN", hub.token)
    ganzoo.push_to_hub(bundle, "ganzoo-test/secret", private=True)
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(HubError, match="not found, or it is private"):
        ganzoo.load("hf-hub:ganzoo-test/secret")


def test_corrupt_download_is_refused_and_the_cache_kept(hub, bundle):
    ganzoo.push_to_hub(bundle, REPO)
    data = (bundle / "generator.safetensors").read_bytes()
    hub.corrupt(REPO, "generator.safetensors", data[:-40])
    before = None
    for _ in range(2):  # the second try finds the same cached files and refuses them again
        with pytest.raises(BundleError, match="corrupt or truncated"):
            ganzoo.load(f"hf-hub:{REPO}")
        after = _cache_files(hub)
        assert before is None or after == before, "the cache is left as it was"
        before = after


def test_bundle_naming_a_missing_plugin(hub, bundle):
    meta = json.loads((bundle / "ganzoo.json").read_text())
    meta.update(model="progan", plugin={"name": "progan", "distribution": "ganzoo-progan", "version": "0.3.0"})
    (bundle / "ganzoo.json").write_text(json.dumps(meta))
    ganzoo.push_to_hub(bundle, REPO)
    with pytest.raises(BundleError, match="pip install ganzoo-progan"):
        ganzoo.load(f"hf-hub:{REPO}")


def test_weights_that_do_not_fit_the_published_config(hub, bundle):
    meta = json.loads((bundle / "ganzoo.json").read_text())
    meta["config"]["g_hidden"] = [32]
    (bundle / "ganzoo.json").write_text(json.dumps(meta))
    ganzoo.push_to_hub(bundle, REPO)
    with pytest.raises(BundleError, match="do not fit MLPGenerator"):
        ganzoo.load(f"hf-hub:{REPO}")


def test_pretrained_entry_falls_back_to_its_hub_repo(hub, monkeypatch, tmp_path):
    import dataclasses

    spec, entry = ganzoo.get_pretrained("dcgan-mnist")
    ganzoo.push_to_hub(entry.bundle, entry.hub_repo)
    # A package without the shipped folder (e.g. a slimmed install): the Hub copy is used, sha-checked.
    from ganzoo import (
        registry,  # specs are read-only: swap the registry's spec, as a plugin update would
    )

    def use(e):
        monkeypatch.setitem(registry._get().models, spec.name,
                            dataclasses.replace(spec, pretrained={**spec.pretrained, "dcgan-mnist": e}))

    use(dataclasses.replace(entry, bundle=str(tmp_path / "gone")))
    g = ganzoo.load("dcgan-mnist")
    assert g.sample(2).shape == (2, 1, 28, 28)
    use(dataclasses.replace(entry, bundle="", sha256="f" * 64))
    with pytest.raises(BundleError, match="pretrained entry"):
        ganzoo.load("dcgan-mnist")
    assert os.environ["HF_ENDPOINT"] == hub.endpoint


@pytest.mark.slow
def test_verify_the_receipt_of_a_published_bundle(hub, mnist_dir):
    _, entry = ganzoo.get_pretrained("vanilla-mnist")
    ganzoo.push_to_hub(entry.bundle, "ganzoo-test/vanilla-mnist")
    res = CliRunner().invoke(cli, ["eval", "hf-hub:ganzoo-test/vanilla-mnist", "--verify", "--data-dir", str(mnist_dir)])
    assert res.exit_code == 0, res.output
    assert "verified" in res.output and "NOT" not in res.output
