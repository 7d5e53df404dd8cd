"""The book's datasets, each from three sources behind one call.

* ``real``    — the book's own files, through the checked cache (the ``book`` tier);
* ``offline`` — genuine data that a package ships, or an honest substitute for it
  (the ``offline`` tier, for machines without internet);
* ``twin``    — a learnable, deterministic synthetic twin in the real layout (``smoke``).

Every load returns the value in the layout the book's code expects, plus its
provenance, which the run records so a result always says what it trained on.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable

from reference_impl.api import DatasetUnavailable

TIER_SOURCES = {"smoke": "twin", "offline": "offline", "book": "real"}

# A dataset is the module of its name in this package, holding real(), twin() and,
# where real data ships in a package, offline().
_NOT_DATASETS = {"cache"}


@dataclass
class Loaded:
    value: Any
    provenance: dict[str, Any]


def provenance(source: str, kind: str, description: str, **facts: Any) -> dict[str, Any]:
    """``kind`` is ``genuine`` (the book's data or an exact part of it), ``substitute``
    (real data of another origin) or ``synthetic`` (a twin)."""
    return {"source": source, "kind": kind, "description": description, **facts}


def names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_DATASETS)


def _module(name: str) -> Any:
    if name not in names():
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(names())}")
    return importlib.import_module(f"{__name__}.{name}")


def has_source(name: str, source: str) -> bool:
    return callable(getattr(_module(name), source, None))


def source_loader(name: str, source: str) -> Callable[..., Loaded]:
    loader = getattr(_module(name), source, None)
    if loader is None:
        raise DatasetUnavailable(f"dataset {name!r} has no {source} source")
    return loader


def load(name: str, *, tier: str, seed: int, samples: float = 1.0, **options: Any) -> Loaded:
    """Load ``name`` from the source that ``tier`` uses."""
    source = TIER_SOURCES[tier]
    loader = source_loader(name, source)
    if source == "twin":
        return loader(seed=seed, samples=samples, **options)
    if source == "offline":
        return loader(seed=seed, **options)
    return loader(**options)
