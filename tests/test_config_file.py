"""#23: `ganzoo train --config FILE`: rerun a run from its config.json, branch it, keep sweeps in files."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.engine.config import read_config_file
from ganzoo.errors import ConfigError

SMALL = ["--model-arg", "g_hidden=[8]", "--model-arg", "d_hidden=[8]"]
SETTINGS = ("model", "dataset", "model_args", "steps", "batch_size", "lr_g", "lr_d", "betas", "loss", "seed",
            "ema_decay", "log_every", "n_critic")


def _train(*args):
    res = CliRunner().invoke(cli, ["train", *map(str, args), "-q"])
    assert res.exit_code == 0, res.output
    return res


def _config(run):
    return json.loads((run / "config.json").read_text())


def test_rerun_from_a_run_s_config_json_is_the_same_run_elsewhere(tmp_path):
    first = tmp_path / "first"
    _train("vanilla", "--dataset", "ring8", "--steps", "6", "--lr-g", "3e-4", "--beta1", "0.5", "--beta2", "0.9",
           "--seed", "7", "--out", first, *SMALL)
    _train("--config", first / "config.json", "--out", tmp_path / "again")
    a, b = _config(first), _config(tmp_path / "again")
    assert {k: a[k] for k in SETTINGS} == {k: b[k] for k in SETTINGS}
    assert b["out"] == str(tmp_path / "again") and b["resume"] is None
    assert (first / "metrics.jsonl").read_text().count("\n") == (tmp_path / "again" / "metrics.jsonl").read_text().count("\n")


def test_a_flag_given_wins_over_the_file_and_only_that_flag(tmp_path):
    first = tmp_path / "first"
    _train("vanilla", "--dataset", "ring8", "--steps", "4", "--lr-d", "5e-4", "--out", first, *SMALL)
    _train("--config", first / "config.json", "--lr-d", "1e-4", "--model-arg", "latent_dim=3",
           "--out", tmp_path / "branch")
    a, b = _config(first), _config(tmp_path / "branch")
    assert b["lr_d"] == 1e-4 and a["lr_d"] == 5e-4
    assert b["model_args"]["latent_dim"] == 3 and b["model_args"]["g_hidden"] == [8], "model args merge"
    assert b["steps"] == 4 and b["lr_g"] == a["lr_g"] and b["loss"] == a["loss"]


def test_a_hand_written_toml_sweep_file(tmp_path):
    (tmp_path / "sweep.toml").write_text(
        'model = "vanilla"\ndataset = "ring8"\nsteps = 3\nlr_g = 2e-4\nbetas = [0.5, 0.99]\n'
        f'out = "{tmp_path / "toml-run"}"\n\n[model_args]\ng_hidden = [8]\nd_hidden = [8]\n')
    _train("--config", tmp_path / "sweep.toml")
    c = _config(tmp_path / "toml-run")
    assert c["steps"] == 3 and c["lr_g"] == 2e-4 and c["betas"] == [0.5, 0.99] and c["model_args"]["g_hidden"] == [8]


@pytest.mark.parametrize("content, words", [
    ('{"model": "vanilla", "lr_gg": 1}', "unknown setting 'lr_gg'"),
    ('{"model": "vanilla", "step": 5}', "unknown setting 'step' (did you mean steps?)"),
    ('{"model": "vanilla", "steps": "ten"}', "steps = 'ten' is not a valid value for steps (expected a whole number, or leave it out)"),
    ('{"model": "vanilla", "steps": true}', "is not a valid value for steps (expected a whole number, or leave it out)"),
    ('{"model": "vanilla", "betas": [0.5]}', "betas must be two numbers"),
    ('{"model": "vanilla", "model_args": [1, 2]}', "is not a valid value for model_args"),
    ("[1, 2, 3]", "expected an object of settings"),
    ('{"model": ', "not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
])
def test_bad_files_are_one_line_errors(tmp_path, content, words):
    f = tmp_path / "bad.json"
    f.write_text(content)
    res = CliRunner().invoke(cli, ["train", "--config", str(f), "--out", str(tmp_path / "never")])
    assert res.exit_code != 0 and words in res.output and "Traceback" not in res.output, res.output
    assert len(res.output.strip().splitlines()) <= 2, res.output
    assert not (tmp_path / "never").exists()


def test_files_that_are_not_configs_are_refused_before_reading_them(tmp_path, monkeypatch):
    from ganzoo import limits

    monkeypatch.setattr(limits, "MAX_JSON_BYTES", 1000)
    big = tmp_path / "big.json"
    big.write_text('{"model": "vanilla", "seed": 1' + " " * 2000 + "}")
    with pytest.raises(ConfigError, match="more than a config can be"):
        read_config_file(big)
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"model": "caf\u00e9"}'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_config_file(latin)
    with pytest.raises(ConfigError, match="not valid TOML"):
        (tmp_path / "x.toml").write_text("model = \n")
        read_config_file(tmp_path / "x.toml")
    with pytest.raises(ConfigError, match="cannot read it"):
        read_config_file(tmp_path / "missing.json")


def test_model_mismatch_and_nothing_to_train(tmp_path):
    f = tmp_path / "c.json"
    f.write_text('{"model": "vanilla", "dataset": "ring8"}')
    res = CliRunner().invoke(cli, ["train", "dcgan", "--config", str(f)])
    assert res.exit_code == 2 and "trains 'vanilla', not 'dcgan'" in res.output
    res = CliRunner().invoke(cli, ["train"])
    assert res.exit_code == 2 and "give MODEL" in res.output


def test_tensorboard_stays_on_when_a_run_resumes(tmp_path):
    """--tensorboard is recorded and kept on --resume (no gap in the curves) unless --no-tensorboard."""
    run = tmp_path / "run"
    CliRunner().invoke(cli, ["train", "vanilla", "--dataset", "ring8", "--steps", "2", "--tensorboard",
                             "--out", str(run), "-q", *SMALL])  # without tensorboard installed it says so and goes on
    assert _config(run)["tensorboard"] is True
    _train("vanilla", "--resume", run, "--steps", "4")
    assert _config(run)["tensorboard"] is True
    _train("vanilla", "--resume", run, "--steps", "6", "--no-tensorboard")
    assert _config(run)["tensorboard"] is False
    _train("vanilla", "--resume", run, "--steps", "8")
    assert _config(run)["tensorboard"] is False
