"""Bundles: a trained GAN as safetensors plus JSON, saved, loaded and found by name.

A bundle is a folder (locally) or a model repository (on the Hugging Face Hub):

* ``ganzoo.json``: format version, model name and family, the plugin distribution
  and version that provides the model, the constructor arguments, the dataset,
  the training configuration and evaluation receipts, and the sha256 of each
  weights file;
* ``generator.safetensors``: the generator (its EMA weights when trained with EMA);
* ``discriminator.safetensors`` (optional): for fine-tuning;
* ``README.md``: a model card with Hub metadata; ``samples.png``: a sample grid.

Loading reads JSON and safetensors only, never pickles, and never runs code from
a bundle: the model named in ``ganzoo.json`` must come from an installed plugin.
The configuration is checked before any module is built.
"""

from __future__ import annotations

import ctypes
import errno
import json
import math
import os
import re
import secrets
import shutil
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import save_file
from torch import nn

from ganzoo.checkpoint import find_checkpoint, sha256_file, state_dict_tensors
from ganzoo.errors import BundleError, ConfigError, GanzooError, UnknownNameError
from ganzoo.interfaces import GAN, Discriminator, Generator
from ganzoo.weights import load_checked, read_json, regular_file_inside

if TYPE_CHECKING:
    from ganzoo.engine import Trainer
    from ganzoo.registry import ModelSpec

BUNDLE_FILE = "ganzoo.json"
CARD_FILES = ("README.md", "samples.png")  # a bundle's other files, besides ganzoo.json and the weights
FORMAT = "ganzoo-bundle"
FORMAT_VERSION = 1
HUB_PREFIX = "hf-hub:"
LOCAL_REF = "path/to/this/folder"  # the model card's load example until the bundle has a Hub repository
COMPONENTS = ("generator", "discriminator")
# Limits on what a bundle may ask ganzoo to build: a hostile or broken config.json must not
# make ganzoo allocate gigabytes before the weights are even read.
MAX_ELEMENTS = 1 << 24  # elements of one sample
MAX_DIM = 1 << 16  # latent_dim, num_classes, widths and other integer settings
MAX_LIST = 64  # items of a list setting (e.g. hidden layer sizes)
SHA256 = re.compile(r"[0-9a-f]{64}")
# PEP 508 distribution names: only such a name is ever shown inside a suggested command.
DISTRIBUTION_NAME = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]{0,98}[A-Z0-9]", re.IGNORECASE)
VERSION_TEXT = re.compile(r"[0-9A-Za-z.+!_-]{1,64}")


# --------------------------------------------------------------------------- saving


def _plugin_of(spec: ModelSpec) -> dict[str, Any]:
    from ganzoo.plugins import get_plugin_manager

    info = get_plugin_manager().info(spec.plugin)
    return {"name": spec.plugin, "distribution": info.distribution, "version": info.version}


def _loss_config(gan: GAN) -> dict[str, Any]:
    try:
        return gan.loss.config()
    except TypeError:  # a loss whose *args cannot be recorded: the name alone, as before
        return {}


def _jsonable(x: Any) -> Any:
    if isinstance(x, tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    return x


def _from_source(source: Any, ema: bool) -> tuple[GAN, dict[str, Any] | None, str | None, bool]:
    """(gan with the weights to save, training config, dataset, generator-is-EMA) of a source."""
    from ganzoo.engine import Trainer

    if isinstance(source, GAN):
        return source, None, None, False
    if isinstance(source, Trainer):
        cfg = source.config.to_json()
        g = source.sampling_generator if ema else source.gan.generator
        gan = source.gan
        if g is not gan.generator:  # the EMA copy: save it in a GAN of its own
            gan = GAN(g, gan.discriminator, gan.loss, gan.spec, gan.config, gan.loss_name)
        return gan, cfg, cfg.get("dataset"), g is not source.gan.generator
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if (path / BUNDLE_FILE).is_file():
            raise BundleError(f"{path} is already a bundle; copy the folder, or load it with ganzoo.load")
        ckpt = find_checkpoint(path)
        state, model, config = _run_state(ckpt)
        name = _run_generator_file(ckpt, ema)
        files = {"generator": regular_file_inside(ckpt / f"{name}.safetensors", path)}
        if (ckpt / "discriminator.safetensors").is_file():
            files["discriminator"] = regular_file_inside(ckpt / "discriminator.safetensors", path)
        gan = load_checked(model, config, files, str(ckpt / "state.json"), need=COMPONENTS)
        return gan, state["config"], state["config"].get("dataset"), name == "generator_ema"
    raise TypeError(f"save() takes a GAN, a Trainer or a run directory, not {type(source).__name__}")


def _receipts(evaluation: Any) -> list[dict[str, Any]]:
    if evaluation is None:
        return []
    items = evaluation if isinstance(evaluation, (list, tuple)) else [evaluation]
    out = []
    for item in items:
        receipt = getattr(item, "receipt", item)
        if not isinstance(receipt, dict):
            raise TypeError(f"evaluation takes EvalResult or receipt dicts, not {type(item).__name__}")
        out.append(receipt)
    return out


def save(
    source: GAN | Trainer | str | os.PathLike,
    path: str | os.PathLike,
    *,
    dataset: str | None = None,
    evaluation: Any = None,
    discriminator: bool = True,
    ema: bool = True,
    overwrite: bool = False,
    samples: bool = True,
    license: str = "apache-2.0",
    pretrained_id: str | None = None,
    extra: dict[str, Any] | None = None,
    repo_id: str | None = None,
    generator_is_ema: bool | None = None,
) -> Path:
    """Write a bundle folder: ``ganzoo.json``, safetensors weights, model card, sample grid.

    Args:
        source: a :class:`ganzoo.GAN`, a finished :class:`ganzoo.Trainer`, or a run
            directory (its newest checkpoint).
        path: the bundle folder to write. It is written next to its final place and
            renamed into it, so an interrupted save never leaves half a bundle.
        dataset: the training dataset (read from the run when ``source`` has one).
        evaluation: :class:`ganzoo.metrics.EvalResult` objects or receipt dicts to
            record in ``ganzoo.json`` and the model card.
        discriminator: also save the discriminator (for fine-tuning).
        ema: save the EMA generator when the source kept one.
        overwrite: replace an existing bundle at ``path``: only a folder with a valid
            ``ganzoo.json``, never the source run (nor a folder that holds it), swapped in
            once the new bundle is complete.
        samples: write ``samples.png``, 64 samples from seed 0.
        license: the licence named in the model card's metadata.
        pretrained_id: the id this bundle is published under, if any.
        extra: more JSON-able fields for ``ganzoo.json`` (e.g. how it was trained).
        repo_id: the Hub repository it will be published to (for the model card's example).
        generator_is_ema: whether the generator's weights are an EMA (found out by itself for
            Trainers and run directories; say so for a GAN holding EMA weights).

    Returns:
        The bundle folder.

    Example:
        >>> import ganzoo, tempfile
        >>> gan = ganzoo.create("dcgan")
        >>> folder = ganzoo.save(gan, tempfile.mkdtemp() + "/my-dcgan", dataset="mnist", samples=False)
        >>> ganzoo.load(folder).sample(2).shape
        torch.Size([2, 1, 28, 28])
    """
    import ganzoo

    path = Path(path)
    _check_target(path, source, overwrite)
    gan, training, run_dataset, is_ema = _from_source(source, ema)
    dataset = dataset or run_dataset
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _new_sibling(path, "tmp")
    except OSError as exc:
        raise BundleError(f"cannot write a bundle at {path}: {exc}") from exc
    try:
        weights: dict[str, Any] = {}
        parts: list[tuple[str, nn.Module]] = [("generator", gan.generator)]
        if discriminator:
            parts.append(("discriminator", gan.discriminator))
        for name, module in parts:
            file = f"{name}.safetensors"
            tensors = {k: v.float() if v.is_floating_point() else v for k, v in state_dict_tensors(module).items()}
            # One metadata key only: safetensors writes several in hash order, which would change
            # the file (and its sha256) from one save to the next.
            save_file(tensors, str(tmp / file), metadata={"format": "pt"})
            weights[name] = {"file": file, "sha256": sha256_file(tmp / file), "dtype": "float32"}
        weights["generator"]["ema"] = is_ema if generator_is_ema is None else bool(generator_is_ema)
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "id": pretrained_id,
            "model": gan.spec.name,
            "family": gan.spec.family,
            "paper": gan.spec.paper,
            "plugin": _plugin_of(gan.spec),
            "config": _jsonable(gan.config),
            "dataset": dataset,
            "loss": gan.loss_name,
            "loss_config": _jsonable(_loss_config(gan)),
            "training": _jsonable(training),
            "weights": weights,
            "evaluation": _receipts(evaluation),
            "created_with": {"ganzoo": ganzoo.__version__, "torch": torch.__version__},
            **(extra or {}),
        }
        _scrub_paths(meta)
        (tmp / BUNDLE_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        if samples:
            _save_samples(gan.generator, tmp / "samples.png")
        (tmp / "README.md").write_text(model_card(meta, samples=samples, license=license, repo_id=repo_id))
        _follow_umask(tmp)
        _swap_in(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _check_target(path: Path, source: Any, overwrite: bool) -> None:
    """Refuse to write where a save would destroy something that is not a bundle (or is the source)."""
    if path.is_symlink():
        raise BundleError(f"{path} is a link; give the bundle folder itself")
    if not path.exists():
        return
    if not path.is_dir():
        raise BundleError(f"{path} is a file, not a bundle folder; pick another path")
    if not any(path.iterdir()):
        return
    if not overwrite:
        raise BundleError(f"{path} already exists and is not empty; pick another path or pass overwrite=True "
                          "(--overwrite) to replace the bundle there")
    from ganzoo.engine import Trainer

    run = source.run_dir if isinstance(source, Trainer) else source
    if isinstance(run, (str, os.PathLike)):
        src, dst = Path(os.path.realpath(run)), Path(os.path.realpath(path))
        if src == dst or dst in src.parents or src in dst.parents:
            raise BundleError(f"refusing to overwrite {path}: it is (or holds, or lies inside) the run {run} "
                              "being saved; write the bundle somewhere else")
    try:
        meta = read_bundle_meta(path)
    except BundleError as exc:
        raise BundleError(f"refusing to overwrite {path}: --overwrite only replaces a ganzoo bundle, and this "
                          f"folder is not one ({exc}); pick another path, or move the folder away yourself") from None
    # A bundle folder may hold a run, a user's notes ...: replacing it would delete them too.
    own = {BUNDLE_FILE, *CARD_FILES}
    own |= {w.get("file") for w in meta.get("weights", {}).values() if isinstance(w, dict)}
    extra = sorted(p.name for p in path.iterdir() if p.name not in own)
    if extra:
        shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise BundleError(f"refusing to overwrite {path}: besides the bundle it holds {shown}, which "
                          "--overwrite would delete; move them away, or pick another path")


def _new_sibling(path: Path, kind: str) -> Path:
    """A new hidden folder next to ``path`` (made with the umask, like any other folder)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.{kind}")
        try:
            tmp.mkdir()
            return tmp
        except FileExistsError:
            continue


def _umask() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _follow_umask(folder: Path) -> None:
    """Give the bundle's files the modes any new file gets (safetensors writes 0600)."""
    mask = _umask()
    folder.chmod(0o777 & ~mask)
    for f in folder.iterdir():
        f.chmod(0o666 & ~mask)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(tmp: Path, final: Path) -> None:
    """Put the finished folder ``tmp`` at ``final``; an old bundle there is replaced, never lost."""
    if not final.exists():
        os.replace(tmp, final)
        return
    if _exchange(tmp, final):  # tmp now holds the old bundle
        shutil.rmtree(tmp, ignore_errors=True)
        return
    old = _new_sibling(final, "old")
    os.replace(final, old)  # onto the empty folder just made
    try:
        os.replace(tmp, final)
    except BaseException:
        os.replace(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _scrub_paths(meta: dict[str, Any]) -> None:
    """Drop machine-local paths from the recorded training config (they mean nothing elsewhere)."""
    training = meta.get("training")
    if isinstance(training, dict):
        for key in ("data_dir", "out", "resume"):
            training.pop(key, None)


def _save_samples(generator: Generator, path: Path) -> None:
    from ganzoo.images import save_grid, save_scatter
    from ganzoo.sampling import sample_batch

    g = generator.eval()
    if len(g.output_shape) == 3:
        x, _, nrow = sample_batch(g, 100 if g.num_classes == 10 else 64, seed=0)
        save_grid(x, path, nrow=nrow)
    else:
        x, _, _ = sample_batch(g, 2000, seed=0)
        save_scatter(x, path)


_TASK_TAG = {True: "image-generation", False: "unconditional-image-generation"}


def model_card(meta: dict[str, Any], *, samples: bool = True, license: str = "apache-2.0",
               repo_id: str | None = None) -> str:
    """The README.md of a bundle: Hub metadata, how to load it, how it was made and measured."""
    model, dataset = meta["model"], meta.get("dataset")
    conditional = meta["config"].get("num_classes") is not None
    tags = ["ganzoo", "gan", "pytorch", meta["family"], _TASK_TAG[conditional]]
    if model != meta["family"]:
        tags.append(model)
    if dataset:
        tags.append(dataset)
    lines = ["---", "library_name: ganzoo", f"license: {license}", "tags:"]
    lines += [f"- {t}" for t in dict.fromkeys(tags)]
    if dataset:
        lines += ["datasets:", f"- {dataset}"]
    lines += ["---", ""]
    title = meta.get("id") or f"{model} ({dataset or 'unknown data'})"
    plugin = meta["plugin"] if isinstance(meta.get("plugin"), dict) else {}
    dist = plugin.get("distribution") or "ganzoo"
    version = plugin.get("version")
    if isinstance(dist, str) and DISTRIBUTION_NAME.fullmatch(dist):
        needs = f"Needs `pip install {dist}`" + (
            f" ({version} made it)" if isinstance(version, str) and VERSION_TEXT.fullmatch(version) else "")
    else:
        needs = "Needs the ganzoo plugin that provides this model"
    ref = meta.get("id") or (f"{HUB_PREFIX}{repo_id}" if repo_id else LOCAL_REF)
    lines += [
        f"# {title}",
        "",
        f"A `{model}` generator ({meta['family']} family; {meta.get('paper') or 'see the plugin'}) "
        f"trained on {dataset or 'an unnamed dataset'} with ganzoo, a GAN model zoo for PyTorch.",
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


# --------------------------------------------------------------------------- loading


def read_bundle_meta(folder: str | Path) -> dict[str, Any]:
    """Read and check a bundle's ``ganzoo.json`` (format, names, file names, hashes); no module is built."""
    folder = Path(folder)
    file = folder / BUNDLE_FILE
    try:
        meta = read_json(file, "bundle")
    except FileNotFoundError as exc:
        raise BundleError(f"{folder} is not a ganzoo bundle: it has no {BUNDLE_FILE}") from exc
    return check_meta(meta, str(file))


def check_meta(meta: Any, source: str) -> dict[str, Any]:
    """Check a parsed ``ganzoo.json``: format and version, model and config, weights' file names and sha256."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise BundleError(f"{source} is not a ganzoo bundle description (no \"format\": \"{FORMAT}\")")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise BundleError(f"{source}: format_version must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise BundleError(f"{source} uses bundle format {version}; this ganzoo reads up to {FORMAT_VERSION}: "
                          "upgrade ganzoo (`pip install -U ganzoo`)")
    for key in ("model", "config", "weights"):
        if key not in meta:
            raise BundleError(f"{source} has no {key!r} entry")
    if not isinstance(meta["model"], str) or not isinstance(meta["config"], dict):
        raise BundleError(f"{source}: 'model' must be a name and 'config' an object")
    weights = meta["weights"]
    if not isinstance(weights, dict) or "generator" not in weights:
        raise BundleError(f"{source}: 'weights' must name at least the generator's file")
    for comp, entry in weights.items():
        name = entry.get("file") if isinstance(entry, dict) else None
        # Plain file names only: a bundle must not point ganzoo at files outside itself.
        if (not isinstance(name, str) or not name.endswith(".safetensors") or "/" in name or "\\" in name
                or name.startswith(".")):
            raise BundleError(f"{source}: weights of {comp!r} must be a plain *.safetensors file name, got {name!r}")
        digest = entry.get("sha256")
        if not isinstance(digest, str) or not SHA256.fullmatch(digest):
            raise BundleError(f"{source}: weights of {comp!r} must carry their sha256 (64 lowercase hex digits), "
                              f"got {digest!r}; a bundle without it cannot be checked: save it again")
    return meta


def _check_config(spec: ModelSpec, config: dict[str, Any], source: str) -> dict[str, Any]:
    """Validate constructor arguments read from a file before anything is built from them."""

    def scalar(v: Any) -> bool:
        return v is None or isinstance(v, (bool, int, float, str))

    for key, value in config.items():
        if not (scalar(value) or (isinstance(value, list) and all(scalar(v) for v in value))):
            raise BundleError(f"{source}: setting {key!r} must be a number, string or list, got {value!r}")
        if isinstance(value, list) and len(value) > MAX_LIST:
            raise BundleError(f"{source}: setting {key!r} has {len(value)} items, more than {MAX_LIST}")
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, int) and not isinstance(v, bool) and not 0 <= v <= MAX_DIM:
                raise BundleError(f"{source}: setting {key!r} = {value!r} is out of range [0, {MAX_DIM}]")
            if isinstance(v, float) and not math.isfinite(v):
                raise BundleError(f"{source}: setting {key!r} = {value!r} is not finite")
    shape = config.get("data_shape")
    if shape is not None:
        if (not isinstance(shape, list) or not 1 <= len(shape) <= 4
                or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape)
                or math.prod(shape) > MAX_ELEMENTS):
            raise BundleError(f"{source}: data_shape must be 1 to 4 positive sizes of at most {MAX_ELEMENTS} "
                              f"elements in all, got {shape!r}")
    for key in ("latent_dim", "num_classes"):
        v = config.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise BundleError(f"{source}: {key} must be a positive integer, got {v!r}")
    try:  # a setting newer than the file means what it meant when the file was written
        return spec.resolve_config({**spec.saved_defaults, **config})
    except ConfigError as exc:
        raise BundleError(f"{source}: {exc}") from exc


def install_advice(plugin: Any) -> str:
    """What to install for a bundle's model, from its ``plugin`` entry (untrusted text).

    A ``pip install`` command is suggested only for a valid distribution name (PEP 508).

    Example:
        >>> install_advice({"distribution": "ganzoo-x", "version": "1.0"})
        "the bundle says it comes from the distribution 'ganzoo-x' (version 1.0 made it): `pip install ganzoo-x`"
        >>> install_advice({"distribution": "x; rm -rf ~"})
        "the bundle names the distribution 'x; rm -rf ~', which is not a valid package name: find the plugin yourself"
    """
    plugin = plugin if isinstance(plugin, dict) else {}
    dist, version = plugin.get("distribution"), plugin.get("version")
    if not isinstance(dist, str) or not dist:
        return "install the plugin that provides it"
    if not DISTRIBUTION_NAME.fullmatch(dist):
        return (f"the bundle names the distribution {dist[:100]!r}, which is not a valid package name: "
                "find the plugin yourself")
    made = f" (version {version} made it)" if isinstance(version, str) and VERSION_TEXT.fullmatch(version) else ""
    return f"the bundle says it comes from the distribution {dist!r}{made}: `pip install {dist}`"


def _spec_for(meta: dict[str, Any], source: str) -> ModelSpec:
    from ganzoo.registry import get_spec

    try:
        return get_spec(meta["model"])
    except GanzooError as exc:
        # A "did you mean" among other models would mislead: the bundle names its model exactly.
        cause = "" if isinstance(exc, UnknownNameError) else f" ({exc})"
        raise BundleError(f"{source} needs the model {meta['model'][:100]!r}, which no installed plugin "
                          f"provides; {install_advice(meta.get('plugin'))}.{cause}") from exc


def load_bundle(
    folder: str | Path,
    *,
    component: str = "generator",
    device: torch.device | str | None = None,
    expected_sha256: str | None = None,
    root: str | Path | None = None,
) -> Generator | Discriminator:
    """Build the bundle's model from ``ganzoo.json`` and load one component's weights.

    Checked, in this order, before anything is allocated: ``ganzoo.json`` (size, format, file
    names, a sha256 for every weights file), the constructor arguments, the weights file (a
    regular file inside ``root``, default ``folder``: a link leading out of it is refused), its
    safetensors header against the model built on the meta device (total size, every name,
    shape and dtype), its sha256 against ``ganzoo.json`` and ``expected_sha256`` when given.
    Returns the module in eval mode, float32.
    """
    folder = Path(folder)
    root = Path(root) if root is not None else folder
    if component not in COMPONENTS:
        raise ConfigError(f"component must be one of {', '.join(COMPONENTS)}, got {component!r}")
    regular_file_inside(folder / BUNDLE_FILE, root, BUNDLE_FILE)
    meta = read_bundle_meta(folder)
    source = str(folder / BUNDLE_FILE)
    spec = _spec_for(meta, source)
    config = _check_config(spec, meta["config"], source)
    entry = meta["weights"].get(component)
    if entry is None:
        raise BundleError(f"{folder} has no {component} weights (it was saved without them)"
                          + ("; save it again with discriminator=True" if component == "discriminator" else ""))
    file = regular_file_inside(folder / entry["file"], root)

    def verify() -> None:
        actual = sha256_file(file)
        for expected, what in ((entry["sha256"], BUNDLE_FILE), (expected_sha256, "the pretrained entry")):
            if expected and actual != expected:
                raise BundleError(
                    f"{folder / entry['file']} is corrupt or truncated: its sha256 is {actual[:16]}…, {what} "
                    f"expects {expected[:16]}…. Download it again (for the Hub: force_download, or delete that "
                    "file from the cache) or reinstall the package that ships it"
                )

    return _build_and_load(spec.name, config, component, file, source, device, verify)


def _build_and_load(model: str, config: dict[str, Any], component: str, file: Path, source: str,
                    device: Any, verify: Any = None) -> Generator | Discriminator:
    """``component`` of ``model`` built from a checked config with ``file``'s weights: eval, float32."""
    gan = load_checked(model, config, {component: file}, source, verify=verify)
    module = gan.generator if component == "generator" else gan.discriminator
    return module.float().eval().to(device or "cpu")


def is_path_text(text: str) -> bool:
    """Whether a reference is written as a path: absolute, ``.``/``..``, or holding a separator.

    A bare name (``dcgan-mnist``) is a pretrained id first; only when no plugin has that id is
    it looked up as a folder in the working directory.
    """
    seps = {os.sep, "/", *([os.altsep] if os.altsep else [])}
    return os.path.isabs(text) or text in (".", "..") or any(s in text for s in seps)


def _pretrained_id_exists(text: str) -> bool:
    from ganzoo.registry import get_pretrained

    try:
        get_pretrained(text)
    except UnknownNameError:
        return False
    return True


def _warn_clash(text: str) -> None:
    if Path(text).exists():
        warnings.warn(f"{text!r} is a pretrained id and also a folder in the working directory; loading the "
                      f"pretrained id (ids win). To load the folder, write it as a path: ./{text}",
                      UserWarning, stacklevel=4)


def _locate(ref: str, component: str) -> tuple[Path, str | None, Path]:
    """``(bundle folder, pinned sha256, folder its files must lie in)`` of a bundle reference."""
    from ganzoo.registry import get_pretrained

    if ref.startswith(HUB_PREFIX):
        from ganzoo.hub import download_bundle, parse_hub_ref

        folder = download_bundle(*parse_hub_ref(ref), component=component)
        return folder, None, _hub_root(folder)
    if is_path_text(ref) or not _pretrained_id_exists(ref):
        if (Path(ref) / BUNDLE_FILE).is_file():
            return Path(ref), None, Path(ref)
        if is_path_text(ref):
            raise BundleError(f"{ref} is not a ganzoo bundle: it has no {BUNDLE_FILE}")
    else:
        _warn_clash(ref)
    spec, entry = get_pretrained(ref)
    expected = entry.sha256 if component == "generator" else None
    folder = Path(entry.bundle) if entry.bundle else None
    if folder is None or not (folder / BUNDLE_FILE).is_file():
        if not entry.hub_repo:
            raise BundleError(f"pretrained {ref!r} ships no weights in plugin {spec.plugin!r} and names "
                              "no Hub repository; reinstall the plugin")
        from ganzoo.hub import download_bundle

        folder = download_bundle(entry.hub_repo, entry.revision, component=component)
        return folder, expected, _hub_root(folder)
    return folder, expected, folder


def _hub_root(snapshot: Path) -> Path:
    """The Hub cache folder of one repository (``models--org--name``): its snapshots link to its blobs."""
    return snapshot.parent.parent


def bundle_folder(ref: str, component: str = "generator") -> tuple[Path, str | None]:
    """The local folder of the bundle ``ref`` names, and the sha256 its pretrained entry pins.

    ``ref`` is ``hf-hub:org/name[@rev]`` (downloaded into the Hub cache: ``ganzoo.json`` and
    ``component``'s weights), a pretrained id (its folder inside the plugin package, else its
    Hub repository), or a bundle folder. Ids win over folders: a folder named like a pretrained id
    is loaded only when written as a path (``./dcgan-mnist``), with a warning on the clash. Run
    directories are not bundles: see :func:`load`.
    """
    folder, expected, _ = _locate(ref, component)
    return folder, expected


def load(
    ref: str | os.PathLike,
    *,
    device: torch.device | str | None = None,
    component: str = "generator",
    ema: bool = True,
) -> Generator | Discriminator:
    """Load a trained generator (or discriminator) by pretrained id, folder or Hub reference.

    Args:
        ref: a pretrained id (``"dcgan-mnist"``, see ``ganzoo.list_pretrained()``), a bundle
            folder, a run directory (its newest checkpoint), or ``"hf-hub:org/name"``
            with an optional ``@revision`` (branch, tag or commit). Ids win: a folder named
            like a pretrained id is loaded only when written as a path (``"./dcgan-mnist"``,
            or a :class:`pathlib.Path`), and a warning names the clash.
        device: where to put the module (default: the CPU).
        component: ``"generator"`` or ``"discriminator"``.
        ema: for run directories, the EMA generator when the run kept one.

    Returns:
        The module in eval mode, float32.

    Raises:
        UnknownNameError: an unknown pretrained id (with close matches).
        BundleError: a missing, corrupt or mismatched bundle; a model whose plugin is
            not installed (the error names the distribution); anything refused before
            loading (see :func:`load_bundle`).
        HubError: a Hub repository or revision that does not exist, a refused token,
            or offline with nothing cached.

    Example:
        >>> import ganzoo
        >>> g = ganzoo.load("dcgan-mnist")
        >>> x = g.sample(16)
        >>> tuple(x.shape), bool(x.min() >= -1 and x.max() <= 1)
        ((16, 1, 28, 28), True)
    """
    if component not in COMPONENTS:
        raise ConfigError(f"component must be one of {', '.join(COMPONENTS)}, got {component!r}")
    text = os.fspath(ref)
    if not isinstance(ref, str) and not is_path_text(text):
        text = os.path.join(".", text)  # a Path object is always a path
    if not text.startswith(HUB_PREFIX) and (is_path_text(text) or not _pretrained_id_exists(text)):
        path = Path(text)
        if path.exists() and not (path / BUNDLE_FILE).is_file():
            return _load_run(path, component, device, ema)
        if not path.exists() and is_path_text(text):
            raise BundleError(f"{text} does not exist; give a bundle folder, a run directory, a pretrained id "
                              "(`ganzoo list --pretrained`) or hf-hub:org/name")
    folder, expected, root = _locate(text, component)
    return load_bundle(folder, component=component, device=device, expected_sha256=expected, root=root)


def _run_state(ckpt: Path) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """``(state, model name, checked constructor config)`` of a checkpoint's ``state.json``."""

    source = str(ckpt / "state.json")
    try:
        state = read_json(ckpt / "state.json", "checkpoint state")
        model, config = state["config"]["model"], state["model_config"]
    except (OSError, KeyError, TypeError) as exc:
        raise BundleError(f"{source} is not a ganzoo checkpoint state ({type(exc).__name__}: {exc})") from exc
    if not isinstance(model, str) or not isinstance(config, dict) or not isinstance(state["config"], dict):
        raise BundleError(f"{source}: 'model' must be a name and 'model_config' an object")
    return state, model, _check_config(_spec_for({"model": model, "plugin": state.get("plugin")}, source),
                                       config, source)


def _run_generator_file(ckpt: Path, ema: bool) -> str:
    """``generator_ema`` when asked for and the run kept one, else ``generator``."""
    return "generator_ema" if ema and (ckpt / "generator_ema.safetensors").is_file() else "generator"


def _load_run(path: Path, component: str, device: Any, ema: bool) -> Generator | Discriminator:
    """A run directory's newest checkpoint, with the same checks as a bundle (config first, then weights)."""
    ckpt = find_checkpoint(path)
    _, model, config = _run_state(ckpt)
    name = _run_generator_file(ckpt, ema) if component == "generator" else "discriminator"
    file = regular_file_inside(ckpt / f"{name}.safetensors", path, "checkpoint file")
    return _build_and_load(model, config, component, file, str(ckpt / "state.json"), device)
