"""Plain types and specs: what plugins register, and the names and capabilities they use.

The bottom of ganzoo's layers: this module imports nothing of ganzoo but its errors, so the
hook specifications, the registries and every plugin can stand on it. The registries fill in
the fields marked "filled in by the registry".
"""

from __future__ import annotations

import copy
import inspect
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ganzoo.errors import ConfigError, PluginError

if TYPE_CHECKING:
    from ganzoo.data import TensorDataset
    from ganzoo.interfaces import Discriminator, GANLoss, Generator

LossFactory = Callable[..., "GANLoss"]

NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
"""What a registered name (model, loss, dataset, pretrained id, capability) must look like."""


def check_name(kind: str, name: Any) -> str:
    """Refuse a registered name that is not lowercase letters and digits joined by hyphens.

    Raises:
        PluginError: naming the bad name.
    """
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise PluginError(
            f"registered a {kind} named {name!r:.60}; names are lowercase letters and digits "
            "joined by hyphens (like 'wgan-gp')"
        )
    return name


_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def revision_problem(revision: Any) -> str | None:
    """Why ``revision`` is not a name git accepts for a branch or tag (``git check-ref-format``); ``None`` if it is.

    A 40-hex commit id is a valid name too. The rules keep a revision a harmless name inside
    the Hub cache (``refs/<revision>``): no ``..``, no control characters, spaces or
    ``~^:?*[\\``, no leading ``/`` or ``-``, no trailing ``/``, ``.`` or ``.lock``, no ``//``,
    no ``@{``, no part starting with ``.``.

    Example:
        >>> revision_problem("v1.0") is None, revision_problem("../../x")
        (True, "it holds '..'")
    """
    if not isinstance(revision, str) or not revision:
        return "it is empty" if revision == "" else f"it is a {type(revision).__name__}, not text"
    if len(revision) > 255:
        return "it is longer than 255 characters"
    if _REF_FORBIDDEN.search(revision):
        return "it holds a space, a control character or one of ~ ^ : ? * [ \\"
    for bad in ("..", "//", "@{"):
        if bad in revision:
            return f"it holds {bad!r}"
    if revision == "@":
        return "it is '@'"
    if revision.startswith(("/", "-")):
        return f"it starts with {revision[0]!r}"
    if revision.endswith(("/", ".", ".lock")):
        return "it ends with " + ("'.lock'" if revision.endswith(".lock") else repr(revision[-1]))
    if any(part.startswith(".") for part in revision.split("/")):
        return "a part of it starts with '.'"
    return None


def check_revision(revision: Any, error: type[Exception] = ConfigError, what: str = "revision") -> str:
    """``revision`` if git accepts it as a branch or tag name (or it is a commit id), else ``error`` in one line.

    Example:
        >>> check_revision("main")
        'main'
    """
    problem = revision_problem(revision)
    if problem is not None:
        raise error(f"{what} {revision!r:.80} is not a valid branch, tag or commit name ({problem}); give a name "
                    "git accepts (like 'main' or 'v1.0') or a 40-hex commit id")
    return revision


class FrozenDict(dict):
    """A read-only ``dict``: what the registry hands out as a spec's settings, so no plugin changes another's.

    Reads, ``dict(d)``, ``{**d}``, JSON and :func:`dataclasses.asdict` work as on a dict;
    ``copy.copy`` and ``copy.deepcopy`` give a plain (mutable) dict.
    """

    __slots__ = ()

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a registered spec's settings are read-only (another plugin's model may use them); "
                        "copy them first, e.g. dict(spec.defaults)")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _read_only  # type: ignore[assignment]

    def __copy__(self) -> dict[Any, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[Any, Any]:
        return {copy.deepcopy(k, memo): copy.deepcopy(v, memo) for k, v in self.items()}

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))


class FrozenList(list):
    """A read-only ``list`` (see :class:`FrozenDict`)."""

    __slots__ = ()

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a registered spec's settings are read-only (another plugin's model may use them); "
                        "copy them first, e.g. list(value)")

    __setitem__ = __delitem__ = append = extend = insert = pop = remove = clear = sort = reverse = _read_only  # type: ignore[assignment]
    __iadd__ = __imul__ = _read_only  # type: ignore[assignment]

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(v, memo) for v in self]

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenList, (list(self),))


def freeze(value: Any) -> Any:
    """A read-only copy of ``value``: dicts and lists (nested too) become :class:`FrozenDict` / :class:`FrozenList`."""
    if isinstance(value, dict):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return FrozenList(freeze(v) for v in value)
    if type(value) is tuple:
        return tuple(freeze(v) for v in value)
    if isinstance(value, TrainDefaults):
        return replace(value, model_args=freeze(value.model_args), loss_args=freeze(value.loss_args))
    return value


def thaw(value: Any) -> Any:
    """A plain, mutable copy of what :func:`freeze` made (dicts and lists again)."""
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [thaw(v) for v in value]
    if type(value) is tuple:
        return tuple(thaw(v) for v in value)
    return value


# What a loss may need, and who provides it. A model offers the first two (inferred from its
# networks unless its ModelSpec says otherwise); the engine always offers the real batch.
PER_SAMPLE_D = "per-sample-d"
LABELS = "labels"
REAL_BATCH = "real-batch"

CAPABILITIES: dict[str, str] = {
    PER_SAMPLE_D: "D scores each sample on its own (no BatchNorm or other batch coupling in D); "
    "needed by per-sample gradient penalties",
    LABELS: "the model is class-conditional: G and D both have num_classes, and every batch's labels "
    "reach G, D and the loss (y is never None)",
    REAL_BATCH: "the generator step sees the real batch (relativistic losses, feature matching); "
    "always offered by the engine",
}
"""Capability names a :class:`GANLoss` can list in ``needs``, with what each means."""

# What a model may need from its loss, and which losses provide it: the other direction. A loss
# lists what it provides in ``GANLoss.provides``; a model lists what it needs in
# ``ModelSpec.needs_from_loss``.
CLASS_HEAD = "class-head"

LOSS_CAPABILITIES: dict[str, str] = {
    CLASS_HEAD: "the loss trains the discriminator's class head on the labels (an auxiliary classifier, "
    "as in AC-GAN), so the labels carry a signal",
}
"""Capability names a :class:`GANLoss` can list in ``provides`` (and a :class:`ModelSpec` in
``needs_from_loss``), with what each means. A plugin may use names of its own too."""


def check_names(what: str, value: Any, examples: tuple[str, ...]) -> tuple[str, ...]:
    """``value`` as a tuple of capability or loss names, or a one-line :class:`PluginError` naming ``what``.

    Example:
        >>> check_names("model 'acgan': needs_from_loss", ["class-head"], ("class-head",))
        ('class-head',)
    """
    if not isinstance(value, (tuple, list, frozenset)) or not all(
        isinstance(n, str) and NAME.fullmatch(n) for n in value
    ):
        example = ", ".join(repr(c) for c in examples)
        raise PluginError(
            f"{what}={value!r:.80}; it must be a tuple of names such as ({example},) "
            f"(a bare string is not a tuple: write ({examples[0]!r},))"
        )
    return tuple(value)


def check_needs(loss_name: str, needs: Any) -> tuple[str, ...]:
    """Refuse a loss's ``needs`` that is not a tuple, list or frozenset of capability names.

    Names outside :data:`ganzoo.specs.CAPABILITIES` are allowed (a model's
    ``ModelSpec.offers`` may list a plugin's own capability) but must look like names.

    Raises:
        PluginError: naming the loss and the bad value.
    """
    if not isinstance(needs, (tuple, list, frozenset)) or not all(
        isinstance(n, str) and NAME.fullmatch(n) for n in needs
    ):
        raise PluginError(
            f"loss {loss_name!r} has needs={needs!r:.80}; it must be a tuple of capability names "
            f"such as ({', '.join(repr(c) for c in CAPABILITIES)},) (a bare string is not a tuple: "
            "write ('labels',))"
        )
    return tuple(needs)


_REF = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


class Lazy:
    """A callable named ``"module:attribute"``, imported the first time it is called.

    What keeps a plugin's registration quick: its hook module can name its builder, dataset
    loader or feature network loader without importing torch (or anything heavy), so ``ganzoo
    list``, ``info``, ``datasets`` and ``plugins`` answer in a fraction of a second.
    ``inspect.signature`` and attribute reads (``Lazy("m:Loss").output``) reach the target, so
    a ``Lazy`` stands in wherever the target itself would.

    Example:
        >>> build = Lazy("ganzoo_dcgan.nets:build")
        >>> build
        Lazy('ganzoo_dcgan.nets:build')
        >>> Lazy("os.path:join")("a", "b")
        'a/b'
    """

    __slots__ = ("ref", "_target")

    def __init__(self, ref: str):
        if not isinstance(ref, str) or not _REF.fullmatch(ref):
            raise PluginError(f"Lazy({ref!r:.80}) needs 'package.module:attribute' (like 'ganzoo_dcgan.nets:build')")
        self.ref = ref
        self._target: Any = None

    def resolve(self) -> Any:
        """The object named: its module imported (once), the attribute looked up.

        Raises:
            PluginError: the module cannot be imported or has no such attribute (one line).
        """
        if self._target is None:
            import importlib

            module, _, attr = self.ref.partition(":")
            try:
                target: Any = importlib.import_module(module)
                for part in attr.split("."):
                    target = getattr(target, part)
            except (ImportError, AttributeError) as exc:
                raise PluginError(f"{self.ref!r} cannot be loaded: {type(exc).__name__}: "
                                  f"{(str(exc).splitlines() or [''])[0][:200]}") from exc
            if not callable(target):
                raise PluginError(f"{self.ref!r} is a {type(target).__name__}, not something to call")
            self._target = target
        return self._target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(self.resolve())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in Lazy.__slots__:  # copy, pickle and friends ask for dunders: no import
            raise AttributeError(name)
        return getattr(self.resolve(), name)

    def __repr__(self) -> str:
        return f"Lazy({self.ref!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Lazy) and other.ref == self.ref

    def __hash__(self) -> int:
        return hash(self.ref)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Lazy, (self.ref,))


@dataclass(frozen=True)
class TrainDefaults:
    """Recommended training hyper-parameters for a model, from its paper.

    Attributes:
        loss: registered loss name.
        lr_g: generator learning rate (Adam).
        lr_d: discriminator learning rate (Adam).
        betas: Adam's (beta1, beta2).
        batch_size: batch size.
        n_critic: discriminator steps per generator step (``None``: the loss's own).
        ema: keep an exponential moving average of the generator's weights.
        ema_decay: its decay per generator step.
        model_args: constructor settings this recipe needs (e.g. ``{"latent_dim": 2}``);
            the user's own ``model_args`` win.
        loss_args: keyword arguments of this recipe's ``loss`` (e.g. ``{"aux_weight": 0.5}``),
            used when the run trains with that loss; the user's own ``loss_args``
            (``--loss-arg KEY=VALUE``) win, key by key.
        steps: run length in generator steps when the user gives neither steps nor epochs.
        epochs: run length in epochs, likewise (``1.0`` when neither is set here).
        lr_schedule: ``"constant"``, or ``"linear"`` / ``"cosine"`` decay of both
            learning rates to zero at the end of the run.
        lr_decay_start: fraction of the run trained at the full rate before the decay starts.
    """

    loss: str = "non-saturating"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    batch_size: int = 64
    n_critic: int | None = None
    ema: bool = True
    ema_decay: float = 0.999
    model_args: dict[str, Any] = field(default_factory=dict)
    steps: int | None = None
    epochs: float | None = None
    lr_schedule: str = "constant"
    lr_decay_start: float = 0.0
    loss_args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PretrainedEntry:
    """A pretrained generator: where its bundle lives and how it was made.

    Attributes:
        id: exact key for :func:`ganzoo.load` (``"dcgan-mnist"``), never parsed.
        dataset: the dataset it was trained on.
        hub_repo: its canonical Hugging Face Hub repository (``"org/name"``).
        revision: the branch, tag or commit of ``hub_repo`` to load.
        bundle: a bundle folder shipped inside the plugin package (loaded offline
            before the Hub is tried); ``""`` when only the Hub has it.
        sha256: the sha256 of the bundle's ``generator.safetensors``, checked at load.
        description: one line for ``ganzoo list --pretrained``.
    """

    id: str
    dataset: str
    hub_repo: str = ""
    revision: str = "main"
    bundle: str = ""
    sha256: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        # The revision names a file in the Hub cache (refs/<revision>): only a name git accepts.
        check_revision(self.revision, PluginError, f"pretrained {self.id!r:.60}: revision")

    @classmethod
    def shipped(cls, package_file: str, id: str, **fields: Any) -> PretrainedEntry:
        """An entry whose bundle ships in the plugin package, in ``pretrained/<id>/`` beside ``package_file``.

        Example:
            >>> e = PretrainedEntry.shipped("/site/ganzoo_x/__init__.py", "x-mnist", dataset="mnist")
            >>> e.bundle
            '/site/ganzoo_x/pretrained/x-mnist'
        """
        from pathlib import Path

        return cls(id=id, bundle=str(Path(package_file).resolve().parent / "pretrained" / id), **fields)


@dataclass(frozen=True)
class ModelSpec:
    """Everything ganzoo knows about one registered model.

    Attributes:
        name: registry id, lowercase with hyphens (``"wgan-gp"``).
        family: the family it belongs to (several names may share one family).
        paper: citation of the paper it follows.
        build: ``build(**config)`` returns ``(generator, discriminator)``.
        defaults: default constructor arguments; must include ``data_shape``,
            ``latent_dim`` and ``num_classes`` (``None`` when unconditional).
        train: the paper's recommended :class:`TrainDefaults`.
        recipes: :class:`TrainDefaults` that replace ``train``, keyed by dataset name
            (``"ring8"``) or dataset kind (``"points-2d"``, ``"grey-images"``,
            ``"rgb-images"``, ``"images"``, ``"points"``; see
            :attr:`ganzoo.data.DatasetSpec.kind`). The dataset's own name wins, then its
            kinds from the most to the least specific, then ``train``.
        compatible_losses: the losses this model was designed and tested with (``ganzoo
            info`` shows them; the conformance kit runs each). Other losses train it too
            when it offers what they need (see ``offers``).
        offers: capabilities this model offers to losses (names from
            :data:`ganzoo.specs.CAPABILITIES`). ``None`` (the default): inferred from
            the built networks: ``"per-sample-d"`` unless D has BatchNorm, ``"labels"`` when
            conditional. Set it when D couples samples in a way ganzoo cannot see
            (minibatch statistics), or to offer a capability of your own.
        accepts_losses: the only losses this model trains with (names), or ``None`` (the
            default): any loss whose needs it offers. Another loss is refused in one line
            naming these (``--force-loss`` overrides it, with a warning).
        needs_from_loss: capabilities every loss of this model must provide (names from
            :data:`ganzoo.specs.LOSS_CAPABILITIES`, or your own), e.g. ``("class-head",)`` for
            a discriminator with a class head that only such a loss trains. A loss provides
            them in ``GANLoss.provides``; one that does not is refused like an unmet need.
        datasets: datasets it was designed for.
        pretrained: pretrained generators, by id.
        description: one line for ``ganzoo list``.
        plugin: filled in by the registry: the plugin that registered it.
        cuda_graph: ``False`` when the networks' forward cannot be replayed from a CUDA
            graph (Python control flow on tensor values, host syncs, state kept in Python);
            the engine then trains the model eagerly on CUDA, with a notice.
        saved_defaults: settings that a saved configuration (a bundle's ``ganzoo.json``, a
            checkpoint) is read with when it lacks them, instead of ``defaults``: a setting
            added after models were saved, such as dcgan's ``plan``, must rebuild the networks
            those files were saved from.
        kinds_of: filled in by the registry: a registered dataset's kinds by its name
            (:func:`ganzoo.registry.dataset_kinds`), which :meth:`recipe` looks recipes up by.

    The registry keeps and hands out a copy whose ``defaults``, ``saved_defaults``,
    ``pretrained``, ``recipes`` (and each recipe's ``model_args`` and ``loss_args``) are read-only
    (:class:`FrozenDict`, :class:`FrozenList`): no plugin changes another's model.
    """

    name: str
    family: str
    paper: str
    build: Callable[..., tuple[Generator, Discriminator]]
    defaults: dict[str, Any]
    train: TrainDefaults = field(default_factory=TrainDefaults)
    compatible_losses: tuple[str, ...] = ("non-saturating", "minimax", "hinge", "lsgan")
    datasets: tuple[str, ...] = ()
    pretrained: dict[str, PretrainedEntry] = field(default_factory=dict)
    description: str = ""
    plugin: str = ""
    recipes: dict[str, TrainDefaults] = field(default_factory=dict)
    cuda_graph: bool = True
    offers: tuple[str, ...] | None = None
    saved_defaults: dict[str, Any] = field(default_factory=dict)
    accepts_losses: tuple[str, ...] | None = None
    needs_from_loss: tuple[str, ...] = ()
    kinds_of: Callable[[str], tuple[str, ...]] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A bare string would be read letter by letter: refused when the plugin registers it.
        if self.accepts_losses is not None:
            object.__setattr__(self, "accepts_losses", check_names(
                f"model {self.name!r}: accepts_losses", self.accepts_losses, ("non-saturating", "hinge")))
        object.__setattr__(self, "needs_from_loss", check_names(
            f"model {self.name!r}: needs_from_loss", self.needs_from_loss, tuple(LOSS_CAPABILITIES)))

    @property
    def conditional(self) -> bool:
        return self.defaults.get("num_classes") is not None

    def recipe(self, dataset: str | None) -> TrainDefaults:
        """The training recipe for ``dataset``: by its name, else by its kind, else ``train``.

        Example:
            >>> import ganzoo
            >>> ganzoo.get_spec("vanilla").recipe("ring8").batch_size  # its own recipe
            256
            >>> ganzoo.get_spec("vanilla").recipe("mnist").batch_size  # the paper's
            64
        """
        if not dataset:
            return self.train
        if dataset in self.recipes:
            return self.recipes[dataset]
        for kind in self.kinds_of(dataset) if self.kinds_of is not None else ():
            if kind in self.recipes:
                return self.recipes[kind]
        return self.train

    def resolve_config(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """Defaults updated with ``overrides``, rejecting keys the builder does not take."""
        params = inspect.signature(self.build).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        allowed = set(params) | set(self.defaults)
        for key in overrides:
            if key not in allowed and not takes_any:
                raise ConfigError(
                    f"model {self.name!r} has no setting {key!r}; its settings are: "
                    + ", ".join(sorted(allowed))
                )
        config = {**thaw(self.defaults), **overrides}  # plain copies: the builder may change its own
        if "data_shape" in config:
            config["data_shape"] = _shape(self.name, config["data_shape"])
        return config


def _shape(model: str, value: Any) -> tuple[int, ...]:
    """``data_shape`` as a tuple of whole numbers >= 1, or a one-line ConfigError."""
    try:
        if isinstance(value, (str, bytes)) or any(isinstance(s, bool) for s in value):
            raise TypeError
        shape = tuple(operator.index(s) for s in value)  # ints, numpy ints; not floats or text
        if shape and min(shape) >= 1:
            return shape
    except TypeError:
        pass
    raise ConfigError(
        f"model {model!r}: data_shape must be a sequence of whole numbers >= 1, got {value!r}; "
        "e.g. data_shape=(2,) or (1, 28, 28) (on the command line: --model-arg data_shape=[1,28,28])"
    )


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset.

    Attributes:
        name: registry id (``"mnist"``).
        description: one line for listings.
        shape: native sample shape, ``(C, H, W)`` or ``(D,)``.
        num_classes: number of labels, or ``None``.
        load: ``load(root, split, download, image_shape)`` returning a :class:`TensorDataset`.
            ``image_shape`` is the model's shape for resizable sources (``folder``), else ignored.
        kind: what the samples are, so models pick a fitting training recipe for a dataset
            they have never heard of: ``"points-2d"``, ``"points"`` (other dimensions),
            ``"grey-images"``, ``"rgb-images"`` or ``"images"`` (any channels), or a kind of
            your own. Left empty (or the older ``"image"`` / ``"points"``), it follows from
            ``shape``. :attr:`kinds` is the lookup order of recipes.
        plugin: filled in by the registry.

    Example:
        >>> from ganzoo.specs import DatasetSpec
        >>> DatasetSpec("moons", "two moons", (2,), None, load=print, kind="points").kinds
        ('points-2d', 'points')
    """

    name: str
    description: str
    shape: tuple[int, ...] | None
    num_classes: int | None
    load: Callable[..., TensorDataset]
    kind: str = ""
    plugin: str = ""

    @property
    def kinds(self) -> tuple[str, ...]:
        """The dataset's kinds, most specific first (recipes are looked up in this order)."""
        shape = tuple(self.shape) if self.shape else None
        if self.kind in ("", "image", "points"):
            if shape is not None and len(shape) == 1:
                return ("points-2d", "points") if shape == (2,) else ("points",)
            if shape is not None and len(shape) == 3 and shape[0] in (1, 3):
                return ({1: "grey-images", 3: "rgb-images"}[shape[0]], "images")
            return ("points",) if self.kind == "points" else ("images",)
        general = {"points-2d": ("points",), "grey-images": ("images",), "rgb-images": ("images",)}
        return (self.kind, *general.get(self.kind, ()))




@dataclass(frozen=True)
class FeatureNetworkSpec:
    """A feature network that scores generated images of a dataset (FID, KID, precision, recall, ...).

    Registered through ``ganzoo_register_feature_networks``; :func:`ganzoo.metrics.evaluate`,
    receipts and ``ganzoo eval --verify`` find it by dataset.

    Attributes:
        name: registry id, lowercase with hyphens (``"mnist-classifier"``); receipts name it.
        datasets: the dataset names, or dataset kinds (``"images"``, ``"rgb-images"``,
            ``"grey-images"``, a kind of your own; see :attr:`DatasetSpec.kinds`), it scores.
            A dataset is scored by the network registered for its own name, else for its
            kinds from the most to the least specific (ganzoo's FID Inception-v3 is
            registered for ``"images"``: every image dataset without a network of its own).
        load: ``load(device)`` returns the network, or ``(network, record)``. The network has
            ``features_and_logits(x)`` (``x``: float images in [-1, 1], ``(N, C, H, W)``)
            returning ``(features (N, feature_dim), logits (N, K) or None)`` and a
            ``feature_dim`` attribute. ``record`` may hold ``sha256`` (of the weights file:
            receipts and cached statistics are bound to it; without it ganzoo hashes the
            network's ``state_dict``), ``test_accuracy``, ``layer``, ``file``.
        num_classes: the number of the dataset's own classes its logits name (label accuracy
            and the confident share need them); ``None`` when its logits are not the dataset's
            classes (or it has none).
        logits: ``features_and_logits`` returns logits (the Inception Score needs them).
        image_shape: the only ``(C, H, W)`` it scores; ``None``: any shape (it resizes), so
            generated images have the dataset's own shape, or any image shape for a dataset
            without one (``folder``).
        feature_dim: the size of its features, when known without loading it (so settings
            such as ``--eval-n`` are checked before training starts).
        cross_check: an independently built second network, scored beside the first (not
            instead of it) on the same samples.
        ready: ``ready()`` returns ``None`` when the network can be loaded, else one line
            saying what is missing and how to get it (checked cheaply before work starts).
        description: one line for listings.
        plugin: filled in by the registry.

    Example:
        >>> from ganzoo.specs import FeatureNetworkSpec
        >>> FeatureNetworkSpec("tiny-net", ("my-dataset",), load=print, feature_dim=8).cross_check
        False
    """

    name: str
    datasets: tuple[str, ...]
    load: Callable[..., Any]
    num_classes: int | None = None
    logits: bool = True
    image_shape: tuple[int, ...] | None = None
    feature_dim: int | None = None
    cross_check: bool = False
    ready: Callable[[], str | None] | None = None
    description: str = ""
    plugin: str = ""


@dataclass(frozen=True)
class LoggerSpec:
    """A logger: where a run's metrics and sample grids go besides ``metrics.jsonl`` (W&B, MLflow, Aim, ...).

    Registered through ``ganzoo_register_loggers``; ``ganzoo train --logger NAME`` (or
    ``TrainConfig(loggers=("NAME",))``) turns it on for a run, and a resumed run keeps it.
    ganzoo's own ``tensorboard`` logger is registered this way too.

    Attributes:
        name: registry id, lowercase with hyphens (``"wandb"``); what ``--logger`` takes.
        create: ``create()`` returns a :class:`ganzoo.loggers.Logger` (a ``Logger`` subclass is
            a valid ``create``; name it with :class:`Lazy` so that registering it imports
            nothing heavy).
        ready: ``ready()`` returns ``None`` when the logger can run here, else one line saying
            what is missing and how to get it (``pip install wandb``). A run whose logger is not
            ready trains on, with that line on stderr and its metrics in ``metrics.jsonl``.
        description: one line for ``ganzoo loggers``.
        plugin: filled in by the registry.

    Example:
        >>> from ganzoo.specs import Lazy, LoggerSpec
        >>> LoggerSpec("my-tracker", Lazy("my_tracker_plugin:TrackerLogger")).name
        'my-tracker'
    """

    name: str
    create: Callable[[], Any]
    ready: Callable[[], str | None] | None = None
    description: str = ""
    plugin: str = ""
