"""The fault catalogue (``faults.toml``, data) and planting one fault for the span of an example.

A fault wraps its target callables; the wrapper counts the calls it changed (``Tally.hits``), so
a report can tell a fault that no example exercised from one that examples exercised without a
check noticing. ``probed`` wraps the targets of many faults at once and changes nothing: it counts
the calls each fault would change, so a run without a fault tells which examples each one reaches.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from conformance import globs
from conformance.errors import ConformanceError, MalformedFile
from conformance.results import store
from conformance.toml_compat import tomllib

CATALOGUE = Path(__file__).with_name("faults.toml")
CHANGES = ("argument", "passthrough", "permute")
PERMUTATION_SEED = 0


@dataclass(frozen=True)
class Fault:
    id: str
    description: str
    targets: tuple[str, ...]
    change: str
    argument: str | None = None
    when: tuple[Any, ...] | None = None  # rewrite only these values (argument)
    becomes: Any = None
    unset: bool = False  # set the argument to None
    scale: float | None = None


@dataclass
class Tally:
    """How often the planted fault changed a call while it was in place."""

    hits: int = 0


def load_catalogue(path: Path = CATALOGUE) -> dict[str, Fault]:
    """The catalogue by fault id; a malformed entry raises ``MalformedFile`` naming it."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise MalformedFile(path, "(file)", f"cannot read the fault catalogue: {error}") from error
    entries = raw.get("fault")
    if not isinstance(entries, list) or not entries:
        raise MalformedFile(path, "fault", "must be a non-empty list of [[fault]] tables")
    catalogue: dict[str, Fault] = {}
    for index, entry in enumerate(entries):
        fault = _parse(entry, path, f"fault[{index}]")
        if fault.id in catalogue:
            raise MalformedFile(path, f"fault[{index}].id", f"duplicate id {fault.id!r}")
        catalogue[fault.id] = fault
    return catalogue


def check_targets(catalogue: dict[str, Fault], path: Path = CATALOGUE) -> None:
    """Every target of every fault names a callable that exists (Keras imported): a run probes the
    whole catalogue, so one misspelt target would break every example of the run without a fault."""
    for index, fault in enumerate(catalogue.values()):
        for target in fault.targets:
            try:
                _resolve(target)
            except ConformanceError as error:
                raise MalformedFile(path, f"fault[{index}].targets", str(error)) from error


def get(fault_id: str) -> Fault:
    """The catalogue's fault ``fault_id``; an unknown id is an error that lists the known ones."""
    catalogue = load_catalogue()
    if fault_id not in catalogue:
        raise ConformanceError(f"unknown fault {fault_id!r}; the catalogue has {', '.join(catalogue)}")
    return catalogue[fault_id]


def select(patterns: str | None, catalogue: dict[str, Fault] | None = None) -> list[Fault]:
    """The faults whose ids match any of the comma-separated globs (all when ``patterns`` is empty)."""
    catalogue = load_catalogue() if catalogue is None else catalogue
    if not patterns:
        return list(catalogue.values())
    chosen = globs.split(patterns)
    unmatched = globs.unmatched(chosen, catalogue)
    if unmatched:
        raise ConformanceError(f"no fault matches {', '.join(map(repr, unmatched))}; the catalogue has "
                               f"{', '.join(catalogue)}")
    return [fault for fault in catalogue.values() if globs.matches(fault.id, chosen)]


def _parse(entry: Any, path: Path, where: str) -> Fault:
    def need(condition: bool, name: str, problem: str) -> None:
        if not condition:
            raise MalformedFile(path, f"{where}.{name}", problem)

    need(isinstance(entry, dict), "(entry)", "must be a table")
    known = {"id", "description", "targets", "change", "argument", "when", "becomes", "unset", "scale"}
    unknown = sorted(set(entry) - known)
    need(not unknown, unknown[0] if unknown else "", f"unknown field; known: {', '.join(sorted(known))}")
    need(isinstance(entry.get("id"), str) and re.fullmatch(store.RUN_ID_PATTERN, entry["id"]) is not None, "id",
         "must be letters, digits, '.', '_', '+' and '-', starting with a letter or digit (it names the fault's run)")
    need(isinstance(entry.get("description"), str) and entry["description"], "description", "must say what breaks")
    targets = entry.get("targets")
    need(isinstance(targets, list) and targets and all(isinstance(t, str) and "." in t for t in targets),
         "targets", "must be a non-empty list of dotted paths such as 'keras.layers.Dense.__init__'")
    change = entry.get("change")
    need(change in CHANGES, "change", f"must be one of {', '.join(CHANGES)}")
    if change in ("argument", "permute"):
        need(isinstance(entry.get("argument"), str), "argument", f"a '{change}' fault names the argument it changes")
    if change == "argument":
        ways = [name for name in ("becomes", "unset", "scale") if name in entry]
        need(len(ways) == 1, "becomes", "an 'argument' fault needs exactly one of becomes, unset, scale")
        need(isinstance(entry.get("scale", 1.0), (int, float)), "scale", "must be a number")
        need(entry.get("unset", True) is True, "unset", "must be true when given")
    when = entry.get("when")
    need(when is None or isinstance(when, list), "when", "must be a list of values")
    return Fault(id=entry["id"], description=entry["description"], targets=tuple(targets), change=change,
                 argument=entry.get("argument"), when=tuple(when) if when is not None else None,
                 becomes=entry.get("becomes"), unset=bool(entry.get("unset", False)), scale=entry.get("scale"))


@contextlib.contextmanager
def planted(fault: Fault) -> Iterator[Tally]:
    """Every target of ``fault`` wrapped while the block runs, restored after it."""
    tally = Tally()
    with _patched({target: lambda original: _wrap(fault, original, tally) for target in fault.targets}):
        yield tally


@contextlib.contextmanager
def probed(catalogue: list[Fault]) -> Iterator[dict[str, Tally]]:
    """Every target of every fault observed while the block runs, changing nothing: per fault id,
    how many calls that fault would have changed. Restored after the block."""
    tallies = {fault.id: Tally() for fault in catalogue}
    watchers: dict[str, list[Fault]] = {}
    for fault in catalogue:
        for target in fault.targets:
            watchers.setdefault(target, []).append(fault)
    with _patched({target: functools.partial(_observe, watching, tallies=tallies)
                   for target, watching in watchers.items()}):
        yield tallies


@contextlib.contextmanager
def _patched(wrappers: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]]) -> Iterator[None]:
    """Each target replaced by ``wrappers[target](original)`` while the block runs, restored after."""
    restore: list[Callable[[], None]] = []
    try:
        for target, wrap in wrappers.items():
            owner, name = _resolve(target)
            original = getattr(owner, name)
            had_own = name in vars(owner)
            setattr(owner, name, wrap(original))
            restore.append(functools.partial(setattr, owner, name, original) if had_own
                           else functools.partial(delattr, owner, name))
        yield
    finally:
        for undo in reversed(restore):
            undo()


def _observe(watchers: list[Fault], original: Callable[..., Any], *, tallies: dict[str, Tally]) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def observed(*args: Any, **kwargs: Any) -> Any:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            bound = None  # the call itself is wrong: let the original say so
        if bound is not None:
            bound.apply_defaults()
            for fault in watchers:
                if _would_change(fault, bound):
                    tallies[fault.id].hits += 1
        return original(*args, **kwargs)

    observed.__signature__ = signature  # type: ignore[attr-defined]
    return observed


def _would_change(fault: Fault, bound: inspect.BoundArguments) -> bool:
    if fault.change == "passthrough":
        return True
    arguments, key = _slot(bound, fault.argument)  # the observer's own binding: the call is not touched
    if arguments is None:
        return False
    value = arguments.get(key)
    if fault.change == "permute":
        return _permutable(value)
    return _change(fault, value) is not _UNCHANGED


def _resolve(target: str) -> tuple[Any, str]:
    """``'keras.layers.Dense.__init__'`` → (the Dense class, ``'__init__'``)."""
    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for part in parts[cut:-1]:
                owner = getattr(owner, part)
        except AttributeError as error:
            raise ConformanceError(f"fault target {target!r} does not exist: {error}") from error
        if not hasattr(owner, parts[-1]):
            raise ConformanceError(f"fault target {target!r} does not exist")
        return owner, parts[-1]
    raise ConformanceError(f"fault target {target!r} names no importable module")


def _wrap(fault: Fault, original: Callable[..., Any], tally: Tally) -> Callable[..., Any]:
    if fault.change == "passthrough":
        @functools.wraps(original)
        def passthrough(self: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
            tally.hits += 1
            return inputs
        passthrough.__signature__ = inspect.signature(original)  # type: ignore[attr-defined]
        return passthrough

    signature = inspect.signature(original)

    @functools.wraps(original)
    def rewritten(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments, key = _slot(bound, fault.argument)
        if arguments is not None:
            value = arguments.get(key)
            changed = _change(fault, value)
            if changed is not _UNCHANGED:
                arguments[key] = changed
                tally.hits += 1
        return original(*bound.args, **bound.kwargs)

    rewritten.__signature__ = signature  # type: ignore[attr-defined]  # Keras reads constructors' argspecs
    return rewritten


_UNCHANGED = object()


def _slot(bound: inspect.BoundArguments, argument: str | None) -> tuple[dict[str, Any] | None, str]:
    """Where ``argument`` lives in the bound call: a named parameter, or the ``**kwargs`` dict
    (``trainable`` reaches ``Layer.__init__`` that way)."""
    parameters = bound.signature.parameters
    if argument in parameters and parameters[argument].kind is not inspect.Parameter.VAR_KEYWORD:
        return bound.arguments, argument
    var_keyword = next((p.name for p in parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD), None)
    if var_keyword is None:
        return None, ""
    return bound.arguments.setdefault(var_keyword, {}), argument or ""


def _change(fault: Fault, value: Any) -> Any:
    if fault.change == "permute":
        if not _permutable(value):
            return _UNCHANGED  # a dataset or generator carries its own targets: out of this fault's reach
        return value[np.random.RandomState(PERMUTATION_SEED).permutation(len(value))]
    if fault.when is not None and not any(_same(value, w) for w in fault.when):
        return _UNCHANGED
    if fault.unset:
        return None if value is not None else _UNCHANGED
    if fault.scale is not None:
        return value * fault.scale if isinstance(value, (int, float)) and not isinstance(value, bool) else _UNCHANGED
    return fault.becomes if not _same(value, fault.becomes) else _UNCHANGED


def _permutable(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.ndim > 0 and len(value) >= 2


def _same(value: Any, other: Any) -> bool:
    return type(value) is type(other) and value == other
