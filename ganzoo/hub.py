"""Bundle folders to and from the Hugging Face Hub (through ``huggingface_hub``).

A Hub reference is ``hf-hub:org/name`` with an optional ``@revision`` (branch, tag
or commit). Downloads go into ``huggingface_hub``'s cache and work offline from it
(``HF_HUB_OFFLINE=1``). The token comes from the usual places (``HF_TOKEN``,
``hf auth login``) or the ``token`` argument; it never appears in ganzoo's
messages, bundles or model cards.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from ganzoo.bundle import (
    BUNDLE_FILE,
    CARD_FILES,
    COMPONENTS,
    HUB_PREFIX,
    LOCAL_REF,
    is_repo_id,
    read_bundle_meta,
    spec_for,
    warn_claims,
    with_installed_claims,
)
from ganzoo.card import model_card
from ganzoo.errors import BundleError, HubError
from ganzoo.fsio import write_bytes
from ganzoo.specs import check_revision

COMMIT = re.compile(r"[0-9a-f]{40}")
_ETAG = re.compile(r"[0-9A-Za-z_-][0-9A-Za-z._-]{0,199}")  # a blob's file name in the cache
_MAX_REDIRECTS = 10
_CHUNK = 1 << 20
# The Hub endpoint of the download in progress (``download_bundle(endpoint=...)``); None: HF_ENDPOINT's.
_ENDPOINT: contextvars.ContextVar[str | None] = contextvars.ContextVar("ganzoo_hub_endpoint", default=None)


def check_endpoint(endpoint: Any) -> str:
    """``endpoint`` without a trailing slash, or a one-line :class:`HubError` for anything but an http(s) URL."""
    parts = urlsplit(endpoint) if isinstance(endpoint, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise HubError(f"bad Hub endpoint {endpoint!r}; expected an http(s) URL such as https://huggingface.co "
                       "or http://127.0.0.1:8000")
    return endpoint.rstrip("/")


def _endpoint() -> str | None:
    return _ENDPOINT.get()


# Set when a download found the Hub unreachable: its other files come from the cache with no
# further attempt (one connection failure costs one timeout, not one per file).
_UNREACHABLE: contextvars.ContextVar[BaseException | None] = contextvars.ContextVar("ganzoo_hub_unreachable",
                                                                                  default=None)


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
        raise HubError(f"bad Hub reference {ref!r:.120}; expected hf-hub:org/name or hf-hub:org/name@revision")
    check_repo_id(repo_id)
    if revision:
        check_revision(revision, HubError, "Hub revision")
    return repo_id, revision or None


def check_repo_id(repo_id: Any) -> str:
    """``repo_id`` if it is a Hub repository id (``org/name``), else a one-line :class:`HubError`."""
    if not is_repo_id(repo_id):
        raise HubError(f"bad Hub repository id {repo_id!r:.120}; expected org/name: letters, digits, '-', '_' and "
                       "'.' (no '--' or '..', not starting or ending with '-' or '.')")
    return repo_id


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
    elif _is_redirect_loop(exc):
        return _redirect_loop_error(repo_id, _endpoint_of(exc))
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
    endpoint: str | None = None,
) -> Path:
    """Download a bundle's ``ganzoo.json`` and one component's weights; return the cached folder.

    Both files come from the same commit (the revision is resolved once). Works
    offline from ``huggingface_hub``'s cache. Each file is downloaded with a byte cap
    (:func:`fetch_file`): a refused file leaves nothing in the cache, and nothing in the
    cache is deleted or changed when a download or a check fails. ``endpoint``: another Hub
    (default ``HF_ENDPOINT``, read when ``huggingface_hub`` is imported, else huggingface.co).
    The cache is the same for every endpoint, as with ``huggingface_hub`` itself.
    """
    if endpoint is not None:
        token_ = _ENDPOINT.set(check_endpoint(endpoint))
        try:
            return download_bundle(repo_id, revision, component=component, token=token)
        finally:
            _ENDPOINT.reset(token_)
    unreachable = _UNREACHABLE.set(None)
    try:
        return _download_bundle(repo_id, revision, component, token)
    finally:
        _UNREACHABLE.reset(unreachable)


def _download_bundle(repo_id: str, revision: str | None, component: str, token: str | None) -> Path:
    if component not in COMPONENTS:
        raise BundleError(f"component must be one of {', '.join(COMPONENTS)}, got {component!r}")
    from ganzoo import limits

    check_repo_id(repo_id)
    if revision is not None:
        check_revision(revision, HubError, "Hub revision")
    # The size is asked for at a commit. The download goes by the revision as given (so the cache
    # records the branch for offline use); a push in between shows as another commit and is refused.
    pinned = _refuse_oversized(repo_id, BUNDLE_FILE, revision, token, limits.MAX_JSON_BYTES, "a bundle's ganzoo.json")
    meta_path = fetch_file(repo_id, BUNDLE_FILE, revision, token=token, limit=limits.MAX_JSON_BYTES,
                           what="a bundle's ganzoo.json", pinned=pinned)
    if pinned is not None and meta_path.parent.name != pinned:
        raise _changed(repo_id, pinned, meta_path.parent.name)
    entry = read_bundle_meta(meta_path.parent)["weights"].get(component)
    if entry is None:
        raise BundleError(f"{HUB_PREFIX}{repo_id} has no {component} weights (it was published without them)")
    commit = meta_path.parent.name  # snapshots/<commit>/ganzoo.json: pin the weights to that commit
    weights_limit = limits.MAX_MODEL_BYTES + limits.MAX_HEADER_BYTES + 8
    _refuse_oversized(repo_id, entry["file"], commit, token, weights_limit, "a GAN's weights")
    fetch_file(repo_id, entry["file"], commit, token=token, limit=weights_limit, what="a GAN's weights")
    return meta_path.parent


def _changed(repo_id: str, checked: str, got: str) -> BundleError:
    return BundleError(f"{HUB_PREFIX}{repo_id} changed while it was being loaded (commit {checked[:12]} was "
                       f"checked, {got[:12]} downloaded); load it again")


def _too_big(repo_id: str, filename: str, size: int, limit: int, what: str) -> BundleError:
    return BundleError(
        f"refusing to download {HUB_PREFIX}{repo_id}: the Hub says {filename} is {size:,} bytes, more "
        f"than {what} can be ({limit:,}); the repository is not a ganzoo bundle or is damaged"
    )


def _refuse_oversized(repo_id: str, filename: str, revision: str | None, token: str | None, limit: int,
                      what: str) -> str | None:
    """Refuse, before downloading it, a Hub file larger than ``limit`` bytes; return the commit asked about.

    Asks the Hub for the file's size (one HEAD request) and returns the commit the answer is
    for, so the caller can refuse a download of another. A file already in the cache for a
    commit is not asked about (no request); offline, or when the Hub cannot be asked, nothing
    is checked here and the download that follows reports the problem or uses the cache. The
    download itself is byte-capped (:func:`fetch_file`): a size that is missing or a lie is
    caught there, before more than ``limit`` bytes reach the disk.
    """
    from huggingface_hub import constants, try_to_load_from_cache

    if constants.HF_HUB_OFFLINE:
        return None
    if revision is not None and COMMIT.fullmatch(revision) and isinstance(
            try_to_load_from_cache(repo_id, filename, revision=revision), str):
        return None
    if _UNREACHABLE.get() is not None:
        return None
    try:
        info = _file_info(repo_id, filename, revision, token)
    except Exception as exc:  # noqa: BLE001  (only the client's own errors are left to the download)
        if not _is_hub_error(exc):
            raise
        if _is_connection_error(exc):
            _UNREACHABLE.set(exc)
        return None
    if info.size is not None and info.size > limit:
        raise _too_big(repo_id, filename, info.size, limit, what)
    return info.commit if isinstance(info.commit, str) and COMMIT.fullmatch(info.commit) else None


@dataclass
class _FileInfo:
    """What the Hub's HEAD answer says of a file: its commit, blob id, size, and where to GET it."""

    commit: str | None
    etag: str | None
    size: int | None
    url: str
    same_origin: bool  # whether ``url`` is on the Hub endpoint itself (the token may go there)


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)


@contextlib.contextmanager
def _request(method: str, url: str, headers: dict[str, str], *, follow: bool, timeout: float | None) -> Iterator[Any]:
    """A streamed response from ``huggingface_hub``'s own HTTP session (httpx for hub >= 1, requests before).

    Yields ``(response, chunks)``; ``chunks()`` iterates over the body. Closed on exit, read or not.
    """
    from huggingface_hub.utils import get_session

    session = get_session()
    if hasattr(session, "build_request"):  # httpx, httpx2
        response = session.send(session.build_request(method, url, headers=headers, timeout=timeout), stream=True,
                                follow_redirects=follow)
        chunks = lambda: response.iter_bytes(_CHUNK)  # noqa: E731
    else:  # requests (huggingface_hub < 1)
        response = session.request(method, url, headers=headers, stream=True, allow_redirects=follow,
                                   timeout=timeout)
        chunks = lambda: response.iter_content(_CHUNK)  # noqa: E731
    try:
        yield response, chunks
    finally:
        response.close()


def _headers(token: str | None, same_origin: bool) -> dict[str, str]:
    from huggingface_hub.utils import build_hf_headers

    headers = build_hf_headers(token=token)
    if not same_origin:  # a CDN or storage host: the token stays on the Hub
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    headers["Accept-Encoding"] = "identity"  # the announced size is the size on disk
    return headers


def _file_info(repo_id: str, filename: str, revision: str | None, token: str | None) -> _FileInfo:
    """One HEAD request (following at most a few redirects on the Hub itself) for a file's metadata.

    Raises the client's errors (``hf_raise_for_status``), and a one-line :class:`HubError` for a
    redirect loop.
    """
    from huggingface_hub import constants, hf_hub_url
    from huggingface_hub.utils import hf_raise_for_status

    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=_endpoint())
    headers = _headers(token, True)
    for _ in range(_MAX_REDIRECTS + 1):
        with _request("HEAD", url, headers, follow=False, timeout=constants.HF_HUB_ETAG_TIMEOUT) as (r, _chunks):
            location = r.headers.get("Location") if 300 <= r.status_code < 400 else None
            if location is None:
                hf_raise_for_status(r)
                return _info_from(r.headers, url, True)
            target = urljoin(url, location)
            if _origin(target) != _origin(url):  # a CDN: the Hub's metadata is on this very answer
                return _info_from(r.headers, target, False)
            url = target
    raise _redirect_loop_error(repo_id, _endpoint_of(None))


def _info_from(headers: Any, url: str, same_origin: bool) -> _FileInfo:
    etag = headers.get("X-Linked-Etag") or headers.get("ETag") or ""
    etag = etag.removeprefix("W/").strip('"') or None
    size_text = headers.get("X-Linked-Size") or (headers.get("Content-Length") if same_origin else None)
    if (headers.get("Content-Encoding") or "identity").lower() != "identity" and not headers.get("X-Linked-Size"):
        size_text = None  # the length of a compressed answer says nothing of the file
    try:
        size = int(size_text) if size_text is not None else None
    except ValueError:
        size = None
    return _FileInfo(headers.get("X-Repo-Commit"), etag, size if size is None or size >= 0 else None, url,
                     same_origin)


def fetch_file(repo_id: str, filename: str, revision: str | None, *, token: str | None, limit: int, what: str,
               pinned: str | None = None) -> Path:
    """Download one file of a Hub repository into ``huggingface_hub``'s cache, never more than ``limit`` bytes.

    The file goes to the cache's usual places (``blobs/<etag>``, ``snapshots/<commit>/<file>``,
    ``refs/<revision>``), so ``hf_hub_download`` and offline loading find it. Offline, or when the
    Hub cannot be reached, the cache answers as with ``hf_hub_download``. Online, a HEAD request
    gives the file's commit and size: a size over ``limit`` is refused before any download; the
    download then stops as soon as it passes the announced size (or ``limit`` when the Hub
    announced none), the partial file is deleted and nothing in the cache changes. ``pinned``:
    refuse a commit other than this one (it was checked before). ``what`` words the errors.
    """
    from huggingface_hub import constants, hf_hub_download, try_to_load_from_cache

    if constants.HF_HUB_OFFLINE:
        return Path(_hub_call(filename, repo_id, revision, token, hf_hub_download, repo_id, filename,
                              revision=revision, token=token, endpoint=_endpoint()))
    if revision is not None and COMMIT.fullmatch(revision):
        cached = try_to_load_from_cache(repo_id, filename, revision=revision)
        if isinstance(cached, str):
            return Path(cached)
    unreachable = _UNREACHABLE.get()
    if unreachable is not None:
        return _from_cache(repo_id, filename, revision, token, unreachable)
    try:
        info = _file_info(repo_id, filename, revision, token)
    except Exception as exc:  # noqa: BLE001  (mapped to HubError, or re-raised)
        if not _is_hub_error(exc):
            raise
        if _is_connection_error(exc):  # as hf_hub_download does: the cache answers when the Hub cannot
            _UNREACHABLE.set(exc)
            return _from_cache(repo_id, filename, revision, token, exc)
        raise _hub_error(exc, repo_id, revision, token, filename) from None
    commit = info.commit
    if not isinstance(commit, str) or not COMMIT.fullmatch(commit):
        raise HubError(f"the Hub at {_endpoint_of(None)} answered for {repo_id}@{revision or 'main'} {filename} "
                       f"without a commit id ({str(commit)[:60]!r}); it does not speak the Hub's protocol: check "
                       "HF_ENDPOINT or a proxy")
    if pinned is not None and commit != pinned:
        raise _changed(repo_id, pinned, commit)
    if info.size is not None and info.size > limit:
        raise _too_big(repo_id, filename, info.size, limit, what)
    storage = Path(constants.HF_HUB_CACHE) / ("models--" + repo_id.replace("/", "--"))
    cached = try_to_load_from_cache(repo_id, filename, revision=commit)
    if not isinstance(cached, str):
        if not isinstance(info.etag, str) or not _ETAG.fullmatch(info.etag):
            raise HubError(f"the Hub at {_endpoint_of(None)} answered for {repo_id} {filename} with an unusable "
                           f"ETag ({str(info.etag)[:60]!r}); it does not speak the Hub's protocol: check HF_ENDPOINT")
        if info.same_origin:
            from huggingface_hub import hf_hub_url

            info.url = hf_hub_url(repo_id, filename, revision=commit, endpoint=_endpoint())  # the bytes of the commit asked about
        cached = str(_download_capped(info, storage, repo_id, filename, commit, token, limit, what))
    _write_ref(storage, revision or "main", commit)
    return Path(cached)


def _from_cache(repo_id: str, filename: str, revision: str | None, token: str | None,
                unreachable: BaseException) -> Path:
    """The cached copy of a file, the Hub being unreachable; else the error that says it could not be reached."""
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, token=token, local_files_only=True,
                                    endpoint=_endpoint()))
    except Exception as cache_exc:  # noqa: BLE001
        if not _is_hub_error(cache_exc):
            raise
    error = _hub_error(unreachable, repo_id, revision, token, filename)  # type: ignore[arg-type]
    raise HubError(f"{error}; {repo_id}@{revision or 'main'} {filename} is not in the local Hub cache either "
                   "(HF_HUB_OFFLINE=1 loads only what was downloaded before)") from None


def _download_capped(info: _FileInfo, storage: Path, repo_id: str, filename: str, commit: str,
                     token: str | None, limit: int, what: str) -> Path:
    """GET ``info.url`` into ``blobs/<etag>`` (at most the announced size, else ``limit``) and link the snapshot.

    On any failure the partial file, a blob made by this call and the folders it created are removed.
    """
    from huggingface_hub import constants
    from huggingface_hub.utils import hf_raise_for_status

    assert info.etag is not None
    blob = storage / "blobs" / info.etag
    pointer = storage / "snapshots" / commit / filename
    cap = info.size if info.size is not None else limit
    made = _make_dirs(blob.parent, pointer.parent)
    tmp = blob.with_name(f"{info.etag}.{secrets.token_hex(4)}.incomplete")
    new_blob = False
    try:
        if not blob.exists():
            written = 0
            try:
                with _request("GET", info.url, _headers(token, info.same_origin), follow=True,
                              timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT) as (r, chunks), open(tmp, "xb") as out:
                    hf_raise_for_status(r)
                    for chunk in chunks():
                        written += len(chunk)
                        if written > cap:  # stop reading: nothing more reaches the disk
                            raise _overflow(repo_id, filename, info.size, limit, what)
                        out.write(chunk)
            except (BundleError, HubError):
                raise
            except Exception as exc:  # noqa: BLE001  (the client's errors in one line; a full disk named)
                if _is_hub_error(exc) and not (isinstance(exc, OSError) and not _is_connection_error(exc)):
                    raise _hub_error(exc, repo_id, commit, token, filename) from None
                if isinstance(exc, OSError):
                    raise BundleError(f"cannot write {filename} of {HUB_PREFIX}{repo_id} into the Hub cache "
                                      f"{storage.parent}: {exc}; nothing was kept") from None
                raise
            if info.size is not None and written != info.size:
                raise BundleError(f"{HUB_PREFIX}{repo_id}: the Hub announced {info.size:,} bytes for {filename} "
                                  f"and sent {written:,}; nothing was kept: load it again")
            os.replace(tmp, blob)
            new_blob = True
        if not os.path.lexists(pointer):
            try:
                os.symlink(os.path.relpath(blob, pointer.parent), pointer)
            except OSError:  # no symbolic links here (as huggingface_hub does: a copy)
                shutil.copyfile(blob, pointer)
    except BaseException:
        tmp.unlink(missing_ok=True)
        if new_blob:
            blob.unlink(missing_ok=True)
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return pointer


def _overflow(repo_id: str, filename: str, announced: int | None, limit: int, what: str) -> BundleError:
    if announced is None:
        said = (f"the Hub announced no size for {filename} and sent more than {what} can be ({limit:,} bytes)")
    else:
        said = f"the Hub announced {announced:,} bytes for {filename} and sent more"
    return BundleError(f"refusing to download {HUB_PREFIX}{repo_id}: {said}; the download was stopped there and "
                       "nothing was kept. The repository (or a proxy) is broken or hostile")


def _make_dirs(*folders: Path) -> list[Path]:
    """Create ``folders`` (and missing parents); return those created, outermost first."""
    made: list[Path] = []
    for folder in folders:
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        for p in reversed(missing):
            p.mkdir(exist_ok=True)
            made.append(p)
    return made


def _write_ref(storage: Path, revision: str, commit: str) -> None:
    """Record ``refs/<revision>`` = ``commit`` (for offline loads), as ``hf_hub_download`` does; best effort."""
    if revision == commit:
        return
    check_revision(revision, HubError, "Hub revision")  # a name inside refs/, never a path out of it
    ref = storage / "refs" / revision
    with contextlib.suppress(OSError):
        if ref.is_file() and ref.read_text() == commit:
            return
        ref.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(ref, commit.encode())


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


def _redirect_loop_error(repo_id: str, endpoint: str) -> HubError:
    return HubError(f"the Hub at {endpoint} answered the request for {repo_id!r} with endless redirects (a redirect "
                    "loop); check HF_ENDPOINT and any proxy, or try again later")


def _is_redirect_loop(exc: BaseException) -> bool:
    """httpx's, httpx2's or requests' ``TooManyRedirects``."""
    return any(cls.__name__ == "TooManyRedirects" and cls.__module__.split(".")[0] in ("httpx", "httpx2", "requests")
               for cls in type(exc).__mro__)


def _endpoint_of(exc: BaseException | None) -> str:
    """``scheme://host[:port]`` of the request that failed, else the configured endpoint."""
    try:
        url = urlsplit(str(exc.request.url))  # type: ignore[attr-defined]  (httpx, requests)
        if url.scheme and url.netloc:
            return f"{url.scheme}://{url.netloc}"
    except Exception:  # noqa: BLE001  (httpx raises RuntimeError when no request is attached)
        pass
    from huggingface_hub import constants

    return _endpoint() or str(getattr(constants, "ENDPOINT", "https://huggingface.co"))


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
                            errors.HFValidationError, OSError)) or _is_connection_error(exc) or _is_redirect_loop(exc)


BUNDLE_PATTERNS = [BUNDLE_FILE, "*.safetensors", "README.md", "samples.png"]


def check_publish(repo_id: str, token: str | None, revision: str | None = None) -> None:
    """Refuse a bad repository id or revision, or publishing without any token, before anything is saved or sent."""
    from huggingface_hub import get_token

    if not isinstance(repo_id, str) or "/" not in repo_id or repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise HubError(f"bad repository id {repo_id!r}; expected org/name")
    if revision is not None:
        check_revision(revision, HubError, "revision")
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

    if revision is not None:
        check_revision(revision, HubError, "revision")
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
    try:  # a bundle claiming another family, paper or plugin than the installed model's is published, with a word
        warn_claims(meta, spec_for(meta, str(bundle / BUNDLE_FILE)), str(bundle / BUNDLE_FILE))
    except BundleError:  # the model is not installed here: nothing to compare with
        pass
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
        # The generated card's example names this repository once it has one; the card says what the
        # installed model is (family, paper, plugin), not what the bundle claims.
        readme.write_text(model_card(with_installed_claims(meta), samples=(dest / "samples.png").is_file(),
                                     repo_id=repo_id))
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
