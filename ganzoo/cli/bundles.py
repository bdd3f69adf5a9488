"""Generators as files: ``ganzoo sample`` (grids, .npz, .pt), ``save`` (a run to a bundle), ``pin`` and ``publish``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ganzoo.cli._common import _check_writable, friendly_errors, write_atomic
from ganzoo.cli.evaluate import _data_dir_setting, _naming, _toy_eval


def _parse_labels(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of class numbers, e.g. 0,1,2",
                                 param_hint="--labels") from None


SAMPLE_FORMATS = ("png", "npz", "pt")
MAX_GRID = 10_000  # images in one PNG grid; more is unreadable (raw samples: --format npz)


def _sample_target(out: str | None, fmt: str | None) -> tuple[Path, str]:
    """The output file and its format, checked before anything is sampled."""
    if out is None:
        fmt = fmt or "png"
        return Path(f"samples.{fmt}"), fmt
    suffix = Path(out).suffix.lower().lstrip(".")
    if suffix not in SAMPLE_FORMATS:
        raise click.BadParameter(f"{out!r} must end in .png, .npz or .pt (the file's format)", param_hint="-o")
    if fmt is not None and fmt != suffix:
        raise click.BadParameter(f"--format {fmt} writes a .{fmt} file, but -o names {out!r}; "
                                 f"name it {Path(out).with_suffix('.' + fmt)} or drop --format", param_hint="-o")
    return Path(out), suffix


@click.command(short_help="Draw samples from a generator: a PNG grid, .npz or .pt.")
@click.argument("ref")
@click.option("-n", "--n", "n", type=int,
              help="Number of samples (default 64, or 8 per label for a conditional model; with --interpolate a "
                   "multiple of --steps, default 8 walks).")
@click.option("-o", "--out", type=click.Path(dir_okay=False),
              help="Output file: .png, .npz or .pt (default samples.png).")
@click.option("--labels", help="Class labels for a conditional model, e.g. 0,1,2 (one grid row each; default "
              "every class).")
@click.option("--nrow", type=int, help="Images per grid row (default: one row per label for a conditional model, "
              "else a square grid; a latent walk per row with --interpolate).")
@click.option("--scale", type=int,
              help="Enlarge each image this many times (nearest-neighbour, 1-16). Default: as a run's grids, "
                   "small images to about 64 px (2 for 28- or 32-px images, 1 from 64 px); --scale 1 keeps them.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--interpolate", is_flag=True, help="Latent walks: each row moves between two random codes.")
@click.option("--steps", type=int, default=10, show_default=True, help="Images per latent walk (--interpolate).")
@click.option("--format", "fmt", type=click.Choice(SAMPLE_FORMATS), help="Default: from --out, else png.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--no-ema", is_flag=True, help="For run directories: the raw generator instead of its EMA.")
@click.option("--overwrite", is_flag=True, help="Replace the output file if it exists.")
@friendly_errors
def sample(ref: str, n: int | None, out: str | None, labels: str | None, nrow: int | None, scale: int | None, seed: int,
           interpolate: bool, steps: int, fmt: str | None, device: str, no_ema: bool, overwrite: bool) -> None:
    """Draw samples from REF (pretrained id, bundle, run directory or hf-hub:org/name).

    Writes a PNG grid (for 2-D point models a scatter plot), or the raw samples in [-1, 1]
    with --format npz (arrays `images`, `labels`) or pt (a dict of tensors). A conditional
    model's grid has one row per label (ganzoo's one convention, as in a run's samples/).
    An existing file is replaced only with --overwrite, and whole or not at all.
    """
    import ganzoo
    from ganzoo.devices import pick_device
    from ganzoo.images import MAX_SCALE, readable_scale
    from ganzoo.sampling import check_sample_count, check_seed, latent_walk, sample_batch

    out_path, fmt = _sample_target(out, fmt)
    rows = _walk_rows(n, interpolate, steps)
    if nrow is not None and nrow < 1:
        raise click.BadParameter(f"{nrow} images per row: give at least 1", param_hint="--nrow")
    if scale is not None and not 1 <= scale <= MAX_SCALE:
        raise click.BadParameter(f"scale {scale}: give a whole number from 1 to {MAX_SCALE}", param_hint="--scale")
    check_seed(seed)
    dev = pick_device(device)
    chosen = _parse_labels(labels)
    _check_writable(out_path, "-o", overwrite=overwrite)
    g = ganzoo.load(ref, device=dev, ema=not no_ema)
    if scale is None:
        scale = readable_scale(*g.output_shape[-2:]) if len(g.output_shape) == 3 else 1
    per_label = 8 * (len(chosen) if chosen else (g.num_classes or 0))
    count = rows * steps if interpolate else (n or per_label or 64)
    check_sample_count(g, count)
    if fmt == "png" and len(g.output_shape) == 3 and count > MAX_GRID:
        raise click.BadParameter(f"{count} images make an unreadable grid; at most {MAX_GRID} in a PNG "
                                 "(raw samples: --format npz)", param_hint="-n")
    if interpolate:
        x, y, row_length = latent_walk(g, rows=rows, steps=steps, seed=seed, labels=chosen)
    else:
        x, y, row_length = sample_batch(g, count, seed=seed, labels=chosen)
    if fmt == "png" and len(g.output_shape) == 3:
        _check_grid_size(len(x), nrow or row_length, g.output_shape, scale)
    _write_samples(x, y, nrow or row_length, image=len(g.output_shape) == 3, out_path=out_path, fmt=fmt, scale=scale)
    click.echo(f"wrote {len(x)} samples to {out_path}")


MAX_GRID_PIXELS = 16_384  # a PNG grid's width and height, at most (image viewers give up beyond)


def _check_grid_size(count: int, nrow: int, shape: tuple[int, ...], scale: int) -> None:
    """Refuse a grid wider or taller than :data:`MAX_GRID_PIXELS` before it is drawn."""
    cols = min(nrow, count)
    rows = -(-count // cols)
    width, height = (cols * (shape[-1] * scale + 2) + 2), (rows * (shape[-2] * scale + 2) + 2)
    if max(width, height) > MAX_GRID_PIXELS:
        raise click.BadParameter(f"a grid of {count} images, {cols} per row, at scale {scale} would be {width}x{height} "
                                 f"pixels (at most {MAX_GRID_PIXELS} each way); lower -n or --scale, change --nrow, "
                                 "or write raw samples with --format npz", param_hint="-n")


def _walk_rows(n: int | None, interpolate: bool, steps: int) -> int:
    """Checks -n (and --steps with --interpolate); the number of latent walks (0 without --interpolate)."""
    if n is not None and n < 1:
        raise click.BadParameter(f"{n} samples: give at least 1", param_hint="-n")
    if not interpolate:
        return 0
    if steps < 2:
        raise click.BadParameter(f"a latent walk needs at least 2 images, got {steps}", param_hint="--steps")
    if n is not None and n % steps:
        raise click.BadParameter(f"{n} samples are not whole latent walks of --steps {steps}; give a multiple of "
                                 f"{steps}, e.g. -n {steps * max(1, round(n / steps))}", param_hint="-n")
    return n // steps if n is not None else 8


def _write_samples(x: Any, y: Any, nrow: int, image: bool, out_path: Path, fmt: str, scale: int = 1) -> None:
    """Samples ``x`` (labels ``y``) to ``out_path``: raw (npz, pt), a PNG grid of images, or a scatter of points."""
    from ganzoo.images import save_grid, save_scatter

    def write(tmp: Path) -> None:  # the final file appears only once whole (write_atomic)
        if fmt == "npz":
            import numpy as np

            arrays = {"images": x.numpy()} | ({"labels": y.numpy()} if y is not None else {})
            with open(tmp, "wb") as f:  # a file object: numpy adds no second suffix
                np.savez(f, **arrays)
        elif fmt == "pt":
            import torch

            torch.save({"images": x, "labels": y}, tmp)
        elif image:
            save_grid(x, tmp, nrow=nrow, scale=scale)
        else:
            save_scatter(x, tmp)

    write_atomic(out_path, write)


@click.command("save", short_help="Turn a run directory into a bundle (safetensors, model card).")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.argument("bundle", type=click.Path(file_okay=False))
@click.option("--eval", "do_eval", is_flag=True,
              help="Evaluate and record the receipt (image datasets; 2-D toys print their toy metrics).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Dataset root for --eval.")
@click.option("--no-discriminator", is_flag=True, help="Leave the discriminator out.")
@click.option("--no-ema", is_flag=True, help="Save the raw generator instead of its EMA.")
@click.option("--overwrite", is_flag=True,
              help="Replace the bundle at BUNDLE (only a ganzoo bundle, never RUN itself).")
@click.option("--pretrained-id", help="The pretrained id the bundle will be registered under (e.g. lsgan-mnist).")
@friendly_errors
def save_cmd(run: str, bundle: str, do_eval: bool, data_dir: str | None, no_discriminator: bool, no_ema: bool,
             overwrite: bool, pretrained_id: str | None) -> None:
    """Turn a run directory RUN into a bundle folder BUNDLE (ganzoo.json, safetensors, model card).

    `ganzoo pin BUNDLE` then prints the PretrainedEntry that registers it.
    """
    import ganzoo

    evaluation = None
    if do_eval:
        from ganzoo.checkpoint import find_checkpoint, read_state
        from ganzoo.metrics import evaluate

        state = read_state(find_checkpoint(run))
        g = ganzoo.load(run, ema=not no_ema)
        dataset = state["config"]["dataset"]
        if len(g.output_shape) == 1:  # 2-D points: the toy metrics, not image metrics
            click.echo(_toy_eval(g, dataset))
        else:
            run_data = data_dir or _data_dir_setting(state["config"].get("data_dir"),
                                                     f"{find_checkpoint(run) / 'state.json'}")
            with _naming(dataset, run_data):
                evaluation = evaluate(g, dataset, run_data)
            click.echo(evaluation.table())
    path = ganzoo.save(run, bundle, evaluation=evaluation, discriminator=not no_discriminator, ema=not no_ema,
                       overwrite=overwrite, pretrained_id=pretrained_id)
    click.echo(f"bundle written to {path}")


@click.command(short_help="Print the PretrainedEntry (with sha256) that registers a bundle.")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False))
@click.option("--id", "pretrained_id", help="The pretrained id (default: the bundle's own, from `save --pretrained-id`).")
@click.option("--hub-repo", default="", help="Hub repository the bundle is (or will be) published to, org/name.")
@click.option("--revision", default="main", show_default=True, help="Branch, tag or commit of --hub-repo.")
@click.option("--shipped", is_flag=True, help="The bundle ships inside the plugin package, in pretrained/<id>/.")
@click.option("--json", "as_json", is_flag=True, help="Print the pin as JSON instead of Python.")
def pin(bundle: str, pretrained_id: str | None, hub_repo: str, revision: str, shipped: bool, as_json: bool) -> None:
    """Print the PretrainedEntry that pins BUNDLE (its generator's sha256), to paste into a plugin.

    The sha256 is the one ganzoo.json records for generator.safetensors, checked here
    against the file itself.
    """
    from ganzoo.bundle import read_bundle_meta
    from ganzoo.errors import GanzooError
    from ganzoo.specs import check_name, check_revision

    # What this prints is pasted into a plugin: an entry ganzoo would refuse must not come out of it.
    check_revision(revision, click.BadParameter, "--revision")
    if hub_repo and (hub_repo.count("/") != 1 or not all(hub_repo.split("/"))):
        raise click.BadParameter(f"--hub-repo {hub_repo!r}: expected org/name")
    meta = read_bundle_meta(bundle)
    actual = _generator_sha256(bundle, meta)
    pid = pretrained_id or meta.get("id")
    if not pid:
        raise click.UsageError("the bundle records no pretrained id; give one with --id (e.g. --id lsgan-mnist)")
    try:
        check_name("pretrained id", pid)
    except GanzooError as exc:
        raise click.BadParameter(str(exc), param_hint="--id") from None
    fields = {"id": pid, "dataset": meta.get("dataset") or "", "hub_repo": hub_repo, "revision": revision,
              "sha256": actual}
    if as_json:
        click.echo(json.dumps({**fields, "model": meta.get("model"), "shipped": shipped}, indent=2))
        return
    click.echo(_pretrained_entry_source(fields, shipped))


def _generator_sha256(bundle: str, meta: dict) -> str:
    """The sha256 of the bundle's generator weights, checked against the one its ganzoo.json records."""
    from ganzoo.checkpoint import sha256_file
    from ganzoo.errors import BundleError

    weights = (meta.get("weights") or {}).get("generator") or {}
    file = Path(bundle) / str(weights.get("file", "generator.safetensors"))
    recorded = weights.get("sha256")
    if not file.is_file():
        raise BundleError(f"{bundle} has no {file.name}; save the bundle again with `ganzoo save RUN BUNDLE`")
    actual = sha256_file(file)
    if recorded and recorded != actual:
        raise BundleError(f"{file} does not match the sha256 its ganzoo.json records ({recorded}); "
                          "the file changed after saving: save the bundle again")
    return actual


def _pretrained_entry_source(fields: dict[str, Any], shipped: bool) -> str:
    """The ``PretrainedEntry`` for a plugin's ``pretrained`` dict, as Python source."""
    pid, hub_repo = fields["id"], fields["hub_repo"]
    lines = [f"    {pid!r}: PretrainedEntry" + (".shipped(" if shipped else "(")]
    lines.append("        __file__," if shipped else "")
    for key, value in fields.items():
        if key == "hub_repo" and not value:
            continue
        if key == "revision" and not hub_repo:
            continue
        lines.append(f"        {key}={value!r},")
    lines.append('        description="...",')
    lines.append("    ),")
    return "\n".join(line for line in lines if line)


@click.command(short_help="Publish a bundle or run directory to the Hugging Face Hub.")
@click.argument("source", type=click.Path(exists=True, file_okay=False))
@click.option("--repo", required=True, help="Hub repository, org/name.")
@click.option("--private", is_flag=True, help="Create the repository as private.")
@click.option("--revision", help="Branch to commit to (created when missing; default main).")
@click.option("--message", help="Commit message.")
@friendly_errors
def publish(source: str, repo: str, private: bool, revision: str | None, message: str | None) -> None:
    """Publish a bundle or run directory SOURCE to the Hugging Face Hub as REPO.

    Uploads ganzoo.json, the weights it lists, README.md and samples.png, nothing else; a
    bundle holding links, or weights that fail their sha256, is refused. The token comes from
    HF_TOKEN or `hf auth login`; it is never printed.
    """
    import ganzoo

    url = ganzoo.push_to_hub(source, repo, private=private, revision=revision, message=message)
    click.echo(f"published {source} to {repo}: {url}")
    click.echo(f"load it with: ganzoo.load(\"hf-hub:{repo}{'@' + revision if revision else ''}\")")
