"""The GAN doctor: reads a run directory and says whether the run is failing, why, and what to change.

Two kinds of evidence, both from what a run already records:

* the training log (``metrics.jsonl``): D(x) and D(G(z)), both losses, both gradient norms,
  evaluations made during training (``--eval-every``), and the engine's record of a divergence;
* the latest checkpoint: a fixed batch of samples from the generator (the EMA one when the run
  keeps it) against a batch of the real data, in pixel space (which exists for every dataset),
  by class where a feature network with classes exists, and by mode for the 2-D toys; and the
  discriminator's signs on training against held-out images (StyleGAN2-ADA's r_t).

Each finding has a stable code (:data:`CODES`), a severity (``warning`` or ``failing``), the
steps where it holds, the numbers it saw against its threshold, and advice in ganzoo's own flags.
The verdict is the worst severity (``healthy`` when there is no finding); :attr:`Diagnosis.exit_code`
is 0, 1 or 2 accordingly.

Example:
    >>> from ganzoo.doctor import diagnose_log
    >>> rows = [{"step": 100 * i, "loss_d": 1.3, "loss_g": 0.8, "D(x)": 0.55, "D(G(z))": 0.45,
    ...          "grad_norm_d": 2.0, "grad_norm_g": 1.0} for i in range(1, 21)]
    >>> diagnose_log(rows, {"model": "dcgan", "loss": "non-saturating", "lr_g": 2e-4, "lr_d": 2e-4}).verdict
    'healthy'
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ganzoo.errors import ConfigError, GanzooError

CODES = {
    "divergence": "a loss, a gradient norm or the weights became NaN or infinite",
    "discriminator-wins": "D separates real from fake almost perfectly for a sustained stretch",
    "vanishing-generator-gradient": "G's gradient norm collapsed relative to its own early value",
    "oscillation": "the game swings with large amplitude and no trend",
    "discriminator-overfitting": "D is far more confident on the training images than on held-out ones",
    "mode-collapse": "the samples are far less diverse than the data, or miss classes or modes",
    "no-progress": "the metrics evaluated during training stopped improving",
    "healthy": "no finding",
}
"""The finding codes, with what each means."""

SEVERITY_ORDER = {"healthy": 0, "warning": 1, "failing": 2}

# Thresholds: each is stated in the finding's evidence, so a user can judge the margin.
WIN_DX, WIN_DGZ = 0.95, 0.05  # D(x) at least, D(G(z)) at most: "almost perfectly"
WIN_SHARE = 0.2  # of the log rows, in one stretch: "sustained"
GRAD_FALL_WARN, GRAD_FALL_FAIL = 20.0, 100.0  # early / late median of G's gradient norm
SWING_PROB = 0.35  # p90 - p10 of D(x) around its trend (probability outputs), second half of the run
SWING_CROSSINGS = 4  # the swings must go back and forth, not drift once
STALL_RATIO = 1.15  # last evaluation worse than the best by this factor
SPREAD_WARN, SPREAD_FAIL = 0.5, 0.25  # samples' mean pairwise distance / the data's
CLASS_MISSING = 0.25  # a class with under this share of its fair 1/K is missing
OVERFIT_RT, OVERFIT_GAP = 0.6, 0.3  # r_t on training images, and its lead over held-out ones
MAX_LOG_BYTES = 256 << 20  # metrics.jsonl read at most (a week of logging every step is far less)


@dataclass
class Finding:
    """One thing the doctor found.

    Attributes:
        code: a key of :data:`CODES`.
        severity: ``"warning"``, ``"failing"``, or ``"healthy"`` for the no-finding finding.
        steps: ``(first, last)`` step where it holds, or ``None`` when it is about the end state.
        evidence: the numbers seen, and the thresholds they were held against.
        message: one line saying what was seen.
        advice: what to change, in ganzoo's flags.
    """

    code: str
    severity: str
    steps: tuple[int, int] | None
    evidence: dict[str, Any]
    message: str
    advice: str = ""


@dataclass
class Diagnosis:
    """The doctor's report on one run: its findings, verdict and what it looked at."""

    run: str
    findings: list[Finding] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        worst = max((SEVERITY_ORDER.get(f.severity, 0) for f in self.findings), default=0)
        return {0: "healthy", 1: "warning", 2: "failing"}[worst]

    @property
    def exit_code(self) -> int:
        """0 healthy, 1 warning, 2 failing: for scripts and CI."""
        return SEVERITY_ORDER[self.verdict]

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "verdict": self.verdict, "checked": self.checked,
                "findings": [asdict(f) for f in self.findings]}

    def text(self) -> str:
        """The report as a person reads it in a terminal."""
        lines = [f"ganzoo doctor: {self.run}: {self.verdict}"]
        lines += [f"  checked: {c}" for c in self.checked]
        for f in self.findings:
            if f.code == "healthy":
                lines.append(f"  {f.message}")
                continue
            where = f" (steps {f.steps[0]:,}-{f.steps[1]:,})" if f.steps else ""
            lines.append(f"  {f.severity}: {f.code}{where}: {f.message}")
            if f.advice:
                lines.append(f"    advice: {f.advice}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- reading a run


def read_log(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of ``metrics.jsonl`` that parse as JSON objects with a step (a torn line is skipped)."""
    file = Path(run_dir) / "metrics.jsonl"
    if not file.is_file():
        return []
    with open(file, "rb") as f:
        raw = f.read(MAX_LOG_BYTES)
    rows = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int):
            rows.append(row)
    return rows


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _series(rows: list[dict[str, Any]], key: str) -> list[tuple[int, float]]:
    return [(r["step"], v) for r in rows if (v := _number(r.get(key))) is not None]


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return (s[n // 2] + s[(n - 1) // 2]) / 2 if n else math.nan


def _quantile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


# --------------------------------------------------------------------------- log checks


def _divergence(rows: list[dict[str, Any]], cfg: dict[str, Any], run: str) -> list[Finding]:
    watched = ("loss_d", "loss_g", "grad_norm_d", "grad_norm_g", "D(x)", "D(G(z))")
    for r in rows:
        what = r.get("diverged")
        bad = [k for k in watched if (v := _number(r.get(k))) is not None and not math.isfinite(v)]
        if what or bad:
            lr_g, lr_d = _number(cfg.get("lr_g")) or 2e-4, _number(cfg.get("lr_d")) or 2e-4
            said = what if isinstance(what, str) else f"{', '.join(bad)} became NaN or infinite at step {r['step']:,}"
            lr = f"--lr-g {lr_g / 10:g} --lr-d {lr_d / 10:g}"
            return [Finding(
                "divergence", "failing", (r["step"], r["step"]), {"step": r["step"], "what": said},
                f"{said}; training stopped",
                f"continue from the last good checkpoint at lower learning rates, `ganzoo train "
                f"{cfg.get('model', 'MODEL')} --resume {run} {lr}` (a run with no checkpoint yet: start again with "
                f"{lr}), or use --precision fp32 or another --loss",
            )]
    return []


def _probability_outputs(rows: list[dict[str, Any]], cfg: dict[str, Any]) -> bool:
    """D(x) and D(G(z)) are probabilities (a logit loss, reported through a sigmoid), not critic scores."""
    output = None
    try:  # the loss's own word, when its plugin is installed
        from ganzoo import registry

        factory = registry._get().losses.get(cfg.get("loss"), (None,))[0]
        output = getattr(factory, "output", None)
    except GanzooError:
        pass
    if isinstance(output, str):
        return output == "logit"
    values = [v for k in ("D(x)", "D(G(z))") for _, v in _series(rows, k)]
    return bool(values) and all(0.0 <= v <= 1.0 for v in values)


def _grad_fall(rows: list[dict[str, Any]], within: tuple[int, int] | None = None) -> tuple[float, float, float]:
    """(early, late, early / late) medians of G's gradient norm: first 10% of rows against the last 20%
    (or against the stretch ``within``)."""
    g = [v for _, v in _series(rows, "grad_norm_g") if math.isfinite(v)]
    if len(g) < 6:
        return math.nan, math.nan, math.nan
    early = _median(g[: max(3, len(g) // 10)])
    if within is not None:
        late_values = [v for s, v in _series(rows, "grad_norm_g") if within[0] <= s <= within[1]]
    else:
        late_values = g[-max(3, len(g) // 5):]
    late = _median(late_values) if late_values else math.nan
    return early, late, early / late if late > 0 else math.inf


def _lr_advice(cfg: dict[str, Any], *, loss_switch: bool = True) -> str:
    lr_d = _number(cfg.get("lr_d")) or 2e-4
    loss = cfg.get("loss")
    parts = [f"lower D's learning rate: --lr-d {lr_d / 4:g} (now {lr_d:g})"]
    if loss_switch and loss == "minimax":
        parts.append("use --loss non-saturating (minimax's G gets no gradient once D wins)")
    elif loss_switch and loss not in ("wgan-gp", "hinge"):
        parts.append("try --loss hinge, or --loss wgan-gp for a model without BatchNorm in D")
    return " or ".join(parts)


def _discriminator_wins(rows: list[dict[str, Any]], cfg: dict[str, Any]) -> list[Finding]:
    if not _probability_outputs(rows, cfg):
        return []
    dx, dgz = dict(_series(rows, "D(x)")), dict(_series(rows, "D(G(z))"))
    steps = [s for s in dx if s in dgz]
    best: tuple[int, int] = (0, -1)
    start = None
    for i, s in enumerate(steps + [None]):  # the longest run of rows where D wins
        wins = s is not None and dx[s] >= WIN_DX and dgz[s] <= WIN_DGZ
        if wins and start is None:
            start = i
        elif not wins and start is not None:
            if i - start > best[1] - best[0] + 1:
                best = (start, i - 1)
            start = None
    length = best[1] - best[0] + 1
    if length < max(3, WIN_SHARE * len(steps)):
        return []
    first, last = steps[best[0]], steps[best[1]]
    early, late, fall = _grad_fall(rows, (first, last))
    tail = [dx[s] for s in steps[best[0]:best[1] + 1]], [dgz[s] for s in steps[best[0]:best[1] + 1]]
    evidence = {"D(x)": round(_median(tail[0]), 4), "D(G(z))": round(_median(tail[1]), 4),
                "rows": length, "share_of_rows": round(length / len(steps), 3),
                "thresholds": {"D(x)>=": WIN_DX, "D(G(z))<=": WIN_DGZ, "share>=": WIN_SHARE},
                "grad_norm_g_early": early, "grad_norm_g_during": late}
    to_end = best[1] == len(steps) - 1
    gfall = f"; G's gradient fell {fall:.0f}x" if math.isfinite(fall) and fall >= 2 else ""
    return [Finding(
        "discriminator-wins", "failing" if to_end else "warning", (first, last), evidence,
        f"D(x) {evidence['D(x)']:.2f} and D(G(z)) {evidence['D(G(z))']:.2f} for {length} log rows "
        f"({length / len(steps):.0%} of the run{', to its end' if to_end else ''}){gfall}",
        _lr_advice(cfg),
    )]


def _vanishing_gradient(rows: list[dict[str, Any]], cfg: dict[str, Any]) -> list[Finding]:
    early, late, fall = _grad_fall(rows)
    if not (math.isfinite(fall) and fall >= GRAD_FALL_WARN) and not (late == 0 and early > 0):
        return []
    g = _series(rows, "grad_norm_g")
    severity = "failing" if fall >= GRAD_FALL_FAIL else "warning"
    advice = ("use --loss non-saturating: minimax's G loss saturates when D rejects the fakes"
              if cfg.get("loss") == "minimax" else _lr_advice(cfg))
    return [Finding(
        "vanishing-generator-gradient", severity, (g[0][0], g[-1][0]),
        {"grad_norm_g_early": early, "grad_norm_g_late": late, "fall": fall,
         "thresholds": {"warning": GRAD_FALL_WARN, "failing": GRAD_FALL_FAIL}},
        f"G's gradient norm fell {fall:.0f}x, from {early:.3g} (first 10% of the log) to {late:.3g} (last 20%)",
        advice,
    )]


def _detrended(values: list[float]) -> list[float]:
    n = len(values)
    mx, my = (n - 1) / 2, sum(values) / n
    sxx = sum((i - mx) ** 2 for i in range(n)) or 1.0
    slope = sum((i - mx) * (v - my) for i, v in enumerate(values)) / sxx
    return [v - (my + slope * (i - mx)) for i, v in enumerate(values)]


def _oscillation(rows: list[dict[str, Any]], cfg: dict[str, Any]) -> list[Finding]:
    if not _probability_outputs(rows, cfg):
        return []  # a critic's scores have no fixed scale to call a swing large
    dx = _series(rows, "D(x)")
    half = dx[len(dx) // 2:]
    if len(half) < 8:
        return []
    resid = _detrended([v for _, v in half])
    amplitude = _quantile(resid, 0.9) - _quantile(resid, 0.1)
    big = [r for r in resid if abs(r) >= amplitude / 4]
    crossings = sum(1 for a, b in zip(big, big[1:]) if (a > 0) != (b > 0))
    if amplitude < SWING_PROB or crossings < SWING_CROSSINGS:
        return []
    ema = " Samples of the EMA generator (the run's default) may be fine though the raw one swings." \
        if cfg.get("ema", True) else " Train with --ema, which averages the swings out of the generator."
    return [Finding(
        "oscillation", "warning", (half[0][0], half[-1][0]),
        {"amplitude_D(x)": round(amplitude, 4), "swings": crossings,
         "thresholds": {"amplitude>=": SWING_PROB, "swings>=": SWING_CROSSINGS}},
        f"D(x) swings by {amplitude:.2f} around its trend, back and forth {crossings} times, in the second "
        "half of the run" + ema,
        f"lower both learning rates (--lr-g {(_number(cfg.get('lr_g')) or 2e-4) / 2:g} "
        f"--lr-d {(_number(cfg.get('lr_d')) or 2e-4) / 2:g}) or decay them (--lr-schedule cosine)",
    )]


def _no_progress(rows: list[dict[str, Any]], cfg: dict[str, Any]) -> list[Finding]:
    evals = [(r["step"], r["eval"]) for r in rows if isinstance(r.get("eval"), dict)]
    for key in ("fid", "kid"):
        series = [(s, v) for s, e in evals if (v := _number(e.get(key))) is not None and math.isfinite(v)]
        if len(series) < 4:
            continue
        best_i = min(range(len(series)), key=lambda i: series[i][1])
        best, last = series[best_i], series[-1]
        if best_i >= len(series) - 2 or last[1] <= best[1] * STALL_RATIO:
            return []
        return [Finding(
            "no-progress", "warning", (best[0], last[0]),
            {"metric": key, "best": best[1], "best_step": best[0], "last": last[1], "evaluations": len(series),
             "thresholds": {"last/best>": STALL_RATIO}},
            f"{key} was best at step {best[0]:,} ({best[1]:.4g}) and is {last[1]:.4g} at step {last[0]:,}",
            f"keep the checkpoint near step {best[0]:,} (ganzoo save with that checkpoint, or train that long), "
            "or decay the learning rates (--lr-schedule cosine)",
        )]
    return []


def diagnose_log(rows: list[dict[str, Any]], config: dict[str, Any], run: str = "RUN") -> Diagnosis:
    """The findings that a run's log alone shows (no checkpoint, no data needed).

    Args:
        rows: the rows of ``metrics.jsonl`` (:func:`read_log`).
        config: the run's ``config.json``: its model, loss, learning rates and EMA are used in advice.
        run: how to name the run in messages and advice.
    """
    train = [r for r in rows if "loss_d" in r or "diverged" in r]
    diagnosis = Diagnosis(run)
    if train:
        diagnosis.checked.append(f"{len(train)} log rows, steps {train[0]['step']:,} to {train[-1]['step']:,}")
    diagnosis.findings += _divergence(train, config, run)
    diagnosis.findings += _discriminator_wins(train, config)
    diagnosis.findings += _vanishing_gradient(train, config)
    diagnosis.findings += _oscillation(train, config)
    diagnosis.findings += _no_progress(rows, config)
    return diagnosis


# --------------------------------------------------------------------------- sample checks


def _data_dir(cfg: dict[str, Any]) -> str | None:
    """The run's data folder when it is still there (a run may come from another machine), else the default."""
    recorded = cfg.get("data_dir")
    return recorded if isinstance(recorded, str) and Path(recorded).expanduser().is_dir() else None


def _mean_pairwise(x: Any) -> float:
    import torch

    d = torch.cdist(x, x)
    n = x.shape[0]
    return float(d.sum() / max(1, n * (n - 1)))


def _pixels(x: Any) -> Any:
    """Images made small (at most 16 px a side) and flat, so distances are cheap and about shape, not noise."""
    import torch.nn.functional as F

    if x.dim() == 4 and max(x.shape[-2:]) > 16:
        x = F.adaptive_avg_pool2d(x, 16)
    return x.flatten(1).float()


def _sample_checks(run_dir: Path, cfg: dict[str, Any], n: int, device: str) -> tuple[list[Finding], list[str]]:
    import torch

    from ganzoo.checkpoint import find_checkpoint, read_state
    from ganzoo.data import TOYS, load_dataset
    from ganzoo.sampling import sample_batch
    from ganzoo.zoo import load

    findings: list[Finding] = []
    checked: list[str] = []
    step = read_state(find_checkpoint(run_dir)).get("step", 0)
    g = load(run_dir, device=device)
    fake, _, _ = sample_batch(g, n, seed=0, device=device)
    which = "EMA " if cfg.get("ema", True) else ""
    dataset = cfg.get("dataset")
    if dataset in TOYS:
        from ganzoo.metrics import toy_metrics

        m = toy_metrics(fake, dataset)
        checked.append(f"{n} samples of the {which}generator at step {step:,} against the {dataset} modes")
        covered, total = m["modes_covered"], m["num_modes"]
        if covered < total:
            findings.append(Finding(
                "mode-collapse", "failing" if covered <= total // 2 else "warning", (step, step),
                {"modes_covered": covered, "num_modes": total, "high_quality": m["high_quality"],
                 "mode_counts": m["mode_counts"]},
                f"the samples cover {covered} of {dataset}'s {total} modes ({m['high_quality']:.0%} high quality)",
                "train longer, or with the dataset's recipe (ganzoo info MODEL shows it); a larger --model-arg "
                "latent_dim or --loss hinge often brings modes back",
            ))
        return findings, checked
    data_dir = _data_dir(cfg)
    try:
        real_ds = load_dataset(dataset, data_dir, download=False, image_shape=tuple(g.output_shape))
    except GanzooError as exc:
        checked.append(f"samples not compared with the data: {str(exc).splitlines()[0]}")
        return findings, checked
    rng = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(real_ds), generator=rng)[: min(n, len(real_ds))]
    real = real_ds.to_model_range(real_ds.data[idx])
    if tuple(real.shape[1:]) != tuple(fake.shape[1:]):
        checked.append(f"samples not compared with the data: shapes {tuple(fake.shape[1:])} and {tuple(real.shape[1:])}")
        return findings, checked
    spread = _mean_pairwise(_pixels(fake)) / max(_mean_pairwise(_pixels(real)), 1e-12)
    checked.append(f"{n} samples of the {which}generator at step {step:,} against {len(idx)} {dataset} images: "
                   f"spread {spread:.2f} of the data's")
    if spread < SPREAD_WARN:
        findings.append(Finding(
            "mode-collapse", "failing" if spread < SPREAD_FAIL else "warning", (step, step),
            {"spread": round(spread, 4), "thresholds": {"warning<": SPREAD_WARN, "failing<": SPREAD_FAIL},
             "space": "pixels (at most 16x16)"},
            f"the samples spread {spread:.2f} as far apart as the data's images (mean pairwise distance)",
            "try --loss hinge or --loss wgan-gp, lower --lr-g, or a larger --model-arg latent_dim; "
            "look at the grids in samples/",
        ))
    findings += _class_coverage(fake, real, dataset, g, step, device)
    findings += _overfitting(run_dir, real_ds, dataset, data_dir, cfg, g, step, device, checked)
    return findings, checked


def _class_coverage(fake: Any, real: Any, dataset: str, g: Any, step: int, device: str) -> list[Finding]:
    import torch

    from ganzoo.metrics.classifier import FEATURE_NETWORKS, load_classifier

    if dataset not in FEATURE_NETWORKS or g.num_classes is not None:
        return []  # no classes to count, or the labels decide them (a conditional generator)
    net, _ = load_classifier(dataset, device=device)
    with torch.inference_mode():
        k = net(real[:8].to(device)).shape[1]
        counts = torch.bincount(net(fake.to(device)).argmax(1).cpu(), minlength=k)
    shares = (counts.float() / counts.sum()).tolist()
    missing = [c for c, s in enumerate(shares) if s < CLASS_MISSING / k]
    if not missing:
        return []
    return [Finding(
        "mode-collapse", "failing" if len(missing) >= k // 2 else "warning", (step, step),
        {"class_shares": [round(s, 4) for s in shares], "missing": missing,
         "thresholds": {"missing if share <": CLASS_MISSING / k}},
        f"{len(missing)} of {k} classes are (nearly) absent from the samples: {missing} (by {dataset}'s feature "
        "network)",
        "partial mode collapse: train longer or with --lr-schedule cosine, try --loss hinge, or a class-conditional "
        "model (cgan) to cover every class",
    )]


def _overfitting(run_dir: Path, train_ds: Any, dataset: str, data_dir: Any, cfg: dict[str, Any], g: Any,
                 step: int, device: str, checked: list[str]) -> list[Finding]:
    import torch

    from ganzoo.data import load_dataset
    from ganzoo.zoo import load

    if cfg.get("loss") in ("wgan-gp",):
        return []  # r_t is a heuristic for logit discriminators
    try:
        test_ds = load_dataset(dataset, data_dir, split="test", download=False, image_shape=tuple(g.output_shape))
        d = load(run_dir, component="discriminator", device=device)
    except GanzooError as exc:
        checked.append(f"D not checked for overfitting: {str(exc).splitlines()[0]}")
        return []
    n = min(512, len(train_ds), len(test_ds))
    rng = torch.Generator().manual_seed(1)

    def r_t(ds: Any) -> float:
        idx = torch.randperm(len(ds), generator=rng)[:n]
        x = ds.to_model_range(ds.data[idx]).to(device)
        y = ds.labels[idx].to(device) if ds.labels is not None and d.num_classes is not None else None
        with torch.inference_mode():
            return float(torch.sign(d(x, y).float()).mean())

    r_train, r_test = r_t(train_ds), r_t(test_ds)
    checked.append(f"D's r_t = E[sign(D(x))]: {r_train:.2f} on training images, {r_test:.2f} on held-out ones")
    if r_train < OVERFIT_RT or r_train - r_test < OVERFIT_GAP:
        return []
    return [Finding(
        "discriminator-overfitting", "warning", (step, step),
        {"r_t_train": round(r_train, 4), "r_t_test": round(r_test, 4),
         "thresholds": {"r_t_train>=": OVERFIT_RT, "gap>=": OVERFIT_GAP}},
        f"D calls {(1 + r_train) / 2:.0%} of training images real but {(1 + r_test) / 2:.0%} of held-out ones: "
        "it remembers the training set",
        f"{_lr_advice(cfg, loss_switch=False)}, stop earlier, or train on more images",
    )]


# --------------------------------------------------------------------------- the whole diagnosis


def diagnose(run_dir: str | Path, *, samples: bool = True, n: int = 512, device: str = "cpu") -> Diagnosis:
    """Diagnose a run directory (finished, stopped, or still training).

    Args:
        run_dir: the run directory (``runs/<model>-<dataset>-<time>/`` or ``--out``).
        samples: also load the latest checkpoint and compare samples with the data (seconds on
            a CPU); without it only the log is read.
        n: samples (and real images) compared.
        device: where the networks run.

    Returns:
        The :class:`Diagnosis`; its ``verdict`` is ``healthy``, ``warning`` or ``failing``.

    Raises:
        ConfigError: ``run_dir`` is not a run directory.
    """
    from ganzoo.weights import read_json

    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise ConfigError(f"{run_dir} is not a run directory (no config.json); give the folder "
                          "`ganzoo train` wrote (its last line names it)")
    cfg = read_json(run_dir / "config.json", "run's config.json", ConfigError)
    if not isinstance(cfg, dict):
        raise ConfigError(f"{run_dir / 'config.json'} is not a run's config (not a JSON object)")
    if not (isinstance(n, int) and 16 <= n <= 10_000):
        raise ConfigError(f"n={n!r}: compare 16 to 10,000 samples")
    diagnosis = diagnose_log(read_log(run_dir), cfg, str(run_dir))
    if not diagnosis.checked:
        diagnosis.checked.append("no log rows yet")
    if samples and not any(f.code == "divergence" for f in diagnosis.findings):
        try:
            found, checked = _sample_checks(run_dir, cfg, n, device)
        except GanzooError as exc:
            found, checked = [], [f"samples not checked ({str(exc).splitlines()[0][:160]})"]
        diagnosis.findings += found
        diagnosis.checked += checked
    if not diagnosis.findings:
        diagnosis.findings.append(_healthy(read_log(run_dir)))
    return diagnosis


def _healthy(rows: list[dict[str, Any]]) -> Finding:
    train = [r for r in rows if "loss_d" in r]
    evidence: dict[str, Any] = {}
    said = []
    if train:
        last = train[-1]
        for k in ("D(x)", "D(G(z))"):
            if (v := _number(last.get(k))) is not None:
                evidence[k] = v
        early, late, _ = _grad_fall(train)
        if math.isfinite(early):
            evidence.update(grad_norm_g_early=early, grad_norm_g_late=late)
            said.append(f"G's gradient {early:.3g} -> {late:.3g}")
        if "D(x)" in evidence and "D(G(z))" in evidence:
            said.insert(0, f"D(x) {evidence['D(x)']:.2f}, D(G(z)) {evidence['D(G(z))']:.2f} at the end")
    return Finding("healthy", "healthy", None, evidence,
                   "no finding" + (f": {'; '.join(said)}" if said else ""))
