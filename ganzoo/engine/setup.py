"""Building a run, in the order the Trainer calls these: process, model, data, networks, length, noise.

The model is built (and the loss checked) before any data is read, so a bad
combination fails in a second; the data is then one tensor, moved to the device
once. The order of these calls is part of a run's reproducibility: the model's
weights are drawn from the global random stream seeded by :func:`start_process`.
"""

from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from ganzoo.data import TensorDataset, check_labels, get_dataset_spec, load_dataset
from ganzoo.devices import pick_device
from ganzoo.engine.fastpath import compile_in_place
from ganzoo.engine.step import Nets, PluginDDP
from ganzoo.errors import ConfigError, DataError, GanzooError, PluginError
from ganzoo.factory import check_loss, create, create_loss
from ganzoo.registry import get_spec

if TYPE_CHECKING:
    from ganzoo.engine.config import TrainConfig
    from ganzoo.interfaces import GAN


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def start_process(cfg: TrainConfig, rank: int) -> torch.device:
    """Pick the device, join the process group under torchrun, and seed this process's noise."""
    device = pick_device(cfg.device, local_rank())
    if distributed() and not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch.distributed.init_process_group(backend)
    torch.manual_seed(cfg.seed + rank)  # different noise per process
    return device


def build_gan(cfg: TrainConfig, gan: GAN | None, dataset: TensorDataset | None) -> GAN:
    """The model of ``cfg`` (or ``gan``, given its loss); records the built arguments in ``cfg.model_args``."""
    dspec = get_dataset_spec(cfg.dataset)
    spec = get_spec(cfg.model)
    if gan is None:
        args = dict(cfg.model_args)
        native = dataset.shape if dataset is not None else dspec.shape
        if "data_shape" not in args and "data_shape" in spec.defaults and native:
            args["data_shape"] = tuple(native)  # the model follows the data unless told otherwise
        classes = dataset.num_classes if dataset is not None and dataset.num_classes else dspec.num_classes
        if spec.conditional and "num_classes" not in args and classes:
            args["num_classes"] = classes  # a folder's classes are its sub-folders: known once it is read
        try:
            gan = create(cfg.model, loss=cfg.loss, loss_kwargs=cfg.loss_args,
                         allow_incompatible=cfg.force_loss, **args)
        except ConfigError as exc:
            if "data_shape" in cfg.model_args or not native or exc.__cause__ is not None:
                raise  # the user's shape, or a setting of the wrong type or range (see registry.create)
            raise DataError(
                f"model {cfg.model!r} cannot be built for dataset {cfg.dataset!r} "
                f"(samples of shape {tuple(native)}): {exc}"
            ) from exc
        cfg.model_args = args
    elif gan.loss.name != cfg.loss:
        gan.loss = create_loss(cfg.loss, **cfg.loss_args)
        gan.loss_name = cfg.loss
        check_loss(gan, allow_incompatible=cfg.force_loss)
    return gan


def build_model_and_data(cfg: TrainConfig, gan: GAN | None, dataset: TensorDataset | None,
                         rank: int = 0) -> tuple[GAN, TensorDataset]:
    """The model and the data, each fitted to the other.

    A folder's image size comes from the model (``data_shape``), and its classes (its
    sub-folders) are known only once it is read: a conditional model built with its default
    ``num_classes`` is built again for the folder's count, from the same seed (so a rerun from
    the run's ``config.json``, which records the count, builds the same weights).
    """
    asked, given = dict(cfg.model_args), gan is not None
    gan = build_gan(cfg, gan, dataset)
    if dataset is None:
        dataset = load_dataset(cfg.dataset, cfg.data_dir, download=cfg.download,
                               image_shape=tuple(gan.generator.output_shape))
    if (not given and "num_classes" not in asked and gan.generator.num_classes and dataset.num_classes
            and dataset.num_classes != gan.generator.num_classes):
        cfg.model_args = {**asked, "num_classes": dataset.num_classes}
        torch.manual_seed(cfg.seed + rank)  # as start_process left it: the same weights as one build
        gan = build_gan(cfg, None, dataset)
    return gan, fit_data(cfg, gan, dataset)


def fit_data(cfg: TrainConfig, gan: GAN, dataset: TensorDataset) -> TensorDataset:
    """The dataset checked against the model; ``cfg`` records what the run uses."""
    if "data_shape" not in cfg.model_args:
        cfg.model_args = dict(gan.config)
    if cfg.n_critic is not None:
        gan.loss.n_critic = cfg.n_critic
    cfg.n_critic = gan.loss.n_critic  # the run records the count it trains with
    cfg.loss_args = gan.loss.config()  # every constructor argument, so a resume rebuilds the same loss
    check_fit(cfg, gan, dataset)
    return dataset


def check_fit(cfg: TrainConfig, gan: GAN, dataset: TensorDataset) -> None:
    """Refuse a model and dataset (and batch size) that cannot train together."""
    shape = tuple(gan.generator.output_shape)
    if dataset.shape != shape:
        raise DataError(
            f"dataset {dataset.name!r} has samples of shape {dataset.shape}, but model "
            f"{gan.name!r} makes {shape}; build the model for the data "
            f"(e.g. data_shape={dataset.shape}) or pick a matching dataset"
        )
    if gan.generator.num_classes and dataset.labels is None:
        raise DataError(
            f"model {gan.name!r} is class-conditional but dataset {dataset.name!r} has no labels"
        )
    if gan.generator.num_classes and dataset.num_classes and dataset.num_classes > gan.generator.num_classes:
        raise DataError(
            f"dataset {dataset.name!r} has {dataset.num_classes} classes, model {gan.name!r} "
            f"was built for {gan.generator.num_classes}; set num_classes={dataset.num_classes}"
        )
    if gan.generator.num_classes and dataset.num_classes and dataset.num_classes < gan.generator.num_classes:
        where = (f"the folder {dataset.info['root']} has {dataset.num_classes} (its sub-folders)"
                 if dataset.name == "folder" and "root" in dataset.info else
                 f"dataset {dataset.name!r} has {dataset.num_classes}")
        raise DataError(
            f"model {gan.name!r} was built for {gan.generator.num_classes} classes, but {where}: labels "
            f"{dataset.num_classes} to {gan.generator.num_classes - 1} would never be trained; set "
            f"num_classes={dataset.num_classes}, or leave it out"
        )
    if gan.generator.num_classes and dataset.labels is not None:  # checked here too: a dataset may be handed in
        check_labels(dataset.labels, gan.generator.num_classes, f"dataset {dataset.name!r}")
    if cfg.batch_size == 1 and any(isinstance(m, torch.nn.BatchNorm1d) for net in
                                   (gan.generator, gan.discriminator) for m in net.modules()):
        raise ConfigError(
            f"--batch-size 1 cannot train {gan.name!r}: its BatchNorm1d normalises over the batch, which "
            "needs at least 2 samples per process; use --batch-size 2 or more"
        )
    need = cfg.batch_size * gan.loss.n_critic
    if len(dataset) < need:
        per = f"--batch-size {cfg.batch_size}" + (f" x n_critic {gan.loss.n_critic}" if gan.loss.n_critic > 1 else "")
        raise DataError(f"dataset {dataset.name!r} has {len(dataset)} samples, fewer than one step needs ({need}: "
                        f"{per}); use --batch-size {max(1, len(dataset) // gan.loss.n_critic)} or less, or more images")


def build_nets(cfg: TrainConfig, gan: GAN, device: torch.device, world: int) -> Nets:
    """G and D on the device (memory format, SyncBatchNorm, compile), the EMA copy, Adam, DDP."""
    G, D = gan.generator.to(device), gan.discriminator.to(device)
    check_generator_output(gan, device)
    image = len(G.output_shape) == 3
    cuda = device.type == "cuda"
    if cuda:  # the same shapes every step: let cuDNN time its algorithms once (as pytorch/examples does)
        torch.backends.cudnn.benchmark = True
    # channels_last by default for conv models: faster on CUDA and, measured, on CPU too (bench/cpu_bench.py)
    channels_last = image and (cfg.channels_last if cfg.channels_last is not None else True)
    if channels_last:
        G.to(memory_format=torch.channels_last)
        D.to(memory_format=torch.channels_last)
    amp_dtype = torch.bfloat16 if (cfg.precision == "bf16" or (cfg.precision == "auto" and cuda)) else None
    if world > 1 and cuda and cfg.sync_batchnorm:
        G = nn.SyncBatchNorm.convert_sync_batchnorm(G)
        D = nn.SyncBatchNorm.convert_sync_batchnorm(D)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False) if cfg.ema else None
    if cfg.compile:
        compile_in_place(G, D)

    # Fused Adam (CPU and CUDA); capturable (step counts on the device) for the CUDA-graph
    # path. Learning rates are device tensors, so a schedule can set them inside the graph.
    adam = {"fused": True, "capturable": cuda and cfg.cuda_graph and world == 1}
    opt_g = torch.optim.Adam(G.parameters(), lr=torch.tensor(cfg.lr_g, device=device), betas=cfg.betas, **adam)
    opt_d = torch.optim.Adam(D.parameters(), lr=torch.tensor(cfg.lr_d, device=device), betas=cfg.betas, **adam)

    # Under torchrun, gradients are averaged by PyTorch's DistributedDataParallel.
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [device.index] if cuda else None
        G_train: nn.Module = DDP(G, device_ids=ids)
        D_train: nn.Module = PluginDDP(D, device_ids=ids)  # reaches the plugin's attributes
    else:
        G_train, D_train = G, D
    return Nets(G=G, D=D, G_ema=G_ema, G_train=G_train, D_train=D_train, opt_g=opt_g, opt_d=opt_d,
                amp_dtype=amp_dtype, channels_last=channels_last)


def check_generator_output(gan: GAN, device: torch.device) -> None:
    """Call G once (2 samples, eval mode, its own noise) and refuse an output that is not ``output_shape``.

    A plugin's generator of the wrong shape would otherwise fail inside D with a raw matmul error.
    The noise comes from a generator of its own, so the run's random stream is untouched.
    """
    G = gan.generator
    expected = tuple(G.output_shape)
    plugin = f"model {gan.spec.name!r} from plugin {gan.spec.plugin!r}"
    g = torch.Generator(device="cpu").manual_seed(0)
    z = torch.randn(2, G.latent_dim, generator=g).to(device)
    y = torch.zeros(2, dtype=torch.long, device=device) if G.num_classes else None
    was_training = G.training
    G.eval()
    try:
        with torch.no_grad():
            x = G(z, y)
    except (GanzooError, MemoryError, torch.OutOfMemoryError):
        raise
    except Exception as exc:  # noqa: BLE001  (a plugin's bug, reported as such)
        first = (str(exc).splitlines() or [""])[0][:300]
        raise PluginError(f"{plugin}: its generator fails on a batch of 2 ({type(exc).__name__}: {first}); "
                          "the plugin is broken: report it to its authors") from exc
    finally:
        G.train(was_training)
    got = tuple(x.shape[1:]) if isinstance(x, torch.Tensor) else None
    if got != expected or x.shape[0] != 2:
        made = f"output of shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else f"a {type(x).__name__}"
        raise PluginError(f"{plugin}: its generator makes {made} for 2 samples of output_shape {expected}, i.e. "
                          f"samples of {got}; the plugin is broken: report it to its authors")


def count_steps(cfg: TrainConfig, dataset: TensorDataset, n_critic: int, world: int) -> tuple[int, int]:
    """Steps per epoch and the run's total steps (from ``steps``, else ``epochs``)."""
    per_step = cfg.batch_size * n_critic * world
    steps_per_epoch = max(1, len(dataset) // per_step)
    total_steps = cfg.steps if cfg.steps is not None else round(cfg.epochs * steps_per_epoch)
    if total_steps < 1:
        raise ConfigError(f"epochs={cfg.epochs:g} is less than one step ({steps_per_epoch} steps make an "
                          f"epoch of {dataset.name!r}); give at least --epochs {1 / steps_per_epoch:.2g} "
                          "or --steps 1")
    return steps_per_epoch, total_steps


MAX_PER_CLASS_ROW = 16


def fixed_noise(cfg: TrainConfig, G: nn.Module, device: torch.device) -> tuple[Tensor, Tensor | None]:
    """The noise (and labels: each class in turn) of the sample grids, the same at every save."""
    fixed = torch.Generator(device="cpu").manual_seed(cfg.seed + 12345)
    fixed_z = torch.randn(cfg.num_samples, G.latent_dim, generator=fixed).to(device)
    fixed_y = None
    if G.num_classes:
        # a row per class, at most 16 wide: 64 samples of 2 classes were a 2x32 strip nobody could read
        per = min(MAX_PER_CLASS_ROW, max(1, cfg.num_samples // G.num_classes))
        fixed_y = torch.arange(G.num_classes).repeat_interleave(per).to(device)
        fixed_z = torch.randn(len(fixed_y), G.latent_dim, generator=fixed).to(device)
    return fixed_z, fixed_y
