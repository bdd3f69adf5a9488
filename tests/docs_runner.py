"""Runs the code blocks of the documentation (docs/**/*.md); used by tests/test_docs.py.

Each page runs top to bottom in a fresh temporary folder, like a reader typing along:

* ```` ```python ```` blocks run in one namespace per page (a notebook), so a block can use what
  an earlier block on the same page made.
* ```` ```bash ```` blocks run line by line. Each ``ganzoo ...`` (or ``python -m ganzoo ...``)
  line runs through the real command line (``ganzoo.cli.cli``) in this process, as a fresh
  ``ganzoo`` process would: plugin commands are collected anew each time. It must exit with 0.
  A few other commands are understood: ``cd``, ``mkdir``, ``export`` / ``unset``,
  ``NAME=value command`` (for that command only),
  ``python -c CODE``, ``python -m pytest ARGS`` (in this process), and ``pip install -e DIR``,
  which is emulated without touching the environment (see :meth:`Page.pip_install_editable`).
  Any other command fails the test: mark its block, or teach this file the command.
* Other languages (``toml``, ``text``, ``json``, ...) are not run.

HTML comments on the lines right before a block's opening fence steer it:

* ``<!-- skip: CATEGORY; why -->``: not run, reported by pytest as skipped with the reason.
  CATEGORY is one of :data:`SKIP_CATEGORIES` (a GPU, the network, torchrun, long training).
* ``<!-- needs: mnist -->``: the page needs the MNIST files (tests/conftest.py's ``mnist_dir``);
  the whole page is skipped without them, and ``GANZOO_DATA`` points at them while it runs.
* ``<!-- needs: hub -->``: the page runs against the local Hub server of ganzoo/testing/hub_server.py (`ganzoo.testing.local_hub`)
  (the ``hub`` fixture): the real ``huggingface_hub`` client, with its endpoint, token and
  cache redirected, so nothing reaches the real Hub.
* ``<!-- file: PATH -->``: the block is the content of the file PATH (relative to the current
  folder), which is written instead of run. ``<!-- append: PATH -->`` adds to it.
* ``<!-- edit: PATH -->``: the block replaces one section of PATH: from the line equal to the
  block's first line (a ``# Section`` comment) up to the next line that starts with ``# `` at
  the left margin, or the end of the file.
* ``<!-- signature: HOOK -->``: the block is a hook's signature (checked by tests/test_docs.py
  against ganzoo/hookspecs.py), not run.
* ``<!-- fill: TEXT = NAME -->``: before the block is used, TEXT in it is replaced by the value
  of NAME in the page's Python namespace (for values a reader pastes, such as a sha256).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os
import re
import shlex
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
SKIP_CATEGORIES = ("gpu", "network", "torchrun", "long")
RUN_LANGS = {"python", "bash", "sh", "shell", "console"}

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)[^\n]*$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*(?P<key>[a-z]+):\s*(?P<value>.*?)\s*-->\s*$")


@dataclass
class Block:
    page: str  # path relative to docs/
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    directives: dict[str, list[str]] = field(default_factory=dict)
    title: str = ""  # the fence's title="..." (shown above the block on the site)

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    def get(self, key: str) -> list[str]:
        return self.directives.get(key, [])

    @property
    def skip_reason(self) -> str | None:
        values = self.get("skip")
        return values[0] if values else None

    @property
    def runs(self) -> bool:
        return self.skip_reason is None and not self.get("signature") and (
            self.lang in RUN_LANGS or bool(self.get("file") or self.get("append") or self.get("edit"))
        )


def parse_blocks(text: str, page: str) -> list[Block]:
    """The fenced code blocks of a Markdown page, with the directives written right before each."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m["indent"], m["fence"], m["lang"].lower()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not (
            lines[i].strip().startswith(fence) and lines[i].strip().strip(fence[0]) == ""
        ):
            line = lines[i]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            i += 1
        i += 1  # the closing fence
        directives: dict[str, list[str]] = {}
        j = start - 1
        while j >= 0 and (d := _DIRECTIVE.match(lines[j])):
            directives.setdefault(d["key"], []).insert(0, d["value"])
            j -= 1
        title = re.search(r'title="([^"]*)"', lines[start])
        blocks.append(Block(page, start + 1, lang, "\n".join(body) + "\n", directives, title.group(1) if title else ""))
    return blocks


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "_ext" not in p.parts)


def page_blocks(path: Path) -> list[Block]:
    return parse_blocks(path.read_text(), path.relative_to(DOCS).as_posix())


def shell_commands(code: str, lang: str) -> list[tuple[str, list[str]]]:
    """``(source line, argv)`` for each command of a shell block (comments and prompts removed)."""
    out: list[tuple[str, list[str]]] = []
    pending = ""
    for raw in code.splitlines():
        line = raw
        if lang == "console":
            if not line.startswith("$ "):
                continue  # output shown in a console block
            line = line[2:]
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        line, pending = pending + line, ""
        argv = shlex.split(line, comments=True)
        if argv:
            out.append((line.strip(), argv))
    return out


class Page:
    """The state of one page while its blocks run: folder, namespace, environment, plugins."""

    def __init__(self, path: Path, workdir: Path, hub=None):
        self.path = path
        self.workdir = workdir
        self.mp = monkeypatch = pytest.MonkeyPatch()  # undone when the page closes
        self.hub = hub
        self.namespace: dict = {"__name__": "__main__"}
        self.installed: dict[str, tuple[Path, Path]] = {}  # distribution -> (project, dist-info)
        self.site = workdir / ".docs-site-packages"
        self.saved_modules: dict[str, object] = {}
        self.timings: list[tuple[str, float]] = []  # (block, seconds), shown by `pytest -s`
        from ganzoo.cli import cli

        self.cli = cli
        self.cli_commands = dict(cli.commands)
        self.cli_state = dict(vars(cli))
        (workdir / "page").mkdir()
        monkeypatch.chdir(workdir / "page")
        monkeypatch.syspath_prepend(str(workdir / "page"))

    # -------------------------------------------------------------------- blocks

    def run(self, block: Block) -> None:
        start = time.perf_counter()
        try:
            self._run(block)
        finally:
            self.timings.append((block.id, time.perf_counter() - start))

    def _run(self, block: Block) -> None:
        code = block.code
        for fill in block.get("fill"):
            placeholder, _, name = fill.rpartition("=")
            placeholder, name = placeholder.strip(), name.strip()
            assert name in self.namespace, f"{block.id}: fill: {name!r} is not defined by an earlier block"
            assert placeholder in code, f"{block.id}: fill: {placeholder!r} does not occur in the block"
            code = code.replace(placeholder, str(self.namespace[name]))
        if block.get("file") or block.get("append") or block.get("edit"):
            self.write_file(block, code)
        elif block.lang == "python":
            exec(compile(code, f"docs/{block.id}", "exec"), self.namespace)
        elif block.lang in RUN_LANGS:
            for line, argv in shell_commands(code, block.lang):
                self.shell(block, line, argv)

    def write_file(self, block: Block, code: str) -> None:
        if block.get("file"):
            path = Path(block.get("file")[0])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(code)
        elif block.get("append"):
            path = Path(block.get("append")[0])
            assert path.is_file(), f"{block.id}: append: {path} was not written by an earlier block"
            path.write_text(path.read_text().rstrip("\n") + "\n\n\n" + code)
        else:
            path = Path(block.get("edit")[0])
            path.write_text(edit_section(path.read_text(), code, block.id))
        if block.lang == "python":
            compile(code, f"docs/{block.id}", "exec")  # a syntax error fails here, not later
        if self.installed:
            self.refresh_plugins()  # what the next command sees, as after an editable install

    def shell(self, block: Block, line: str, argv: list[str]) -> None:
        where = f"docs/{block.id}: `{line}`"
        prefix = []  # `NAME=value command`: the variable is set for this command only
        while argv and re.match(r"^[A-Za-z_]\w*=", argv[0]):
            prefix.append(argv.pop(0).partition("="))
        if prefix:
            saved = {name: os.environ.get(name) for name, _, _ in prefix}
            for name, _, value in prefix:
                self.setenv(name, value)
            try:
                self.shell(block, line, argv)
            finally:
                for name, value in saved.items():
                    self.setenv(name, value)
            return
        if argv[0] == "ganzoo" or argv[:3] == ["python", "-m", "ganzoo"]:
            self.ganzoo(argv[1:] if argv[0] == "ganzoo" else argv[3:], where)
        elif argv[0] == "cd":
            self.mp.chdir(argv[1])
        elif argv[0] == "mkdir":
            for d in argv[1:]:
                if not d.startswith("-"):
                    Path(d).mkdir(parents=True, exist_ok=True)
        elif argv[0] == "export":
            for item in argv[1:]:
                name, _, value = item.partition("=")
                self.setenv(name, value)
        elif argv[0] == "unset":
            for name in argv[1:]:
                self.setenv(name, None)
        elif argv[:2] == ["python", "-c"]:
            exec(compile(argv[2], where, "exec"), {"__name__": "__main__"})
        elif argv[:3] == ["python", "-m", "pytest"]:
            code = pytest.main([*argv[3:], "-p", "no:cacheprovider"])
            assert code == 0, f"{where}: pytest exited with {code}"
        elif argv[:3] == ["pip", "install", "-e"] and len(argv) == 4:
            self.pip_install_editable(Path(argv[3]))
        else:
            pytest.fail(f"{where}: the docs runner does not know this command; mark the block with "
                        f"<!-- skip: CATEGORY; reason --> or teach tests/docs_runner.py")

    def setenv(self, name: str, value: str | None) -> None:
        if name == "HF_HUB_OFFLINE" and self.hub is not None:
            self.hub.set_offline(value not in (None, "", "0"))
        elif value is None:
            self.mp.delenv(name, raising=False)
        else:
            self.mp.setenv(name, value)

    def ganzoo(self, args: list[str], where: str) -> None:
        from click.testing import CliRunner

        # A fresh `ganzoo` process: plugin commands are collected from the current plugins.
        self.cli.commands.clear()
        self.cli.commands.update(self.cli_commands)
        vars(self.cli).pop("_plugins_loaded", None)
        result = CliRunner().invoke(self.cli, args, prog_name="ganzoo")
        print(f"$ ganzoo {shlex.join(args)}\n{result.output}")
        if result.exit_code != 0:
            detail = ""
            if result.exc_info and not isinstance(result.exception, SystemExit):
                import traceback

                detail = "".join(traceback.format_exception(*result.exc_info))
            pytest.fail(f"{where} exited with {result.exit_code}:\n{result.output}{detail}")

    # -------------------------------------------------------------------- plugins

    def pip_install_editable(self, project: Path) -> None:
        """Emulate ``pip install -e PROJECT`` for a ganzoo plugin, leaving the environment as it is.

        The project's ``pyproject.toml`` is read as pip would read it: its name, version and
        ``[project.entry-points.ganzoo]``. A ``*.dist-info`` with those entry points is written
        to a page-local folder, and the modules the entry points name are imported from the
        project folder. Plugin discovery (``importlib.metadata.entry_points``) then sees this
        distribution instead of an installed one of the same name, and ganzoo's plugin manager
        is rebuilt, so ``ganzoo plugins`` shows it exactly as after a real install.
        """
        project = project.resolve()
        pyproject = project / "pyproject.toml"
        assert pyproject.is_file(), f"pip install -e {project}: no pyproject.toml there"
        meta = load_toml(pyproject.read_text())
        dist = meta["project"]["name"]
        version = meta["project"].get("version", "0")
        entry_points = meta["project"].get("entry-points", {}).get("ganzoo", {})
        assert entry_points, f"{pyproject} declares no [project.entry-points.ganzoo]: ganzoo would not find it"
        packages = meta.get("tool", {}).get("setuptools", {}).get("packages")
        info = self.site / f"{re.sub(r'[-_.]+', '_', dist)}-{version}.dist-info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(
            "[ganzoo]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items())
        )
        for value in entry_points.values():
            top = value.split(":")[0].split(".")[0]
            if packages is not None:
                assert top in packages, f"{pyproject}: entry point module {top!r} is not in tool.setuptools.packages"
        self.installed[_normal(dist)] = (project, info)
        self.refresh_plugins()

    def refresh_plugins(self) -> None:
        import ganzoo.plugins

        ours: list[importlib.metadata.EntryPoint] = []
        for project, info in self.installed.values():
            for ep in importlib.metadata.PathDistribution(info).entry_points.select(group="ganzoo"):
                self.import_from(project, ep.value.split(":")[0].split(".")[0])
                ours.append(ep)
        real = importlib.metadata.entry_points

        def entry_points(**params):
            found = real(**params)
            if params.get("group") != "ganzoo":
                return found
            kept = [ep for ep in found if not (ep.dist and _normal(ep.dist.metadata["Name"]) in self.installed)]
            return importlib.metadata.EntryPoints(kept + ours)

        self.mp.setattr(importlib.metadata, "entry_points", entry_points)
        ganzoo.plugins.reset()

    def import_from(self, project: Path, top: str) -> None:
        """Import module ``top`` from ``project`` (not from an installed copy of the same name)."""
        for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
            module = sys.modules.pop(name)
            if not getattr(module, "__file__", "") or not str(module.__file__).startswith(str(project)):
                self.saved_modules.setdefault(name, module)
        package = project / top / "__init__.py"
        source = package if package.is_file() else project / f"{top}.py"
        assert source.is_file(), f"the entry point names module {top!r}, but {project} has no {top}/ or {top}.py"
        spec = importlib.util.spec_from_file_location(
            top, source, submodule_search_locations=[str(source.parent)] if package.is_file() else None
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[top] = module
        spec.loader.exec_module(module)

    # -------------------------------------------------------------------- teardown

    def close(self) -> None:
        import ganzoo.plugins

        print("\n".join(f"{seconds:6.1f} s  docs/{where}" for where, seconds in self.timings))
        for name in [m for m in sys.modules if _under(sys.modules[m], self.workdir)]:
            del sys.modules[name]
        sys.modules.update(self.saved_modules)
        self.cli.commands.clear()
        self.cli.commands.update(self.cli_commands)
        vars(self.cli).clear()
        vars(self.cli).update(self.cli_state)
        self.mp.undo()
        ganzoo.plugins.reset()


def edit_section(text: str, block: str, where: str) -> str:
    """Replace the section of ``text`` that starts with ``block``'s first line (see module doc)."""
    head = block.splitlines()[0]
    lines = text.splitlines()
    assert head.startswith("# ") and head in lines, f"{where}: edit: no line {head!r} in the file"
    start = lines.index(head)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("# ")), len(lines))
    return "\n".join(lines[:start] + block.rstrip("\n").splitlines() + [""] * 2 + lines[end:]).rstrip() + "\n"


def load_toml(text: str) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli", reason="reading pyproject.toml on Python 3.10 needs tomli")
    return tomllib.loads(text)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _under(module: object, root: Path) -> bool:
    file = getattr(module, "__file__", None)
    return bool(file) and Path(file).resolve().is_relative_to(root.resolve())


@contextlib.contextmanager
def running_page(path: Path, workdir: Path, hub=None) -> Iterator[Page]:
    page = Page(path, workdir, hub)
    try:
        yield page
    finally:
        page.close()


def needs(blocks: list[Block]) -> set[str]:
    return {n.strip() for b in blocks for v in b.get("needs") for n in v.split(",")}


def env_for_docs(monkeypatch: pytest.MonkeyPatch, mnist_dir: Path | None) -> None:
    """Environment every page runs in: MNIST from the test data, no downloads, no progress bars."""
    if mnist_dir is not None:
        monkeypatch.setenv("GANZOO_DATA", str(mnist_dir))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.delenv("GANZOO_DISABLE_PLUGIN_AUTOLOAD", raising=False)
