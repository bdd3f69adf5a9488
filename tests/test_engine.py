"""The training engine: reproducibility, resume, divergence guard, bad input, run directory."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo.data import TensorDataset
from ganzoo.engine import TrainConfig, Trainer
from ganzoo.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    DivergenceError,
    IncompatibleLossError,
    UnknownNameError,
)
from ganzoo.losses import NonSaturatingLoss

QUIET = dict(quiet=True, sample_every=10**6, checkpoint_every=10**6, log_every=5)


def _states_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def fake_mnist(n: int = 256, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    return TensorDataset("mnist", torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8),
                         torch.randint(0, 10, (n,), generator=g), 10)


def test_seeded_runs_are_reproducible(tmp_path):
    a = Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=15, out=str(tmp_path / "a"), **QUIET)).fit()
    b = Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=15, out=str(tmp_path / "b"), **QUIET)).fit()
    c = Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=15, out=str(tmp_path / "c"), seed=1, **QUIET)).fit()
    assert _states_equal(a.G, b.G)
    assert not _states_equal(a.G, c.G)


@pytest.mark.parametrize("model", ["vanilla", "wgan-gp"])
def test_resume_equals_uninterrupted_run(tmp_path, model):
    """2N steps == N steps + resume + N steps, weight for weight (G, EMA G, D)."""
    kw = dict(QUIET, batch_size=16)
    if model == "vanilla":
        kw.update(dataset="ring8")
        data = None
    else:
        kw.update(dataset="mnist", model_args={"width": 8})
        data = fake_mnist(16 * 5 * 7)  # a few epochs, so the data order crosses epoch boundaries
    full = Trainer(TrainConfig(model=model, steps=12, out=str(tmp_path / "full"), **kw), dataset=data).fit()
    Trainer(TrainConfig(model=model, steps=5, out=str(tmp_path / "half"), **kw), dataset=data).fit()
    resumed = Trainer(TrainConfig(steps=12, resume=str(tmp_path / "half"), quiet=True), dataset=data).fit()
    assert resumed.step == 12
    assert _states_equal(full.G, resumed.G)
    assert _states_equal(full.D, resumed.D)
    assert _states_equal(full.G_ema, resumed.G_ema)
    # and the optimizer state too
    assert torch.equal(full.opt_d.state_dict()["state"][0]["exp_avg"], resumed.opt_d.state_dict()["state"][0]["exp_avg"])


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_lr_schedule_decays_to_zero_and_resumes_exactly(tmp_path, schedule):
    """The rate follows the schedule from the device step counter, and a resumed run stays on it."""
    import math

    kw = dict(QUIET, model="vanilla", dataset="ring8", batch_size=16, lr_schedule=schedule, lr_decay_start=0.25)
    kw.update(checkpoint_every=5, keep_checkpoints=5)
    full = Trainer(TrainConfig(steps=12, out=str(tmp_path / "full"), **kw)).fit()

    def scale(k: int) -> float:  # step index k of 12, full rate for the first quarter
        s = min(max((k / 12 - 0.25) / 0.75, 0.0), 1.0)
        return 1 - s if schedule == "linear" else 0.5 * (1 + math.cos(math.pi * s))

    lr_g, lr_d = full.learning_rates()  # the last step's, index 11
    assert lr_g == pytest.approx(scale(11) * full.config.lr_g, rel=1e-5)
    assert lr_d == pytest.approx(scale(11) * full.config.lr_d, rel=1e-5)
    assert 0 < lr_g < 0.2 * full.config.lr_g
    rows = [json.loads(r) for r in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5, 10, 12]
    for row in rows:  # each log row carries the rate of its last step
        assert row["lr_g"] == pytest.approx(scale(row["step"] - 1) * full.config.lr_g, rel=1e-5)
    assert scale(2) == 1.0 and scale(4) < 1.0

    # A checkpoint from the middle of the same 12-step run, resumed: the same weights at the end.
    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "full", cut)
    for ckpt in (cut / "checkpoints").glob("step-*"):
        if ckpt.name != "step-00000005":
            shutil.rmtree(ckpt)
    resumed = Trainer(TrainConfig(resume=str(cut), quiet=True)).fit()
    assert resumed.step == 12 and resumed.config.lr_schedule == schedule
    assert resumed.learning_rates() == pytest.approx((lr_g, lr_d), rel=1e-6)
    assert _states_equal(full.G, resumed.G) and _states_equal(full.D, resumed.D)
    # JSON numbers in the checkpoint, not tensors
    state = json.loads((cut / "checkpoints" / "step-00000012" / "state.json").read_text())
    assert isinstance(state["optim_g"]["param_groups"][0]["lr"], float)


def test_resume_takes_this_invocations_execution_settings(tmp_path):
    """--compile / --no-cuda-graph describe how this process runs, not the run: a resume follows them."""
    out = tmp_path / "run"
    Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=2, out=str(out), cuda_graph=False, **QUIET)).fit()
    t = Trainer(TrainConfig(resume=str(out), steps=3, quiet=True, compile=True))  # built, not run: nothing compiles
    assert t.config.compile is True and t.config.cuda_graph is True and t.config.steps == 3
    assert t.config.lr_g == 1e-3  # the run's own settings stay


def test_constant_schedule_keeps_the_rate(tmp_path):
    t = Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=6, out=str(tmp_path / "r"), **QUIET)).fit()
    assert t.config.lr_schedule == "constant"
    assert t.learning_rates() == pytest.approx((t.config.lr_g, t.config.lr_d))


@pytest.mark.parametrize("bad, match", [({"lr_schedule": "step"}, "lr_schedule must be one of constant, linear, cosine, got 'step'"),
                                        ({"lr_decay_start": 1.0}, r"lr_decay_start must be in \[0, 1\)"),
                                        ({"lr_decay_start": 0.5}, "no effect with a constant learning rate; add --lr-schedule")])
def test_bad_lr_schedule_is_refused(bad, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(model="vanilla", dataset="ring8", **bad).resolve()


@pytest.mark.parametrize("fail", ["at-first-call", "after-d-step"])
def test_compile_failure_falls_back_to_the_eager_result(tmp_path, monkeypatch, capsys, fail):
    """If compiling fails mid-step (after D's update, even), the step is undone and rerun eagerly."""
    holder: dict = {}

    def backend(gm, example_inputs):  # a torch.compile backend that cannot compile
        if fail == "at-first-call" or holder["trainer"].opt_d.state:
            raise RuntimeError("no kernels today")
        return gm.forward

    compile_ = torch.nn.Module.compile
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kw: compile_(self, backend=backend))
    kw = dict(QUIET, model="vanilla", dataset="ring8", steps=6)
    compiled = Trainer(TrainConfig(out=str(tmp_path / "c"), compile=True, **kw))
    holder["trainer"] = compiled
    compiled.fit()
    assert "torch.compile failed (RuntimeError: no kernels today); training eagerly" in capsys.readouterr().err
    eager = Trainer(TrainConfig(out=str(tmp_path / "e"), **kw)).fit()
    assert _states_equal(compiled.G, eager.G) and _states_equal(compiled.D, eager.D)
    assert _states_equal(compiled.G_ema, eager.G_ema)


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("c++") or shutil.which("g++")), reason="inductor on CPU needs a C++ compiler")
def test_compiled_training_matches_eager(tmp_path, capsys):
    """--compile (inductor) trains the same model as eager, to float rounding."""
    kw = dict(QUIET, model="vanilla", dataset="ring8", steps=8)
    compiled = Trainer(TrainConfig(out=str(tmp_path / "c"), compile=True, **kw)).fit()
    assert "torch.compile failed" not in capsys.readouterr().err
    assert compiled.G._compiled_call_impl is not None
    eager = Trainer(TrainConfig(out=str(tmp_path / "e"), **kw)).fit()
    for a, b in zip(compiled.G.state_dict().values(), eager.G.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_models_and_losses_can_opt_out_of_the_cuda_graph(tmp_path):
    """The reason the CUDA path would train eagerly (checked on any device: it is plain logic)."""
    import dataclasses

    from ganzoo.engine.fastpath import _cannot_capture

    cfg = TrainConfig(model="vanilla", dataset="ring8", steps=1, out=str(tmp_path / "r"), **QUIET)
    gan = ganzoo.create("vanilla", data_shape=(2,))
    gan.spec = dataclasses.replace(gan.spec, cuda_graph=False)
    assert _cannot_capture(Trainer(cfg, gan=gan)) == "model 'vanilla' opts out: its ModelSpec has cuda_graph=False"

    gan = ganzoo.create("vanilla", data_shape=(2,))
    gan.loss.cuda_graph = False
    cfg = dataclasses.replace(cfg, out=str(tmp_path / "r2"))
    assert _cannot_capture(Trainer(cfg, gan=gan)) == "loss 'non-saturating' opts out: cuda_graph=False"
    # the built-ins allow it; on a CPU trainer the remaining reason is the (non-capturable) optimizer
    cfg = dataclasses.replace(cfg, out=str(tmp_path / "r3"))
    assert _cannot_capture(Trainer(cfg)) == "optimizer not capturable"


@pytest.mark.data
def test_resume_equality_dcgan_on_mnist(tmp_path, mnist_dir):
    kw = dict(QUIET, model="dcgan", dataset="mnist", data_dir=str(mnist_dir), batch_size=8, model_args={"width": 8})
    full = Trainer(TrainConfig(steps=6, out=str(tmp_path / "full"), **kw)).fit()
    Trainer(TrainConfig(steps=3, out=str(tmp_path / "half"), **kw)).fit()
    resumed = Trainer(TrainConfig(steps=6, resume=str(tmp_path / "half"), quiet=True)).fit()
    assert _states_equal(full.G, resumed.G) and _states_equal(full.D, resumed.D)
    assert _states_equal(full.G_ema, resumed.G_ema)


def test_run_directory_contents(tmp_path):
    out = tmp_path / "run"
    t = Trainer(TrainConfig(model="cgan", dataset="mnist", steps=4, batch_size=8, out=str(out), quiet=True,
                            sample_every=2, checkpoint_every=2, log_every=2, model_args={"width": 8}),
                dataset=fake_mnist()).fit()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model"] == "cgan" and cfg["lr_g"] == 2e-4 and cfg["betas"] == [0.5, 0.999]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4]
    for key in ("loss_d", "loss_g", "D(x)", "D(G(z))", "grad_norm_g", "grad_norm_d", "images_per_s"):
        assert key in rows[-1] and rows[-1][key] == rows[-1][key]  # present and not NaN
    assert sorted(p.name for p in (out / "samples").glob("*.png")) == ["step-00000002.png", "step-00000004.png"]
    # cGAN grid: one row per class
    from PIL import Image

    img = Image.open(out / "samples" / "step-00000004.png")
    per_class = t.config.num_samples // 10
    assert img.size == (2 + per_class * 58, 2 + 10 * 58)  # 28-pixel digits shown at 2x
    ckpt = out / "checkpoints" / "step-00000004"
    assert {p.name for p in ckpt.iterdir()} == {
        "generator.safetensors", "generator_ema.safetensors", "discriminator.safetensors",
        "optimizers.safetensors", "rng.safetensors", "state.json"}
    assert json.loads((out / "checkpoints" / "latest.json").read_text())["path"] == "step-00000004"


def test_defaults_come_from_the_spec(tmp_path):
    t = Trainer(TrainConfig(model="wgan-gp", dataset="mnist", steps=1, out=str(tmp_path / "r"), **QUIET,
                            model_args={"width": 8}), dataset=fake_mnist(400))
    assert t.n_critic == 5
    assert t.config.lr_g == 1e-4 and t.config.betas == (0.0, 0.9)
    assert t.opt_d.param_groups[0]["betas"] == (0.0, 0.9)
    t2 = Trainer(TrainConfig(model="dcgan", dataset="mnist", steps=1, out=str(tmp_path / "r2"), **QUIET,
                             model_args={"width": 8}), dataset=fake_mnist(400))
    assert t2.n_critic == 1 and t2.config.lr_d == 2e-4 and t2.config.betas == (0.5, 0.999)


def test_dataset_recipe_replaces_the_paper_recipe(tmp_path):
    # vanilla has its own recipe for the 2-D toys; MNIST keeps the paper's.
    toy = TrainConfig(model="vanilla", dataset="ring8").resolve()
    assert toy.loss == "hinge" and toy.batch_size == 256 and toy.steps == 20_000 and toy.epochs is None
    assert toy.model_args["latent_dim"] == 2
    mnist = TrainConfig(model="vanilla", dataset="mnist").resolve()
    assert mnist.loss == "non-saturating" and mnist.batch_size == 64 and mnist.epochs == 1.0
    assert "latent_dim" not in mnist.model_args
    # What the user says wins over the recipe, key by key.
    mine = TrainConfig(model="vanilla", dataset="ring8", epochs=2, loss="lsgan", model_args={"latent_dim": 4}).resolve()
    assert mine.steps is None and mine.epochs == 2 and mine.loss == "lsgan"
    assert mine.model_args["latent_dim"] == 4 and mine.model_args["g_hidden"] == (128, 128, 128)
    t = Trainer(TrainConfig(model="vanilla", dataset="grid25", steps=2, out=str(tmp_path / "r"), **QUIET))
    assert t.gan.generator.latent_dim == 2 and t.gan.loss.name == "hinge"


class NaNAfter(NonSaturatingLoss):
    """Non-saturating loss whose D loss turns NaN from the given call on."""

    name = "non-saturating"

    def __init__(self, after: int):
        self.after, self.calls = after, 0

    def d_loss_from_outputs(self, real_out, fake_out):
        self.calls += 1
        loss = super().d_loss_from_outputs(real_out, fake_out)
        return loss * float("nan") if self.calls > self.after else loss


def test_nan_loss_stops_the_run_and_keeps_the_last_checkpoint(tmp_path):
    gan = ganzoo.create("vanilla", data_shape=(2,), loss=NaNAfter(after=7))
    out = tmp_path / "run"
    cfg = TrainConfig(dataset="ring8", steps=50, out=str(out), quiet=True, checkpoint_every=4, log_every=4,
                      sample_every=10**6)
    with pytest.raises(DivergenceError) as err:
        Trainer(cfg, gan=gan).fit()
    msg = str(err.value)
    assert "step 8" in msg and "discriminator" in msg and "intact" in msg
    latest = json.loads((out / "checkpoints" / "latest.json").read_text())
    assert latest["step"] == 4
    from safetensors.torch import load_file

    weights = load_file(str(out / "checkpoints" / "step-00000004" / "generator.safetensors"))
    assert all(torch.isfinite(w).all() for w in weights.values())


def test_bad_names_get_suggestions(tmp_path):
    with pytest.raises(UnknownNameError, match="did you mean 'dcgan'"):
        Trainer(TrainConfig(model="dcgna", out=str(tmp_path / "a")))
    with pytest.raises(UnknownNameError, match="did you mean 'mnist'"):
        Trainer(TrainConfig(model="dcgan", dataset="mnsit", out=str(tmp_path / "b")))
    with pytest.raises(UnknownNameError, match="did you mean 'hinge'"):
        Trainer(TrainConfig(model="dcgan", loss="hnge", out=str(tmp_path / "c")))


def test_incompatible_loss_is_refused_before_loading_data(tmp_path):
    with pytest.raises(IncompatibleLossError, match="BatchNorm"):
        Trainer(TrainConfig(model="dcgan", loss="wgan-gp", data_dir=str(tmp_path / "none"), download=False,
                            out=str(tmp_path / "r")))
    assert not (tmp_path / "r").exists()


def test_shape_mismatch_names_both_shapes(tmp_path):
    gan = ganzoo.create("dcgan", data_shape=(3, 32, 32), width=8)
    with pytest.raises(DataError, match=r"\(1, 28, 28\).*\(3, 32, 32\)"):
        Trainer(TrainConfig(dataset="mnist", steps=1, out=str(tmp_path / "r")), gan=gan, dataset=fake_mnist())
    with pytest.raises(DataError, match=r"ring8.*\(2,\)"):
        Trainer(TrainConfig(model="dcgan", dataset="ring8", steps=1, out=str(tmp_path / "r2")))


def test_missing_dataset_says_where_to_put_files(tmp_path):
    with pytest.raises(DataError) as err:
        Trainer(TrainConfig(model="dcgan", data_dir=str(tmp_path), download=False, out=str(tmp_path / "r")))
    assert "train-images-idx3-ubyte.gz" in str(err.value) and str(tmp_path / "MNIST" / "raw") in str(err.value)


def test_unwritable_out_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot write the run directory"):
        Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=1, out=str(blocker / "run")))


def test_existing_run_is_not_overwritten(tmp_path):
    out = tmp_path / "run"
    Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=2, out=str(out), **QUIET)).fit()
    before = (out / "checkpoints" / "step-00000002" / "generator.safetensors").read_bytes()
    with pytest.raises(CheckpointError, match="--resume"):
        Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=2, out=str(out), **QUIET))
    assert (out / "checkpoints" / "step-00000002" / "generator.safetensors").read_bytes() == before


def test_resume_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="no checkpoint"):
        Trainer(TrainConfig(model="vanilla", resume=str(empty)))
    out = tmp_path / "run"
    Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=2, out=str(out), **QUIET)).fit()
    with pytest.raises(CheckpointError, match="model 'vanilla', not 'dcgan'"):
        Trainer(TrainConfig(model="dcgan", resume=str(out)))
    # a truncated weights file is reported, and nothing is written over it
    g = out / "checkpoints" / "step-00000002" / "generator.safetensors"
    g.write_bytes(g.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="truncated"):
        Trainer(TrainConfig(model="vanilla", resume=str(out), steps=4, quiet=True))
    assert len(g.read_bytes()) == 100


def test_interrupt_saves_a_checkpoint_and_resumes(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganzoo", "train", "vanilla", "--dataset", "ring8", "--steps", "1000000",
         "--out", str(out), "-q", "--sample-every", "1000000", "--checkpoint-every", "1000000"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    # Wait for the first log row however slow the machine; only a process that died ends the wait.
    while not (out / "metrics.jsonl").exists() or not (out / "metrics.jsonl").read_text():
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate()
    assert proc.returncode == 130, err
    assert "SIGTERM" in err and "--resume" in err
    state = json.loads((out / "checkpoints" / "latest.json").read_text())
    assert state["step"] > 0
    t = Trainer(TrainConfig(resume=str(out), steps=state["step"] + 3, quiet=True)).fit()
    assert t.step == state["step"] + 3


def test_cli_train_writes_a_run(tmp_path):
    from click.testing import CliRunner

    from ganzoo.cli import cli

    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", "vanilla", "--dataset", "ring8", "--steps", "6", "--out", str(out), "-q",
                                   "--sample-every", "3", "--loss", "hinge", "--lr-d", "1e-3", "--no-ema"])
    assert res.exit_code == 0, res.output
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["loss"] == "hinge" and cfg["lr_d"] == 1e-3 and cfg["ema"] is False
    assert (out / "samples" / "step-00000006.png").is_file()
    bad = CliRunner().invoke(cli, ["train", "vanila", "--steps", "1"])
    assert bad.exit_code != 0 and "did you mean 'vanilla'" in bad.output and "Traceback" not in bad.output


def test_python_api_train(tmp_path):
    run = ganzoo.train("vanilla", dataset="grid25", steps=3, out=str(tmp_path / "r"), **QUIET)
    assert run.step == 3 and (tmp_path / "r" / "checkpoints" / "latest.json").is_file()
    s = run.sampling_generator.sample(5)
    assert s.shape == (5, 2)


def test_third_party_model_trains_without_engine_changes(tmp_path):
    """A model registered by a plugin module the engine has never heard of trains as is."""
    import types

    from torch import nn

    from ganzoo import Discriminator, Generator, ModelSpec

    class TinyG(Generator):
        def __init__(self, data_shape=(2,), latent_dim=4, num_classes=None):
            super().__init__()
            self.latent_dim, self.num_classes, self.output_shape = latent_dim, None, tuple(data_shape)
            self.net = nn.Linear(latent_dim, 2)

        def forward(self, z, y=None):
            return self.net(z)

    class TinyD(Discriminator):
        def __init__(self):
            super().__init__()
            self.input_shape = (2,)
            self.net = nn.Linear(2, 1)

        def forward(self, x, y=None):
            return self.net(x).flatten()

    mod = types.ModuleType("ganzoo_tiny_test")

    @ganzoo.hookimpl
    def ganzoo_register_models(register):
        register(ModelSpec("tiny-test", "tiny", "none", lambda data_shape=(2,), latent_dim=4, num_classes=None:
                           (TinyG(data_shape, latent_dim), TinyD()),
                           {"data_shape": (2,), "latent_dim": 4, "num_classes": None}, datasets=("ring8",)))

    mod.ganzoo_register_models = ganzoo_register_models
    try:
        ganzoo.plugins.register_plugin(mod, name="tiny-test-plugin")
        run = ganzoo.train("tiny-test", steps=5, out=str(tmp_path / "r"), **QUIET)
        assert run.step == 5
    finally:
        ganzoo.plugins.reset()


def _write_ddp_script(path: Path) -> None:
    path.write_text(
        "import json, os, sys, hashlib, torch\n"
        "from ganzoo.engine import Trainer, TrainConfig\n"
        "out = sys.argv[1]\n"
        "t = Trainer(TrainConfig(model='vanilla', dataset='ring8', steps=6, batch_size=16, out=out, quiet=True,\n"
        "                        sample_every=3, checkpoint_every=3, log_every=3, device='cpu'))\n"
        "first = t._next_indices().tolist(); t.perm = torch.empty(0, dtype=torch.long); t.cursor = 0; t.epoch = 0\n"
        "t.fit()\n"
        "h = hashlib.sha256(b''.join(v.numpy().tobytes() for v in t.G.state_dict().values())).hexdigest()\n"
        "json.dump({'hash': h, 'first': first, 'world': t.world}, open(os.path.join(out, f\"rank{t.rank}.json\"), 'w'))\n"
        "torch.distributed.destroy_process_group()\n"
    )


@pytest.mark.slow
def test_ddp_two_processes_on_gloo(tmp_path):
    script = tmp_path / "ddp_train.py"
    _write_ddp_script(script)
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    res = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(script), str(out)],
        env=env, capture_output=True, text=True,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    r0 = json.loads((out / "rank0.json").read_text())
    r1 = json.loads((out / "rank1.json").read_text())
    assert r0["world"] == r1["world"] == 2
    assert r0["hash"] == r1["hash"]  # DDP kept the replicas identical
    assert not set(r0["first"][0]) & set(r1["first"][0])  # each rank got its own shard of the data
    # rank 0 alone wrote the logs, samples and checkpoints
    assert (out / "checkpoints" / "step-00000006" / "generator.safetensors").is_file()
    rows = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["step"] for r in rows] == [3, 6]


def test_resume_refuses_weights_of_another_configuration(tmp_path):
    out = tmp_path / "run"
    Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=2, out=str(out), **QUIET)).fit()
    state = out / "checkpoints" / "step-00000002" / "state.json"
    saved = json.loads(state.read_text())
    saved["config"]["model_args"]["g_hidden"] = [64, 64]
    state.write_text(json.dumps(saved))
    g = out / "checkpoints" / "step-00000002" / "generator.safetensors"
    before = g.read_bytes()
    with pytest.raises(CheckpointError, match=r"generator\.safetensors do not fit MLPGenerator.*shape mismatch"):
        Trainer(TrainConfig(resume=str(out), steps=4, quiet=True))
    assert g.read_bytes() == before
