"""Comma-separated glob patterns, as every option that picks examples, models or faults takes them."""

from __future__ import annotations

import fnmatch
from typing import Iterable


def split(patterns: str | list[str] | None) -> list[str]:
    """The globs of ``'ch02*, ch03_simple*'`` (or a list of them); none for an empty or missing option."""
    if not patterns:
        return []
    parts = patterns.split(",") if isinstance(patterns, str) else patterns
    return [p.strip() for p in parts if p.strip()]


def matches(name: str, globs: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, g) for g in globs)


def unmatched(globs: list[str], names: Iterable[str]) -> list[str]:
    """The globs that match none of ``names``: a typo the user should hear about, not an empty selection."""
    names = list(names)
    return [g for g in globs if not any(fnmatch.fnmatchcase(n, g) for n in names)]
