"""Reading evaluation receipts: their numbers per feature network, rankings, verification.

:func:`verify_receipt` recomputes a receipt (made by :func:`ganzoo.metrics.evaluate.evaluate`)
with the same protocol and checks each number within its tolerance; :func:`rank_disagreements`
names the pairs of models that two feature networks order differently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganzoo.errors import EvalError
from ganzoo.interfaces import Generator
from ganzoo.metrics.evaluate import EvalResult, _fmt, evaluate
from ganzoo.metrics.networks import feature_network, network_specs
from ganzoo.metrics.protocol import DEFAULT_TOLERANCE, METRICS, check_setting
from ganzoo.weights import read_json


def network_values(result: EvalResult | dict[str, Any]) -> dict[str, dict[str, float]]:
    """Feature network name to its metrics, for an :class:`~ganzoo.metrics.evaluate.EvalResult` or a receipt dict.

    Example:
        >>> network_values({"feature_network": {"name": "a"}, "metrics": {"fid": 3.0},
        ...                 "cross_check": [{"feature_network": {"name": "b"}, "metrics": {"fid": 4.0}}]})
        {'a': {'fid': 3.0}, 'b': {'fid': 4.0}}
    """
    receipt = result.receipt if isinstance(result, EvalResult) else result
    out = {receipt["feature_network"]["name"]: dict(receipt["metrics"])}
    for c in receipt.get("cross_check") or []:
        out[c["feature_network"]["name"]] = dict(c["metrics"])
    return out


def rank_disagreements(results: dict[str, EvalResult | dict[str, Any]], metric: str = "fid") -> list[str]:
    """Pairs of models that two feature networks order differently by ``metric``.

    Disagreement is information: when ganzoo's first network says model A beats model B and
    the cross-check network says the opposite, the difference between them is within what the
    choice of feature network decides, and neither ranking should be quoted alone.

    Args:
        results: model name to its :class:`~ganzoo.metrics.evaluate.EvalResult` (or receipt dict), all on the same dataset.
        metric: the number to rank by.

    Returns:
        One sentence per disagreeing pair (empty when all networks agree).

    Example:
        >>> a = {"feature_network": {"name": "n1"}, "metrics": {"fid": 3.0},
        ...      "cross_check": [{"feature_network": {"name": "n2"}, "metrics": {"fid": 9.0}}]}
        >>> b = {"feature_network": {"name": "n1"}, "metrics": {"fid": 4.0},
        ...      "cross_check": [{"feature_network": {"name": "n2"}, "metrics": {"fid": 8.0}}]}
        >>> rank_disagreements({"A": a, "B": b})
        ['n1 orders A < B by fid (3 vs 4), n2 the other way (9 vs 8)']
    """
    values = {model: network_values(r) for model, r in results.items()}
    models = list(values)
    out = []
    for i, a in enumerate(models):
        for b in models[i + 1 :]:
            nets = [net for net in values[a] if net in values[b]
                    and metric in values[a][net] and metric in values[b][net]]
            signs = {net: (values[a][net][metric] > values[b][net][metric])
                     - (values[a][net][metric] < values[b][net][metric]) for net in nets}
            for j, n1 in enumerate(nets):
                for n2 in nets[j + 1 :]:
                    if signs[n1] * signs[n2] < 0:
                        rel = "<" if signs[n1] < 0 else ">"
                        out.append(f"{n1} orders {a} {rel} {b} by {metric} ({values[a][n1][metric]:.4g} vs "
                                   f"{values[b][n1][metric]:.4g}), {n2} the other way "
                                   f"({values[a][n2][metric]:.4g} vs {values[b][n2][metric]:.4g})")
    return out


@dataclass
class Verification:
    """What :func:`verify_receipt` returns.

    Attributes:
        ok: every recorded number was reproduced within its tolerance.
        checks: one row per number: ``name``, ``recorded``, ``recomputed``, ``allowed``
            (the absolute difference tolerated) and ``ok``.
        notes: differences in setting that may explain a mismatch (versions, device).
        result: the recomputed :class:`EvalResult`.
    """

    ok: bool
    checks: list[dict[str, Any]]
    notes: list[str]
    result: EvalResult

    def table(self) -> str:
        w = max(22, *(len(c["name"]) + 2 for c in self.checks)) if self.checks else 22
        rows = [f"{'number':<{w}}{'recorded':>12}{'recomputed':>12}{'allowed':>10}  ok"]
        for c in self.checks:
            rows.append(f"{c['name']:<{w}}{_fmt(c['recorded']):>12}{_fmt(c['recomputed']):>12}"
                        f"{_fmt(c['allowed']):>10}  {'yes' if c['ok'] else 'NO'}")
        rows += [f"note: {note}" for note in self.notes]
        rows.append("verified" if self.ok else "NOT verified: numbers differ beyond tolerance")
        return "\n".join(rows)


def verify_receipt(
    receipt: dict[str, Any] | str | Path,
    generator: Generator,
    *,
    tolerance: dict[str, tuple[float, float]] | None = None,
    data_dir: str | Path | None = None,
    device: torch.device | str | None = None,
    cache_dir: str | Path | None = None,
    download: bool = False,
) -> Verification:
    """Recompute an evaluation receipt with the same protocol and check its numbers.

    A number passes if ``|recomputed - recorded| <= atol + rtol * |recorded|`` with
    ``(rtol, atol)`` from ``tolerance``, merged over :data:`DEFAULT_TOLERANCE` (1% for FID,
    KID and IS; 0.005 absolute for precision, recall and label accuracy). The receipt's own
    ``tolerance`` is never used (whoever wrote the numbers would choose how closely they are
    checked); where it differs from the one applied, a note says so.

    The receipt is checked first (:func:`read_receipt`): its numbers, and the work its protocol
    asks for against the protocol maximum (:mod:`ganzoo.limits`), before any feature network,
    dataset or sample is touched.
    The defaults hold for a rerun on the same kind of device (CPU or CUDA), which draws
    the same noise; the floor is checked too.

    Args:
        receipt: a receipt dict (``EvalResult.receipt``) or the path of its JSON file.
        generator: the generator the receipt claims to describe.
        tolerance: per-number ``(rtol, atol)`` overrides of :data:`DEFAULT_TOLERANCE`, chosen by
            the caller (non-negative, finite).
        data_dir: dataset root, as for :func:`~ganzoo.metrics.evaluate.evaluate`.
        device: where the feature network runs, as for :func:`~ganzoo.metrics.evaluate.evaluate`.
        cache_dir: where reference statistics live, as for :func:`~ganzoo.metrics.evaluate.evaluate`.
        download: fetch missing dataset files (default off: verifying uses the data at hand or
            the statistics that ship with ganzoo, and says which files are missing otherwise).

    Raises:
        EvalError: the receipt is unreadable or malformed, asks for more work than the protocol
            maximum, or was made with a different feature network or reference data than this
            installation has (its numbers are not comparable).

    Example:
        >>> v = verify_receipt("receipt.json", generator)  # doctest: +SKIP
        >>> print(v.table())  # doctest: +SKIP
    """
    receipt = read_receipt(receipt)  # checked whole (its numbers, the work it asks for) before anything loads
    tol = _tolerances(tolerance)
    proto, net_rec, ref_rec = receipt["protocol"], receipt["feature_network"], receipt["reference"]
    recorded = receipt["metrics"]
    recorded_floor = (receipt["floor"] or {}).get("metrics") or {}
    dataset = ref_rec["dataset"]
    cross = receipt.get("cross_check") or []
    try:
        wanted = [(None, net_rec)] + [(c["feature_network"]["name"], c["feature_network"]) for c in cross]
    except (KeyError, TypeError) as exc:
        raise EvalError(f"the receipt's cross_check entries are malformed (missing {exc})") from exc
    checks_here = [s.name for s in network_specs(dataset)[1:]]  # names the dataset: no network, no verifying
    for name, entry in wanted:
        if name is not None and name not in checks_here:
            raise EvalError(f"the receipt was made with cross-check network {name!r} for dataset {dataset!r}, which "
                            "no installed plugin registers for it: use the ganzoo version (and plugins) named "
                            "in the receipt")
        _, record, _ = feature_network(dataset, name=name)
        if record["sha256"] != entry.get("sha256"):
            raise EvalError(
                f"the receipt was made with feature network {entry.get('name')} sha256 "
                f"{str(entry.get('sha256'))[:12]}..., this ganzoo scores dataset {dataset!r} with {record['name']} "
                f"sha256 {record['sha256'][:12]}...: its numbers cannot be reproduced here. Use the ganzoo "
                "version (and feature network weights) named in the receipt"
            )
    result = evaluate(
        generator, dataset, data_dir, n=proto["n"], seed=proto["seed"], batch_size=proto["batch_size"],
        device=device, metrics=[m for m in recorded if m in METRICS], model_name=receipt.get("model"),
        cache_dir=cache_dir, floor=bool(recorded_floor), download=download, cross_check=bool(cross),
    )
    if result.receipt["reference"]["sha256"] != ref_rec["sha256"]:
        raise EvalError(
            f"the {dataset} {ref_rec['split']} split here has sha256 {result.receipt['reference']['sha256'][:12]}..., "
            f"the receipt's has {ref_rec['sha256'][:12]}...: a different reference set; check --data-dir"
        )
    compared = [("", recorded, result.metrics), ("floor.", recorded_floor, result.floor)]
    for c in cross:
        name = c["feature_network"]["name"]
        now = result.cross_check.get(name, {"metrics": {}, "floor": {}})
        compared += [(f"{name}.", c.get("metrics") or {}, now["metrics"]),
                     (f"{name}.floor.", (c.get("floor") or {}).get("metrics") or {}, now["floor"])]
    checks = []
    for prefix, old, new in compared:
        for name, value in old.items():
            rtol, atol = tol.get(name, (0.01, 0.0))
            got = new.get(name, math.nan)
            allowed = atol + rtol * abs(value)
            checks.append({"name": prefix + name, "recorded": value, "recomputed": got,
                           "allowed": allowed, "ok": bool(abs(got - value) <= allowed)})
    notes = _tolerance_notes(receipt.get("tolerance"), tol, [c["name"].rsplit(".", 1)[-1] for c in checks])
    for key in ("ganzoo", "torch"):
        then, now = receipt.get("versions", {}).get(key), result.receipt["versions"][key]
        if then != now:
            notes.append(f"{key} {then} made the receipt, {now} verified it")
    then_dev = str(receipt.get("device", "")).split(":")[0]
    now_dev = result.receipt["device"].split(":")[0]
    if then_dev and then_dev != now_dev:
        notes.append(f"the receipt sampled on {then_dev}, this run on {now_dev}: the noise differs, "
                     "so only sampling-level agreement can be expected")
    return Verification(ok=all(c["ok"] for c in checks), checks=checks, notes=notes, result=result)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise EvalError(f"the receipt's {where} must be a finite number, got {value!r}: "
                        "the receipt is damaged or was not written by ganzoo")
    return value


def _numbers(values: Any, where: str) -> dict[str, float]:
    if not isinstance(values, dict):
        raise EvalError(f"the receipt's {where} must be a table of metric names and numbers, "
                        f"got {type(values).__name__}")
    return {str(name): _number(v, f"{where}.{name}") for name, v in values.items()}


def _floor_numbers(floor: Any, where: str) -> None:
    if floor is None:
        return
    if not isinstance(floor, dict):
        raise EvalError(f"the receipt's {where} must be null or a table, got {type(floor).__name__}")
    _numbers(floor.get("metrics", {}), f"{where}.metrics")


def read_receipt(receipt: dict[str, Any] | str | Path) -> dict[str, Any]:
    """A receipt (a dict or the path of its JSON file), checked before anything is recomputed.

    Checked: that it has a receipt's parts, that every recorded number is a finite number,
    and that the work its protocol asks for (``n``, ``batch_size``, ``seed``, KID
    ``subsets`` and ``subset_size``) is within the protocol maximum of :mod:`ganzoo.limits`.
    Nothing heavy is loaded: ``ganzoo eval --verify`` calls it before loading the generator.

    Raises:
        EvalError: one line naming what is wrong.
    """
    if not isinstance(receipt, dict):
        try:
            receipt = read_json(receipt, "ganzoo evaluation receipt", EvalError,
                                "; receipts come from `ganzoo eval --json`")
        except FileNotFoundError as exc:
            raise EvalError(f"cannot read receipt {receipt}: no such file") from exc
        except IsADirectoryError as exc:
            raise EvalError(f"cannot read receipt {receipt}: it is a folder") from exc
    if not isinstance(receipt, dict):
        raise EvalError("not a ganzoo evaluation receipt (not a JSON object); receipts come from `ganzoo eval --json`")
    missing = [k for k in ("protocol", "feature_network", "reference", "metrics", "floor") if k not in receipt]
    if missing:
        raise EvalError(f"not a ganzoo evaluation receipt (missing {missing[0]!r}); receipts come from "
                        "ganzoo.metrics.evaluate")
    proto, net_rec, ref_rec = receipt["protocol"], receipt["feature_network"], receipt["reference"]
    for name, part in (("protocol", proto), ("feature_network", net_rec), ("reference", ref_rec)):
        if not isinstance(part, dict):
            raise EvalError(f"the receipt's {name} must be a table, got {type(part).__name__}")
    for key in ("n", "batch_size", "seed"):
        if key not in proto:
            raise EvalError(f"not a ganzoo evaluation receipt (protocol has no {key!r})")
        check_setting(key, proto[key], f"the receipt's protocol.{key}")
    kid = proto.get("kid")
    if kid is not None:
        if not isinstance(kid, dict):
            raise EvalError(f"the receipt's protocol.kid must be a table, got {type(kid).__name__}")
        for key in ("subsets", "subset_size"):
            if key in kid:
                check_setting(key, kid[key], f"the receipt's protocol.kid.{key}")
    if not isinstance(ref_rec.get("dataset"), str):
        raise EvalError(f"the receipt's reference.dataset must be a dataset name, got {ref_rec.get('dataset')!r}")
    _numbers(receipt["metrics"], "metrics")
    _floor_numbers(receipt["floor"], "floor")
    cross = receipt.get("cross_check") or []
    if not isinstance(cross, list):
        raise EvalError(f"the receipt's cross_check must be a list, got {type(cross).__name__}")
    seen = set()
    for i, c in enumerate(cross):
        name = c.get("feature_network", {}).get("name") if isinstance(c, dict) and isinstance(
            c.get("feature_network"), dict) else None
        if not isinstance(name, str):
            raise EvalError(f"the receipt's cross_check entry {i} names no feature network")
        if name in seen:
            raise EvalError(f"the receipt's cross_check names {name!r} twice")
        seen.add(name)
        _numbers(c.get("metrics") or {}, f"cross_check {name} metrics")
        _floor_numbers(c.get("floor"), f"cross_check {name} floor")
    return receipt


def _tolerances(tolerance: dict[str, tuple[float, float]] | None) -> dict[str, tuple[float, float]]:
    """ganzoo's tolerances with the caller's overrides (never a receipt's): ``name -> (rtol, atol)``."""
    out = dict(DEFAULT_TOLERANCE)
    for name, pair in (tolerance or {}).items():
        try:
            rtol, atol = (float(v) for v in pair)
        except (TypeError, ValueError):
            raise EvalError(f"tolerance for {name!r} must be a pair (rtol, atol), got {pair!r}") from None
        if not (math.isfinite(rtol) and math.isfinite(atol) and rtol >= 0 and atol >= 0):
            raise EvalError(f"tolerance for {name!r} must be finite and >= 0, got {pair!r}")
        out[name] = (rtol, atol)
    return out


def _tolerance_notes(stated: Any, applied: dict[str, tuple[float, float]], names: list[str]) -> list[str]:
    """A note when the receipt states a tolerance other than the one applied (which it never chooses)."""
    if stated is None:
        return []
    if not isinstance(stated, dict):
        return ["the receipt's own tolerance is ignored: tolerances come from ganzoo or the caller"]
    differ = []
    for name in dict.fromkeys(names):
        try:
            same = [float(v) for v in stated[name]] == [float(v) for v in applied.get(name, (0.01, 0.0))]
        except (KeyError, TypeError, ValueError):
            same = name not in stated
        if not same:
            differ.append(name)
    if not differ:
        return []
    return [f"the receipt states its own tolerance for {', '.join(differ)}; ignored: tolerances come from "
            "ganzoo (or the caller), never from the receipt"]
