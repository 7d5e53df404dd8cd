"""Chapter 4's lessons, as its golden files check them, fail when the lesson is broken:
in the data (a twin without signal) or in the model (a bottleneck that is not one, a
learning rate too small to overfit in time). Each break runs the example at its smoke
scale; crafted outcomes show what each lesson check accepts and refuses."""

import numpy as np
import pytest

from helpers import (
    dense_units_replaced,
    failed_checks,
    golden_expectation,
    judge,
    rmsprop_learning_rate_changed,
    run_example_in_process,
)
from reference_impl.datasets import boston_housing, imdb, reuters


@pytest.fixture
def learning_rate_100x_too_small(monkeypatch):
    rmsprop_learning_rate_changed(lambda learning_rate: learning_rate / 100)(monkeypatch)


@pytest.fixture
def bottleneck_widened_to_64(monkeypatch):
    dense_units_replaced({4: 64})(monkeypatch)


# -- IMDB: test accuracy, and the early validation-loss minimum ---------------------
@pytest.mark.slow
def test_imdb_twin_without_sentiment_fails_the_test_accuracy(monkeypatch):
    monkeypatch.setattr(imdb, "DENSITY", (0.0, 0.0))
    assert "threshold values.test_acc" in failed_checks(run_example_in_process("ch04_imdb_binary"))


@pytest.mark.slow
def test_imdb_model_too_slow_to_overfit_fails_the_early_minimum(learning_rate_100x_too_small):
    assert "best_epoch history.fit.val_loss" in failed_checks(run_example_in_process("ch04_imdb_binary"))


@pytest.mark.parametrize("tier", ["smoke", "book"])
def test_imdb_early_minimum_refuses_a_loss_that_keeps_falling(tier):
    check = golden_expectation("ch04_imdb_binary", tier, name="best_epoch history.fit.val_loss")
    epochs = 40 if tier == "smoke" else 20
    falling = [1.0 - 0.01 * i for i in range(epochs)]
    u_shaped = [abs(i - check.fields["window"][0]) + 0.3 for i in range(1, epochs + 1)]
    assert judge(check, {"history": {"fit": {"val_loss": falling}}}) == "failed"
    assert judge(check, {"history": {"fit": {"val_loss": u_shaped}}}) == "passed"


# -- Reuters: far better than a random classifier -------------------------------------
@pytest.mark.slow
def test_reuters_twin_without_topic_words_fails_the_random_baseline_comparison(monkeypatch):
    monkeypatch.setattr(reuters, "DENSITY", (0.0, 0.0))
    result = run_example_in_process("ch04_reuters_multiclass")
    assert "beats the random baseline by a wide margin" in failed_checks(result)


def test_reuters_baseline_comparison_refuses_always_answering_the_commonest_topic():
    check = golden_expectation("ch04_reuters_multiclass", "smoke", name="beats the random baseline by a wide margin")
    commonest_topic = {"values": {"test_acc": 0.35, "random_baseline_acc": 0.18}}
    book = {"values": {"test_acc": 0.797, "random_baseline_acc": 0.1866}}
    assert judge(check, commonest_topic) == "failed" and judge(check, book) == "passed"


# -- Reuters bottleneck: 4 units cost accuracy -----------------------------------------
@pytest.mark.slow
def test_bottleneck_that_is_not_one_fails_the_comparison(bottleneck_widened_to_64):
    result = run_example_in_process("ch04_reuters_bottleneck")
    assert "the bottleneck costs validation accuracy" in failed_checks(result)


@pytest.mark.parametrize("tier", ["smoke", "book"])
def test_bottleneck_comparison_needs_a_real_drop(tier):
    check = golden_expectation("ch04_reuters_bottleneck", tier, name="the bottleneck costs validation accuracy")
    def peaks(bottleneck, reference):
        return {"history": {"bottleneck": {"val_accuracy": [0.3, bottleneck]},
                            "reference": {"val_accuracy": [0.5, reference]}}}
    by = check.fields["by"]
    assert judge(check, peaks(0.79 - by - 0.01, 0.79)) == "passed"
    assert judge(check, peaks(0.79 - by + 0.01, 0.79)) == "failed"
    assert judge(check, peaks(0.79, 0.79)) == "failed"


# -- Boston: K-fold validation, and where the averaged validation MAE stops improving --
@pytest.mark.slow
def test_boston_twin_whose_prices_ignore_the_towns_fails_the_kfold_mae(monkeypatch):
    def unrelated_to_the_features(crim, chas, rm, dis, ptratio, lstat):
        return np.random.RandomState(0).uniform(5, 50, size=len(lstat))

    monkeypatch.setattr(boston_housing, "_price", unrelated_to_the_features)
    assert "threshold values.mean_score" in failed_checks(run_example_in_process("ch04_boston_kfold"))


@pytest.mark.parametrize("tier", ["offline", "book"])
def test_boston_stopping_window_refuses_a_curve_that_keeps_improving_or_turns_at_once(tier):
    """Run on the genuine towns only (offline, book): the twin, like the real data, needs
    about 2,000 steps per fold before it stops improving, more than the smoke tier runs."""
    check = golden_expectation("ch04_boston_kfold", tier, name="best_epoch values.smooth_mae_history")
    first, last = check.fields["window"]
    length = 490 if tier == "book" else 240
    improving = [3.0 - 0.001 * i for i in range(length)]
    turns_at_once = [2.5 + 0.001 * i for i in range(length)]
    stops_inside = [abs(i - (first + last) // 2) * 0.001 + 2.5 for i in range(1, length + 1)]
    assert judge(check, {"values": {"smooth_mae_history": improving}}) == "failed"
    assert judge(check, {"values": {"smooth_mae_history": turns_at_once}}) == "failed"
    assert judge(check, {"values": {"smooth_mae_history": stops_inside}}) == "passed"
