"""Chapter 10 — Deep learning for timeseries: forecasting the temperature 24 hours ahead.

The Python book's listings (DLwP 2e §10.2–10.4): the CSV parsed into ``raw_data`` and
``temperature``, split 50/25/25 by index (the Python book slices one array with
``start_index``/``end_index``, so the validation and test windows may start in the previous
split's last rows; the R book splits the data frame with ``round()`` into three frames, which
shifts the counts by a row and the baseline slightly), every column normalised with the
training rows' mean and standard deviation, the target ``T (degC)`` kept in degrees.

Every trained example records the common-sense forecast's MAE (the temperature now, 24 hours
before the target) on the same split it evaluates on, and each lesson of the chapter is a
comparison within one run: where a lesson compares two models, the example trains both.
Checkpoints go to a temporary folder instead of the working directory.

Deviations: every trained model gets the recipe of listings 10.11 and 10.12 (the best epoch's
checkpoint reloaded and evaluated on the test split), where the book's later listings (the dropout
LSTM's, the bidirectional LSTM's) stop at ``fit``: the validation curves are the same, and each
example has a test MAE. §10.4.3 gives the reversed-order LSTM in prose only (no listing in the
Python edition): ``ch10_jena_lstm_reversed`` is the LSTM(16) of listing 10.12 fed the windows
reversed in time, which is what the text describes.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import layers

from reference_impl import baselines
from reference_impl.api import Run, benchmark, example

SAMPLING_RATE = 6  # one sample per hour
SEQUENCE_LENGTH = 120  # the past 5 days
DELAY = SAMPLING_RATE * (SEQUENCE_LENGTH + 24 - 1)  # the target: 24 hours after the end of the sequence
BATCH_SIZE = 256


@dataclass
class Prepared:
    """What §10.2.1 leaves behind: the normalised data, the statistics and the three datasets."""

    raw_data: np.ndarray
    temperature: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    num_train_samples: int
    num_val_samples: int
    num_test_samples: int
    train_dataset: Any
    val_dataset: Any
    test_dataset: Any


# 10.2.1 Preparing the data ------------------------------------------------------------
def prepare(run: Run) -> Prepared:
    header, raw_data, temperature = run.data("jena_climate")
    raw_data = np.array(raw_data, dtype="float32")  # a copy: the loader's array is shared

    num_train_samples = int(0.5 * len(raw_data))
    num_val_samples = int(0.25 * len(raw_data))
    num_test_samples = len(raw_data) - num_train_samples - num_val_samples

    mean = raw_data[:num_train_samples].mean(axis=0)
    raw_data -= mean
    std = raw_data[:num_train_samples].std(axis=0)
    raw_data /= std

    def dataset(start_index: int, end_index: int | None) -> Any:
        return keras.utils.timeseries_dataset_from_array(
            raw_data[:-DELAY],
            targets=temperature[DELAY:],
            sampling_rate=SAMPLING_RATE,
            sequence_length=SEQUENCE_LENGTH,
            shuffle=True,
            batch_size=BATCH_SIZE,
            start_index=start_index,
            end_index=end_index)

    train_dataset = dataset(0, num_train_samples)
    val_dataset = dataset(num_train_samples, num_train_samples + num_val_samples)
    test_dataset = dataset(num_train_samples + num_val_samples, None)
    return Prepared(raw_data, np.asarray(temperature), mean, std, num_train_samples, num_val_samples,
                    num_test_samples, train_dataset, val_dataset, test_dataset)


# 10.2.2 A common-sense, non-machine-learning baseline ----------------------------------
def evaluate_naive_method(data: Prepared, dataset: Any) -> float:
    """The temperature 24 hours from now is the temperature now: the last input's ``T (degC)``,
    un-normalised (listing 10.9)."""
    total_abs_err = 0.
    samples_seen = 0
    for samples, targets in dataset:
        samples, targets = np.asarray(samples), np.asarray(targets)
        preds = samples[:, -1, 1] * data.std[1] + data.mean[1]
        total_abs_err += np.sum(np.abs(preds - targets))
        samples_seen += samples.shape[0]
    return float(total_abs_err / samples_seen)


def record_baselines(run: Run, data: Prepared) -> None:
    """The common-sense forecast on the validation and test splits the example's model is
    scored on: the trivial predictor of a series (it uses no learning, only the last value)."""
    run.value("naive_val_mae", evaluate_naive_method(data, data.val_dataset))
    run.value("naive_test_mae", evaluate_naive_method(data, data.test_dataset))
    # and the predictor that ignores the input altogether: the training windows' mean target
    train_targets, val_targets, test_targets = window_targets(data)
    run.value("mean_target_val_mae", baselines.mean_target_mae(train_targets, val_targets))
    run.value("mean_target_test_mae", baselines.mean_target_mae(train_targets, test_targets))


def window_targets(data: Prepared) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The targets of every window of the three splits, in order (window i starting at row
    start + i has the target ``temperature[start + i + DELAY]``), as the datasets hold them."""
    span = SAMPLING_RATE * (SEQUENCE_LENGTH - 1)
    last_start = len(data.raw_data) - DELAY - span  # the last window of raw_data[:-DELAY]
    bounds = [(0, data.num_train_samples), (data.num_train_samples, data.num_train_samples + data.num_val_samples),
              (data.num_train_samples + data.num_val_samples, len(data.raw_data) - DELAY)]
    return tuple(data.temperature[DELAY + start:DELAY + min(end - span, last_start)]  # type: ignore[return-value]
                 for start, end in bounds)


def fit_and_evaluate(run: Run, name: str, model: keras.Model, data: Prepared, epochs: int,
                     reverse: bool = False) -> keras.Model:
    """The book's training recipe for every model of the chapter: RMSprop, MSE loss, MAE metric,
    the best epoch's model (``ModelCheckpoint(save_best_only=True)``) reloaded and evaluated on
    the test split. Records the history ``<name>``, the best validation MAE and its epoch, and
    the test MAE. With no epoch to train (a tier that only builds the model: ``Scale.epochs`` 0)
    it compiles the model and records nothing else."""
    train, val, test = data.train_dataset, data.val_dataset, data.test_dataset
    if reverse:  # 10.4.3: the same data in reversed chronological order
        train, val, test = (ds.map(lambda samples, targets: (samples[:, ::-1, :], targets))
                            for ds in (train, val, test))
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    if epochs == 0:
        return model
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"jena_{name}.keras")
        callbacks = [keras.callbacks.ModelCheckpoint(path, save_best_only=True)]
        history = model.fit(train, epochs=epochs, validation_data=val, callbacks=callbacks)
        best = keras.models.load_model(path)
        test_mae = best.evaluate(test)[1]
    run.history(name, history)
    val_mae = [float(v) for v in history.history["val_mae"]]
    run.value(f"{name}_best_val_mae", min(val_mae))
    run.value(f"{name}_best_epoch", int(np.argmin(val_mae)) + 1)
    run.value(f"{name}_test_mae", test_mae)
    return best


# -- the chapter's models -------------------------------------------------------------
def dense_model(num_features: int = 14) -> keras.Model:
    """§10.2.3, listing 10.10."""
    inputs = keras.Input(shape=(SEQUENCE_LENGTH, num_features))
    x = layers.Flatten()(inputs)
    x = layers.Dense(16, activation="relu")(x)
    outputs = layers.Dense(1)(x)
    return keras.Model(inputs, outputs)


def conv1d_model(num_features: int = 14) -> keras.Model:
    """§10.2.4, listing 10.12."""
    inputs = keras.Input(shape=(SEQUENCE_LENGTH, num_features))
    x = layers.Conv1D(8, 24, activation="relu")(inputs)
    x = layers.MaxPooling1D(2)(x)
    x = layers.Conv1D(8, 12, activation="relu")(x)
    x = layers.MaxPooling1D(2)(x)
    x = layers.Conv1D(8, 6, activation="relu")(x)
    x = layers.GlobalAveragePooling1D()(x)
    outputs = layers.Dense(1)(x)
    return keras.Model(inputs, outputs)


@benchmark("jena_lstm", example="ch10_jena_lstm", model="lstm", section="10.2.5",
           title="Jena LSTM(16), 120 steps × 14 features", input_shape=(SEQUENCE_LENGTH, 14), batch_size=256,
           loss="mse")
def lstm_model(num_features: int = 14) -> keras.Model:
    """§10.2.5, listing 10.13."""
    inputs = keras.Input(shape=(SEQUENCE_LENGTH, num_features))
    x = layers.LSTM(16)(inputs)
    outputs = layers.Dense(1)(x)
    return keras.Model(inputs, outputs)


def dropout_lstm_model(num_features: int = 14) -> keras.Model:
    """§10.4.1, listing 10.22."""
    inputs = keras.Input(shape=(SEQUENCE_LENGTH, num_features))
    x = layers.LSTM(32, recurrent_dropout=0.25)(inputs)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1)(x)
    return keras.Model(inputs, outputs)


def unrolled_lstm(num_features: int = 14) -> keras.Model:
    """§10.4.1's sidebar on RNN runtime performance: an LSTM unrolled over its fixed-length input (the
    fragment stops at the LSTM's output; it is wrapped in a model here to be built)."""
    inputs = keras.Input(shape=(SEQUENCE_LENGTH, num_features))
    x = layers.LSTM(32, recurrent_dropout=0.2, unroll=True)(inputs)
    return keras.Model(inputs, x)


def stacked_gru_model(num_features: int = 14) -> keras.Model:
    """§10.4.2, listing 10.23."""
    inputs = keras.Input(shape=(SEQUENCE_LENGTH, num_features))
    x = layers.GRU(32, recurrent_dropout=0.5, return_sequences=True)(inputs)
    x = layers.GRU(32, recurrent_dropout=0.5)(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1)(x)
    return keras.Model(inputs, outputs)


def bidirectional_lstm_model(num_features: int = 14) -> keras.Model:
    """§10.4.3, listing 10.24."""
    inputs = keras.Input(shape=(SEQUENCE_LENGTH, num_features))
    x = layers.Bidirectional(layers.LSTM(16))(inputs)
    outputs = layers.Dense(1)(x)
    return keras.Model(inputs, outputs)


# -- examples ---------------------------------------------------------------------------
@example("ch10_jena_data_prep", section="10.2.1", title="The Jena climate data: parsing, splitting, normalising, "
         "windowing", datasets=("jena_climate",))
def jena_data_prep(run: Run) -> None:
    header, raw_data, temperature = run.data("jena_climate")
    run.value("header", header)
    run.value("rows", len(raw_data))
    run.value("columns", len(header) + 1)  # with "Date Time"
    run.value("temperature_is_column_1", bool(np.array_equal(np.asarray(temperature), np.asarray(raw_data)[:, 1])))

    # Understanding timeseries_dataset_from_array (the toy of §10.2.1)
    int_sequence = np.arange(10)
    dummy_dataset = keras.utils.timeseries_dataset_from_array(
        data=int_sequence[:-3],
        targets=int_sequence[3:],
        sequence_length=3,
        batch_size=2,
    )
    pairs = []
    for inputs, targets in dummy_dataset:
        for i in range(np.asarray(inputs).shape[0]):
            pairs.append([[int(x) for x in np.asarray(inputs)[i]], int(np.asarray(targets)[i])])
    run.value("toy_pairs", pairs)

    data = prepare(run)
    run.value("num_train_samples", data.num_train_samples)
    run.value("num_val_samples", data.num_val_samples)
    run.value("num_test_samples", data.num_test_samples)
    run.value("delay", DELAY)
    train_part = data.raw_data[:data.num_train_samples]
    run.value("train_mean_abs_max", float(np.abs(train_part.mean(axis=0)).max()))
    run.value("train_std_min", float(train_part.std(axis=0).min()))
    run.value("train_std_max", float(train_part.std(axis=0).max()))
    for samples, targets in data.train_dataset:
        run.value("samples_shape", tuple(samples.shape))
        run.value("targets_shape", tuple(targets.shape))
        break
    # The first training window's target is the temperature DELAY rows after its first row.
    first = keras.utils.timeseries_dataset_from_array(
        data.raw_data[:-DELAY], targets=data.temperature[DELAY:], sampling_rate=SAMPLING_RATE,
        sequence_length=SEQUENCE_LENGTH, shuffle=False, batch_size=1, end_index=data.num_train_samples)
    for samples, targets in first:
        run.value("first_target_is_delayed_temperature",
                  bool(np.isclose(float(np.asarray(targets)[0]), float(data.temperature[DELAY]))))
        run.value("first_window_last_row_is_row_714",
                  bool(np.allclose(np.asarray(samples)[0, -1], data.raw_data[SAMPLING_RATE * (SEQUENCE_LENGTH - 1)])))
        break


@example("ch10_jena_commonsense_baseline", section="10.2.2", title="A common-sense, non-machine-learning baseline",
         datasets=("jena_climate",))
def jena_commonsense_baseline(run: Run) -> None:
    data = prepare(run)
    run.value("val_mae", evaluate_naive_method(data, data.val_dataset))
    run.value("test_mae", evaluate_naive_method(data, data.test_dataset))


@example("ch10_jena_dense", section="10.2.3", title="A basic densely connected model", datasets=("jena_climate",))
def jena_dense(run: Run) -> None:
    data = prepare(run)
    record_baselines(run, data)
    model = run.model("dense", dense_model(data.raw_data.shape[-1]))
    fit_and_evaluate(run, "dense", model, data, epochs=run.epochs(10))


@example("ch10_jena_conv1d", section="10.2.4", title="A 1D convolutional model (and the dense model it does worse "
         "than)", datasets=("jena_climate",))
def jena_conv1d(run: Run) -> None:
    data = prepare(run)
    record_baselines(run, data)
    model = run.model("conv1d", conv1d_model(data.raw_data.shape[-1]))
    fit_and_evaluate(run, "conv1d", model, data, epochs=run.epochs(10))
    # The model of §10.2.3 on the same data, which the book finds better
    fit_and_evaluate(run, "dense", run.model("dense", dense_model(data.raw_data.shape[-1])), data,
                     epochs=run.epochs(10))


@example("ch10_jena_lstm", section="10.2.5", title="A first recurrent baseline: LSTM(16)", datasets=("jena_climate",))
def jena_lstm(run: Run) -> None:
    data = prepare(run)
    record_baselines(run, data)
    model = run.model("lstm", lstm_model(data.raw_data.shape[-1]))
    fit_and_evaluate(run, "lstm", model, data, epochs=run.epochs(10))


@example("ch10_rnn_numpy", section="10.3", title="A simple RNN in NumPy")
def rnn_numpy(run: Run) -> None:
    timesteps = 100
    input_features = 32
    output_features = 64
    inputs = np.random.random((timesteps, input_features))
    state_t = np.zeros((output_features,))
    W = np.random.random((output_features, input_features))
    U = np.random.random((output_features, output_features))
    b = np.random.random((output_features,))
    successive_outputs = []
    for input_t in inputs:
        output_t = np.tanh(np.dot(W, input_t) + np.dot(U, state_t) + b)
        successive_outputs.append(output_t)
        state_t = output_t
    final_output_sequence = np.stack(successive_outputs, axis=0)
    run.value("final_output_sequence_shape", final_output_sequence.shape)
    run.value("outputs_in_tanh_range", bool(np.all(np.abs(final_output_sequence) <= 1.0)))
    # The same recurrence as a Keras SimpleRNN with these weights gives the same sequence.
    rnn = layers.SimpleRNN(output_features, return_sequences=True)
    rnn.build((None, timesteps, input_features))
    rnn.set_weights([W.T, U.T, b])
    keras_sequence = keras.ops.convert_to_numpy(rnn(inputs[np.newaxis].astype("float32")))[0]
    run.value("keras_simple_rnn_max_abs_diff", float(np.max(np.abs(keras_sequence - final_output_sequence))))


@example("ch10_keras_rnn_shapes", section="10.3.1", title="Recurrent layers in Keras: SimpleRNN output shapes and "
         "stacking")
def keras_rnn_shapes(run: Run) -> None:
    num_features = 14
    inputs = keras.Input(shape=(None, num_features))
    outputs = layers.SimpleRNN(16)(inputs)
    run.model("any_length", keras.Model(inputs, outputs))

    num_features = 14
    steps = 120
    inputs = keras.Input(shape=(steps, num_features))
    outputs = layers.SimpleRNN(16, return_sequences=False)(inputs)
    run.value("last_output_shape", tuple(outputs.shape))
    run.model("last_output", keras.Model(inputs, outputs))

    inputs = keras.Input(shape=(steps, num_features))
    outputs = layers.SimpleRNN(16, return_sequences=True)(inputs)
    run.value("full_sequence_shape", tuple(outputs.shape))
    run.model("full_sequence", keras.Model(inputs, outputs))

    inputs = keras.Input(shape=(steps, num_features))
    x = layers.SimpleRNN(16, return_sequences=True)(inputs)
    x = layers.SimpleRNN(16, return_sequences=True)(x)
    outputs = layers.SimpleRNN(16)(x)
    run.model("stacked", keras.Model(inputs, outputs))


@example("ch10_jena_lstm_recurrent_dropout", section="10.4.1", title="Using recurrent dropout to fight overfitting "
         "(and the plain LSTM it improves on)", datasets=("jena_climate",))
def jena_lstm_recurrent_dropout(run: Run) -> None:
    data = prepare(run)
    record_baselines(run, data)
    model = run.model("dropout_lstm", dropout_lstm_model(data.raw_data.shape[-1]))
    run.model("dropout_lstm_unrolled", unrolled_lstm(data.raw_data.shape[-1]))  # shown, not trained
    fit_and_evaluate(run, "dropout_lstm", model, data, epochs=run.epochs(50))
    # The plain LSTM of §10.2.5, trained as long, which overfits sooner
    fit_and_evaluate(run, "lstm", run.model("lstm", lstm_model(data.raw_data.shape[-1])), data,
                     epochs=run.epochs(50))


@example("ch10_jena_stacked_gru", section="10.4.2", title="Stacking recurrent layers: two GRUs with recurrent dropout",
         datasets=("jena_climate",))
def jena_stacked_gru(run: Run) -> None:
    data = prepare(run)
    record_baselines(run, data)
    model = run.model("stacked_gru", stacked_gru_model(data.raw_data.shape[-1]))
    fit_and_evaluate(run, "stacked_gru", model, data, epochs=run.epochs(50))


@example("ch10_jena_lstm_reversed", section="10.4.3", title="An LSTM fed the sequences in reversed order",
         datasets=("jena_climate",))
def jena_lstm_reversed(run: Run) -> None:
    data = prepare(run)
    record_baselines(run, data)
    model = run.model("reversed_lstm", lstm_model(data.raw_data.shape[-1]))
    fit_and_evaluate(run, "reversed_lstm", model, data, epochs=run.epochs(10), reverse=True)


@example("ch10_jena_bidirectional_lstm", section="10.4.3", title="A bidirectional LSTM (and the plain LSTM it does "
         "not beat)", datasets=("jena_climate",))
def jena_bidirectional_lstm(run: Run) -> None:
    data = prepare(run)
    record_baselines(run, data)
    model = run.model("bidirectional_lstm", bidirectional_lstm_model(data.raw_data.shape[-1]))
    epochs = run.epochs(10)
    fit_and_evaluate(run, "bidirectional_lstm", model, data, epochs=epochs)
    fit_and_evaluate(run, "lstm", run.model("lstm", lstm_model(data.raw_data.shape[-1])), data, epochs=epochs)
    if epochs:  # how much better the bidirectional model's best validation MAE is than the plain LSTM's
        run.value("bidirectional_gain_over_lstm",
                  run.outcome.values["lstm_best_val_mae"] - run.outcome.values["bidirectional_lstm_best_val_mae"])
