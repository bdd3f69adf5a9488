"""#23: short runs look alive: the raw generator's grids beside the EMA's while the EMA warms up."""

from __future__ import annotations

import pytest

from ganzoo.engine import TrainConfig, Trainer
from ganzoo.engine.trainer import ema_warmup_steps


def _run(tmp_path, **kw):
    out = tmp_path / "run"
    Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=30, batch_size=64, sample_every=10, log_every=10,
                        quiet=True, out=str(out), model_args={"g_hidden": [8], "d_hidden": [8]}, **kw)).fit()
    return out


def _names(folder):
    return sorted(p.name for p in folder.glob("step-*.png"))


def test_warmup_length_follows_the_ramp():
    assert ema_warmup_steps(0.999) == 8990 and ema_warmup_steps(0.99) == 890 and ema_warmup_steps(0.5) == 8
    t = ema_warmup_steps(0.99)
    assert (1 + t) / (10 + t) >= 0.99 > (t) / (9 + t)


def test_raw_grids_while_the_ema_warms_up(tmp_path):
    run = _run(tmp_path)
    assert _names(run / "samples") == _names(run / "samples" / "raw") == [
        "step-00000010.png", "step-00000020.png", "step-00000030.png"]


def test_raw_grids_stop_once_it_is_warm_and_never_without_ema(tmp_path):
    run = _run(tmp_path / "a", ema_decay=0.5)  # warm after 8 updates
    assert _names(run / "samples") and not (run / "samples" / "raw").exists()
    run = _run(tmp_path / "b", ema=False)
    assert _names(run / "samples") and not (run / "samples" / "raw").exists()


@pytest.mark.parametrize("kind", ["link", "file"])
def test_a_raw_folder_that_is_not_a_folder_of_the_run_is_refused(tmp_path, kind):
    from ganzoo.errors import GanzooError

    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    if kind == "link":
        (run / "samples" / "raw").symlink_to(outside)
    else:
        (run / "samples" / "raw").write_text("not a folder")
    with pytest.raises((GanzooError, OSError), match="raw"):
        Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=10, batch_size=64, sample_every=10, quiet=True,
                            out=str(run), model_args={"g_hidden": [8], "d_hidden": [8]})).fit()
    assert list(outside.iterdir()) == []
