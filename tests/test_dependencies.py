"""Every third-party module that ganzoo, its built-in plugins or its tests import is declared.

A fresh virtual environment with `pip install -e '.[dev]'` (the README's set-up, and what
`.ci/run` does) has only what pyproject.toml declares; an import of anything else breaks a
stranger's first `python -m pytest`. This test reads the imports (no import is executed) and
names the module and file of each one that no declared distribution provides.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest
from docs_runner import load_toml

REPO = Path(__file__).resolve().parent.parent


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(requirements: list[str]) -> set[str]:
    return {_normalise(re.match(r"[A-Za-z0-9_.\-]+", r.strip()).group(0)) for r in requirements}


def _declared() -> tuple[set[str], set[str]]:
    """(distributions the package needs, those the package plus its dev extra need)."""
    project = load_toml((REPO / "pyproject.toml").read_text())["project"]
    core = _requirement_names(project["dependencies"])
    extras = project.get("optional-dependencies", {})
    dev: set[str] = set(core)
    todo = ["dev"]
    while todo:  # extras may name other extras: "ganzoo[docs]"
        for requirement in extras.get(todo.pop(), []):
            match = re.fullmatch(r"ganzoo\[([\w,\s-]+)\]", requirement.strip())
            if match:
                todo += [e.strip() for e in match.group(1).split(",")]
            else:
                dev |= _requirement_names([requirement])
    return core, dev


def _optional(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside ``try: ... except ImportError`` (an optional import with a fallback)."""
    while node in parents:
        child, node = node, parents[node]
        if isinstance(node, ast.Try) and child in node.body:
            for handler in node.handlers:
                names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
                if any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError") for n in names):
                    return True
    return False


def _imports(files: list[Path]) -> dict[str, list[str]]:
    """Top-level module name -> the files (and lines) that import it unconditionally."""
    found: dict[str, list[str]] = {}
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            if _optional(node, parents):
                continue
            for name in names:
                found.setdefault(name.split(".")[0], []).append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def _first_party() -> set[str]:
    """Modules of this repository: ganzoo, the plugins, the example plugin, the tests' helpers."""
    names = {"ganzoo"}
    names |= {p.name for p in (REPO / "plugins").iterdir() if (p / "__init__.py").is_file()}
    names |= {p.name for p in (REPO / "examples").glob("*/*") if (p / "__init__.py").is_file()}
    names |= {p.stem for p in (REPO / "tests").glob("*.py")}
    return names


def _undeclared(files: list[Path], allowed: set[str]) -> list[str]:
    providers = importlib.metadata.packages_distributions()
    local = _first_party()
    problems = []
    for module, where in sorted(_imports(files).items()):
        if module in sys.stdlib_module_names or module in local or module == "__future__":
            continue
        dists = {_normalise(d) for d in providers.get(module, [])}
        if not dists & allowed:
            what = f"provided by {', '.join(sorted(dists))}" if dists else "not installed"
            problems.append(f"{module} ({what}), imported at {', '.join(where[:3])}")
    return problems


def _python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (REPO / folder).rglob("*.py") if "__pycache__" not in p.parts)


def test_the_package_imports_only_its_dependencies():
    core, _ = _declared()
    problems = _undeclared(_python_files("ganzoo", "plugins"), core)
    assert not problems, "declare these in pyproject.toml [project] dependencies, or drop them:\n" + "\n".join(problems)


def test_the_tests_import_only_declared_packages():
    _, dev = _declared()
    problems = _undeclared(_python_files("tests"), dev)
    assert not problems, (
        "declare these in pyproject.toml's dev extra (the README's `pip install -e '.[dev]'`), "
        "import them inside `try: ... except ImportError` or pytest.importorskip, or drop them:\n"
        + "\n".join(problems)
    )


def test_the_check_finds_an_undeclared_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The check itself can fail: a module that imports scipy (what broke a fresh set-up once) and
    # one that imports an uninstalled name are both reported; an optional import is not.
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    for folder in ("plugins", "examples", "tests"):
        (tmp_path / folder).mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(
        "import os\nimport torch\nimport scipy.linalg\nfrom not_a_real_module_xyz import a\n"
        "try:\n    import yaml_optional_xyz\nexcept ImportError:\n    pass\n"
    )
    problems = _undeclared([tmp_path / "tests" / "test_x.py"], {"torch"})
    assert [p.split(" ")[0] for p in problems] == ["not_a_real_module_xyz", "scipy"]
    assert "tests/test_x.py:3" in problems[1]
