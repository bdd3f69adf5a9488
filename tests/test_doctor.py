"""The GAN doctor: each finding code on a log or a run built to show it, and no false alarm on good runs.

The good runs are the shipped zoo's own training logs and generators (bench/results/zoo-runs/:
their FIDs are in the bundles' receipts); the broken ones are made on purpose, each with the
failure it must report.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file, save_file

from ganzoo.checkpoint import find_checkpoint
from ganzoo.cli import cli
from ganzoo.doctor import CODES, MIN_JUDGED_STEP, diagnose, diagnose_log, read_log
from ganzoo.engine import TrainConfig, Trainer
from ganzoo.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
ZOO_RUNS = REPO / "bench" / "results" / "zoo-runs"
SHIPPED = ["dcgan-mnist", "wgan-gp-mnist", "vanilla-mnist", "cgan-mnist", "dcgan-fashion-mnist", "cgan-fashion-mnist"]
CFG = {"model": "dcgan", "loss": "non-saturating", "lr_g": 2e-4, "lr_d": 2e-4, "ema": True}


def _rows(n: int = 40, **series) -> list[dict]:
    """A calm log: D(x) 0.7, D(G(z)) 0.3, steady losses and gradients; ``series`` overrides by key."""
    rows = []
    for i in range(n):
        row = {"step": 100 * (i + 1), "loss_d": 1.1, "loss_g": 1.4, "D(x)": 0.7 + 0.01 * (i % 3),
               "D(G(z))": 0.3 - 0.01 * (i % 2), "grad_norm_d": 3.0, "grad_norm_g": 2.0 + 0.1 * (i % 4)}
        for key, values in series.items():
            row[key] = values(i)
        rows.append(row)
    return rows


def _codes(diagnosis) -> dict[str, str]:
    return {f.code: f.severity for f in diagnosis.findings}


def test_a_calm_log_is_healthy():
    d = diagnose_log(_rows(), CFG)
    assert d.verdict == "healthy" and d.exit_code == 0 and not d.findings


def test_d_winning_to_the_end_fails_with_advice():
    late = lambda i: i >= 15  # noqa: E731
    rows = _rows(**{"D(x)": lambda i: 0.995 if late(i) else 0.7, "D(G(z))": lambda i: 0.004 if late(i) else 0.3,
                    "grad_norm_g": lambda i: 0.05 if late(i) else 2.0})
    d = diagnose_log(rows, {**CFG, "loss": "minimax"})
    finding = next(f for f in d.findings if f.code == "discriminator-wins")
    assert finding.severity == "failing" and d.exit_code == 2
    assert finding.steps == (1600, 4000) and finding.evidence["rows"] == 25
    assert "--loss non-saturating" in finding.advice and "--lr-d 5e-05" in finding.advice
    assert _codes(d)["vanishing-generator-gradient"] == "warning"  # 40x: between the 20x and 100x thresholds


def test_d_leading_early_while_g_still_learns_is_not_a_finding():
    """Early DCGAN training on MNIST (a real log's shape): D wins for a third of the run, G's gradient
    stays large, then G catches up. That is how training starts, not a failure."""
    early = lambda i: 1 <= i <= 12  # noqa: E731
    rows = _rows(36, **{"D(x)": lambda i: 0.99 if early(i) else 0.93, "D(G(z))": lambda i: 0.005 if early(i) else 0.06,
                        "grad_norm_g": lambda i: 35.0 + (i % 5)})
    assert "discriminator-wins" not in _codes(diagnose_log(rows, CFG))


def test_a_short_win_is_not_a_finding():
    rows = _rows(**{"D(x)": lambda i: 0.99 if i in (5, 6) else 0.7, "D(G(z))": lambda i: 0.01 if i in (5, 6) else 0.3})
    assert "discriminator-wins" not in _codes(diagnose_log(rows, CFG))


def test_critic_scores_are_not_read_as_probabilities():
    rows = _rows(**{"D(x)": lambda i: 0.99, "D(G(z))": lambda i: 0.0})  # a critic's scores may sit anywhere
    assert "discriminator-wins" not in _codes(diagnose_log(rows, {**CFG, "loss": "wgan-gp"}))
    assert "discriminator-wins" in _codes(diagnose_log(rows, CFG))


def test_vanishing_generator_gradient():
    rows = _rows(**{"grad_norm_g": lambda i: 5.0 * 0.8 ** i})  # 5 -> 0.001
    finding = next(f for f in diagnose_log(rows, {**CFG, "loss": "minimax"}).findings
                   if f.code == "vanishing-generator-gradient")
    assert finding.severity == "failing" and finding.evidence["fall"] > 100
    assert "--loss non-saturating" in finding.advice


def test_oscillation_needs_swings_not_a_drift():
    swinging = _rows(**{"D(x)": lambda i: 0.15 if i % 2 else 0.85})
    assert _codes(diagnose_log(swinging, CFG)) == {"oscillation": "warning"}
    drifting = _rows(**{"D(x)": lambda i: 0.2 + 0.6 * i / 39})  # a trend, however large, is no swing
    assert "oscillation" not in _codes(diagnose_log(drifting, CFG))


def test_divergence_recorded_by_the_engine():
    rows = _rows(10) + [{"step": 1100, "diverged": "the generator loss became NaN or infinite at step 1,037"}]
    d = diagnose_log(rows, CFG, run="runs/x")
    finding = d.findings[0]
    assert finding.code == "divergence" and d.verdict == "failing"
    assert "--resume runs/x --lr-g 2e-05 --lr-d 2e-05" in finding.advice


def test_no_progress_from_the_evaluations():
    fids = [12.0, 6.0, 4.0, 4.5, 5.2, 6.1]
    rows = _rows(10) + [{"step": 1000 * (i + 1), "eval": {"fid": f}} for i, f in enumerate(fids)]
    finding = next(f for f in diagnose_log(rows, CFG).findings if f.code == "no-progress")
    assert finding.steps == (3000, 6000) and finding.evidence["best"] == 4.0
    improving = _rows(10) + [{"step": 1000 * (i + 1), "eval": {"fid": f}} for i, f in enumerate(sorted(fids)[::-1])]
    assert "no-progress" not in _codes(diagnose_log(improving, CFG))


@pytest.mark.parametrize("name", SHIPPED)
def test_the_shipped_zoo_s_training_logs_raise_no_finding(name):
    run = ZOO_RUNS / name
    d = diagnose_log(read_log(run), json.loads((run / "config.json").read_text()))
    assert d.verdict == "healthy", d.text()


def test_every_code_is_documented():
    text = (REPO / "docs" / "guides" / "doctor.md").read_text()
    assert all(f"`{code}`" in text for code in CODES)


# ----------------------------------------------------------------------------- runs


def _toy_run(tmp_path: Path, steps: int = 30) -> Path:
    out = tmp_path / "run"
    Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=steps, batch_size=64, quiet=True, log_every=5,
                        sample_every=10**6, checkpoint_every=10**6, out=str(out),
                        model_args={"g_hidden": [32, 32], "d_hidden": [32, 32]})).fit()
    return out


def _collapse_generator(run: Path) -> None:
    """Zero the last layer's weights of the saved generators: every sample becomes the same point."""
    ckpt = find_checkpoint(run)
    for file in ckpt.glob("generator*.safetensors"):
        tensors = load_file(str(file))
        last = [k for k, v in tensors.items() if k.endswith("weight") and v.dim() == 2][-1]
        tensors[last] = torch.zeros_like(tensors[last])
        save_file(tensors, str(file))


def test_a_collapsed_toy_generator_is_mode_collapse(tmp_path):
    run = _toy_run(tmp_path, steps=MIN_JUDGED_STEP)  # samples are judged from this step on
    _collapse_generator(run)
    d = diagnose(run, n=256)
    finding = next(f for f in d.findings if f.code == "mode-collapse")
    assert finding.severity == "failing" and finding.evidence["modes_covered"] <= 1, d.text()
    assert any("ring8 modes" in c for c in d.checked)


def test_the_cli_exit_status_follows_the_verdict(tmp_path):
    run = _toy_run(tmp_path, steps=MIN_JUDGED_STEP)
    _collapse_generator(run)
    res = CliRunner().invoke(cli, ["doctor", str(run), "--json", "-n", "256"])
    assert res.exit_code == 2, res.output
    report = json.loads(res.output)
    assert report["verdict"] == "failing" and "mode-collapse" in {f["code"] for f in report["findings"]}
    res = CliRunner().invoke(cli, ["doctor", str(run), "--no-samples"])
    assert res.exit_code in (0, 1, 2) and "ganzoo doctor:" in res.output  # the log alone
    res = CliRunner().invoke(cli, ["doctor", str(tmp_path)])
    assert res.exit_code == 3 and "not a run directory" in res.output and "Traceback" not in res.output


def test_bad_sample_count_is_one_line(tmp_path):
    run = _toy_run(tmp_path, steps=5)
    with pytest.raises(ConfigError, match="n=3"):
        diagnose(run, n=3)


@pytest.mark.data
@pytest.mark.parametrize("name", ["dcgan-mnist", "cgan-mnist"])
def test_shipped_generators_are_not_collapsed(name, mnist_dir, monkeypatch):
    monkeypatch.setenv("GANZOO_DATA", str(mnist_dir))
    d = diagnose(ZOO_RUNS / name, n=256)
    assert d.verdict == "healthy", d.text()
    assert any("spread" in c for c in d.checked)


@pytest.mark.data
def test_a_generator_missing_classes_is_partial_collapse(mnist_dir, monkeypatch, tmp_path):
    """The shipped dcgan-mnist generator, its samples of three classes dropped: found by the feature network."""
    import ganzoo.doctor as doctor_module
    from ganzoo.metrics import load_classifier

    monkeypatch.setenv("GANZOO_DATA", str(mnist_dir))
    net, _ = load_classifier("mnist")
    real_sample_batch = __import__("ganzoo.sampling", fromlist=["sample_batch"]).sample_batch

    def without_some_digits(g, n, **kw):
        x, y, nrow = real_sample_batch(g, 4 * n, **kw)
        with torch.inference_mode():
            keep = ~torch.isin(net(x).argmax(1), torch.tensor([0, 1, 2]))
        return x[keep][:n], y, nrow

    monkeypatch.setattr("ganzoo.sampling.sample_batch", without_some_digits)
    d = doctor_module.diagnose(ZOO_RUNS / "dcgan-mnist", n=256)
    finding = next(f for f in d.findings if f.code == "mode-collapse")
    assert finding.severity == "warning" and set(finding.evidence["missing"]) == {0, 1, 2}, d.text()


def test_a_diverged_run_is_recorded_and_diagnosed(tmp_path):
    """The engine writes what diverged into the log before it stops; the doctor reports it with the way on."""
    from ganzoo.errors import DivergenceError

    with pytest.raises(DivergenceError):
        _toy_run_with(tmp_path, lr_g=1e6, lr_d=1e6, steps=50)
    rows = read_log(tmp_path / "run")
    assert "diverged" in rows[-1] and "NaN or infinite" in rows[-1]["diverged"]
    d = diagnose(tmp_path / "run")
    assert d.verdict == "failing" and d.findings[0].code == "divergence"
    assert f"--resume {tmp_path / 'run'} --lr-g 100000 --lr-d 100000" in d.findings[0].advice


def _toy_run_with(tmp_path: Path, **kw) -> Path:
    out = tmp_path / "run"
    cfg = dict(model="vanilla", dataset="ring8", steps=30, batch_size=64, quiet=True, log_every=5,
               sample_every=10**6, checkpoint_every=10**6, out=str(out),
               model_args={"g_hidden": [32, 32], "d_hidden": [32, 32]})
    cfg.update(kw)
    Trainer(TrainConfig(**cfg)).fit()
    return out


# ----------------------------------------------------------------------------- the live doctor


def test_the_live_doctor_says_a_finding_once_and_records_it(tmp_path):
    from ganzoo.engine.watch import EVERY, LiveDoctor

    said, written = [], []
    run = tmp_path / "run"
    run.mkdir()
    doctor = LiveDoctor(run, {**CFG, "loss": "minimax"}, say=said.append)
    rows = _rows(60, **{"D(x)": lambda i: 0.999 if i >= 10 else 0.7, "D(G(z))": lambda i: 0.001 if i >= 10 else 0.3})
    for i, row in enumerate(rows):
        doctor.observe(row, written.append, last=i == len(rows) - 1)
    assert len(said) == 1 and said[0].startswith("step ") and "discriminator-wins" in said[0] and "Try:" in said[0]
    assert [w["finding"] for w in written] == ["discriminator-wins"] and written[0]["step"] % (100 * EVERY) == 0
    report = json.loads((run / "diagnosis.json").read_text())
    assert report["verdict"] == "failing" and report["findings"][0]["code"] == "discriminator-wins"
    # a resumed run remembers what its log says was said
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows + written))
    again, said2 = LiveDoctor(run, {**CFG, "loss": "minimax"}, say=[].append), []
    again.say = said2.append
    for row in rows[-10:]:
        again.observe(row, written.append)
    assert said2 == []


def test_training_runs_the_live_doctor_unless_told_not_to(tmp_path):
    run = _toy_run_with(tmp_path)
    assert json.loads((run / "diagnosis.json").read_text())["verdict"] in ("healthy", "warning", "failing")
    res = CliRunner().invoke(cli, ["train", "vanilla", "--dataset", "ring8", "--steps", "10", "--log-every", "2",
                                   "--out", str(tmp_path / "quiet"), "-q", "--no-doctor"])
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "quiet" / "diagnosis.json").exists()
    assert "ganzoo doctor" in res.output  # the closing hints offer it


def test_train_report_writes_the_page_and_the_curves(tmp_path):
    res = CliRunner().invoke(cli, ["train", "vanilla", "--dataset", "ring8", "--steps", "10", "--log-every", "2",
                                   "--sample-every", "5", "--out", str(tmp_path / "r"), "-q", "--report"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r" / "report.html").is_file() and (tmp_path / "r" / "curves.png").is_file()


@pytest.mark.data
def test_a_d_wins_run_is_caught_while_it_trains(tmp_path, mnist_dir):
    """Broken on purpose: the minimax loss with D's learning rate 200x G's. The live doctor says so."""
    res = CliRunner().invoke(cli, ["train", "dcgan", "--dataset", "mnist", "--data-dir", str(mnist_dir),
                                   "--steps", "30", "--loss", "minimax", "--lr-d", "2e-3", "--lr-g", "1e-5",
                                   "--log-every", "2", "--sample-every", "1000", "--out", str(tmp_path / "d"), "-q"])
    assert res.exit_code == 0, res.output
    findings = [r for r in read_log(tmp_path / "d") if "finding" in r]
    assert findings and findings[0]["finding"] == "discriminator-wins", findings
    d = diagnose(tmp_path / "d", samples=False)
    assert d.verdict == "failing" and "discriminator-wins" in _codes(d)


@pytest.mark.data
@pytest.mark.parametrize("model", ["dcgan", "wgan-gp", "cgan", "vanilla"])
def test_doctor_and_report_read_every_family(tmp_path, mnist_dir, model):
    """Every built-in family on images (cgan conditional, wgan-gp a critic), resumed, and while its lock is held."""
    from ganzoo.report import write_report

    cfg = dict(model=model, dataset="mnist", data_dir=str(mnist_dir), steps=4, batch_size=16, quiet=True,
               log_every=1, sample_every=2, checkpoint_every=2, out=str(tmp_path / "run"))
    Trainer(TrainConfig(**cfg)).fit()
    held = Trainer(TrainConfig(resume=str(tmp_path / "run"), steps=8, quiet=True))  # holds the run's lock
    try:
        d = diagnose(tmp_path / "run", n=64)
        assert d.verdict in ("healthy", "warning", "failing") and any("samples" in c for c in d.checked), d.text()
    finally:
        held.fit()
    d = diagnose(tmp_path / "run", n=64)
    assert "steps 1 to 8" in d.checked[0], d.checked
    page = write_report([tmp_path / "run"], tmp_path / "r.html").read_text()
    assert "Samples over training" in page and "step 8" in page


def test_a_class_is_missing_only_when_its_share_is_clearly_under_the_bar():
    """Wilson's upper bound: none of 2,000 is missing; a dozen of 512 (2.3%, near the 2.5% bar) is chance."""
    from ganzoo.doctor import CLASS_MISSING, share_upper_bound

    bar = CLASS_MISSING / 10
    assert share_upper_bound(0, 2000) < bar and share_upper_bound(20, 2000) < bar  # 0% and 1%
    assert share_upper_bound(12, 512) > bar and share_upper_bound(45, 2000) > bar  # 2.3% of 512, 2.25% of 2,000
    assert share_upper_bound(200, 2000) > 0.1 > 200 / 2000 - 1e-9 and share_upper_bound(5, 0) == 1.0
    bounds = [share_upper_bound(c, 2000) for c in range(0, 2001, 50)]
    assert bounds == sorted(bounds) and bounds[-1] == 1.0


@pytest.mark.data
def test_a_rare_class_is_not_called_missing_but_an_absent_one_is(mnist_dir, monkeypatch):
    """Real MNIST test images as the 'samples', by the feature network: digit 3 at 1.6% of 512 images is
    rare, not proven missing (a point share under 2.5% was a false alarm on healthy runs); at 0 it is."""
    from ganzoo.data import load_dataset
    from ganzoo.doctor import _class_coverage

    ds = load_dataset("mnist", mnist_dir, download=False, split="test")
    x, y = ds.to_model_range(ds.data), ds.labels
    others = torch.nonzero(y != 3).flatten()[:504]
    threes = torch.nonzero(y == 3).flatten()
    rare = x[torch.cat([others, threes[:8]])]
    assert _class_coverage(rare, None, x[:64], "mnist", 600, "cpu") == []
    absent = x[torch.nonzero(y != 3).flatten()[:512]]
    [finding] = _class_coverage(absent, None, x[:64], "mnist", 600, "cpu")
    assert finding.evidence["missing"] == [3] and finding.severity == "warning", finding.evidence
