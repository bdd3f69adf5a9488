"""Hostile input, round 3 (issue 22): the data loaders and the training engine.

Each test is an attack from the review: a gzip bomb in an IDX file, links that lead a
training out of its run directory, a run directory deleted under a training, a folder too
large to hold, 16-bit images, disk full, a read-only run, a damaged data order, bad bench
settings, a plugin generator of the wrong shape. None allocates more than a few MB.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import shutil
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

import ganzoo
from ganzoo import limits
from ganzoo.checkpoint import find_checkpoint
from ganzoo.cli import cli
from ganzoo.data import TensorDataset, load_dataset, read_idx
from ganzoo.engine import TrainConfig, Trainer
from ganzoo.errors import CheckpointError, DataError, GanzooError, PluginError

QUIET = dict(quiet=True, sample_every=10**6, checkpoint_every=10**6, log_every=5)
TINY = {"g_hidden": [16, 16], "d_hidden": [16, 16]}
TINY_ARGS = ["--model-arg", "g_hidden=[16]", "--model-arg", "d_hidden=[16]"]


def _run(tmp_path: Path, name: str = "run", steps: int = 4, **kw) -> Trainer:
    cfg = dict(QUIET, model="vanilla", dataset="ring8", batch_size=16, model_args=TINY, steps=steps,
               out=str(tmp_path / name))
    cfg.update(kw)
    return Trainer(TrainConfig(**cfg)).fit()


def _one_line_failure(res, *needles: str) -> str:
    """A CLI result that failed with exit 1, one line, no traceback, saying each of ``needles``."""
    assert res.exit_code == 1, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1, res.output
    for needle in needles:
        assert needle in res.output, res.output
    return res.output


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (links not followed) with the sha256 of its bytes."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ============================================================================ IDX files


def _idx_header(type_code: int, dims: tuple[int, ...]) -> bytes:
    return bytes([0, 0, type_code, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims)


def _mnist_root(tmp_path: Path, images: bytes, labels: bytes, gz: bool = True) -> Path:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    suffix = ".gz" if gz else ""
    for stem, data in (("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels)):
        (raw / (stem + suffix)).write_bytes(gzip.compress(data) if gz else data)
    return tmp_path


def test_a_gzip_bomb_idx_file_is_read_only_up_to_what_its_header_promises(tmp_path):
    """High 1: 2 images promised, 64 MiB of zeros inflated: refused after 2*784 + 1 bytes, no 64 MiB in memory."""
    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as f:
        f.write(_idx_header(0x08, (2, 28, 28)))
        for _ in range(64):
            f.write(bytes(1 << 20))
    assert bomb.stat().st_size < 1 << 20  # a small file
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="more data than its header promises") as err:
            read_idx(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(bomb) in str(err.value) and "download it again" in str(err.value)
    assert peak < 8 << 20, f"reading the bomb took {peak / 2**20:.0f} MiB"


def test_an_idx_header_promising_more_than_the_file_can_hold_is_refused_before_allocating(tmp_path):
    f = tmp_path / "train-images-idx3-ubyte.gz"
    f.write_bytes(gzip.compress(_idx_header(0x08, (60_000_000, 28, 28)) + bytes(1000)))  # 47 GB promised
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="truncated or corrupt"):
            read_idx(f)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_a_plain_idx_file_with_trailing_bytes_is_still_refused(tmp_path):
    f = tmp_path / "x-idx1-ubyte"
    f.write_bytes(_idx_header(0x08, (3,)) + b"\x01\x02\x03" + b"extra")
    with pytest.raises(DataError, match="truncated or corrupt|more data than its header promises"):
        read_idx(f)
    f.write_bytes(_idx_header(0x08, (3,)) + b"\x01\x02\x03")
    assert read_idx(f).tolist() == [1, 2, 3]


@pytest.mark.parametrize("gz", [True, False])
def test_an_idx_file_cut_inside_its_header_is_one_line(tmp_path, gz):
    """Low: a header cut short raised struct.error."""
    f = tmp_path / ("x-idx3-ubyte" + (".gz" if gz else ""))
    data = _idx_header(0x08, (2, 28, 28))[:9]
    f.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DataError, match="cut inside its header") as err:
        read_idx(f)
    assert str(f) in str(err.value)


def test_float32_idx_images_are_refused_naming_the_file(tmp_path):
    """Low: float32 IDX images raised a raw ValueError (torch cannot take big-endian floats)."""
    images = _idx_header(0x0D, (2, 28, 28)) + np.zeros((2, 28, 28), ">f4").tobytes()
    labels = _idx_header(0x08, (2,)) + bytes([1, 2])
    root = _mnist_root(tmp_path, images, labels)
    with pytest.raises(DataError, match="float32") as err:
        load_dataset("mnist", root, download=False)
    assert "train-images-idx3-ubyte.gz" in str(err.value) and "uint8" in str(err.value)


@pytest.mark.parametrize("label, type_code", [(10, 0x08), (255, 0x08), (-1, 0x09)])
def test_labels_out_of_range_are_refused_at_load(tmp_path, label, type_code):
    """Low: a label of 10 in an MNIST file trained, then crashed inside nn.Embedding."""
    images = _idx_header(0x08, (3, 28, 28)) + bytes(3 * 784)
    labels = _idx_header(type_code, (3,)) + np.array([1, label, 2], np.int16).astype(
        np.uint8 if type_code == 0x08 else np.int8).tobytes()
    root = _mnist_root(tmp_path, images, labels)
    with pytest.raises(DataError, match=rf"label {label}\b.*0 to 9") as err:
        load_dataset("mnist", root, download=False)
    assert "train-labels-idx1-ubyte.gz" in str(err.value)


def test_labels_out_of_range_in_a_given_dataset_are_refused_before_training(tmp_path):
    gan = ganzoo.create("cgan", data_shape=(1, 8, 8), num_classes=3, width=8)
    data = TensorDataset("mine", torch.zeros(8, 1, 8, 8, dtype=torch.uint8), torch.tensor([0, 1, 2, 3] * 2), 3)
    with pytest.raises(DataError, match="label 3 .*0 to 2"):
        Trainer(TrainConfig(dataset="mnist", steps=2, batch_size=4, out=str(tmp_path / "run"), **QUIET),
                gan=gan, dataset=data)
    assert not (tmp_path / "run" / "checkpoints").exists()


# ============================================================================ links out of the run


def _move_out(run: Path, name: str, outside: Path) -> Path:
    """Move ``run/name`` to ``outside/name`` and leave a link in its place; returns the target."""
    target = outside / name.replace("/", "_")
    shutil.move(str(run / name), target)
    (run / name).symlink_to(target, target_is_directory=target.is_dir())
    return target


def test_training_does_not_follow_a_checkpoints_link_out_of_the_run_nor_prune_there(tmp_path):
    """High 5: checkpoints/ linked elsewhere: the prune deleted step-* folders (and a user's file) there."""
    run = tmp_path / "run"
    _run(tmp_path, steps=2, checkpoint_every=1)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    target = _move_out(run, "checkpoints", outside)
    (target / "step-00000000").mkdir()
    (target / "step-00000000" / "my-thesis.txt").write_text("years of work")
    before = _tree(outside)
    res = CliRunner().invoke(cli, ["train", "vanilla", "--resume", str(run), "--steps", "6",
                                   "--checkpoint-every", "1", "-q"])
    _one_line_failure(res, "checkpoints", "outside the run directory")
    assert _tree(outside) == before
    assert (target / "step-00000000" / "my-thesis.txt").read_text() == "years of work"


@pytest.mark.parametrize("name", ["samples", "metrics.jsonl", "config.json", "checkpoints/latest.json", ".lock",
                                  "checkpoints/step-00000002"])
def test_no_path_a_training_writes_may_lead_out_of_the_run(tmp_path, name):
    run = tmp_path / "run"
    _run(tmp_path, steps=2, sample_every=1, log_every=1)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    _move_out(run, name, outside)
    before = _tree(outside)
    res = CliRunner().invoke(cli, ["train", "vanilla", "--resume", str(run), "--steps", "4",
                                   "--sample-every", "1", "--checkpoint-every", "1", "-q"])
    _one_line_failure(res, name, "outside the run directory")
    assert _tree(outside) == before


def test_a_new_run_refuses_a_samples_link_out_of_its_folder(tmp_path):
    run, outside = tmp_path / "run", tmp_path / "elsewhere"
    run.mkdir()
    outside.mkdir()
    (outside / "holiday.png").write_bytes(b"not a sample")
    (run / "samples").symlink_to(outside, target_is_directory=True)
    with pytest.raises(CheckpointError, match="outside the run directory"):
        _run(tmp_path, steps=2, sample_every=1)
    assert _tree(outside) == {"holiday.png": hashlib.sha256(b"not a sample").hexdigest()}


def test_links_left_where_a_checkpoint_is_written_are_removed_not_followed(tmp_path):
    """A stray step-N.tmp (or step-N.old) link is dropped; what it points at is left alone."""
    run = tmp_path / "run"
    _run(tmp_path, steps=2)
    outside = tmp_path / "elsewhere"
    (outside / "inner").mkdir(parents=True)
    (outside / "inner" / "keep.txt").write_text("mine")
    (run / "checkpoints" / "step-00000004.tmp").symlink_to(outside, target_is_directory=True)
    (run / "checkpoints" / "step-00000000").symlink_to(outside, target_is_directory=True)  # pruned: never rmtree'd
    t = Trainer(TrainConfig(resume=str(run), steps=4, checkpoint_every=1, quiet=True))
    t.fit()
    assert (outside / "inner" / "keep.txt").read_text() == "mine"
    assert find_checkpoint(run).name == "step-00000004"


# ============================================================================ the run directory removed


def _remove_run_at(trainer: Trainer, step: int, replace: bool) -> None:
    """Make the trainer's step function delete (or replace) its run directory after ``step`` steps."""
    real = trainer._make_step()
    calls = {"n": 0}

    def step_fn(*args):
        out = real(*args)
        calls["n"] += 1
        if calls["n"] == step:
            shutil.rmtree(trainer.run_dir)
            if replace:
                trainer.run_dir.mkdir()
                (trainer.run_dir / "someone-elses.txt").write_text("new folder")
        return out

    trainer._step_fn = step_fn


@pytest.mark.parametrize("replace", [False, True])
def test_a_run_directory_deleted_or_replaced_mid_training_stops_the_run(tmp_path, replace):
    """Medium 9: the trainer silently recreated checkpoints/ and samples/ in a deleted (or new) folder."""
    run = tmp_path / "run"
    t = Trainer(TrainConfig(model="vanilla", dataset="ring8", batch_size=16, model_args=TINY, steps=20,
                            out=str(run), quiet=True, sample_every=4, checkpoint_every=4, log_every=2))
    _remove_run_at(t, 3, replace)
    with pytest.raises(CheckpointError, match="was deleted or replaced while training") as err:
        t.fit()
    assert len(str(err.value).splitlines()) == 1 and str(run) in str(err.value)
    if replace:
        assert sorted(p.name for p in run.iterdir()) == ["someone-elses.txt"]  # nothing written into it
    else:
        assert not run.exists()


# ============================================================================ image folders


def _pngs(folder: Path, n: int, size=(8, 8)) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", size, (i * 20 % 256, 0, 0)).save(folder / f"{i:03d}.png")


def test_a_folder_too_large_to_hold_is_refused_with_its_size_and_the_way_around(tmp_path, monkeypatch):
    """Medium 10: 100,000 tiny PNGs took 3.2 GiB and 149 s without a word."""
    _pngs(tmp_path, 10)
    monkeypatch.setattr(limits, "MAX_DATASET_BYTES", 1000)  # 10 x 3x8x8 = 1,920 bytes
    with pytest.raises(DataError) as err:
        load_dataset("folder", tmp_path, image_shape=(3, 8, 8))
    msg = str(err.value)
    assert "10 images" in msg and "1,920 bytes" in msg and "MAX_DATASET_BYTES" in msg and "data_shape" in msg
    assert len(msg.splitlines()) == 1
    monkeypatch.setattr(limits, "MAX_DATASET_BYTES", 1920)
    assert load_dataset("folder", tmp_path, image_shape=(3, 8, 8)).data.shape == (10, 3, 8, 8)


def test_a_folder_with_too_many_files_is_refused_before_it_is_read(tmp_path, monkeypatch):
    _pngs(tmp_path / "a", 4)
    _pngs(tmp_path / "b", 4)
    monkeypatch.setattr(limits, "MAX_FOLDER_IMAGES", 5)
    opened = []
    from PIL import Image

    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    with pytest.raises(DataError, match="more than 5 images") as err:
        load_dataset("folder", tmp_path, image_shape=(3, 8, 8))
    assert "MAX_FOLDER_IMAGES" in str(err.value) and not opened


def test_a_folder_is_read_into_one_preallocated_tensor(tmp_path, monkeypatch):
    _pngs(tmp_path / "x", 3, size=(8, 8))
    _pngs(tmp_path / "y", 2, size=(12, 10))
    stacked = []
    real_stack = torch.stack
    monkeypatch.setattr(torch, "stack", lambda *a, **k: stacked.append(1) or real_stack(*a, **k))
    ds = load_dataset("folder", tmp_path, image_shape=(3, 8, 8))
    assert ds.data.shape == (5, 3, 8, 8) and ds.data.is_contiguous() and ds.labels.tolist() == [0, 0, 0, 1, 1]
    assert not stacked  # no list of per-image tensors stacked into a second copy


@pytest.mark.parametrize("channels", [1, 3])
def test_16_bit_images_are_scaled_not_clipped_white(tmp_path, channels):
    """Medium 11: I;16 pixels were clipped to 255 by convert()."""
    from PIL import Image

    Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(tmp_path / "deep.png")  # 40000/65535 = 61%
    Image.fromarray(np.full((8, 8), 65535, np.uint16)).save(tmp_path / "white.png")
    ds = load_dataset("folder", tmp_path, image_shape=(channels, 8, 8))
    assert ds.data.shape == (2, channels, 8, 8)
    assert ds.data[0].unique().tolist() == [round(40000 / 257)]  # sorted: deep.png first
    assert ds.data[1].unique().tolist() == [255]


def test_float_images_are_refused_naming_the_file(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((8, 8), 0.5, np.float32)).save(tmp_path / "float.tiff")
    with pytest.raises(DataError, match="float.tiff") as err:
        load_dataset("folder", tmp_path, image_shape=(1, 8, 8))
    assert "32-bit float" in str(err.value)


# ============================================================================ disk full, read-only


def _disk_full_after(monkeypatch, module, n_ok: int) -> None:
    real = module.save_file
    calls = {"n": 0}

    def save_file(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > n_ok:
            raise SafetensorError('Error while serializing: IoError(Os { code: 28, kind: StorageFull, '
                                  'message: "No space left on device" })')
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "save_file", save_file)


def test_disk_full_during_a_checkpoint_is_one_line_and_the_previous_one_is_intact(tmp_path, monkeypatch):
    """Low: a SafetensorError traceback, not a word about the checkpoint before."""
    import ganzoo.checkpoint as checkpoint

    run = tmp_path / "run"
    _run(tmp_path, steps=2)
    before = _tree(run / "checkpoints")
    _disk_full_after(monkeypatch, checkpoint, 2)
    res = CliRunner().invoke(cli, ["train", "vanilla", "--resume", str(run), "--steps", "4", "--checkpoint-every",
                                   "1", "-q"])
    _one_line_failure(res, "No space left on device", "step-00000002", "is intact", f"--resume {run}")
    assert _tree(run / "checkpoints") == before  # no half-written step-00000003(.tmp) left
    monkeypatch.undo()
    assert ganzoo.load(run).sample(3).shape == (3, 2)


def test_disk_full_during_save_is_one_line_and_replaces_nothing(tmp_path, monkeypatch):
    import ganzoo.zoo as zoo

    run = tmp_path / "run"
    _run(tmp_path, steps=2)
    bundle = tmp_path / "bundle"
    ganzoo.save(run, bundle, samples=False)
    before = _tree(bundle)
    _disk_full_after(monkeypatch, zoo, 1)
    res = CliRunner().invoke(cli, ["save", str(run), str(bundle), "--overwrite"])
    _one_line_failure(res, "No space left on device", str(bundle))
    assert _tree(bundle) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "run"]  # no temporary folder left


def test_resume_on_a_read_only_file_system_is_one_line(tmp_path, monkeypatch):
    """Low: the lock's open() raised a raw OSError (EROFS)."""
    import builtins

    import ganzoo.engine.rundir as rundir

    run = tmp_path / "run"
    _run(tmp_path, steps=2)

    def read_only_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+"):
            raise OSError(errno.EROFS, "Read-only file system", str(file))
        return builtins.open(file, mode, *args, **kwargs)

    monkeypatch.setattr(rundir, "open", read_only_open, raising=False)
    res = CliRunner().invoke(cli, ["train", "vanilla", "--resume", str(run), "--steps", "4", "-q"])
    _one_line_failure(res, "Read-only file system", str(run))


# ============================================================================ a damaged data order


@pytest.mark.parametrize("perm", [
    lambda p: p.clone().index_fill_(0, torch.tensor([40]), 10**9),  # out of range: IndexError mid-run
    lambda p: p.float(),  # wrong dtype
    lambda p: p[:100],  # wrong length
    lambda p: torch.zeros_like(p),  # in range, but not a permutation
])
def test_a_damaged_data_order_in_a_checkpoint_is_refused_at_resume(tmp_path, perm):
    """Low: a damaged `perm` in rng.safetensors trained, then crashed with an IndexError."""
    run = tmp_path / "run"
    _run(tmp_path, steps=2)
    rng_file = find_checkpoint(run) / "rng.safetensors"
    rng = load_file(str(rng_file))
    rng["perm"] = perm(rng["perm"]).contiguous()
    save_file(rng, str(rng_file))
    res = CliRunner().invoke(cli, ["train", "vanilla", "--resume", str(run), "--steps", "600", "-q"])
    _one_line_failure(res, "damaged", "perm")


# ============================================================================ bench settings


@pytest.mark.parametrize("seconds", ["nan", "inf", "-inf", "0"])
def test_bench_refuses_seconds_that_are_not_a_finite_positive_number(seconds):
    res = CliRunner().invoke(cli, ["bench", "vanilla", "--dataset", "ring8", "--device", "cpu", "--batch-size", "8",
                                   "--seconds", seconds, *TINY_ARGS])
    _one_line_failure(res, "--seconds", seconds)


def test_bench_refuses_an_absurd_batch_size_before_allocating_data(monkeypatch):
    import ganzoo.benchmark as benchmark

    monkeypatch.setattr(benchmark, "synthetic_dataset", lambda *a, **k: pytest.fail("data allocated"))
    res = CliRunner().invoke(cli, ["bench", "dcgan", "--device", "cpu", "--batch-size", str(10**12)])
    _one_line_failure(res, "--batch-size 1000000000000")


# ============================================================================ a plugin generator of the wrong shape


def test_a_generator_of_the_wrong_output_shape_is_named_before_training(tmp_path):
    """Low: a generator making (n, 3) for output_shape (2,) gave a raw matmul error inside D."""
    gan = ganzoo.create("vanilla", data_shape=(2,), **TINY)
    forward = gan.generator.forward
    gan.generator.forward = lambda z, y=None: torch.cat([forward(z, y), forward(z, y)[:, :1]], 1)
    with pytest.raises(PluginError) as err:
        Trainer(TrainConfig(dataset="ring8", steps=2, batch_size=16, out=str(tmp_path / "run"), **QUIET), gan=gan)
    msg = str(err.value)
    assert "plugin 'vanilla'" in msg and "(3,)" in msg and "output_shape (2,)" in msg
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_generator_that_fails_on_its_first_call_is_named(tmp_path):
    gan = ganzoo.create("vanilla", data_shape=(2,), **TINY)

    def broken(z, y=None):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (4x100 and 99x16)")

    gan.generator.forward = broken
    with pytest.raises(GanzooError, match="plugin 'vanilla'.*mat1 and mat2"):
        Trainer(TrainConfig(dataset="ring8", steps=2, batch_size=16, out=str(tmp_path / "run"), **QUIET), gan=gan)


def test_disk_full_while_writing_samples_or_the_log_is_one_line(tmp_path, monkeypatch):
    import ganzoo.images as images

    run = tmp_path / "run"
    _run(tmp_path, steps=2)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(images, "save_scatter", full)
    res = CliRunner().invoke(cli, ["train", "vanilla", "--resume", str(run), "--steps", "4", "--sample-every", "3",
                                   "-q"])
    _one_line_failure(res, "the sample grid of step 3", "No space left on device", "step-00000002 is intact",
                      f"--resume {run}")
