"""The real `huggingface_hub` client against the local Hub of ganzoo/testing/hub_server.py (fixture `hub`)."""

from __future__ import annotations

import hashlib
import json
import struct
import urllib.error
import urllib.request
from pathlib import Path

import pytest

hf = pytest.importorskip("huggingface_hub")
errors = pytest.importorskip("huggingface_hub.errors")

# The LFS PUT passes `data=` to httpx, which warns about it.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REPO = "ganzoo-test/tiny"
README = "---\nlicense: apache-2.0\nlibrary_name: ganzoo\n---\n# tiny\n"


def safetensors_bytes(values: list[float]) -> bytes:
    """A valid single-tensor safetensors file (F32), built by hand to stay fast and dependency-free."""
    payload = struct.pack(f"<{len(values)}f", *values)
    meta = {"w": {"dtype": "F32", "shape": [len(values)], "data_offsets": [0, len(payload)]}}
    header = json.dumps(meta).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + payload


WEIGHTS = safetensors_bytes([0.5, -1.0, 2.0, 3.25])


@pytest.fixture(autouse=True)
def _no_server_bugs(request: pytest.FixtureRequest):
    """Every test also fails if the server hit a bug of its own (answered 400 and logged)."""
    server = request.getfixturevalue("hub") if "hub" in request.fixturenames else None
    yield
    if server is not None:
        assert server.errors == [], server.errors[0]


def make_folder(root: Path, weights: bytes = WEIGHTS) -> Path:
    folder = root / "upload"
    folder.mkdir(exist_ok=True)
    (folder / "README.md").write_text(README)
    (folder / "model.safetensors").write_bytes(weights)
    return folder


def upload(hub, tmp_path: Path, repo_id: str = REPO, **kwargs) -> hf.CommitInfo:
    api = hf.HfApi()
    api.create_repo(repo_id, exist_ok=True, **kwargs)
    return api.upload_folder(repo_id=repo_id, folder_path=make_folder(tmp_path))


def test_create_repo_and_exist_ok(hub) -> None:
    api = hf.HfApi()
    url = api.create_repo(REPO)
    assert str(url) == f"{hub.endpoint}/{REPO}"
    with pytest.raises(errors.HfHubHTTPError) as info:
        api.create_repo(REPO)
    assert info.value.response.status_code == 409
    assert str(api.create_repo(REPO, exist_ok=True)) == str(url)
    assert api.list_repo_files(REPO) == [".gitattributes"]
    api.delete_repo(REPO)
    with pytest.raises(errors.RepositoryNotFoundError):
        api.model_info(REPO)


def test_upload_folder_goes_through_lfs(hub, tmp_path: Path) -> None:
    info = upload(hub, tmp_path)
    assert "/commit/" in info.commit_url and info.oid in info.commit_url
    assert info.commit_url.startswith(hub.endpoint)
    methods_paths = hub.requests
    assert ("POST", f"/{REPO}.git/info/lfs/objects/batch") in methods_paths
    puts = [rec for rec in hub.log if rec.method == "PUT"]
    assert len(puts) == 1 and puts[0].status == 200 and puts[0].body == WEIGHTS
    assert puts[0].authorization is None  # the LFS PUT carries no credentials
    stored = hub.repos[("model", REPO)].commits[info.oid]
    assert stored["model.safetensors"].lfs_sha256 == hashlib.sha256(WEIGHTS).hexdigest()
    assert stored["README.md"].lfs_sha256 is None
    assert stored["README.md"].data == README.encode()
    assert sorted(hf.HfApi().list_repo_files(REPO)) == [
        ".gitattributes",
        "README.md",
        "model.safetensors",
    ]
    # The token only ever travels in the Authorization header, and every other request carried it.
    assert hub.token_leaks() == []
    assert all(rec.authorization == f"Bearer {hub.token}" for rec in hub.log if rec.method != "PUT")


def test_model_info_by_branch_and_by_sha(hub, tmp_path: Path) -> None:
    first = upload(hub, tmp_path)
    api = hf.HfApi()
    second = api.upload_file(path_or_fileobj=b"extra", path_in_repo="notes.txt", repo_id=REPO)
    assert second.oid != first.oid
    assert api.model_info(REPO).sha == second.oid
    assert api.model_info(REPO, revision="main").sha == second.oid
    old = api.model_info(REPO, revision=first.oid)
    assert old.sha == first.oid
    assert "notes.txt" not in {s.rfilename for s in old.siblings}
    assert "notes.txt" in api.list_repo_files(REPO)
    meta = api.model_info(REPO, files_metadata=True)
    lfs = {s.rfilename: s.lfs for s in meta.siblings}
    assert lfs["model.safetensors"].sha256 == hashlib.sha256(WEIGHTS).hexdigest()
    assert lfs["README.md"] is None


def test_download_and_snapshot(hub, tmp_path: Path) -> None:
    first = upload(hub, tmp_path)
    path = hf.hf_hub_download(REPO, "model.safetensors")
    assert Path(path).read_bytes() == WEIGHTS
    assert Path(path).is_relative_to(hub.cache_dir)
    snap = Path(hf.snapshot_download(REPO))
    assert snap.name == first.oid
    assert (snap / "README.md").read_text() == README
    assert (snap / "model.safetensors").read_bytes() == WEIGHTS
    # A later commit changes the file; the first commit's sha still serves the old bytes.
    hf.HfApi().upload_file(path_or_fileobj=b"new", path_in_repo="model.safetensors", repo_id=REPO)
    assert (
        Path(hf.hf_hub_download(REPO, "model.safetensors", force_download=True)).read_bytes()
        == b"new"
    )
    old = hf.hf_hub_download(
        REPO, "model.safetensors", revision=first.oid, cache_dir=tmp_path / "c2"
    )
    assert Path(old).read_bytes() == WEIGHTS


def test_branch_create_and_upload(hub, tmp_path: Path) -> None:
    first = upload(hub, tmp_path)
    api = hf.HfApi()
    api.create_branch(REPO, branch="exp/one")
    with pytest.raises(errors.HfHubHTTPError) as info:
        api.create_branch(REPO, branch="exp/one")
    assert info.value.response.status_code == 409
    api.create_branch(REPO, branch="exp/one", exist_ok=True)
    on_branch = api.upload_file(
        path_or_fileobj=b"branch only", path_in_repo="b.txt", repo_id=REPO, revision="exp/one"
    )
    assert hub.head(REPO, "exp/one") == on_branch.oid
    assert hub.head(REPO, "main") == first.oid
    assert "b.txt" not in api.list_repo_files(REPO)
    assert "b.txt" in api.list_repo_files(REPO, revision="exp/one")
    path = hf.hf_hub_download(REPO, "b.txt", revision="exp/one")
    assert Path(path).read_bytes() == b"branch only"
    with pytest.raises(errors.RevisionNotFoundError):
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=REPO, revision="nope")


def test_offline_mode_serves_the_cache(hub, tmp_path: Path) -> None:
    upload(hub, tmp_path)
    online = hf.hf_hub_download(REPO, "model.safetensors")
    snap = hf.snapshot_download(REPO)
    seen = len(hub.requests)
    hub.set_offline(True)
    assert hf.constants.HF_HUB_OFFLINE
    assert hf.hf_hub_download(REPO, "model.safetensors") == online
    assert hf.snapshot_download(REPO) == snap
    with pytest.raises((errors.LocalEntryNotFoundError, OSError)) as info:
        hf.hf_hub_download(REPO, "never-downloaded.bin")
    assert not isinstance(info.value, errors.HfHubHTTPError)
    assert len(hub.requests) == seen  # the client made no request while offline
    hub.set_offline(False)
    assert Path(hf.hf_hub_download(REPO, "README.md", force_download=True)).read_text() == README


def test_errors(hub, tmp_path: Path) -> None:
    upload(hub, tmp_path)
    api = hf.HfApi()
    with pytest.raises(errors.RepositoryNotFoundError):
        api.model_info("ganzoo-test/missing")
    with pytest.raises(errors.RepositoryNotFoundError):
        hf.hf_hub_download("ganzoo-test/missing", "model.safetensors")
    with pytest.raises(errors.RevisionNotFoundError):
        api.model_info(REPO, revision="no-such-branch")
    with pytest.raises(errors.RevisionNotFoundError):
        hf.hf_hub_download(REPO, "model.safetensors", revision="no-such-branch")
    remote_entry = getattr(errors, "RemoteEntryNotFoundError", errors.EntryNotFoundError)
    with pytest.raises(remote_entry) as info:
        hf.hf_hub_download(REPO, "missing.safetensors")
    assert info.value.response.status_code == 404
    with pytest.raises(errors.HfHubHTTPError) as info:
        hf.HfApi(token="hf_wrong_token").model_info(REPO)
    assert info.value.response.status_code == 401
    assert not isinstance(info.value, errors.RepositoryNotFoundError)
    assert hf.HfApi(token=False).model_info(REPO).sha == hub.head(
        REPO
    )  # public: anonymous reads work


def test_private_repo_is_invisible_without_token(hub, tmp_path: Path) -> None:
    upload(hub, tmp_path, repo_id="ganzoo-test/secret", private=True)
    assert hub.repos[("model", "ganzoo-test/secret")].private
    assert hf.HfApi().model_info("ganzoo-test/secret").private is True
    anonymous = hf.HfApi(token=False)
    with pytest.raises(errors.RepositoryNotFoundError):
        anonymous.model_info("ganzoo-test/secret")
    with pytest.raises(errors.RepositoryNotFoundError):
        hf.hf_hub_download("ganzoo-test/secret", "model.safetensors", token=False)
    assert Path(hf.hf_hub_download("ganzoo-test/secret", "README.md")).read_text() == README


def test_corrupt_commits_other_bytes(hub, tmp_path: Path) -> None:
    first = upload(hub, tmp_path)
    truncated = WEIGHTS[:-5]
    bad_sha = hub.corrupt(REPO, "model.safetensors", truncated)
    assert bad_sha != first.oid and hub.head(REPO) == bad_sha
    stored = hub.repos[("model", REPO)].commits[bad_sha]["model.safetensors"]
    assert stored.lfs_sha256 == hashlib.sha256(truncated).hexdigest()
    assert Path(hf.hf_hub_download(REPO, "model.safetensors")).read_bytes() == truncated
    good = hf.hf_hub_download(REPO, "model.safetensors", revision=first.oid)
    assert Path(good).read_bytes() == WEIGHTS


def test_lfs_put_rejects_bad_bytes(hub, tmp_path: Path) -> None:
    hf.HfApi().create_repo(REPO)
    oid = hashlib.sha256(WEIGHTS).hexdigest()
    for data, size in ((b"X" * len(WEIGHTS), len(WEIGHTS)), (WEIGHTS[:-1], len(WEIGHTS))):
        url = f"{hub.endpoint}/__lfs__/model/{REPO}/{oid}/{size}"
        req = urllib.request.Request(url, data=data, method="PUT")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req)
        assert info.value.code == 400
    assert oid not in hub.repos[("model", REPO)].lfs_objects


def test_resolve_headers_follow_the_contract(hub, tmp_path: Path) -> None:
    info = upload(hub, tmp_path)
    auth = {"Authorization": f"Bearer {hub.token}"}
    for name, data in (("model.safetensors", WEIGHTS), ("README.md", README.encode())):
        url = f"{hub.endpoint}/{REPO}/resolve/main/{name}"
        req = urllib.request.Request(url, method="HEAD", headers=auth)
        with urllib.request.urlopen(req) as resp:
            headers = resp.headers
        assert headers["X-Repo-Commit"] == info.oid
        assert headers["X-Linked-Size"] == str(len(data))
        assert "Location" not in headers
        if name.endswith(".safetensors"):
            assert headers["X-Linked-Etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
        else:
            git_sha1 = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            assert headers["ETag"] == f'"{git_sha1}"' and "X-Linked-Etag" not in headers
    req = urllib.request.Request(f"{hub.endpoint}/{REPO}/resolve/main/nope.bin", headers=auth)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 404 and err.value.headers["X-Error-Code"] == "EntryNotFound"
