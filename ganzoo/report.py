"""The run report: one self-contained HTML page per run, or several runs compared.

A page a person would rather look at than ``metrics.jsonl``: a summary (model, dataset, steps,
training time, device, the last evaluation, the doctor's verdict), curves (losses, D(x) and
D(G(z)), gradient norms, learning rates, images/s, evaluated metrics) with the doctor's
findings marked where they start, the sample timeline (the fixed-noise grids of ``samples/``
over training), and the config. For several runs, the curves are overlaid and a table shows
where their configs differ.

Everything is embedded (PNG images as data URIs, inline CSS); the page loads no script, font
or image from anywhere. The charts are drawn by matplotlib (the ``report`` extra:
``pip install 'ganzoo[report]'``).

Example:
    >>> from ganzoo.report import write_report
    >>> write_report(["runs/dcgan-mnist-1"], "report.html")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from ganzoo.doctor import Diagnosis, diagnose_read, probability_outputs, read_run
from ganzoo.errors import ConfigError

MAX_GRIDS = 12  # sample grids shown on the timeline, evenly spread over the run
MAX_GRID_BYTES = 4 << 20  # a grid larger than this is left out of the page (named instead)
DX_TITLE = "D(x) and D(G(z))"
CURVES = (  # (title, log keys, log scale)
    ("Losses", ("loss_d", "loss_g"), False),
    (DX_TITLE, ("D(x)", "D(G(z))"), False),
    ("Gradient norms", ("grad_norm_d", "grad_norm_g"), True),
    ("Learning rates", ("lr_g", "lr_d"), True),
    ("Training speed (images/s)", ("images_per_s",), False),
)


def _matplotlib() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no window, no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError("the run report draws its charts with matplotlib: pip install 'ganzoo[report]'") from None
    return plt


class Run:
    """What the report shows of one run directory."""

    def __init__(self, path: str | Path, *, samples: bool = True):
        self.path = Path(path)
        self.config, self.rows = read_run(self.path)  # read once: the curves show what the doctor judged
        self.train = [r for r in self.rows if "loss_d" in r]
        self.evals = [(r["step"], r["eval"]) for r in self.rows if isinstance(r.get("eval"), dict)]
        self.diagnosis: Diagnosis = diagnose_read(self.path, self.config, self.rows, samples=samples)
        self.name = self.path.name

    def series(self, key: str) -> tuple[list[int], list[float]]:
        pts = [(r["step"], float(r[key])) for r in self.train
               if isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool)]
        return [s for s, _ in pts], [v for _, v in pts]

    def seconds(self) -> float:
        """Training time: each row's ``time`` counts from its process's start, so a resume starts again at 0."""
        total, last = 0.0, 0.0
        for r in self.train:
            t = r.get("time")
            if not isinstance(t, (int, float)) or isinstance(t, bool):
                continue
            if t < last:  # a resumed process
                total += last
            last = float(t)
        return total + last

    def grids(self) -> list[tuple[int, Path]]:
        folder = self.path / "samples"
        found = []
        for file in folder.glob("step-*.png") if folder.is_dir() else []:
            try:
                found.append((int(file.stem.split("-")[1]), file))
            except (IndexError, ValueError):
                continue
        found.sort()
        if len(found) > MAX_GRIDS:  # evenly spread, first and last kept
            picks = {round(i * (len(found) - 1) / (MAX_GRIDS - 1)) for i in range(MAX_GRIDS)}
            found = [found[i] for i in sorted(picks)]
        return found


# --------------------------------------------------------------------------- charts


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    _matplotlib().close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _titled(title: str, runs: list[Run]) -> str:
    """A panel's title; D's outputs are probabilities only under a logit loss (a hinge or critic
    loss logs D's raw scores under the same names)."""
    if title == DX_TITLE and not all(probability_outputs(r.train, r.config) for r in runs):
        return f"{title}: raw scores, not probabilities, for {', '.join(sorted({str(r.config.get('loss')) for r in runs}))}"
    return title


def _curve(runs: list[Run], title: str, keys: tuple[str, ...], log: bool) -> str | None:
    title = _titled(title, runs)
    plt = _matplotlib()
    lines = [(run, key, *run.series(key)) for run in runs for key in keys]
    lines = [item for item in lines if item[2]]
    if not lines:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    for run, key, steps, values in lines:
        label = key if len(runs) == 1 else f"{run.name}: {key}"
        ax.plot(steps, values, label=label, linewidth=1.2, marker="o" if len(steps) < 5 else None, markersize=4)
    for run in runs:  # where the doctor's findings start
        for f in run.diagnosis.findings:
            if f.steps and f.code != "healthy":
                ax.axvline(f.steps[0], color="#c0392b" if f.severity == "failing" else "#e67e22",
                           linestyle="--", linewidth=1)
    if log and all(v > 0 for *_, values in lines for v in values):
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def _eval_curve(runs: list[Run]) -> str | None:
    plt = _matplotlib()
    keys = sorted({k for run in runs for _, e in run.evals for k, v in e.items() if isinstance(v, (int, float))})
    if not keys:
        return None
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3.0), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for run in runs:
            pts = [(s, e[key]) for s, e in run.evals if isinstance(e.get(key), (int, float))]
            if pts:
                ax.plot(*zip(*pts), marker="o", markersize=3, label=run.name)
        ax.set_title(key)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    if len(runs) > 1:
        axes[0][0].legend(fontsize=8)
    return _png(fig)


# --------------------------------------------------------------------------- the page


def _esc(value: Any) -> str:
    """Text between tags."""
    return html.escape(str(value), quote=False)


def _attr(value: Any) -> str:
    """A value inside a quoted attribute."""
    return html.escape(str(value), quote=True)


def _summary(run: Run) -> str:
    cfg = run.config
    steps = run.train[-1]["step"] if run.train else 0
    last_eval = run.evals[-1] if run.evals else None
    rows = [
        ("model", f"{cfg.get('model')} ({cfg.get('loss')})"),
        ("dataset", cfg.get("dataset")),
        ("steps", f"{steps:,} logged of {cfg.get('steps') or '?'}" if cfg.get("steps") else f"{steps:,} logged"),
        ("training time", f"{run.seconds() / 60:.1f} min"),
        ("device", f"{cfg.get('device', '?')}, precision {cfg.get('precision', '?')}"),
        ("batch, learning rates", f"{cfg.get('batch_size')}, G {cfg.get('lr_g')}, D {cfg.get('lr_d')}"),
        ("last evaluation", "none during training (--eval-every)" if last_eval is None else
         f"step {last_eval[0]:,}: " + ", ".join(f"{k} {v:.4g}" for k, v in last_eval[1].items()
                                               if isinstance(v, (int, float)))),
    ]
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    return f"<table class='summary'>{body}</table>"


def _findings(run: Run) -> str:
    d = run.diagnosis
    items = []
    for f in d.findings:
        where = f" (steps {f.steps[0]:,}-{f.steps[1]:,})" if f.steps else ""
        advice = f"<div class='advice'>advice: {_esc(f.advice)}</div>" if f.advice else ""
        items.append(f"<li class='{_attr(f.severity)}'><b>{_esc(f.code)}</b>{_esc(where)}: {_esc(f.message)}{advice}</li>")
    for f in d.not_judged:
        items.append(f"<li class='not-judged'>not judged yet: <b>{_esc(f.code)}</b>: {_esc(f.message)}</li>")
    checked = "".join(f"<li>{_esc(c)}</li>" for c in d.checked)
    kind = "early" if d.early else d.verdict
    return (f"<p class='verdict {_attr(kind)}'>doctor: <b>{_esc(d.headline)}</b></p><ul>{''.join(items)}</ul>"
            f"<details><summary>what the doctor looked at</summary><ul>{checked}</ul></details>")


def _timeline(run: Run) -> str:
    cells = []
    for step, file in run.grids():
        if file.is_symlink() or not file.is_file() or file.stat().st_size > MAX_GRID_BYTES:
            cells.append(f"<figure><figcaption>step {step:,}: {_esc(file.name)} left out</figcaption></figure>")
            continue
        data = base64.b64encode(file.read_bytes()).decode()
        cells.append(f"<figure><img alt='samples at step {step:,}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>step {step:,}</figcaption></figure>")
    if not cells:
        return "<p>No sample grids in samples/ (--sample-every).</p>"
    return f"<div class='timeline'>{''.join(cells)}</div>"


# Keys of config.json that do not change what is trained: not shown as a difference between runs.
NOT_SETTINGS = ("out", "resume", "changes", "quiet", "doctor", "report", "tensorboard", "loggers", "hardware",
                "download", "sample_every", "checkpoint_every", "keep_checkpoints", "num_samples")


def _config_diff(runs: list[Run]) -> str:
    keys = sorted({k for run in runs for k in run.config})
    differ = [k for k in keys if len({json.dumps(run.config.get(k), sort_keys=True) for run in runs}) > 1]
    differ = [k for k in differ if k not in NOT_SETTINGS]
    if not differ:
        return "<p>The runs' configs are the same (apart from their folders).</p>"
    head = "".join(f"<th>{_esc(run.name)}</th>" for run in runs)
    body = "".join(f"<tr><th>{_esc(k)}</th>" + "".join(f"<td>{_esc(json.dumps(run.config.get(k)))}</td>"
                                                         for run in runs) + "</tr>" for k in differ)
    return f"<table class='diff'><tr><th>setting</th>{head}</tr>{body}</table>"


CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; } th, td { text-align: left; padding: 0.2em 0.8em;
  border-bottom: 1px solid #eee; vertical-align: top; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 0.6em; }
.charts img { max-width: 100%; border: 1px solid #eee; }
.timeline { display: flex; flex-wrap: wrap; gap: 0.6em; }
.timeline figure { margin: 0; } .timeline img { width: 250px; image-rendering: pixelated; border: 1px solid #ddd; }
figcaption { font-size: 0.8em; color: #555; text-align: center; }
.verdict { font-size: 1.1em; } .healthy b { color: #1e8449; } .early b { color: #5d6d7e; } .warning b { color: #b9770e; }
.failing b { color: #c0392b; } .advice { color: #555; margin-left: 1em; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
"""


def render(runs: list[Run]) -> str:
    """The report page for ``runs`` as one HTML string (no external resource)."""
    charts = [c for title, keys, log in CURVES if (c := _curve(runs, title, keys, log))]
    if (e := _eval_curve(runs)) is not None:
        charts.append(e)
    title = runs[0].name if len(runs) == 1 else f"{len(runs)} runs compared"
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>ganzoo report: {_esc(title)}</title>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{CSS}</style></head><body>",
             f"<h1>ganzoo report: {_esc(title)}</h1>"]
    if len(runs) > 1:
        parts += ["<h2>How the runs differ</h2>", _config_diff(runs)]
    for run in runs:
        parts += [f"<h2>{_esc(run.name)}</h2>", f"<p><code>{_esc(run.path)}</code></p>", _summary(run), _findings(run)]
    parts += ["<h2>Curves</h2>", "<p>Dashed lines: where the doctor's findings start (orange warning, red failing).</p>",
              "<div class='charts'>" + "".join(f"<img alt='chart' src='{c}'>" for c in charts) + "</div>"]
    for run in runs:
        parts += [f"<h2>Samples over training: {_esc(run.name)}</h2>",
                  "<p>The same fixed noise at every grid, so a grid shows how the generator changed.</p>", _timeline(run)]
    for run in runs:
        parts += [f"<h2>Config: {_esc(run.name)}</h2>", f"<pre>{_esc(json.dumps(run.config, indent=2))}</pre>"]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(run_dirs: list[str | Path], out: str | Path, *, samples: bool = True) -> Path:
    """Write the report of one or more run directories to ``out`` (an ``.html`` file).

    Args:
        run_dirs: run directories (``runs/<model>-<dataset>-<time>/``).
        out: the HTML file to write (replaced atomically; its folder must exist).
        samples: let the doctor compare samples with the data (see :func:`ganzoo.doctor.diagnose`).

    Returns:
        The path written.
    """
    if not run_dirs:
        raise ConfigError("give at least one run directory")
    _matplotlib()  # the one-line message about the extra, before any work
    out = Path(out)
    page = render([Run(p, samples=samples) for p in run_dirs])
    _replace(out, page.encode("utf-8"))
    return out


def _replace(out: Path, data: bytes) -> None:
    """Write ``out`` whole or not at all (:func:`ganzoo.fsio.write_bytes`); a link or a folder there is refused."""
    from ganzoo.fsio import write_bytes

    if out.is_symlink() or (out.exists() and not out.is_file()):
        raise ConfigError(f"{out} exists and is not a regular file; choose another output path")
    write_bytes(out, data)


def write_curves_png(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """The run's curves as one PNG (``curves.png`` in the run directory by default), for a terminal user."""
    plt = _matplotlib()
    run = Run(run_dir, samples=False)
    panels = [(title, keys, log) for title, keys, log in CURVES if any(run.series(k)[0] for k in keys)]
    if not panels:
        raise ConfigError(f"{run_dir} has no logged steps yet")
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 2.4 * len(panels)), squeeze=False, constrained_layout=True)
    panels = [(_titled(title, [run]), keys, log) for title, keys, log in panels]
    for ax, (title, keys, log) in zip(axes[:, 0], panels):
        for key in keys:
            steps, values = run.series(key)
            if steps:
                ax.plot(steps, values, label=key, linewidth=1.2, marker="o" if len(steps) < 5 else None, markersize=4)
        if log and all(v > 0 for k in keys for v in run.series(k)[1]):
            ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[-1, 0].set_xlabel("step")
    out = Path(out) if out is not None else run.path / "curves.png"
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    _replace(out, buf.getvalue())
    return out
