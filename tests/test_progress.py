"""#23: images/s is the current rate, and the bar's losses stay fresh between log rows.

The engine's clock (`ganzoo.engine.trainer._clock`) is replaced by one that reads the step the
run is at, so the run "slows down" and "speeds up" deterministically, whatever the machine.
"""

from __future__ import annotations

import io

from ganzoo.diagnosis import read_log
from ganzoo.engine import TrainConfig, Trainer
from ganzoo.engine import trainer as trainer_module

BATCH = 64


def _run(tmp_path, monkeypatch, seconds_per_step, **kw):
    t = Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=40, batch_size=BATCH, log_every=10,
                            sample_every=10**6, checkpoint_every=10**6, out=str(tmp_path / "run"),
                            model_args={"g_hidden": [8], "d_hidden": [8]}, **kw))
    clock = lambda: sum(seconds_per_step(s) for s in range(1, t.step + 1))  # noqa: E731
    monkeypatch.setattr(trainer_module, "_clock", clock)
    t.fit()
    return [r for r in read_log(tmp_path / "run") if "loss_d" in r]


def test_images_per_s_is_the_rate_since_the_last_row(tmp_path, monkeypatch):
    rows = _run(tmp_path, monkeypatch, lambda s: 0.1 if s <= 20 else 0.01, quiet=True)
    rates = [r["images_per_s"] for r in rows]
    assert rates == [BATCH / 0.1, BATCH / 0.1, BATCH / 0.01, BATCH / 0.01], rates
    assert rows[-1]["images_per_s_avg"] == round(40 * BATCH / (20 * 0.1 + 20 * 0.01), 1)
    assert rows[-1]["time"] == round(20 * 0.1 + 20 * 0.01, 3)


def test_the_bar_refreshes_its_losses_between_log_rows(tmp_path, monkeypatch):
    """With --log-every 10 and 2 s a step, the bar shows losses every few seconds, not every 20 s."""
    refreshed = []
    real = trainer_module.Trainer._refresh_bar

    def spy(self, bar, keys, means):
        refreshed.append(self.step)
        real(self, bar, keys, means)

    monkeypatch.setattr(trainer_module.Trainer, "_refresh_bar", spy)
    monkeypatch.setattr("sys.stderr", io.StringIO())  # the bar (not quiet) writes here
    _run(tmp_path, monkeypatch, lambda s: 2.0)
    assert refreshed, "no refresh between log rows"
    assert all(s % 10 for s in refreshed), "refreshes fall between the rows"
    shown = sorted(refreshed + [10, 20, 30, 40])  # a log row refreshes the bar too
    gaps = [b - a for a, b in zip([0, *shown], shown)]
    assert max(gaps) * 2.0 <= trainer_module.BAR_REFRESH_S + 2.0 + 1e-9, shown  # never staler than 5 s + a step


def test_quiet_runs_do_not_refresh(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(trainer_module.Trainer, "_refresh_bar", lambda *a: calls.append(1))
    _run(tmp_path, monkeypatch, lambda s: 2.0, quiet=True)
    assert calls == []
