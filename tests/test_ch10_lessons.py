"""Each of chapter 10's lesson checks fails when its lesson is broken.

A smoke run (a dozen steps of 256 windows per epoch, one to three epochs) is far too short for any
model to beat the common-sense forecast, so the lessons (the conv1d model does worse than the dense
one, the LSTM beats the forecast, the reversed LSTM does worse than it, the bidirectional LSTM does
not beat the plain one, recurrent dropout moves the best epoch later) are book-tier checks; crafted
outcomes show what they refuse, and that the offline and book tiers' checks against the trivial
predictor refuse a model that learned nothing. Two years of the twin, trained for the book's ten
epochs (twenty for recurrent dropout), teach the lessons too: the nightly lane judges them there
with the book tier's own checks. The data-preparation helpers are checked against the datasets they
describe.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from conformance.engine import golden, registry
from helpers import golden_expectation, judge
from reference_impl.api import Run, Scale
from reference_impl.datasets import load


def outcome(**values: Any) -> dict[str, Any]:
    return {"values": values}


def test_conv1d_worse_than_dense_refuses_a_conv1d_as_good_as_the_dense_model():
    check = golden_expectation("ch10_jena_conv1d", "book", name="conv1d does worse than the dense model")
    assert judge(check, outcome(conv1d_best_val_mae=2.9, dense_best_val_mae=2.59)) == "passed"
    assert judge(check, outcome(conv1d_best_val_mae=2.6, dense_best_val_mae=2.59)) == "failed"
    assert judge(check, outcome(conv1d_best_val_mae=2.4, dense_best_val_mae=2.59)) == "failed"


def test_lstm_beats_the_forecast_refuses_an_lstm_at_the_forecast():
    check = golden_expectation("ch10_jena_lstm", "book", name="the LSTM beats the common-sense forecast")
    assert judge(check, outcome(lstm_best_val_mae=2.36, naive_val_mae=2.44)) == "passed"
    assert judge(check, outcome(lstm_best_val_mae=2.43, naive_val_mae=2.44)) == "failed"
    assert judge(check, outcome(lstm_best_val_mae=2.6, naive_val_mae=2.44)) == "failed"
    on_test = golden_expectation("ch10_jena_lstm", "book", kind="beats_baseline")
    assert judge(on_test, outcome(lstm_test_mae=2.55, naive_test_mae=2.62)) == "passed"
    assert judge(on_test, outcome(lstm_test_mae=2.60, naive_test_mae=2.62)) == "passed"  # the reader's Keras 3 run
    assert judge(on_test, outcome(lstm_test_mae=2.615, naive_test_mae=2.62)) == "failed"
    assert judge(on_test, outcome(lstm_test_mae=2.62, naive_test_mae=2.62)) == "failed"


def test_reversed_worse_than_the_forecast_refuses_a_reversed_lstm_that_matches_it():
    check = golden_expectation("ch10_jena_lstm_reversed", "book",
                               name="the reversed LSTM does worse than the common-sense forecast")
    assert judge(check, outcome(reversed_lstm_best_val_mae=2.68, naive_val_mae=2.44)) == "passed"
    assert judge(check, outcome(reversed_lstm_best_val_mae=2.45, naive_val_mae=2.44)) == "failed"
    assert judge(check, outcome(reversed_lstm_best_val_mae=2.36, naive_val_mae=2.44)) == "failed"  # reads forward


def test_bidirectional_not_better_refuses_a_bidirectional_model_that_clearly_wins():
    check = golden_expectation("ch10_jena_bidirectional_lstm", "book",
                               name="the bidirectional LSTM does not beat the plain LSTM")
    assert judge(check, outcome(bidirectional_gain_over_lstm=-0.1)) == "passed"  # as the book says
    assert judge(check, outcome(bidirectional_gain_over_lstm=0.02)) == "passed"  # the cited rerun
    assert judge(check, outcome(bidirectional_gain_over_lstm=0.4)) == "failed"


def test_recurrent_dropout_moves_the_best_epoch_later_refuses_equal_or_earlier_epochs():
    check = golden_expectation("ch10_jena_lstm_recurrent_dropout", "book",
                               name="recurrent dropout moves the best epoch later")
    assert judge(check, outcome(dropout_lstm_best_epoch=25, lstm_best_epoch=4)) == "passed"
    assert judge(check, outcome(dropout_lstm_best_epoch=4, lstm_best_epoch=4)) == "failed"
    assert judge(check, outcome(dropout_lstm_best_epoch=3, lstm_best_epoch=6)) == "failed"


def crafted(path: str, value: float) -> dict[str, Any]:
    """An outcome holding ``value`` at ``path`` (``values.x`` or ``history.m.val_mae:min``)."""
    path = path.partition(":")[0]
    top, *rest = path.split(".")
    if top == "values":
        return {"values": {rest[0]: value}}
    model, metric = rest
    return {"history": {model: {metric: [value + 1.0, value]}}}


def merged(*outcomes: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"values": {}, "history": {}}
    for o in outcomes:
        for key, body in o.items():
            out[key].update(body)
    return out


TRAINED = ["ch10_jena_dense", "ch10_jena_conv1d", "ch10_jena_lstm", "ch10_jena_lstm_recurrent_dropout",
           "ch10_jena_stacked_gru", "ch10_jena_lstm_reversed", "ch10_jena_bidirectional_lstm"]


@pytest.mark.parametrize("example,tier", [(example, tier) for tier in ("offline", "book") for example in TRAINED])
def test_a_model_that_scores_its_trivial_predictor_fails_the_offline_and_book_tiers(example, tier):
    """Every trained example's offline and book tiers check each model against the trivial predictor on
    the same windows; a model that scores what the predictor scores must fail, one clearly better must pass."""
    checks = [e for e in golden.load(example).expectations_for(tier) if e.kind == "beats_baseline"]
    assert checks, f"{example} ({tier}) has no beats_baseline check"
    trivial = 10.0  # degrees: an MAE above every margin
    for check in checks:
        path, baseline, margin = check.fields["path"], check.fields["baseline"], check.fields["margin"]
        assert judge(check, merged(crafted(baseline, trivial), crafted(path, trivial))) == "failed"
        assert judge(check, merged(crafted(baseline, trivial), crafted(path, trivial - margin / 2))) == "failed"
        assert judge(check, merged(crafted(baseline, trivial), crafted(path, trivial - 2 * margin))) == "passed"


# -- the lessons on two years of the twin ------------------------------------------------------
TWIN_LESSONS = [  # the example, its lesson, the epochs it trains (the book's, or as many as show the lesson)
    ("ch10_jena_conv1d", "conv1d does worse than the dense model", 10),
    ("ch10_jena_lstm", "the LSTM beats the common-sense forecast", 10),
    ("ch10_jena_lstm_reversed", "the reversed LSTM does worse than the common-sense forecast", 10),
    ("ch10_jena_bidirectional_lstm", "the bidirectional LSTM does not beat the plain LSTM", 10),
    # the book trains 50 epochs; by 20 the plain LSTM has overfitted past its best epoch (about an hour
    # saved on 2 cores)
    ("ch10_jena_lstm_recurrent_dropout", "recurrent dropout moves the best epoch later", 20),
]


@pytest.mark.nightly
@pytest.mark.parametrize("example,lesson,epochs", TWIN_LESSONS)
def test_two_years_of_the_twin_teach_the_chapters_lesson(example, lesson, epochs):
    """The twin is built so that the forecast is hard to beat and beating it takes learning; this
    shows that it is, with the book tier's check of each lesson judging the book's listing trained
    on two years of the twin (seed 0; 5-25 minutes each on 2 cores)."""
    import keras

    keras.utils.set_random_seed(0)
    run = Run(tier="smoke", seed=0, backend=keras.backend.backend(), scale=Scale(samples=0.25, max_epochs=epochs),
              data_loader=load)
    registry.all_examples()[example].func(run)
    check = golden_expectation(example, "book", name=lesson)
    assert judge(check, run.outcome.to_json()) == "passed", run.outcome.values


# -- the data-preparation helpers ------------------------------------------------------------
@pytest.fixture(scope="module")
def prepared():
    from reference_impl import ch10_timeseries

    run = Run(tier="smoke", seed=0, backend="tensorflow", scale=Scale(samples=0.018), data_loader=load)
    return ch10_timeseries, ch10_timeseries.prepare(run)


def test_window_targets_are_the_datasets_targets_in_order(prepared):
    ch10, data = prepared
    import keras

    expected = ch10.window_targets(data)
    starts = [(0, data.num_train_samples), (data.num_train_samples, data.num_train_samples + data.num_val_samples),
              (data.num_train_samples + data.num_val_samples, None)]
    for (start, end), targets in zip(starts, expected):
        dataset = keras.utils.timeseries_dataset_from_array(
            data.raw_data[:-ch10.DELAY], targets=data.temperature[ch10.DELAY:], sampling_rate=ch10.SAMPLING_RATE,
            sequence_length=ch10.SEQUENCE_LENGTH, shuffle=False, batch_size=4096, start_index=start, end_index=end)
        seen = np.concatenate([np.asarray(t) for _, t in dataset])
        assert np.array_equal(seen, targets)


def test_the_common_sense_forecast_is_the_last_input_temperature(prepared):
    ch10, data = prepared
    _, val_targets, _ = ch10.window_targets(data)
    span = ch10.SAMPLING_RATE * (ch10.SEQUENCE_LENGTH - 1)
    start = data.num_train_samples
    last_temperature = data.temperature[start + span:start + span + len(val_targets)]
    expected = float(np.mean(np.abs(last_temperature - val_targets)))
    assert ch10.evaluate_naive_method(data, data.val_dataset) == pytest.approx(expected, rel=1e-5)


def conv1d_output_weights(seed: int) -> np.ndarray:
    """The conv1d model's Dense(1) kernel as ch10_jena_conv1d draws it: its first model after the seed is set."""
    import keras

    from reference_impl.ch10_timeseries import conv1d_model

    keras.utils.set_random_seed(seed)
    return conv1d_model(14).layers[-1].get_weights()[0]


def test_the_seed_left_out_of_the_conv1d_offline_bounds_draws_an_output_layer_that_kills_the_model():
    """ch10_jena_conv1d's golden notes leave seed 3 out of its offline bounds for this reason: all eight weights
    of its output layer start negative, so the first gradients (the target in degrees lies above the untrained
    output) push every filter of the last ReLU layer below zero and only the bias learns. If Keras draws other
    initial weights, the reason no longer holds: record the offline bounds again over seeds 0-4."""
    assert (conv1d_output_weights(3) < 0).all()
    seeds = golden.load("ch10_jena_conv1d").sources["run-offline"]["seeds"]
    assert 3 not in seeds and len(seeds) >= 5, seeds
    for seed in seeds:
        assert (conv1d_output_weights(seed) > 0).any(), f"seed {seed} also starts with an all-negative output layer"
