"""What a newcomer meets first: the command line's help, empty listings, unreachable servers,
toy runs, run records and the conformance kit's report."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import ganzoo
from ganzoo.cli import cli

REPO = Path(__file__).resolve().parent.parent


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "GANZOO_"))}
    return {**env, **extra}


def test_help_shows_every_command_description_whole():
    result = CliRunner().invoke(cli, ["--help"], prog_name="ganzoo", terminal_width=80)
    assert result.exit_code == 0
    rows = re.findall(r"^  ([\w-]+) +(.+)$", result.output.split("Commands:")[1], flags=re.MULTILINE)
    assert len(rows) >= 10
    for name, text in rows:  # click cuts a description at "e.g." or with "..."
        assert text.endswith(".") and not text.endswith(("e.g.", "...")), f"{name}: {text!r}"


# The interpreter code below hides every `ganzoo` entry point except ganzoo's own (the built-in
# model families), as on a machine with only ganzoo installed, then runs the command line.
_ONLY_GANZOO = """
import importlib.metadata as md, sys
_real = md.entry_points
def _only_ganzoo(**kw):
    eps = _real(**kw)
    if kw.get("group") == "ganzoo":
        return [ep for ep in eps if ep.dist is not None and ep.dist.metadata["Name"] == "ganzoo"]
    return eps
md.entry_points = _only_ganzoo
from ganzoo.cli import cli
for args in {calls!r}:
    try:
        cli(args, prog_name="ganzoo")
    except SystemExit as exc:
        assert exc.code in (0, None), (args, exc.code)
print("TORCH" if "torch" in sys.modules else "NO TORCH")
"""


def test_help_does_not_import_torch():
    calls = [["--help"], ["--version"], ["train", "--help"], ["eval", "--help"], ["list", "--help"]]
    out = subprocess.run([sys.executable, "-c", _ONLY_GANZOO.format(calls=calls)], capture_output=True, text=True,
                         env=_env(), cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip().endswith("NO TORCH"), out.stdout[-500:]
    assert "train     Train MODEL" in out.stdout


def test_help_lists_a_third_party_plugins_commands(tmp_path: Path):
    # With another plugin installed, `ganzoo --help` still shows the commands it adds.
    plugin = tmp_path / "extra_cmd_plugin.py"
    plugin.write_text(
        "import click, ganzoo\n"
        "@ganzoo.hookimpl\n"
        "def ganzoo_register_commands(cli):\n"
        "    @cli.command('hello', short_help='Say hello.')\n"
        "    def hello():\n"
        "        click.echo('hello')\n"
    )
    code = (
        "import importlib.metadata as md\n"
        "_real = md.entry_points\n"
        "class EP(md.EntryPoint):\n"
        "    dist = None\n"
        "def eps(**kw):\n"
        "    found = list(_real(**kw))\n"
        "    if kw.get('group') == 'ganzoo':\n"
        "        found.append(EP('extra', 'extra_cmd_plugin', 'ganzoo'))\n"
        "    return found\n"
        "md.entry_points = eps\n"
        "from ganzoo.cli import cli\n"
        "cli(['--help'], prog_name='ganzoo')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env(PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])))
    assert "hello     Say hello." in out.stdout, out.stdout + out.stderr


def test_an_empty_model_list_explains_why(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GANZOO_DISABLE_PLUGIN_AUTOLOAD", "1")
    ganzoo.plugins.reset()
    try:
        result = CliRunner().invoke(cli, ["list"])
    finally:
        monkeypatch.undo()
        ganzoo.plugins.reset()
    assert result.exit_code == 0
    assert "GANZOO_DISABLE_PLUGIN_AUTOLOAD=1 turns plugin discovery off" in result.output
    assert "plugins too" in result.output and "ganzoo.plugins.register_plugin" in result.output


def test_publish_to_an_unreachable_hub_is_one_line(tmp_path: Path):
    with socket.socket() as s:  # a port on which nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bundle = REPO / "plugins" / "ganzoo_dcgan" / "pretrained" / "dcgan-mnist"
    env = _env(HF_ENDPOINT=f"http://127.0.0.1:{port}", HF_TOKEN="hf_test_token_not_real", HF_HOME=str(tmp_path),
               HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_XET="1")
    out = subprocess.run([sys.executable, "-m", "ganzoo", "publish", str(bundle), "--repo", "me/dcgan"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"Error: cannot reach the Hub at http://127.0.0.1:{port}")
    assert "hf_test_token_not_real" not in out.stderr + out.stdout


def test_save_eval_of_a_toy_run_gives_toy_metrics(tmp_path: Path):
    run = ganzoo.train("vanilla", dataset="ring8", steps=30, batch_size=64, out=str(tmp_path / "run"), quiet=True,
                       sample_every=1000, log_every=1000)
    result = CliRunner().invoke(cli, ["save", str(run.run_dir), str(tmp_path / "bundle"), "--eval"])
    assert result.exit_code == 0, result.output
    assert re.search(r"ring8: \d of 8 modes covered, .* high-quality samples, reverse KL", result.output)
    assert "images are" not in result.output  # not the image metrics' shape error
    assert json.loads((tmp_path / "bundle" / "ganzoo.json").read_text())["evaluation"] == []


def test_train_records_what_it_used_and_says_what_to_do_next(tmp_path: Path):
    out = tmp_path / "my run"
    result = CliRunner().invoke(cli, ["train", "vanilla", "--dataset", "ring8", "--steps", "5", "-q",
                                      "--out", str(out), "--sample-every", "1000", "--log-every", "1000"])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["device"] == "cpu" and config["out"] == str(out)
    assert config["channels_last"] is False and config["precision"] == "fp32"
    quoted = f"'{out}'"  # the path has a space: the printed commands quote it
    assert f"ganzoo sample {quoted}" in result.output
    assert f"ganzoo save {quoted}" in result.output
    assert f"ganzoo train vanilla --resume {quoted} --steps 10" in result.output


def test_check_model_reports_what_ran():
    from ganzoo.testing import CHECKS, ConformanceReport, check_model

    report = check_model("vanilla", data_shape=(2,))
    assert isinstance(report, ConformanceReport)
    assert [name for name, _ in report.results] == [c.__name__ for c in CHECKS]
    assert dict(report.results)["check_image_range"].startswith("not applicable")
    assert len(report.passed) == len(CHECKS) - 1
    text = str(report)
    assert text.startswith(f"vanilla (data_shape=(2,)) passes the conformance kit: {len(CHECKS) - 1} of {len(CHECKS)}")
    assert "check_safetensors_roundtrip  passed" in text
