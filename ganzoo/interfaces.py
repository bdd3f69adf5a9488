"""The three interfaces every model family implements: Generator, Discriminator, GANLoss."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from ganzoo.registry import ModelSpec

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
    """

    num_classes: int | None = None
    input_shape: tuple[int, ...]

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:  # pragma: no cover
        raise NotImplementedError


class GANLoss:
    """A GAN objective: the discriminator's and the generator's loss.

    Both methods receive the discriminator itself, so losses such as WGAN-GP can
    compute their own penalties. Each returns ``(loss, logs)`` where ``logs``
    maps names to detached scalar tensors (no ``.item()``: that would sync the
    GPU every step).

    Attributes:
        name: the registered name.
        n_critic: discriminator steps per generator step.
        output: ``"logit"`` when D's output is a probability logit (so D(x) is
            reported as ``sigmoid(logit)``), ``"score"`` for critics.
        cuda_graph: ``False`` when the loss cannot be replayed from a CUDA graph
            (host syncs, Python state that changes per step); the engine then trains eagerly.
    """

    name: str = "loss"
    n_critic: int = 1
    output: str = "logit"
    cuda_graph: bool = True

    def discriminator_loss(
        self, D: Discriminator, real: Tensor, fake: Tensor, y: Tensor | None = None
    ) -> tuple[Tensor, LossLogs]:
        # Losses in float32 even under bf16 autocast.
        real_out = D(real, y).float()
        fake_out = D(fake, y).float()
        loss = self.d_loss_from_outputs(real_out, fake_out)
        logs = {"loss_d": loss.detach(), **self._report("D(x)", real_out), **self._report("D(G(z))", fake_out)}
        return loss, logs

    def generator_loss(
        self, D: Discriminator, fake: Tensor, y: Tensor | None = None
    ) -> tuple[Tensor, LossLogs]:
        fake_out = D(fake, y).float()
        loss = self.g_loss_from_outputs(fake_out)
        return loss, {"loss_g": loss.detach()}

    # Most losses only need these two; override them, or the methods above.
    def d_loss_from_outputs(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        raise NotImplementedError

    def g_loss_from_outputs(self, fake_out: Tensor) -> Tensor:
        raise NotImplementedError

    def _report(self, key: str, out: Tensor) -> LossLogs:
        out = out.detach().float()
        return {key: torch.sigmoid(out).mean() if self.output == "logit" else out.mean()}

    def check_compatible(self, gan: GAN) -> None:
        """Raise :class:`ganzoo.errors.IncompatibleLossError` if this loss cannot train ``gan``."""

    def config(self) -> dict[str, Any]:
        """The constructor arguments, for run configs and bundles."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


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
