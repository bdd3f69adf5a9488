"""A bundle's model card (``README.md``): Hub metadata, how to load it, how it was made and measured."""

from __future__ import annotations

import json
import re
from typing import Any

from ganzoo.bundle import DISTRIBUTION_NAME, HUB_PREFIX, LOCAL_REF, VERSION_TEXT, is_repo_id
from ganzoo.specs import NAME

NAME_TEXT = re.compile(r"[\w][\w .+-]{0,99}")  # a folder's name as the card prints it (no markup, no path)
PLAIN_TEXT = re.compile(r"[\w][\w .()+,:/-]{0,99}")  # hardware, versions, setting values (a bundle may carry anything)
_TASK_TAG = {True: "image-generation", False: "unconditional-image-generation"}


def model_card(meta: dict[str, Any], *, samples: bool = True, license: str = "apache-2.0",
               repo_id: str | None = None) -> str:
    """The README.md of a bundle: Hub metadata, how to load it, how it was made and measured."""
    model, dataset = meta["model"], meta.get("dataset")
    history = meta.get("history") if isinstance(meta.get("history"), dict) else {}
    described = _dataset_words(dataset, history.get("data"))
    conditional = meta["config"].get("num_classes") is not None
    tags = ["ganzoo", "gan", "pytorch", meta["family"], _TASK_TAG[conditional]]
    if model != meta["family"]:
        tags.append(model)
    if dataset:
        tags.append(dataset)
    lines = ["---", "library_name: ganzoo", f"license: {license}", "tags:"]
    lines += [f"- {t}" for t in dict.fromkeys(tags)]
    if dataset and dataset != "folder":  # Hub metadata names datasets; a local folder is none
        lines += ["datasets:", f"- {dataset}"]
    lines += ["---", ""]
    # The id and the repository land in the card's code example: only text that passes their rules
    # (a bundle from elsewhere may carry anything in its ganzoo.json).
    pid = meta.get("id") if isinstance(meta.get("id"), str) and NAME.fullmatch(meta["id"]) else None
    repo_id = repo_id if is_repo_id(repo_id) else None
    title = pid or f"{model} on {described or 'unknown data'}"
    plugin = meta["plugin"] if isinstance(meta.get("plugin"), dict) else {}
    dist = plugin.get("distribution") or "ganzoo"
    version = plugin.get("version")
    if isinstance(dist, str) and DISTRIBUTION_NAME.fullmatch(dist):
        needs = f"Needs `pip install {dist}`" + (
            f" ({version} made it)" if isinstance(version, str) and VERSION_TEXT.fullmatch(version) else "")
    else:
        needs = "Needs the ganzoo plugin that provides this model"
    ref = pid or (f"{HUB_PREFIX}{repo_id}" if repo_id else LOCAL_REF)
    lines += [
        f"# {title}",
        "",
        f"A `{model}` generator ({meta['family']} family; {meta.get('paper') or 'see the plugin'}) "
        f"trained on {described or 'an unnamed dataset'} with ganzoo, a GAN model zoo for PyTorch.",
        "",
    ]
    if samples:
        lines += ["![samples](samples.png)", ""]
    lines += [
        "## Use",
        "",
        "```python",
        "import ganzoo",
        f'g = ganzoo.load("{ref}")  # a Generator in eval mode, float32, on the CPU',
        "x = g.sample(16" + (", y=[3] * 16" if conditional else "") + ")  # images in [-1, 1]",
        "```",
        "",
        f"or `ganzoo sample {ref} -o samples.png`. {needs}. "
        "Only `ganzoo.json` and safetensors files are read; no code from this repository runs.",
        "",
        "## Model",
        "",
        f"- constructor arguments: `{json.dumps(meta['config'])}`",
        "- weights: `generator.safetensors`"
        + (" (exponential moving average of the trained generator)" if meta["weights"]["generator"].get("ema") else "")
        + ("; `discriminator.safetensors` for fine-tuning" if "discriminator" in meta["weights"] else ""),
        "",
    ]
    training = meta.get("training")
    if training:
        keys = ("dataset", "epochs", "steps", "batch_size", "loss", "lr_g", "lr_d", "betas", "n_critic",
                "ema", "ema_decay", "precision", "seed", "device", "torch_version")
        if training.get("lr_schedule", "constant") != "constant":
            keys += ("lr_schedule", "lr_decay_start")
        shown = {k: training[k] for k in keys if training.get(k) is not None}
        lines += ["## Training", "", f"`ganzoo train {model}` with:", "", "```json",
                  json.dumps(shown, indent=2), "```", ""]
        if meta.get("training_command"):
            lines += ["Command:", "", "```", meta["training_command"], "```", ""]
        if meta.get("trained_on"):
            lines += [f"Trained on: {meta['trained_on']}.", ""]
    lines += _history_lines(history)
    if meta.get("training_note"):
        lines += [meta["training_note"], ""]
    receipts = meta.get("evaluation") or []
    if receipts:
        lines += ["## Evaluation", ""]
        for r in receipts:
            lines += _receipt_table(r)
        lines += ["`ganzoo eval REF --verify` recomputes these numbers from the receipt in `ganzoo.json`.", ""]
    for r in meta.get("comparison") or []:
        lines += ["### For comparison", ""] + _receipt_table(r)
    return "\n".join(lines).rstrip() + "\n"


def _dataset_words(dataset: Any, data: Any) -> str | None:
    """How the card names the training data: ``mnist``, or ``a folder of 3,000 images (`flowers`)``."""
    data = data if isinstance(data, dict) else {}
    n = data.get("samples") if isinstance(data.get("samples"), int) else None
    folder = data.get("folder") if isinstance(data.get("folder"), str) and NAME_TEXT.fullmatch(data["folder"]) else None
    if dataset == "folder":
        size = f"{n:,} images" if n is not None else "images"
        return f"a folder of {size}" + (f" (`{folder}`)" if folder else "")
    if isinstance(dataset, str) and n is not None:
        return f"{dataset} ({n:,} samples)"
    return dataset if isinstance(dataset, str) else None


def _history_lines(history: dict[str, Any]) -> list[str]:
    """The card's "What happened" section: steps really trained, time, hardware, resumes."""
    steps = history.get("steps")
    if not isinstance(steps, int):
        return []
    planned = history.get("planned_steps")
    said = f"{steps:,} generator steps"
    if isinstance(planned, int) and planned != steps:
        said += f" of the {planned:,} planned"
    if isinstance(history.get("epochs"), (int, float)):
        said += f" ({history['epochs']:g} epochs)"
    wall = history.get("wall_time_s")
    if isinstance(wall, (int, float)):
        said += f" in {_duration(wall)} of training"
    if _plain(history.get("hardware")):
        said += f" on {history['hardware']}"
    if _plain(history.get("torch_version")):
        said += f", torch {history['torch_version']}"
    lines = ["## What happened", "", said + ".", ""]
    sessions = history.get("sessions")
    changes = [c for c in history.get("changes") or [] if isinstance(c, dict)]
    if isinstance(sessions, int) and sessions > 1:
        lines += [f"Trained in {sessions} sessions (resumed {sessions - 1} time{'s' * (sessions > 2)})"
                  + (", with these changes:" if changes else ", with no change of settings."), ""]
    for c in changes:
        what = ", ".join(f"{k} {v.get('from')} -> {v.get('to')}" for k, v in c.items()
                         if k != "step" and _plain(k) and isinstance(v, dict)
                         and all(_plain(v.get(e)) for e in ("from", "to")))
        if isinstance(c.get("step"), int) and what:
            lines.append(f"- at step {c['step']:,}: {what}")
    if lines[-1] != "":
        lines.append("")
    return lines


def _plain(x: Any) -> bool:
    """A number, or short text without markup, fit to print in a card."""
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return True
    return isinstance(x, str) and PLAIN_TEXT.fullmatch(x) is not None


def _duration(seconds: float) -> str:
    minutes, s = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {s} s" if minutes else f"{seconds:.1f} s"


def _receipt_table(r: dict[str, Any]) -> list[str]:
    try:
        ref, proto, net = r["reference"], r["protocol"], r["feature_network"]
        cross = r.get("cross_check") or []
        names = [net["name"]] + [c["feature_network"]["name"] for c in cross]
        head = (f"{proto['n']} samples (seed {proto['seed']}) against {ref['n']} {ref['dataset']} "
                f"{ref['split']} images; features of `{net['name']}` (sha256 `{net['sha256'][:12]}…`)"
                + "".join(f" and of the cross-check network `{c['feature_network']['name']}` (sha256 "
                          f"`{c['feature_network']['sha256'][:12]}…`)" for c in cross)
                + f"; ganzoo {r.get('versions', {}).get('ganzoo', '?')}.")
        columns = [(r["metrics"], (r.get("floor") or {}).get("metrics", {}))]
        columns += [(c["metrics"], (c.get("floor") or {}).get("metrics", {})) for c in cross]
        if cross:
            rows = ["| metric | " + " | ".join(f"`{n}` | real data" for n in names) + " |",
                    "|---|" + "---:|---:|" * len(names)]
        else:
            rows = ["| metric | value | real data (train vs test) |", "|---|---:|---:|"]
        for k in r["metrics"]:
            cells = []
            for values, floor in columns:
                v, f = values.get(k), floor.get(k)
                cells += ["" if v is None else f"{v:.4g}", "" if f is None else f"{f:.4g}"]
            rows.append(f"| {k} | " + " | ".join(cells) + " |")
    except (KeyError, TypeError, ValueError, AttributeError):
        return ["(an evaluation receipt in an unknown format; see ganzoo.json)", ""]
    label = r.get("label")
    notes = []
    if cross:
        notes = ["`real data`: train images against the test split, on the same network. `confident`: share "
                 "of samples classified with softmax probability above 0.9. Where the networks rank models "
                 "differently, the difference is within what the choice of network decides.", ""]
    return ([f"**{label}**", ""] if label else []) + [head, "", *rows, "", *notes]
