"""The documentation site (docs/, mkdocs.yml) is tested: its examples run, its facts are checked.

* Every page's Python and shell examples run, top to bottom, in a temporary folder
  (tests/docs_runner.py says how, and which HTML comments mark a block). A block that needs a
  GPU, the network, torchrun or long training is marked ``<!-- skip: ... -->`` and reported
  here as skipped, with its reason.
* The hooks reference has one section per hook in ganzoo/hookspecs.py, headed by the hook's
  parameters, with the exact signature and an example.
* Numbers, training commands and sample grids of the model zoo page come from the bundles'
  ganzoo.json and samples.png; the benchmark tables are rows of bench/RESULTS.md; the command
  line reference is the real ``--help`` text; the API reference covers ``ganzoo.__all__``.
* ``mkdocs build --strict`` passes (when mkdocs is installed: ``pip install -e '.[docs]'``).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MNIST_DIR, mnist_available
from docs_runner import (
    DOCS,
    REPO,
    SKIP_CATEGORIES,
    Block,
    env_for_docs,
    needs,
    page_blocks,
    pages,
    running_page,
)

import ganzoo
from ganzoo import hookspecs

ALL_BLOCKS = {p: page_blocks(p) for p in pages()}
RUNNABLE = [p for p, blocks in ALL_BLOCKS.items() if any(b.runs for b in blocks)]
SKIPPED = [b for blocks in ALL_BLOCKS.values() for b in blocks if b.skip_reason is not None]
KNOWN_DIRECTIVES = {"skip", "needs", "file", "append", "edit", "fill", "signature"}


def _id(path: Path) -> str:
    return path.relative_to(DOCS).as_posix()


# ---------------------------------------------------------------------------------- examples


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the Hub client's LFS upload, as in test_hub.py
@pytest.mark.parametrize("path", RUNNABLE, ids=_id)
def test_page_examples_run(path, tmp_path, monkeypatch, request):
    blocks = ALL_BLOCKS[path]
    wanted = needs(blocks)
    unknown = wanted - {"mnist", "hub"}
    assert not unknown, f"{_id(path)}: unknown needs: {sorted(unknown)}"
    if "mnist" in wanted and not mnist_available():
        pytest.skip(f"{_id(path)} needs the MNIST files (not found under {MNIST_DIR}; set GANZOO_DATA)")
    env_for_docs(monkeypatch, MNIST_DIR if mnist_available() else None)
    hub = request.getfixturevalue("hub") if "hub" in wanted else None
    with running_page(path, tmp_path, hub) as page:
        for block in blocks:
            if block.runs:
                page.run(block)


@pytest.mark.parametrize("block", SKIPPED, ids=lambda b: b.id)
def test_marked_examples_are_skipped(block):
    pytest.skip(f"docs/{block.id}: {block.skip_reason}")


def test_skip_markers_name_a_reason_from_the_list():
    for block in SKIPPED:
        category, _, why = block.skip_reason.partition(";")
        assert category.strip() in SKIP_CATEGORIES, (
            f"docs/{block.id}: skip category {category.strip()!r}; use one of {SKIP_CATEGORIES}"
        )
        assert why.strip(), f"docs/{block.id}: say why after the category: <!-- skip: gpu; reason -->"


def test_directives_are_known():
    for blocks in ALL_BLOCKS.values():
        for block in blocks:
            unknown = set(block.directives) - KNOWN_DIRECTIVES
            assert not unknown, f"docs/{block.id}: unknown directive(s) {sorted(unknown)}"
    for path in pages():  # a directive that is not right before a block would silently do nothing
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"^\s*<!--\s*([a-z]+):", line)
            if m and m.group(1) in KNOWN_DIRECTIVES:
                j = i
                while j < len(lines) and re.match(r"^\s*<!--.*-->\s*$", lines[j]):
                    j += 1
                assert j < len(lines) and re.match(r"^\s*(```|~~~)", lines[j]), (
                    f"docs/{_id(path)}:{i + 1}: directive not directly before a code block"
                )


def test_file_blocks_show_their_file_name():
    for blocks in ALL_BLOCKS.values():
        for block in blocks:
            for key in ("file", "append", "edit"):
                for path in block.get(key):
                    assert block.title.startswith(path), (
                        f'docs/{block.id}: a {key} block of {path} needs title="{path}" on its fence'
                    )


def test_runner_understands_blocks():
    """The parser behind the tests above: directives, indentation, console prompts."""
    from docs_runner import edit_section, parse_blocks, shell_commands

    text = "\n".join([
        "Intro", "<!-- skip: gpu; needs CUDA -->", "<!-- needs: mnist, hub -->", "```bash",
        "ganzoo train dcgan --device cuda \\", "    --epochs 30  # comment", "```", "",
        "- item", "", "    ```python", "    x = 1", "    ```", "", "```text", "out", "```",
    ])
    a, b, c = parse_blocks(text, "p.md")
    assert (a.line, a.lang, a.skip_reason, a.get("needs")) == (4, "bash", "gpu; needs CUDA", ["mnist, hub"])
    assert not a.runs and b.runs and not c.runs
    assert b.code == "x = 1\n" and b.line == 11
    assert shell_commands(a.code, "bash") == [
        ("ganzoo train dcgan --device cuda      --epochs 30  # comment",
         ["ganzoo", "train", "dcgan", "--device", "cuda", "--epochs", "30"])
    ]
    assert [argv for _, argv in shell_commands("$ ganzoo list\nname  family\n", "console")] == [["ganzoo", "list"]]
    module = "# A\na = 1\n\n\n# B\nb = 2\n\n\n# C\nc = 3\n"
    assert edit_section(module, "# B\nb = 20\n", "t") == "# A\na = 1\n\n\n# B\nb = 20\n\n\n# C\nc = 3\n"


# ---------------------------------------------------------------------------------- hooks


def hook_specs() -> dict[str, inspect.Signature]:
    """Every function that ganzoo/hookspecs.py marks as a hook specification."""
    return {
        name: inspect.signature(fn)
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "ganzoo_spec")
    }


def hook_reference_problems(text: str, specs: dict[str, inspect.Signature]) -> list[str]:
    """What is wrong with a hooks reference page: missing, misnamed or unexampled sections."""
    problems = []
    sections = re.split(r"^## ", text, flags=re.MULTILINE)[1:]
    by_name = {}
    for section in sections:
        heading = section.splitlines()[0].strip()
        m = re.fullmatch(r"`?(\w+)\(([^)]*)\)`?", heading)
        if m:
            by_name[m.group(1)] = (m.group(2), section)
    for name, sig in specs.items():
        if name not in by_name:
            problems.append(f"hook {name} has no section '## {name}(...)'")
            continue
        params, section = by_name[name]
        expected = ", ".join(sig.parameters)
        if params.replace(" ", "") != expected.replace(" ", ""):
            problems.append(f"heading of {name}: ({params}), but the hook takes ({expected})")
        blocks = parse_blocks_of(section)
        sigs = [b for b in blocks if b.get("signature")]
        want = signature_text(name, sig)
        if not sigs or sigs[0].code.strip() != want:
            problems.append(f"section {name}: needs a <!-- signature: {name} --> block equal to `{want}`")
        summary = inspect.getdoc(getattr(hookspecs, name)).splitlines()[0].replace("``", "`")
        if summary not in section:
            problems.append(f"section {name}: does not say the hook's summary line {summary!r}")
        if not any(b.lang == "python" and b.runs for b in blocks):
            problems.append(f"section {name}: has no runnable Python example")
    for name in by_name.keys() - specs.keys():
        problems.append(f"section {name}: no such hook in ganzoo/hookspecs.py")
    return problems


def signature_text(name: str, sig: inspect.Signature) -> str:
    """``def hook(arg: Annotation) -> None`` as written in the source (annotations are strings there)."""

    def text(annotation) -> str:
        return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)

    params = ", ".join(f"{p.name}: {text(p.annotation)}" for p in sig.parameters.values())
    return f"def {name}({params}) -> {text(sig.return_annotation)}"


def parse_blocks_of(text: str) -> list[Block]:
    from docs_runner import parse_blocks

    return parse_blocks(text, "plugins/hooks.md")


def test_hookspecs_are_found():
    assert set(hook_specs()) >= {"ganzoo_register_models", "ganzoo_register_losses",
                                 "ganzoo_register_datasets", "ganzoo_register_commands"}


def test_every_hook_has_a_section_with_signature_and_example():
    problems = hook_reference_problems((DOCS / "plugins" / "hooks.md").read_text(), hook_specs())
    assert not problems, "docs/plugins/hooks.md:\n" + "\n".join(problems)


def test_hook_check_fails_on_a_missing_or_wrong_section():
    specs = hook_specs()
    text = (DOCS / "plugins" / "hooks.md").read_text()
    without = re.sub(r"^## ganzoo_register_losses\(.*?(?=^## |\Z)", "", text, flags=re.MULTILINE | re.DOTALL)
    assert any("ganzoo_register_losses has no section" in p for p in hook_reference_problems(without, specs))
    renamed = text.replace("## ganzoo_register_models(register)", "## ganzoo_register_models(registry)")
    assert any("heading of ganzoo_register_models" in p for p in hook_reference_problems(renamed, specs))
    extra = {**specs, "ganzoo_register_widgets": inspect.signature(lambda widgets: None)}
    assert any("ganzoo_register_widgets" in p for p in hook_reference_problems(text, extra))


# ---------------------------------------------------------------------------------- zoo


def _bundle(pretrained_id: str) -> Path:
    return Path(ganzoo.get_pretrained(pretrained_id)[1].bundle)


def _zoo_sections() -> dict[str, str]:
    text = (DOCS / "zoo.md").read_text()
    parts = re.split(r"^## `([\w-]+)`\s*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def test_zoo_page_has_every_pretrained_id():
    assert set(_zoo_sections()) == set(ganzoo.list_pretrained())


def _shown(value: float, shown: str) -> bool:
    """``shown`` is ``value`` rounded to as many decimals as ``shown`` has (or as a percentage)."""
    if shown.endswith("%"):
        return _shown(value * 100, shown[:-1])
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    return f"{value:.{decimals}f}" == shown


@pytest.mark.parametrize("pretrained_id", sorted(ganzoo.list_pretrained()))
def test_zoo_numbers_and_commands_come_from_the_bundle(pretrained_id):
    # docs/zoo.md is written by scripts/zoo_page.py; this reads the page back against the receipt.
    section = _zoo_sections()[pretrained_id]
    meta = json.loads((_bundle(pretrained_id) / "ganzoo.json").read_text())
    receipt, = meta["evaluation"]
    header = re.search(r"^\| metric \|(.+)\|$", section, flags=re.MULTILINE)
    assert header, f"{pretrained_id}: no metrics table"
    nets = re.findall(r"`([\w-]+)` \| real data", header.group(1))
    checks = receipt.get("cross_check") or []
    assert nets == [receipt["feature_network"]["name"], *(c["feature_network"]["name"] for c in checks)]
    columns = [(receipt["metrics"], (receipt.get("floor") or {}).get("metrics", {}))] + [
        (c["metrics"], (c.get("floor") or {}).get("metrics", {})) for c in checks]
    rows = {m[0]: [c.strip() for c in m[1].split("|")]
            for m in re.findall(r"^\| (\w+) \|(.+)\|$", section, flags=re.MULTILINE) if m[0] != "metric"}
    assert set(rows) >= set(receipt["metrics"]) - {"kid_std"}, f"{pretrained_id}: metrics missing from the table"
    for metric, cells in rows.items():
        assert len(cells) == 2 * len(columns), f"{pretrained_id}: {metric} row has {len(cells)} cells"
        for (values, floor), shown, shown_floor in zip(columns, cells[::2], cells[1::2]):
            assert _shown(values[metric], shown), f"{pretrained_id}: {metric} shown as {shown}, receipt {values[metric]}"
            assert (shown_floor == "-" if floor.get(metric) is None else _shown(floor[metric], shown_floor)), (
                f"{pretrained_id}: floor of {metric}")
    for comparison in meta.get("comparison") or []:
        m = re.search(re.escape(comparison["label"].removeprefix("for comparison: ")) + r": FID ([\d.]+)", section)
        assert m and _shown(comparison["metrics"]["fid"], m.group(1)), f"{pretrained_id}: comparison FID"
    assert f"```bash\n{meta['training_command']}\n```" in section, f"{pretrained_id}: training command"
    assert meta["trained_on"] in section, f"{pretrained_id}: hardware and date"
    assert meta["training_note"] in section, f"{pretrained_id}: run length"
    assert f"](assets/zoo/{pretrained_id}.png)" in section


def test_the_zoo_page_is_what_scripts_zoo_page_writes(tmp_path, monkeypatch):
    # The page's prose, id list and skip markers come from the script too: no hand edits drift.
    import importlib.util

    spec = importlib.util.spec_from_file_location("zoo_page", REPO / "scripts" / "zoo_page.py")
    zoo_page = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(zoo_page)
    (tmp_path / "assets" / "zoo").mkdir(parents=True)
    monkeypatch.setattr(zoo_page, "DOCS", tmp_path)
    zoo_page.main()
    assert (tmp_path / "zoo.md").read_text() == (DOCS / "zoo.md").read_text(), "run python scripts/zoo_page.py"


@pytest.mark.parametrize("pretrained_id", sorted(ganzoo.list_pretrained()))
def test_zoo_sample_grids_are_the_bundles_own(pretrained_id):
    copy = DOCS / "assets" / "zoo" / f"{pretrained_id}.png"
    original = _bundle(pretrained_id) / "samples.png"
    assert copy.read_bytes() == original.read_bytes(), f"refresh it: cp {original} {copy}"


# ---------------------------------------------------------------------------------- benchmarks


def test_benchmark_tables_are_rows_of_bench_results():
    results = {_norm(line) for line in (REPO / "bench" / "RESULTS.md").read_text().splitlines()}
    text = (DOCS / "benchmarks.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("|") and not re.match(r"^\|[-:| ]+\|$", line)]
    assert len(rows) > 10
    missing = [row for row in rows if _norm(row) not in results]
    assert not missing, "rows of docs/benchmarks.md that bench/RESULTS.md does not have:\n" + "\n".join(missing)
    for fact in re.findall(r"<!-- from RESULTS.md: (.+?) -->", text):
        assert fact in (REPO / "bench" / "RESULTS.md").read_text(), f"not in bench/RESULTS.md: {fact}"


def _norm(line: str) -> str:
    return re.sub(r"\s+", " ", line.strip())


# ---------------------------------------------------------------------------------- references


def test_api_reference_covers_the_public_api():
    text = "\n".join(p.read_text() for p in (DOCS / "reference").glob("*.md"))
    rendered = set(re.findall(r"^::: ([\w.]+)", text, flags=re.MULTILINE))
    undocumented = [
        name for name in ganzoo.__all__
        if name not in ("__version__", "plugins", "hookimpl") and f"ganzoo.{name}" not in rendered
    ]
    assert not undocumented, f"add `::: ganzoo.NAME` to docs/reference/api.md for: {undocumented}"
    for target in sorted(rendered):  # and every ::: names something that exists
        try:
            _resolve(target)
        except (ImportError, AttributeError) as exc:
            pytest.fail(f"docs/reference: `::: {target}` does not exist ({exc})")


def _resolve(target: str):
    """The object a ``::: dotted.path`` names: the longest importable module, then attributes."""
    parts = target.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(target)


def _help_blocks() -> dict[str, str]:
    text = (DOCS / "reference" / "cli.md").read_text()
    return dict(re.findall(r"^```text\n\$ (ganzoo[\w -]*?) --help\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL))


def test_cli_reference_is_the_real_help():
    from click.testing import CliRunner

    from ganzoo.cli import BUILTIN_COMMANDS, cli

    blocks = _help_blocks()
    assert set(blocks) == {"ganzoo"} | {f"ganzoo {c}" for c in BUILTIN_COMMANDS}
    for command, shown in blocks.items():
        result = CliRunner().invoke(cli, [*command.split()[1:], "--help"], prog_name="ganzoo", terminal_width=80)
        assert result.exit_code == 0
        assert shown.rstrip() == result.output.rstrip(), (
            f"docs/reference/cli.md: `{command} --help` changed; paste the new text:\n{result.output}"
        )


def test_nav_lists_every_page_and_only_existing_pages():
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())

    def walk(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                yield from walk(value)

    listed = set(walk(config["nav"]))
    present = {_id(p) for p in pages()}
    assert listed == present, f"not in nav: {sorted(present - listed)}; missing files: {sorted(listed - present)}"


def test_images_are_inside_the_site():
    for path in pages():
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", path.read_text()):
            assert not re.match(r"^[a-z]+:", target), f"docs/{_id(path)}: image from outside the site: {target}"
            assert (path.parent / target).resolve().is_file(), f"docs/{_id(path)}: missing image {target}"


def test_mkdocs_build_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[docs]')")
    pytest.importorskip("mkdocstrings_handlers.python", reason="mkdocstrings[python] is not installed")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "plugins" / "hooks.html").is_file()
    # Opened from files, the 404 page finds its styles and pages: no link from the site's root.
    page = (tmp_path / "site" / "404.html").read_text()
    assert not re.search(r'(href|src)="/(?!/)', page), re.findall(r'(?:href|src)="/[^"]*"', page)[:5]
    for link in re.findall(r'(?:href|src)="\./([^"#?]+)"', page):
        assert (tmp_path / "site" / link).exists(), link


# ---------------------------------------------------------------------------------- plugin guide


def test_plugin_guide_builds_the_example_plugin():
    """The guide's files are examples/ganzoo-lsgan's: same distribution, same code."""
    from docs_runner import load_toml

    blocks = ALL_BLOCKS[DOCS / "plugins" / "guide.md"]
    example = REPO / "examples" / "ganzoo-lsgan"
    pyproject, = [b for b in blocks if b.get("file") == ["pyproject.toml"]]
    ours, theirs = load_toml(pyproject.code), load_toml((example / "pyproject.toml").read_text())
    for key in ("name", "version", "dependencies", "entry-points", "requires-python"):
        assert ours["project"][key] == theirs["project"][key], f"pyproject.toml: project.{key}"
    assert ours["tool"] == theirs["tool"] and ours["build-system"] == theirs["build-system"]
    source = (example / "ganzoo_lsgan" / "__init__.py").read_text()
    parts = [b for b in blocks if b.get("append") == ["ganzoo_lsgan/__init__.py"]]
    assert len(parts) == 6  # building blocks, model, pretrained table, hook, loss, dataset
    for block in parts:
        if not block.code.startswith("# Pretrained"):  # the example has published nothing yet
            assert block.code.strip() in source, f"docs/{block.id} differs from examples/ganzoo-lsgan"


def test_shown_eval_output_is_the_bundles_receipt():
    """docs/guides/evaluation.md shows `ganzoo eval dcgan-mnist`'s output: the shipped receipt's table.

    The page itself runs `ganzoo eval dcgan-mnist --verify`, which recomputes those numbers.
    """
    from ganzoo.metrics import EvalResult

    receipt = json.loads((_bundle("dcgan-mnist") / "ganzoo.json").read_text())["evaluation"][0]
    table = EvalResult.from_receipt(receipt).table()
    text = (DOCS / "guides" / "evaluation.md").read_text()
    assert f"```text\n$ ganzoo eval dcgan-mnist\n{table}\n```" in text
    assert "```bash\nganzoo eval dcgan-mnist --verify\n```" in text
