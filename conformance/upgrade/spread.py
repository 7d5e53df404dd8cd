"""When has a metric moved between two stacks? When it moved by more than it varies with the seed.

Each side runs the same examples on the same seeds. A metric's **seed range** on a side is its
largest value less its smallest over the seeds; the **change** is the difference of the two
sides' means. The rule (:data:`MOVED_RULE`, printed by ``--help`` and by every report):

* ``moved`` when |change| is larger than both sides' seed ranges and larger than a millionth of
  the metric's size (so that float round-off between two builds of the same kernel is not a move);
* ``unjudged`` when a side has a single seed (no range to judge by) and the values differ: listed,
  not called;
* ``steady`` otherwise.

Why ranges and not a t-test: with three seeds a side, a t-test's variance estimate is itself very
noisy, and it divides by zero for metrics that do not depend on the seed (parameter counts), where
any change is real. A change beyond everything either stack did on any seed is a plain statement
that needs no distribution.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Sequence

RELATIVE_FLOOR = 1e-6
MOVED_RULE = ("A metric moved when the difference of its means over the seeds is larger than the seed range "
              "(largest less smallest value over the seeds) of each side, and larger than a millionth of its size; "
              "with a single seed a side there is no range to judge by, and a difference is listed as unjudged, "
              "not called moved.")
MOVED, STEADY, UNJUDGED = "moved", "steady", "unjudged"


@dataclass(frozen=True)
class Movement:
    before: tuple[float, ...]
    after: tuple[float, ...]

    @property
    def finite(self) -> bool:
        return all(math.isfinite(v) for v in self.before + self.after)

    @property
    def mean_before(self) -> float:
        return statistics.fmean(self.before)

    @property
    def mean_after(self) -> float:
        return statistics.fmean(self.after)

    @property
    def change(self) -> float:
        return self.mean_after - self.mean_before

    @property
    def relative_change(self) -> float | None:
        return self.change / abs(self.mean_before) if self.mean_before else None

    @property
    def spread(self) -> float:
        """The larger of the two sides' seed ranges."""
        return max(max(self.before) - min(self.before), max(self.after) - min(self.after))

    @property
    def verdict(self) -> str:
        if not self.finite:  # a loss that became NaN moved; two NaN runs did not
            return STEADY if sorted(map(repr, self.before)) == sorted(map(repr, self.after)) else MOVED
        floor = RELATIVE_FLOOR * max(abs(self.mean_before), abs(self.mean_after))
        if abs(self.change) <= floor:
            return STEADY
        if min(len(self.before), len(self.after)) < 2:
            return UNJUDGED
        return MOVED if abs(self.change) > self.spread else STEADY

    def describe(self) -> str:
        if not self.finite:
            return f"{list(self.before)} → {list(self.after)}"
        seeds = f"{len(self.before)} vs {len(self.after)} seeds"
        relative = f" ({self.relative_change:+.1%})" if self.relative_change is not None else ""
        return (f"mean {self.mean_before:.4g} → {self.mean_after:.4g}, change {self.change:+.4g}{relative}; "
                f"seed range {self.spread:.4g} ({seeds})")


def movement(before: Sequence[float], after: Sequence[float]) -> Movement:
    if not before or not after:
        raise ValueError("each side needs at least one value")
    return Movement(tuple(float(v) for v in before), tuple(float(v) for v in after))
