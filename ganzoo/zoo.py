"""Saving, loading and publishing GANs: :func:`save`, :func:`load`, :func:`push_to_hub`.

:func:`save` writes a bundle (the format is :mod:`ganzoo.bundle`'s: ``ganzoo.json``, safetensors
weights, a model card and a sample grid) atomically; :func:`load` finds one by pretrained id,
folder, run directory or ``hf-hub:`` reference and loads it through the checks of
:mod:`ganzoo.bundle` and :mod:`ganzoo.weights`: JSON and safetensors only, never a pickle, and
never code from a bundle (its model must come from an installed plugin).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import secrets
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
from safetensors.torch import save_file
from torch import nn

from ganzoo import hub
from ganzoo.bundle import (  # noqa: F401  (the bundle format's names, where callers found them before)
    BUNDLE_FILE,
    CARD_FILES,
    COMPONENTS,
    FORMAT,
    FORMAT_VERSION,
    HUB_PREFIX,
    build_and_load,
    check_config,
    install_advice,
    load_bundle,
    read_bundle_meta,
    spec_for,
)
from ganzoo.card import model_card
from ganzoo.checkpoint import find_checkpoint, sha256_file, state_dict_tensors
from ganzoo.errors import BundleError, ConfigError, UnknownNameError
from ganzoo.interfaces import GAN, Discriminator, Generator
from ganzoo.weights import load_checked, read_json, regular_file_inside

if TYPE_CHECKING:
    from ganzoo.engine import Trainer
    from ganzoo.specs import ModelSpec


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


def _history(source: Any) -> dict[str, Any] | None:
    """What really happened in the run ``source`` comes from (:func:`ganzoo.engine.rundir.run_history`)."""
    from ganzoo.engine import Trainer
    from ganzoo.engine.rundir import run_history

    if isinstance(source, Trainer):
        run_dir, step = Path(source.run_dir), source.step
    elif isinstance(source, (str, os.PathLike)):
        run_dir = Path(source)
        step = read_json(find_checkpoint(run_dir) / "state.json", "checkpoint's state.json").get("step")
    else:
        return None
    try:
        config = read_json(run_dir / "config.json", "run's config.json")
    except BundleError:
        config = {}
    if not isinstance(step, int):
        return None
    return run_history(run_dir, step, config if isinstance(config, dict) else {})


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


class BundleWriteError(BundleError, OSError):
    """A bundle that could not be written (disk full, quota...); still an ``OSError`` for code that caught one."""


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
        pretrained_id: the id this bundle is published under, if any: lowercase letters and
            digits joined by hyphens (like ``dcgan-mnist``), else a :class:`ConfigError`.
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

    _check_ids(pretrained_id, repo_id)
    path = Path(path)
    _check_target(path, source, overwrite)
    gan, training, run_dataset, is_ema = _from_source(source, ema)
    history = _history(source)
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
            "history": _jsonable(history),
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
    except (SafetensorError, OSError) as exc:  # disk full, quota, I/O error: one line, nothing replaced
        shutil.rmtree(tmp, ignore_errors=True)
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        kept = "the bundle already there is as it was" if path.exists() else "nothing was written"
        raise BundleWriteError(f"cannot write the bundle {path} ({first}); {kept}: free some space (or fix the "
                               "error) and save again") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _check_ids(pretrained_id: Any, repo_id: Any) -> None:
    """Refuse a pretrained id or repository id that breaks its rule (both land in the model card's code)."""
    from ganzoo.bundle import is_repo_id
    from ganzoo.specs import NAME

    if pretrained_id is not None and not (isinstance(pretrained_id, str) and NAME.fullmatch(pretrained_id)):
        raise ConfigError(f"pretrained id {pretrained_id!r:.80} is not an id: ids are lowercase letters and digits "
                          "joined by hyphens (like 'dcgan-mnist')")
    if repo_id is not None and not is_repo_id(repo_id):
        raise ConfigError(f"repository id {repo_id!r:.80} is not a Hub repository id; expected org/name (letters, "
                          "digits, '-', '_' and '.')")


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


# --------------------------------------------------------------------------- publishing


def push_to_hub(
    source: Any,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    message: str | None = None,
    token: str | None = None,
    endpoint: str | None = None,
    **save_kwargs: Any,
) -> str:
    """Publish a bundle (or a GAN, Trainer or run directory, saved as one first) to the Hub.

    Creates the model repository if needed (and the branch ``revision``), then
    uploads ``ganzoo.json``, the safetensors weights it lists, ``README.md`` and
    ``samples.png`` in one commit. Nothing else in the folder is uploaded. A bundle folder
    holding any link (symbolic link) is refused, every file must be a regular file, and each
    weights file's sha256 is checked against ``ganzoo.json`` first: a corrupt bundle is not
    published. The files are copied (and checked) into a private folder, which is what is
    uploaded.

    Args:
        source: a bundle folder, a run directory, a :class:`ganzoo.GAN` or a :class:`ganzoo.Trainer`.
        repo_id: ``"org/name"``.
        private: create the repository as private.
        revision: the branch to commit to (created from ``main`` when missing).
        message: the commit message.
        token: a Hub token; default: ``HF_TOKEN`` or the stored login.
        endpoint: another Hub endpoint (default ``HF_ENDPOINT`` or huggingface.co).
        **save_kwargs: passed to :func:`ganzoo.save` when ``source`` is not a bundle yet.

    Returns:
        The URL of the commit.

    Example:
        >>> import ganzoo
        >>> url = ganzoo.push_to_hub("runs/dcgan-mnist-1", "me/dcgan-mnist")  # doctest: +SKIP
    """
    hub.check_publish(repo_id, token, revision)
    if endpoint is not None:
        endpoint = hub.check_endpoint(endpoint)
    with tempfile.TemporaryDirectory(prefix="ganzoo-publish-") as tmp:
        if isinstance(source, (str, os.PathLike)) and os.path.lexists(Path(source) / BUNDLE_FILE):
            bundle = Path(source)
        else:
            bundle = save(source, Path(tmp) / "saved", repo_id=repo_id, **save_kwargs)
        return hub.publish_folder(bundle, repo_id, Path(tmp) / "bundle", private=private, revision=revision,
                                  message=message, token=token, endpoint=endpoint)


# --------------------------------------------------------------------------- loading


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


def _locate(ref: str, component: str, endpoint: str | None = None) -> tuple[Path, str | None, Path]:
    """``(bundle folder, pinned sha256, folder its files must lie in)`` of a bundle reference."""
    from ganzoo.registry import get_pretrained

    if ref.startswith(HUB_PREFIX):
        folder = hub.download_bundle(*hub.parse_hub_ref(ref), component=component, endpoint=endpoint)
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
        folder = hub.download_bundle(entry.hub_repo, entry.revision, component=component, endpoint=endpoint)
        return folder, expected, _hub_root(folder)
    return folder, expected, folder


def _hub_root(snapshot: Path) -> Path:
    """The Hub cache folder of one repository (``models--org--name``): its snapshots link to its blobs."""
    return snapshot.parent.parent


def bundle_folder(ref: str, component: str = "generator", *, endpoint: str | None = None) -> tuple[Path, str | None]:
    """The local folder of the bundle ``ref`` names, and the sha256 its pretrained entry pins.

    ``ref`` is ``hf-hub:org/name[@rev]`` (downloaded into the Hub cache: ``ganzoo.json`` and
    ``component``'s weights), a pretrained id (its folder inside the plugin package, else its
    Hub repository), or a bundle folder. Ids win over folders: a folder named like a pretrained id
    is loaded only when written as a path (``./dcgan-mnist``), with a warning on the clash. Run
    directories are not bundles: see :func:`load`. ``endpoint``: as for :func:`load`.
    """
    folder, expected, _ = _locate(ref, component, None if endpoint is None else hub.check_endpoint(endpoint))
    return folder, expected


def load(
    ref: str | os.PathLike,
    *,
    device: torch.device | str | None = None,
    component: str = "generator",
    ema: bool = True,
    endpoint: str | None = None,
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
        endpoint: the Hub to download from, for ``hf-hub:`` references and pretrained ids
            whose weights live on the Hub (default: ``HF_ENDPOINT`` as ``huggingface_hub``
            read it at import, else huggingface.co), e.g. a local test server from
            :func:`ganzoo.testing.local_hub`. Downloads share ``huggingface_hub``'s cache
            whatever the endpoint.

    Returns:
        The module in eval mode, float32.

    Raises:
        UnknownNameError: an unknown pretrained id (with close matches).
        BundleError: a missing, corrupt or mismatched bundle; a model whose plugin is
            not installed (the error names the distribution); anything refused before
            loading (see :func:`ganzoo.bundle.load_bundle`).
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
    if endpoint is not None:
        endpoint = hub.check_endpoint(endpoint)
    folder, expected, root = _locate(text, component, endpoint)
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
    return state, model, check_config(spec_for({"model": model, "plugin": state.get("plugin")}, source),
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
    return build_and_load(model, config, component, file, str(ckpt / "state.json"), device)
