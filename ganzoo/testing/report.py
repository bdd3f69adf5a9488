"""What the conformance kit reports: :class:`ConformanceReport` and :class:`ConformanceError`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ConformanceError(AssertionError):
    """A model broke the ganzoo model contract; the message names the model and the check."""


@dataclass
class ConformanceReport:
    """What :func:`check_model` ran: one ``(check, outcome)`` pair per check, in order.

    ``outcome`` is ``"passed"``, or ``"not applicable: ..."`` for a check that does not concern
    this kind of model (image range for a model of points). ``str(report)`` is a summary.
    """

    model: str
    overrides: dict[str, Any] = field(default_factory=dict)
    results: list[tuple[str, str]] = field(default_factory=list)

    @property
    def passed(self) -> list[str]:
        """Names of the checks that ran and passed."""
        return [name for name, outcome in self.results if outcome == "passed"]

    def __str__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.overrides.items())
        head = (f"{self.model}{f' ({settings})' if settings else ''} passes the conformance kit: "
                f"{len(self.passed)} of {len(self.results)} checks passed"
                f"{f', {len(self.results) - len(self.passed)} not applicable' if len(self.passed) < len(self.results) else ''}")
        return "\n".join([head] + [f"  {name:<28} {outcome}" for name, outcome in self.results])
