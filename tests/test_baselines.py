"""Trivial baselines: what a predictor that ignores the input scores, and the check that a model beats it."""

import math

import numpy as np
import pytest

from conformance.engine import golden
from conformance.engine.checks import evaluate
from conformance.engine.golden import Expectation, GoldenError
from reference_impl import baselines


def beats(actual, baseline, margin=0.05, **fields):
    expectation = Expectation("beats_baseline", "s", {"path": "values.acc", "baseline": "values.trivial",
                                                      "margin": margin, **fields}, "beats")
    return evaluate(expectation, {"values": {"acc": actual, "trivial": baseline}}, "test")


def test_a_model_must_beat_the_trivial_predictor_by_the_margin():
    assert beats(0.80, 0.50).passed
    assert not beats(0.52, 0.50).passed  # better, but not by the margin
    assert not beats(0.50, 0.50).passed  # a model that learned nothing
    assert "trivial baseline 0.5, bound 0.55" in beats(0.52, 0.50).message


def test_for_an_error_lower_is_better():
    assert beats(2.0, 3.0, margin=0.5, lower_is_better=True).passed
    assert not beats(2.9, 3.0, margin=0.5, lower_is_better=True).passed


def test_nan_never_beats_a_baseline():
    assert not beats(math.nan, 0.5).passed
    assert not beats(math.nan, 0.5, lower_is_better=True).passed
    assert not beats(0.9, math.nan).passed


def test_the_margin_must_be_positive(tmp_path):
    raw = {"schema_version": 1, "example": "ch99_demo", "sources": {"s": {"kind": "computed", "ref": "x"}},
           "expectations": [{"kind": "beats_baseline", "source": "s", "path": "values.acc",
                             "baseline": "values.trivial", "margin": 0}]}
    with pytest.raises(GoldenError, match=r"expectations\[0\]\.margin: must be a positive number"):
        golden.parse(raw, tmp_path / "ch99_demo.json")


def test_majority_class_accuracy_answers_the_commonest_training_class():
    assert baselines.majority_class_accuracy(np.array([1, 1, 0]), np.array([1, 0, 0, 1])) == 0.5
    one_hot = np.eye(3)[[2, 2, 1]]
    assert baselines.majority_class_accuracy(one_hot, np.eye(3)[[2, 0]]) == 0.5


def test_pixel_prior_labels_each_position_with_its_commonest_class():
    train = np.array([[[0, 1], [1, 1]], [[0, 1], [0, 1]], [[2, 1], [0, 1]]])  # prior: [[0, 1], [0, 1]]
    test = np.array([[[0, 1], [1, 1]]])
    assert baselines.pixel_prior_accuracy(train, test) == 0.75


def test_mean_target_mae_predicts_the_training_mean():
    assert baselines.mean_target_mae(np.array([1.0, 3.0]), np.array([2.0, 4.0])) == 1.0


def test_class_prior_cross_entropy_is_the_loss_of_answering_the_class_frequencies():
    # training frequencies 3/4 and 1/4; the test labels 1, 0 cost -log(3/4) and -log(1/4)
    expected = (-np.log(0.75) - np.log(0.25)) / 2
    assert abs(baselines.class_prior_cross_entropy(np.array([1, 1, 1, 0]), np.array([1, 0])) - expected) < 1e-12
    # ten balanced classes: ln 10, the cross-entropy of a uniform guess
    assert abs(baselines.class_prior_cross_entropy(np.arange(100) % 10, np.arange(10)) - np.log(10)) < 1e-12
