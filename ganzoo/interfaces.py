"""The three interfaces every model family implements: Generator, Discriminator, GANLoss."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

# Capability names live with the specs (the bottom layer); re-exported here for losses.
from ganzoo.specs import CAPABILITIES, LABELS, PER_SAMPLE_D, REAL_BATCH

if TYPE_CHECKING:
    from ganzoo.specs import ModelSpec

__all__ = [
    "CAPABILITIES", "FAKE_LABELS", "GAN", "LABELS", "PER_SAMPLE_D", "REAL_BATCH", "Discriminator", "GANLoss",
    "Generator", "LossLogs", "d_takes_labels", "plugin_module", "scores_and_extras", "takes_fake_labels",
    "takes_real_batch",
]

# The choices of GANLoss.fake_labels: which labels the generated batch of a conditional model gets.
FAKE_LABELS = ("real", "uniform")

LossLogs = dict[str, Tensor]


class Generator(nn.Module):
    """Maps latent noise (and, for conditional models, class labels) to samples.

    Subclasses set ``latent_dim``, ``num_classes`` (``None`` when unconditional)
    and ``output_shape`` and implement :meth:`forward`. Images come out in
    [-1, 1]; 2-D toy models return raw points.

    Example:
        >>> import ganzoo
        >>> g = ganzoo.create("dcgan").generator
        >>> g.sample(4).shape
        torch.Size([4, 1, 28, 28])
    """

    latent_dim: int
    num_classes: int | None = None
    output_shape: tuple[int, ...]

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    @property
    def is_conditional(self) -> bool:
        return self.num_classes is not None

    def _device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def sample(
        self,
        n: int,
        y: Tensor | list[int] | int | None = None,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        precision: str = "auto",
    ) -> Tensor:
        """Draw ``n`` samples, making the noise itself.

        Args:
            n: number of samples.
            y: class labels for a conditional model: a length-``n`` tensor or
                list, or one int for all. ``None`` draws labels uniformly.
                Must be ``None`` for an unconditional model.
            generator: a ``torch.Generator`` for reproducible noise (on the
                model's device).
            device: where to sample; defaults to the model's device.
            precision: ``"auto"`` (bf16 autocast on CUDA, float32 elsewhere) or ``"fp32"``.

        Returns:
            A float32 tensor of shape ``(n, *output_shape)``, without gradients.
        """
        device = torch.device(device) if device is not None else self._device()
        if n < 1:
            raise ValueError(f"n must be a positive number of samples, got {n}")
        if precision not in ("auto", "fp32"):
            raise ValueError(f"precision must be 'auto' or 'fp32', got {precision!r}")
        if n == 1 and self.training and any(isinstance(m, torch.nn.BatchNorm1d) for m in self.modules()):
            # torch's own error here is a multi-line traceback about "values per channel"
            raise ValueError(
                "n=1 cannot be sampled in training mode: this generator's BatchNorm1d normalises over the "
                "batch; call .eval() first (ganzoo.load returns generators in eval mode) or sample n >= 2"
            )
        z = torch.randn(n, self.latent_dim, generator=generator, device=device)
        y = self.check_labels(y, n, device=device, generator=generator)
        bf16 = precision == "auto" and device.type == "cuda"
        # no_grad rather than inference_mode: samples stay usable in autograd (e.g. fed to D).
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            return self(z, y).float()

    def check_labels(
        self,
        y: Tensor | list[int] | int | None,
        n: int,
        *,
        device: torch.device,
        generator: torch.Generator | None = None,
    ) -> Tensor | None:
        """Validate (or draw, when ``y`` is None) the labels for ``n`` samples."""
        if self.num_classes is None:
            if y is not None:
                raise ValueError(
                    f"{type(self).__name__} is unconditional and takes no labels; drop y= "
                    "or use a conditional model such as 'cgan'"
                )
            return None
        if y is None:
            return torch.randint(0, self.num_classes, (n,), generator=generator, device=device)
        if isinstance(y, int):
            y = torch.full((n,), y, dtype=torch.long)
        y = torch.as_tensor(y, dtype=torch.long, device=device)
        if y.shape != (n,):
            raise ValueError(f"labels must have shape ({n},), got {tuple(y.shape)}")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise ValueError(
                f"labels must be in [0, {self.num_classes - 1}], got values from "
                f"{int(y.min())} to {int(y.max())}"
            )
        return y


class Discriminator(nn.Module):
    """Scores samples: ``forward(x, y=None)`` returns raw logits or critic scores of shape (N,).

    Never apply a sigmoid inside: the losses work on logits (log-sigmoid,
    softplus), which is what keeps ``log D(x)`` finite.

    Attributes:
        num_classes: the number of classes D knows of, or ``None`` for a D that knows none.
        takes_labels: whether ``forward`` uses ``y``. ``None`` (the default) means "when
            ``num_classes`` is set": a projection or concatenation D (cgan's). An auxiliary
            classifier D (AC-GAN), which predicts the class instead of taking it, sets
            ``num_classes`` (its class head) and ``takes_labels = False``; the conformance kit
            then checks that it scores without labels instead of checking that labels change its
            scores.
        input_shape: the sample shape it scores.
        extras: names of the extra outputs ``forward`` gives besides the scores (class
            logits, features), ``()`` for none. A D with extras accepts
            ``forward(x, y=None, return_extras=True)`` and then returns ``(scores, extras)``,
            ``extras`` a dict with exactly these names, each tensor with the batch first.
            Plain ``D(x, y)`` still returns the scores alone, so every loss can train it.
            A loss reads them with :func:`scores_and_extras`.

    Example:
        >>> import torch, ganzoo
        >>> from ganzoo.interfaces import scores_and_extras
        >>> class TwoHeads(ganzoo.Discriminator):
        ...     num_classes, takes_labels, extras, input_shape = 3, False, ("class_logits",), (2,)
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.body, self.score, self.cls = torch.nn.Linear(2, 8), torch.nn.Linear(8, 1), torch.nn.Linear(8, 3)
        ...     def forward(self, x, y=None, return_extras=False):
        ...         h = self.body(x).relu()
        ...         scores = self.score(h).flatten()
        ...         return (scores, {"class_logits": self.cls(h)}) if return_extras else scores
        >>> scores, extras = scores_and_extras(TwoHeads(), torch.zeros(4, 2))
        >>> tuple(scores.shape), tuple(extras["class_logits"].shape)
        ((4,), (4, 3))
    """

    num_classes: int | None = None
    takes_labels: bool | None = None
    input_shape: tuple[int, ...]
    extras: tuple[str, ...] = ()

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:  # pragma: no cover
        raise NotImplementedError


class GANLoss:
    """A GAN objective: the discriminator's and the generator's loss.

    Both methods receive the discriminator itself, so losses such as WGAN-GP can
    compute their own penalties. Each returns ``(loss, logs)`` where ``logs``
    maps names to detached scalar tensors (no ``.item()``: that would sync the
    GPU every step).

    A subclass's constructor arguments are recorded automatically: :meth:`config`
    returns them (defaults filled in), so run configs and bundles can rebuild the loss
    with ``type(loss)(**loss.config())``.

    Attributes:
        name: the registered name.
        n_critic: discriminator steps per generator step.
        output: ``"logit"`` when D's output is a probability logit (so D(x) is
            reported as ``sigmoid(logit)``), ``"score"`` for critics.
        needs: capabilities this loss needs (names from :data:`CAPABILITIES`):
            ``"per-sample-d"`` for a per-sample gradient penalty, ``"labels"`` for a
            conditional-only loss, ``"real-batch"`` to get the real batch in the
            generator step. A model that does not offer one is refused, with the reason.
        provides: what this loss gives a model that asks for it in ``ModelSpec.needs_from_loss``
            (names from :data:`ganzoo.specs.LOSS_CAPABILITIES`, e.g. ``"class-head"`` for a loss
            that trains an auxiliary classifier head).
        cuda_graph: ``False`` when the loss cannot be replayed from a CUDA graph
            (host syncs, Python state that changes per step); the engine then trains eagerly.
        fake_labels: which labels a conditional model's generated batch gets (one of
            :data:`FAKE_LABELS`). ``"real"`` (the default): the real batch's labels, in both
            steps, so ``y`` labels real and fake alike. ``"uniform"``: labels of their own,
            drawn uniformly over the classes from the run's random stream (so a resumed run
            draws the same ones); the engine then passes them as ``fake_y=`` to
            :meth:`discriminator_loss` (``y`` stays the real batch's) and as ``y`` to
            :meth:`generator_loss` (with the real batch's as ``real_y=`` when the method takes
            it). An unconditional model has no labels either way.

    Example:
        >>> import torch, ganzoo
        >>> class Scaled(ganzoo.GANLoss):
        ...     def __init__(self, scale: float = 1.0):
        ...         self.scale = scale
        ...     def d_loss_from_outputs(self, real_out, fake_out):
        ...         return self.scale * (fake_out - real_out).mean()
        ...     def g_loss_from_outputs(self, fake_out, real_out=None):
        ...         return -self.scale * fake_out.mean()
        >>> Scaled(scale=2.0).config()
        {'scale': 2.0}
    """

    name: str = "loss"
    n_critic: int = 1
    output: str = "logit"
    needs: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    cuda_graph: bool = True
    fake_labels: str = "real"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "_ganzoo_records_args", False):
            cls.__init__ = _recording_init(init)  # type: ignore[method-assign]

    def discriminator_loss(
        self, D: Discriminator, real: Tensor, fake: Tensor, y: Tensor | None = None, fake_y: Tensor | None = None
    ) -> tuple[Tensor, LossLogs]:
        """The discriminator's loss for one batch of real and generated samples.

        The default calls ``D`` on both batches and hands the raw outputs to
        :meth:`d_loss_from_outputs`; override this method instead when the loss needs
        ``D`` itself (a gradient penalty).

        Args:
            D: the discriminator as trained: ``D(x, y)`` returns raw scores of shape ``(N,)``;
                :func:`scores_and_extras` gives its extra outputs too. It reaches the plugin's
                own attributes and methods (``D.num_classes``, ``D.classify``) under
                ``torch.compile`` (compiled in place) and DistributedDataParallel alike;
                :func:`plugin_module` returns the module itself.
            real: a real batch, in the model's range ([-1, 1] for images).
            fake: a generated batch, already detached from G.
            y: the real batch's labels for a conditional model, else ``None``; with
                ``fake_labels="real"`` the fakes were generated with these labels too.
            fake_y: the fakes' own labels when :attr:`fake_labels` is ``"uniform"``, else
                ``None`` (the fakes then have ``y``). The engine passes it only then.

        Returns:
            ``(loss, logs)``: a scalar float32 tensor, and detached scalar tensors to log
            (at least ``"loss_d"``).
        """
        # Losses in float32 even under bf16 autocast.
        real_out = D(real, y).float()
        fake_out = D(fake, y if fake_y is None else fake_y).float()
        loss = self.d_loss_from_outputs(real_out, fake_out)
        logs = {"loss_d": loss.detach(), **self._report("D(x)", real_out), **self._report("D(G(z))", fake_out)}
        return loss, logs

    def generator_loss(
        self, D: Discriminator, fake: Tensor, y: Tensor | None = None, real: Tensor | None = None
    ) -> tuple[Tensor, LossLogs]:
        """The generator's loss for one generated batch.

        The default calls ``D`` on ``fake`` (and on ``real`` when the loss lists
        ``"real-batch"`` in :attr:`needs`) and hands the outputs to
        :meth:`g_loss_from_outputs`. D's weights are frozen during this step: only the
        gradient through ``fake`` reaches G.

        Args:
            D: the discriminator (its plain module, no DDP wrapper; compiled in place under
                ``--compile``); what :meth:`discriminator_loss` says of ``D`` holds here too.
            fake: a generated batch, attached to G's graph.
            y: its labels for a conditional model (the real batch's, or its own with
                ``fake_labels="uniform"``), else ``None``.
            real: the real batch of the same step (the engine always passes it; it is a
                slice of a tensor already on the device, so the step stays capturable in a
                CUDA graph). ``None`` when the caller has none.

        Returns:
            ``(loss, logs)``: a scalar float32 tensor and detached logs (at least ``"loss_g"``).

        Note:
            An override written before ganzoo passed ``real`` (``generator_loss(self, D,
            fake, y=None)``) keeps working: the engine passes ``real`` only to methods that
            accept it (see :func:`takes_real_batch`).
        """
        fake_out = D(fake, y).float()
        if REAL_BATCH in self.needs:
            if real is None:
                raise ValueError(f"loss {self.name!r} needs the real batch: call generator_loss(D, fake, y, real=...)")
            loss = self.g_loss_from_outputs(fake_out, D(real, y).float())
        else:
            loss = self.g_loss_from_outputs(fake_out)
        return loss, {"loss_g": loss.detach()}

    # Most losses only need these two; override them, or the methods above.
    def d_loss_from_outputs(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        """The discriminator's loss from its raw outputs on the real and the fake batch.

        Args:
            real_out: ``D(real)``, float32, shape ``(N,)``.
            fake_out: ``D(fake)``, float32, shape ``(N,)``.

        Returns:
            A scalar tensor.
        """
        raise NotImplementedError(f"{type(self).__name__} must override d_loss_from_outputs or discriminator_loss")

    def g_loss_from_outputs(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        """The generator's loss from D's raw outputs.

        Args:
            fake_out: ``D(G(z))``, float32, shape ``(N,)``.
            real_out: ``D(real)`` when the loss lists ``"real-batch"`` in :attr:`needs`
                (relativistic losses), else ``None``. Losses that never need it may leave
                the parameter out.

        Returns:
            A scalar tensor.
        """
        raise NotImplementedError(f"{type(self).__name__} must override g_loss_from_outputs or generator_loss")

    def _report(self, key: str, out: Tensor) -> LossLogs:
        out = out.detach().float()
        return {key: torch.sigmoid(out).mean() if self.output == "logit" else out.mean()}

    def check_compatible(self, gan: GAN) -> None:
        """Refuse a model this loss cannot train, beyond what :attr:`needs` says.

        Called by :func:`ganzoo.create` after the capability check. The default accepts
        every model; override it for a rule that capabilities cannot express.

        Args:
            gan: the built model.

        Raises:
            ganzoo.errors.IncompatibleLossError: with the reason and what to use instead.
        """

    def config(self) -> dict[str, Any]:
        """The constructor arguments, for run configs and bundles.

        Recorded automatically when the loss is built (defaults included), so
        ``type(loss)(**loss.config())`` makes the same loss. Override it only when the
        constructor takes ``*args``.

        Returns:
            A dict of JSON-friendly values.

        Example:
            >>> import ganzoo
            >>> ganzoo.create_loss("wgan-gp", gp_weight=5.0).config()
            {'gp_weight': 5.0, 'n_critic': 5}
        """
        recorded = self.__dict__.get("_init_args")
        if recorded is _UNRECORDABLE:
            raise TypeError(
                f"{type(self).__name__}.__init__ takes *args, which cannot be recorded by name; "
                "override config() to return the constructor's arguments"
            )
        return dict(recorded or {})

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        except TypeError:
            args = "..."
        return f"{type(self).__name__}({args})"


_UNRECORDABLE = object()


def _recording_init(init: Any) -> Any:
    """Wrap a GANLoss subclass's ``__init__`` so the outermost call records its arguments."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self: GANLoss, *args: Any, **kwargs: Any) -> None:
        if "_init_args" not in self.__dict__:  # the most derived class's call, not a super() call
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            recorded: Any = {}
            for pname, param in list(signature.parameters.items())[1:]:
                value = bound.arguments.get(pname)
                if param.kind is inspect.Parameter.VAR_POSITIONAL:
                    if value:
                        recorded = _UNRECORDABLE
                        break
                elif param.kind is inspect.Parameter.VAR_KEYWORD:
                    recorded.update(value or {})
                else:
                    recorded[pname] = value
            self.__dict__["_init_args"] = recorded
        init(self, *args, **kwargs)

    __init__._ganzoo_records_args = True  # type: ignore[attr-defined]
    return __init__


def plugin_module(D: nn.Module) -> nn.Module:
    """The plugin's own module behind ``D``: through DistributedDataParallel (``.module``) and a
    ``torch.compile`` wrapper (``._orig_mod``); ``D`` itself when it is not wrapped.

    Use it to read the plugin's attributes or call helpers that do not train; compute what
    trains through ``D(...)`` (:func:`scores_and_extras`), so DDP averages its gradients.

    Example:
        >>> import ganzoo
        >>> from ganzoo.interfaces import plugin_module
        >>> d = ganzoo.create("dcgan").discriminator
        >>> plugin_module(d) is d
        True
    """
    from torch.nn.parallel import DistributedDataParallel

    for _ in range(8):  # DDP(compiled(D)) at most, in practice
        inner = D.module if isinstance(D, DistributedDataParallel) else None
        if inner is None and type(D).__name__ == "OptimizedModule":  # torch.compile(D)
            inner = getattr(D, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return D
        D = inner
    return D


def scores_and_extras(D: nn.Module, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """``D``'s scores and extra outputs on ``x``: ``(scores, {name: tensor})``.

    Calls ``D(x, y, return_extras=True)`` for a D that lists :attr:`Discriminator.extras`,
    plain ``D(x, y)`` (and no extras) otherwise. The call goes through ``D`` as the loss
    received it, so under DistributedDataParallel the extras' gradients are averaged like
    the scores', and under ``torch.compile`` the compiled forward runs.

    Raises:
        ValueError: a D that lists extras but returns something else than ``(scores, dict)``
            with exactly those names.
    """
    names = tuple(getattr(plugin_module(D), "extras", ()) or ())
    if not names:
        return D(x, y), {}
    out = D(x, y, return_extras=True)
    who = type(plugin_module(D)).__name__
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict)):
        raise ValueError(f"{who} lists extras {names} but forward(x, y, return_extras=True) returned "
                         f"{type(out).__name__}; return (scores, {{name: tensor}})")
    if set(out[1]) != set(names):
        raise ValueError(f"{who} lists extras {names} but forward returned {tuple(out[1])}; make "
                         "Discriminator.extras name exactly what forward returns")
    return out[0], out[1]


def _accepts(method: Any, name: str) -> bool:
    params = inspect.signature(method).parameters
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def takes_fake_labels(loss: GANLoss) -> bool:
    """Whether ``loss.discriminator_loss`` accepts ``fake_y`` (needed for ``fake_labels="uniform"``).

    Example:
        >>> import ganzoo
        >>> from ganzoo.interfaces import takes_fake_labels
        >>> takes_fake_labels(ganzoo.create_loss("hinge"))
        True
    """
    return _accepts(loss.discriminator_loss, "fake_y")


def d_takes_labels(d: Discriminator) -> bool:
    """Whether ``d.forward`` uses its labels: ``d.takes_labels``, else whether ``d.num_classes`` is set.

    Example:
        >>> import ganzoo
        >>> d_takes_labels(ganzoo.create("cgan").discriminator), d_takes_labels(ganzoo.create("dcgan").discriminator)
        (True, False)
    """
    flag = getattr(d, "takes_labels", None)
    return bool(flag) if flag is not None else getattr(d, "num_classes", None) is not None


def takes_real_batch(loss: GANLoss) -> bool:
    """Whether ``loss.generator_loss`` accepts the ``real`` keyword (every loss written for
    ganzoo 0.1's newer signature does; an older override without it still works).

    Example:
        >>> import ganzoo
        >>> from ganzoo.interfaces import takes_real_batch
        >>> takes_real_batch(ganzoo.create_loss("hinge"))
        True
    """
    params = inspect.signature(loss.generator_loss).parameters
    return "real" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


@dataclass
class GAN:
    """A generator, a discriminator and a loss built from one :class:`ModelSpec`.

    Attributes:
        generator: the :class:`Generator`.
        discriminator: the :class:`Discriminator`.
        loss: the :class:`GANLoss`.
        spec: the registry entry it was built from.
        config: the resolved constructor arguments (spec defaults plus overrides),
            enough to rebuild both networks with :func:`ganzoo.create`.
        loss_name: the registered name of ``loss``.
    """

    generator: Generator
    discriminator: Discriminator
    loss: GANLoss
    spec: ModelSpec
    config: dict[str, Any] = field(default_factory=dict)
    loss_name: str = ""

    @property
    def name(self) -> str:
        return self.spec.name

    def to(self, *args: Any, **kwargs: Any) -> GAN:
        self.generator.to(*args, **kwargs)
        self.discriminator.to(*args, **kwargs)
        return self
