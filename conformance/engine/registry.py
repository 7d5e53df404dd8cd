"""The registry of book examples, fed by the chapter modules of ``reference_impl``."""

from __future__ import annotations

import importlib
import pkgutil
import re

import reference_impl
from conformance import globs
from conformance.errors import ConformanceError
from reference_impl import datasets
from reference_impl.api import TIERS, BenchmarkSpec, ExampleSpec, registered_benchmarks, registered_examples

CHAPTER_MODULE = re.compile(r"^ch\d\d_\w+$")


class SelectionError(ConformanceError):
    pass


def import_chapters() -> None:
    """Import every chapter module, which registers its examples and benchmark models.
    Importing a chapter starts no framework but Keras's backend (TensorFlow is imported lazily)."""
    for module in pkgutil.iter_modules(reference_impl.__path__):
        if CHAPTER_MODULE.match(module.name):
            importlib.import_module(f"reference_impl.{module.name}")


def all_examples() -> dict[str, ExampleSpec]:
    """Every example, by id."""
    import_chapters()
    return dict(sorted(registered_examples().items()))


def all_benchmarks() -> dict[str, BenchmarkSpec]:
    """Every benchmark model, by name, in chapter order."""
    import_chapters()
    return dict(sorted(registered_benchmarks().items(), key=lambda item: (item[1].chapter, item[1].section)))


def select(patterns: str | list[str] | None) -> list[ExampleSpec]:
    """Examples whose id matches any of the glob ``patterns`` (comma-separated or a list)."""
    examples = all_examples()
    if not patterns:
        return list(examples.values())
    chosen = globs.split(patterns)
    unmatched = globs.unmatched(chosen, examples)
    if unmatched:
        raise SelectionError(f"no example matches {', '.join(unmatched)}; see 'python -m conformance list'")
    return [spec for id_, spec in examples.items() if globs.matches(id_, chosen)]


def tiers_of(spec: ExampleSpec) -> tuple[str, ...]:
    """Tiers this example can run in: ``offline`` needs an offline source for all its data."""
    offline = all(datasets.has_source(name, "offline") for name in spec.datasets)
    return tuple(t for t in TIERS if t != "offline" or offline)
