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

The log's checks are :mod:`ganzoo.diagnosis` (the engine runs them live, as it logs); this
module adds the sample checks and reads a run directory.

Example:
    >>> from ganzoo.doctor import diagnose
    >>> diagnose("runs/dcgan-mnist-1").verdict  # doctest: +SKIP
    'healthy'
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ganzoo.diagnosis import (  # noqa: F401  (the log's findings, re-exported: one API for a run's diagnosis)
    CODES,
    SEVERITY_ORDER,
    Diagnosis,
    Finding,
    _grad_fall,
    _lr_advice,
    _number,
    diagnose_log,
    probability_outputs,
    read_log,
)
from ganzoo.errors import ConfigError, GanzooError

SPREAD_WARN, SPREAD_FAIL = 0.5, 0.25  # samples' mean pairwise distance / the data's
CLASS_MISSING = 0.25  # a class with under this share of its fair 1/K is missing ...
# ... when even the upper end of its one-sided 95% (Wilson) interval is under it, on this many
# samples (at least; more when asked). On 512 samples and the share's point value, a healthy
# recipe run was called "warning: 1 class missing" at steps 500 or 600 in each of three runs
# (MNIST seeds 0 and 1, Fashion-MNIST): a class near 2.5% of 512 samples is a dozen images,
# and whether it lands above or below the bar is chance (bench/doctor_young.py).
CLASS_SAMPLES, CLASS_Z = 2000, 1.645
OVERFIT_RT, OVERFIT_GAP = 0.6, 0.3  # r_t on training images, and its lead over held-out ones
# Samples are judged from this step on. Before it, any generator draws few kinds of image:
# the dcgan recipe drew 1, 3 and 8 of MNIST's 10 classes at steps 100, 200 and 300 (seed 0;
# seed 1: 1, 1, 8; Fashion-MNIST: 4, 9, 8, and 9 at step 400), and a 10-step smoke run's samples
# were all alike; each was called a failing mode collapse, with advice to change the loss
# (bench/doctor_young.py: 14 of 30 checkpoints of three healthy runs not healthy, 1 now).
# They are still measured (`Diagnosis.not_judged`); the log is judged at any length.
MIN_JUDGED_STEP = 500


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


def _sample_checks(run_dir: Path, checkpoint: Path, cfg: dict[str, Any], n: int,
                   device: str) -> tuple[list[Finding], list[str], list[Finding]]:
    """The samples' findings, what was checked, and, before :data:`MIN_JUDGED_STEP`, the findings
    measured but not judged (any generator draws few kinds of image before)."""
    step, findings, checked = _measure_samples(run_dir, checkpoint, cfg, n, device)
    if findings and (not isinstance(step, int) or step < MIN_JUDGED_STEP):
        return [], checked, findings
    return findings, checked, []


def _measure_samples(run_dir: Path, checkpoint: Path, cfg: dict[str, Any], n: int,
                     device: str) -> tuple[Any, list[Finding], list[str]]:
    import torch

    from ganzoo.checkpoint import read_state
    from ganzoo.data import TOYS, load_dataset
    from ganzoo.sampling import sample_batch
    from ganzoo.zoo import load

    findings: list[Finding] = []
    checked: list[str] = []
    step = read_state(checkpoint).get("step", 0)
    g = load(run_dir, device=device)
    fake, fake_y, _ = sample_batch(g, n, seed=0, device=device)  # a conditional G: every class asked for in turn
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
        return step, findings, checked
    data_dir = _data_dir(cfg)
    try:
        real_ds = load_dataset(dataset, data_dir, download=False, image_shape=tuple(g.output_shape))
    except GanzooError as exc:
        checked.append(f"samples not compared with the data: {str(exc).splitlines()[0]}")
        return step, findings, checked
    rng = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(real_ds), generator=rng)[: min(n, len(real_ds))]
    real = real_ds.to_model_range(real_ds.data[idx])
    if tuple(real.shape[1:]) != tuple(fake.shape[1:]):
        checked.append(f"samples not compared with the data: shapes {tuple(fake.shape[1:])} and {tuple(real.shape[1:])}")
        return step, findings, checked
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
    from ganzoo.metrics.classifier import FEATURE_NETWORKS

    if dataset in FEATURE_NETWORKS:  # a network with classes to count
        many = max(n, CLASS_SAMPLES)
        cls_fake, cls_y = (fake, fake_y) if many == n else sample_batch(g, many, seed=0, device=device)[:2]
        checked.append(f"{many:,} samples of the {which}generator classified by {dataset}'s feature network")
        findings += _class_coverage(cls_fake, cls_y, real, dataset, step, device)
    findings += _overfitting(run_dir, real_ds, dataset, data_dir, cfg, g, step, device, checked)
    return step, findings, checked


def share_upper_bound(count: int, n: int, z: float = CLASS_Z) -> float:
    """The upper end of the one-sided Wilson score interval of a share seen ``count`` times in ``n``."""
    if n <= 0:
        return 1.0
    p = count / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return min(1.0, (centre + half) / (1 + z * z / n))


def _class_coverage(fake: Any, fake_y: Any, real: Any, dataset: str, step: int, device: str) -> list[Finding]:
    """Classes (nearly) absent from the samples, by the dataset's classifier.

    A class is missing when even the upper end of its share's 95% interval is under
    :data:`CLASS_MISSING` of its fair share: a class that is merely rare in this draw is not.
    A conditional generator is asked for every class in equal shares, so the same count holds:
    a class it is asked for but never draws is missing too (its samples are of other classes).
    """
    import torch

    from ganzoo.metrics.classifier import load_classifier

    net, _ = load_classifier(dataset, device=device)
    with torch.inference_mode():
        k = net(real[:8].to(device)).shape[1]
        predicted = torch.cat([net(chunk.to(device)).argmax(1).cpu() for chunk in fake.split(512)])
    counts = torch.bincount(predicted, minlength=k).tolist()
    total = sum(counts)
    bar = CLASS_MISSING / k
    missing = [c for c, m in enumerate(counts) if share_upper_bound(m, total) < bar]
    if not missing:
        return []
    evidence = {"class_shares": [round(m / total, 4) for m in counts], "missing": missing, "samples": total,
                "share_upper_bounds": {c: round(share_upper_bound(counts[c], total), 4) for c in missing},
                "thresholds": {"missing if the 95% upper bound of the share <": bar}}
    shown = ", ".join(f"{c}: {counts[c] / total:.1%}" for c in missing)
    message = (f"{len(missing)} of {k} classes are (nearly) absent from the samples: {missing} ({shown} of "
               f"{total:,} samples, where a fair share is {1 / k:.0%}; by {dataset}'s feature network)")
    advice = ("partial mode collapse: train longer or with --lr-schedule cosine, try --loss hinge, or a "
              "class-conditional model (cgan) to cover every class")
    if fake_y is not None:
        accuracy = float((predicted == fake_y.cpu()).float().mean())
        evidence["label_accuracy"] = round(accuracy, 4)
        message += f", though every class was asked for; {accuracy:.0%} of the samples are of the class asked for"
        advice = ("the generator does not follow its labels yet: train longer (labels take hold after the shapes "
                  "do), and check that its discriminator takes the labels (ganzoo info MODEL: labels)")
    return [Finding("mode-collapse", "failing" if len(missing) >= k // 2 else "warning", (step, step),
                    evidence, message, advice)]


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
    if not (isinstance(n, int) and 16 <= n <= 10_000):
        raise ConfigError(f"n={n!r}: compare 16 to 10,000 samples")
    cfg, rows = read_run(run_dir)
    return diagnose_read(Path(run_dir), cfg, rows, samples=samples, n=n, device=device)


def read_run(run_dir: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A run directory's config and log rows, read once (the report shows what the doctor judged).

    Raises:
        ConfigError: ``run_dir`` is not a run directory, or its config is not a JSON object.
    """
    from ganzoo.weights import read_json

    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise ConfigError(f"{run_dir} is not a run directory (no config.json); give the folder "
                          "`ganzoo train` wrote (its last line names it)")
    cfg = read_json(run_dir / "config.json", "run's config.json", ConfigError)
    if not isinstance(cfg, dict):
        raise ConfigError(f"{run_dir / 'config.json'} is not a run's config (not a JSON object)")
    return cfg, read_log(run_dir)


def diagnose_read(run_dir: Path, cfg: dict[str, Any], rows: list[dict[str, Any]], *, samples: bool = True,
                  n: int = 512, device: str = "cpu") -> Diagnosis:
    """:func:`diagnose` of a run already read with :func:`read_run`."""
    diagnosis = diagnose_log(rows, cfg, str(run_dir))
    if not diagnosis.checked:
        diagnosis.checked.append("no log rows yet")
    if samples and not any(f.code == "divergence" for f in diagnosis.findings):
        from ganzoo.checkpoint import find_checkpoint

        try:
            checkpoint = find_checkpoint(run_dir)
        except GanzooError:  # a run still before its first checkpoint: not "not a run directory"
            diagnosis.checked.append("samples not checked yet: no checkpoint so far (the first comes at "
                                     "--checkpoint-every, or when the run stops); ask again later")
        else:
            try:
                found, checked, young = _sample_checks(run_dir, checkpoint, cfg, n, device)
            except GanzooError as exc:
                found, checked, young = [], [f"samples not checked ({str(exc).splitlines()[0][:160]})"], []
            diagnosis.findings += found
            diagnosis.checked += checked
            diagnosis.not_judged += young
    if not diagnosis.findings:
        diagnosis.findings.append(_healthy(rows, cfg))
    return diagnosis


def _healthy(rows: list[dict[str, Any]], cfg: dict[str, Any]) -> Finding:
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
            scores = "" if probability_outputs(train, cfg) else " (D's raw scores, not probabilities)"
            said.insert(0, f"D(x) {evidence['D(x)']:.2f}, D(G(z)) {evidence['D(G(z))']:.2f} at the end{scores}")
    if not train:
        return Finding("healthy", "healthy", None, evidence,
                       "no finding, but nothing to judge yet: the run has logged no training step (it logs every "
                       "--log-every steps; ask again later)")
    last_step = _number(train[-1].get("step"))
    if last_step is not None and last_step < MIN_JUDGED_STEP:
        said.append(f"early: {last_step:,.0f} steps (samples are judged from step {MIN_JUDGED_STEP:,} on)")
    return Finding("healthy", "healthy", None, evidence,
                   "no finding" + (f": {'; '.join(said)}" if said else ""))
