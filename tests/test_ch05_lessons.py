"""Each of chapter 5's lesson checks fails when the lesson is broken.

A fault is planted in the data or the library an example uses (never in the suite), the
example runs in-process on the smoke tier exactly as ``python -m conformance run`` runs it,
and the named check must be among the failures. Each faulty run is a module-scoped fixture
shared by the tests that read it, so every example runs once per fault. Lessons a smoke run is
too short to show (the model-size lessons, dropout's delay) are checked in the book tier; for
those, crafted outcomes show what the book tier's checks refuse.
"""

from __future__ import annotations

import functools
from typing import Any

import keras
import numpy as np
import pytest

from helpers import (
    RunResult,
    dense_units_replaced,
    failed_checks,
    faulty_run,
    golden_expectation,
    judge,
    rmsprop_learning_rate_changed,
)
from reference_impl.datasets import Loaded, mnist

# Every test that reads a faulty run is marked slow; the crafted-outcome tests are not.


# -- 5.1.1 noise channels ----------------------------------------------------------
@pytest.fixture(scope="module")
def noise_channels_are_zeros() -> RunResult:
    """The 'white noise' appended to the digits is all zeros: both models see the same input."""
    return faulty_run("ch05_mnist_noise_vs_zero_channels",
                      lambda patch: patch.setattr(np.random, "random", lambda shape: np.zeros(shape)))


@pytest.mark.slow
def test_noise_channels_identical_to_zeros_fail_the_comparison(noise_channels_are_zeros):
    assert "noise channels end below zeros channels" in failed_checks(noise_channels_are_zeros)


# -- 5.1.2 shuffled labels ---------------------------------------------------------
@pytest.fixture(scope="module")
def labels_not_shuffled() -> RunResult:
    """``np.random.shuffle`` leaves the labels in place: the model learns real digits."""
    return faulty_run("ch05_mnist_shuffled_labels", lambda patch: patch.setattr(np.random, "shuffle", lambda x: None))


@pytest.fixture(scope="module")
def no_room_to_memorise() -> RunResult:
    """The 512-unit hidden layer has one unit: too little capacity to memorise random labels."""
    return faulty_run("ch05_mnist_shuffled_labels", dense_units_replaced({512: 1}))


@pytest.mark.slow
def test_unshuffled_labels_fail_validation_accuracy_near_chance(labels_not_shuffled):
    assert "validation accuracy stays near chance" in failed_checks(labels_not_shuffled)


@pytest.mark.slow
def test_unshuffled_labels_fail_validation_loss_rises(labels_not_shuffled):
    assert "validation loss rises" in failed_checks(labels_not_shuffled)


@pytest.mark.slow
def test_model_that_cannot_memorise_fails_training_accuracy_climbs(no_room_to_memorise):
    assert "training accuracy climbs (memorisation)" in failed_checks(no_room_to_memorise)


# -- 5.3.1 learning rate -----------------------------------------------------------
@pytest.fixture(scope="module")
def learning_rate_capped() -> RunResult:
    """RMSprop silently caps its learning rate at 1e-2, so 'lr = 1' trains like lr = 1e-2."""
    return faulty_run("ch05_mnist_learning_rate",
                      rmsprop_learning_rate_changed(lambda learning_rate: min(learning_rate, 1e-2)))


@pytest.mark.slow
def test_learning_rate_that_is_not_too_high_fails_the_comparison(learning_rate_capped):
    assert "lr = 1 stays far below lr = 1e-2" in failed_checks(learning_rate_capped)


# -- 5.3.3 capacity ----------------------------------------------------------------
@pytest.fixture(scope="module")
def hidden_layers_two_units() -> RunResult:
    """The 96-unit layers have 2 units: the 'larger' model has less capacity than the logistic regression."""
    return faulty_run("ch05_mnist_capacity", dense_units_replaced({96: 2}))


@pytest.fixture(scope="module")
def training_labels_random() -> RunResult:
    """The twin's training labels are permuted: there is nothing to learn, so even the
    logistic regression can only memorise, and its validation loss rises from the start."""
    original = mnist.twin

    def random_labels(seed: int = 0, samples: float = 1.0) -> Loaded:
        loaded = original(seed=seed, samples=samples)
        (train_images, train_labels), test = loaded.value
        loaded.value = (train_images, np.random.RandomState(seed).permutation(train_labels)), test
        return loaded

    return faulty_run("ch05_mnist_capacity", lambda patch: patch.setattr(mnist, "twin", random_labels))


@pytest.fixture(scope="module")
def hidden_layers_two_units_offline() -> RunResult:
    """The same fault on the offline tier (the genuine digits), where 'the larger model overfits
    before the logistic regression' is checked: a 2-unit bottleneck has nothing to overfit with."""
    return faulty_run("ch05_mnist_capacity", dense_units_replaced({96: 2}), tier="offline")


@pytest.mark.slow
def test_larger_model_without_capacity_fails_overfits_before_logistic_regression(hidden_layers_two_units_offline):
    assert "the larger model overfits before the logistic regression" in failed_checks(hidden_layers_two_units_offline)


@pytest.mark.slow
def test_larger_model_without_capacity_fails_lower_minimum(hidden_layers_two_units):
    assert "more capacity reaches a lower validation loss" in failed_checks(hidden_layers_two_units)


@pytest.mark.slow
def test_logistic_regression_that_overfits_fails_the_plateau(training_labels_random):
    assert "logistic regression plateaus: no overfitting" in failed_checks(training_labels_random)


# -- 5.4.4 model size: checked in the book tier --------------------------------------
# A smoke run affordable in the suite's time (a few RMSprop steps on 1,000 twin reviews) is too short
# for any of the three models to turn up, and the 512-512 model's validation loss jumps from epoch to
# epoch, so the size lessons are book-tier checks; crafted outcomes show what they refuse.
def model_size_outcome(original: int, smaller: int, larger: int, rises: tuple[float, float]) -> dict[str, Any]:
    original_rise, larger_rise = rises
    return {"values": {"original_best_epoch": original, "smaller_best_epoch": smaller,
                       "larger_best_epoch": larger, "original_val_loss_rise": original_rise,
                       "larger_val_loss_rise": larger_rise}}


def model_size_check(name: str):
    return golden_expectation("ch05_imdb_model_size", "book", name=name)


BOOK_LIKE = model_size_outcome(original=4, smaller=6, larger=1, rises=(0.3, 1.5))
SIZES_SWAPPED = model_size_outcome(original=4, smaller=1, larger=6, rises=(0.3, 0.1))  # 512 units called 'smaller'
NO_SIZE_EFFECT = model_size_outcome(original=4, smaller=4, larger=4, rises=(0.3, 0.3))


@pytest.mark.parametrize("name", ["the larger model overfits more severely than the original",
                                  "the smaller model starts overfitting later than the original"])
def test_model_size_checks_refuse_swapped_or_equal_sizes(name):
    check = model_size_check(name)
    assert judge(check, BOOK_LIKE) == "passed"
    assert judge(check, SIZES_SWAPPED) == "failed"
    assert judge(check, NO_SIZE_EFFECT) == "failed"


# -- 5.4.4 L2 (its overfitting lesson is a book-tier check only: see golden/ch05_imdb_l2.json) ----
@pytest.mark.slow
def test_an_ignored_l2_regularizer_fails_the_penalty_check():
    """``kernel_regularizer`` dropped: the model trains without the penalty the listing asks for."""
    original = keras.layers.Dense.__init__

    @functools.wraps(original)
    def without_regularizer(self: keras.layers.Dense, units: int, **kwargs: Any) -> None:
        original(self, units, **{**kwargs, "kernel_regularizer": None})

    result = faulty_run("ch05_imdb_l2", lambda patch: patch.setattr(keras.layers.Dense, "__init__", without_regularizer))
    assert failed_checks(result)["L2 adds 0.002 × Σ w² to the loss"]["actual"] == 1.0


def test_an_l2_penalty_with_the_wrong_coefficient_fails():
    check = golden_expectation("ch05_imdb_l2", "smoke", name="L2 adds 0.002 × Σ w² to the loss")
    assert judge(check, {"values": {"l2_penalty_relative_error": 3e-8}}) == "passed"
    assert judge(check, {"values": {"l2_penalty_relative_error": 0.5}}) == "failed"  # l2(0.001)


# -- 5.4.4 dropout ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dropout_rate_zero() -> RunResult:
    """``layers.Dropout(0.5)`` drops nothing: the 'dropout' model is the original model."""
    original = keras.layers.Dropout.__init__

    @functools.wraps(original)
    def no_dropout(self: keras.layers.Dropout, rate: float, **kwargs: Any) -> None:
        original(self, 0.0, **kwargs)

    return faulty_run("ch05_imdb_dropout", lambda patch: patch.setattr(keras.layers.Dropout, "__init__", no_dropout))


@pytest.mark.slow
def test_dropout_model_without_dropout_fails_lowers_overfitting(dropout_rate_zero):
    assert "dropout lowers overfitting" in failed_checks(dropout_rate_zero)


def test_dropout_delay_is_a_book_tier_check_that_refuses_equal_epochs():
    """A smoke run ends before either model's validation loss turns up, so 'dropout delays
    overfitting' is checked in the book tier; it refuses two minima at the same epoch."""
    check = golden_expectation("ch05_imdb_dropout", "book", name="dropout delays overfitting")
    assert judge(check, {"values": {"dropout_best_epoch": 7, "original_best_epoch": 4}}) == "passed"
    assert judge(check, {"values": {"dropout_best_epoch": 4, "original_best_epoch": 4}}) == "failed"
