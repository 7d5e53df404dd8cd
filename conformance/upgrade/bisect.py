"""The search: the first version, in order, whose behaviour differs from the oldest one's.

Pure logic over an ordered list of candidate versions, each with the reason it cannot be installed
(``None`` when it can), an ``observe`` function (version → observation; it raises
:class:`Unobservable` when an install fails) and a ``same`` predicate (reference, observation →
bool). Nothing here knows about environments or the registry; the tests drive it with fakes.

1. Observe both ends. The oldest version's observation is the reference. When the newest behaves
   the same, there is nothing to find (the change, if any, is not between them).
2. Bisect the versions between the last one that behaves like the reference and the first that
   does not, observing the untried, installable version nearest the middle: ``2 + ⌈log2 n⌉``
   environments for ``n`` versions. A version the listing already marks uninstallable is never
   tried; one whose install fails is skipped, with pip's reason, and its neighbour is tried instead.
3. The answer is the first version that differs. When the versions between it and the last same one
   could not be installed, the change came with one of them or with it: the result says so
   (``ambiguous``) and lists them.

This assumes one change in the range (a verdict that flips back and forth finds one of the flips).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Generic, Sequence, TypeVar

from conformance.errors import ConformanceError

V = TypeVar("V")  # a version
T = TypeVar("T")  # what observing one version gives

FOUND, NO_CHANGE, AMBIGUOUS = "found", "no change", "ambiguous"


class Unobservable(Exception):
    """Observing a version failed for a reason that is not the version's behaviour (pip cannot install
    it, or its runs left no results); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Step(Generic[V, T]):
    version: V
    observation: T | None = None
    same: bool | None = None  # as the reference (None: not observed)
    skipped: str | None = None  # why it was not observed


@dataclass
class Result(Generic[V, T]):
    versions: list[V]
    steps: list[Step[V, T]] = field(default_factory=list)  # in the order they were taken
    outcome: str = NO_CHANGE
    first_changed: V | None = None
    last_same: V | None = None
    untested_between: list[V] = field(default_factory=list)  # could not be installed, between the two above

    @property
    def environments(self) -> int:
        return sum(1 for s in self.steps if s.observation is not None)


def search(candidates: Sequence[tuple[V, str | None]], observe: Callable[[V], T], same: Callable[[T, T], bool],
           *, on_step: Callable[[Step[V, T]], None] | None = None) -> Result[V, T]:
    """Find the first candidate whose observation is not ``same`` as the first candidate's."""
    if len(candidates) < 2:
        raise ConformanceError("bisecting needs at least two versions")
    versions = [v for v, _ in candidates]
    result: Result[V, T] = Result(versions)

    def record(step: Step[V, T]) -> Step[V, T]:
        result.steps.append(step)
        if on_step:
            on_step(step)
        return step

    for (version, reason), end in ((candidates[0], "oldest"), (candidates[-1], "newest")):
        if reason:
            raise ConformanceError(f"the {end} version {version} cannot be installed here: {reason}")
    for version, reason in candidates[1:-1]:
        if reason:
            record(Step(version, skipped=reason))
    usable = [v for v, reason in candidates if not reason]

    def observed(version: V, end: str) -> T:
        try:
            return observe(version)
        except Unobservable as error:
            raise ConformanceError(f"the {end} version {version} cannot be observed here: {error.reason}") from error

    reference = observed(usable[0], "oldest")
    record(Step(usable[0], reference, same=True))
    newest = observed(usable[-1], "newest")
    record(Step(usable[-1], newest, same=same(reference, newest)))
    if same(reference, newest):
        return result
    low, high, failed = 0, len(usable) - 1, set()
    while True:
        inner = [i for i in range(low + 1, high) if i not in failed]
        if not inner:
            break
        middle = (low + high) / 2
        index = min(inner, key=lambda i: (abs(i - middle), i))
        try:
            observation = observe(usable[index])
        except Unobservable as error:
            failed.add(index)
            record(Step(usable[index], skipped=error.reason))
            continue
        alike = same(reference, observation)
        record(Step(usable[index], observation, same=alike))
        if alike:
            low = index
        else:
            high = index
    result.first_changed, result.last_same = usable[high], usable[low]
    first, last = versions.index(usable[low]), versions.index(usable[high])
    result.untested_between = versions[first + 1:last]
    result.outcome = AMBIGUOUS if result.untested_between else FOUND
    return result
