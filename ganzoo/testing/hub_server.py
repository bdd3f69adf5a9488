"""A small local Hugging Face Hub for tests (stdlib only).

`LocalHub` answers the part of the Hub HTTP API that the real `huggingface_hub` client uses to
create repos and branches, upload (regular files and the basic LFS protocol, Xet disabled),
list, resolve and download files. The contract is /work/shared/HUB_API.md (``shared/HUB_API.md``).

Everything lives in memory: each repo has branches (name -> commit sha) and commits
(sha -> {path: StoredFile}); a commit holds the whole tree, so commits are cumulative.

    with LocalHub() as hub:
        api = HfApi(endpoint=hub.endpoint, token=hub.token)

The server never answers 5xx, 408 or 429 (the client would retry for ~23 s): a server-side bug
is answered with 400 and recorded in `hub.errors`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote

USER = "test-user"
LAST_MODIFIED = "2024-01-01T00:00:00.000Z"
LFS_THRESHOLD = 10 * 1024 * 1024
# Extensions the preupload endpoint sends through LFS even when small (subset of the Hub's default .gitattributes).
LFS_SUFFIXES = (
    ".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".npy", ".npz", ".h5",
    ".onnx", ".msgpack", ".zip", ".gz", ".tar", ".tgz", ".7z", ".parquet", ".arrow",
)  # fmt: skip
GITATTRIBUTES = b"".join(
    f"*{suffix} filter=lfs diff=lfs merge=lfs -text\n".encode() for suffix in LFS_SUFFIXES
)
URL_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}
PLURAL_TO_TYPE = {"models": "model", "datasets": "dataset", "spaces": "space"}
SHA1_RE = re.compile(r"^[0-9a-f]{40}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob (what the Hub sends as ETag for regular files)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-lfs pointer file that git stores in place of an LFS file."""
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()
    )


@dataclass(frozen=True)
class StoredFile:
    """One file of a commit: its bytes and, for an LFS file, the sha256 of those bytes."""

    data: bytes
    lfs_sha256: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def pointer(self) -> bytes | None:
        return lfs_pointer(self.lfs_sha256, self.size) if self.lfs_sha256 else None

    @property
    def git_oid(self) -> str:
        """Git blob id: of the pointer file for LFS files, of the content otherwise."""
        pointer = self.pointer
        return git_blob_sha1(pointer if pointer is not None else self.data)


@dataclass
class Repo:
    """A repo: branches -> commit sha, commits -> full file tree."""

    repo_type: str
    repo_id: str
    private: bool = False
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, dict[str, StoredFile]] = field(default_factory=dict)
    lfs_objects: dict[str, bytes] = field(default_factory=dict)
    any_revision: bool = False  # a broken or hostile Hub: every unknown revision resolves to main

    def resolve(self, revision: str) -> str | None:
        """Commit sha of a branch name or of a full commit sha, None if unknown."""
        if revision in self.branches:
            return self.branches[revision]
        if SHA1_RE.match(revision) and revision in self.commits:
            return revision
        if self.any_revision:
            return self.branches["main"]
        return None


@dataclass
class RequestRecord:
    """One request as the server saw it (the Authorization header is kept apart in `authorization`)."""

    method: str
    path: str  # raw (percent-encoded) path, without the query string
    query: str
    headers: dict[str, str]  # without Authorization
    authorization: str | None
    body: bytes
    status: int = 0

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    @property
    def request_line(self) -> str:
        return f"{self.method} {self.path}" + (f"?{self.query}" if self.query else "")


class HubError(Exception):
    """An error answer: HTTP status, X-Error-Code and message."""

    def __init__(
        self, status: int, code: str | None, message: str, extra: dict | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}


class _Response:
    def __init__(
        self,
        status: int = 200,
        body: Any = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        *,
        stream: Any = None,
        no_length: bool = False,
    ) -> None:
        self.status = status
        self.headers = dict(headers or {})
        self.stream = stream  # an iterable of byte chunks sent after `body` (GET only)
        self.no_length = no_length  # no Content-Length: the body ends when the connection closes
        if isinstance(body, bytes):
            self.body = body
        elif body is None:
            self.body = b""
        else:
            self.body = json.dumps(body).encode()
        self.content_type = content_type


class LocalHub:
    """An in-memory Hub server on 127.0.0.1 (random free port) for the real `huggingface_hub` client.

    Attributes:
        endpoint: "http://127.0.0.1:PORT" (use this host exactly: `localhost` is another origin).
        token: the one valid token ("hf_test_" + random hex).
        requests: (method, raw path without query) of every request received, in order.
        log: a `RequestRecord` per request (request line, headers without Authorization, body).
        errors: tracebacks of server-side bugs (answered with 400, never 5xx).
        offline: when True the server refuses every request with 400 (set by `set_offline`).
    """

    def __init__(self, *, gitattributes: bool = True, token: str | None = None) -> None:
        self.token = token or "hf_test_" + secrets.token_hex(16)
        self.gitattributes = gitattributes
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.log: list[RequestRecord] = []
        self.errors: list[str] = []
        self.offline = False
        # Hostile downloads, by (repo_id, path): {"no_size": True} (no size announced, none sent),
        # {"extra": N} (HEAD announces the true size, GET sends N more bytes), {"redirect_loop":
        # "head" | "get"} (that request redirects to itself forever).
        self.tamper: dict[tuple[str, str], dict[str, Any]] = {}
        self.sent: dict[tuple[str, str], int] = {}  # body bytes a GET wrote before it ended or was cut off
        self.finished: dict[tuple[str, str], threading.Event] = {}  # set when that GET's answer ended
        self.offline_hook: Any = None  # set by the pytest fixture: callable(bool) -> None
        self.cache_dir: Any = None  # set by the pytest fixture: the client's HF_HUB_CACHE
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.endpoint = ""

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> LocalHub:
        """Bind a free port and serve in a daemon thread."""
        if self._server is not None:
            return self
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- test helpers
    def set_offline(self, on: bool = True) -> None:
        """Switch offline mode: the client (through the fixture's hook) and the server (refuses requests)."""
        self.offline = on
        if self.offline_hook is not None:
            self.offline_hook(on)

    def token_leaks(self, token: str | None = None) -> list[str]:
        """Where the token appears outside the Authorization header (request lines, other headers, bodies)."""
        needle = token or self.token
        leaks = []
        with self._lock:
            records = list(self.log)
        for rec in records:
            if needle in rec.request_line or needle in unquote(rec.request_line):
                leaks.append(f"request line: {rec.request_line}")
            for name, value in rec.headers.items():
                if needle in value:
                    leaks.append(f"header {name} of {rec.request_line}")
            if needle.encode() in rec.body:
                leaks.append(f"body of {rec.request_line}")
        return leaks

    def create_repo(self, repo_id: str, *, private: bool = False, repo_type: str = "model") -> Repo:
        """Create a repo server-side (initial commit with .gitattributes, like the Hub); no-op if it exists."""
        with self._lock:
            key = (repo_type, repo_id)
            if key not in self.repos:
                repo = Repo(repo_type=repo_type, repo_id=repo_id, private=private)
                files = {".gitattributes": StoredFile(GITATTRIBUTES)} if self.gitattributes else {}
                sha = self._new_commit_sha(repo_id, "initial commit", files)
                repo.commits[sha] = files
                repo.branches["main"] = sha
                self.repos[key] = repo
            return self.repos[key]

    def commit(
        self,
        repo_id: str,
        files: dict[str, bytes] | None = None,
        *,
        deletes: list[str] | tuple[str, ...] = (),
        branch: str = "main",
        lfs: bool | None = None,
        repo_type: str = "model",
        message: str = "server-side commit",
    ) -> str:
        """Commit files server-side (no client); returns the new commit sha.

        `lfs=None` picks LFS like the preupload endpoint does (by name/size/content).
        """
        with self._lock:
            repo = self._repo(repo_type, repo_id)
            if branch not in repo.branches:
                raise KeyError(f"no branch {branch!r} in {repo_id}")
            tree = dict(repo.commits[repo.branches[branch]])
            for path, data in (files or {}).items():
                use_lfs = (
                    lfs if lfs is not None else _upload_mode(path, data[:512], len(data)) == "lfs"
                )
                sha256 = hashlib.sha256(data).hexdigest() if use_lfs else None
                if sha256:
                    repo.lfs_objects[sha256] = data
                tree[path] = StoredFile(data, sha256)
            for path in deletes:
                tree.pop(path)
            return self._commit_tree(repo, branch, tree, message)

    def corrupt(
        self, repo_id: str, path: str, data: bytes, revision: str = "main", repo_type: str = "model"
    ) -> str:
        """Replace a file's bytes by `data` in a new commit on branch `revision` (keeps it LFS if it was).

        The metadata stays honest (size, sha256, ETag are those of `data`): it is a real commit of
        other bytes, e.g. a truncated safetensors file. Returns the new commit sha.
        """
        with self._lock:
            repo = self._repo(repo_type, repo_id)
            old = repo.commits[repo.branches[revision]].get(path)
            if old is None:
                raise KeyError(f"{path!r} not in {repo_id}@{revision}")
            return self.commit(
                repo_id,
                {path: data},
                branch=revision,
                lfs=old.lfs_sha256 is not None,
                repo_type=repo_type,
                message=f"corrupt {path}",
            )

    def head(self, repo_id: str, branch: str = "main", repo_type: str = "model") -> str:
        """Commit sha a branch points to."""
        with self._lock:
            return self._repo(repo_type, repo_id).branches[branch]

    def files(
        self, repo_id: str, revision: str = "main", repo_type: str = "model"
    ) -> dict[str, bytes]:
        """{path: bytes} of a revision (branch or commit sha)."""
        with self._lock:
            repo = self._repo(repo_type, repo_id)
            sha = repo.resolve(revision)
            if sha is None:
                raise KeyError(f"no revision {revision!r} in {repo_id}")
            return {path: f.data for path, f in repo.commits[sha].items()}

    # ----------------------------------------------------------------- internals
    def _repo(self, repo_type: str, repo_id: str) -> Repo:
        try:
            return self.repos[(repo_type, repo_id)]
        except KeyError:
            raise KeyError(f"no {repo_type} repo {repo_id!r}") from None

    @staticmethod
    def _new_commit_sha(repo_id: str, message: str, files: dict[str, StoredFile]) -> str:
        h = hashlib.sha1(f"{repo_id}\0{message}\0{secrets.token_hex(8)}".encode())
        for path in sorted(files):
            h.update(f"{path}\0{files[path].git_oid}\0".encode())
        return h.hexdigest()

    def _commit_tree(
        self, repo: Repo, branch: str, tree: dict[str, StoredFile], message: str
    ) -> str:
        sha = self._new_commit_sha(repo.repo_id, message, tree)
        repo.commits[sha] = tree
        repo.branches[branch] = sha
        return sha

    def _repo_url(self, repo: Repo) -> str:
        return f"{self.endpoint}/{URL_PREFIXES.get(repo.repo_type, '')}{repo.repo_id}"


def key_chunks(body: bytes, extra: int, chunk: int = 1 << 16):
    """`body`, then `extra` zero bytes, in chunks of `chunk` bytes."""
    for i in range(0, len(body), chunk):
        yield body[i : i + chunk]
    zeros = b"\0" * chunk
    while extra > 0:
        yield zeros[: min(chunk, extra)]
        extra -= chunk


def _upload_mode(path: str, sample: bytes, size: int) -> str:
    """'lfs' for known binary suffixes, files over 10 MB and binary content (NUL byte); else 'regular'."""
    if path.lower().endswith(LFS_SUFFIXES) or size > LFS_THRESHOLD or b"\0" in sample:
        return "lfs"
    return "regular"


class _Handler(BaseHTTPRequestHandler):
    hub: LocalHub
    protocol_version = "HTTP/1.1"
    server_version = "LocalHub/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr logging
        pass

    # one entry point for every method
    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                line = self.rfile.readline().strip()
                size = int(line.split(b";")[0], 16) if line else 0
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self, method: str) -> None:
        hub = self.hub
        raw_path, _, query = self.path.partition("?")
        record = RequestRecord(
            method=method,
            path=raw_path,
            query=query,
            headers={k: v for k, v in self.headers.items() if k.lower() != "authorization"},
            authorization=self.headers.get("Authorization"),
            body=b"",
        )
        try:
            record.body = self._read_body()
        except Exception:  # malformed body: still answer
            hub.errors.append(traceback.format_exc())
        with hub._lock:
            hub.requests.append((method, raw_path))
            hub.log.append(record)
        try:
            if hub.offline:
                raise HubError(400, None, "LocalHub is offline: the client should not have called")
            response = _Router(hub, method, raw_path, query, record).dispatch()
        except HubError as err:
            headers = {"X-Error-Message": err.message}
            if err.code:
                headers["X-Error-Code"] = err.code
            headers.update(err.extra.pop("__headers__", {}))
            response = _Response(err.status, {"error": err.message, **err.extra}, headers)
        except Exception as exc:  # never 5xx: the client would retry for ~23 s
            hub.errors.append(traceback.format_exc())
            response = _Response(
                400, {"error": f"LocalHub bug: {exc!r}"}, {"X-Error-Message": "LocalHub bug"}
            )
        record.status = response.status
        self._send(method, response)

    def _send(self, method: str, response: _Response) -> None:
        self.send_response(response.status)
        headers = {"Content-Type": response.content_type, **response.headers}
        if not response.no_length:
            headers.setdefault("Content-Length", str(len(response.body)))
        headers["Connection"] = "close"
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if method != "HEAD" and response.body and response.stream is None:
            self.wfile.write(response.body)
        if method == "GET" and response.stream is not None:
            key, sent = response.stream
            try:
                for chunk in key_chunks(response.body, sent):
                    self.wfile.write(chunk)
                    self.hub.sent[key] = self.hub.sent.get(key, 0) + len(chunk)
                self.wfile.flush()
            except OSError:  # the client hung up: what it refused is never sent
                pass
            finally:
                self.hub.finished.setdefault(key, threading.Event()).set()
        self.close_connection = True


class _Router:
    """Maps one request to the in-memory store."""

    def __init__(
        self, hub: LocalHub, method: str, raw_path: str, query: str, record: RequestRecord
    ) -> None:
        self.hub = hub
        self.method = method
        self.raw = raw_path
        self.query = parse_qs(query)
        self.record = record
        self.segments = [s for s in raw_path.split("/") if s != ""]
        self.user = self._authenticate(record.authorization)

    # ---------------------------------------------------------------- helpers
    def _authenticate(self, authorization: str | None) -> str | None:
        if authorization is None:
            return None
        if authorization == f"Bearer {self.hub.token}":
            return USER
        if self.method == "PUT" and self.segments[:1] == ["__lfs__"]:
            return None  # the upload URL ignores credentials (it is a presigned URL on the Hub)
        raise HubError(401, None, "Invalid credentials in Authorization header")

    def _need_user(self) -> None:
        if self.user is None:
            raise HubError(401, None, "Invalid username or password.")

    def _json(self) -> Any:
        try:
            return json.loads(self.record.body or b"{}")
        except ValueError as err:
            raise HubError(400, None, f"invalid JSON body: {err}") from None

    def _get_repo(self, repo_type: str, repo_id: str, *, write: bool = False) -> Repo:
        repo = self.hub.repos.get((repo_type, repo_id))
        if repo is None or (repo.private and self.user is None):
            raise HubError(404, "RepoNotFound", "Repository not found")
        if write:
            self._need_user()
        return repo

    def _revision(self, repo: Repo, revision: str) -> str:
        sha = repo.resolve(revision)
        if sha is None:
            raise HubError(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return sha

    def _split_revision(self, repo: Repo, raw_segments: list[str]) -> tuple[str, list[str]]:
        """Split raw segments into (revision, rest): the revision is one %-encoded segment, or
        (an unencoded branch name with '/') the shortest prefix that names a branch."""
        if not raw_segments:
            raise HubError(404, "RevisionNotFound", "missing revision")
        first = unquote(raw_segments[0])
        if repo.resolve(first) is None:
            for k in range(2, len(raw_segments) + 1):
                candidate = unquote("/".join(raw_segments[:k]))
                if repo.resolve(candidate) is not None:
                    return candidate, raw_segments[k:]
        return first, raw_segments[1:]

    # ---------------------------------------------------------------- dispatch
    def dispatch(self) -> _Response:
        seg, method = self.segments, self.method
        with self.hub._lock:
            if seg[:1] == ["api"]:
                return self._api(seg[1:])
            if seg[:1] == ["__lfs__"] and method == "PUT":
                return self._lfs_put(seg[1:])
            # /{prefix}{org}/{name}.git/info/lfs/objects/batch
            if (
                len(seg) >= 2
                and seg[-4:] == ["info", "lfs", "objects", "batch"]
                and method == "POST"
            ):
                repo_type, rest = self._repo_type_prefix(seg[:-4])
                if len(rest) == 2 and rest[1].endswith(".git"):
                    return self._lfs_batch(repo_type, f"{rest[0]}/{rest[1][:-4]}")
            # /{prefix}{org}/{name}/resolve/{rev}/{path}
            if method in ("GET", "HEAD"):
                repo_type, rest = self._repo_type_prefix(seg)
                if len(rest) >= 4 and rest[2] == "resolve":
                    return self._resolve(
                        repo_type, f"{unquote(rest[0])}/{unquote(rest[1])}", rest[3:]
                    )
        raise HubError(404, None, f"LocalHub: no route for {method} {self.raw}")

    @staticmethod
    def _repo_type_prefix(seg: list[str]) -> tuple[str, list[str]]:
        if seg and seg[0] in PLURAL_TO_TYPE and seg[0] != "models" and len(seg) > 2:
            return PLURAL_TO_TYPE[seg[0]], seg[1:]
        return "model", seg

    def _api(self, seg: list[str]) -> _Response:
        m = self.method
        if seg == ["repos", "create"] and m == "POST":
            return self._create_repo()
        if seg == ["repos", "delete"] and m == "DELETE":
            return self._delete_repo()
        if seg == ["validate-yaml"] and m == "POST":
            self._json()
            return _Response(200, {"errors": [], "warnings": []})
        if seg == ["whoami-v2"] and m == "GET":
            self._need_user()
            return _Response(200, {"type": "user", "name": USER, "fullname": "Test User", "orgs": [],
                                   "auth": {"type": "access_token",
                                            "accessToken": {"displayName": "test", "role": "write"}}})  # fmt: skip
        if len(seg) >= 3 and seg[0] in PLURAL_TO_TYPE:
            repo_type = PLURAL_TO_TYPE[seg[0]]
            repo_id = f"{unquote(seg[1])}/{unquote(seg[2])}"
            rest = seg[3:]
            if not rest and m == "GET":
                repo = self._get_repo(repo_type, repo_id)
                return self._info(repo, self._revision(repo, "main"))
            action = rest[0] if rest else ""
            if action == "revision" and m == "GET":
                repo = self._get_repo(repo_type, repo_id)
                return self._info(repo, self._revision(repo, unquote("/".join(rest[1:]))))
            if action == "tree" and m == "GET":
                return self._tree(self._get_repo(repo_type, repo_id), rest[1:])
            if action == "refs" and m == "GET":
                repo = self._get_repo(repo_type, repo_id)
                branches = [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": sha}
                            for b, sha in sorted(repo.branches.items())]  # fmt: skip
                return _Response(200, {"branches": branches, "tags": [], "converts": []})
            if action == "preupload" and m == "POST":
                return self._preupload(self._get_repo(repo_type, repo_id, write=True), rest[1:])
            if action == "commit" and m == "POST":
                return self._commit(self._get_repo(repo_type, repo_id, write=True), rest[1:])
            if action == "branch" and m in ("POST", "DELETE") and len(rest) >= 2:
                repo = self._get_repo(repo_type, repo_id, write=True)
                return self._branch(repo, unquote("/".join(rest[1:])))
        raise HubError(404, None, f"LocalHub: no route for {m} {self.raw}")

    # ---------------------------------------------------------------- repos
    def _create_repo(self) -> _Response:
        self._need_user()
        body = self._json()
        name = body.get("name")
        if not name:
            raise HubError(400, None, "missing repo name")
        repo_id = f"{body.get('organization') or USER}/{name}"
        repo_type = body.get("type") or "model"
        private = bool(body.get("private")) or body.get("visibility") == "private"
        existing = self.hub.repos.get((repo_type, repo_id))
        if existing is not None:
            raise HubError(409, None, f"You already created this {repo_type} repo",
                           {"url": self.hub._repo_url(existing)})  # fmt: skip
        repo = self.hub.create_repo(repo_id, private=private, repo_type=repo_type)
        return _Response(200, {"url": self.hub._repo_url(repo), "name": repo_id, "id": repo_id})

    def _delete_repo(self) -> _Response:
        self._need_user()
        body = self._json()
        repo_id = f"{body.get('organization') or USER}/{body.get('name')}"
        repo_type = body.get("type") or "model"
        if (repo_type, repo_id) not in self.hub.repos:
            raise HubError(404, "RepoNotFound", "Repository not found")
        del self.hub.repos[(repo_type, repo_id)]
        return _Response(200, {})

    def _info(self, repo: Repo, sha: str) -> _Response:
        blobs = (self.query.get("blobs") or ["false"])[0].lower() == "true"
        siblings = []
        for path, f in sorted(repo.commits[sha].items()):
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:
                sibling.update(size=f.size, blobId=f.git_oid)
                if f.lfs_sha256:
                    sibling["lfs"] = {
                        "size": f.size,
                        "sha256": f.lfs_sha256,
                        "pointerSize": len(f.pointer or b""),
                    }
            siblings.append(sibling)
        return _Response(200, {
            "_id": hashlib.md5(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": sha,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "lastModified": LAST_MODIFIED,
            "createdAt": LAST_MODIFIED,
            "tags": [],
            "siblings": siblings,
        })  # fmt: skip

    def _tree(self, repo: Repo, raw_rest: list[str]) -> _Response:
        revision, path_segments = self._split_revision(repo, raw_rest)
        sha = self._revision(repo, revision)
        base = unquote("/".join(path_segments)).strip("/")
        recursive = (self.query.get("recursive") or ["false"])[0].lower() == "true"
        files = repo.commits[sha]
        prefix = f"{base}/" if base else ""
        if base and not any(p.startswith(prefix) for p in files):
            raise HubError(404, "EntryNotFound", f"{base} does not exist on {revision}")
        entries: dict[str, dict[str, Any]] = {}
        for path, f in files.items():
            if not path.startswith(prefix):
                continue
            parts = path[len(prefix) :].split("/")
            for depth in range(1, len(parts)):
                if depth > 1 and not recursive:
                    break
                folder = prefix + "/".join(parts[:depth])
                oid = hashlib.sha1(f"tree\0{sha}\0{folder}".encode()).hexdigest()
                entries.setdefault(
                    folder, {"type": "directory", "oid": oid, "size": 0, "path": folder}
                )
            if len(parts) == 1 or recursive:
                entry: dict[str, Any] = {
                    "type": "file",
                    "oid": f.git_oid,
                    "size": f.size,
                    "path": path,
                }
                if f.lfs_sha256:
                    entry["lfs"] = {
                        "oid": f.lfs_sha256,
                        "size": f.size,
                        "pointerSize": len(f.pointer or b""),
                    }
                entries[path] = entry
        return _Response(200, [entries[k] for k in sorted(entries)])

    def _branch(self, repo: Repo, branch: str) -> _Response:
        if self.method == "DELETE":
            if branch not in repo.branches or branch == "main":
                raise HubError(
                    404 if branch != "main" else 403, "RevisionNotFound", f"cannot delete {branch}"
                )
            del repo.branches[branch]
            return _Response(200, {})
        if branch in repo.branches:
            raise HubError(409, None, f"Reference already exists: refs/heads/{branch}")
        body = self._json()
        start = body.get("startingPoint") or "main"
        repo.branches[branch] = self._revision(repo, start)
        return _Response(200, {})

    # ---------------------------------------------------------------- uploads
    def _preupload(self, repo: Repo, raw_rest: list[str]) -> _Response:
        self._no_pr()
        sha = self._revision(repo, unquote("/".join(raw_rest)))
        files = repo.commits[sha]
        out = []
        for item in self._json().get("files", []):
            path = item["path"]
            sample = base64.b64decode(item.get("sample") or "")
            mode = _upload_mode(path, sample, int(item.get("size") or 0))
            existing = files.get(path)
            oid = None
            if existing is not None:  # like the Hub: lets the client skip unchanged files
                oid = existing.lfs_sha256 if existing.lfs_sha256 else git_blob_sha1(existing.data)
            out.append({"path": path, "uploadMode": mode, "shouldIgnore": False, "oid": oid})
        return _Response(200, {"files": out, "commitOid": sha})

    def _lfs_batch(self, repo_type: str, repo_id: str) -> _Response:
        repo = self._get_repo(repo_type, repo_id, write=True)
        body = self._json()
        if body.get("operation") != "upload":
            raise HubError(400, None, "LocalHub only supports LFS uploads")
        ref = (body.get("ref") or {}).get("name")
        if ref is not None:
            self._revision(repo, ref)
        objects = []
        for obj in body.get("objects", []):
            oid, size = obj.get("oid"), obj.get("size")
            if not (
                isinstance(oid, str)
                and SHA256_RE.match(oid)
                and isinstance(size, int)
                and size >= 0
            ):
                raise HubError(400, None, f"invalid LFS object {obj!r}")
            item: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
            stored = repo.lfs_objects.get(oid)
            if stored is None or len(stored) != size:
                href = (f"{self.hub.endpoint}/__lfs__/{repo_type}/{quote(repo_id, safe='/')}"
                        f"/{oid}/{size}")  # fmt: skip
                item["actions"] = {"upload": {"href": href, "header": {}}}
            objects.append(item)
        return _Response(200, {"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
                         content_type="application/vnd.git-lfs+json")  # fmt: skip

    def _lfs_put(self, seg: list[str]) -> _Response:
        # /__lfs__/{type}/{org}/{name}/{oid}/{size}
        if len(seg) != 5:
            raise HubError(404, None, "bad LFS upload URL")
        repo_type, org, name, oid, size_s = seg
        repo = self.hub.repos.get((repo_type, f"{unquote(org)}/{unquote(name)}"))
        if repo is None:
            raise HubError(404, "RepoNotFound", "Repository not found")
        data = self.record.body
        if not size_s.isdigit() or len(data) != int(size_s):
            raise HubError(
                400, None, f"LFS upload size mismatch: got {len(data)} bytes, expected {size_s}"
            )
        if hashlib.sha256(data).hexdigest() != oid:
            raise HubError(400, None, "LFS upload sha256 mismatch")
        repo.lfs_objects[oid] = data
        return _Response(200, b"", content_type="text/plain")

    def _no_pr(self) -> None:
        if (self.query.get("create_pr") or ["0"])[0] not in ("0", "false", ""):
            raise HubError(400, None, "LocalHub does not support create_pr")

    def _commit(self, repo: Repo, raw_rest: list[str]) -> _Response:
        self._no_pr()
        branch = unquote("/".join(raw_rest))
        if branch not in repo.branches:
            raise HubError(404, "RevisionNotFound", f"Invalid rev id: {branch}")
        tree = dict(repo.commits[repo.branches[branch]])
        summary = "commit"
        for line in self.record.body.splitlines():
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                key, value = item["key"], item["value"]
            except (ValueError, KeyError, TypeError) as err:
                raise HubError(400, None, f"invalid ndjson line: {err}") from None
            if key == "header":
                summary = value.get("summary") or summary
                parent = value.get("parentCommit")
                if parent and parent != repo.branches[branch]:
                    raise HubError(412, None, f"parentCommit {parent} is not the head of {branch}")
            elif key == "file":
                if value.get("encoding", "base64") != "base64":
                    raise HubError(400, None, "only base64 encoding is supported")
                tree[value["path"]] = StoredFile(base64.b64decode(value["content"]))
            elif key == "lfsFile":
                oid = value["oid"]
                data = repo.lfs_objects.get(oid)
                if data is None:
                    raise HubError(
                        400, None, f"LFS object {oid} was not uploaded for {value['path']}"
                    )
                if value.get("size") is not None and int(value["size"]) != len(data):
                    raise HubError(400, None, f"LFS size mismatch for {value['path']}")
                tree[value["path"]] = StoredFile(data, oid)
            elif key == "deletedFile":
                if tree.pop(value["path"], None) is None:
                    raise HubError(404, "EntryNotFound", "A file with this name doesn't exist")
            elif key == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                doomed = [p for p in tree if p.startswith(folder)]
                if not doomed:
                    raise HubError(404, "EntryNotFound", "A folder with this name doesn't exist")
                for p in doomed:
                    del tree[p]
            else:
                raise HubError(400, None, f"unsupported commit operation {key!r}")
        sha = self.hub._commit_tree(repo, branch, tree, summary)
        return _Response(200, {
            "success": True,
            "commitOid": sha,
            "commitUrl": f"{self.hub._repo_url(repo)}/commit/{sha}",
            "hookOutput": "",
            "pullRequestUrl": None,
        })  # fmt: skip

    # ---------------------------------------------------------------- downloads
    def _resolve(self, repo_type: str, repo_id: str, raw_rest: list[str]) -> _Response:
        repo = self._get_repo(repo_type, repo_id)
        revision, path_segments = self._split_revision(repo, raw_rest)
        sha = self._revision(repo, revision)
        path = unquote("/".join(path_segments))
        f = repo.commits[sha].get(path)
        if f is None:
            raise HubError(404, "EntryNotFound", "Entry not found",
                           {"__headers__": {"X-Repo-Commit": sha}})  # fmt: skip
        headers = {
            "X-Repo-Commit": sha,
            "ETag": f'"{f.git_oid}"',
            "X-Linked-Size": str(f.size),
            "Accept-Ranges": "bytes",
        }
        if f.lfs_sha256:
            headers["X-Linked-Etag"] = f'"{f.lfs_sha256}"'
        data, status = f.data, 200
        rng = re.fullmatch(r"bytes=(\d+)-(\d*)", self.record.header("Range") or "")
        if rng and self.method == "GET":
            start = int(rng.group(1))
            end = int(rng.group(2)) if rng.group(2) else f.size - 1
            if start >= f.size:
                raise HubError(416, None, "Range not satisfiable",
                               {"__headers__": {"Content-Range": f"bytes */{f.size}"}})  # fmt: skip
            data, status = f.data[start : end + 1], 206
            headers["Content-Range"] = f"bytes {start}-{start + len(data) - 1}/{f.size}"
        headers["Content-Length"] = str(len(data))
        tamper = self.hub.tamper.get((repo_id, path), {})
        if tamper.get("redirect_loop") == self.method.lower():
            return _Response(302, b"", {"Location": f"{self.hub.endpoint}{self.raw}", "X-Repo-Commit": sha})
        if tamper.get("no_size"):  # no X-Linked-Size, no Content-Length: the size is anyone's guess
            del headers["X-Linked-Size"], headers["Content-Length"]
            return _Response(status, data, headers, content_type="application/octet-stream", no_length=True,
                             stream=((repo_id, path), 0) if self.method == "GET" else None)
        if tamper.get("extra") and self.method == "GET":  # the HEAD told the truth, the GET sends more
            headers["Content-Length"] = str(len(data) + tamper["extra"])
            return _Response(status, data, headers, content_type="application/octet-stream",
                             stream=((repo_id, path), tamper["extra"]))
        return _Response(status, data, headers, content_type="application/octet-stream")
