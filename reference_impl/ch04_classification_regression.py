"""Chapter 4 — Getting started with neural networks: classification and regression.

The Python book's listings (DLwP 2e): validation sets are the first samples of the
training set and the K folds of §4.3 are contiguous (the R book draws its folds at
random). Where a tier generates fewer samples than the book's dataset, a
fixed count such as "the first 10,000 reviews" keeps its share of the data
(:func:`book_share`), which is the book's count exactly on the book's data.
"""

from __future__ import annotations

import copy

import keras
import numpy as np
from keras import layers

from reference_impl import baselines
from reference_impl.api import Run, benchmark, example


def book_share(book_count: int, book_size: int, size: int) -> int:
    """The book's ``book_count`` of its ``book_size`` samples, for a dataset of ``size``."""
    return size * book_count // book_size


def vectorize_sequences(sequences: np.ndarray, dimension: int = 10000) -> np.ndarray:
    results = np.zeros((len(sequences), dimension))
    for i, sequence in enumerate(sequences):
        for j in sequence:
            results[i, j] = 1.
    return results


# 4.1 Classifying movie reviews: a binary classification example ----------------
# 4.1.3 Building the model
@benchmark("imdb_dense", example="ch04_imdb_binary", section="4.1.3", title="IMDB, Dense 16-16-1 on multi-hot words",
           input_shape=(10000,), batch_size=512, loss="binary_crossentropy", inputs="multi-hot")
def imdb_model() -> keras.Sequential:
    return keras.Sequential([
        layers.Dense(16, activation="relu"),
        layers.Dense(16, activation="relu"),
        layers.Dense(1, activation="sigmoid")
    ])


@example("ch04_imdb_binary", section="4.1", title="Classifying movie reviews: a binary classification example",
         datasets=("imdb",))
def imdb_binary(run: Run) -> None:
    # 4.1.1 The IMDB dataset
    (train_data, train_labels), (test_data, test_labels) = run.data("imdb", num_words=10000)
    run.value("train_samples", len(train_data))
    run.value("first_label", train_labels[0])
    run.value("max_word_index", max([max(sequence) for sequence in train_data]))

    word_index = run.data("imdb", word_index=True)
    reverse_word_index = dict(
        [(value, key) for (key, value) in word_index.items()])
    decoded_review = " ".join(
        [reverse_word_index.get(i - 3, "?") for i in train_data[0]])
    run.value("decoded_review_words", len(decoded_review.split()))
    run.value("first_review_length", len(train_data[0]))

    # 4.1.2 Preparing the data: multi-hot encoding
    x_train = vectorize_sequences(train_data)
    x_test = vectorize_sequences(test_data)
    run.value("x_train_width", x_train.shape[1])
    y_train = np.asarray(train_labels).astype("float32")
    y_test = np.asarray(test_labels).astype("float32")

    # 4.1.3 Building the model
    model = imdb_model()
    model.compile(optimizer="rmsprop",
                  loss="binary_crossentropy",
                  metrics=["accuracy"])

    # 4.1.4 Validating the approach: the first 10,000 reviews
    num_validation = book_share(10000, 25000, len(x_train))
    x_val = x_train[:num_validation]
    partial_x_train = x_train[num_validation:]
    y_val = y_train[:num_validation]
    partial_y_train = y_train[num_validation:]
    history = model.fit(partial_x_train,
                        partial_y_train,
                        epochs=run.epochs(20),
                        batch_size=512,
                        validation_data=(x_val, y_val))
    run.history("fit", history)
    run.model("model", model)

    # Retraining a model from scratch for the 4 epochs before it overfits
    model = imdb_model()
    model.compile(optimizer="rmsprop",
                  loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=run.epochs(4), batch_size=512)
    results = model.evaluate(x_test, y_test)
    run.value("test_loss", results[0])
    run.value("test_acc", results[1])
    run.value("majority_class_acc", baselines.majority_class_accuracy(y_train, y_test))  # always the commonest label

    # 4.1.5 Using a trained model to generate predictions on new data
    predictions = model.predict(x_test)
    run.value("predictions_shape", predictions.shape)
    run.value("predictions_in_unit_interval", bool(((predictions >= 0) & (predictions <= 1)).all()))


# 4.2 Classifying newswires: a multiclass classification example -----------------
def to_one_hot(labels: np.ndarray, dimension: int = 46) -> np.ndarray:
    results = np.zeros((len(labels), dimension))
    for i, label in enumerate(labels):
        results[i, label] = 1.
    return results


def reuters_model(units: int = 64) -> keras.Model:
    model = keras.Sequential([
        layers.Dense(64, activation="relu"),
        layers.Dense(units, activation="relu"),
        layers.Dense(46, activation="softmax")
    ])
    model.compile(optimizer="rmsprop",
                  loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return model


@example("ch04_reuters_multiclass", section="4.2.1–4.2.6",
         title="Classifying newswires: a multiclass classification example", datasets=("reuters",))
def reuters_multiclass(run: Run) -> None:
    # 4.2.1 The Reuters dataset
    (train_data, train_labels), (test_data, test_labels) = run.data("reuters", num_words=10000)
    run.value("train_samples", len(train_data))
    run.value("test_samples", len(test_data))
    run.value("label_of_newswire_10", train_labels[10])
    run.value("topics", len(np.unique(np.concatenate([train_labels, test_labels]))))

    word_index = run.data("reuters", word_index=True)
    reverse_word_index = dict(
        [(value, key) for (key, value) in word_index.items()])
    decoded_newswire = " ".join(
        [reverse_word_index.get(i - 3, "?") for i in train_data[0]])
    run.value("decoded_newswire_words", len(decoded_newswire.split()))
    run.value("first_newswire_length", len(train_data[0]))

    # 4.2.2 Preparing the data
    x_train = vectorize_sequences(train_data)
    x_test = vectorize_sequences(test_data)
    y_train = to_one_hot(train_labels)
    y_test = to_one_hot(test_labels)
    run.value("one_hot_matches_to_categorical", bool(
        np.array_equal(y_train, keras.utils.to_categorical(train_labels, num_classes=46))))
    y_train = keras.utils.to_categorical(train_labels)
    y_test = keras.utils.to_categorical(test_labels)

    # 4.2.3 Building the model
    model = reuters_model()

    # 4.2.4 Validating the approach: the first 1,000 newswires
    num_validation = book_share(1000, 8982, len(x_train))
    x_val = x_train[:num_validation]
    partial_x_train = x_train[num_validation:]
    y_val = y_train[:num_validation]
    partial_y_train = y_train[num_validation:]
    history = model.fit(partial_x_train,
                        partial_y_train,
                        epochs=run.epochs(20),
                        batch_size=512,
                        validation_data=(x_val, y_val))
    run.history("fit", history)
    run.model("model", model)

    # Retraining a model from scratch for the 9 epochs before it overfits
    model = reuters_model()
    model.fit(x_train,
              y_train,
              epochs=run.epochs(9),
              batch_size=512)
    results = model.evaluate(x_test, y_test)
    run.value("test_loss", results[0])
    run.value("test_acc", results[1])
    run.value("majority_class_acc", baselines.majority_class_accuracy(train_labels, test_labels))  # always the commonest topic

    # A random classifier's accuracy, the baseline to beat
    test_labels_copy = copy.copy(test_labels)
    np.random.shuffle(test_labels_copy)
    hits_array = np.array(test_labels) == np.array(test_labels_copy)
    run.value("random_baseline_acc", hits_array.mean())

    # 4.2.5 Generating predictions on new data
    predictions = model.predict(x_test)
    run.value("prediction_shape", predictions[0].shape)
    run.value("prediction_row_sums", predictions.sum(axis=1))
    run.value("first_predicted_topic", np.argmax(predictions[0]))

    # 4.2.6 A different way to handle the labels and the loss: integer labels
    y_train = np.array(train_labels)
    y_test = np.array(test_labels)
    model.compile(optimizer="rmsprop",
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    sparse_results = model.evaluate(x_test, y_test)
    run.value("sparse_test_loss", sparse_results[0])
    run.value("sparse_test_acc", sparse_results[1])


@example("ch04_reuters_bottleneck", section="4.2.7",
         title="The importance of having sufficiently large intermediate layers", datasets=("reuters",))
def reuters_bottleneck(run: Run) -> None:
    """The book compares the 4-unit bottleneck's peak validation accuracy (~71%) with
    the 64-unit model of §4.2.4 (~79–80%). So that the comparison holds in every tier
    and seed, the 64-unit model is trained here too, at the bottleneck's settings."""
    (train_data, train_labels), _ = run.data("reuters", num_words=10000)
    x_train = vectorize_sequences(train_data)
    y_train = keras.utils.to_categorical(train_labels, num_classes=46)
    num_validation = book_share(1000, 8982, len(x_train))
    x_val = x_train[:num_validation]
    partial_x_train = x_train[num_validation:]
    y_val = y_train[:num_validation]
    partial_y_train = y_train[num_validation:]

    model = keras.Sequential([
        layers.Dense(64, activation="relu"),
        layers.Dense(4, activation="relu"),
        layers.Dense(46, activation="softmax")
    ])
    model.compile(optimizer="rmsprop",
                  loss="categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(partial_x_train,
                        partial_y_train,
                        epochs=run.epochs(20),
                        batch_size=128,
                        validation_data=(x_val, y_val))
    run.history("bottleneck", history)
    run.model("bottleneck_model", model)
    run.value("majority_class_acc", baselines.majority_class_accuracy(partial_y_train, y_val))  # always the commonest topic

    # The reference: the same training with a 64-unit intermediate layer
    model = reuters_model(units=64)
    history = model.fit(partial_x_train,
                        partial_y_train,
                        epochs=run.epochs(20),
                        batch_size=128,
                        validation_data=(x_val, y_val))
    run.history("reference", history)
    run.model("reference_model", model)


# 4.3 Predicting house prices: a regression example -------------------------------
def build_model() -> keras.Model:
    model = keras.Sequential([
        layers.Dense(64, activation="relu"),
        layers.Dense(64, activation="relu"),
        layers.Dense(1)
    ])
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    return model


def smooth_curve(points: list[float], factor: float = 0.9) -> list[float]:
    """The exponential moving average the first edition's §3.7 plots (the second edition
    only drops the first 10 epochs): it lets the averaged curve's minimum show through
    the epoch-to-epoch noise. Its index 0 is epoch 11."""
    smoothed_points: list[float] = []
    for point in points:
        if smoothed_points:
            previous = smoothed_points[-1]
            smoothed_points.append(previous * factor + point * (1 - factor))
        else:
            smoothed_points.append(point)
    return smoothed_points


@example("ch04_boston_kfold", section="4.3", title="Predicting house prices: a regression example",
         datasets=("boston_housing",))
def boston_kfold(run: Run) -> None:
    # 4.3.1 The Boston housing price dataset
    (train_data, train_targets), (test_data, test_targets) = run.data("boston_housing")
    run.value("train_shape", train_data.shape)
    run.value("test_shape", test_data.shape)

    # 4.3.2 Preparing the data: feature-wise normalisation with the training statistics
    mean = train_data.mean(axis=0)
    train_data -= mean
    std = train_data.std(axis=0)
    train_data /= std
    test_data -= mean
    test_data /= std

    # 4.3.4 Validating the approach using K-fold validation
    k = 4
    num_val_samples = len(train_data) // k
    num_epochs = run.epochs(100)
    all_scores = []
    for i in range(k):
        val_data = train_data[i * num_val_samples: (i + 1) * num_val_samples]
        val_targets = train_targets[i * num_val_samples: (i + 1) * num_val_samples]
        partial_train_data = np.concatenate(
            [train_data[:i * num_val_samples],
             train_data[(i + 1) * num_val_samples:]],
            axis=0)
        partial_train_targets = np.concatenate(
            [train_targets[:i * num_val_samples],
             train_targets[(i + 1) * num_val_samples:]],
            axis=0)
        model = build_model()
        model.fit(partial_train_data, partial_train_targets,
                  epochs=num_epochs, batch_size=16, verbose=0)
        val_mse, val_mae = model.evaluate(val_data, val_targets, verbose=0)
        all_scores.append(val_mae)
    run.model("model", model)
    run.value("all_scores", all_scores)
    run.value("mean_score", np.mean(all_scores))

    # Saving the validation logs at each fold
    num_epochs = run.epochs(500)
    all_mae_histories = []
    for i in range(k):
        val_data = train_data[i * num_val_samples: (i + 1) * num_val_samples]
        val_targets = train_targets[i * num_val_samples: (i + 1) * num_val_samples]
        partial_train_data = np.concatenate(
            [train_data[:i * num_val_samples],
             train_data[(i + 1) * num_val_samples:]],
            axis=0)
        partial_train_targets = np.concatenate(
            [train_targets[:i * num_val_samples],
             train_targets[(i + 1) * num_val_samples:]],
            axis=0)
        model = build_model()
        history = model.fit(partial_train_data, partial_train_targets,
                            validation_data=(val_data, val_targets),
                            epochs=num_epochs, batch_size=16, verbose=0)
        mae_history = history.history["val_mae"]
        all_mae_histories.append(mae_history)

    # The history of successive mean K-fold validation scores; the book plots it
    # without the first 10 epochs, which are on a different scale
    average_mae_history = [
        np.mean([x[i] for x in all_mae_histories]) for i in range(num_epochs)]
    truncated_mae_history = average_mae_history[10:]
    run.value("average_mae_history", average_mae_history)
    run.value("truncated_mae_history", truncated_mae_history)
    smooth_mae_history = smooth_curve(truncated_mae_history)
    run.value("smooth_mae_history", smooth_mae_history)

    # Training the final model
    model = build_model()
    model.fit(train_data, train_targets,
              epochs=run.epochs(130), batch_size=16, verbose=0)
    test_mse_score, test_mae_score = model.evaluate(test_data, test_targets)
    run.value("test_mae_score", test_mae_score)
    run.value("mean_target_mae", baselines.mean_target_mae(train_targets, test_targets))  # always the mean training price

    # 4.3.5 Generating predictions on new data
    predictions = model.predict(test_data)
    run.value("predictions_shape", predictions.shape)
    run.value("first_house_prediction", predictions[0][0])
