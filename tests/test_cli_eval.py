"""`ganzoo eval` on a run directory, receipts and --verify, and `--eval-every` during training."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.engine import TrainConfig, Trainer
from ganzoo.errors import ConfigError


@pytest.fixture
def tiny_run(tmp_path, mnist_dir):
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", "dcgan", "--data-dir", str(mnist_dir), "--steps", "4", "--batch-size", "16",
                                   "--model-arg", "width=8", "--eval-every", "2", "--eval-n", "300",
                                   "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    return out


@pytest.mark.slow
def test_eval_every_logs_metrics(tiny_run):
    rows = [json.loads(r) for r in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval" in r]
    assert [r["step"] for r in evals] == [2, 4]
    assert evals[-1]["eval"]["fid"] > 10  # four steps of training do not make digits


@pytest.mark.slow
def test_eval_command_writes_and_verifies_a_receipt(tiny_run, tmp_path):
    receipt = tmp_path / "receipt.json"
    res = CliRunner().invoke(cli, ["eval", str(tiny_run), "-n", "300", "--json", str(receipt)])
    assert res.exit_code == 0, res.output
    assert "fid" in res.output and "real data" in res.output
    rec = json.loads(receipt.read_text())
    assert rec["protocol"]["n"] == 300 and rec["feature_network"]["sha256"]
    ok = CliRunner().invoke(cli, ["eval", str(tiny_run), "--verify", str(receipt)])
    assert ok.exit_code == 0 and "verified" in ok.output
    rec["metrics"]["fid"] *= 1.5  # a forged number must not verify
    receipt.write_text(json.dumps(rec))
    bad = CliRunner().invoke(cli, ["eval", str(tiny_run), "--verify", str(receipt)])
    assert bad.exit_code == 1 and "NOT verified" in bad.output


def test_eval_errors(tmp_path):
    res = CliRunner().invoke(cli, ["eval", "dcgn"])
    assert res.exit_code != 0 and "did you mean 'dcgan'" in res.output
    with pytest.raises(ConfigError, match="eval-every"):
        Trainer(TrainConfig(model="vanilla", dataset="ring8", eval_every=5, out=str(tmp_path / "r")))


def test_eval_on_a_dataset_without_a_feature_network_says_so(tmp_path):
    # Not "ring8 images are (1, 28, 28)": ring8 has no images and no feature network.
    from click.testing import CliRunner

    from ganzoo.cli import cli

    res = CliRunner().invoke(cli, ["eval", "dcgan-mnist", "--dataset", "ring8", "-n", "64"])
    assert res.exit_code != 0 and "no feature network for dataset 'ring8'" in res.output, res.output
    assert "images are" not in res.output and "Traceback" not in res.output
