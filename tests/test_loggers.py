"""#23: loggers. A plugin's logger (the ganzoo_register_loggers hook) gets a run's metrics under
namespaced names, its sample grids and its configuration; it stays on when the run resumes; one
that fails never stops training; TensorBoard's event files hold curves, grids and hyper-parameters.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import ganzoo
from ganzoo.cli import cli
from ganzoo.loggers import Logger, RunInfo, metrics_of, tag
from ganzoo.plugins import register_plugin, reset
from ganzoo.specs import LoggerSpec

SMALL = ["--model-arg", "g_hidden=[8]", "--model-arg", "d_hidden=[8]", "--log-every", "2", "--sample-every", "2"]
CALLS: list[tuple] = []


class Recorder(Logger):
    """Keeps every call, as a tracker would send them."""

    def start(self, run: RunInfo) -> None:
        CALLS.append(("start", run))

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        CALLS.append(("metrics", step, dict(metrics)))

    def log_image(self, step: int, tag: str, path: Path) -> None:
        CALLS.append(("image", step, tag, path, path.read_bytes()[:8]))

    def finish(self, status: str) -> None:
        CALLS.append(("finish", status))


class Exploding(Recorder):
    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        raise RuntimeError("the tracker's server said no")


class LoggerPlugin:
    @ganzoo.hookimpl
    def ganzoo_register_loggers(self, register):
        register(LoggerSpec("recorder", Recorder, description="keeps calls (a test)"))
        register(LoggerSpec("exploding", Exploding))
        register(LoggerSpec("absent", Recorder, ready=lambda: "the absent package is missing: pip install absent"))
        register(LoggerSpec("wrong-type", lambda: object()))


@pytest.fixture(autouse=True)
def plugin():
    CALLS.clear()
    register_plugin(LoggerPlugin(), name="logger-plugin")
    yield
    reset()


def _train(*args, code=0):
    res = CliRunner().invoke(cli, ["train", *map(str, args), "-q"])
    assert res.exit_code == code, res.output
    return res


def _rows(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_plugin_logger_gets_metrics_grids_config_and_the_end(tmp_path):
    run = tmp_path / "run"
    _train("vanilla", "--dataset", "ring8", "--steps", "4", "--logger", "recorder", "--out", run, *SMALL)
    start = [c[1] for c in CALLS if c[0] == "start"]
    assert len(start) == 1 and start[0].step == 0 and not start[0].resumed and start[0].total_steps == 4
    assert start[0].run_dir == run and start[0].model == "vanilla" and start[0].dataset == "ring8"
    assert start[0].config["loggers"] == ["recorder"] and start[0].config["lr_g"] > 0
    metrics = {c[1]: c[2] for c in CALLS if c[0] == "metrics"}
    assert sorted(metrics) == [2, 4]
    # the same numbers metrics.jsonl holds, under namespaced names
    for row in _rows(run):
        if "loss_d" in row:
            assert metrics[row["step"]]["train/loss_d"] == row["loss_d"]
            assert metrics[row["step"]]["speed/images_per_s"] == row["images_per_s"]
            assert not any(k in metrics[row["step"]] for k in ("step", "epoch", "time", "train/step"))
    images = [c for c in CALLS if c[0] == "image"]
    assert [(c[1], c[2]) for c in images] == [(2, "samples/ema"), (2, "samples/raw"), (4, "samples/ema"),
                                              (4, "samples/raw")]
    assert all(c[3].is_file() and c[3].is_relative_to(run) and c[4].startswith(b"\x89PNG") for c in images)
    assert CALLS[-1] == ("finish", "finished")


def test_loggers_stay_on_when_the_run_resumes_until_turned_off(tmp_path):
    run = tmp_path / "run"
    _train("vanilla", "--dataset", "ring8", "--steps", "2", "--logger", "recorder", "--out", run, *SMALL)
    CALLS.clear()
    _train("vanilla", "--resume", run, "--steps", "4")
    start = [c[1] for c in CALLS if c[0] == "start"]
    assert len(start) == 1 and start[0].resumed and start[0].step == 2
    assert [c[1] for c in CALLS if c[0] == "metrics"] == [4]
    CALLS.clear()
    _train("vanilla", "--resume", run, "--steps", "6", "--logger", "none")
    assert CALLS == [] and json.loads((run / "config.json").read_text())["loggers"] == []
    _train("vanilla", "--resume", run, "--steps", "8")
    assert CALLS == []


def test_an_interrupted_session_tells_its_loggers_it_stopped(tmp_path, monkeypatch):
    from ganzoo.engine import trainer

    def interrupt(self):
        raise KeyboardInterrupt("SIGINT at step 2")

    monkeypatch.setattr(trainer.Trainer, "save_samples", interrupt)
    run = tmp_path / "run"
    _train("vanilla", "--dataset", "ring8", "--steps", "4", "--logger", "recorder", "--out", run, *SMALL, code=130)
    assert CALLS[-1] == ("finish", "stopped")


def test_a_failing_logger_is_switched_off_and_training_goes_on(tmp_path):
    run = tmp_path / "run"
    res = _train("vanilla", "--dataset", "ring8", "--steps", "6", "--logger", "exploding", "--logger", "recorder",
                 "--out", run, *SMALL)
    lines = [line for line in res.output.splitlines() if "exploding" in line]
    assert len(lines) == 1 and "the tracker's server said no" in lines[0] and "metrics.jsonl" in lines[0]
    assert [r["step"] for r in _rows(run) if "loss_d" in r] == [2, 4, 6]
    assert [c[1] for c in CALLS if c[0] == "metrics" and c[2]] == [2, 4, 6, 2, 4, 6][:3]  # the other one still logs
    assert (run / "checkpoints").is_dir()


@pytest.mark.parametrize("name, words", [
    ("absent", "logger 'absent' is off: the absent package is missing: pip install absent"),
    ("wrong-type", "create() returned object, not a ganzoo.loggers.Logger"),
])
def test_a_logger_that_cannot_run_here_is_named_and_training_goes_on(tmp_path, name, words):
    run = tmp_path / "run"
    res = _train("vanilla", "--dataset", "ring8", "--steps", "2", "--logger", name, "--out", run, *SMALL)
    assert words in res.output
    assert [r["step"] for r in _rows(run) if "loss_d" in r] == [2]


@pytest.mark.parametrize("args, words", [
    (["--logger", "recordr"], "unknown logger 'recordr'"),
    (["--logger", "none", "--logger", "recorder"], "--logger none turns every logger off"),
])
def test_a_wrong_logger_name_is_refused_before_training(tmp_path, args, words):
    run = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", "vanilla", "--dataset", "ring8", "--steps", "2", "--out", str(run), *args])
    assert res.exit_code != 0 and words in res.output.lower().replace("“", "'") or words in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1, res.output
    assert not (run / "checkpoints").exists()


def test_the_loggers_command_lists_them_and_says_which_can_run():
    res = CliRunner().invoke(cli, ["loggers", "--json"])
    rows = {r["name"]: r for r in json.loads(res.output)}
    assert rows["recorder"]["ready"] and rows["recorder"]["plugin"] == "logger-plugin"
    assert not rows["absent"]["ready"] and "pip install absent" in rows["absent"]["missing"]
    assert rows["tensorboard"]["plugin"] == "ganzoo.loggers"


@pytest.mark.parametrize("bad, words", [
    ("not a spec", "register() takes a ganzoo.specs.LoggerSpec"),
    (LoggerSpec("none", Recorder), "that name means 'no loggers'"),
    (LoggerSpec("Bad Name", Recorder), "lowercase letters"),
    (LoggerSpec("no-create", "Recorder"), "create must be a callable"),
])
def test_a_bad_logger_registration_breaks_only_its_plugin(bad, words):
    class Bad:
        @ganzoo.hookimpl
        def ganzoo_register_loggers(self, register):
            register(bad)

    register_plugin(Bad(), name="bad-loggers")
    from ganzoo.registry import list_loggers

    assert "recorder" in list_loggers() and "tensorboard" in list_loggers()
    info = [i for i in ganzoo.plugins.list_plugins() if i.name == "bad-loggers"][0]
    assert info.status == "broken" and words in info.error


def test_namespaced_names():
    assert [tag(k) for k in ("loss_d", "D(x)", "images_per_s_avg", "lr_d")] == [
        "train/loss_d", "train/D(x)", "speed/images_per_s_avg", "lr/d"]
    step, m = metrics_of({"step": 7, "eval": {"fid": 3.5, "note": "text", "n": 2000}})
    assert step == 7 and m == {"eval/fid": 3.5, "eval/n": 2000.0}
    # a doctor finding row has no number to plot
    assert metrics_of({"step": 9, "finding": "mode-collapse", "severity": "warning", "message": "m"}) == (9, {})


def test_tensorboard_holds_curves_grids_and_hyperparameters_and_a_resume_continues_them(tmp_path, mnist_dir):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    _train("vanilla", "--dataset", "mnist", "--data-dir", mnist_dir, "--batch-size", "16", "--steps", "4",
           "--tensorboard", "--eval-every", "4", "--eval-n", "300", "--out", run, *SMALL)
    _train("vanilla", "--resume", run, "--steps", "6", "--eval-every", "100")

    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    assert {"train/loss_d", "train/loss_g", "speed/images_per_s", "eval/fid"} <= set(tags["scalars"]), tags
    assert [e.step for e in acc.Scalars("eval/fid")] == [4, 6]  # the run's last step is scored too
    assert acc.Scalars("eval/fid")[0].value == pytest.approx([r for r in _rows(run) if "eval" in r][0]["eval"]["fid"])
    assert [e.step for e in acc.Scalars("train/loss_d")] == [2, 4, 6]  # one curve across the resume
    loss_rows = {r["step"]: r["loss_d"] for r in _rows(run) if "loss_d" in r}
    assert [round(e.value, 5) for e in acc.Scalars("train/loss_d")] == [round(loss_rows[s], 5) for s in (2, 4, 6)]
    assert "samples/ema" in tags["images"] and [e.step for e in acc.Images("samples/ema")] == [2, 4, 6]
    assert acc.Images("samples/ema")[0].encoded_image_string.startswith(b"\x89PNG")
    assert "config" in tags["tensors"] or "config/text_summary" in tags["tensors"], tags
    plugins = acc.PluginTagToContent("hparams")
    assert "_hparams_/experiment" in plugins and "_hparams_/session_start_info" in plugins
    from tensorboard.plugins.hparams import plugin_data_pb2

    start = plugin_data_pb2.HParamsPluginData.FromString(plugins["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["model"].string_value == "vanilla" and start.hparams["steps"].number_value == 4
    assert start.hparams["model_args.g_hidden"].string_value == "[8]"


def test_tensorboard_folder_that_links_out_of_the_run_is_refused(tmp_path):
    run = tmp_path / "run"
    _train("vanilla", "--dataset", "ring8", "--steps", "2", "--out", run, *SMALL)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (run / "tensorboard").symlink_to(outside, target_is_directory=True)
    res = CliRunner().invoke(cli, ["train", "vanilla", "--resume", str(run), "--steps", "4", "--logger", "recorder",
                                   "-q"])
    assert res.exit_code != 0 and "tensorboard" in res.output, res.output
    assert list(outside.iterdir()) == []
