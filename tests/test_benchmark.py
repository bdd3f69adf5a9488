"""`ganzoo bench` / ganzoo.benchmark.throughput: the engine's training speed on this machine."""

from __future__ import annotations

import doctest
import json

import pytest
from click.testing import CliRunner

import ganzoo.benchmark
from ganzoo.benchmark import synthetic_dataset, throughput
from ganzoo.cli import cli
from ganzoo.errors import ConfigError


@pytest.mark.slow
def test_cli_reports_each_batch_size():
    res = CliRunner().invoke(cli, ["bench", "vanilla", "--dataset", "ring8", "--batch-size", "32,64", "--seconds", "0.1",
                                   "--device", "cpu", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["batch_size"] for r in rows] == [32, 64]
    for r in rows:
        assert r["images_per_s"] > 0 and r["steps"] >= 5 and r["finite"]
        assert r["images_per_s"] == pytest.approx(r["steps"] * r["batch_size"] / r["seconds"], rel=0.01)
        assert r["device"] == "cpu" and r["cuda_graph"] is False and r["precision"] == "fp32"
    table = CliRunner().invoke(cli, ["bench", "vanilla", "--dataset", "ring8", "--seconds", "0.1", "--device", "cpu"])
    assert table.exit_code == 0 and "images/s" in table.output and "256" in table.output  # the ring8 recipe's batch


@pytest.mark.slow
def test_image_models_run_on_random_data_without_any_files(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_DATA", str(tmp_path / "nothing-here"))
    r = throughput("cgan", batch_size=8, model_args={"width": 8}, device="cpu", seconds=0.05)
    assert r["synthetic"] and r["dataset"] == "mnist" and r["finite"]
    assert not (tmp_path / "nothing-here").exists()
    data = synthetic_dataset("mnist", 100)
    assert data.data.dtype.is_floating_point is False and data.shape == (1, 28, 28)
    assert int(data.labels.max()) < 10


def test_bad_requests_are_refused_with_the_fix():
    with pytest.raises(ConfigError, match="no fixed image shape.*--real-data --data-dir"):
        throughput("dcgan", dataset="folder", device="cpu")
    with pytest.raises(ConfigError, match="seconds must be > 0"):
        throughput("vanilla", dataset="ring8", device="cpu", seconds=0)
    res = CliRunner().invoke(cli, ["bench", "dcgan", "--batch-size", "64,x"])
    assert res.exit_code != 0 and "comma-separated list of integers" in res.output


@pytest.mark.slow
def test_docstring_example_runs():
    result = doctest.testmod(ganzoo.benchmark)
    assert result.attempted > 0 and result.failed == 0
