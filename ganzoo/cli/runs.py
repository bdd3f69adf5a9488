"""Reading runs: ``ganzoo doctor`` (is it failing, why, what to change) and ``ganzoo report`` (an HTML page)."""

from __future__ import annotations

import json

import click

from ganzoo.cli._common import _one_line, friendly_errors


class DoctorError(click.ClickException):
    """The run could not be read: exit status 3, apart from the verdicts' 0, 1 and 2."""

    exit_code = 3


@click.command("doctor", short_help="Diagnose a run: healthy, warning or failing, and what to change.")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON.")
@click.option("--no-samples", is_flag=True,
              help="Read the log only: no checkpoint loaded, no samples compared with the data.")
@click.option("-n", "--n", "n", type=int, default=512, show_default=True,
              help="Samples (and real images) compared, 16 to 10,000.")
@click.option("--device", default="cpu", show_default=True)
def doctor(run: str, as_json: bool, no_samples: bool, n: int, device: str) -> None:
    """Diagnose the run directory RUN (finished, stopped or still training).

    Reads its metrics.jsonl (D(x), D(G(z)), losses, gradient norms, evaluations) and compares
    a fixed batch of samples from its latest checkpoint with the data. Each finding has a code
    (divergence, discriminator-wins, vanishing-generator-gradient, oscillation,
    discriminator-overfitting, mode-collapse, no-progress), a severity, the steps where it
    holds, the evidence and advice in ganzoo's flags.

    Exit status: 0 healthy, 1 warning, 2 failing, 3 the run could not be read.
    """
    from ganzoo.devices import pick_device
    from ganzoo.doctor import diagnose
    from ganzoo.errors import GanzooError

    try:
        diagnosis = diagnose(run, samples=not no_samples, n=n, device=str(pick_device(device)))
    except GanzooError as exc:
        raise DoctorError(_one_line(exc)) from exc
    click.echo(json.dumps(diagnosis.to_json(), indent=2, allow_nan=False) if as_json else diagnosis.text())
    raise click.exceptions.Exit(diagnosis.exit_code)


@click.command("report", short_help="Write an HTML report of runs: curves, samples, findings.")
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--out", default="report.html", show_default=True, type=click.Path(dir_okay=False),
              help="The HTML file to write.")
@click.option("--no-samples", is_flag=True, help="The doctor reads the logs only (no checkpoint, no data).")
@friendly_errors
def report(runs: tuple[str, ...], out: str, no_samples: bool) -> None:
    """Write one self-contained HTML page about RUNS: summary, the doctor's findings, curves,
    the sample timeline and the config; several runs are overlaid, with their config
    differences in a table. Nothing in the page is loaded from the network.
    """
    from ganzoo.report import write_report

    path = write_report(list(runs), out, samples=not no_samples)
    click.echo(f"wrote {path} ({path.stat().st_size / 1024:,.0f} KB): open it in a browser")
