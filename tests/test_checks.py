"""Every check kind passes on a matching outcome and fails, with a readable message, on a broken one."""

import math

import pytest

from conformance.engine import golden
from conformance.engine.checks import FINITE_HISTORIES, MissingObservation, evaluate, judge_tier, resolve
from conformance.engine.golden import Expectation

OUTCOME = {
    "models": {"model": {"params": 407050, "output_shape": [None, 10]}},
    "history": {"fit": {"loss": [1.0, 0.6, 0.4, 0.3, 0.25], "val_loss": [0.9, 0.5, 0.45, 0.5, 0.6],
                        "shuffled_val_loss": [2.3, 2.4, 2.6, 2.5, 2.9], "flat": [0.5, 0.5, 0.5],
                        "creeping": [0.6932, 0.6931, 0.6931, 0.6930, 0.6930, 0.6929],
                        "never_overfits": [0.9, 0.7, 0.6, 0.55, 0.52], "diverged": [2.3, float("nan"), float("nan")]}},
    "values": {"test_acc": 0.88, "zeros_acc": 0.97, "noise_acc": 0.95, "shapes": [[2, 2], [2]], "label": 7,
               "nan_acc": float("nan")},
}


def check(kind, **fields):
    return evaluate(Expectation(kind, "book", fields, name=f"{kind} check", why="because the book says so"),
                    OUTCOME, "book §4.1.4: printed 88% (x.json)")


@pytest.mark.parametrize("kind, passing, failing", [
    ("exact", {"path": "models.model.params", "value": 407050}, {"path": "models.model.params", "value": 407051}),
    ("exact", {"path": "values.shapes[1]", "value": [2]}, {"path": "values.shapes[0]", "value": [2]}),
    ("approx", {"path": "values.test_acc", "value": 0.883, "atol": 0.005},
     {"path": "values.test_acc", "value": 0.90, "atol": 0.005}),
    ("approx", {"path": "values.test_acc", "value": 0.9, "rtol": 0.03}, {"path": "values.test_acc", "value": 0.9, "rtol": 0.01}),
    ("threshold", {"path": "values.test_acc", "min": 0.85}, {"path": "values.test_acc", "min": 0.9}),
    ("threshold", {"path": "history.fit.loss:last", "max": 0.3}, {"path": "history.fit.loss:last", "max": 0.2}),
    ("threshold", {"path": "values.test_acc", "min": 0.8, "max": 0.9}, {"path": "values.test_acc", "min": 0.8, "max": 0.85}),
    ("falls", {"path": "history.fit.loss", "min_rank_corr": 0.9}, {"path": "history.fit.val_loss", "min_rank_corr": 0.9}),
    ("falls", {"path": "history.fit.loss", "by": 0.5}, {"path": "history.fit.loss", "by": 0.8}),
    ("rises", {"path": "history.fit.shuffled_val_loss", "min_rank_corr": 0.8}, {"path": "history.fit.loss"}),
    ("rises", {"path": "history.fit.shuffled_val_loss", "by": 0.2}, {"path": "history.fit.shuffled_val_loss", "by": 0.3}),
    ("best_epoch", {"path": "history.fit.val_loss", "mode": "min", "window": [2, 3]},
     {"path": "history.fit.val_loss", "mode": "min", "window": [4, 5]}),
    ("best_epoch", {"path": "history.fit.val_loss", "mode": "min", "window": [2, 5], "exclude_last": 2},
     {"path": "history.fit.never_overfits", "mode": "min", "window": [2, 5], "exclude_last": 2}),
    ("compare", {"left": "values.noise_acc", "op": "<", "right": "values.zeros_acc"},
     {"left": "values.noise_acc", "op": ">", "right": "values.zeros_acc"}),
    ("compare", {"left": "values.noise_acc", "op": "<", "right": "values.zeros_acc", "by": 0.01},
     {"left": "values.noise_acc", "op": "<", "right": "values.zeros_acc", "by": 0.05}),
])
def test_each_kind_passes_and_fails(kind, passing, failing):
    assert check(kind, **passing).status == "passed", check(kind, **passing).message
    verdict = check(kind, **failing)
    assert verdict.status == "failed"
    assert verdict.message.startswith(f"{kind} check: failed; expected ")
    assert "actual" in verdict.message and "source: book §4.1.4" in verdict.message


def test_failure_message_shows_expected_actual_source_and_reasoning():
    verdict = check("threshold", path="values.test_acc", min=0.9)
    assert verdict.expected == "values.test_acc >= 0.9"
    assert verdict.actual == 0.88
    assert "actual 0.88" in verdict.message
    assert "why this bound: because the book says so" in verdict.message


def test_falls_rejects_a_flat_series():
    assert check("falls", path="history.fit.flat").status == "failed"


def test_best_epoch_reports_the_epoch_it_found():
    verdict = check("best_epoch", path="history.fit.val_loss", mode="min", window=[4, 5])
    assert verdict.actual == 3
    assert "at epoch 3 of 5" in verdict.message


def test_threshold_fails_on_nan():
    outcome = {"values": {"loss": float("nan")}}
    verdict = evaluate(Expectation("threshold", "book", {"path": "values.loss", "max": 1.0}, "nan"), outcome, "s")
    assert verdict.status == "failed"


def test_missing_observation_is_a_failure_that_names_the_path():
    verdict = check("exact", path="values.nonexistent", value=1)
    assert verdict.status == "failed"
    assert "nothing observed at 'values.nonexistent'" in verdict.message
    assert "test_acc" in verdict.message  # says what was observed instead


def test_non_numeric_comparison_fails_instead_of_raising():
    verdict = check("threshold", path="values.shapes", min=1)
    assert verdict.status == "failed" and "not a number" in verdict.message


def test_resolve_reducers_and_indexes():
    assert resolve(OUTCOME, "history.fit.loss:first") == 1.0
    assert resolve(OUTCOME, "history.fit.loss:min") == 0.25
    assert resolve(OUTCOME, "history.fit.loss:len") == 5
    assert resolve(OUTCOME, "history.fit.loss[-2]") == 0.3
    with pytest.raises(MissingObservation, match="unknown reducer"):
        resolve(OUTCOME, "history.fit.loss:median")


def test_falls_with_a_size_rejects_a_loss_that_creeps_down_without_learning():
    assert check("falls", path="history.fit.creeping", min_rank_corr=0.9).status == "passed"  # shape alone is fooled
    verdict = check("falls", path="history.fit.creeping", min_rank_corr=0.9, by=0.05)
    assert verdict.status == "failed"
    assert "last third's mean -0.0% from the first third's" in verdict.message


def test_best_epoch_excluding_the_last_epochs_fails_a_model_that_never_overfits():
    assert check("best_epoch", path="history.fit.never_overfits", mode="min", window=[1, 5]).status == "passed"
    verdict = check("best_epoch", path="history.fit.never_overfits", mode="min", window=[1, 5], exclude_last=1)
    assert verdict.status == "failed"
    assert "not in the last 1 of the run" in verdict.message


@pytest.mark.parametrize("kind, fields", [
    ("threshold", {"path": "values.nan_acc", "max": 0.5}),
    ("threshold", {"path": "values.nan_acc", "min": 0.1}),
    ("approx", {"path": "values.nan_acc", "value": 0.5, "atol": 1.0}),
    ("compare", {"left": "values.nan_acc", "op": "!=", "right": "values.test_acc"}),
    ("compare", {"left": "values.nan_acc", "op": ">=", "right": "values.test_acc", "by": 0.01}),
    ("compare", {"left": "values.test_acc", "op": "<", "right": "values.nan_acc"}),
    ("falls", {"path": "history.fit.diverged", "min_rank_corr": 0.0}),
    ("beats_baseline", {"path": "values.nan_acc", "baseline": "values.test_acc", "margin": 0.01, "lower_is_better": True}),
    # the best epoch of a run that diverged after it is not the run's: Python's min would skip the NaN
    ("threshold", {"path": "history.fit.diverged:min", "max": 2.5}),
    ("threshold", {"path": "history.fit.diverged:max", "min": 0.0}),
    ("compare", {"left": "history.fit.diverged:min", "op": "<", "right": "values.test_acc", "by": 0.0}),
    ("best_epoch", {"path": "history.fit.diverged", "mode": "min", "window": [1, 3]}),
])
def test_nan_never_passes(kind, fields):
    assert check(kind, **fields).status == "failed"


def test_min_and_max_of_a_series_with_an_infinity_are_nan():
    observed = {"history": {"fit": {"loss": [0.5, float("inf"), 0.3]}}}
    assert math.isnan(resolve(observed, "history.fit.loss:min"))
    assert math.isnan(resolve(observed, "history.fit.loss:max"))
    assert resolve(observed, "history.fit.loss:first") == 0.5


def test_a_best_epoch_on_a_diverged_series_says_why_it_failed():
    verdict = check("best_epoch", path="history.fit.diverged", mode="min", window=[1, 3])
    assert "holds NaN or an infinity" in verdict.message


# -- the engine's own rule: training histories are finite ----------------------------------------
DEMO_GOLDEN = {
    "schema_version": 1, "example": "ch99_demo",
    "sources": {"book": {"kind": "book", "section": "5.1.2", "printed": "10%",
                         "quote": "the validation accuracy stays at chance"}},
    "tiers": {"smoke": {"expectations": [
        {"kind": "threshold", "source": "book", "name": "validation accuracy at chance",
         "path": "history.fit.val_accuracy:max", "max": 0.2}]}},
}


def judged(history, tmp_path):
    demo = golden.parse(DEMO_GOLDEN, tmp_path / "ch99_demo.json")
    return judge_tier(demo, "smoke", {"history": history, "values": {}}, backend="tensorflow", profile_id="p")


def test_a_run_whose_loss_went_nan_fails_though_every_expectation_passes(tmp_path):
    """NaN weights answer one class, so a diverged run's accuracy is finite and at chance: the
    golden file's expectation passes, the engine's rule does not."""
    verdicts = judged({"fit": {"val_accuracy": [0.1, 0.098, 0.098], "val_loss": [2.3, float("nan"), float("nan")]}},
                      tmp_path)
    by_name = {v.name: v for v in verdicts}
    assert by_name["validation accuracy at chance"].passed
    finite = by_name[FINITE_HISTORIES]
    assert not finite.passed
    assert "history.fit.val_loss at epochs 2, 3" in finite.message


def test_finite_histories_pass_the_engine_rule(tmp_path):
    verdicts = judged({"fit": {"val_accuracy": [0.1, 0.11], "val_loss": [2.3, 2.4]}}, tmp_path)
    assert all(v.passed for v in verdicts) and FINITE_HISTORIES in {v.name for v in verdicts}


def test_an_outcome_without_a_history_gets_no_finite_check(tmp_path):
    assert FINITE_HISTORIES not in {v.name for v in judged({}, tmp_path)}


# -- compare: an ordering orders finite numbers; equality takes no margin ----------------------------
COMPARED = {"values": {"low": [1.0, float("nan")], "high": [2.0, 0.0], "one": 1, "yes": True, "two": 2.0,
                       "pos_inf": float("inf"), "neg_inf": float("-inf"), "word": "abc", "words": "abd",
                       "shape": [None, 10], "same_shape": [None, 10], "nan_shape": [None, float("nan")]}}


def compared(left, op, right, **extra):
    fields = {"left": f"values.{left}", "op": op, "right": f"values.{right}", **extra}
    return evaluate(Expectation("compare", "book", fields, name="compare check"), COMPARED, "s")


@pytest.mark.parametrize("left, op, right, reason", [
    ("low", "<", "high", "not a number"),  # Python orders lists element by element and skips past the NaN
    ("high", ">", "low", "not a number"),
    ("shape", "<=", "same_shape", "not a number"),
    ("yes", ">=", "one", "not a number"),  # True >= 1 in Python
    ("one", "<=", "yes", "not a number"),
    ("word", "<", "words", "not a number"),
    ("neg_inf", "<", "one", "NaN and infinities pass no comparison"),
    ("two", "<", "pos_inf", "NaN and infinities pass no comparison"),
    ("pos_inf", ">=", "pos_inf", "NaN and infinities pass no comparison"),
])
def test_an_ordering_fails_on_anything_but_finite_numbers(left, op, right, reason):
    verdict = compared(left, op, right)
    assert verdict.status == "failed"
    assert reason in verdict.message and "cannot compare" in verdict.message


@pytest.mark.parametrize("left, op, right, by", [
    ("one", "<", "two", None), ("one", "<=", "one", None), ("two", ">", "one", None), ("two", ">=", "two", None),
    ("one", "<", "two", 0.5), ("two", ">=", "one", 1.0), ("one", "<=", "two", 1.0),
])
def test_an_ordering_of_finite_numbers_passes(left, op, right, by):
    verdict = compared(left, op, right, **({} if by is None else {"by": by}))
    assert verdict.status == "passed", verdict.message


@pytest.mark.parametrize("left, op, right, by", [
    ("one", "<", "two", 1.0), ("one", "<=", "two", 1.5), ("two", ">", "one", 1.0), ("two", ">=", "one", 1.5),
])
def test_an_ordering_by_a_margin_fails_short_of_it(left, op, right, by):
    verdict = compared(left, op, right, by=by)
    assert verdict.status == "failed" and f"by at least {by}" in verdict.message


@pytest.mark.parametrize("left, op, right, status", [
    ("shape", "==", "same_shape", "passed"), ("shape", "!=", "same_shape", "failed"),
    ("one", "==", "two", "failed"), ("one", "!=", "two", "passed"),
    ("word", "==", "word", "passed"), ("word", "!=", "words", "passed"),
    ("yes", "==", "one", "failed"),  # True == 1 in Python
    ("yes", "!=", "one", "passed"),
])
def test_equality_compares_values_with_a_bool_unequal_to_a_number(left, op, right, status):
    assert compared(left, op, right).status == status


@pytest.mark.parametrize("left, op, right", [
    ("nan_shape", "==", "nan_shape"), ("nan_shape", "!=", "shape"), ("pos_inf", "==", "pos_inf"),
    ("one", "!=", "neg_inf"),
])
def test_equality_fails_on_nan_or_an_infinity_anywhere(left, op, right):
    verdict = compared(left, op, right)
    assert verdict.status == "failed" and "holds NaN or an infinity" in verdict.message


@pytest.mark.parametrize("op", ["==", "!="])
def test_equality_with_a_margin_fails_rather_than_ignoring_it(op):
    verdict = compared("one", op, "two" if op == "!=" else "one", by=0.5)
    assert verdict.status == "failed" and f"'by' has no meaning for '{op}'" in verdict.message


# -- exact: equal values, a bool no number, NaN and infinities never --------------------------------
EXACT = {"values": {"pos_inf": float("inf"), "neg_inf": float("-inf"), "nan": float("nan"), "one": 1, "yes": True,
                    "no": False, "zero": 0, "s": "abc", "shape": [None, 10], "flags": [True, False],
                    "nested": {"a": [1, 2.0], "b": "x"}, "inf_list": [1.0, float("inf")]}}


def exact(path, value):
    return evaluate(Expectation("exact", "book", {"path": path, "value": value}, name="exact check"), EXACT, "s")


@pytest.mark.parametrize("path, value", [
    ("values.yes", True), ("values.no", False), ("values.one", 1), ("values.one", 1.0), ("values.s", "abc"),
    ("values.shape", [None, 10]), ("values.flags", [True, False]), ("values.nested", {"a": [1.0, 2], "b": "x"}),
])
def test_exact_passes_on_equal_values(path, value):
    assert exact(path, value).status == "passed", exact(path, value).message


@pytest.mark.parametrize("path, value", [
    ("values.one", True), ("values.yes", 1), ("values.zero", False), ("values.no", 0),  # Python: True == 1
    ("values.flags", [1, 0]), ("values.nested", {"a": [True, 2.0], "b": "x"}),
    ("values.s", ["abc"]), ("values.shape", [None, 10, 1]), ("values.nested", {"a": [1, 2.0]}),
])
def test_exact_fails_on_unequal_values_and_a_bool_against_a_number(path, value):
    assert exact(path, value).status == "failed"


@pytest.mark.parametrize("path, value, culprit", [
    ("values.pos_inf", float("inf"), "values.pos_inf"), ("values.neg_inf", float("-inf"), "values.neg_inf"),
    ("values.inf_list", [1.0, float("inf")], "values.inf_list"), ("values.pos_inf", 1.0, "values.pos_inf"),
    ("values.nan", 0.0, "values.nan"), ("values.one", float("inf"), "the expected value"),
])
def test_exact_fails_on_an_infinity_even_against_the_same_infinity(path, value, culprit):
    verdict = exact(path, value)
    assert verdict.status == "failed" and f"{culprit} holds NaN or an infinity" in verdict.message


def test_exact_fails_on_nan_even_where_python_finds_the_same_object_equal():
    nan = EXACT["values"]["nan"]
    assert [nan] == [nan]  # identity first: Python's list equality lets the very same NaN through
    assert exact("values.nan", nan).status == "failed"
    assert evaluate(Expectation("exact", "book", {"path": "values.l", "value": [nan]}, name="n"),
                    {"values": {"l": [nan]}}, "s").status == "failed"


# -- paths: what resolve refuses, and how a check reports it ------------------------------------------
@pytest.mark.parametrize("path, match", [
    ("values.s[0]", "indexes a list, and this is str"),  # a string's first character is no observation
    ("values.one[0]", "indexes a list, and this is int"),
    ("values.nested[0]", "indexes a list, and this is dict"),
    ("values.shape[2]", "index 2 out of range"),
    ("values.shape[-3]", "index -3 out of range"),
    ("values..shape", "malformed path segment ''"),
    ("values.shape[x]", r"malformed path segment 'shape\[x\]'"),
    ("values.shape]", "malformed path segment"),
])
def test_resolve_refuses_what_is_not_there(path, match):
    with pytest.raises(MissingObservation, match=match):
        resolve(EXACT, path)


def test_resolve_indexes_lists_from_either_end():
    assert resolve(EXACT, "values.shape[1]") == 10
    assert resolve(EXACT, "values.shape[-2]") is None
    assert resolve(EXACT, "values.nested.a[1]") == 2.0


@pytest.mark.parametrize("reducer", [":first", ":last", ":min", ":max", ":len"])
def test_a_reducer_of_an_empty_list_is_a_missing_observation(reducer):
    with pytest.raises(MissingObservation, match="needs a non-empty list"):
        resolve({"values": {"empty": []}}, "values.empty" + reducer)


@pytest.mark.parametrize("path", ["values.s[0]", "values.shape[5]", "values..s", "values.empty:max"])
def test_a_path_that_resolves_to_nothing_fails_the_check_with_a_message(path):
    outcome = {"values": {**EXACT["values"], "empty": []}}
    verdict = evaluate(Expectation("exact", "book", {"path": path, "value": "a"}, name="path check"), outcome, "s")
    assert verdict.status == "failed" and verdict.actual is None
    assert "nothing observed" in verdict.message or "malformed" in verdict.message or "non-empty" in verdict.message


# -- sub-rules a mutation of the engine once survived --------------------------------------------------
def judge(kind, observed, **fields):
    return evaluate(Expectation(kind, "book", fields, name=f"{kind} check"), observed, "s")


@pytest.mark.parametrize("actual, value, rtol, status", [
    (1005.0, 1000, 0.01, "passed"),  # tolerance 10: atol + rtol alone (0.01) would fail it
    (1011.0, 1000, 0.01, "failed"),
    (990.5, 1000, 0.01, "passed"),
    (9.5, 8.771, 0.1, "passed"),  # tolerance 0.8771, not 0.1
    (9.7, 8.771, 0.1, "failed"),
    (-1005.0, -1000, 0.01, "passed"),  # the tolerance scales with the value's size, whatever its sign
])
def test_approx_relative_tolerance_scales_with_the_value(actual, value, rtol, status):
    verdict = judge("approx", {"values": {"x": actual}}, path="values.x", value=value, rtol=rtol, atol=0.0)
    assert verdict.status == status, verdict.message


def test_approx_adds_the_absolute_tolerance_to_the_relative_one():
    observed = {"values": {"x": 1015.0}}
    assert judge("approx", observed, path="values.x", value=1000, rtol=0.01, atol=5.0).status == "passed"
    assert judge("approx", observed, path="values.x", value=1000, rtol=0.01, atol=4.0).status == "failed"


@pytest.mark.parametrize("kind, series", [
    ("falls", [1.0, 0.9, 0.8, 0.7, 1.0]),  # rank correlation -0.2 and no change of the thirds: only the end fails
    ("rises", [1.0, 1.1, 1.2, 1.3, 1.0]),
])
def test_falls_and_rises_need_the_last_value_beyond_the_first(kind, series):
    verdict = judge(kind, {"history": {"fit": {"loss": series}}}, path="history.fit.loss", min_rank_corr=0.0)
    assert verdict.status == "failed"
    assert "first 1, last 1" in verdict.message


@pytest.mark.parametrize("kind, series", [
    ("falls", [1.0, float("inf"), 0.6, 0.4, 0.2]),  # rank correlation -0.9, last below first
    ("falls", [1.0, 0.8, 0.6, 0.4, float("-inf")]),
    ("rises", [0.2, float("-inf"), 0.6, 0.8, 1.0]),
    ("rises", [1.0, 1.2, 1.4, 1.6, float("inf")]),
])
def test_falls_and_rises_fail_on_an_infinity_in_the_series(kind, series):
    verdict = judge(kind, {"history": {"fit": {"loss": series}}}, path="history.fit.loss", min_rank_corr=0.5)
    assert verdict.status == "failed"


@pytest.mark.parametrize("kind, fields", [
    ("falls", {}),
    ("rises", {}),
    ("best_epoch", {"mode": "min", "window": [1, 1]}),  # the one epoch would be the best
    ("best_epoch", {"mode": "max", "window": [1, 5]}),
])
def test_a_one_value_series_fails(kind, fields):
    verdict = judge(kind, {"history": {"fit": {"loss": [0.5]}}}, path="history.fit.loss", **fields)
    assert verdict.status == "failed"
    assert "must be a per-epoch series of at least 2 values" in verdict.message


@pytest.mark.parametrize("kind, fields", [
    ("threshold", {"path": "values.flag", "min": 0.5}),  # True would be 1.0
    ("threshold", {"path": "values.flag", "max": 1.0}),
    ("approx", {"path": "values.flag", "value": 1.0, "atol": 0.1}),
    ("beats_baseline", {"path": "values.flag", "baseline": "values.zero", "margin": 0.5}),
    ("beats_baseline", {"path": "values.one", "baseline": "values.no", "margin": 0.5}),
    ("falls", {"path": "values.flags"}),
])
def test_a_bool_is_not_a_number(kind, fields):
    observed = {"values": {"flag": True, "no": False, "zero": 0.0, "one": 1.0, "flags": [True, False, False]}}
    verdict = judge(kind, observed, **fields)
    assert verdict.status == "failed"
    assert "not a number" in verdict.message


@pytest.mark.parametrize("baseline, lower_is_better", [(float("-inf"), False), (float("inf"), True),
                                                       (float("nan"), False)])
def test_beats_baseline_fails_against_a_non_finite_baseline(baseline, lower_is_better):
    observed = {"values": {"acc": 0.9, "trivial": baseline}}
    verdict = judge("beats_baseline", observed, path="values.acc", baseline="values.trivial", margin=0.01,
                    lower_is_better=lower_is_better)
    assert verdict.status == "failed"


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_finite_histories_catches_infinities_as_well_as_nan(bad, tmp_path):
    verdicts = judged({"fit": {"val_accuracy": [0.1, 0.11, 0.12], "val_loss": [2.3, bad, 2.2]}}, tmp_path)
    finite = {v.name: v for v in verdicts}[FINITE_HISTORIES]
    assert not finite.passed
    assert "history.fit.val_loss at epoch 2" in finite.message
