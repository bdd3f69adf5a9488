"""ganzoo's layers hold, and the check that keeps them can fail.

`lint-imports` reads the contracts in pyproject.toml ([tool.importlinter]): each layer imports
only from the layers below it, nothing imports in a circle, and the built-in families use only
the public API. The attacks copy the sources, add one forbidden import, and expect the
check to name it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _lint_imports(cwd: Path, pythonpath: list[Path] | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "lint-imports"
    if not exe.exists():
        pytest.skip("lint-imports is not installed beside this Python (pip install -e '.[dev]')")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in pythonpath)
    return subprocess.run([str(exe), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True)


def _copy_sources(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "pretrained", "weights", "reference", "*.safetensors")
    shutil.copytree(REPO / "ganzoo", root / "ganzoo", ignore=ignore)
    shutil.copytree(REPO / "plugins", root / "plugins", ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_layers_hold():
    res = _lint_imports(REPO)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "KEPT" in res.stdout and "BROKEN" not in res.stdout, res.stdout


@pytest.mark.parametrize(
    ("module", "line", "expected"),
    [
        # an arrow pointing up: the bottom layer importing the command line
        ("ganzoo/specs.py", "import ganzoo.cli", "ganzoo.specs is not allowed to import ganzoo.cli"),
        # a circle inside one layer (the hub and the zoo share one)
        ("ganzoo/hub.py", "import ganzoo.zoo", "No cycles are allowed in ganzoo"),
        # a built-in family reaching into the engine
        ("plugins/ganzoo_dcgan/__init__.py", "import ganzoo.engine", "ganzoo_dcgan is not allowed to import ganzoo.engine"),
    ],
)
def test_a_forbidden_import_breaks_the_check(tmp_path, module, line, expected):
    root = _copy_sources(tmp_path)
    file = root / module
    text = file.read_text()
    head, sep, rest = text.partition("from __future__ import annotations\n")
    file.write_text(head + sep + line + "\n" + rest)
    res = _lint_imports(root, [root, root / "plugins"])
    assert res.returncode != 0, res.stdout
    assert expected in " ".join(res.stdout.split()), res.stdout
