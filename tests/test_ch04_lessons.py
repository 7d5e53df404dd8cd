"""Chapter 4's lessons, as its golden files check them, fail when the lesson is broken:
in the data (a twin without signal) or in the model (a bottleneck that is not one, a
learning rate too small to pull the training loss away from the validation loss). Each
break runs the example at its smoke scale; crafted outcomes show what each lesson check
accepts and refuses, including the checks a smoke run is too short for (the epoch of the
IMDB validation-loss minimum, checked in the book tier)."""

import numpy as np
import pytest

from conformance.engine import golden

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


# -- IMDB: test accuracy, the training loss pulling away, the early validation-loss minimum --
PULLS_AWAY = "the training loss pulls away from the validation loss"


@pytest.mark.slow
def test_imdb_twin_without_sentiment_fails_the_test_accuracy(monkeypatch):
    monkeypatch.setattr(imdb, "DENSITY", (0.0, 0.0))
    assert "threshold values.test_acc" in failed_checks(run_example_in_process("ch04_imdb_binary"))


@pytest.mark.slow
def test_imdb_model_too_slow_to_learn_fails_the_pulling_away(learning_rate_100x_too_small):
    assert PULLS_AWAY in failed_checks(run_example_in_process("ch04_imdb_binary"))


def test_imdb_pulling_away_needs_a_real_gap():
    """The smoke tier's stand-in for overfitting: the training loss must end below the validation
    loss by the check's size, which two losses that move together (a model that learns nothing,
    or one that generalises perfectly) do not."""
    check = golden_expectation("ch04_imdb_binary", "smoke", name=PULLS_AWAY)
    by = check.fields["by"]

    def last_losses(loss, val_loss):
        return {"history": {"fit": {"loss": [0.69, loss], "val_loss": [0.69, val_loss]}}}

    assert judge(check, last_losses(0.5 - by - 0.01, 0.5)) == "passed"
    assert judge(check, last_losses(0.5 - by + 0.01, 0.5)) == "failed"
    assert judge(check, last_losses(0.69, 0.69)) == "failed"


def test_imdb_early_minimum_refuses_a_loss_that_keeps_falling():
    """Checked in the book tier only: the smoke run's few steps end before the twin's minimum."""
    check = golden_expectation("ch04_imdb_binary", "book", name="best_epoch history.fit.val_loss")
    epochs = 20
    falling = [1.0 - 0.01 * i for i in range(epochs)]
    u_shaped = [abs(i - check.fields["window"][0]) + 0.3 for i in range(1, epochs + 1)]
    assert judge(check, {"history": {"fit": {"val_loss": falling}}}) == "failed"
    assert judge(check, {"history": {"fit": {"val_loss": u_shaped}}}) == "passed"
    assert not [e for e in golden.load("ch04_imdb_binary").tiers["smoke"]["expectations"] if e.kind == "best_epoch"]


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


def test_bottleneck_that_learns_nothing_fails_the_falling_loss():
    """In a smoke run the 4-unit model is still far below its plateau; that it learns at all is
    checked on its training loss, which a model stuck at its initial loss does not pass."""
    check = golden_expectation("ch04_reuters_bottleneck", "smoke", name="the bottleneck model learns: its training loss falls")
    by = check.fields["by"]
    stuck = [3.83, 3.83, 3.82, 3.82, 3.82]
    learning = [3.8 * (1 - 1.5 * by) ** (i / 4) for i in range(5)]
    assert judge(check, {"history": {"bottleneck": {"loss": stuck}}}) == "failed"
    assert judge(check, {"history": {"bottleneck": {"loss": learning}}}) == "passed"


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
@pytest.mark.nightly
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
