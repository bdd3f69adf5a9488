"""#25 item 10: plugin authors test their Hub round trip with `ganzoo.testing.local_hub`.

Also `ganzoo.load(..., endpoint=)` (as `push_to_hub` has), and offline / unreachable Hubs
answered after one attempt with a one-line error.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import ganzoo
import ganzoo.zoo
from ganzoo import hub as ganzoo_hub
from ganzoo.errors import HubError
from ganzoo.testing import LocalHub, local_hub

pytest.importorskip("huggingface_hub")
REPO = "plugin-author/tiny"


def _gan():
    return ganzoo.create("vanilla", data_shape=(2,), latent_dim=2, g_hidden=(8,), d_hidden=(8,))


def test_local_hub_round_trip_and_restores_the_client(tmp_path):
    from huggingface_hub import constants

    before_env = {k: os.environ.get(k) for k in ("HF_ENDPOINT", "HF_TOKEN", "HF_HOME", "HF_HUB_OFFLINE")}
    before_endpoint, before_cache = constants.ENDPOINT, constants.HF_HUB_CACHE
    gan = _gan()
    with local_hub() as hub:
        assert hub.endpoint.startswith("http://127.0.0.1:") and os.environ["HF_ENDPOINT"] == hub.endpoint
        assert constants.ENDPOINT == hub.endpoint and os.environ["HF_TOKEN"] == hub.token
        ganzoo.push_to_hub(ganzoo.save(gan, tmp_path / "b", dataset="ring8"), REPO)
        g = ganzoo.load(f"hf-hub:{REPO}")
        z = torch.randn(16, 2)
        with torch.no_grad():
            assert torch.equal(g(z), gan.generator.eval()(z))
        assert any(p.startswith(str(hub.cache_dir)) for p in map(str, Path(hub.cache_dir).rglob("*.safetensors")))
        assert hub.errors == [] and hub.token_leaks() == []
        temp_home = Path(hub.cache_dir).parent
    assert {k: os.environ.get(k) for k in before_env} == before_env
    assert (constants.ENDPOINT, constants.HF_HUB_CACHE) == (before_endpoint, before_cache)
    assert not temp_home.exists(), "the temporary HF_HOME is deleted on exit"
    with pytest.raises(OSError):  # the server is stopped
        import urllib.request

        urllib.request.urlopen(hub.endpoint + "/api/whoami-v2", timeout=5)


def test_load_takes_an_endpoint_like_push_to_hub(tmp_path):
    gan = _gan()
    with local_hub() as default_hub, LocalHub(token=default_hub.token) as other:
        bundle = ganzoo.save(gan, tmp_path / "b", dataset="ring8")
        ganzoo.push_to_hub(bundle, REPO, endpoint=other.endpoint + "/")
        assert not default_hub.requests, "push_to_hub(endpoint=) went to the other Hub only"
        with pytest.raises(HubError, match="not found"):  # HF_ENDPOINT's Hub does not have it
            ganzoo.load(f"hf-hub:{REPO}")
        g = ganzoo.load(f"hf-hub:{REPO}", endpoint=other.endpoint)
        z = torch.randn(8, 2)
        with torch.no_grad():
            assert torch.equal(g(z), ganzoo.load(bundle)(z))
        assert any("ganzoo.json" in path for _, path in other.requests)
        folder, _ = ganzoo.zoo.bundle_folder(f"hf-hub:{REPO}", endpoint=other.endpoint)
        assert (folder / "ganzoo.json").is_file()
        assert other.errors == [] and default_hub.errors == []


@pytest.mark.parametrize("bad", ["ftp://hub.example", "not a url", "http://", "https://h/x?a=1", 42])
def test_a_bad_endpoint_is_refused_in_one_line(bad):
    with pytest.raises(HubError, match="bad Hub endpoint") as info:
        ganzoo.load(f"hf-hub:{REPO}", endpoint=bad)
    assert "\n" not in str(info.value)
    with pytest.raises(HubError, match="bad Hub endpoint"):
        ganzoo.push_to_hub(_gan(), REPO, endpoint=bad, token="hf_x")


def test_offline_loads_from_the_cache_and_asks_the_server_nothing(tmp_path):
    with local_hub() as hub:
        ganzoo.push_to_hub(ganzoo.save(_gan(), tmp_path / "b", dataset="ring8"), REPO)
        ganzoo.load(f"hf-hub:{REPO}")
        hub.set_offline(True)
        asked = len(hub.requests)
        ganzoo.load(f"hf-hub:{REPO}")  # from the cache
        with pytest.raises(HubError, match="HF_HUB_OFFLINE") as info:
            ganzoo.load("hf-hub:plugin-author/never-pushed")
        assert "\n" not in str(info.value)
        assert len(hub.requests) == asked, "offline: no request at all"


def test_an_unreachable_hub_costs_one_attempt(monkeypatch, tmp_path):
    """A refused connection is answered after one attempt (no retry per file), naming the endpoint."""
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    attempts = []
    real = ganzoo_hub._request

    def counting(method, url, *args, **kwargs):
        attempts.append(url)
        return real(method, url, *args, **kwargs)

    monkeypatch.setattr(ganzoo_hub, "_request", counting)
    with local_hub():
        with pytest.raises(HubError) as info:
            ganzoo.load(f"hf-hub:{REPO}", endpoint=closed)
    message = str(info.value)
    assert f"cannot reach the Hub at {closed}" in message and "not in the local Hub cache" in message
    assert "\n" not in message
    assert len(attempts) == 1, attempts


def test_the_pytest_fixture_for_plugin_authors(tmp_path):
    """`pytest_plugins = ["ganzoo.testing.pytest_plugin"]` gives a plugin's tests the `ganzoo_hub` fixture."""
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["ganzoo.testing.pytest_plugin"]\n')
    (tmp_path / "test_round_trip.py").write_text(textwrap.dedent(f"""
        import os
        import ganzoo

        def test_round_trip(ganzoo_hub, tmp_path):
            assert os.environ["HF_ENDPOINT"] == ganzoo_hub.endpoint
            gan = ganzoo.create("vanilla", data_shape=(2,), latent_dim=2, g_hidden=(8,), d_hidden=(8,))
            ganzoo.push_to_hub(gan, "{REPO}", dataset="ring8")
            assert isinstance(ganzoo.load("hf-hub:{REPO}"), ganzoo.Generator)
            assert ganzoo_hub.errors == []
    """))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "PYTEST_"))}
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(root / "plugins"), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
