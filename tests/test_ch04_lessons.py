"""Chapter 4's lessons, as its golden files check them, fail when the lesson is broken:
in the data (a twin without signal) or in the model (a bottleneck that is not one, a
learning rate too small to overfit in time). Each break runs the example at its smoke
scale; crafted outcomes show what each lesson check accepts and refuses."""

import functools

import keras
import numpy as np
import pytest

from conformance.engine import checks
from conformance.engine import golden
from conformance.engine import registry
from conformance.engine.runner import Settings, run_example
from reference_impl.datasets import boston_housing, imdb, reuters


def run(example_id):
    spec = registry.select(example_id)[0]
    return run_example(spec, Settings(tier="smoke", backend=keras.backend.backend()), "cpu-test")


def failed(result):
    assert result["status"] == "failed", result["reason"] or result["checks"]
    return {c["name"] for c in result["checks"] if c["status"] == "failed"}


def lesson(example_id, name, tier="smoke"):
    """The golden file's expectation called ``name`` for ``tier``."""
    (expectation,) = [e for e in golden.load(example_id).expectations_for(tier) if e.name == name]
    return expectation


def judge(expectation, observed):
    return checks.evaluate(expectation, observed, "test").status


@pytest.fixture
def learning_rate_100x_too_small(monkeypatch):
    original = keras.optimizers.RMSprop.__init__

    @functools.wraps(original)
    def hundredth(self, learning_rate=0.001, *args, **kwargs):
        original(self, learning_rate / 100, *args, **kwargs)

    monkeypatch.setattr(keras.optimizers.RMSprop, "__init__", hundredth)


@pytest.fixture
def bottleneck_widened_to_64(monkeypatch):
    original = keras.layers.Dense.__init__

    @functools.wraps(original)
    def widened(self, units, **kwargs):
        original(self, 64 if units == 4 else units, **kwargs)

    monkeypatch.setattr(keras.layers.Dense, "__init__", widened)


# -- IMDB: test accuracy, and the early validation-loss minimum ---------------------
def test_imdb_twin_without_sentiment_fails_the_test_accuracy(monkeypatch):
    monkeypatch.setattr(imdb, "DENSITY", (0.0, 0.0))
    assert "threshold values.test_acc" in failed(run("ch04_imdb_binary"))


def test_imdb_model_too_slow_to_overfit_fails_the_early_minimum(learning_rate_100x_too_small):
    assert "best_epoch history.fit.val_loss" in failed(run("ch04_imdb_binary"))


@pytest.mark.parametrize("tier", ["smoke", "book"])
def test_imdb_early_minimum_refuses_a_loss_that_keeps_falling(tier):
    check = lesson("ch04_imdb_binary", "best_epoch history.fit.val_loss", tier)
    epochs = 40 if tier == "smoke" else 20
    falling = [1.0 - 0.01 * i for i in range(epochs)]
    u_shaped = [abs(i - check.fields["window"][0]) + 0.3 for i in range(1, epochs + 1)]
    assert judge(check, {"history": {"fit": {"val_loss": falling}}}) == "failed"
    assert judge(check, {"history": {"fit": {"val_loss": u_shaped}}}) == "passed"


# -- Reuters: far better than a random classifier -------------------------------------
def test_reuters_twin_without_topic_words_fails_the_random_baseline_comparison(monkeypatch):
    monkeypatch.setattr(reuters, "DENSITY", (0.0, 0.0))
    assert "beats the random baseline by a wide margin" in failed(run("ch04_reuters_multiclass"))


def test_reuters_baseline_comparison_refuses_always_answering_the_commonest_topic():
    check = lesson("ch04_reuters_multiclass", "beats the random baseline by a wide margin")
    commonest_topic = {"values": {"test_acc": 0.35, "random_baseline_acc": 0.18}}
    book = {"values": {"test_acc": 0.797, "random_baseline_acc": 0.1866}}
    assert judge(check, commonest_topic) == "failed" and judge(check, book) == "passed"


# -- Reuters bottleneck: 4 units cost accuracy -----------------------------------------
def test_bottleneck_that_is_not_one_fails_the_comparison(bottleneck_widened_to_64):
    result = run("ch04_reuters_bottleneck")
    assert "the bottleneck costs validation accuracy" in failed(result)


@pytest.mark.parametrize("tier", ["smoke", "book"])
def test_bottleneck_comparison_needs_a_real_drop(tier):
    check = lesson("ch04_reuters_bottleneck", "the bottleneck costs validation accuracy", tier)
    def peaks(bottleneck, reference):
        return {"history": {"bottleneck": {"val_accuracy": [0.3, bottleneck]},
                            "reference": {"val_accuracy": [0.5, reference]}}}
    by = check.fields["by"]
    assert judge(check, peaks(0.79 - by - 0.01, 0.79)) == "passed"
    assert judge(check, peaks(0.79 - by + 0.01, 0.79)) == "failed"
    assert judge(check, peaks(0.79, 0.79)) == "failed"


# -- Boston: K-fold validation, and where the averaged validation MAE stops improving --
def test_boston_twin_whose_prices_ignore_the_towns_fails_the_kfold_mae(monkeypatch):
    def unrelated_to_the_features(crim, chas, rm, dis, ptratio, lstat):
        return np.random.RandomState(0).uniform(5, 50, size=len(lstat))

    monkeypatch.setattr(boston_housing, "_price", unrelated_to_the_features)
    assert "threshold values.mean_score" in failed(run("ch04_boston_kfold"))


@pytest.mark.parametrize("tier", ["offline", "book"])
def test_boston_stopping_window_refuses_a_curve_that_keeps_improving_or_turns_at_once(tier):
    """Run on the genuine towns only (offline, book): the twin, like the real data, needs
    about 2,000 steps per fold before it stops improving, more than the smoke tier runs."""
    check = lesson("ch04_boston_kfold", "best_epoch values.smooth_mae_history", tier)
    first, last = check.fields["window"]
    length = 490 if tier == "book" else 240
    improving = [3.0 - 0.001 * i for i in range(length)]
    turns_at_once = [2.5 + 0.001 * i for i in range(length)]
    stops_inside = [abs(i - (first + last) // 2) * 0.001 + 2.5 for i in range(1, length + 1)]
    assert judge(check, {"values": {"smooth_mae_history": improving}}) == "failed"
    assert judge(check, {"values": {"smooth_mae_history": turns_at_once}}) == "failed"
    assert judge(check, {"values": {"smooth_mae_history": stops_inside}}) == "passed"
