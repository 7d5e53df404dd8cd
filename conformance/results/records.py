"""Typed records of what runs measured, validated when read back.

Every run file names its ``kind``: ``conformance`` (a :class:`ConformanceRun` of
:class:`ExampleResult`\\ s) or ``bench`` (a :class:`BenchRun` of :class:`BenchEntry`\\ s); a
benchmark baseline is ``bench-baseline``. ``from_json`` checks each field's presence and type, and
a malformed file raises :class:`MalformedRecord` naming the file and the field
(``results/.../x.json: examples[3].status: must be one of ...``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from collections import Counter
from typing import Any, Callable, Iterable

from conformance.errors import MalformedFile
from conformance.results.strict_json import measured

SCHEMA_VERSION = 1
EXAMPLE_STATUSES = ("passed", "failed", "error", "skipped")
CHECK_STATUSES = ("passed", "failed")


class MalformedRecord(MalformedFile):
    """A run or baseline file that cannot be used; it is left untouched."""


class _Fields:
    """Reads the fields of one JSON object, naming the file and the field in every complaint."""

    def __init__(self, raw: Any, path: Path | str, where: str) -> None:
        if not isinstance(raw, dict):
            raise MalformedRecord(path, where or "(top level)", "must be a JSON object")
        self.raw, self.path, self.where = raw, path, where

    def at(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def require(self, name: str, accepts: Callable[[Any], bool], problem: str, default: Any = ...) -> Any:
        if name not in self.raw:
            if default is ...:
                raise MalformedRecord(self.path, self.at(name), "missing")
            return default
        value = self.raw[name]
        if value is None and default is None:  # an optional field may be null
            return None
        if not accepts(value):
            raise MalformedRecord(self.path, self.at(name), f"{problem}, got {value!r:.80}")
        return value

    def text(self, name: str, default: Any = ...) -> str:
        return self.require(name, lambda v: isinstance(v, str), "must be a string", default)

    def integer(self, name: str, default: Any = ...) -> int:
        return self.require(name, _is_int, "must be an integer", default)

    def number(self, name: str, default: Any = ...) -> float | None:
        return self.require(name, lambda v: v is None or _is_number(v), "must be a number", default)

    def mapping(self, name: str, default: Any = ...) -> dict[str, Any]:
        return self.require(name, lambda v: isinstance(v, dict), "must be an object", default)

    def histories(self, name: str) -> dict[str, dict[str, list[Any]]]:
        return self.require(name, _is_histories, "must map each history's name to its series ({metric: [per-epoch "
                                                  "values]})", {})

    def listing(self, name: str, default: Any = ...) -> list[Any]:
        return self.require(name, lambda v: isinstance(v, list), "must be a list", default)

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        return self.require(name, lambda v: v in choices, f"must be one of {', '.join(choices)}")


def _is_histories(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(series, dict) and all(isinstance(values, list) for values in series.values())
        for series in value.values())


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _throughputs(values: Any) -> bool:
    return isinstance(values, list) and bool(values) and all(_is_number(v) and math.isfinite(v) and v > 0
                                                             for v in values)


def require_kind(raw: Any, path: Path | str, kind: str) -> dict[str, Any]:
    """``raw`` as a JSON object of ``kind`` and this schema version, or a :class:`MalformedRecord`."""
    document = _Fields(raw, path, "")
    found = document.raw.get("kind")
    if found != kind:
        hint = f" (this is a {found} file)" if isinstance(found, str) else ""
        raise MalformedRecord(path, "kind", f"must be {kind!r}{hint}, got {found!r}")
    document.require("schema_version", lambda v: v == SCHEMA_VERSION, f"must be {SCHEMA_VERSION}")
    return document.raw


# -- conformance -------------------------------------------------------------------------------
def unique_names(names: Iterable[str]) -> list[str]:
    """Check names made unique: a golden file may hold two checks of one name (a threshold from the book
    and one from a recorded run); the second becomes ``"<name> #2"``, in the golden file's order, so that
    checks pair up across two runs of the same example."""
    seen: Counter[str] = Counter()
    unique = []
    for name in names:
        seen[name] += 1
        unique.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return unique


SETTINGS_ORDER = ("tier", "backend", "precision", "devices", "seed", "fault")


def describe_settings(settings: dict[str, Any]) -> str:
    """``tier smoke, backend jax, precision float32, devices 1, seed 0`` (and the planted fault, if any)."""
    keys = [key for key in SETTINGS_ORDER if key in settings] + sorted(set(settings) - set(SETTINGS_ORDER))
    return ", ".join(f"{key} {settings[key]}" for key in keys)


@dataclass(frozen=True)
class CheckVerdict:
    """One expectation judged against one outcome."""

    name: str
    kind: str
    status: str  # passed | failed
    expected: str
    actual: Any
    source: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Any, path: Path | str, where: str) -> "CheckVerdict":
        f = _Fields(raw, path, where)
        return cls(name=f.text("name"), kind=f.text("kind"), status=f.choice("status", CHECK_STATUSES),
                   expected=f.text("expected"), actual=measured(raw.get("actual")), source=f.text("source"),
                   message=f.text("message"))


@dataclass(frozen=True)
class ExampleResult:
    """One example's run in one tier: its status, its verdicts and what it observed."""

    id: str
    tier: str
    backend: str
    seed: int
    status: str  # passed | failed | error | skipped
    reason: str = ""
    duration_s: float = 0.0
    checks: tuple[CheckVerdict, ...] = ()
    metrics: dict[str, Any] = field(default_factory=dict)  # the Outcome's named values
    models: dict[str, Any] = field(default_factory=dict)
    history: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    data: dict[str, dict[str, Any]] = field(default_factory=dict)  # provenance of each dataset call
    traceback: str = ""
    fault_hits: int | None = None  # calls a planted fault changed while the example ran (sensitivity runs)
    fault_reach: dict[str, int] | None = None  # per fault, the calls it would have changed (a probed run)

    @property
    def key(self) -> tuple[str, str]:
        return self.id, self.tier

    @property
    def failed_checks(self) -> list[CheckVerdict]:
        return [c for c in self.checks if not c.passed]

    def to_json(self) -> dict[str, Any]:
        document = {f.name: getattr(self, f.name) for f in fields(self)}
        document["checks"] = [c.to_json() for c in self.checks]
        for optional, empty in (("traceback", ""), ("fault_hits", None), ("fault_reach", None)):
            if document[optional] == empty:
                del document[optional]
        return document

    @classmethod
    def from_json(cls, raw: Any, path: Path | str, where: str) -> "ExampleResult":
        f = _Fields(raw, path, where)
        checks = tuple(CheckVerdict.from_json(c, path, f"{f.at('checks')}[{i}]")
                       for i, c in enumerate(f.listing("checks", [])))
        return cls(id=f.text("id"), tier=f.text("tier"), backend=f.text("backend"), seed=f.integer("seed"),
                   status=f.choice("status", EXAMPLE_STATUSES), reason=f.text("reason", ""),
                   duration_s=f.number("duration_s", 0.0) or 0.0, checks=checks,
                   metrics=measured(f.mapping("metrics", {})), models=f.mapping("models", {}),
                   history=measured(f.histories("history")), data=f.mapping("data", {}),
                   traceback=f.text("traceback", ""), fault_hits=f.integer("fault_hits", None),
                   fault_reach=f.mapping("fault_reach", None))


# pytest's exit codes for a session that did not run to its end
INTERRUPTED_EXIT_CODES = {2: "interrupted", 3: "internal error"}


@dataclass
class ConformanceRun:
    """A conformance run file: the machine, the settings, what was planned, the examples as they
    finished, and whether the run itself finished.

    ``planned`` holds the ids the selection (``--examples``) chose, written before the first
    example starts; ``not_run`` the planned ids that were left out on purpose, with the reason
    (deselected with ``-k``/``-m``); ``finished`` and ``exit_status`` are stamped when the pytest
    session ends. A run killed part-way keeps ``finished`` empty: it is :attr:`complete` only when
    every planned example has a result or a reason."""

    run_id: str
    started: str
    profile: dict[str, Any]
    settings: dict[str, Any]
    examples: list[ExampleResult] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)
    selection: str | None = None  # the --examples patterns; None: every example
    not_run: dict[str, str] = field(default_factory=dict)
    updated: str | None = None
    finished: str | None = None
    exit_status: int | None = None

    kind = "conformance"

    @property
    def missing(self) -> list[str]:
        """Planned examples with neither a result nor a reason for not running."""
        done = {e.id for e in self.examples}
        return [i for i in self.planned if i not in done and i not in self.not_run]

    @property
    def complete(self) -> bool:
        return self.finished is not None and self.exit_status not in INTERRUPTED_EXIT_CODES and not self.missing

    def incompleteness(self) -> str:
        """Why the run is not complete, in words ("" for a complete run)."""
        if self.complete:
            return ""
        if self.finished is None:
            how = "never finished (killed, or still running)"
        elif self.exit_status in INTERRUPTED_EXIT_CODES:
            how = f"ended early ({INTERRUPTED_EXIT_CODES[self.exit_status]})"
        else:
            how = "finished"
        missing = self.missing
        return (f"run {self.run_id} {how}: {len(missing)} of {len(self.planned)} planned examples have no result"
                + (f" ({', '.join(missing[:5])}{', …' if len(missing) > 5 else ''})" if missing else ""))

    def to_json(self) -> dict[str, Any]:
        document = {"schema_version": SCHEMA_VERSION, "kind": self.kind}
        document.update({f.name: getattr(self, f.name) for f in fields(self)})
        document["examples"] = [e.to_json() for e in self.examples]
        document["complete"] = self.complete  # for readers of the file; recomputed on load
        return document

    @classmethod
    def from_json(cls, raw: Any, path: Path | str) -> "ConformanceRun":
        f = _Fields(require_kind(raw, path, cls.kind), path, "")
        examples = [ExampleResult.from_json(e, path, f"examples[{i}]") for i, e in enumerate(f.listing("examples"))]
        planned = f.require("planned", lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
                            "must be a list of example ids")
        not_run = f.require("not_run", lambda v: isinstance(v, dict) and all(isinstance(r, str) for r in v.values()),
                            "must map example ids to reasons", {})
        return cls(run_id=f.text("run_id"), started=f.text("started"), profile=f.mapping("profile"),
                   settings=f.mapping("settings"), examples=examples, planned=planned,
                   selection=f.text("selection", None), not_run=not_run, updated=f.text("updated", None),
                   finished=f.text("finished", None), exit_status=f.integer("exit_status", None))


# -- benchmarks --------------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchEntry:
    """One benchmark configuration (model, precision, devices, global batch): the throughput of
    each round of each run, and what the runs measured besides."""

    model: str
    precision: str
    devices: int
    global_batch: int
    repeats: tuple[tuple[float, ...], ...]  # samples/s: runs (independent processes) of rounds
    per_device_batch: int | None = None
    steps_per_round: int | None = None
    median_samples_per_s: float | None = None  # the median of the runs' medians
    cv: float | None = None  # within a run (robust), the median over the runs
    between_run_cv: float | None = None
    achieved_flops_per_s: float | None = None
    utilisation: float | None = None  # of the matmul ceiling at this precision
    timer_overhead: float | None = None  # pytest-benchmark's time of a round over the round's own stopwatch
    round_s: tuple[float, ...] = ()
    run_id: str | None = None  # in a baseline: the run this entry was filed from
    facts: dict[str, Any] = field(default_factory=dict)  # the bench item's extra_info: params, FLOPs, optimizer …
    memory: dict[str, int] = field(default_factory=dict)

    @property
    def configuration(self) -> tuple[str, str, int, int]:
        return self.model, self.precision, self.devices, self.global_batch

    @property
    def comparison_key(self) -> tuple[str, str, int]:
        """What a run and its baseline are matched by. The batch is left out on purpose: a run at
        another batch size is still compared (and the report says the batches differ), so a smaller
        batch that slows training shows as the regression it is rather than as a missing baseline."""
        return self.model, self.precision, self.devices

    @property
    def samples_per_s(self) -> list[float]:
        return [v for rounds in self.repeats for v in rounds]

    @property
    def runs(self) -> list[list[float]]:
        return [list(rounds) for rounds in self.repeats]

    def to_json(self) -> dict[str, Any]:
        document = {f.name: getattr(self, f.name) for f in fields(self)}
        document["repeats"] = self.runs
        document["round_s"] = list(self.round_s)
        document["samples_per_s"] = self.samples_per_s  # for readers of the file: every round of every run
        return document

    @classmethod
    def from_json(cls, raw: Any, path: Path | str, where: str) -> "BenchEntry":
        f = _Fields(raw, path, where)
        # Files from before `bench --repeats` hold one run's rounds in samples_per_s.
        one_run = f.require("samples_per_s", _throughputs, "must be a non-empty list of positive throughputs",
                            None)
        repeats = f.require("repeats", lambda v: isinstance(v, list) and v and all(map(_throughputs, v)),
                            "must be a non-empty list of runs, each a non-empty list of positive throughputs",
                            [one_run] if one_run else ...)
        return cls(model=f.text("model"), precision=f.text("precision"), devices=f.integer("devices"),
                   global_batch=f.integer("global_batch"), repeats=tuple(tuple(r) for r in repeats),
                   per_device_batch=f.integer("per_device_batch", None),
                   steps_per_round=f.integer("steps_per_round", None),
                   median_samples_per_s=f.number("median_samples_per_s", None), cv=f.number("cv", None),
                   between_run_cv=f.number("between_run_cv", None),
                   achieved_flops_per_s=f.number("achieved_flops_per_s", None),
                   utilisation=f.number("utilisation", None), timer_overhead=f.number("timer_overhead", None),
                   round_s=tuple(f.listing("round_s", [])), run_id=f.text("run_id", None),
                   facts=f.mapping("facts", {}), memory=f.mapping("memory", {}))


@dataclass
class BenchRun:
    """A benchmark run file: every configuration's entry, the matmul ceilings, the accuracy gates,
    and each pytest process that measured them."""

    run_id: str
    started: str
    finished: str
    command: str
    profile: dict[str, Any]
    settings: dict[str, Any]
    status: str  # passed | failed
    entries: list[BenchEntry]
    ceilings: list[dict[str, Any]] = field(default_factory=list)
    gates: list[dict[str, Any]] = field(default_factory=list)
    processes: list[dict[str, Any]] = field(default_factory=list)
    derived: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    kind = "bench"

    @property
    def backend(self) -> str:
        return self.settings["backend"]

    @property
    def profile_id(self) -> str:
        return self.profile["id"]

    def failures(self) -> list[str]:
        """What went wrong in each pytest process (a crash, a timeout, a failed accuracy gate), with its log."""
        return [failure for process in self.processes for failure in process.get("failures") or (
            [f"devices={process['devices']} models={process.get('models', 'all')}: pytest exited "
             f"{process['returncode']}"] if process.get("returncode") else [])]

    def to_json(self) -> dict[str, Any]:
        document = {"schema_version": SCHEMA_VERSION, "kind": self.kind}
        document.update({f.name: getattr(self, f.name) for f in fields(self)})
        document["entries"] = [e.to_json() for e in self.entries]
        return document

    @classmethod
    def from_json(cls, raw: Any, path: Path | str) -> "BenchRun":
        f = _Fields(require_kind(raw, path, cls.kind), path, "")
        profile = f.require("profile", lambda v: isinstance(v, dict) and isinstance(v.get("id"), str),
                            "must be an object with the profile's id")
        settings = f.require("settings", lambda v: isinstance(v, dict) and isinstance(v.get("backend"), str),
                             "must be an object naming the backend")
        entries = [BenchEntry.from_json(e, path, f"entries[{i}]") for i, e in enumerate(f.listing("entries"))]
        return cls(run_id=f.text("run_id"), started=f.text("started"), finished=f.text("finished"),
                   command=f.text("command"), profile=profile, settings=settings,
                   status=f.choice("status", ("passed", "failed")), entries=entries,
                   ceilings=f.listing("ceilings", []), gates=measured(f.listing("gates", [])),
                   processes=f.listing("processes", []), derived=f.mapping("derived", {}))


PROVENANCE_FIELDS = ("command", "run_id", "date", "versions", "profile", "backend")


@dataclass
class BackendBaseline:
    """One backend's part of a benchmark baseline: its entries and where they came from."""

    provenance: dict[str, Any]  # the latest run filed
    runs: dict[str, dict[str, Any]]  # every run filed, by run id
    entries: list[BenchEntry]
    ceilings: list[dict[str, Any]] = field(default_factory=list)
    gates: list[dict[str, Any]] = field(default_factory=list)
    derived: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        document = {f.name: getattr(self, f.name) for f in fields(self)}
        document["entries"] = [e.to_json() for e in self.entries]
        return document

    @classmethod
    def from_json(cls, raw: Any, path: Path | str, where: str) -> "BackendBaseline":
        f = _Fields(raw, path, where)
        provenance = _Fields(f.mapping("provenance"), path, f.at("provenance"))
        for name in PROVENANCE_FIELDS:
            provenance.require(name, lambda v: True, "")
        entries = [BenchEntry.from_json(e, path, f"{f.at('entries')}[{i}]") for i, e in enumerate(f.listing("entries"))]
        runs = f.mapping("runs", {})
        for run_id, filed in runs.items():  # the report names each run it compares with: command and date
            run = _Fields(filed, path, f"{f.at('runs')}.{run_id}")
            for name in ("command", "run_id", "date", "backend"):
                run.text(name)
            run.mapping("versions")  # and its profile, for runs filed since baselines kept one
        return cls(provenance=provenance.raw, runs=runs, entries=entries,
                   ceilings=f.listing("ceilings", []), gates=measured(f.listing("gates", [])), derived=f.mapping("derived", {}))


@dataclass
class Baseline:
    """``golden/bench/<profile-id>.json``: what each backend measured on this hardware profile."""

    profile_id: str
    backends: dict[str, BackendBaseline] = field(default_factory=dict)

    kind = "bench-baseline"

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "kind": self.kind, "profile_id": self.profile_id,
                "backends": {name: body.to_json() for name, body in self.backends.items()}}

    @classmethod
    def from_json(cls, raw: Any, path: Path | str) -> "Baseline":
        f = _Fields(require_kind(raw, path, cls.kind), path, "")
        backends = f.require("backends", lambda v: isinstance(v, dict) and v, "must hold at least one backend's run")
        return cls(profile_id=f.text("profile_id"),
                   backends={name: BackendBaseline.from_json(body, path, f"backends.{name}")
                             for name, body in backends.items()})
