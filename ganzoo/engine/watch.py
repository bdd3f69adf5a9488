"""The live doctor: the log's checks (:mod:`ganzoo.diagnosis`) run as the engine logs.

The first time a finding appears it prints one line (never again for that code in this run,
a resumed run included), adds a row ``{"step", "finding", "severity", "message", "advice"}`` to
``metrics.jsonl`` and rewrites ``diagnosis.json`` in the run directory. It reads only the rows
the engine has already written (copied to the host at log time), so it adds no device
synchronisation; the checks run every :data:`EVERY` log rows on the last :data:`WINDOW` rows.
``--no-doctor`` (``TrainConfig(doctor=False)``) turns it off.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ganzoo.checkpoint import check_inside, write_json_atomic
from ganzoo.diagnosis import diagnose_log, finite_json, read_log
from ganzoo.errors import GanzooError

EVERY = 5  # log rows between checks
WINDOW = 2000  # log rows the checks look at: the run's recent history, at a bounded cost


class LiveDoctor:
    """Watches the rows of one run's log; see the module docstring."""

    def __init__(self, run_dir: Path, config: dict[str, Any], *, say: Callable[[str], None]):
        self.run_dir = run_dir
        self.config = config
        self.say = say
        old = read_log(run_dir)  # a resumed run: what it had said before, and its recent rows
        self.seen = {r["finding"] for r in old if isinstance(r.get("finding"), str)}
        self.rows: deque[dict[str, Any]] = deque((r for r in old if "loss_d" in r), maxlen=WINDOW)
        self.count = 0
        self.findings: dict[str, dict[str, Any]] = {}

    def observe(self, row: dict[str, Any], write: Callable[[dict[str, Any]], None], *, last: bool = False) -> None:
        """Take one log row; every few rows (and at the last one), report findings seen for the first time."""
        self.rows.append(row)
        self.count += 1
        if self.count % EVERY and not last:
            return
        diagnosis = diagnose_log(list(self.rows), self.config, str(self.run_dir))
        new = [f for f in diagnosis.findings if f.code not in self.seen]
        for f in new:
            self.seen.add(f.code)
            self.say(f"step {row['step']:,}: {f.severity}: {f.code}: {f.message}." + (f" Try: {f.advice}." if f.advice else ""))
            write({"step": row["step"], "finding": f.code, "severity": f.severity, "message": f.message,
                   "advice": f.advice})
        for f in diagnosis.findings:
            self.findings[f.code] = {"code": f.code, "severity": f.severity, "steps": f.steps, "message": f.message,
                                     "advice": f.advice, "evidence": f.evidence}
        if new or last:
            self._write_json(row["step"])

    def _write_json(self, step: int) -> None:
        worst = max((f["severity"] for f in self.findings.values()), key=["healthy", "warning", "failing"].index,
                    default="healthy")
        path = self.run_dir / "diagnosis.json"
        try:
            check_inside(path, self.run_dir, "file")
            write_json_atomic(path, finite_json({"step": step, "verdict": worst, "findings": list(self.findings.values()),
                                             "note": "from the training log only; `ganzoo doctor RUN` also checks "
                                                     "samples"}))
        except (OSError, GanzooError):
            pass  # the diagnosis is advice: it never stops a training
