"""`ganzoo doctor` and `ganzoo report` on every kind of run directory (issue 24's "done when").

tests/test_doctor.py covers every family on MNIST, a resumed run and one whose lock is held;
here: 2-D points, a run that has logged nothing yet, a torn last log line, a process killed
mid-run, a diverged run in the report, and strict JSON when a number is infinite.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.diagnosis import diagnose_log, read_log
from ganzoo.doctor import diagnose
from ganzoo.engine import TrainConfig, Trainer
from ganzoo.errors import DivergenceError

REPO = Path(__file__).resolve().parent.parent


def _toy(tmp_path: Path, name: str = "run", **kw) -> Path:
    out = tmp_path / name
    cfg = dict(model="vanilla", dataset="ring8", steps=30, batch_size=64, quiet=True, log_every=5, sample_every=10,
               checkpoint_every=10, out=str(out), model_args={"g_hidden": [16], "d_hidden": [16]})
    cfg.update(kw)
    Trainer(TrainConfig(**cfg)).fit()
    return out


def _doctor(*args: str):
    return CliRunner().invoke(cli, ["doctor", *map(str, args)])


def test_points_run_doctor_and_report(tmp_path):
    run = _toy(tmp_path)
    res = _doctor(run)
    assert res.exit_code in (0, 1, 2) and "Traceback" not in res.output, res.output
    assert any("mode" in c for c in diagnose(run).checked), "a 2-D run's samples are compared by modes"
    res = CliRunner().invoke(cli, ["report", str(run), "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    assert "data:image/png;base64," in (tmp_path / "r.html").read_text()


def test_a_run_that_has_logged_nothing_yet_says_so(tmp_path):
    run = _toy(tmp_path)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "config.json").write_bytes((run / "config.json").read_bytes())
    res = _doctor(fresh)
    assert res.exit_code == 0, res.output
    assert "nothing to judge yet" in res.output and "no log rows yet" in res.output
    res = CliRunner().invoke(cli, ["report", str(fresh), "-o", str(tmp_path / "fresh.html")])
    assert res.exit_code == 0, res.output


def test_a_torn_last_line_is_skipped(tmp_path):
    run = _toy(tmp_path)
    whole = read_log(run)
    data = (run / "metrics.jsonl").read_bytes()
    (run / "metrics.jsonl").write_bytes(data + b'{"step": 35, "loss_d": 0.')  # killed mid-write
    assert read_log(run) == whole
    res = _doctor(run, "--json")
    assert res.exit_code in (0, 1, 2), res.output
    assert json.loads(res.output)["verdict"] in ("healthy", "warning", "failing")


def test_a_diverged_run_in_the_report(tmp_path):
    with pytest.raises(DivergenceError):
        _toy(tmp_path, lr_g=1e6, lr_d=1e6, steps=50)
    res = _doctor(tmp_path / "run")
    assert res.exit_code == 2 and "divergence" in res.output and "--resume" in res.output
    res = CliRunner().invoke(cli, ["report", str(tmp_path / "run"), "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    assert "divergence" in (tmp_path / "r.html").read_text()


def test_json_is_strict_when_g_s_gradient_falls_to_zero():
    """G's gradient exactly 0 late in the run: the fall is infinite; the finding says 'to zero', JSON says null."""
    rows = [{"step": 10 * i, "loss_d": 0.1, "loss_g": 5.0, "D(x)": 0.999, "D(G(z))": 0.001,
             "grad_norm_g": 2.0 if i < 8 else 0.0, "grad_norm_d": 1.0} for i in range(1, 41)]
    d = diagnose_log(rows, {"model": "vanilla", "loss": "minimax", "lr_d": 2e-4, "lr_g": 2e-4})
    codes = {f.code for f in d.findings}
    assert {"discriminator-wins", "vanishing-generator-gradient"} <= codes, d.text()
    assert "fell to zero" in d.text() and "infx" not in d.text()
    text = json.dumps(d.to_json(), allow_nan=False)  # raises on NaN or Infinity
    assert '"fall": null' in text


@pytest.mark.slow
def test_a_killed_run_is_diagnosed_and_reported(tmp_path):
    """SIGKILL in the middle of training (no clean exit): the doctor and the report read what is there."""
    run = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "plugins"),
                                                         os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "ganzoo", "train", "vanilla", "--dataset", "ring8",
                             "--steps", "1000000", "--log-every", "5", "--checkpoint-every", "20",
                             "--sample-every", "20", "--out", str(run), "-q"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # Wait for a checkpoint and some log rows; only a dead process ends the wait early.
        while proc.poll() is None and not (list(run.glob("checkpoints/step-*/state.json"))
                                           and len(read_log(run)) >= 10):
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read().decode()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    res = _doctor(run, "-n", "64")
    assert res.exit_code in (0, 1, 2) and "Traceback" not in res.output, res.output
    assert "log rows" in res.output
    res = CliRunner().invoke(cli, ["report", str(run), "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output


def test_a_smoke_run_of_a_few_steps_is_not_called_collapsed(tmp_path):
    """A young generator draws few kinds of image whatever its loss (the dcgan MNIST recipe: 1, 3 and 8
    of the 10 digits at steps 100, 200 and 300): before MIN_JUDGED_STEP the doctor measures the samples
    and lists what it saw, but does not call the run failing; the log is still judged."""
    from ganzoo.doctor import MIN_JUDGED_STEP

    run = _toy(tmp_path, steps=10, sample_every=5, checkpoint_every=5)
    _flatten_last_layer(run)  # every sample the same point: mode collapse, were it judged
    d = diagnose(run)
    assert d.verdict == "healthy" and not any(f.code == "mode-collapse" for f in d.findings), d.text()
    assert [f.code for f in d.not_judged] == ["mode-collapse"] and "modes" in d.not_judged[0].message, d.text()
    assert "early: 10 steps" in d.findings[0].message, d.text()
    # said where a person looks first: not a plain "healthy" over samples that are all alike
    res = _doctor(run)
    assert res.exit_code == 0
    assert res.output.splitlines()[0].endswith("healthy so far: the log is; the samples (mode-collapse) are not "
                                               "judged yet at 10 steps, ask again later"), res.output
    assert "  not judged yet: mode-collapse: the samples cover" in res.output
    as_json = json.loads(_doctor(run, "--json").output)
    assert as_json["verdict"] == "healthy" and as_json["not_judged"][0]["code"] == "mode-collapse"
    res = CliRunner().invoke(cli, ["report", str(run), "-o", str(tmp_path / "young.html")])
    page = (tmp_path / "young.html").read_text()
    assert res.exit_code == 0 and "class='verdict early'" in page and "healthy so far" in page
    assert "not judged yet: <b>mode-collapse</b>" in page
    # from MIN_JUDGED_STEP on the same damage is judged
    later = _toy(tmp_path, "later", steps=MIN_JUDGED_STEP, sample_every=10**6, checkpoint_every=10**6)
    _flatten_last_layer(later)
    d = diagnose(later)
    assert d.verdict == "failing" and any(f.code == "mode-collapse" for f in d.findings), d.text()
    assert not d.not_judged and d.headline == "failing"


def _flatten_last_layer(run: Path) -> None:
    from safetensors.torch import load_file, save_file

    from ganzoo.checkpoint import find_checkpoint

    for file in find_checkpoint(run).glob("generator*.safetensors"):
        tensors = load_file(str(file))
        last = [k for k, v in tensors.items() if k.endswith("weight") and v.dim() == 2][-1]
        tensors[last] = tensors[last] * 0
        save_file(tensors, str(file))


def test_a_run_before_its_first_checkpoint_is_not_called_a_non_run(tmp_path):
    """Asked while training, before the first checkpoint, the doctor said the run 'is not a ganzoo run directory'."""
    import shutil

    run = _toy(tmp_path, steps=10)
    shutil.rmtree(run / "checkpoints")
    d = diagnose(run)
    assert any(c.startswith("samples not checked yet: no checkpoint so far") for c in d.checked), d.checked
    assert not any("not a ganzoo run directory" in c for c in d.checked)
