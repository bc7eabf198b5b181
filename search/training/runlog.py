"""The logs of a training run directory: ``log.csv`` rows and ``events.jsonl``.

:class:`RunLog` appends one CSV row per learner step (the columns of
:data:`LOG_FIELDS`) and one JSON line per event (start, checkpoint, restarts,
end); :func:`hardware` describes the machine for checkpoint metadata.
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path
from typing import Any

#: The columns of ``log.csv``, one row per learner step.
LOG_FIELDS = (
    "step",
    "elapsed_s",
    "loss",
    "policy_loss",
    "value_loss",
    "entropy",
    "target_entropy",
    "kl",
    "grad_norm",
    "games",
    "games_per_s",
    "simulations_per_s",
    "positions",
    "selfplay_cost_ratio",
    "validation_score",
    "param_version",
    "worker_restarts",
    "learner_restarts",
)


class RunLog:
    """CSV (one row per step) and JSON-lines (events) logs of a run directory."""

    def __init__(self, out_dir: Path):
        self.csv_path = out_dir / "log.csv"
        self.events_path = out_dir / "events.jsonl"
        fresh = not self.csv_path.exists()
        self._csv = open(self.csv_path, "a", newline="")  # noqa: SIM115
        self._writer = csv.DictWriter(self._csv, LOG_FIELDS, extrasaction="ignore")
        if fresh:
            self._writer.writeheader()

    def row(self, values: dict[str, Any]) -> None:
        self._writer.writerow(values)
        self._csv.flush()

    def event(self, kind: str, **fields: Any) -> None:
        with open(self.events_path, "a") as handle:
            record = {"time": time.time(), "event": kind, **fields}
            handle.write(json.dumps(record, default=str) + "\n")

    def close(self) -> None:
        self._csv.close()


def hardware() -> dict[str, Any]:
    """The machine and JAX backend that a checkpoint was trained on."""
    import platform

    import jax

    return {
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "jax_backend": jax.default_backend(),
    }


def normal_priority() -> None:
    """Undoes the niceness that Ray gives its worker processes (15 by default).

    Self-play and the learner are the workload, not background chores; at nice
    15 they starve next to any other process on a shared machine.
    """
    try:
        if os.getpriority(os.PRIO_PROCESS, 0) > 0:
            os.setpriority(os.PRIO_PROCESS, 0, 0)
    except (OSError, AttributeError):
        pass  # not permitted (or not POSIX): keep the niceness


__all__ = ["LOG_FIELDS", "RunLog", "hardware", "normal_priority"]
