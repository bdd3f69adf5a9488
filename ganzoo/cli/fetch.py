"""``ganzoo fetch``: get the weights evaluation needs (the FID Inception-v3), checked and converted."""

from __future__ import annotations

import click

from ganzoo.cli._common import friendly_errors


@click.command("fetch", short_help="Download the FID Inception-v3 weights evaluation needs.")
@click.argument("what", type=click.Choice(["inception"]))
@click.option("--from", "source", type=click.Path(dir_okay=False, exists=True),
              help="Convert this pt_inception-2015-12-05-6726825d.pth (downloaded elsewhere) instead of downloading.")
@click.option("--force", is_flag=True, help="Download (or convert) again even when the weights are there.")
@click.option("--any-file", is_flag=True,
              help="With --from: convert a file whose sha256 is not the standard one's (a file you trust).")
@friendly_errors
def fetch(what: str, source: str | None, force: bool, any_file: bool) -> None:
    """Get WHAT (inception: the FID Inception-v3 that scores every image dataset without a network of its own).

    Downloads pytorch-fid's pt_inception-2015-12-05-6726825d.pth from its GitHub release, checks its
    sha256, converts it to safetensors with tensors-only loading and caches it where `ganzoo eval`
    looks ($GANZOO_INCEPTION_WEIGHTS, else $GANZOO_CACHE/weights/, default ~/.cache/ganzoo/weights/).
    """
    from ganzoo.metrics import inception

    if any_file and source is None:
        raise click.UsageError("--any-file goes with --from FILE (a download is always checked)")
    if source is None and not force and not inception.default_weights_path().is_file():
        click.echo(f"downloading {inception.PTH_URL} ({inception.PTH_BYTES / 2**20:.0f} MiB)", err=True)
    path, done = inception.fetch_inception(source=source, force=force, check_hash=not any_file)
    click.echo(f"FID Inception-v3 weights {'already at' if done == 'present' else 'written to'} {path}")
