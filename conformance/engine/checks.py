"""Outcome × expectation → verdict.

Paths address an Outcome's JSON form: ``models.model.params``, ``history.fit.val_loss``,
``values.test_acc``, ``values.grad_shapes[0]``. A suffix ``:first``, ``:last``, ``:min``,
``:max``, ``:len`` reduces a list; ``:min`` and ``:max`` of a list holding NaN or an infinity are
NaN, so the best epoch of a run that diverged later does not stand in for the run.

NaN passes nothing: every kind fails on a non-finite number. Beyond the golden file's expectations,
every tier of every example is judged by one rule of the engine's own: each per-epoch series of
each recorded training history is finite (``finite_histories``). A diverged run can keep a finite
accuracy (NaN weights answer one class) or a finite best epoch from before it diverged; its
losses cannot.

Kinds:
  exact      actual == value (numbers, strings, bools, shapes, lists and objects of them); a
             bool is not a number, and NaN or an infinity anywhere fails
  approx     |actual - value| <= atol + rtol * |value|
  threshold  min <= actual <= max (either bound optional)
  falls      a per-epoch series ends below where it starts and its Spearman rank
             correlation with the epoch is <= -min_rank_corr (default 0.5)
  rises      the mirror image of falls
  best_epoch the 1-based epoch of the series' min (or max) lies inside window
  compare    left op right: <, <=, >, >= order two finite numbers, at least ``by`` apart when
             ``by`` is given (a list, bool or string operand fails); == and != compare as exact
             does, without ``by``
  beats_baseline
             the metric at ``path`` is better than the trivial predictor's score at ``baseline``
             (majority class, class prior, mean target …, computed by the example on the same
             held-out split) by at least ``margin``: higher, or lower with ``lower_is_better``
"""

from __future__ import annotations

import math
import operator
import re
from typing import Any, Callable

from scipy import stats

from conformance.engine.golden import Expectation, Golden, all_finite
from conformance.results.records import CheckVerdict


def _non_finite_poisons(pick: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
    """``min`` or ``max`` that answers NaN when any element is NaN or infinite, where Python's
    own would skip a NaN past the first element."""
    return lambda xs: math.nan if any(_non_finite(x) for x in xs) else pick(xs)


_REDUCERS: dict[str, Callable[[list[Any]], Any]] = {
    "first": lambda xs: xs[0],
    "last": lambda xs: xs[-1],
    "min": _non_finite_poisons(min),
    "max": _non_finite_poisons(max),
    "len": len,
}
_ORDERINGS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_EQUALITY_OPS = ("==", "!=")
_INDEX = re.compile(r"^(?P<key>[^\[\]]+)((?:\[-?\d+\])*)$")


class MissingObservation(Exception):
    pass


def resolve(observed: dict[str, Any], path: str) -> Any:
    """The value at ``path`` in an Outcome's JSON form."""
    path, _, reducer = path.partition(":")
    value: Any = observed
    for part in path.split("."):
        match = _INDEX.match(part)
        if not match:
            raise MissingObservation(f"malformed path segment {part!r} in {path!r}")
        key = match.group("key")
        if not isinstance(value, dict) or key not in value:
            known = ", ".join(sorted(value)) if isinstance(value, dict) else type(value).__name__
            raise MissingObservation(f"nothing observed at {path!r}: no {key!r} (have: {known})")
        value = value[key]
        for index in re.findall(r"\[(-?\d+)\]", part):
            value = _indexed(value, int(index), path)
    if reducer:
        if reducer not in _REDUCERS:
            raise MissingObservation(f"unknown reducer ':{reducer}' (known: {', '.join(_REDUCERS)})")
        if not isinstance(value, list) or not value:
            raise MissingObservation(f"':{reducer}' needs a non-empty list at {path!r}, got {value!r}")
        value = _REDUCERS[reducer](value)
    return value


def _indexed(value: Any, index: int, path: str) -> Any:
    """Element ``index`` of a list: a string, a number or an object has no elements to index (a
    path ending ``values.s[0]`` would otherwise answer the first character of a string)."""
    if not isinstance(value, (list, tuple)):
        raise MissingObservation(f"nothing observed at {path!r}: [{index}] indexes a list, and this is "
                                 f"{type(value).__name__} {_short(value)}")
    if not -len(value) <= index < len(value):
        raise MissingObservation(f"nothing observed at {path!r}: index {index} out of range "
                                 f"(the list has {len(value)})")
    return value[index]


def evaluate(expectation: Expectation, observed: dict[str, Any], source: str) -> CheckVerdict:
    """Judge one expectation (overrides already resolved) against an Outcome's JSON form."""
    f = expectation.fields
    try:
        passed, expected, actual, detail = _JUDGES[expectation.kind](f, observed)
    except MissingObservation as missing:
        passed, expected, actual, detail = False, _describe(expectation), None, str(missing)
    except (TypeError, ValueError) as error:
        passed, expected, actual, detail = False, _describe(expectation), None, f"cannot compare: {error}"
    status = "passed" if passed else "failed"
    message = f"{expectation.name}: {status}; expected {expected}, actual {_short(actual)}"
    if detail:
        message += f" ({detail})"
    message += f" [source: {source}]"
    if not passed and expectation.why:
        message += f" [why this bound: {expectation.why}]"
    return CheckVerdict(expectation.name, expectation.kind, status, expected, actual, source, message)


def judge_tier(golden: Golden, tier: str, observed: dict[str, Any], *, backend: str,
               profile_id: str) -> tuple[CheckVerdict, ...]:
    """Every expectation of ``golden`` for ``tier``, with the overrides of ``backend`` and
    ``profile_id``, judged against one outcome, then the engine's rule that its training
    histories are finite (where it recorded any)."""
    verdicts = tuple(evaluate(e.resolved(backend=backend, profile_id=profile_id), observed,
                              golden.describe_source(e.source))
                     for e in golden.expectations_for(tier))
    finite = finite_histories(observed)
    return verdicts + ((finite,) if finite else ())


FINITE_HISTORIES = "every training history is finite"


def finite_histories(observed: dict[str, Any]) -> CheckVerdict | None:
    """The engine's own check, in every tier: no per-epoch value of any recorded history is NaN or
    infinite. None where the outcome records no history."""
    histories = observed.get("history") or {}
    if not histories:
        return None
    broken = [f"history.{name}.{metric} at epoch{'s' if len(epochs) > 1 else ''} {', '.join(map(str, epochs))}"
              for name, series in histories.items() for metric, values in series.items()
              if (epochs := [i + 1 for i, v in enumerate(values) if _non_finite(v)])]
    status = "failed" if broken else "passed"
    expected = "no NaN or infinity in any recorded training history"
    source = "engine rule: a diverged run fails, whatever its accuracy or best epoch (conformance/engine/checks.py)"
    message = f"{FINITE_HISTORIES}: {status}; expected {expected}"
    if broken:
        message += f", actual non-finite values in {'; '.join(broken)}"
    message += f" [source: {source}]"
    return CheckVerdict(FINITE_HISTORIES, "finite", status, expected, broken, source, message)


def _describe(expectation: Expectation) -> str:
    return f"{expectation.kind} {expectation.fields}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{path} is {value!r}, not a number")
    return float(value)


def _finite_number(value: Any, path: str) -> float:
    """``value`` as a float; a ValueError where it is NaN or an infinity, which order nothing."""
    number = _number(value, path)
    if not math.isfinite(number):
        raise ValueError(f"{path} is {number!r}: NaN and infinities pass no comparison")
    return number


def _require_finite(value: Any, path: str) -> None:
    """A ValueError where ``value`` holds NaN or an infinity anywhere (in a list or a dict too)."""
    if not all_finite(value):
        raise ValueError(f"{path} holds NaN or an infinity: {_short(value)}")


def _same(actual: Any, expected: Any) -> bool:
    """Equality of JSON values where a bool is no number (``True`` is not ``1``), an int equals the
    float of its value, and a list equals a tuple of the same elements."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    if isinstance(actual, (int, float)) and isinstance(expected, (int, float)):
        return actual == expected
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)):
        return len(actual) == len(expected) and all(_same(a, e) for a, e in zip(actual, expected))
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(_same(actual[k], expected[k]) for k in actual)
    return type(actual) is type(expected) and actual == expected


def _series(value: Any, path: str) -> list[float]:
    if not isinstance(value, list) or len(value) < 2:
        raise TypeError(f"{path} must be a per-epoch series of at least 2 values, got {value!r}")
    return [_number(v, path) for v in value]


def _exact(f: dict[str, Any], observed: dict[str, Any]) -> tuple[bool, str, Any, str]:
    actual = resolve(observed, f["path"])
    _require_finite(actual, f["path"])
    _require_finite(f["value"], "the expected value")
    return _same(actual, f["value"]), f"{f['path']} == {f['value']!r}", actual, ""


def _approx(f: dict[str, Any], observed: dict[str, Any]) -> tuple[bool, str, Any, str]:
    actual = _number(resolve(observed, f["path"]), f["path"])
    rtol, atol = f.get("rtol", 0.0), f.get("atol", 0.0)
    tolerance = atol + rtol * abs(f["value"])
    ok = math.isfinite(actual) and abs(actual - f["value"]) <= tolerance
    return ok, f"{f['path']} == {f['value']} ± {tolerance:.4g}", actual, f"off by {actual - f['value']:+.4g}"


def _threshold(f: dict[str, Any], observed: dict[str, Any]) -> tuple[bool, str, Any, str]:
    actual = _number(resolve(observed, f["path"]), f["path"])
    low, high = f.get("min", -math.inf), f.get("max", math.inf)
    ok = math.isfinite(actual) and low <= actual <= high
    bounds = " and ".join(
        part for part in (f">= {low}" if "min" in f else "", f"<= {high}" if "max" in f else "") if part
    )
    return ok, f"{f['path']} {bounds}", actual, ""


def _monotone(sign: int) -> Callable[[dict[str, Any], dict[str, Any]], tuple[bool, str, Any, str]]:
    """``falls`` / ``rises``: every value finite, the last beyond the first, the rank correlation
    with the epoch at least ``min_rank_corr`` (the shape of the trend) and, with ``by``, the mean
    of the last third of the epochs beyond the mean of the first third by that fraction of it
    (the size of the trend: a loss that creeps from 0.6932 to 0.6930 falls steadily but learns
    nothing)."""
    word = "falls" if sign < 0 else "rises"

    def judge(f: dict[str, Any], observed: dict[str, Any]) -> tuple[bool, str, Any, str]:
        series = _series(resolve(observed, f["path"]), f["path"])
        min_corr, by = f.get("min_rank_corr", 0.5), f.get("by", 0)
        if len(set(series)) == 1:
            corr = 0.0
        else:
            corr = float(stats.spearmanr(range(len(series)), series).statistic)
        third = max(1, len(series) // 3)
        head, tail = sum(series[:third]) / third, sum(series[-third:]) / third
        change = (tail - head) / abs(head) if head else math.copysign(math.inf, tail - head)
        ends_right = (series[-1] < series[0]) if sign < 0 else (series[-1] > series[0])
        ok = (all(math.isfinite(v) for v in series) and ends_right and sign * corr >= min_corr
              and sign * change >= by)
        expected = (
            f"{f['path']} {word}: last {'<' if sign < 0 else '>'} first and rank correlation "
            f"with epoch {'<=' if sign < 0 else '>='} {sign * min_corr:+g}"
        )
        if by:
            expected += f" and last third's mean {'below' if sign < 0 else 'above'} the first third's by {by:.0%}"
        detail = (f"first {series[0]:.4g}, last {series[-1]:.4g}, rank correlation {corr:+.2f}, "
                  f"last third's mean {change:+.1%} from the first third's")
        return ok, expected, series, detail

    return judge


def _best_epoch(f: dict[str, Any], observed: dict[str, Any]) -> tuple[bool, str, Any, str]:
    """The 1-based epoch of the series' best value lies in ``window`` and, with ``exclude_last``,
    at least that many epochs before the run's end: where the book says a model overfits, a
    model that never does (its best at the last epoch) must fail whatever the window says."""
    series = _series(resolve(observed, f["path"]), f["path"])
    pick = min if f["mode"] == "min" else max
    if not all(math.isfinite(v) for v in series):
        raise ValueError(f"{f['path']} holds NaN or an infinity: a run that diverged has no best epoch")
    epoch = series.index(pick(series)) + 1
    first, last = f["window"]
    exclude_last = f.get("exclude_last", 0)
    latest = min(last, len(series) - exclude_last)
    expected = f"{f['mode']} of {f['path']} in epochs {first}–{last}"
    if exclude_last:
        expected += f", not in the last {exclude_last} of the run"
    detail = f"{f['mode']} {pick(series):.4g} at epoch {epoch} of {len(series)}"
    return first <= epoch <= latest, expected, epoch, detail


def _compare(f: dict[str, Any], observed: dict[str, Any]) -> tuple[bool, str, Any, str]:
    """``left op right``. An ordering (``<``, ``<=``, ``>``, ``>=``) compares two finite numbers,
    ``by`` apart when given; a list, a bool, a string or a non-finite number fails it, where
    Python would order lists element by element and let a NaN in them through. ``==`` and ``!=``
    compare values as ``exact`` does and take no ``by``."""
    left, right = resolve(observed, f["left"]), resolve(observed, f["right"])
    op = f["op"]
    if op in _EQUALITY_OPS:
        if "by" in f:
            raise ValueError(f"'by' has no meaning for {op!r}: only <, <=, > and >= compare by a margin")
        _require_finite(left, f["left"])
        _require_finite(right, f["right"])
        ok = _same(left, right) == (op == "==")
        return ok, f"{f['left']} {op} {f['right']}", {"left": left, "right": right}, ""
    left_n, right_n = _finite_number(left, f["left"]), _finite_number(right, f["right"])
    by = f.get("by", 0)
    shifted = right_n - by if op in ("<", "<=") else right_n + by
    expected = f"{f['left']} {op} {f['right']}" + (f" by at least {by}" if by else "")
    return bool(_ORDERINGS[op](left_n, shifted)), expected, {"left": left, "right": right}, ""


def _non_finite(value: Any) -> bool:
    """NaN and infinities never pass a comparison, whichever way it points."""
    return isinstance(value, float) and not math.isfinite(value)


def _beats_baseline(f: dict[str, Any], observed: dict[str, Any]) -> tuple[bool, str, Any, str]:
    actual = _number(resolve(observed, f["path"]), f["path"])
    baseline = _number(resolve(observed, f["baseline"]), f["baseline"])
    lower = f.get("lower_is_better", False)
    bound = baseline - f["margin"] if lower else baseline + f["margin"]
    ok = math.isfinite(actual) and math.isfinite(baseline) and (actual <= bound if lower else actual >= bound)
    expected = f"{f['path']} {'<=' if lower else '>='} {f['baseline']} {'-' if lower else '+'} {f['margin']}"
    return ok, expected, actual, f"trivial baseline {baseline:.4g}, bound {bound:.4g}"


_JUDGES: dict[str, Callable[[dict[str, Any], dict[str, Any]], tuple[bool, str, Any, str]]] = {
    "exact": _exact,
    "approx": _approx,
    "threshold": _threshold,
    "falls": _monotone(-1),
    "rises": _monotone(+1),
    "best_epoch": _best_epoch,
    "compare": _compare,
    "beats_baseline": _beats_baseline,
}
