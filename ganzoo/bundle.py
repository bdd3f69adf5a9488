"""The bundle format: a trained GAN as safetensors plus JSON, read and checked before anything is built.

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

import math
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from ganzoo import limits
from ganzoo.checkpoint import sha256_file
from ganzoo.errors import BundleError, ConfigError, GanzooError, UnknownNameError
from ganzoo.interfaces import Discriminator, Generator
from ganzoo.registry import get_spec
from ganzoo.specs import ModelSpec
from ganzoo.weights import load_checked, read_json, regular_file_inside

BUNDLE_FILE = "ganzoo.json"
CARD_FILES = ("README.md", "samples.png")  # a bundle's other files, besides ganzoo.json and the weights
FORMAT = "ganzoo-bundle"
FORMAT_VERSION = 1
HUB_PREFIX = "hf-hub:"
LOCAL_REF = "path/to/this/folder"  # the model card's load example until the bundle has a Hub repository
COMPONENTS = ("generator", "discriminator")
SHA256 = re.compile(r"[0-9a-f]{64}")
REPO_ID = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?/[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?")
"""A Hub repository id, ``org/name`` (the Hub's rule; ``--`` and ``..`` are refused apart: :func:`is_repo_id`)."""


def is_repo_id(text: object) -> bool:
    """Whether ``text`` is a Hub repository id (``org/name``)."""
    return isinstance(text, str) and bool(REPO_ID.fullmatch(text)) and "--" not in text and ".." not in text


# PEP 508 distribution names: only such a name is ever shown inside a suggested command.
DISTRIBUTION_NAME = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]{0,98}[A-Z0-9]", re.IGNORECASE)
VERSION_TEXT = re.compile(r"[0-9A-Za-z.+!_-]{1,64}")


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


def check_config(spec: ModelSpec, config: dict[str, Any], source: str) -> dict[str, Any]:
    """Validate constructor arguments read from a file before anything is built from them."""

    def scalar(v: Any) -> bool:
        return v is None or isinstance(v, (bool, int, float, str))

    for key, value in config.items():
        if not (scalar(value) or (isinstance(value, list) and all(scalar(v) for v in value))):
            raise BundleError(f"{source}: setting {key!r} must be a number, string or list, got {value!r}")
        if isinstance(value, list) and len(value) > limits.MAX_LIST:
            raise BundleError(f"{source}: setting {key!r} has {len(value)} items, more than {limits.MAX_LIST}")
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, int) and not isinstance(v, bool) and not 0 <= v <= limits.MAX_DIM:
                raise BundleError(f"{source}: setting {key!r} = {value!r} is out of range [0, {limits.MAX_DIM}]")
            if isinstance(v, float) and not math.isfinite(v):
                raise BundleError(f"{source}: setting {key!r} = {value!r} is not finite")
    shape = config.get("data_shape")
    if shape is not None:
        if (not isinstance(shape, list) or not 1 <= len(shape) <= 4
                or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape)
                or math.prod(shape) > limits.MAX_ELEMENTS):
            raise BundleError(f"{source}: data_shape must be 1 to 4 positive sizes of at most {limits.MAX_ELEMENTS} "
                              f"elements in all, got {shape!r}")
    for key in ("latent_dim", "num_classes"):
        v = config.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise BundleError(f"{source}: {key} must be a positive integer, got {v!r}")
    try:  # a setting newer than the file means what it meant when the file was written
        return spec.resolve_config({**spec.saved_defaults, **config})
    except ConfigError as exc:
        raise BundleError(f"{source}: {exc}") from exc


def spec_for(meta: dict[str, Any], source: str) -> ModelSpec:
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
    spec = spec_for(meta, source)
    warn_claims(meta, spec, source)
    config = check_config(spec, meta["config"], source)
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

    return build_and_load(spec.name, config, component, file, source, device, verify)


def build_and_load(model: str, config: dict[str, Any], component: str, file: Path, source: str,
                    device: Any, verify: Any = None) -> Generator | Discriminator:
    """``component`` of ``model`` built from a checked config with ``file``'s weights: eval, float32."""
    gan = load_checked(model, config, {component: file}, source, verify=verify)
    module = gan.generator if component == "generator" else gan.discriminator
    return module.float().eval().to(device or "cpu")


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


def claims(meta: dict[str, Any], spec: ModelSpec) -> list[str]:
    """What a bundle's ``ganzoo.json`` says of its model that the installed spec contradicts.

    The family, the paper and the plugin (name and distribution) are the bundle's own words;
    only the model name chooses what is built. Empty when they agree (a plugin version may differ).
    """
    from ganzoo.plugins import get_plugin_manager

    plugin = meta.get("plugin") if isinstance(meta.get("plugin"), dict) else {}
    installed_dist = get_plugin_manager().info(spec.plugin).distribution if spec.plugin else None
    pairs = [("family", meta.get("family"), spec.family), ("paper", meta.get("paper"), spec.paper),
             ("plugin", plugin.get("name"), spec.plugin), ("distribution", plugin.get("distribution"), installed_dist)]
    return [f"{key} {claimed!r:.80} (installed: {installed!r:.80})" for key, claimed, installed in pairs
            if claimed is not None and installed and claimed != installed]


def warn_claims(meta: dict[str, Any], spec: ModelSpec, source: str) -> None:
    """Warn when a bundle claims another family, paper or plugin than the installed model's."""
    differ = claims(meta, spec)
    if differ:
        warnings.warn(f"{source} names the model {spec.name!r} but claims {'; '.join(differ)}; ganzoo uses the "
                      f"installed {spec.name!r} of plugin {spec.plugin!r}, and the bundle's claims are not its",
                      UserWarning, stacklevel=3)


def with_installed_claims(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` with the family, paper and plugin the installed model has (for a model card); as is when not installed."""
    from ganzoo.plugins import get_plugin_manager

    try:
        spec = get_spec(meta["model"])
    except GanzooError:
        return meta
    info = get_plugin_manager().info(spec.plugin)
    return {**meta, "family": spec.family, "paper": spec.paper,
            "plugin": {"name": spec.plugin, "distribution": info.distribution, "version": info.version}}
