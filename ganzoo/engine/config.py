"""What defines a training run (:class:`TrainConfig`), how its defaults fill in, and what a resume may change.

A run's config is saved in every checkpoint; a resume starts from that saved
config, keeps the settings that define the run (:data:`FIXED_ON_RESUME`), takes
how this process runs from the new invocation (:data:`EXECUTION`), and records
changed learning rates in ``changes``.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganzoo import limits
from ganzoo.checkpoint import find_checkpoint, read_state
from ganzoo.errors import CheckpointError, ConfigError
from ganzoo.registry import get_spec

if TYPE_CHECKING:
    from ganzoo.specs import ModelSpec

LR_SCHEDULES = ("constant", "linear", "cosine")


@dataclass
class TrainConfig:
    """Everything that defines a training run. ``None`` means "the model's default".

    The model's :class:`~ganzoo.TrainDefaults` (its paper's recipe) fill every
    hyper-parameter left as ``None``; :meth:`resolve` does that.
    """

    model: str | None = None  # a registered model name; may be omitted when resuming
    dataset: str | None = None  # None: the model's first listed dataset
    data_dir: str | None = None  # None: $GANZOO_DATA or ~/.cache/ganzoo/data
    download: bool = True  # fetch missing datasets through torchvision when online
    model_args: dict[str, Any] = field(default_factory=dict)  # constructor overrides (latent_dim, width...)

    # Length: give steps (generator updates) or epochs (passes over the data by D's real batches).
    steps: int | None = None
    epochs: float | None = None

    # Optimisation (Adam); None takes the model's recommended value.
    batch_size: int | None = None  # per process under torchrun
    lr_g: float | None = None
    lr_d: float | None = None
    betas: tuple[float, float] | None = None
    lr_schedule: str | None = None  # constant | linear | cosine (decay to zero at the last step)
    lr_decay_start: float | None = None  # fraction of the run at the full rate before the decay
    loss: str | None = None
    # Loss constructor arguments (--loss-arg), over the recipe's when its loss is trained; the
    # run records the loss's full config(). Runs saved without them resume with none.
    loss_args: dict[str, Any] = field(default_factory=dict)
    force_loss: bool = False  # train with a loss the model does not offer what it needs (warns)
    n_critic: int | None = None  # None: the recipe's (with the recipe's loss), else the loss's own
    ema: bool | None = None  # EMA of G's weights; samples and saved generators use it
    ema_decay: float | None = None

    # Hardware.
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "auto"  # auto (bf16 autocast on CUDA, fp32 on CPU) | fp32 | bf16
    channels_last: bool | None = None  # None: on for conv models
    cuda_graph: bool = True  # capture the whole step as one CUDA graph on CUDA
    compile: bool = False  # torch.compile G and D (inductor); eager with a notice if compiling fails
    sync_batchnorm: bool = True  # SyncBatchNorm across GPUs under torchrun (CUDA only)
    seed: int | None = None  # None: 0

    # Outputs (None: the default in the comment; on resume, the run's own value).
    out: str | None = None  # None: runs/<model>-<dataset>-<time>
    resume: str | None = None  # a run directory (or checkpoint folder) to continue
    sample_every: int | None = None  # 500
    checkpoint_every: int | None = None  # 1000
    log_every: int | None = None  # 50
    eval_every: int | None = None  # score samples with ganzoo.metrics every N steps (MNIST-like data)
    eval_n: int | None = None  # 2000 generated samples per evaluation during training
    num_samples: int | None = None  # 64
    keep_checkpoints: int | None = None  # 2
    quiet: bool = False
    tensorboard: bool | None = None  # also log to TensorBoard; None: off, or on resume what the run had
    # Loggers by registered name (ganzoo loggers): metrics and grids also go there. None: none, or on
    # resume the run's; () or ("none",): none.
    loggers: tuple[str, ...] | None = None
    doctor: bool = True  # the live doctor: one line the first time a finding appears (--no-doctor)
    # Settings changed by a resume, in order: {"step": N, "lr_g": {"from": a, "to": b}, ...}.
    changes: list[dict[str, Any]] = field(default_factory=list)

    def resolve(self) -> TrainConfig:
        """A copy with every model default filled in and every value checked."""
        if not self.model:
            raise ConfigError("no model given; pass a registered name, e.g. TrainConfig(model='dcgan')")
        if not isinstance(self.model, str):
            raise ConfigError(f"model must be a registered name, got {self.model!r}")
        spec = get_spec(self.model)
        for name in ("model_args", "loss_args"):
            if not isinstance(getattr(self, name), dict):
                raise ConfigError(f"{name} must be a dict of settings, got {getattr(self, name)!r}")
        c = dataclasses.replace(self, model_args=dict(self.model_args), loss_args=dict(self.loss_args))
        _fill_defaults(c, spec)
        _check(c, given_decay_start=self.lr_decay_start)
        return c

    def to_json(self) -> dict[str, Any]:
        """The config as JSON-ready values (as saved in config.json and every checkpoint)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TrainConfig:
        """A config from :meth:`to_json`'s output; keys this version does not know are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        if isinstance(d.get("betas"), list):
            d["betas"] = tuple(d["betas"])
        return cls(**d)


# Keys of a run's own config.json that are records of that run, not settings: a rerun drops them.
RUN_RECORDS = ("plugin", "ganzoo_version", "torch_version", "hardware", "data", "changes")
# Settings that name that run's directory, or that config.json holds as that machine resolved them
# ("cpu", "fp32"): a rerun from its config.json is a new run, elsewhere, on this machine's choices.
RUN_PLACES = ("out", "resume", "device", "precision", "channels_last")
_KINDS: dict[str, tuple[type, ...]] = {
    "int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "dict": (dict,), "list": (list,),
    "tuple": (list, tuple),
}


def _accepts(annotation: str, value: Any) -> bool:
    """Whether a JSON/TOML ``value`` fits a TrainConfig field annotated ``annotation`` (``"int | None"``)."""
    if value is None:
        return "None" in annotation
    kind = annotation.split("|")[0].split("[")[0].strip()
    if isinstance(value, bool):
        return kind == "bool"
    return kind in _KINDS and isinstance(value, _KINDS[kind])


def _in_words(annotation: Any) -> str:
    """A field's type as a config file's reader says it: ``int | None`` -> ``a whole number, or leave it out``."""
    words = {"int": "a whole number", "float": "a number", "str": "a text", "bool": "true or false",
             "dict": "a table of names and values", "list": "a list", "tuple": "a list"}
    text = str(annotation).replace("typing.", "")
    parts = [p.strip() for p in text.split("|")]
    said = [words.get(p.split("[")[0], p) for p in parts if p != "None"]
    return " or ".join(dict.fromkeys(said)) + (", or leave it out" if "None" in parts else "")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The settings in a config file: a run's own ``config.json``, or a hand-written JSON or TOML file.

    The keys are :class:`TrainConfig`'s fields (``betas`` a pair, ``model_args`` and
    ``loss_args`` tables). From a run's ``config.json`` (it names the ganzoo version), the
    records of that run (plugin, versions, hardware, data, changes), its place (``out``,
    ``resume``) and what that machine resolved (``device``, ``precision``, ``channels_last``)
    are dropped: a rerun is a new run, chosen afresh on this machine. Checked before use: the size
    (:data:`ganzoo.limits.MAX_JSON_BYTES`), UTF-8, the syntax, each key and each value's type.

    Raises:
        ConfigError: one line naming the file, the key and the fix.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ConfigError(f"--config {path}: not a file; give a config.json of a run, or a .json/.toml file")
        if size > limits.MAX_JSON_BYTES:
            raise ConfigError(f"--config {path}: {size:,} bytes, more than a config can be "
                              f"({limits.MAX_JSON_BYTES:,}); give a run's config.json or a short .toml/.json file")
        with open(path, "rb") as f:
            raw = f.read(limits.MAX_JSON_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"--config {path}: not UTF-8 text; save it as UTF-8 JSON or TOML") from None
    if path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            try:
                import tomli as tomllib  # type: ignore[no-redef]
            except ImportError:
                raise ConfigError(f"--config {path}: reading TOML needs Python 3.11 or `pip install tomli`; "
                                  "or write the same keys as JSON") from None
        try:
            data = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError) as exc:
            raise ConfigError(f"--config {path}: not valid TOML ({str(exc).splitlines()[0]})") from None
    else:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ConfigError(f"--config {path}: not valid JSON ({str(exc).splitlines()[0][:120]}); a .toml file "
                              "is read as TOML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: expected an object of settings (keys such as model, lr_g), "
                          f"got {type(data).__name__}")
    own_run = "ganzoo_version" in data
    fields = {f.name: str(f.type) for f in dataclasses.fields(TrainConfig)}
    settings: dict[str, Any] = {}
    for key, value in data.items():
        if key in RUN_RECORDS or (own_run and key in RUN_PLACES):
            continue
        if key not in fields:
            close = [f for f in fields if f.split("_")[0] == str(key).split("_")[0]][:3] or \
                difflib.get_close_matches(str(key), list(fields), n=3)  # step -> steps
            raise ConfigError(f"--config {path}: unknown setting {str(key)[:60]!r}"
                              + (f" (did you mean {', '.join(close)}?)" if close else "")
                              + "; the keys are TrainConfig's fields (see `ganzoo train --help`)")
        if not _accepts(fields[key], value):
            raise ConfigError(f"--config {path}: {key} = {str(value)[:60]!r} is not a valid value for {key} "
                              f"(expected {_in_words(fields[key])})")
        if key in ("model_args", "loss_args") and not all(isinstance(k, str) for k in value):
            raise ConfigError(f"--config {path}: {key} must map names to values")
        settings[key] = tuple(value) if key == "betas" and isinstance(value, list) else value
    if "betas" in settings and settings["betas"] is not None and (
            len(settings["betas"]) != 2 or not all(isinstance(b, (int, float)) and not isinstance(b, bool)
                                                   for b in settings["betas"])):
        raise ConfigError(f"--config {path}: betas must be two numbers, e.g. [0.5, 0.999]")
    return settings


# What None means for the output settings (a resume keeps the run's own values instead).
OUTPUT_DEFAULTS: dict[str, Any] = {"seed": 0, "sample_every": 500, "checkpoint_every": 1000, "log_every": 50,
                                   "eval_n": 2000, "num_samples": 64, "keep_checkpoints": 2}


def _fill_defaults(c: TrainConfig, spec: ModelSpec) -> None:
    """Fill ``c``'s unset settings in place: the dataset's recipe, then :data:`OUTPUT_DEFAULTS`."""
    c.dataset = c.dataset or (spec.datasets[0] if spec.datasets else None)
    if c.dataset is None:
        raise ConfigError(f"model {spec.name!r} names no dataset; pass --dataset")
    t = spec.recipe(c.dataset)  # the paper's recipe, or the model's own for this dataset
    c.model_args = {**t.model_args, **c.model_args}
    c.batch_size = c.batch_size if c.batch_size is not None else t.batch_size
    c.lr_g = c.lr_g if c.lr_g is not None else t.lr_g
    c.lr_d = c.lr_d if c.lr_d is not None else t.lr_d
    c.betas = c.betas if c.betas is not None else t.betas
    c.lr_schedule = c.lr_schedule or t.lr_schedule
    c.lr_decay_start = c.lr_decay_start if c.lr_decay_start is not None else t.lr_decay_start
    c.loss = c.loss or t.loss
    if c.n_critic is None and c.loss == t.loss:  # the recipe's count goes with the recipe's loss
        c.n_critic = t.n_critic
    if c.loss == t.loss and not c.resume:  # its arguments too; a resumed run keeps exactly what it recorded
        c.loss_args = {**t.loss_args, **c.loss_args}
    c.ema = t.ema if c.ema is None else c.ema
    c.ema_decay = c.ema_decay if c.ema_decay is not None else t.ema_decay
    for name, default in OUTPUT_DEFAULTS.items():
        if getattr(c, name) is None:
            setattr(c, name, default)
    if c.steps is None and c.epochs is None:
        c.steps, c.epochs = t.steps, t.epochs
        if c.steps is None and c.epochs is None:
            c.epochs = 1.0


def _check(c: TrainConfig, *, given_decay_start: float | None) -> None:
    """Refuse a filled-in config with a value out of range (ConfigError naming the flag)."""
    for name in ("batch_size", "sample_every", "checkpoint_every", "log_every", "num_samples", "eval_n"):
        _check_int(name, getattr(c, name), 1)
    if c.eval_n > limits.MAX_EVAL_SAMPLES:
        raise ConfigError(f"eval_n (--eval-n) is {c.eval_n:,}, more than the evaluation protocol's maximum of "
                          f"{limits.MAX_EVAL_SAMPLES:,} samples (ganzoo.limits.MAX_EVAL_SAMPLES); use fewer")
    _check_int("keep_checkpoints", c.keep_checkpoints, 0)
    _check_int("seed", c.seed, 0)
    for name in ("steps", "eval_every", "n_critic"):
        if getattr(c, name) is not None:
            _check_int(name, getattr(c, name), 1)
    if c.epochs is not None:
        _check_float("epochs", c.epochs, "> 0")
    for name in ("lr_g", "lr_d"):
        _check_float(name, getattr(c, name), ">= 0")
    if not isinstance(c.betas, (tuple, list)) or len(c.betas) != 2:
        raise ConfigError(f"betas must be two numbers (--beta1, --beta2), got {c.betas!r}")
    c.betas = tuple(c.betas)
    for name, beta in zip(("beta1", "beta2"), c.betas):
        _check_float(name, beta, "in [0, 1)")
    _check_float("ema_decay", c.ema_decay, "in [0, 1)")
    if c.lr_schedule not in LR_SCHEDULES:
        raise ConfigError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {c.lr_schedule!r}")
    if not isinstance(c.lr_decay_start, (int, float)) or not 0.0 <= c.lr_decay_start < 1.0:
        raise ConfigError(f"lr_decay_start must be in [0, 1) (a fraction of the run), got {c.lr_decay_start}")
    # Only a start the user gave is an error: the recipe's own may come with a constant rate.
    if given_decay_start and c.lr_schedule == "constant":
        raise ConfigError(f"lr_decay_start={given_decay_start} has no effect with a constant learning rate; "
                          "add --lr-schedule linear (or cosine)")
    if c.precision not in ("auto", "fp32", "bf16"):
        raise ConfigError(f"precision must be auto, fp32 or bf16, got {c.precision!r}")
    if c.eval_every is not None:
        _check_eval_every(c)
    if c.loggers is not None:
        c.loggers = _check_loggers(c.loggers)


def _check_loggers(value: Any) -> tuple[str, ...]:
    """``loggers`` as a tuple of registered logger names (``"none"`` alone: none), or a one-line ConfigError."""
    from ganzoo.registry import get_logger_spec

    if isinstance(value, str) or not isinstance(value, (tuple, list)) or not all(isinstance(n, str) for n in value):
        raise ConfigError(f"loggers must be a list of logger names (--logger NAME, repeatable), got {value!r:.80}")
    names = tuple(dict.fromkeys(value))
    if "none" in names:
        if len(names) > 1:
            raise ConfigError(f"--logger none turns every logger off; it cannot go with {', '.join(n for n in names if n != 'none')}")
        return ()
    for name in names:
        get_logger_spec(name)  # an unknown name: UnknownNameError with close matches, before training starts
    return names


def active_loggers(c: TrainConfig) -> list[str]:
    """The loggers a run session opens: ``loggers``, with ``tensorboard`` added or removed by its own flag."""
    names = list(c.loggers or ())
    if c.tensorboard and "tensorboard" not in names:
        names.append("tensorboard")
    if c.tensorboard is False:
        names = [n for n in names if n != "tensorboard"]
    return names


def _check_eval_every(c: TrainConfig) -> None:
    """Refuse ``--eval-every`` on a dataset no feature network scores (or whose network is not here), or an
    ``--eval-n`` too small for its network, before training starts."""
    from ganzoo.metrics.networks import network_problem, network_spec
    from ganzoo.metrics.protocol import min_samples

    problem = network_problem(c.dataset)
    if problem is not None:
        raise ConfigError(f"--eval-every needs a feature network for dataset {c.dataset!r}: {problem}")
    dim = network_spec(c.dataset).feature_dim
    if dim is not None and c.eval_n < min_samples(dim):
        raise ConfigError(f"--eval-n {c.eval_n} is too few samples for dataset {c.dataset!r}'s {dim}-d feature "
                          f"network {network_spec(c.dataset).name}: give --eval-n {min_samples(dim)} or more")


# A resume continues the run: these settings define it and are refused when given with another value.
FIXED_ON_RESUME: dict[str, str] = {
    "dataset": "the checkpoint was trained on it",
    "model_args": "the checkpoint's weights have its shapes",
    "batch_size": "the checkpoint's place in the data order counts batches of that size",
    "n_critic": "the checkpoint's place in the data order counts its batches",
    "loss": "the discriminator in the checkpoint was trained for it",
    "loss_args": "the discriminator in the checkpoint was trained for them",
    "ema": "the checkpoint's EMA generator follows it",
    "ema_decay": "the checkpoint's EMA generator follows it",
    "betas": "Adam's moments in the checkpoint were averaged with them",
    "lr_schedule": "the rates continue on the run's curve",
    "lr_decay_start": "the rates continue on the run's curve",
    "seed": "the checkpoint continues the run's random streams",
}
# How this process runs: always taken from this invocation (defaults included), never from the run.
EXECUTION = ("device", "precision", "cuda_graph", "compile", "quiet", "download", "doctor")
# Loggers a run turned on stay on when it resumes (a gap in the curves otherwise), unless turned off.
KEPT_ON_RESUME = ("tensorboard", "loggers")


def config_for_resume(config: TrainConfig, resume_dir: Path) -> tuple[TrainConfig, dict[str, Any]]:
    """The saved run's config with what this invocation may change, and the changes it records.

    Args:
        config: this invocation's config (``None`` where nothing was given).
        resume_dir: a run directory or one of its checkpoint folders.

    Returns:
        The merged config (not yet resolved) and this resume's learning-rate change record
        (``{"step": N, "lr_g": {"from": a, "to": b}}``; empty when the rates stay).

    Raises:
        CheckpointError: the checkpoint is of another model or holds no valid config.
        ConfigError: a setting of :data:`FIXED_ON_RESUME` or ``--out`` would change the run.
    """
    ckpt = find_checkpoint(resume_dir)
    state = read_state(ckpt)
    try:
        saved = TrainConfig.from_json(state["config"])
    except TypeError as exc:
        raise CheckpointError(f"{ckpt / 'state.json'} holds no valid training config ({exc})") from exc
    run_root = ckpt.parent.parent if ckpt == resume_dir else resume_dir
    _refuse_another_run(config, saved, resume_dir, run_root)
    # Settings added to the model after this run was saved keep their meaning at that time.
    older = {k: v for k, v in get_spec(saved.model).saved_defaults.items()
             if k not in state.get("model_config", {})}
    saved.model_args = {**older, **saved.model_args}
    _refuse_fixed_changes(config, saved, run_root)
    merged = dataclasses.replace(saved, resume=str(resume_dir), out=str(run_root), changes=list(saved.changes))
    _take_invocation_settings(merged, config)
    change: dict[str, Any] = {}
    for name in ("lr_g", "lr_d"):
        new, old = getattr(config, name), getattr(saved, name)
        if new is not None and new != old:
            setattr(merged, name, new)
            change[name] = {"from": old, "to": new}
    if change:
        change = {"step": state["step"], **change}
        merged.changes.append(change)
    return merged, change


def _refuse_another_run(config: TrainConfig, saved: TrainConfig, resume_dir: Path, run_root: Path) -> None:
    if config.model is not None and config.model != saved.model:
        raise CheckpointError(
            f"{resume_dir} holds a checkpoint of model {saved.model!r}, not {config.model!r}; "
            f"resume it with `ganzoo train {saved.model} --resume {resume_dir}`"
        )
    if config.out is not None and Path(config.out).resolve() != run_root.resolve():
        raise ConfigError(
            f"--out {config.out} cannot be given with --resume: a resumed run continues in its own "
            f"directory {run_root}. To branch it, copy that folder and resume the copy"
        )


def _refuse_fixed_changes(config: TrainConfig, saved: TrainConfig, run_root: Path) -> None:
    for name, why in FIXED_ON_RESUME.items():
        given, old = getattr(config, name), getattr(saved, name)
        if name in ("model_args", "loss_args"):  # only the keys given, against the run's values
            old = old if isinstance(old, dict) else {}
            given = {k: v for k, v in given.items() if _plain(v) != _plain(old.get(k))}
            old = {k: old.get(k) for k in given}
        if given in (None, {}) or _plain(given) == _plain(old):
            continue
        flag = {"betas": "--beta1/--beta2", "model_args": "--model-arg", "loss_args": "--loss-arg"}.get(name, _flag(name))
        raise ConfigError(
            f"{flag} {_show(given)} cannot change when resuming: {run_root} was trained with {_show(old)} "
            f"({why}). Resume without it, or start a new run with another --out"
        )


def _take_invocation_settings(merged: TrainConfig, config: TrainConfig) -> None:
    """Set in ``merged`` what this invocation decides: execution, outputs given, a new length."""
    for name in EXECUTION:  # how this process runs: always this invocation's
        setattr(merged, name, getattr(config, name))
    for name in OUTPUT_DEFAULTS:
        if name != "seed" and getattr(config, name) is not None:
            setattr(merged, name, getattr(config, name))
    for name in ("eval_every", "data_dir", "channels_last", *KEPT_ON_RESUME):
        if getattr(config, name) is not None:
            setattr(merged, name, getattr(config, name))
    if config.steps is not None or config.epochs is not None:  # a new length replaces the old one
        merged.steps, merged.epochs = config.steps, (config.epochs if config.steps is None else None)


def _plain(value: Any) -> Any:
    """``value`` as JSON would hold it (tuples as lists), for comparing a flag with a saved setting."""
    return json.loads(json.dumps(value, default=str))


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k}={json.dumps(_plain(v))}" for k, v in value.items())
    return json.dumps(_plain(value))


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or value >= 2**63:
        raise ConfigError(f"{name} must be a whole number >= {minimum}, got {value!r} ({_flag(name)})")


def _check_float(name: str, value: Any, rule: str) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = value > 0 if rule == "> 0" else value >= 0 if rule == ">= 0" else 0 <= value < 1
    if not ok:
        raise ConfigError(f"{name} must be a finite number {rule}, got {value!r} ({_flag(name)})")
