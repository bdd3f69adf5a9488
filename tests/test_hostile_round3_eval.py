"""Hostile input, round 3 (issue 22): evaluation, receipts, verification, and the files `eval`/`sample` write.

Each test reproduces a case of the review: a receipt that sizes work without bound or brings
its own tolerance, cached numbers edited on disk, an output file destroyed by a failed write,
a FIFO or an unrelated file as the output, out-of-range seeds and settings. "Refused before
loading anything heavy" is checked by making the loaders (dataset, feature network, generator)
fail the test when called.
"""

from __future__ import annotations

import copy
import importlib
import json
import math
import os
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import ganzoo
from ganzoo.cli import cli
from ganzoo.errors import ConfigError, EvalError
from ganzoo.interfaces import Generator

REPO = Path(__file__).resolve().parent.parent
EVALUATE = importlib.import_module("ganzoo.metrics.evaluate")  # the module (ganzoo.metrics.evaluate is the function)
RECEIPTS = importlib.import_module("ganzoo.metrics.receipts")
REAL_DATA = importlib.import_module("ganzoo.metrics.real_data")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Noise(Generator):
    """Noise images of MNIST's shape (the seed controls them)."""

    def __init__(self):
        super().__init__()
        self.output_shape, self.latent_dim, self.num_classes = (1, 28, 28), 784, None
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, z, y=None):
        return torch.tanh(z).view(z.shape[0], 1, 28, 28)


def _shipped_receipt() -> dict:
    meta = json.loads((REPO / "plugins/ganzoo_dcgan/pretrained/dcgan-mnist/ganzoo.json").read_text())
    return copy.deepcopy(meta["evaluation"][0])


@pytest.fixture
def nothing_heavy(monkeypatch):
    """Every loader of a generator, feature network or dataset fails the test when called."""

    def boom(*args, **kwargs):
        pytest.fail("loaded something before refusing the request")

    for target in (ganzoo, importlib.import_module("ganzoo.zoo")):
        monkeypatch.setattr(target, "load", boom)
    monkeypatch.setattr(ganzoo, "create", boom)
    for module in (EVALUATE, RECEIPTS, importlib.import_module("ganzoo.metrics.networks")):
        if hasattr(module, "feature_network"):
            monkeypatch.setattr(module, "feature_network", boom)
    monkeypatch.setattr("ganzoo.metrics.networks.load_classifier", boom)
    monkeypatch.setattr(REAL_DATA, "_load_split", boom)
    monkeypatch.setattr("ganzoo.data.load_dataset", boom)


def _one_line_error(res) -> str:
    assert res.exit_code not in (0, None), res.output
    assert "Traceback" not in res.output and isinstance(res.exception, SystemExit), (res.output, res.exception)
    errors = [line for line in res.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "No such option" not in res.output, res.output  # one line, not a usage slip
    return res.output


# --------------------------------------------------------------------------- High 2: the protocol maximum


@pytest.mark.parametrize("args", [["-n", str(10**12)], ["-n", str(10**9)], ["--batch-size", str(10**9)]])
def test_eval_refuses_work_beyond_the_protocol_maximum_before_loading(args, nothing_heavy):
    out = _one_line_error(CliRunner().invoke(cli, ["eval", "vanilla-mnist", *args]))
    assert "at most" in out and "ganzoo.limits" in out


@pytest.mark.parametrize("path, value", [
    (("protocol", "n"), 10**9),
    (("protocol", "batch_size"), 10**9),
    (("protocol", "kid", "subsets"), 10**9),
    (("protocol", "kid", "subset_size"), 10**9),
    (("protocol", "seed"), 2**70),
    (("protocol", "n"), "10000"),
])
def test_verify_refuses_a_receipt_sizing_work_beyond_the_maximum_before_loading(path, value, tmp_path, nothing_heavy):
    receipt = _shipped_receipt()
    node = receipt
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    file = tmp_path / "receipt.json"
    file.write_text(json.dumps(receipt))
    out = _one_line_error(CliRunner().invoke(cli, ["eval", "dcgan-mnist", "--verify", str(file)]))
    assert path[-1] in out, out
    with pytest.raises(EvalError, match=path[-1]):
        ganzoo.metrics.verify_receipt(receipt, Noise())


def test_evaluate_refuses_a_huge_n_or_seed_before_loading(nothing_heavy):
    with pytest.raises(EvalError, match=r"n must be .*at most"):
        ganzoo.metrics.evaluate(Noise(), "mnist", n=10**12)
    with pytest.raises(EvalError, match="seed"):
        ganzoo.metrics.evaluate(Noise(), "mnist", seed=2**70)


# --------------------------------------------------------------------------- Medium 6 and a Low: what --verify trusts


@pytest.fixture
def reproduced(monkeypatch):
    """`verify_receipt` recomputes to exactly the numbers of the shipped dcgan-mnist receipt (no sampling)."""
    honest = _shipped_receipt()
    monkeypatch.setattr(RECEIPTS, "evaluate", lambda *a, **k: EVALUATE.EvalResult.from_receipt(honest))
    return honest


def test_verify_does_not_trust_the_receipts_own_tolerance(reproduced):
    assert RECEIPTS.verify_receipt(reproduced, Noise()).ok  # control: the honest receipt verifies
    forged = copy.deepcopy(reproduced)
    forged["metrics"]["fid"] *= 0.1
    forged["metrics"]["is"] *= 5
    forged["tolerance"] = {name: [100, 1e6] for name in forged["metrics"]}
    check = RECEIPTS.verify_receipt(forged, Noise())
    assert not check.ok, check.table()
    assert sorted(c["name"] for c in check.checks if not c["ok"]) == ["fid", "is"]
    assert "NOT verified" in check.table() and "tolerance" in check.table()  # says it ignored the file's
    # the caller may still choose a tolerance (documented API option)
    assert RECEIPTS.verify_receipt(forged, Noise(), tolerance={"fid": (10, 0), "is": (1, 0)}).ok


@pytest.mark.parametrize("where", ["metrics", "floor", "cross_check"])
def test_a_receipt_number_given_as_text_is_a_clear_error(where, reproduced, nothing_heavy):
    bad = copy.deepcopy(reproduced)
    if where == "metrics":
        bad["metrics"]["fid"] = "0.75"
    elif where == "floor":
        bad["floor"]["metrics"]["fid"] = "0.2"
    else:
        bad["cross_check"] = [{"feature_network": {"name": "mnist-resnet", "sha256": "x"}, "metrics": {"fid": "1"}}]
    with pytest.raises(EvalError, match="fid"):
        RECEIPTS.verify_receipt(bad, Noise())


# --------------------------------------------------------------------------- Medium 7: cached numbers are bound


@pytest.mark.data
def test_an_edited_floor_cache_is_recomputed(mnist_dir, tmp_path, monkeypatch):
    cache = tmp_path / "stats"
    first = REAL_DATA.real_vs_real("mnist", mnist_dir, n=256, metrics=("fid",), cache_dir=cache)
    (path,) = cache.glob("*floor*.json")
    record = json.loads(path.read_text())
    record["metrics"]["fid"] = 123.0
    path.write_text(json.dumps(record))
    again = REAL_DATA.real_vs_real("mnist", mnist_dir, n=256, metrics=("fid",), cache_dir=cache)
    assert again["metrics"]["fid"] == first["metrics"]["fid"] != 123.0
    assert json.loads(path.read_text())["metrics"]["fid"] == first["metrics"]["fid"]  # rewritten
    # another ganzoo version does not reuse the numbers either
    calls = []
    real = REAL_DATA._features_of_images
    monkeypatch.setattr(REAL_DATA, "_features_of_images", lambda *a, **k: calls.append(1) or real(*a, **k))
    REAL_DATA.real_vs_real("mnist", mnist_dir, n=256, metrics=("fid",), cache_dir=cache)
    assert calls == []  # control: an intact record is reused
    monkeypatch.setattr(ganzoo, "__version__", "999.0")
    REAL_DATA.real_vs_real("mnist", mnist_dir, n=256, metrics=("fid",), cache_dir=cache)
    assert calls == [1]


@pytest.mark.data
def test_edited_reference_statistics_in_the_cache_are_recomputed(mnist_dir, tmp_path, monkeypatch):
    from safetensors import safe_open
    from safetensors.torch import save_file

    monkeypatch.setattr("ganzoo.metrics.shipped.SHIPPED_DIR", tmp_path / "no-shipped-statistics")
    cache = tmp_path / "stats"
    first = REAL_DATA.reference_stats("mnist", mnist_dir, cache_dir=cache)
    (path,) = cache.glob("mnist-test-*.safetensors")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    tensors["mu"] = tensors["mu"] + 5.0  # every later FID moves
    save_file(tensors, str(path), metadata=meta)
    again = REAL_DATA.reference_stats("mnist", mnist_dir, cache_dir=cache)
    assert torch.equal(again.mu, first.mu)


# --------------------------------------------------------------------------- Medium 8: a failed write keeps the old file

FULL_AT = 64 << 10  # bytes: a file may not grow past this while the "disk is full"


@pytest.fixture
def disk_full_later(monkeypatch):
    """``start()`` makes every file stop growing at FULL_AT bytes (RLIMIT_FSIZE, EFBIG), as a full disk does."""
    resource = pytest.importorskip("resource")
    import signal

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    def start():
        resource.setrlimit(resource.RLIMIT_FSIZE, (FULL_AT, hard))

    yield start
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    signal.signal(signal.SIGXFSZ, old_handler)


def test_a_failed_eval_json_keeps_the_previous_receipt(tmp_path, monkeypatch, disk_full_later):
    old = tmp_path / "receipt.json"
    old.write_text(json.dumps(_shipped_receipt()))
    before = old.read_bytes()
    big = _shipped_receipt()
    big["model"] = "x" * (2 * FULL_AT)  # the new receipt does not fit

    def fake_evaluate(*args, **kwargs):
        disk_full_later()
        return EVALUATE.EvalResult.from_receipt(big)

    monkeypatch.setattr("ganzoo.metrics.evaluate", fake_evaluate)
    monkeypatch.setattr("ganzoo.cli.evaluate._resolve_generator", lambda ref, ema: (Noise(), "noise"))
    res = CliRunner().invoke(cli, ["eval", "vanilla-mnist", "-n", "300", "--json", str(old)])
    out = _one_line_error(res)
    assert str(old) in out or old.name in out
    assert old.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["receipt.json"]  # no temporary file left


@pytest.mark.parametrize("fmt", ["npz", "pt", "png"])
def test_a_failed_sample_keeps_the_previous_file(fmt, tmp_path, monkeypatch, disk_full_later):
    old = tmp_path / f"samples.{fmt}"
    res = CliRunner().invoke(cli, ["sample", "vanilla-mnist", "-n", "4", "-o", str(old)])
    assert res.exit_code == 0, res.output
    before = old.read_bytes()
    sampling = importlib.import_module("ganzoo.sampling")

    def fake_sample_batch(g, n, **kwargs):
        disk_full_later()
        x = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
        return x, None, 20

    monkeypatch.setattr(sampling, "sample_batch", fake_sample_batch)
    res = CliRunner().invoke(cli, ["sample", "vanilla-mnist", "-n", "400", "-o", str(old), "--overwrite"])
    _one_line_error(res)
    assert old.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [old.name]


# --------------------------------------------------------------------------- Low: output paths


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
@pytest.mark.parametrize("command", [["sample", "vanilla-mnist", "-n", "4", "-o"],
                                     ["eval", "vanilla-mnist", "-n", "300", "--json"]])
def test_an_output_path_that_is_a_fifo_is_refused(command, tmp_path, nothing_heavy):
    fifo = tmp_path / ("out.png" if command[0] == "sample" else "out.json")
    os.mkfifo(fifo)
    # A reader holds the FIFO open, so that code which wrongly opens it cannot hang this test.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        out = _one_line_error(CliRunner().invoke(cli, [*command, str(fifo)]))
    finally:
        os.close(reader)
    assert "not a regular file" in out


def test_sample_refuses_to_replace_an_existing_file_without_overwrite(tmp_path, monkeypatch):
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n my holiday")
    real_load = ganzoo.load
    monkeypatch.setattr(ganzoo, "load", lambda *a, **k: pytest.fail("loaded before refusing"))
    out = _one_line_error(CliRunner().invoke(cli, ["sample", "vanilla-mnist", "-n", "4", "-o", str(photo)]))
    assert "--overwrite" in out and "exists" in out
    assert photo.read_bytes() == b"\x89PNG\r\n\x1a\n my holiday"
    monkeypatch.setattr(ganzoo, "load", real_load)
    res = CliRunner().invoke(cli, ["sample", "vanilla-mnist", "-n", "4", "-o", str(photo), "--overwrite"])
    assert res.exit_code == 0, res.output
    assert photo.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and b"holiday" not in photo.read_bytes()


# --------------------------------------------------------------------------- Low: seeds, n, settings


@pytest.mark.parametrize("command", [["sample", "vanilla-mnist", "-o", "x.png"], ["eval", "vanilla-mnist"]])
@pytest.mark.parametrize("seed", [str(2**70), str(2**64)])
def test_a_seed_out_of_range_is_refused_before_loading(command, seed, tmp_path, monkeypatch, nothing_heavy):
    monkeypatch.chdir(tmp_path)
    out = _one_line_error(CliRunner().invoke(cli, [*command, "--seed", seed]))
    assert "seed" in out
    assert not (tmp_path / "x.png").exists()


def test_sampling_api_refuses_a_seed_out_of_range():
    from ganzoo.sampling import latent_walk, sample_batch

    with pytest.raises(ConfigError, match="seed"):
        sample_batch(Noise(), 2, seed=2**70)
    with pytest.raises(ConfigError, match="seed"):
        latent_walk(Noise(), rows=1, steps=2, seed=2**70)


@pytest.mark.parametrize("n", ["0", "-5"])
def test_eval_n_below_one_is_refused_before_loading(n, nothing_heavy):
    out = _one_line_error(CliRunner().invoke(cli, ["eval", "vanilla-mnist", "-n", n]))
    assert "n must be" in out


@pytest.mark.parametrize("value", [5, ["a"], {"x": 1}])
def test_a_run_config_with_a_non_text_data_dir_is_a_clear_error(value, tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"model": "vanilla", "dataset": "mnist", "data_dir": value}))
    monkeypatch.setattr("ganzoo.cli.evaluate._resolve_generator", lambda ref, ema: (Noise(), "noise"))
    monkeypatch.setattr("ganzoo.metrics.evaluate", lambda *a, **k: pytest.fail("evaluated with a bad data_dir"))
    out = _one_line_error(CliRunner().invoke(cli, ["eval", str(run), "-n", "300"]))
    assert "data_dir" in out and "config.json" in out and "--data-dir" in out
    # --data-dir given: the run's setting is not needed
    monkeypatch.setattr("ganzoo.metrics.evaluate", lambda *a, **k: EVALUATE.EvalResult.from_receipt(_shipped_receipt()))
    res = CliRunner().invoke(cli, ["eval", str(run), "-n", "300", "--data-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output


def test_limits_document_the_protocol_maximums():
    from ganzoo import limits

    for name in ("MAX_EVAL_SAMPLES", "MAX_EVAL_BATCH_SIZE", "MAX_KID_SUBSETS", "MAX_KID_SUBSET_SIZE", "MAX_SEED"):
        assert isinstance(getattr(limits, name), int), name
    doc = (REPO / "docs/guides/evaluation.md").read_text()
    assert f"{limits.MAX_EVAL_SAMPLES:,}" in doc and "tolerance" in doc
    assert math.isclose(limits.MAX_SEED, 2**64 - 1)
    assert sys.modules["ganzoo.limits"] is limits
