"""What the command modules share: error handling, ``--model-arg``, tables and output-file checks.

The bottom of :mod:`ganzoo.cli`: it imports no other module of the package, and every
other one may import it. The public names are re-exported by :mod:`ganzoo.cli`.
"""

from __future__ import annotations

import functools
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ganzoo.errors import GanzooError
from ganzoo.fsio import replace_file

TRACEBACK_ENV = "GANZOO_TRACEBACK"


def friendly_errors(fn: Callable) -> Callable:
    """Print ganzoo's own errors (user mistakes) as one clear message, no traceback.

    The ``ganzoo`` group already does this for every command, plugins' included; the
    decorator is for a click command used outside the group.

    Example:
        >>> import click
        >>> from ganzoo.cli import friendly_errors
        >>> from ganzoo.errors import ConfigError
        >>> @click.command()
        ... @friendly_errors
        ... def hello():
        ...     raise ConfigError("bad value 'x'; use 'y'")
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GanzooError as exc:
            raise click.ClickException(_one_line(exc)) from exc

    return wrapper


def _one_line(exc: BaseException) -> str:
    """An error message on one line (its lines joined with "; ")."""
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def parse_model_args(values: tuple[str, ...] | list[str], param_hint: str = "--model-arg") -> dict[str, Any]:
    """``KEY=VALUE`` strings to a dict; each value is read as JSON when it parses, else kept as text.

    A value in Python's tuple syntax, ``(2,)`` or ``(1, 28, 28)``, becomes a tuple.

    Example:
        >>> from ganzoo.cli import parse_model_args
        >>> parse_model_args(("latent_dim=64", "data_shape=[3,32,32]", "name=x"))
        {'latent_dim': 64, 'data_shape': [3, 32, 32], 'name': 'x'}
    """
    out: dict[str, Any] = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=param_hint)
        key, raw = item.split("=", 1)
        if key in out:
            raise click.BadParameter(f"{key!r} is given twice ({out[key]!r} and {raw!r}); give it once",
                                     param_hint=param_hint)
        text = raw.strip()
        as_tuple = text.startswith("(") and text.endswith(")")  # Python's syntax: (2,) or (1, 28, 28)
        if as_tuple:
            text = "[" + text[1:-1].strip().rstrip(",") + "]"
        try:
            value = json.loads(text)
            out[key] = tuple(value) if as_tuple and isinstance(value, list) else value
        except (ValueError, RecursionError):
            out[key] = raw
    return out


_parse_kv = parse_model_args  # the old private name


def model_arg_option(fn: Callable) -> Callable:
    """The ``--model-arg KEY=VALUE`` option of the built-in commands, for a plugin's command.

    The command receives ``model_args`` already parsed into a dict (see :func:`parse_model_args`).

    Example:
        >>> import click
        >>> from ganzoo.cli import model_arg_option
        >>> @click.command()
        ... @click.argument("model")
        ... @model_arg_option
        ... def build(model, model_args):
        ...     click.echo(f"{model} {model_args}")
    """
    return click.option(
        "--model-arg", "model_args", multiple=True, metavar="KEY=VALUE",
        callback=lambda ctx, param, value: parse_model_args(value),
        help="Model constructor override, e.g. latent_dim=64 (repeatable).",
    )(fn)


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*(str(c) for c in r)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def _check_writable(path: Path, option: str, overwrite: bool | None = None) -> None:
    """Refuse an output file that cannot be written, before the work that would fill it.

    Also refused: a link (writing through it would replace whatever it points at), anything
    that exists and is not a regular file (a FIFO would block the writer forever, a device
    would take the bytes), an existing file that a bundle or run directory is made of (its
    ganzoo.json, config, checkpoints, weights): an output must never destroy what was saved.
    With ``overwrite=False`` any existing file is refused (the command's ``--overwrite``
    allows replacing it); ``None``: an existing regular file may be replaced.
    Nothing is opened that could block: the path is examined with ``lstat`` first.
    """
    try:
        st = path.lstat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise click.BadParameter(f"cannot write {path}: {exc.strerror or exc}", param_hint=option) from None
    if path.is_symlink():
        raise click.BadParameter(f"{path} is a link; give a new file name", param_hint=option)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise click.BadParameter(f"{path} is a folder; give a file name", param_hint=option)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise click.BadParameter(f"{path} exists and is not a regular file (a FIFO, socket or device); "
                                 "give a file name", param_hint=option)
    existed = st is not None
    if existed and _is_saved_state(path):
        raise click.BadParameter(f"{path} is part of the bundle or run in {path.parent}; writing there would "
                                 "destroy it: give another file name", param_hint=option)
    if existed and overwrite is False:
        raise click.BadParameter(f"{path} exists; give --overwrite to replace it, or another file name",
                                 param_hint=option)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_NONBLOCK: should a FIFO appear here after the check above, opening it fails instead of waiting
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NONBLOCK", 0), 0o666)
        os.close(fd)
    except OSError as exc:
        raise click.BadParameter(f"cannot write {path}: {exc.strerror or exc}", param_hint=option) from None
    if not existed:
        path.unlink(missing_ok=True)


def write_atomic(path: Path, write: Callable[[Path], Any]) -> None:
    """Write ``path`` whole or not at all: ``write(tmp)`` fills a temporary file beside it, then a rename.

    The temporary file keeps ``path``'s suffix (writers that choose the format by it still do),
    is flushed to disk (fsync) before the rename and removed on any failure, and takes the
    permission bits of the file it replaces. A failure (a full disk, a lost mount) is one line,
    and the previous file is left as it was.
    """
    path = Path(path)
    existed = path.is_file()
    kept = "the previous file is intact" if existed else "nothing was written"
    try:
        replace_file(path, write)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc} ({kept})") from None
    except RuntimeError as exc:  # torch.save reports a failed write ("unexpected pos ...") as a RuntimeError
        raise click.ClickException(f"cannot write {path}: {_one_line(exc)} (the disk may be full; {kept})") from None


def _is_saved_state(path: Path) -> bool:
    """Whether ``path`` is one of the files a bundle or a run directory consists of."""
    folder = path.parent
    in_ganzoo_folder = ((folder / "ganzoo.json").is_file() or (folder / "checkpoints").is_dir()
                        or "checkpoints" in (folder.name, folder.parent.name))
    own = path.name in {"ganzoo.json", "config.json", "metrics.jsonl", "state.json", "latest.json", "README.md"}
    return in_ganzoo_folder and (own or path.suffix == ".safetensors")
