"""Bundle folders to and from the Hugging Face Hub (through ``huggingface_hub``).

A Hub reference is ``hf-hub:org/name`` with an optional ``@revision`` (branch, tag
or commit). Downloads go into ``huggingface_hub``'s cache and work offline from it
(``HF_HUB_OFFLINE=1``). The token comes from the usual places (``HF_TOKEN``,
``hf auth login``) or the ``token`` argument; it never appears in ganzoo's
messages, bundles or model cards.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

from ganzoo.bundle import (
    BUNDLE_FILE,
    CARD_FILES,
    COMPONENTS,
    HUB_PREFIX,
    LOCAL_REF,
    read_bundle_meta,
)
from ganzoo.card import model_card
from ganzoo.errors import BundleError, HubError


def parse_hub_ref(ref: str) -> tuple[str, str | None]:
    """``"hf-hub:org/name@rev"`` -> ``("org/name", "rev")`` (revision ``None`` when absent).

    Example:
        >>> parse_hub_ref("hf-hub:ganzoo/dcgan-mnist@v1")
        ('ganzoo/dcgan-mnist', 'v1')
    """
    text = ref[len(HUB_PREFIX):] if ref.startswith(HUB_PREFIX) else ref
    repo_id, _, revision = text.partition("@")
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(parts) or (revision == "" and "@" in text):
        raise HubError(f"bad Hub reference {ref!r}; expected hf-hub:org/name or hf-hub:org/name@revision")
    return repo_id, revision or None


def _scrub(text: str, token: str | None) -> str:
    """Remove every token we know of from a message (the client's errors quote requests)."""
    tokens = {token} if token else set()
    try:
        from huggingface_hub import get_token

        known = get_token()
        if known:
            tokens.add(known)
    except Exception:  # noqa: BLE001  (a broken token store must not hide the real error)
        pass
    for t in tokens:
        if t and len(t) >= 4:
            text = text.replace(t, "***")
    return text


def _hub_error(exc: Exception, repo_id: str, revision: str | None, token: str | None, what: str) -> HubError:
    """Map ``huggingface_hub``'s exceptions to one clear ganzoo message."""
    from huggingface_hub import errors

    rev = revision or "main"
    remote_missing = getattr(errors, "RemoteEntryNotFoundError", errors.EntryNotFoundError)
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, errors.LocalEntryNotFoundError):
        msg = (f"{what} {repo_id}@{rev} is not in the local Hub cache and the Hub cannot be reached "
               "(offline, HF_HUB_OFFLINE=1, or no network). Load it once while online, or unset HF_HUB_OFFLINE")
    elif isinstance(exc, errors.RevisionNotFoundError):
        msg = f"revision {rev!r} does not exist in the Hub repository {repo_id!r}; check the branch, tag or commit"
    elif isinstance(exc, errors.RepositoryNotFoundError):
        msg = (f"Hub repository {repo_id!r} not found, or it is private and your token cannot see it; "
               "check the name, and for a private repository set HF_TOKEN or run `hf auth login`")
    elif isinstance(exc, (remote_missing, errors.EntryNotFoundError)):
        msg = (f"{repo_id}@{rev} has no {what}: it is not a ganzoo bundle (or was uploaded incompletely); "
               "publish it with `ganzoo publish`")
    elif _is_connection_error(exc):
        msg = (f"cannot reach the Hub at {_endpoint_of(exc)} "
               f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no answer'}): check the "
               "network connection, a proxy, or HF_ENDPOINT")
    elif status in (401, 403):
        msg = (f"the Hub refused the request for {repo_id!r} ({status}): the token is missing, invalid or "
               "lacks access. Set HF_TOKEN or run `hf auth login`")
    else:
        msg = f"Hub request for {repo_id!r} failed: {type(exc).__name__}: {exc}"
    return HubError(_scrub(msg, token))


def download_bundle(
    repo_id: str, revision: str | None = None, *, component: str = "generator", token: str | None = None,
) -> Path:
    """Download a bundle's ``ganzoo.json`` and one component's weights; return the cached folder.

    Both files come from the same commit (the revision is resolved once). Works
    offline from ``huggingface_hub``'s cache. Nothing in the cache is deleted or
    changed when a download or a check fails.
    """
    from huggingface_hub import hf_hub_download

    if component not in COMPONENTS:
        raise BundleError(f"component must be one of {', '.join(COMPONENTS)}, got {component!r}")
    from ganzoo import limits

    # The size is asked for at a commit. The download goes by the revision as given (so the cache
    # records the branch for offline use); a push in between shows as another commit and is refused.
    pinned = _refuse_oversized(repo_id, BUNDLE_FILE, revision, token, limits.MAX_JSON_BYTES, "a bundle's ganzoo.json")
    meta_path = Path(_hub_call(BUNDLE_FILE, repo_id, revision, token, hf_hub_download, repo_id, BUNDLE_FILE,
                               revision=revision, token=token))
    if pinned is not None and meta_path.parent.name != pinned:
        raise BundleError(f"{HUB_PREFIX}{repo_id} changed while it was being loaded (commit {pinned[:12]} was "
                          f"checked, {meta_path.parent.name[:12]} downloaded); load it again")
    entry = read_bundle_meta(meta_path.parent)["weights"].get(component)
    if entry is None:
        raise BundleError(f"{HUB_PREFIX}{repo_id} has no {component} weights (it was published without them)")
    commit = meta_path.parent.name  # snapshots/<commit>/ganzoo.json: pin the weights to that commit
    _refuse_oversized(repo_id, entry["file"], commit, token, limits.MAX_MODEL_BYTES + limits.MAX_HEADER_BYTES + 8,
                      "a GAN's weights")
    _hub_call(entry["file"], repo_id, revision, token, hf_hub_download, repo_id, entry["file"], revision=commit,
              token=token)
    return meta_path.parent


def _refuse_oversized(repo_id: str, filename: str, revision: str | None, token: str | None, limit: int,
                      what: str) -> str | None:
    """Refuse, before downloading it, a Hub file larger than ``limit`` bytes; return the commit asked about.

    A hostile repository could otherwise fill the disk: ``hf_hub_download`` writes the whole
    file before anything can look at it. Asks the Hub for the file's size (one HEAD request)
    and returns the commit the answer is for, so the caller can refuse a download of another. A file
    already in the cache for a commit is not asked about (no request, as before); offline, or
    when the Hub cannot be asked, nothing is checked here and the download that follows
    reports the problem or uses the cache. What is read afterwards is size-checked again
    before anything is allocated. This trusts the Hub's answer: a server that lies about
    the size, or gives none, is stopped only by those later checks, which protect memory,
    not the disk.
    """
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url, try_to_load_from_cache

    if constants.HF_HUB_OFFLINE:
        return None
    if revision is not None and len(revision) == 40 and isinstance(
            try_to_load_from_cache(repo_id, filename, revision=revision), str):
        return None
    try:
        meta = get_hf_file_metadata(hf_hub_url(repo_id, filename, revision=revision), token=token)
    except Exception as exc:  # noqa: BLE001  (only the client's own errors are left to the download)
        if not _is_hub_error(exc):
            raise
        return None
    if meta.size is not None and meta.size > limit:
        raise BundleError(
            f"refusing to download {HUB_PREFIX}{repo_id}: the Hub says {filename} is {meta.size:,} bytes, more "
            f"than {what} can be ({limit:,}); the repository is not a ganzoo bundle or is damaged"
        )
    commit = meta.commit_hash
    return commit if isinstance(commit, str) and len(commit) == 40 else None


def _hub_call(what: str, repo_id: str, revision: str | None, token: str | None, fn: Any, /, *args: Any,
              **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, with the client's errors turned into one clear :class:`HubError`.

    The first four arguments only word the error; ``kwargs`` (which may hold ``revision=`` and
    ``token=`` too) all go to ``fn``.
    """
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001  (mapped to HubError, or re-raised)
        if not _is_hub_error(exc):
            raise
        raise _hub_error(exc, repo_id, revision, token, what) from None


def _endpoint_of(exc: BaseException) -> str:
    """``scheme://host[:port]`` of the request that failed, else the configured endpoint."""
    from urllib.parse import urlsplit

    try:
        url = urlsplit(str(exc.request.url))  # type: ignore[attr-defined]  (httpx, requests)
        if url.scheme and url.netloc:
            return f"{url.scheme}://{url.netloc}"
    except Exception:  # noqa: BLE001  (httpx raises RuntimeError when no request is attached)
        pass
    from huggingface_hub import constants

    return str(getattr(constants, "ENDPOINT", "https://huggingface.co"))


def _is_connection_error(exc: BaseException) -> bool:
    """The Hub could not be reached: refused, unresolvable, timed out, a broken proxy or TLS.

    huggingface_hub's HTTP client raises these as they come: ``httpx`` (hub 1.x) or ``httpx2``
    (hub 2.x) transport errors, which are not ``OSError``; ``requests`` ones, which are.
    """
    for cls in type(exc).__mro__:
        if cls.__module__.split(".")[0] in ("httpx", "httpx2") and cls.__name__ == "TransportError":
            return True
    return isinstance(exc, (ConnectionError, TimeoutError)) or any(
        cls.__module__.startswith("requests") and cls.__name__ in ("ConnectionError", "Timeout")
        for cls in type(exc).__mro__)


def _is_hub_error(exc: Exception) -> bool:
    from huggingface_hub import errors

    return isinstance(exc, (errors.HfHubHTTPError, errors.EntryNotFoundError, errors.LocalEntryNotFoundError,
                            errors.HFValidationError, OSError)) or _is_connection_error(exc)


BUNDLE_PATTERNS = [BUNDLE_FILE, "*.safetensors", "README.md", "samples.png"]


def check_publish(repo_id: str, token: str | None) -> None:
    """Refuse a bad repository id, or publishing without any token, before anything is saved or sent."""
    from huggingface_hub import get_token

    if "/" not in repo_id or repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise HubError(f"bad repository id {repo_id!r}; expected org/name")
    if token is None and get_token() is None:
        raise HubError("no Hugging Face token found: set HF_TOKEN or run `hf auth login` (a token with write "
                       "access is needed to publish)")


def publish_folder(
    bundle: Path,
    repo_id: str,
    staging: Path,
    *,
    private: bool = False,
    revision: str | None = None,
    message: str | None = None,
    token: str | None = None,
    endpoint: str | None = None,
) -> str:
    """Upload the bundle folder ``bundle`` to ``repo_id`` in one commit, from a checked copy in ``staging``.

    Used by :func:`ganzoo.push_to_hub`, which documents the checks. Returns the commit's URL.
    """
    from huggingface_hub import HfApi

    meta = stage_bundle(bundle, staging, repo_id)
    api = HfApi(endpoint=endpoint, token=token)

    def publish() -> Any:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        if revision and revision != "main":
            api.create_branch(repo_id, branch=revision, exist_ok=True, repo_type="model")
        return api.upload_folder(
            folder_path=str(staging), repo_id=repo_id, repo_type="model", revision=revision,
            commit_message=message or f"Upload {meta['model']} bundle with ganzoo",
            allow_patterns=BUNDLE_PATTERNS,
        )

    info = _hub_call("repository", repo_id, revision, token, publish)
    return str(getattr(info, "commit_url", info))


def stage_bundle(bundle: Path, dest: Path, repo_id: str | None = None) -> dict[str, Any]:
    """Copy what a bundle publishes into the new folder ``dest``, checking it; return its ``ganzoo.json``.

    Refuses any link in ``bundle`` (a link could carry an outside file, a token say, to the Hub)
    and any listed file that is not a regular file; copies ``ganzoo.json``, the weights files it
    names and the model card and sample grid when present; checks each weights file's sha256
    on the copy. A generated model card whose example still says ``path/to/this/folder`` (or a
    missing one) is written anew for ``repo_id``.
    """
    bundle = Path(bundle)
    links = [os.path.join(d, n) for d, dirs, files in os.walk(bundle) for n in dirs + files
             if os.path.islink(os.path.join(d, n))]
    if bundle.is_symlink() or links:
        shown = ", ".join((links or [str(bundle)])[:3])
        raise BundleError(f"refusing to publish {bundle}: it holds links ({shown}); a bundle is published from "
                          "regular files only: replace each link by the file itself")
    dest.mkdir(parents=True)
    _copy_regular(bundle / BUNDLE_FILE, dest / BUNDLE_FILE)
    try:
        meta = read_bundle_meta(dest)
    except BundleError as exc:  # name the user's folder, not the staging copy
        raise BundleError(str(exc).replace(str(dest), str(bundle))) from None
    copied: dict[str, str] = {}
    for comp, entry in meta["weights"].items():
        name = entry["file"]
        digest = copied[name] = copied.get(name) or _copy_regular(bundle / name, dest / name)
        if digest != entry["sha256"]:
            raise BundleError(f"refusing to publish {bundle}: {name} ({comp}) is corrupt or was changed: "
                              f"its sha256 is {digest[:16]}…, {BUNDLE_FILE} expects {entry['sha256'][:16]}…; "
                              "save the bundle again")
    for name in CARD_FILES:
        if (bundle / name).exists():
            _copy_regular(bundle / name, dest / name)
    readme = dest / "README.md"
    if not readme.is_file() or LOCAL_REF in readme.read_text(errors="replace"):
        # The generated card's example names this repository once it has one.
        readme.write_text(model_card(meta, samples=(dest / "samples.png").is_file(), repo_id=repo_id))
    return meta


def _copy_regular(src: Path, dst: Path) -> str:
    """Copy a regular file, never through a link; return the copy's sha256."""
    if not src.exists() and not src.is_symlink():
        raise BundleError(f"{src} is missing from the bundle; save it again")
    try:
        fd = os.open(src, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise BundleError(f"refusing to publish {src}: cannot open it as a regular file ({exc})") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # a folder or a device where a file belongs
        os.close(fd)
        raise BundleError(f"refusing to publish {src}: it is not a regular file; remove it or save the bundle again")
    h = hashlib.sha256()
    with os.fdopen(fd, "rb") as f, open(dst, "xb") as out:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
            out.write(block)
    return h.hexdigest()
