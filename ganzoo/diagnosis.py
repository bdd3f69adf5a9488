"""Diagnosing a training log: the findings that ``metrics.jsonl`` alone shows.

Pure functions over the log's rows (no torch, no files but the log), so the engine can run them
as it logs (the live doctor) and :mod:`ganzoo.doctor` can add what samples show. The codes,
severities and thresholds are documented in the guide "Diagnose a run".

Example:
    >>> from ganzoo.diagnosis import diagnose_log
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

from ganzoo.errors import GanzooError

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
WIN_GRAD_FALL = 5.0  # ... and G's gradient during the stretch is this many times below its early value
WIN_END_SHARE = 0.5  # ... or the stretch lasts to the end of the run and covers this share of it
WIN_END_STEPS = 500  # ... and this many steps: D ahead early is normal (the dcgan MNIST recipe: D(x) 0.99,
# D(G(z)) 0.004 at step 100, 0.91 / 0.08 by step 400, healthy), unless G's loss saturates (minimax)
SATURATING_LOSSES = ("minimax",)  # G's gradient vanishes while D wins: a short stretch is enough
GRAD_FALL_WARN, GRAD_FALL_FAIL = 20.0, 100.0  # early / late median of G's gradient norm
SWING_PROB = 0.35  # p90 - p10 of D(x) around its trend (probability outputs), second half of the run
SWING_CROSSINGS = 4  # the swings must go back and forth, not drift once
STALL_RATIO = 1.15  # last evaluation worse than the best by this factor
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
    #: What the samples showed while the run was too young to judge them (not in the verdict).
    not_judged: list[Finding] = field(default_factory=list)

    @property
    def early(self) -> bool:
        """Healthy by the log, with samples that showed something too early to judge."""
        return self.verdict == "healthy" and bool(self.not_judged)

    @property
    def headline(self) -> str:
        """The verdict as said to a person: a young run's samples not judged yet are named in it."""
        if self.early:
            step = self.not_judged[0].steps[0] if self.not_judged[0].steps else 0
            codes = ", ".join(dict.fromkeys(f.code for f in self.not_judged))
            return (f"healthy so far: the log is; the samples ({codes}) are not judged yet at {step:,} steps, "
                    "ask again later")
        return self.verdict

    @property
    def verdict(self) -> str:
        worst = max((SEVERITY_ORDER.get(f.severity, 0) for f in self.findings), default=0)
        return {0: "healthy", 1: "warning", 2: "failing"}[worst]

    @property
    def exit_code(self) -> int:
        """0 healthy, 1 warning, 2 failing: for scripts and CI."""
        return SEVERITY_ORDER[self.verdict]

    def to_json(self) -> dict[str, Any]:
        """The diagnosis as strict JSON values (a NaN or infinite number becomes ``None``)."""
        return finite_json({"run": self.run, "verdict": self.verdict, "headline": self.headline,
                            "checked": self.checked, "findings": [asdict(f) for f in self.findings],
                            "not_judged": [asdict(f) for f in self.not_judged]})

    def text(self) -> str:
        """The report as a person reads it in a terminal."""
        lines = [f"ganzoo doctor: {self.run}: {self.headline}"]
        lines += [f"  checked: {c}" for c in self.checked]
        lines += [f"  not judged yet: {f.code}: {f.message}" for f in self.not_judged]
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


def probability_outputs(rows: list[dict[str, Any]], cfg: dict[str, Any]) -> bool:
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
    if late > 0:
        return early, late, early / late
    return early, late, math.inf if early > 0 else math.nan  # fell to zero; or never had any


def _lr_advice(cfg: dict[str, Any], *, loss_switch: bool = True) -> str:
    lr_d = _number(cfg.get("lr_d")) or 2e-4
    loss = cfg.get("loss")
    lr_g = _number(cfg.get("lr_g"))
    parts = [f"lower D's learning rate: --lr-d {lr_d / 4:g} (now {lr_d:g})"]
    if lr_g and lr_d / lr_g >= 10:  # G cannot keep up with a D that learns this much faster
        parts.insert(0, f"raise G's learning rate to D's: --lr-g {lr_d:g} (now {lr_g:g}, {lr_d / lr_g:.0f}x below D's)")
    if loss_switch and loss == "minimax":
        parts.append("use --loss non-saturating (minimax's G gets no gradient once D wins)")
    elif loss_switch and loss not in ("wgan-gp", "hinge"):
        parts.append("try --loss hinge, or --loss wgan-gp for a model without BatchNorm in D")
    return " or ".join(parts)


def _discriminator_wins(rows: list[dict[str, Any]], cfg: dict[str, Any]) -> list[Finding]:
    if not probability_outputs(rows, cfg):
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
    to_end = best[1] == len(steps) - 1
    # D winning for a while is normal early in training while G still learns (its gradient stays
    # large); it is a failure when G's gradient fades under it, or when D still wins at the end.
    fades = fall >= WIN_GRAD_FALL  # an infinite fall (to exactly zero) fades too; NaN (no data) does not
    long_enough = last - first >= WIN_END_STEPS or cfg.get("loss") in SATURATING_LOSSES
    if not (fades or (to_end and length >= WIN_END_SHARE * len(steps) and long_enough)):
        return []
    tail = [dx[s] for s in steps[best[0]:best[1] + 1]], [dgz[s] for s in steps[best[0]:best[1] + 1]]
    evidence = {"D(x)": round(_median(tail[0]), 4), "D(G(z))": round(_median(tail[1]), 4),
                "rows": length, "share_of_rows": round(length / len(steps), 3), "to_end": to_end,
                "thresholds": {"D(x)>=": WIN_DX, "D(G(z))<=": WIN_DGZ, "share>=": WIN_SHARE,
                               "G's gradient falls by": WIN_GRAD_FALL, "or lasts to the end, share>=": WIN_END_SHARE,
                               "and steps>= (unless G's loss saturates)": WIN_END_STEPS},
                "grad_norm_g_early": early, "grad_norm_g_during": late}
    gfall = f"; G's gradient fell {_times(fall)}" if fades else ""
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
        f"G's gradient norm fell {_times(fall)}, from {early:.3g} (first 10% of the log) to {late:.3g} (last 20%)",
        advice,
    )]


def finite_json(x: Any) -> Any:
    """``x`` with every NaN or infinite float replaced by ``None`` (JSON has no such numbers)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: finite_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite_json(v) for v in x]
    return x


def _times(fall: float) -> str:
    """``"40x"``, or ``"to zero"`` when the late gradient is exactly 0 (the ratio is infinite)."""
    return f"{fall:.0f}x" if math.isfinite(fall) else "to zero"


def _detrended(values: list[float]) -> list[float]:
    n = len(values)
    mx, my = (n - 1) / 2, sum(values) / n
    sxx = sum((i - mx) ** 2 for i in range(n)) or 1.0
    slope = sum((i - mx) * (v - my) for i, v in enumerate(values)) / sxx
    return [v - (my + slope * (i - mx)) for i, v in enumerate(values)]


def _oscillation(rows: list[dict[str, Any]], cfg: dict[str, Any]) -> list[Finding]:
    if not probability_outputs(rows, cfg):
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
        diagnosis.checked.append(f"{len(train)} log row{'s' if len(train) != 1 else ''}, steps {train[0]['step']:,} to {train[-1]['step']:,}")
    diagnosis.findings += _divergence(train, config, run)
    diagnosis.findings += _discriminator_wins(train, config)
    diagnosis.findings += _vanishing_gradient(train, config)
    diagnosis.findings += _oscillation(train, config)
    diagnosis.findings += _no_progress(rows, config)
    return diagnosis
