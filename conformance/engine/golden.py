"""Golden files: what each example must show, as data, with the provenance of every number.

Schema (``golden/<example-id>.json``, ``schema_version`` 1)::

    {
      "schema_version": 1,
      "example": "ch02_mnist_dense",
      "sources": {                                 # every expectation names one of these
        "book-test-acc": {"kind": "book", "section": "2.1", "printed": "test_acc: 0.9785",
                          "quote": "test_acc: 0.9785 ... The test-set accuracy turns out to be 97.8%",
                          "ref": "output of listing 2.7"},     # ref optional
        "book-recalled": {"kind": "book", "section": "5.4.4", "printed": "(after six epochs rather than four)",
                          "quote": "...", "ref": "third-edition wording", "confirmed": false},
        "third":   {"kind": "reference", "ref": "a public run of the Python 2e notebook by ...: test 0.9800"},
        "arch":    {"kind": "computed", "ref": "784*512+512 + 512*10+10"},
        "run-smoke": {"kind": "run", "command": "...", "tier": "smoke", "seeds": [0],
                      "backend": "tensorflow", "versions": {...}, "profile": "...", "date": "..."}
      },
      "expectations": [ ... ],                      # checked in every tier (architecture)
      "tiers": {
        "smoke":   {"scale": {"epochs": 1.0, "samples": 0.1}, "expectations": [ ... ]},
        "offline": { ... },
        "book":    { ... }
      }
    }

Sources say where a number comes from, inside the repository: a ``book`` source is the book's own
printing of it (``section``, ``printed`` as the book prints it, ``quote``: the sentence or listing output it
comes from; ``confirmed: false`` where the printing could not be checked, and no expectation may cite such a
source); a ``reference`` source is someone else's run of the book's code; a ``computed`` source gives the
derivation; a ``run`` source is a recorded run of this suite. ``reference`` and ``computed`` sources need a
``ref``. No source may point to files outside the repository.

An expectation is ``{"kind": K, "source": S, "name": optional, "why": optional,
"overrides": optional, ...fields of K}``; ``name`` and ``why``, when given, are non-empty strings;
the kinds and their fields are in :data:`KIND_FIELDS` (see ``conformance.engine.checks`` for what
each means).

Overrides: ``"overrides": [{"when": {"backend": "jax"}, "set": {"min": 0.8}}, ...]``.
``when`` may name ``backend``, ``profile`` (an fnmatch pattern of the profile id), or
both. Precedence: every matching override applies, least specific first — backend,
then profile, then both — so the most specific one wins; equal ones apply in file order.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from conformance.errors import MalformedFile
from reference_impl.api import ANY_BACKEND, TIERS, Scale

SCHEMA_VERSION = 1
SOURCE_KINDS = {"book", "reference", "computed", "run"}  # reference: a third party's run of the book's code
RUN_SOURCE_FIELDS = ("command", "tier", "seeds", "backend", "versions", "profile", "date")
MIN_RECORDED_SEEDS = 5  # a bound from fewer seeds is one seed's luck: the next seed falls outside it
PATH_FIELDS = ("path", "baseline", "left", "right")  # where in an outcome a check looks

# kind → (required fields, optional fields)
KIND_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "exact": ({"path", "value"}, set()),
    "approx": ({"path", "value"}, {"rtol", "atol"}),
    "threshold": ({"path"}, {"min", "max", "margin"}),
    "falls": ({"path"}, {"min_rank_corr", "by"}),
    "rises": ({"path"}, {"min_rank_corr", "by"}),
    "best_epoch": ({"path", "mode", "window"}, {"exclude_last"}),
    "compare": ({"left", "op", "right"}, {"by"}),
    "beats_baseline": ({"path", "baseline", "margin"}, {"lower_is_better"}),
}
MEASURED_FIELDS = ("value", "min", "max")  # what `record` writes
COMMON_FIELDS = {"kind", "source", "name", "why", "overrides"}
ORDERING_OPS = ("<", "<=", ">", ">=")  # compare finite numbers, ``by`` apart when given
COMPARE_OPS = {*ORDERING_OPS, "==", "!="}


class GoldenError(MalformedFile):
    """A golden file that cannot be used; the message names the file, the field and the problem.
    ``problems`` holds every problem found in the file (the message leads with the first)."""

    def __init__(self, path: Path | str, field: str, problem: str) -> None:
        super().__init__(path, field, problem)
        self.problems: list[GoldenError] = [self]

    @classmethod
    def of(cls, problems: list["GoldenError"]) -> "GoldenError":
        """One error for several problems of a file: the first's message, saying how many more there are."""
        first = problems[0]
        more = len(problems) - 1
        error = cls(first.path, first.field, first.problem + (
            f" (and {more} more problem{'s' if more > 1 else ''} in the file: 'python -m conformance validate' "
            f"lists them all)" if more else ""))
        error.problems = list(problems)
        return error


class _Problems:
    """Collects the problems of independent parts of a file (a source, an expectation, a tier), so that
    one file's problems are reported together rather than one per edit."""

    def __init__(self) -> None:
        self.found: list[GoldenError] = []

    @contextlib.contextmanager
    def part(self) -> Iterator[None]:
        try:
            yield
        except GoldenError as error:
            self.found.extend(error.problems)

    def raise_any(self) -> None:
        if self.found:
            raise GoldenError.of(self.found)


@dataclass
class Expectation:
    kind: str
    source: str
    fields: dict[str, Any]
    name: str
    why: str = ""
    overrides: list[dict[str, Any]] = field(default_factory=list)

    def resolved(self, *, backend: str, profile_id: str) -> "Expectation":
        """This expectation with the overrides that match ``backend`` and ``profile_id`` applied."""
        matching = []
        for order, override in enumerate(self.overrides):
            when = override["when"]
            if "backend" in when and when["backend"] != backend:
                continue
            if "profile" in when and not fnmatch.fnmatchcase(profile_id, when["profile"]):
                continue
            specificity = ("backend" in when) + 2 * ("profile" in when)
            matching.append((specificity, order, override["set"]))
        fields = dict(self.fields)
        for _, _, replacement in sorted(matching, key=lambda m: m[:2]):
            fields.update(replacement)
        return Expectation(self.kind, self.source, fields, self.name, self.why)


@dataclass
class Golden:
    path: Path
    example: str
    sources: dict[str, dict[str, Any]]
    expectations: list[Expectation]
    tiers: dict[str, dict[str, Any]]
    raw: dict[str, Any]

    def scale(self, tier: str) -> Scale:
        return Scale(**self.tiers.get(tier, {}).get("scale", {}))

    def expectations_for(self, tier: str) -> list[Expectation]:
        return self.expectations + self.tiers.get(tier, {}).get("expectations", [])

    def describe_source(self, key: str) -> str:
        source = self.sources[key]
        if source["kind"] == "run":
            seeds = ",".join(str(s) for s in source["seeds"])
            return (
                f"run '{key}': {source['tier']} tier, seeds {seeds}, {source['backend']}, "
                f"profile {source['profile']}, {source['date']} ({self.path.name})"
            )
        if source["kind"] == "book":
            quote = " / ".join(line.strip() for line in source["quote"].splitlines() if line.strip())
            if len(quote) > 70:
                quote = quote[:69].rstrip() + "…"
            unconfirmed = ", unconfirmed" if source.get("confirmed") is False else ""
            return (f"book §{source['section']}: printed {source['printed']} — '{quote}' "
                    f"({self.path.name}{unconfirmed})")
        return f"{source['kind']} '{key}': {source['ref']} ({self.path.name})"


def project_golden_dir() -> Path:
    """The project's golden/ folder: beside the packages in a checkout, else golden/ in the working directory."""
    beside = Path(__file__).resolve().parents[2] / "golden"
    return beside if beside.is_dir() else Path.cwd() / "golden"


def golden_dir() -> Path:
    """The golden files a run reads by default: ``$CONFORMANCE_GOLDEN``, else the project's."""
    import os

    return Path(os.environ["CONFORMANCE_GOLDEN"]) if "CONFORMANCE_GOLDEN" in os.environ else project_golden_dir()


def golden_path(example_id: str, directory: Path | None = None) -> Path:
    return (directory or golden_dir()) / f"{example_id}.json"


def load(example_id: str, directory: Path | None = None, *, pending_ok: bool = False) -> Golden:
    """The golden file of ``example_id``, validated. ``pending_ok`` admits run-sourced
    values not recorded yet (``null``), which only ``record`` may do."""
    path = golden_path(example_id, directory)
    if not path.exists():
        raise GoldenError(path, "(file)", f"no golden file for example {example_id!r}")
    _require(path.is_file(), path, "(file)", "not a file (a folder or a device has the golden file's name)")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise GoldenError(path, "(file)", f"cannot be read: {error}") from error
    except UnicodeDecodeError as error:
        raise GoldenError(path, "(file)", f"not valid JSON: {error}") from error
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise GoldenError(path, "(file)", f"not valid JSON: {error}") from error
    golden = parse(raw, path, pending_ok=pending_ok)
    if golden.example != example_id:
        raise GoldenError(path, "example", f"is {golden.example!r}, but the file is named for {example_id!r}")
    return golden


def parse(raw: Any, path: Path, *, pending_ok: bool = False) -> Golden:
    """Validate ``raw`` against the schema; every problem names its field. The top level must be sound
    before anything else is read; past it, every source, expectation and tier is checked, and the
    error raised holds all their problems."""
    _require(isinstance(raw, dict), path, "(top level)", "must be a JSON object")
    _require(raw.get("schema_version") == SCHEMA_VERSION, path, "schema_version", f"must be {SCHEMA_VERSION}")
    _require(isinstance(raw.get("example"), str), path, "example", "must be a string (the example id)")
    unknown = set(raw) - {"schema_version", "example", "sources", "expectations", "tiers", "notes"}
    _require(not unknown, path, ", ".join(sorted(unknown)), "unknown top-level field")
    sources = raw.get("sources")
    _require(isinstance(sources, dict), path, "sources", "must be an object of named sources")
    problems = _Problems()
    sound: dict[str, Any] = {}  # the sources without problems; an expectation citing another is not read further
    for key, source in sources.items():
        with problems.part():
            _check_source(source, path, f"sources.{key}")
            sound[key] = source
    cited = _Citations(sound, set(sources) - set(sound))
    expectations = _parse_expectations(raw.get("expectations", []), cited, path, "expectations", pending_ok, problems)
    tiers = raw.get("tiers", {})
    _require(isinstance(tiers, dict), path, "tiers", "must be an object keyed by tier")
    parsed_tiers: dict[str, dict[str, Any]] = {}
    broken_tiers: set[str] = set()  # reported already: their checks and scale are not read against them
    for tier, body in tiers.items():
        where = f"tiers.{tier}"
        found = len(problems.found)
        with problems.part():
            _require(tier in TIERS, path, where, f"unknown tier (known: {', '.join(TIERS)})")
            _require(isinstance(body, dict), path, where, "must be an object")
            unknown = set(body) - {"scale", "expectations"}
            _require(not unknown, path, f"{where}.{','.join(sorted(unknown))}", "unknown field")
            scale = body.get("scale", {})
            _check_scale(scale, path, f"{where}.scale")
        if len(problems.found) > found:
            broken_tiers.add(tier)
            continue
        parsed_tiers[tier] = {"scale": scale, "expectations": _parse_expectations(
            body.get("expectations", []), cited, path, f"{where}.expectations", pending_ok, problems, tier=tier)}
    for key, source in sound.items():
        if source["kind"] == "run" and "scale" in source and source["tier"] not in broken_tiers:
            now = parsed_tiers.get(source["tier"], {}).get("scale", {})
            with problems.part():
                _require(Scale(**source["scale"]) == Scale(**now), path, f"sources.{key}.scale",
                         f"recorded at scale {source['scale']}, but the {source['tier']} tier now runs at {now}: its "
                         f"values describe other runs; record the tier again")
    problems.raise_any()
    return Golden(path, raw["example"], sources, expectations, parsed_tiers, raw)


@dataclass(frozen=True)
class _Citations:
    """The file's sources as expectations cite them: ``sound`` ones, and ``broken`` ones whose own problems
    are reported already."""

    sound: dict[str, Any]
    broken: set[str]


def _require(condition: bool, path: Path, field: str, problem: str) -> None:
    if not condition:
        raise GoldenError(path, field, problem)


def _check_source(source: Any, path: Path, where: str) -> None:
    """A source must let a reader follow its number without leaving the repository.

    ``book``: non-empty strings ``section``, ``printed`` (the value as the book prints it) and ``quote`` (the
    sentence or listing output it comes from); optional ``ref`` (a non-empty string) and ``confirmed`` (a bool,
    ``false`` where the book's printing could not be checked). ``reference`` and ``computed``: a non-empty
    ``ref``. ``run``: every field of :data:`RUN_SOURCE_FIELDS`. No text anywhere in a source may name one of the
    briefing files kept outside the repository.
    """
    book_fields = ("section", "printed", "quote")
    # briefing files outside the repository, spelt in pieces so that a search of the repository finds none
    foreign_files = ("book-" "catalog", "shared" "/")

    def texts(value: Any, name: str) -> list[tuple[str, str]]:  # every string in the source, with its field
        if isinstance(value, str):
            return [(name, value)]
        if isinstance(value, dict):
            return [t for key, item in value.items() for t in texts(item, f"{name}.{key}" if name else str(key))]
        if isinstance(value, list):
            return [t for i, item in enumerate(value) for t in texts(item, f"{name}[{i}]")]
        return []

    _require(isinstance(source, dict), path, where, "must be an object")
    kind = source.get("kind")
    _require(isinstance(kind, str) and kind in SOURCE_KINDS, path, f"{where}.kind",
             f"must be one of {sorted(SOURCE_KINDS)}, got {kind!r}")
    for name, text in texts(source, ""):
        for marker in foreign_files:
            _require(marker not in text.lower(), path, f"{where}.{name}",
                     f"mentions {marker!r}: cite the book itself; the file named is not part of the repository")
    _require(isinstance(source.get("confirmed", True), bool), path, f"{where}.confirmed", "must be true or false")
    if kind == "run":
        for name in RUN_SOURCE_FIELDS:
            _require(name in source, path, f"{where}.{name}", "a recorded run must say this")
        _require(source["tier"] in TIERS, path, f"{where}.tier", f"must be one of {', '.join(TIERS)}")
        seeds = source["seeds"]
        _require(isinstance(seeds, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
                 and len(set(seeds)) == len(seeds), path, f"{where}.seeds", "must be a list of distinct whole numbers")
        _require(not seeds or len(seeds) >= MIN_RECORDED_SEEDS, path, f"{where}.seeds",
                 f"{len(seeds)} recorded, at least {MIN_RECORDED_SEEDS} needed: a bound from fewer seeds does not "
                 f"hold for the next one")
        _require(bool(seeds) or source["backend"] == "", path, f"{where}.seeds",
                 "is empty, yet the source names a backend: only a placeholder that 'record' has not filled yet "
                 "has no seeds")
        _require(source["backend"] in ("", *ANY_BACKEND), path, f"{where}.backend",
                 f"must be one of {', '.join(ANY_BACKEND)} ('' before the first recording)")
        _require(isinstance(source["versions"], dict), path, f"{where}.versions", "must map packages to versions")
        for name in ("command", "profile", "date"):
            _require(isinstance(source[name], str), path, f"{where}.{name}", "must be a string")
        if "scale" in source:  # stamped by recordings since 2026-12-02: the tier's scale the values were taken at
            _check_scale(source["scale"], path, f"{where}.scale")
    elif kind == "book":
        for name in book_fields:
            value = source.get(name)
            _require(isinstance(value, str) and value.strip() != "", path, f"{where}.{name}",
                     "a book source must give this as a non-empty string (section, printed value, quote)")
        if "ref" in source:
            _require(isinstance(source["ref"], str) and source["ref"].strip() != "", path, f"{where}.ref",
                     "must be a non-empty string when given")
        unknown = set(source) - {"kind", "ref", "confirmed", *book_fields}
        _require(not unknown, path, f"{where}.{','.join(sorted(unknown))}", "not a field of a book source")
    else:
        _require(isinstance(source.get("ref"), str) and source["ref"].strip() != "", path, f"{where}.ref",
                 "must cite where it came from")



def _check_scale(scale: Any, path: Path, where: str) -> None:
    _require(isinstance(scale, dict), path, where, "must be an object")
    allowed = set(Scale.__dataclass_fields__)
    for key, value in scale.items():
        _require(key in allowed, path, f"{where}.{key}", f"unknown knob (known: {', '.join(sorted(allowed))})")
        if key == "epochs":  # 0: build and compile only (see Scale)
            _require(isinstance(value, (int, float)) and value >= 0, path, f"{where}.{key}", "must be 0 or more")
        else:
            _require(isinstance(value, (int, float)) and value > 0, path, f"{where}.{key}", "must be a positive number")


def _parse_expectations(items: Any, cited: _Citations, path: Path, where: str, pending_ok: bool,
                        problems: _Problems, tier: str | None = None) -> list[Expectation]:
    """The expectations of the file (``tier`` None: checked in every tier) or of one tier; the problems
    of each go to ``problems``."""
    parsed: list[Expectation] = []
    with problems.part():
        _require(isinstance(items, list), path, where, "must be a list")
        for i, item in enumerate(items):
            with problems.part():
                expectation = _parse_expectation(item, cited, path, f"{where}[{i}]", pending_ok, tier)
                if expectation is not None:
                    parsed.append(expectation)
    return parsed


def _parse_expectation(item: Any, cited: _Citations, path: Path, where: str, pending_ok: bool,
                       tier: str | None) -> Expectation | None:
    """The expectation ``item``; None when it cites a source with problems of its own."""
    _require(isinstance(item, dict), path, where, "must be an object")
    kind = item.get("kind")
    _require(isinstance(kind, str) and kind in KIND_FIELDS, path, f"{where}.kind",
             f"must be one of {sorted(KIND_FIELDS)}, got {kind!r}")
    required, optional = KIND_FIELDS[kind]
    for name in sorted(required):
        _require(name in item, path, f"{where}.{name}", f"required for kind {kind!r}")
    unknown = set(item) - required - optional - COMMON_FIELDS
    _require(not unknown, path, f"{where}.{','.join(sorted(unknown))}", f"not a field of kind {kind!r}")
    for text in ("name", "why"):
        _require(text not in item or (isinstance(item[text], str) and item[text].strip() != ""), path,
                 f"{where}.{text}", "must be a non-empty string when given: a run file quotes it")
    source = item.get("source")
    if isinstance(source, str) and source in cited.broken:
        return None
    sources = cited.sound
    _require(isinstance(source, str) and source in sources, path, f"{where}.source",
             f"{source!r} is not one of the file's sources")
    _require(not (sources[source].get("kind") == "book" and sources[source].get("confirmed") is False), path,
             f"{where}.source", f"{source!r} cites a number the book's printing could not confirm")
    cited = sources[source]
    _require(tier is None or cited["kind"] != "run" or cited["tier"] == tier, path, f"{where}.source",
             f"cites the run source {source!r} of the {cited.get('tier')} tier from the {tier} tier: recording the "
             f"{tier} tier would never fill it")
    fields = {k: v for k, v in item.items() if k not in COMMON_FIELDS}
    for name in PATH_FIELDS:
        _require(name not in fields or (isinstance(fields[name], str) and fields[name] != ""), path, f"{where}.{name}",
                 "must be a non-empty string: where in the outcome to look, such as 'values.test_acc'")
    pending = [k for k in MEASURED_FIELDS if k in fields and fields[k] is None]
    if cited["kind"] == "run" and not cited["seeds"]:
        typed = [k for k in MEASURED_FIELDS if k in fields and fields[k] is not None]
        _require(not typed, path, f"{where}.{typed[0] if typed else ''}",
                 f"cites {source!r}, which has recorded no seeds yet: only 'record' may fill a measured value")
    if pending:
        _require(cited["kind"] == "run", path, f"{where}.{pending[0]}", "is null, and only a recorded run may fill it")
        _require(pending_ok, path, f"{where}.{pending[0]}",
                 f"not recorded yet; run 'python -m conformance record --tier {cited['tier']} --examples "
                 f"{path.stem} --seeds 0-{MIN_RECORDED_SEEDS - 1}'")
    else:
        _check_kind_fields(kind, fields, path, where)
    overrides = item.get("overrides", [])
    _require(isinstance(overrides, list), path, f"{where}.overrides", "must be a list")
    for i, override in enumerate(overrides):
        at = f"{where}.overrides[{i}]"
        _require(isinstance(override, dict) and set(override) == {"when", "set"}, path, at, "must be {when, set}")
        when = override["when"]
        _require(isinstance(when, dict) and when and set(when) <= {"backend", "profile"}, path, f"{at}.when",
                 "must name backend and/or profile")
        _require(when.get("backend", ANY_BACKEND[0]) in ANY_BACKEND, path, f"{at}.when.backend",
                 f"must be one of {', '.join(ANY_BACKEND)}")
        _require(isinstance(when.get("profile", ""), str), path, f"{at}.when.profile",
                 "must be a pattern of profile ids, such as 'gpu-*'")
        _require(isinstance(override["set"], dict) and set(override["set"]) <= required | optional, path,
                 f"{at}.set", f"may only set fields of kind {kind!r}")
        if not pending:  # what the override leaves must be as valid as the fields it replaces
            _check_kind_fields(kind, {**fields, **override["set"]}, path, f"{at}.set")
    name = item.get("name") or _default_name(kind, fields)
    return Expectation(kind, source, fields, name, item.get("why", ""), overrides)


def _is_number(value: Any) -> bool:
    """A finite int or float: NaN passes no comparison and an infinity every one, so neither bounds anything."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def all_finite(value: Any) -> bool:
    """No NaN or infinity anywhere in ``value`` (a number, or lists, tuples and objects of them)."""
    if isinstance(value, (list, tuple)):
        return all(all_finite(v) for v in value)
    if isinstance(value, dict):
        return all(all_finite(v) for v in value.values())
    return not isinstance(value, float) or math.isfinite(value)


def _check_kind_fields(kind: str, fields: dict[str, Any], path: Path, where: str) -> None:
    if kind == "exact":
        _require(all_finite(fields["value"]), path, f"{where}.value",
                 "holds NaN or an infinity, which no observed value equals")
    elif kind == "approx":
        _require(_is_number(fields["value"]), path, f"{where}.value", "must be a finite number")
        for tol in ("rtol", "atol"):
            _require(_is_number(fields.get(tol, 0)) and fields.get(tol, 0) >= 0, path, f"{where}.{tol}",
                     "must be a non-negative number")
    elif kind == "threshold":
        _require("min" in fields or "max" in fields, path, where, "a threshold needs min and/or max")
        for bound in ("min", "max", "margin"):
            _require(_is_number(fields.get(bound, 0)), path, f"{where}.{bound}", "must be a finite number")
        _require(fields.get("margin", 0) >= 0, path, f"{where}.margin", "must not be negative")
        _require(fields.get("min", -math.inf) <= fields.get("max", math.inf), path, where,
                 f"min {fields.get('min')} is above max {fields.get('max')}: no value could pass")
    elif kind in ("falls", "rises"):
        corr = fields.get("min_rank_corr", 0.5)
        _require(_is_number(corr) and 0 <= corr <= 1, path, f"{where}.min_rank_corr", "must be in [0, 1]")
        by = fields.get("by", 0)
        _require(_is_number(by) and 0 <= by < 1, path, f"{where}.by",
                 "must be a fraction in [0, 1): the relative change of the last third's mean from the first third's")
    elif kind == "best_epoch":
        _require(fields["mode"] in ("min", "max"), path, f"{where}.mode", "must be 'min' or 'max'")
        window = fields["window"]
        _require(isinstance(window, list) and len(window) == 2 and all(isinstance(w, int) for w in window)
                 and 1 <= window[0] <= window[1], path, f"{where}.window", "must be [first, last] epochs, 1-based")
        exclude_last = fields.get("exclude_last", 0)
        _require(isinstance(exclude_last, int) and exclude_last >= 0, path, f"{where}.exclude_last",
                 "must be a whole number of epochs")
    elif kind == "compare":
        _require(isinstance(fields["op"], str) and fields["op"] in COMPARE_OPS, path, f"{where}.op",
                 f"must be one of {sorted(COMPARE_OPS)}")
        by = fields.get("by", 0)
        _require(_is_number(by) and by >= 0, path, f"{where}.by", "must be a non-negative number")
        _require("by" not in fields or fields["op"] in ORDERING_OPS, path, f"{where}.by",
                 f"has no meaning for {fields['op']!r}: only {', '.join(ORDERING_OPS)} compare by a margin")
    elif kind == "beats_baseline":
        _require(_is_number(fields["margin"]) and fields["margin"] > 0, path, f"{where}.margin",
                 "must be a positive number: a model must beat the trivial predictor by something")
        _require(isinstance(fields.get("lower_is_better", False), bool), path, f"{where}.lower_is_better",
                 "must be true or false")


def _default_name(kind: str, fields: dict[str, Any]) -> str:
    if kind == "compare":
        return f"{fields['left']} {fields['op']} {fields['right']}"
    if kind == "beats_baseline":
        return f"{fields['path']} beats {fields['baseline']}"
    return f"{kind} {fields['path']}"
