"""Write ``docs/zoo.md`` from the shipped bundles, and copy their sample grids beside it.

Every number on the page is read from a bundle's receipt (``ganzoo.json``): the metrics on
ganzoo's feature classifier and on the dataset's cross-check network, each beside the same
protocol on real data, the comparison run the bundle records, and the command and machine that
trained it. ``tests/test_docs.py`` checks the page against the bundles, so rerun this after
``scripts/build_zoo.py``::

    python scripts/zoo_page.py
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import ganzoo
from ganzoo.metrics.classifier import dataset_networks, load_classifier

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
ORDER = ["dcgan-mnist", "wgan-gp-mnist", "vanilla-mnist", "cgan-mnist"]
DATASET_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}

HEADER = """\
# Model zoo

Every pretrained generator, with its numbers, its samples and the command that trained it.
All of them ship inside ganzoo's built-in plugins (sha256-checked, loaded without the
network), and each also names a Hub repository that `ganzoo.load` falls back to when a
package ships without the weights. This page is written from the bundles by
`scripts/zoo_page.py` (a test checks it against them).

```python
import ganzoo

print(ganzoo.list_pretrained())  # {ids}
g = ganzoo.load("wgan-gp-mnist")
```

**How the numbers were measured.** ganzoo's fixed protocol (see
[Evaluate fairly](guides/evaluation.md)): 10,000 samples (seed 0) against the 10,000 test
images of the dataset, in the feature space of two classifiers built independently of each
other: ganzoo's classifier (`mnist-classifier`, {acc[mnist-classifier]} MNIST test accuracy;
`fashion-mnist-classifier`, {acc[fashion-mnist-classifier]} on Fashion-MNIST) and a cross-check network with
another architecture, seed and augmentation (`mnist-resnet`, {acc[mnist-resnet]};
`fashion-mnist-resnet`, {acc[fashion-mnist-resnet]}).
"Real data" is the same protocol applied to 10,000 training images instead of samples: the
best a generator can hope for. `confident` is the share of samples the classifier assigns a
class with probability above 0.9 (Fashion-MNIST's own images reach only about 77%: some of
its classes, shirts and T-shirts say, look alike). Each number is the receipt in the bundle's
`ganzoo.json`, and anyone can recompute it with `ganzoo eval dcgan-mnist --verify`
([Receipts](guides/evaluation.md#receipts)).

**How they were trained.** With ganzoo's own engine, seed 0, EMA of the generator; each
section gives the machine and the exact command. The bundles were built and scored by
`scripts/build_zoo.py`; `scripts/train_zoo.sh` holds the training commands.
`dcgan-mnist` uses today's default `dcgan` nets (`plan` "pad": the 32x32 DCGAN, MNIST padded
inside D), chosen by the calibration against a plain DCGAN (`bench/RESULTS.md`, "Calibration
against a reference DCGAN"); it replaced a 276-epoch bundle on ganzoo's first 28x28 nets, whose
numbers its section shows for comparison. `wgan-gp-mnist` and `vanilla-mnist` are not
retrained yet: `wgan-gp-mnist` uses the first nets (`--model-arg arch=dcgan`), while `ganzoo
train wgan-gp` now builds the paper's MNIST nets; `vanilla-mnist` the first MLPs (`--model-arg
g_norm=none`), while `ganzoo train vanilla` now puts BatchNorm in G for images (a 60-epoch CPU
candidate on those was not shipped: better recall, worse FID; `bench/RESULTS.md`).
`dcgan-fashion-mnist` is `dcgan-mnist`'s recipe on Fashion-MNIST.
"""


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric in ("label_accuracy", "confident"):
        return f"{100 * value:.1f}%"
    if metric in ("kid", "kid_std"):
        return f"{value:.4f}"
    if metric in ("precision", "recall"):
        return f"{value:.3f}"
    return f"{value:.2f}"


def metrics_table(receipt: dict) -> list[str]:
    """The receipt's metrics on its first network and its cross-check networks, each beside real data."""
    checks = receipt.get("cross_check") or []
    nets = [(receipt["feature_network"]["name"], receipt["metrics"], (receipt.get("floor") or {}).get("metrics", {}))]
    nets += [(c["feature_network"]["name"], c["metrics"], (c.get("floor") or {}).get("metrics", {})) for c in checks]
    head = "| metric | " + " | ".join(f"`{name}` | real data" for name, _, _ in nets) + " |"
    lines = [head, "|---|" + "---:|---:|" * len(nets)]
    for metric in receipt["metrics"]:
        if metric == "kid_std":
            continue
        cells = [f"{_fmt(metric, m.get(metric))} | {_fmt(metric, f.get(metric))}" for _, m, f in nets]
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    return lines


def section(pid: str) -> list[str]:
    _, entry = ganzoo.registry.get_pretrained(pid)
    bundle = Path(entry.bundle)
    meta = json.loads((bundle / "ganzoo.json").read_text())
    spec = ganzoo.get_spec(meta["model"])
    receipt, = meta["evaluation"]
    out = [f"## `{pid}`", "", f"![samples of {pid}](assets/zoo/{pid}.png)", ""]
    line = (f"`{spec.name}`: {spec.paper}. Trained on {DATASET_NAMES.get(meta['dataset'], meta['dataset'])}. "
            f"Loss `{meta['loss']}`, {'EMA' if meta['weights']['generator'].get('ema') else 'raw'} generator. "
            f"{meta['training_note']}")
    if spec.conditional:
        line += " Each row of the grid is one label, 0 to 9 (ganzoo's one grid convention)."
    out += [line, "", *metrics_table(receipt), ""]
    for c in meta.get("comparison") or []:
        out += [f"For comparison, {c['label'].removeprefix('for comparison: ')}: FID {_fmt('fid', c['metrics']['fid'])}"
                " on the first network (same protocol).", ""]
    gpu = "--device cuda" in meta["training_command"]
    out += [f"Trained on: {meta['trained_on']}. The command (`DATA`: the dataset folder, `RUN`: the run directory):",
            "", ("<!-- skip: gpu; the run that made this bundle, on one GPU -->" if gpu else
                 "<!-- skip: long; the run that made this bundle: tens of minutes on a CPU -->"),
            "```bash", meta["training_command"], "```", ""]
    shutil.copyfile(bundle / "samples.png", DOCS / "assets" / "zoo" / f"{pid}.png")
    return out


def main() -> None:
    ids = sorted(ganzoo.list_pretrained(), key=lambda i: (ORDER.index(i) if i in ORDER else len(ORDER), i))
    header = HEADER.replace("{ids}", repr(sorted(ids)))
    for dataset in DATASET_NAMES:  # the networks' accuracies, from the records that ship with them
        for name in dataset_networks(dataset):
            accuracy = load_classifier(dataset, name=name)[1]["test_accuracy"]
            header = header.replace(f"{{acc[{name}]}}", f"{100 * accuracy:.2f}%")
    lines = [header]
    for pid in ids:
        lines += section(pid)
    (DOCS / "zoo.md").write_text("\n".join(lines).rstrip() + "\n")
    print(f"wrote {DOCS / 'zoo.md'}: {', '.join(ids)}")


if __name__ == "__main__":
    main()
