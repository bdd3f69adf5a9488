"""#23: a bundle records what really happened, and its card names the data honestly.

Steps really trained (a run stopped early is not its planned length), epochs, training time,
the hardware, every change made on resume; a folder is named by its name and size.
"""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import ganzoo
from ganzoo.cli import cli
from ganzoo.engine import TrainConfig, Trainer
from ganzoo.engine import trainer as trainer_module
from ganzoo.errors import GanzooError

SMALL = {"g_hidden": [8], "d_hidden": [8]}


def _stop_at(monkeypatch, step: int) -> None:
    """SIGTERM this process once the run passes ``step`` (the engine stops cleanly at the next step)."""
    real = trainer_module.Trainer._log

    def log_then_stop(self, *args):
        real(self, *args)
        if self.step >= step:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(trainer_module.Trainer, "_log", log_then_stop)


def test_a_bundle_of_a_stopped_and_resumed_run_says_so(tmp_path, monkeypatch):
    run = tmp_path / "run"
    _stop_at(monkeypatch, 20)
    with pytest.raises((GanzooError, KeyboardInterrupt, SystemExit)):
        Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=100, batch_size=64, log_every=10, quiet=True,
                            out=str(run), model_args=SMALL)).fit()
    monkeypatch.undo()
    meta = json.loads((ganzoo.save(run, tmp_path / "stopped") / "ganzoo.json").read_text())
    h = meta["history"]
    assert h["steps"] == 20 and h["planned_steps"] == 100 and h["sessions"] == 1, h
    last = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "epoch" in r][-1]
    assert h["epochs"] == pytest.approx(last["epoch"] / last["step"] * 20, abs=1e-3)
    assert h["wall_time_s"] >= 0 and "CPU" in h["hardware"] and h["torch_version"]
    card = (tmp_path / "stopped" / "README.md").read_text()
    assert "20 generator steps of the 100 planned" in card

    Trainer(TrainConfig(resume=str(run), steps=30, lr_d=1e-4, quiet=True)).fit()
    meta = json.loads((ganzoo.save(run, tmp_path / "resumed") / "ganzoo.json").read_text())
    h = meta["history"]
    assert h["steps"] == 30 and h["planned_steps"] == 30 and h["sessions"] == 2, h
    assert h["changes"] and h["changes"][0]["step"] == 20 and h["changes"][0]["lr_d"]["to"] == 1e-4
    card = (tmp_path / "resumed" / "README.md").read_text()
    assert "resumed 1 time" in card and "at step 20: lr_d" in card and "of the" not in card.split("## What")[1][:80]


def test_a_folder_is_named_by_its_name_and_size_not_as_a_hub_dataset(tmp_path):
    folder = tmp_path / "holiday-photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(24):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), "RGB").save(folder / f"{i}.png")
    run = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", "dcgan", "--dataset", "folder", "--data-dir", str(folder),
                                   "--model-arg", "data_shape=[3,16,16]", "--model-arg", "width=4",
                                   "--steps", "2", "--batch-size", "8", "--out", str(run), "-q"])
    assert res.exit_code == 0, res.output
    ganzoo.save(run, tmp_path / "bundle")
    card = (tmp_path / "bundle" / "README.md").read_text()
    meta = json.loads((tmp_path / "bundle" / "ganzoo.json").read_text())
    assert "a folder of 24 images (`holiday-photos`)" in card
    assert "datasets:\n- folder" not in card
    assert meta["history"]["data"] == {"name": "folder", "samples": 24, "folder": "holiday-photos"}
    assert str(tmp_path) not in json.dumps(meta), "no local path in a bundle"


def test_a_hostile_history_prints_no_markup(tmp_path):
    from ganzoo.card import model_card

    meta = json.loads((ganzoo.save(ganzoo.create("vanilla", data_shape=(2,), latent_dim=2, **SMALL), tmp_path / "b",
                                   dataset="ring8") / "ganzoo.json").read_text())
    meta["history"] = {"steps": 5, "hardware": "<script>x</script>", "torch_version": "[a](http://evil)",
                       "sessions": 2, "changes": [{"step": 3, "lr_d": {"from": "![i](http://e)", "to": 1}},
                                                  {"step": "x", "<b>": {"from": 1, "to": 2}}],
                       "data": {"name": "folder", "samples": 3, "folder": "../../etc`x`"}}
    card = model_card({**meta, "dataset": "folder"})
    for bad in ("<script>", "](http", "<b>", "../", "`x`"):
        assert bad not in card, bad
    assert "5 generator steps" in card and "a folder of 3 images" in card
