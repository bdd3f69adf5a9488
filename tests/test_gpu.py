"""The CUDA fast path on a real GPU: the whole step as one CUDA graph, bf16, schedules, resume.

Skipped without CUDA; a lent GPU machine runs them with `pytest -m gpu` (bench/gpu_bench.sh
does, first). Small networks and random data, so each test takes seconds.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ganzoo.data import TensorDataset
from ganzoo.engine import TrainConfig, Trainer

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

QUIET = dict(quiet=True, sample_every=10**6, checkpoint_every=10**6, log_every=4, device="cuda")


def fake_mnist(n: int = 1024) -> TensorDataset:
    g = torch.Generator().manual_seed(0)
    return TensorDataset("mnist", torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8),
                         torch.randint(0, 10, (n,), generator=g), 10)


def _close(a: torch.nn.Module, b: torch.nn.Module, tol: float) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.allclose(sa[k].float(), sb[k].float(), rtol=tol, atol=tol) for k in sa)


@pytest.mark.parametrize("model", ["dcgan", "wgan-gp", "cgan"])
def test_the_step_is_captured_and_trains_like_eager(tmp_path, model):
    kw = dict(QUIET, model=model, dataset="mnist", model_args={"width": 16}, batch_size=32, steps=12,
              precision="fp32")
    data = fake_mnist()
    graphed = Trainer(TrainConfig(out=str(tmp_path / "g"), **kw), dataset=data).fit()
    assert graphed._graph is not None, "the step was not captured"
    eager = Trainer(TrainConfig(out=str(tmp_path / "e"), cuda_graph=False, **kw), dataset=data).fit()
    assert eager._graph is None
    assert _close(graphed.G, eager.G, 1e-3) and _close(graphed.D, eager.D, 1e-3)


def test_lr_schedule_runs_inside_the_graph(tmp_path):
    kw = dict(QUIET, model="dcgan", dataset="mnist", model_args={"width": 16}, batch_size=32, steps=20,
              lr_schedule="linear")
    t = Trainer(TrainConfig(out=str(tmp_path / "r"), **kw), dataset=fake_mnist()).fit()
    assert t._graph is not None
    # the last replayed step (index 19 of 20) ran at 1 - 19/20 of the base rate
    assert t.learning_rates() == pytest.approx((t.config.lr_g / 20, t.config.lr_d / 20), rel=1e-5)


def test_resume_on_cuda_continues_the_run(tmp_path):
    kw = dict(QUIET, model="dcgan", dataset="mnist", model_args={"width": 16}, batch_size=32, precision="fp32")
    data = fake_mnist()
    full = Trainer(TrainConfig(steps=12, out=str(tmp_path / "full"), **kw), dataset=data).fit()
    Trainer(TrainConfig(steps=5, out=str(tmp_path / "half"), **kw), dataset=data).fit()
    resumed = Trainer(TrainConfig(steps=12, resume=str(tmp_path / "half"), quiet=True, device="cuda"), dataset=data).fit()
    assert resumed._graph is not None and resumed.step == 12
    assert _close(full.G, resumed.G, 1e-3) and _close(full.D, resumed.D, 1e-3)


def test_bf16_autocast_is_on_by_default_and_losses_stay_finite(tmp_path):
    t = Trainer(TrainConfig(model="dcgan", dataset="mnist", model_args={"width": 16}, batch_size=32, steps=8,
                            out=str(tmp_path / "r"), **QUIET), dataset=fake_mnist()).fit()
    assert t.amp_dtype == torch.bfloat16 and t.channels_last
    assert max(t.first_bad.tolist()) < 0  # no loss or gradient norm went NaN


def test_compile_with_the_graph_trains_or_falls_back(tmp_path, capfd):
    kw = dict(QUIET, model="dcgan", dataset="mnist", model_args={"width": 16}, batch_size=32, steps=8)
    t = Trainer(TrainConfig(out=str(tmp_path / "r"), compile=True, **kw), dataset=fake_mnist()).fit()
    err = capfd.readouterr().err
    compiled = t.G._compiled_call_impl is not None
    assert compiled != ("torch.compile failed" in err), err  # compiled, or said why not
    assert max(t.first_bad.tolist()) < 0  # no loss or gradient norm went NaN


def test_a_model_that_opts_out_trains_eagerly_with_a_notice(tmp_path, capfd):
    import ganzoo

    gan = ganzoo.create("dcgan", width=16)
    gan.spec = dataclasses.replace(gan.spec, cuda_graph=False)
    t = Trainer(TrainConfig(dataset="mnist", batch_size=32, steps=4, out=str(tmp_path / "r"), **QUIET),
                gan=gan, dataset=fake_mnist()).fit()
    assert t._graph is None
    assert "CUDA graph off (model 'dcgan' opts out" in capfd.readouterr().err


def test_ganzoo_bench_times_the_captured_bf16_step():
    from ganzoo.benchmark import throughput

    r = throughput("dcgan", batch_size=256, device="cuda", seconds=0.5)
    assert r["cuda_graph"] and r["precision"] == "bf16" and r["finite"] and r["images_per_s"] > 0
    eager = throughput("dcgan", batch_size=256, device="cuda", seconds=0.5, cuda_graph=False)
    assert not eager["cuda_graph"] and eager["finite"]
