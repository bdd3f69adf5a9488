"""Scoring a generator: ``ganzoo eval`` (FID, KID, IS, precision, recall; receipts) and the toy metrics."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ganzoo.cli._common import _check_writable, friendly_errors, write_atomic


def _bundle_receipt(ref: str) -> dict:
    """The first evaluation receipt recorded in the bundle that REF names."""
    from pathlib import Path

    from ganzoo.bundle import BUNDLE_FILE, read_bundle_meta
    from ganzoo.zoo import bundle_folder

    if Path(ref).exists() and not (Path(ref) / BUNDLE_FILE).is_file():
        raise click.UsageError(f"{ref!r} is not a bundle with receipts; give the receipt file: --verify RECEIPT.json")
    folder, _ = bundle_folder(ref)
    receipts = read_bundle_meta(folder).get("evaluation") or []
    if not receipts:
        raise click.UsageError(f"the bundle {folder} records no evaluation; run `ganzoo eval {ref}` instead")
    return receipts[0]


def _resolve_generator(ref: str, ema: bool):
    """A pretrained id, bundle, run directory or hf-hub: reference; else a model name (untrained)."""
    from pathlib import Path

    import ganzoo

    if Path(ref).exists() or ref.startswith("hf-hub:") or ref in ganzoo.list_pretrained():
        return ganzoo.load(ref, ema=ema), Path(ref).name
    if ref in ganzoo.list_models():
        click.echo(f"note: {ref!r} is a model name, not a trained generator: scoring an untrained one", err=True)
        return ganzoo.create(ref).generator.eval(), ref
    from ganzoo.errors import UnknownNameError

    raise UnknownNameError("model or pretrained id", ref, ganzoo.list_models() + ganzoo.list_pretrained(),
                           hint="or give a bundle folder, a run directory or hf-hub:org/name")


@click.command("eval", short_help="Score a generator (FID, KID, IS, precision, recall).")
@click.argument("ref", required=False)
@click.option("--dataset", help="Dataset to score against (default: the one REF records, else mnist). mnist and "
              "fashion-mnist use ganzoo's classifiers, other image datasets (cifar10, folder, a plugin's) "
              "Inception-v3 (`ganzoo fetch inception`) or the network a plugin gives them.")
@click.option("--inception-weights", type=click.Path(dir_okay=False, exists=True),
              help="FID Inception-v3 weights (safetensors); default $GANZOO_INCEPTION_WEIGHTS or "
                   "~/.cache/ganzoo/weights/pt_inception-2015-12-05.safetensors.")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Dataset root, or the image folder (default: the run's own, else $GANZOO_DATA).")
@click.option("-n", "--n", "n", type=int, default=10_000, show_default=True, help="Generated samples.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--batch-size", type=int, default=500, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--metrics", help="Comma-separated subset of: fid, kid, is, precision, recall, confident, label_accuracy.")
@click.option("--no-ema", is_flag=True, help="Score the raw generator of a run instead of its EMA.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the receipt here.")
@click.option("--verify", "verify", is_flag=False, flag_value="-", default=None, metavar="[RECEIPT]",
              help="Recompute a receipt (a JSON file; without one, the receipt in REF's bundle) and check it.")
@friendly_errors
def eval_cmd(ref: str | None, dataset: str | None, inception_weights: str | None, data_dir: str | None, n: int, seed: int, batch_size: int, device: str,
             metrics: str | None, no_ema: bool, json_out: str | None, verify: str | None) -> None:
    """Score a generator (REF: pretrained id, bundle, run directory or hf-hub:org/name) with ganzoo's fixed protocol.

    Prints FID, KID, IS, precision, recall and the confident share (and label accuracy
    for conditional models) beside the real-vs-real floor, on each of the dataset's
    feature networks (MNIST family: two, built independently), and writes a receipt with --json.
    `ganzoo eval RUN --verify receipt.json` recomputes a receipt and checks it.
    """
    from ganzoo.metrics import evaluate, verify_receipt
    from ganzoo.metrics.protocol import check_protocol
    from ganzoo.metrics.receipts import read_receipt

    if inception_weights:
        import os

        os.environ["GANZOO_INCEPTION_WEIGHTS"] = inception_weights
    if ref is None:
        raise click.UsageError("give a run directory (or model name) to evaluate")
    # Everything that sizes the work is checked before anything is loaded: a receipt's protocol
    # (anyone may have written it) or -n/--batch-size/--seed, against the protocol maximum.
    receipt = read_receipt(_bundle_receipt(ref) if verify == "-" else verify) if verify else None
    if receipt is None:
        check_protocol(n, seed, batch_size)
    from ganzoo.devices import pick_device

    device = pick_device(device)
    if json_out:  # checked now: an evaluation takes minutes, and its receipt must not be lost at the end
        _check_writable(Path(json_out), "--json")
    recorded = _recorded_dataset(ref)
    if data_dir is None and (dataset is None or dataset == recorded):  # a run remembers where its data was
        data_dir = _run_data_dir(ref)
    dataset = dataset or recorded or "mnist"
    generator, name = _resolve_generator(ref, ema=not no_ema)
    if receipt is not None:
        with _naming(dataset if verify is None else receipt["reference"]["dataset"], data_dir):
            result = verify_receipt(receipt, generator, data_dir=data_dir, device=device)
        click.echo(result.table())
        if not result.ok:
            sys.exit(1)
        return
    chosen = tuple(m.strip() for m in metrics.split(",")) if metrics else None
    with _naming(dataset, data_dir):
        result = evaluate(generator, dataset, data_dir, n=n, seed=seed, batch_size=batch_size, device=device,
                          metrics=chosen, model_name=name)
    click.echo(result.table())
    if json_out:
        text = result.to_json()
        write_atomic(Path(json_out), lambda tmp: tmp.write_text(text))
        click.echo(f"receipt written to {json_out}")


def _recorded_dataset(ref: str) -> str | None:
    """The dataset a run directory, bundle folder or pretrained id REF records, or None (nothing is downloaded)."""
    from ganzoo.errors import GanzooError
    from ganzoo.weights import read_json

    path = Path(ref)
    for name in ("config.json", "ganzoo.json"):  # a run directory, a bundle folder
        if (path / name).is_file():
            try:
                saved = read_json(path / name, "saved configuration", GanzooError)
            except GanzooError:
                return None  # loading REF says what is wrong with it
            dataset = saved.get("dataset") if isinstance(saved, dict) else None
            return dataset if isinstance(dataset, str) and dataset else None
    if not path.exists() and not ref.startswith("hf-hub:"):
        import ganzoo

        if ref in ganzoo.list_pretrained():
            return ganzoo.get_pretrained(ref)[1].dataset or None
    return None


class _naming:
    """Errors of an evaluation name the dataset (and data folder) it was scored against."""

    def __init__(self, dataset: str, data_dir: str | None) -> None:
        self.where = f"dataset {dataset!r}" + (f" (data {data_dir})" if data_dir else "")
        self.dataset = dataset

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        from ganzoo.errors import DataError, EvalError

        if isinstance(exc, (EvalError, DataError)) and repr(self.dataset) not in str(exc) \
                and f"dataset {self.dataset}" not in str(exc):
            try:
                raise type(exc)(f"{self.where}: {exc}") from exc
            except TypeError:
                return False  # an error class with other arguments: its own message
        return False


def _run_data_dir(ref: str) -> str | None:
    """The dataset root a run directory REF trained on (its config.json), or None."""
    cfg = Path(ref) / "config.json"
    if not cfg.is_file():
        return None
    from ganzoo.errors import CheckpointError
    from ganzoo.weights import read_json

    saved = read_json(cfg, "run configuration", CheckpointError, "; give --data-dir")
    return _data_dir_setting(saved.get("data_dir"), str(cfg)) if isinstance(saved, dict) else None


def _data_dir_setting(value: Any, source: str) -> str | None:
    """A run's recorded ``data_dir`` (text or null), else a one-line error naming ``source`` and the fix."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and "\0" not in value:
        return value
    raise click.ClickException(f"{source} records data_dir {value!r}, which is not a folder name; give the "
                               "dataset root with --data-dir")


def _toy_eval(g: Any, dataset: str) -> str:
    """``save --eval`` for a 2-D point model: the toy metrics, printed (bundles record image receipts)."""
    from ganzoo.data import TOYS

    note = "not recorded in the bundle: its evaluation receipts are for image datasets"
    if dataset not in TOYS:
        return f"no sample-quality metrics for the point dataset {dataset!r}; the bundle has no receipt"
    import torch

    from ganzoo.metrics import toy_metrics

    m = toy_metrics(g.sample(2500, generator=torch.Generator().manual_seed(0)), dataset)
    return (f"{dataset}: {m['modes_covered']} of {m['num_modes']} modes covered, {m['high_quality']:.1%} "
            f"high-quality samples, reverse KL {m['reverse_kl']:.3f} (2,500 samples, seed 0; {note})")
