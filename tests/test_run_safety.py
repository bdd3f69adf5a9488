"""Training reliability under faults and careless input: divergence, resume rules, the run lock, files."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

import ganzoo
from ganzoo.checkpoint import find_checkpoint, write_checkpoint
from ganzoo.cli import cli
from ganzoo.engine import TrainConfig, Trainer
from ganzoo.errors import CheckpointError, ConfigError, DivergenceError

QUIET = dict(quiet=True, sample_every=10**6, checkpoint_every=10**6, log_every=5)
TINY = {"g_hidden": [16, 16], "d_hidden": [16, 16]}


def _run(tmp_path: Path, name: str = "run", steps: int = 4, **kw) -> Trainer:
    cfg = dict(QUIET, model="vanilla", dataset="ring8", batch_size=16, model_args=TINY, steps=steps,
               out=str(tmp_path / name))
    cfg.update(kw)
    return Trainer(TrainConfig(**cfg)).fit()


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


# ---------------------------------------------------------------- divergence: only finite checkpoints


def test_absurd_learning_rates_stop_the_run_at_a_finite_checkpoint(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(DivergenceError) as err:
        _run(tmp_path, steps=200, lr_g=1e4, lr_d=1e4, checkpoint_every=1, log_every=1)
    msg = str(err.value)
    assert "became NaN or infinite" in msg and "checked finite" in msg
    assert f"--resume {out} --lr-g" in msg  # the advice is a command
    named = Path(re.search(r"last good checkpoint \((\S+), checked finite\)", msg).group(1))
    assert named == find_checkpoint(out)  # what a resume continues from
    for file in named.glob("*.safetensors"):
        for key, t in load_file(str(file)).items():
            assert not t.is_floating_point() or torch.isfinite(t).all(), f"{file.name}:{key}"
    g = ganzoo.load(named)
    assert torch.isfinite(g.sample(1000)).all()


def test_a_nan_gradient_stops_the_run_even_while_the_losses_are_finite(tmp_path):
    gan = ganzoo.create("vanilla", data_shape=(2,), **TINY)
    calls = {"n": 0}

    def poison(grad):
        calls["n"] += 1
        return grad * float("nan") if calls["n"] == 6 else grad

    next(gan.generator.parameters()).register_hook(poison)  # G's update comes after both losses of its step
    cfg = TrainConfig(dataset="ring8", steps=50, batch_size=16, out=str(tmp_path / "run"), **dict(QUIET, log_every=2))
    with pytest.raises(DivergenceError, match="the generator gradient norm became NaN or infinite at step 6"):
        Trainer(cfg, gan=gan).fit()


def test_a_checkpoint_of_non_finite_adam_state_is_not_written(tmp_path):
    t = _run(tmp_path, steps=3)
    state = next(iter(t.opt_d.state.values()))
    state["exp_avg_sq"].view(-1)[0] = math.inf
    t.step = 4
    with pytest.raises(DivergenceError, match="discriminator optimizer state became NaN or infinite by step 4"):
        t.save_checkpoint()
    assert not (tmp_path / "run" / "checkpoints" / "step-00000004").exists()
    assert json.loads((tmp_path / "run" / "checkpoints" / "latest.json").read_text())["step"] == 3


# ---------------------------------------------------------------- resume rules


def test_resume_with_new_learning_rates_takes_and_records_them(tmp_path):
    out = tmp_path / "run"
    first = _run(tmp_path, steps=4)
    old_g, old_d = first.config.lr_g, first.config.lr_d
    t = Trainer(TrainConfig(resume=str(out), steps=6, lr_g=1e-5, lr_d=2e-5, quiet=True))
    assert t.learning_rates() == pytest.approx((1e-5, 2e-5))
    change = {"lr_g": {"from": old_g, "to": 1e-5}, "lr_d": {"from": old_d, "to": 2e-5}}
    assert t.config.changes == [{"step": 4, **change}]
    assert {"step": 4, "change": change} in _rows(out)
    assert json.loads((out / "config.json").read_text())["changes"] == [{"step": 4, **change}]
    # recorded in the checkpoint at once: a resume without the flags keeps the new rates
    saved = json.loads((out / "checkpoints" / "step-00000004" / "state.json").read_text())["config"]
    assert saved["lr_g"] == 1e-5 and saved["changes"] == [{"step": 4, **change}]
    t.fit()
    again = Trainer(TrainConfig(resume=str(out), steps=8, quiet=True))
    assert again.learning_rates() == pytest.approx((1e-5, 2e-5))
    again.release()


@pytest.mark.parametrize("given, flag", [
    ({"batch_size": 32}, "--batch-size 32"),
    ({"loss": "lsgan"}, '--loss "lsgan"'),
    ({"seed": 3}, "--seed 3"),
    ({"model_args": {"latent_dim": 5}}, "--model-arg latent_dim=5"),
    ({"betas": (0.9, 0.99)}, "--beta1/--beta2"),
    ({"n_critic": 2}, "--n-critic 2"),
    ({"lr_schedule": "linear"}, '--lr-schedule "linear"'),
    ({"dataset": "grid25"}, "--dataset"),
])
def test_resume_refuses_settings_that_define_the_run(tmp_path, given, flag):
    out = tmp_path / "run"
    _run(tmp_path, steps=2)
    with pytest.raises(ConfigError, match="cannot change when resuming") as err:
        Trainer(TrainConfig(resume=str(out), steps=4, quiet=True, **given))
    assert flag in str(err.value)
    # the same values as the run's are fine
    Trainer(TrainConfig(resume=str(out), steps=4, quiet=True, batch_size=16, seed=0, loss="hinge")).release()


def test_resume_refuses_another_out(tmp_path):
    _run(tmp_path, steps=2)
    with pytest.raises(ConfigError, match="continues in its own directory"):
        Trainer(TrainConfig(resume=str(tmp_path / "run"), out=str(tmp_path / "other"), steps=4, quiet=True))
    assert not (tmp_path / "other").exists()


def test_resume_takes_new_output_cadence(tmp_path):
    out = tmp_path / "run"
    _run(tmp_path, steps=2, sample_every=100)
    t = Trainer(TrainConfig(resume=str(out), steps=4, quiet=True, log_every=1))
    assert t.config.log_every == 1 and t.config.sample_every == 100  # given: taken; not given: the run's
    t.release()


def test_new_epochs_lengthen_a_run_started_with_steps(tmp_path):
    out = tmp_path / "run"
    _run(tmp_path, steps=3)  # ring8: 100000 points, batch 16: 6250 steps per epoch
    t = Trainer(TrainConfig(resume=str(out), epochs=0.001, quiet=True))
    assert t.total_steps == 6 and t.config.steps is None
    t.fit()
    assert t.step == 6


def test_a_run_is_not_shortened(tmp_path):
    _run(tmp_path, steps=5)
    with pytest.raises(ConfigError, match="is at step 5, past the 3 steps asked for"):
        Trainer(TrainConfig(resume=str(tmp_path / "run"), steps=3, quiet=True))


def test_resuming_a_finished_run_says_it_is_finished_and_how_to_lengthen_it(tmp_path):
    out = tmp_path / "run"
    _run(tmp_path, steps=3)
    res = CliRunner().invoke(cli, ["train", "vanilla", "--resume", str(out), "-q"])
    assert res.exit_code == 0, res.output
    assert "is finished: step 3 of 3" in res.output and "--steps 6" in res.output
    assert "done" not in res.output


def test_batch_size_zero_is_refused_not_replaced():
    with pytest.raises(ConfigError, match="batch_size must be a whole number >= 1, got 0"):
        TrainConfig(model="vanilla", dataset="ring8", batch_size=0).resolve()


# ---------------------------------------------------------------- run-directory lock


def _start_training(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ganzoo", "train", "vanilla", "--dataset", "ring8", "--steps", "1000000",
         "--batch-size", "16", "--model-arg", "g_hidden=[16]", "--model-arg", "d_hidden=[16]", "--out", str(out),
         "-q", "--sample-every", "1000000", "--log-every", "5", *extra],
        env=dict(os.environ, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for(proc: subprocess.Popen, ready, what: str) -> None:
    """Wait however long the machine takes; only a training that exited ends the wait."""
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"training exited before {what}: {proc.stderr.read()}")
        time.sleep(0.2)


def _latest_step(out: Path) -> int:
    try:
        return json.loads((out / "checkpoints" / "latest.json").read_text())["step"]
    except (OSError, ValueError):
        return -1


def test_a_second_writer_is_refused_and_kill_9_leaves_no_stale_lock(tmp_path):
    out = tmp_path / "run"
    proc = _start_training(out, "--checkpoint-every", "40")
    try:
        # running, with a checkpoint and log rows after it (the kill below leaves them behind)
        _wait_for(proc, lambda: _latest_step(out) >= 40 and max(r["step"] for r in _rows(out)) > _latest_step(out),
                  "a checkpoint")
        for args in (["train", "vanilla", "--dataset", "ring8", "--steps", "3", "--out", str(out), "-q"],
                     ["train", "vanilla", "--resume", str(out), "-q"]):
            res = CliRunner().invoke(cli, args)
            assert res.exit_code == 1, res.output
            assert f"{out} is in use by another training (process {proc.pid})" in res.output
            assert "Traceback" not in res.output
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    step = _latest_step(out)
    if max(r["step"] for r in _rows(out)) <= step:  # killed just after a checkpoint: add what a later kill leaves
        with open(out / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"step": step + 5}) + "\n")
    assert max(r["step"] for r in _rows(out)) > step  # rows of steps the resume repeats
    t = Trainer(TrainConfig(resume=str(out), steps=step + 2, quiet=True))  # no stale lock after kill -9
    assert t.step == step and max(r["step"] for r in _rows(out)) == step  # the log matches the checkpoint
    t.fit()
    steps = [r["step"] for r in _rows(out)]
    assert steps == sorted(steps) and steps[-1] == step + 2


def test_a_trainer_holds_the_lock_until_its_run_ends(tmp_path):
    out = tmp_path / "run"
    t = Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=2, out=str(out), **QUIET))
    with pytest.raises(CheckpointError, match="in use by another training"):  # started, no checkpoint yet
        Trainer(TrainConfig(resume=str(out), steps=4, quiet=True))
    t.fit()  # releases it
    t = Trainer(TrainConfig(resume=str(out), steps=4, quiet=True))
    with pytest.raises(CheckpointError, match="in use by another training"):
        Trainer(TrainConfig(resume=str(out), steps=6, quiet=True))
    t.fit()
    assert Trainer(TrainConfig(resume=str(out), steps=6, quiet=True)).fit().step == 6


# ---------------------------------------------------------------- damaged run directories


@pytest.mark.parametrize("latest", ["[]", '{"path": 5}', '{"path": "../../outside/step-00000002"}', '{"path": "/etc"}'])
def test_a_bad_latest_json_is_refused(tmp_path, latest):
    out = tmp_path / "run"
    _run(tmp_path, steps=2)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.rename(out / "checkpoints" / "step-00000002", outside / "step-00000002")  # loadable, but not the run's
    (out / "checkpoints" / "latest.json").write_text(latest)
    with pytest.raises(CheckpointError, match="latest.json is corrupt"):
        Trainer(TrainConfig(resume=str(out), steps=4, quiet=True))
    with pytest.raises(CheckpointError, match="latest.json is corrupt"):
        ganzoo.load(out)


@pytest.mark.parametrize("damage, match", [
    ("truncate-state", "state.json is not valid JSON"),
    ("state-types", "'step' must be a int"),
    ("no-rng", "rng.safetensors missing"),
    ("no-optimizers", "optimizers.safetensors missing"),
])
def test_a_damaged_checkpoint_is_refused_in_one_line(tmp_path, damage, match):
    out = tmp_path / "run"
    _run(tmp_path, steps=2)
    ckpt = out / "checkpoints" / "step-00000002"
    state = ckpt / "state.json"
    if damage == "truncate-state":
        state.write_text(state.read_text()[:40])
    elif damage == "state-types":
        state.write_text(json.dumps({**json.loads(state.read_text()), "step": "2"}))
    else:
        (ckpt / f"{damage[3:]}.safetensors").unlink()
    res = CliRunner().invoke(cli, ["train", "vanilla", "--resume", str(out), "--steps", "4", "-q"])
    assert res.exit_code == 1 and match in res.output and "Traceback" not in res.output, res.output



DEEP = "[" * 100_000 + "]" * 100_000  # the json module's recursion limit, not a ganzoo rule


@pytest.mark.parametrize("where", ["latest.json", "step-00000002/state.json"])
def test_deeply_nested_json_in_a_run_is_one_line(tmp_path, where):
    out = tmp_path / "run"
    _run(tmp_path, steps=2)
    (out / "checkpoints" / where).write_text(DEEP)
    for args in (["train", "vanilla", "--resume", str(out), "--steps", "4", "-q"],
                 ["sample", str(out), "-n", "4", "-o", str(tmp_path / "x.png")]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 1 and "nested too deeply" in res.output, res.output
        assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1, res.output
    assert not (tmp_path / "x.png").exists()


def test_a_deeply_nested_metrics_line_is_dropped_like_a_torn_one(tmp_path):
    out = tmp_path / "run"
    _run(tmp_path, steps=2, log_every=1)
    with open(out / "metrics.jsonl", "a") as f:
        f.write(DEEP + "\n")
    res = CliRunner().invoke(cli, ["train", "vanilla", "--resume", str(out), "--steps", "4", "-q"])
    assert res.exit_code == 0, res.output
    assert [r["step"] for r in _rows(out) if "step" in r and "change" not in r] == [1, 2, 3, 4]


def test_a_deeply_nested_receipt_is_one_line(tmp_path):
    receipt = tmp_path / "deep.json"
    receipt.write_text(DEEP)
    res = CliRunner().invoke(cli, ["eval", "vanilla-mnist", "--verify", str(receipt)])
    assert res.exit_code == 1 and "nested too deeply" in res.output, res.output
    assert "Traceback" not in res.output, res.output

def test_checkpoint_files_are_fsynced_before_the_rename(tmp_path, monkeypatch):
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to name the synced files")
    synced: list[str] = []
    real = os.fsync

    def record(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real(fd)

    monkeypatch.setattr(os, "fsync", record)
    root = tmp_path / "checkpoints"
    files = {"generator": {"w": torch.ones(3)}, "rng": {"s": torch.zeros(2)}}
    write_checkpoint(root, 7, files, {"step": 7})
    tmp = str(root / "step-00000007.tmp")
    assert {f"{tmp}/generator.safetensors", f"{tmp}/rng.safetensors", f"{tmp}/state.json", tmp} <= set(synced)
    assert synced[-1] == str(root)  # the folder, after latest.json was renamed into it


# ---------------------------------------------------------------- settings and one-line errors


@pytest.mark.parametrize("args, match", [
    ({"latent_dim": "abc"}, "latent_dim='abc'"),
    ({"dropout": 5}, "dropout probability"),
    ({"g_hidden": [16.5]}, r"g_hidden=\[16.5\]"),
    ({"data_shape": 3}, "data_shape must be a sequence of whole numbers >= 1, got 3"),
    ({"data_shape": "abc"}, "data_shape must be a sequence of whole numbers >= 1, got 'abc'"),
    ({"data_shape": (2.5,)}, r"got \(2.5,\)"),
    ({"latent_dim": 99_999_999}, "latent_dim=99999999 would hold [0-9,]+ MiB of parameters, more than the 2,048 MiB"),
])
def test_wrong_typed_model_settings_are_config_errors(args, match):
    with pytest.raises(ConfigError, match=match):
        ganzoo.create("vanilla", **args)


@pytest.mark.parametrize("flags, match", [
    (["--model-arg", "latent_dim=abc"], "cannot be built with latent_dim='abc'"),
    (["--model-arg", "dropout=5"], "dropout=5"),
    (["--model-arg", "data_shape=3"], "data_shape must be a sequence of whole numbers >= 1, got 3"),
    (["--model-arg", "latent_dim=99999999"], "MiB of parameters, more than the 2,048 MiB"),
    (["--epochs", "nan"], "epochs must be a finite number > 0, got nan"),
    (["--epochs", "inf"], "epochs must be a finite number > 0, got inf"),
    (["--lr-g", "-1"], "lr_g must be a finite number >= 0, got -1.0"),
    (["--lr-d", "nan"], "lr_d must be a finite number >= 0, got nan"),
    (["--beta1", "2", "--beta2", "0.9"], "beta1 must be a finite number in [0, 1), got 2.0"),
    (["--device", "banana"], "unknown device 'banana'"),
    (["--batch-size", "0"], "batch_size must be a whole number >= 1, got 0"),
    (["--log-every", "0"], "log_every must be a whole number >= 1"),
])
def test_bad_training_values_get_one_line_errors(tmp_path, flags, match):
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", "vanilla", "--dataset", "ring8", "--steps", "2", "--out", str(out), "-q",
                                   *flags])
    assert res.exit_code != 0 and match in res.output and "Traceback" not in res.output, res.output
    assert not (out / "checkpoints").exists()



def test_the_tuple_syntax_of_ganzoos_own_advice_is_accepted(tmp_path, monkeypatch):
    from ganzoo.cli import parse_model_args

    assert parse_model_args(["data_shape=(2,)", "s=(1, 28, 28)", "name=(x)"]) == {
        "data_shape": (2,), "s": (1, 28, 28), "name": "(x)"}
    assert parse_model_args(["deep=" + "[" * 100_000]) == {"deep": "[" * 100_000}  # kept as text
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", "vanilla", "--dataset", "ring8", "--steps", "2", "--batch-size", "16",
                                   "--out", str(out), "-q", "--model-arg", "data_shape=(2,)",
                                   "--model-arg", "g_hidden=[16]", "--model-arg", "d_hidden=[16]"])
    assert res.exit_code == 0, res.output
    assert ganzoo.load(out).output_shape == (2,)
    # The advice a shape mismatch gives is this syntax.
    res = CliRunner().invoke(cli, ["train", "vanilla", "--dataset", "ring8", "--steps", "2", "--out",
                                   str(tmp_path / "other"), "-q", "--model-arg", "data_shape=(3,)"])
    assert res.exit_code == 1 and "e.g. data_shape=(2,)" in res.output, res.output

def test_bad_settings_in_the_python_api():
    for bad in ({"steps": "10"}, {"seed": -1}, {"ema_decay": math.nan}, {"lr_decay_start": math.nan,
                                                                          "lr_schedule": "linear"}):
        with pytest.raises(ConfigError):
            TrainConfig(model="vanilla", dataset="ring8", **bad).resolve()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_cuda_device_without_a_gpu_is_one_line(tmp_path):
    for args in (["sample", "vanilla-mnist", "--device", "cuda", "-o", str(tmp_path / "x.png")],
                 ["eval", "vanilla-mnist", "--device", "cuda:1", "-n", "10"]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 1 and "sees no CUDA GPU" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "x.png").exists()


def test_unknown_loss_lists_losses_in_plain_english():
    with pytest.raises(Exception, match="known losses: "):
        ganzoo.create_loss("zzz")


# ---------------------------------------------------------------- sample and eval outputs


@pytest.mark.parametrize("args, match", [
    (["-n", "1000000000"], "at most"),
    (["-n", "0"], "give at least 1"),
    (["-o", "x.xyz"], "must end in .png, .npz or .pt"),
    (["-o", "x"], "must end in .png, .npz or .pt"),
    (["--format", "npz", "-o", "x.png"], "--format npz writes a .npz file, but -o names 'x.png'"),
    (["--interpolate", "-n", "15"], "not whole latent walks of --steps 10"),
    (["--interpolate", "-n", "0"], "give at least 1"),
    (["--device", "banana"], "unknown device 'banana'"),
])
def test_sample_refuses_bad_requests_before_sampling(tmp_path, monkeypatch, args, match):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("ganzoo.sampling.sample_batch", lambda *a, **k: pytest.fail("sampled"))
    res = CliRunner().invoke(cli, ["sample", "vanilla-mnist", *args])
    assert res.exit_code != 0 and match in res.output and "Traceback" not in res.output, res.output
    assert list(tmp_path.iterdir()) == []


def test_sample_writes_what_it_reports(tmp_path):
    res = CliRunner().invoke(cli, ["sample", "vanilla-mnist", "--interpolate", "-n", "20", "--format", "npz",
                                   "-o", str(tmp_path / "walk.npz")])
    assert res.exit_code == 0, res.output
    assert f"wrote 20 samples to {tmp_path / 'walk.npz'}" in res.output
    import numpy as np

    assert np.load(tmp_path / "walk.npz")["images"].shape[0] == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.npz"]


def test_sample_of_a_file_that_is_no_generator(tmp_path):
    f = tmp_path / "passwd"
    f.write_text("root:x:0:0\n")
    res = CliRunner().invoke(cli, ["sample", str(f), "-o", str(tmp_path / "x.png")])
    assert res.exit_code == 1 and "is a file, not a ganzoo run directory" in res.output
    assert "resume" not in res.output and "Traceback" not in res.output


def test_eval_checks_its_receipt_path_before_evaluating(tmp_path, monkeypatch):
    monkeypatch.setattr("ganzoo.metrics.evaluate", lambda *a, **k: pytest.fail("evaluated"))
    blocker = tmp_path / "file"
    blocker.write_text("")
    res = CliRunner().invoke(cli, ["eval", "vanilla-mnist", "--json", str(blocker / "receipt.json")])
    assert res.exit_code != 0 and "cannot write" in res.output and "Traceback" not in res.output, res.output


def test_a_repeated_model_arg_and_an_epoch_count_below_one_step_are_refused(tmp_path):
    # A second review: both were accepted silently (the last key won; 1e-9 epochs became 1 step).
    res = CliRunner().invoke(cli, ["train", "vanilla", "--dataset", "ring8", "--steps", "2", "-q",
                                   "--model-arg", "latent_dim=4", "--model-arg", "latent_dim=8",
                                   "--out", str(tmp_path / "a")])
    assert res.exit_code != 0 and "'latent_dim' is given twice" in res.output, res.output
    res = CliRunner().invoke(cli, ["train", "vanilla", "--dataset", "ring8", "--epochs", "1e-9", "-q",
                                   "--out", str(tmp_path / "b")])
    assert res.exit_code != 0 and "less than one step" in res.output and "Traceback" not in res.output, res.output
    assert not (tmp_path / "b" / "checkpoints").exists()
