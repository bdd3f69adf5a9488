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

import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import save_file
from torch import nn

from ganzoo.checkpoint import (
    find_checkpoint,
    load_module,
    replace_dir,
    sha256_file,
    state_dict_tensors,
)
from ganzoo.errors import BundleError, CheckpointError, ConfigError, GanzooError
from ganzoo.interfaces import GAN, Discriminator, Generator

if TYPE_CHECKING:
    from ganzoo.engine import Trainer
    from ganzoo.registry import ModelSpec

BUNDLE_FILE = "ganzoo.json"
FORMAT = "ganzoo-bundle"
FORMAT_VERSION = 1
HUB_PREFIX = "hf-hub:"
LOCAL_REF = "path/to/this/folder"  # the model card's load example until the bundle has a Hub repository
COMPONENTS = ("generator", "discriminator")
# Limits on what a bundle may ask ganzoo to build: a hostile or broken config.json must not
# make ganzoo allocate gigabytes before the weights are even read.
MAX_ELEMENTS = 1 << 24  # elements of one sample
MAX_DIM = 1 << 16  # latent_dim, num_classes, widths and other integer settings


# --------------------------------------------------------------------------- saving


def _plugin_of(spec: ModelSpec) -> dict[str, Any]:
    from ganzoo.plugins import get_plugin_manager

    info = get_plugin_manager().info(spec.plugin)
    return {"name": spec.plugin, "distribution": info.distribution, "version": info.version}


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
    from ganzoo.registry import create

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
        gan = create(model, **config)
        name = _run_generator_file(ckpt, ema)
        _load_into(gan.generator, ckpt / f"{name}.safetensors")
        if (ckpt / "discriminator.safetensors").is_file():
            _load_into(gan.discriminator, ckpt / "discriminator.safetensors")
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
        overwrite: replace an existing bundle at ``path``.
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
    if path.exists() and not overwrite and (not path.is_dir() or any(path.iterdir())):
        raise BundleError(f"{path} already exists and is not empty; pick another path or pass overwrite=True "
                          "(--overwrite)")
    gan, training, run_dataset, is_ema = _from_source(source, ema)
    dataset = dataset or run_dataset
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
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
        replace_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


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
    plugin = meta["plugin"]
    dist = plugin.get("distribution") or "ganzoo"
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
        f"or `ganzoo sample {ref} -o samples.png`. Needs `pip install {dist}`"
        + (f" ({plugin.get('version')} made it)" if plugin.get("version") else "") + ". "
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
        head = (f"{proto['n']} samples (seed {proto['seed']}) against {ref['n']} {ref['dataset']} "
                f"{ref['split']} images; features of `{net['name']}` (sha256 `{net['sha256'][:12]}…`); "
                f"ganzoo {r.get('versions', {}).get('ganzoo', '?')}.")
        floor = r.get("floor", {}).get("metrics", {})
        rows = ["| metric | value | real data (train vs test) |", "|---|---:|---:|"]
        for k, v in r["metrics"].items():
            f = floor.get(k)
            rows.append(f"| {k} | {v:.4g} | {'' if f is None else f'{f:.4g}'} |")
    except (KeyError, TypeError, ValueError):
        return ["(an evaluation receipt in an unknown format; see ganzoo.json)", ""]
    label = r.get("label")
    return ([f"**{label}**", ""] if label else []) + [head, "", *rows, ""]


# --------------------------------------------------------------------------- loading


def read_bundle_meta(folder: str | Path) -> dict[str, Any]:
    """Read and check a bundle's ``ganzoo.json`` (format, names, file names); no module is built."""
    folder = Path(folder)
    file = folder / BUNDLE_FILE
    try:
        meta = json.loads(file.read_text())
    except FileNotFoundError as exc:
        raise BundleError(f"{folder} is not a ganzoo bundle: it has no {BUNDLE_FILE}") from exc
    except (OSError, ValueError) as exc:
        raise BundleError(f"{file} is not valid JSON ({exc}); the bundle is corrupt: download or save it again") from exc
    return check_meta(meta, str(file))


def check_meta(meta: Any, source: str) -> dict[str, Any]:
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
    return meta


def _check_config(spec: ModelSpec, config: dict[str, Any], source: str) -> dict[str, Any]:
    """Validate constructor arguments read from a file before anything is built from them."""

    def scalar(v: Any) -> bool:
        return v is None or isinstance(v, (bool, int, float, str))

    for key, value in config.items():
        if not (scalar(value) or (isinstance(value, list) and all(scalar(v) for v in value))):
            raise BundleError(f"{source}: setting {key!r} must be a number, string or list, got {value!r}")
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


def _spec_for(meta: dict[str, Any], source: str) -> ModelSpec:
    from ganzoo.registry import get_spec

    try:
        return get_spec(meta["model"])
    except GanzooError as exc:
        plugin = meta.get("plugin") if isinstance(meta.get("plugin"), dict) else {}
        dist = plugin.get("distribution")
        need = (f"it comes from the distribution {dist!r}"
                + (f" (version {plugin['version']} made it)" if plugin.get("version") else "")
                + f": `pip install {dist}`") if dist else "install the plugin that provides it"
        raise BundleError(f"{source} needs the model {meta['model']!r}, which no installed plugin provides; "
                          f"{need}. ({exc})") from exc


def load_bundle(
    folder: str | Path,
    *,
    component: str = "generator",
    device: torch.device | str | None = None,
    expected_sha256: str | None = None,
) -> Generator | Discriminator:
    """Build the bundle's model from ``ganzoo.json`` and load one component's weights.

    The weights' sha256 is checked against ``ganzoo.json`` (and ``expected_sha256``
    when given) before they are read. Returns the module in eval mode, float32.
    """
    folder = Path(folder)
    if component not in COMPONENTS:
        raise ConfigError(f"component must be one of {', '.join(COMPONENTS)}, got {component!r}")
    meta = read_bundle_meta(folder)
    source = str(folder / BUNDLE_FILE)
    spec = _spec_for(meta, source)
    config = _check_config(spec, meta["config"], source)
    entry = meta["weights"].get(component)
    if entry is None:
        raise BundleError(f"{folder} has no {component} weights (it was saved without them); "
                          + ("save it again with discriminator=True" if component == "discriminator" else ""))
    file = folder / entry["file"]
    if not file.is_file():
        raise BundleError(f"{file} is missing from the bundle; download or save the bundle again")
    actual = sha256_file(file)
    for expected, what in ((entry.get("sha256"), BUNDLE_FILE), (expected_sha256, "the pretrained entry")):
        if expected and actual != expected:
            raise BundleError(
                f"{file} is corrupt or truncated: its sha256 is {actual[:16]}…, {what} expects "
                f"{expected[:16]}…. Download it again (for the Hub: force_download, or delete that "
                "file from the cache) or reinstall the package that ships it"
            )
    return _build_and_load(spec.name, config, component, file, source, device)


def _build_and_load(model: str, config: dict[str, Any], component: str, file: Path, source: str,
                    device: Any) -> Generator | Discriminator:
    """Build ``model`` from a checked config, load ``component``'s weights from ``file``: eval, float32."""
    from ganzoo.registry import create

    try:
        gan = create(model, **config)
    except GanzooError as exc:
        raise BundleError(f"{source}: the model cannot be built from its config: {exc}") from exc
    module = gan.generator if component == "generator" else gan.discriminator
    _load_into(module, file)
    return module.float().eval().to(device or "cpu")


def _load_into(module: nn.Module, file: Path) -> None:
    try:
        load_module(module, file)
    except CheckpointError as exc:
        raise BundleError(str(exc)) from exc


def bundle_folder(ref: str, component: str = "generator") -> tuple[Path, str | None]:
    """The local folder of the bundle ``ref`` names, and the sha256 its pretrained entry pins.

    ``ref`` is ``hf-hub:org/name[@rev]`` (downloaded into the Hub cache: ``ganzoo.json`` and
    ``component``'s weights), a bundle folder, or a pretrained id (its folder inside the plugin
    package, else its Hub repository). Run directories are not bundles: see :func:`load`.
    """
    from ganzoo.registry import get_pretrained

    if ref.startswith(HUB_PREFIX):
        from ganzoo.hub import download_bundle, parse_hub_ref

        return download_bundle(*parse_hub_ref(ref), component=component), None
    if (Path(ref) / BUNDLE_FILE).is_file():
        return Path(ref), None
    spec, entry = get_pretrained(ref)
    expected = entry.sha256 if component == "generator" else None
    folder = Path(entry.bundle) if entry.bundle else None
    if folder is None or not (folder / BUNDLE_FILE).is_file():
        if not entry.hub_repo:
            raise BundleError(f"pretrained {ref!r} ships no weights in plugin {spec.plugin!r} and names "
                              "no Hub repository; reinstall the plugin")
        from ganzoo.hub import download_bundle

        folder = download_bundle(entry.hub_repo, entry.revision, component=component)
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
            with an optional ``@revision`` (branch, tag or commit).
        device: where to put the module (default: the CPU).
        component: ``"generator"`` or ``"discriminator"``.
        ema: for run directories, the EMA generator when the run kept one.

    Returns:
        The module in eval mode, float32.

    Raises:
        UnknownNameError: an unknown pretrained id (with close matches).
        BundleError: a missing, corrupt or mismatched bundle; a model whose plugin is
            not installed (the error names the distribution).
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
    if not text.startswith(HUB_PREFIX):
        path = Path(text)
        if path.exists() and not (path / BUNDLE_FILE).is_file():
            return _load_run(path, component, device, ema)
        if not path.exists() and (os.sep in text or "/" in text or text.startswith(".")):
            raise BundleError(f"{text} does not exist; give a bundle folder, a run directory, a pretrained id "
                              "(`ganzoo list --pretrained`) or hf-hub:org/name")
    folder, expected = bundle_folder(text, component)
    return load_bundle(folder, component=component, device=device, expected_sha256=expected)


def _run_state(ckpt: Path) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """``(state, model name, checked constructor config)`` of a checkpoint's ``state.json``."""
    from ganzoo.registry import get_spec

    source = str(ckpt / "state.json")
    try:
        state = json.loads((ckpt / "state.json").read_text())
        model, config = state["config"]["model"], state["model_config"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"{source} is not a ganzoo checkpoint state ({exc})") from exc
    if not isinstance(model, str) or not isinstance(config, dict):
        raise BundleError(f"{source}: 'model' must be a name and 'model_config' an object")
    return state, model, _check_config(get_spec(model), config, source)


def _run_generator_file(ckpt: Path, ema: bool) -> str:
    """``generator_ema`` when asked for and the run kept one, else ``generator``."""
    return "generator_ema" if ema and (ckpt / "generator_ema.safetensors").is_file() else "generator"


def _load_run(path: Path, component: str, device: Any, ema: bool) -> Generator | Discriminator:
    """A run directory's newest checkpoint, with the same checks as a bundle (config first, then weights)."""
    ckpt = find_checkpoint(path)
    _, model, config = _run_state(ckpt)
    name = _run_generator_file(ckpt, ema) if component == "generator" else "discriminator"
    return _build_and_load(model, config, component, ckpt / f"{name}.safetensors", str(ckpt / "state.json"), device)
