"""What ``bisect`` watches: one check of an example's golden file, or one metric, over the seeds.

``--check`` names either a check as run files list it (``"dropout lowers overfitting"``,
``"exact values.sequential_param_count"``; the second of two checks of one name is ``"<name> #2"``)
or a metric path into what the example recorded (``values.test_acc``, ``models.model.params``). A check's verdict over the seeds is its status
when every seed agrees (``passed``), else which seeds said what; when the example has no such
check on a seed (it raised, was skipped, left no result) the example's own status stands in, so
a release that breaks the example is a change too. Two versions behave the same for a check when
their verdicts are equal, and for a metric when it did not move beyond its seed spread
(:mod:`conformance.upgrade.spread`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from conformance.results.records import ConformanceRun, ExampleResult, unique_names
from conformance.upgrade import spread

METRIC_ROOTS = ("values.", "models.")
OK = "ok"


def is_metric_path(check: str) -> bool:
    return check.startswith(METRIC_ROOTS)


def with_unique_check_names(result: ExampleResult) -> ExampleResult:
    checks = tuple(replace(c, name=name) for c, name in zip(result.checks, unique_names(c.name for c in result.checks)))
    return replace(result, checks=checks)


@dataclass(frozen=True)
class Observation:
    check: str
    is_metric: bool
    seeds: tuple[int, ...]
    statuses: tuple[str, ...]  # per seed: the check's status (metric: "ok"), or the example's when the check is absent
    values: tuple[float | None, ...] = ()  # per seed, metrics only
    notes: tuple[str, ...] = ()  # per seed: the example's reason when it did not pass

    @property
    def complete_values(self) -> bool:
        return self.is_metric and all(v is not None for v in self.values)

    @property
    def verdict(self) -> str:
        if self.complete_values:
            values = [v for v in self.values if v is not None]
            lowest, highest = min(values), max(values)
            mean = sum(values) / len(values)
            return f"mean {mean:.4g} (range {lowest:.4g}–{highest:.4g} over {len(values)} seeds)"
        if len(set(self.statuses)) == 1:
            return self.statuses[0]
        return "mixed: " + ", ".join(f"{status} on seed {seed}" for seed, status in zip(self.seeds, self.statuses))

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "verdict": self.verdict, "seeds": list(self.seeds),
                "statuses": list(self.statuses), "values": list(self.values), "notes": list(self.notes)}


def observe(runs: dict[int, ConformanceRun | None], example: str, check: str) -> Observation:
    """The check (or metric) ``check`` of ``example`` in each seed's run."""
    metric = is_metric_path(check)
    seeds = tuple(sorted(runs))
    statuses, values, notes = [], [], []
    for seed in seeds:
        run = runs[seed]
        result = next((e for e in run.examples if e.id == example), None) if run else None
        if result is None:
            statuses.append("no result")
            values.append(None)
            notes.append(run.incompleteness() if run else "the run left no results")
            continue
        notes.append(result.reason if result.status != "passed" else "")
        if metric:
            value = metric_value(result.metrics, result.models, check)
            values.append(value)
            statuses.append(OK if value is not None else result.status)
        else:
            verdict = next((c for c in with_unique_check_names(result).checks if c.name == check), None)
            statuses.append(verdict.status if verdict else result.status)
    return Observation(check, metric, seeds, tuple(statuses), tuple(values) if metric else (), tuple(notes))


def metric_value(metrics: dict[str, Any], models: dict[str, Any], path: str) -> float | None:
    """``values.test_acc`` → ``metrics["test_acc"]``; ``models.model.params`` → ``models["model"]["params"]``;
    None unless it is a number."""
    root, _, rest = path.partition(".")
    node: Any = {"values": metrics, "models": models}.get(root)
    for part in rest.split(".") if rest else []:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        return None
    return float(node)


def same(reference: Observation, other: Observation) -> bool:
    """Does ``other`` behave like ``reference``?"""
    if reference.complete_values and other.complete_values:
        before = [v for v in reference.values if v is not None]
        after = [v for v in other.values if v is not None]
        return spread.movement(before, after).verdict != spread.MOVED
    return reference.verdict == other.verdict if not reference.is_metric else (
        reference.statuses == other.statuses and not (reference.complete_values or other.complete_values))
