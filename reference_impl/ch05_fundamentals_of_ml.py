"""Chapter 5 — Fundamentals of machine learning.

Each example trains the book's models side by side and records every history, so the
lessons (noise hurts, memorisation is not generalisation, capacity and regularisation
move the overfitting point) are comparisons within one run.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, regularizers

from reference_impl import baselines
from reference_impl.api import Run, example
from reference_impl.ch04_classification_regression import vectorize_sequences  # the multi-hot encoding of §4.1.2


def mnist_as_vectors(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST training images flattened to 784 values in [0, 1], as every §5 listing starts."""
    (train_images, train_labels), _ = run.data("mnist")
    train_images = train_images.reshape((len(train_images), 28 * 28))
    train_images = train_images.astype("float32") / 255
    return train_images, train_labels


def validation_split_labels(labels: np.ndarray, validation_split: float) -> tuple[np.ndarray, np.ndarray]:
    """The labels of the part ``fit(..., validation_split=...)`` trains on and of the part it holds
    out: Keras holds out the last samples, splitting at floor(n × (1 − validation_split))."""
    split_at = int(math.floor(len(labels) * (1.0 - validation_split)))
    return labels[:split_at], labels[split_at:]


def record_overfitting(run: Run, name: str, history: keras.callbacks.History) -> None:
    """What the book reads off its loss plots: the 1-based epoch of the lowest validation
    loss (``<name>_best_epoch``), how far the validation loss has risen from there by the
    last epoch (``<name>_val_loss_rise``) and how far it ends above the training loss
    (``<name>_final_loss_gap``; a weight penalty adds to both losses and cancels out here).
    Epochs whose loss is NaN or inf do not count; with none finite the values are None."""
    loss = np.asarray(history.history["loss"], dtype=float)
    val_loss = np.asarray(history.history["val_loss"], dtype=float)
    finite = np.isfinite(val_loss)
    both_finite = finite & np.isfinite(loss)
    best = int(np.argmin(np.where(finite, val_loss, np.inf))) if finite.any() else None
    run.value(f"{name}_best_epoch", None if best is None else best + 1)
    run.value(f"{name}_val_loss_rise", None if best is None else float(val_loss[finite][-1] - val_loss[best]))
    last = np.flatnonzero(both_finite)[-1] if both_finite.any() else None
    run.value(f"{name}_final_loss_gap", None if last is None else float(val_loss[last] - loss[last]))


def record_nonfinite_epochs(run: Run, name: str, history: keras.callbacks.History) -> None:
    """How many epochs reported a NaN or infinite loss or validation loss (see the docstrings)."""
    logs = history.history
    run.value(f"{name}_nonfinite_loss_epochs",
              sum(not (math.isfinite(loss) and math.isfinite(val_loss))
                  for loss, val_loss in zip(logs["loss"], logs["val_loss"])))


# 5.1.1 Underfitting and overfitting: noisy features ----------------------------
def get_model() -> keras.Model:
    model = keras.Sequential([
        layers.Dense(512, activation="relu"),
        layers.Dense(10, activation="softmax")
    ])
    model.compile(optimizer="rmsprop",
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


@example("ch05_mnist_noise_vs_zero_channels", section="5.1.1",
         title="Adding white-noise channels or all-zeros channels to MNIST", datasets=("mnist",))
def mnist_noise_vs_zero_channels(run: Run) -> None:
    """Two copies of the MNIST model, one trained on the digits with 784 channels of white
    noise appended, one with 784 channels of zeros. The book's figure: the noise channels
    end about one point lower in validation accuracy, purely through spurious correlations."""
    train_images, train_labels = mnist_as_vectors(run)

    train_images_with_noise_channels = np.concatenate(
        [train_images, np.random.random((len(train_images), 784))], axis=1)

    train_images_with_zeros_channels = np.concatenate(
        [train_images, np.zeros((len(train_images), 784))], axis=1)
    run.value("input_shape", train_images_with_noise_channels.shape)

    model = get_model()
    history_noise = model.fit(
        train_images_with_noise_channels, train_labels,
        epochs=run.epochs(10),
        batch_size=128,
        validation_split=0.2)
    run.model("noise_model", model)

    model = get_model()
    history_zeros = model.fit(
        train_images_with_zeros_channels, train_labels,
        epochs=run.epochs(10),
        batch_size=128,
        validation_split=0.2)
    run.model("zeros_model", model)

    # The book plots both validation-accuracy curves and reads the gap between them.
    run.history("noise_channels", history_noise)
    run.history("zeros_channels", history_zeros)
    run.value("majority_class_acc", baselines.majority_class_accuracy(
        *validation_split_labels(train_labels, 0.2)))  # always the commonest digit, on the held-out 20%


# 5.1.2 The nature of generalisation: fitting MNIST with shuffled labels --------
@example("ch05_mnist_shuffled_labels", section="5.1.2",
         title="Fitting an MNIST model with randomly shuffled labels", datasets=("mnist",))
def mnist_shuffled_labels(run: Run) -> None:
    """With labels shuffled there is nothing to learn, yet the model's training accuracy climbs
    (it memorises) while validation accuracy stays at chance and validation loss rises.

    A public run of the Python notebooks on TF 2.18 reported the loss becoming ``inf`` here. In float32 it stays
    finite: in this suite's runs, over 100 epochs on the 4,000 genuine offline digits (validation
    loss 2.35 → 6), and in that run's stored executed notebooks (validation loss 7.4 at epoch 100).
    S-KR's session ran chapter 4 under ``set_floatx('float16')``, where any logit or loss beyond
    65,504 is ``inf``: the likely cause, though 40 float16 epochs on the offline digits stayed
    finite here. Either way accuracy compares arg-maxes and stays a number, so the lessons are
    checked on accuracy and on the epoch of the lowest finite validation loss;
    ``values.shuffled_nonfinite_loss_epochs`` records how many epochs went non-finite.
    ``train_labels[:]`` is a view in NumPy, so as in the book the shuffle also reorders
    ``train_labels``; nothing reads them afterwards."""
    train_images, train_labels = mnist_as_vectors(run)

    random_train_labels = train_labels[:]
    np.random.shuffle(random_train_labels)

    model = keras.Sequential([
        layers.Dense(512, activation="relu"),
        layers.Dense(10, activation="softmax")
    ])
    model.compile(optimizer="rmsprop",
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(train_images, random_train_labels,
                        epochs=run.epochs(100),
                        batch_size=128,
                        validation_split=0.2)
    run.model("model", model)
    run.history("fit", history)
    record_overfitting(run, "shuffled", history)
    record_nonfinite_epochs(run, "shuffled", history)
    # What memorising must beat: always the commonest shuffled label, on the 80% the model fitted
    fitted_labels, _ = validation_split_labels(random_train_labels, 0.2)
    run.value("majority_class_train_acc", baselines.majority_class_accuracy(fitted_labels, fitted_labels))


# 5.3.1 Tuning key gradient descent parameters: the learning rate --------------
@example("ch05_mnist_learning_rate", section="5.3.1",
         title="Training MNIST with an incorrectly high learning rate, then an appropriate one",
         datasets=("mnist",))
def mnist_learning_rate(run: Run) -> None:
    """RMSprop with learning rate 1 makes steps so large that the model never gets past a
    training and validation accuracy the book puts at 30–40 %; 1e-2 trains normally.

    A public run of the Python notebooks on TF 2.18 reported NaN losses and accuracy ≈ 10 % for lr = 1. That is
    reproduced here under float16 (``keras.config.set_floatx("float16")``, as that run's chapter-4
    session did): the first RMSprop step, with zero velocity, moves every weight by
    lr / sqrt(1 - rho) ≈ 3.16, the logits reach 10^4–10^5, beyond float16's 65,504, and the
    softmax cross-entropy meets inf - inf. NaN weights make every prediction's arg-max class 0,
    hence ≈ 10 %. In float32 the loss stays finite (about 10^3 in the first epoch) and accuracy
    sticks at 27–37 %, about the book's 30–40 %, on the 4,000 genuine digits and on the same digits
    tiled to the book's 375 steps an epoch. The lesson is checked on accuracy (the lr = 1 run
    stays far below the lr = 1e-2 run), true either way; ``values.lr_1_nonfinite_loss_epochs``
    records how many of its epochs had a NaN or inf loss."""
    train_images, train_labels = mnist_as_vectors(run)

    model = keras.Sequential([
        layers.Dense(512, activation="relu"),
        layers.Dense(10, activation="softmax")
    ])
    model.compile(optimizer=keras.optimizers.RMSprop(1.),
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history_lr_1 = model.fit(train_images, train_labels,
                             epochs=run.epochs(10),
                             batch_size=128,
                             validation_split=0.2)
    run.history("lr_1", history_lr_1)
    record_nonfinite_epochs(run, "lr_1", history_lr_1)

    model = keras.Sequential([
        layers.Dense(512, activation="relu"),
        layers.Dense(10, activation="softmax")
    ])
    model.compile(optimizer=keras.optimizers.RMSprop(1e-2),
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history_lr_1e_2 = model.fit(train_images, train_labels,
                                epochs=run.epochs(10),
                                batch_size=128,
                                validation_split=0.2)
    run.model("model", model)
    run.history("lr_1e_2", history_lr_1e_2)
    record_nonfinite_epochs(run, "lr_1e_2", history_lr_1e_2)
    run.value("majority_class_acc", baselines.majority_class_accuracy(
        *validation_split_labels(train_labels, 0.2)))  # always the commonest digit, on the held-out 20%


# 5.3.3 Increasing model capacity ----------------------------------------------
@example("ch05_mnist_capacity", section="5.3.3",
         title="A logistic regression on MNIST, then a model with more capacity", datasets=("mnist",))
def mnist_capacity(run: Run) -> None:
    """The single softmax layer cannot overfit: its validation loss goes to a plateau (the book:
    0.26) and stays there. Two hidden layers of 96 units reach a lower minimum fast, then the
    validation loss turns up (the book: after 8 epochs)."""
    train_images, train_labels = mnist_as_vectors(run)

    model = keras.Sequential([layers.Dense(10, activation="softmax")])
    model.compile(optimizer="rmsprop",
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history_small_model = model.fit(
        train_images, train_labels,
        epochs=run.epochs(20),
        batch_size=128,
        validation_split=0.2)
    run.model("small_model", model)
    run.history("small_model", history_small_model)
    record_overfitting(run, "small_model", history_small_model)

    model = keras.Sequential([
        layers.Dense(96, activation="relu"),
        layers.Dense(96, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop",
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history_large_model = model.fit(
        train_images, train_labels,
        epochs=run.epochs(20),
        batch_size=128,
        validation_split=0.2)
    run.model("large_model", model)
    run.history("large_model", history_large_model)
    record_overfitting(run, "large_model", history_large_model)
    run.value("majority_class_acc", baselines.majority_class_accuracy(
        *validation_split_labels(train_labels, 0.2)))  # always the commonest digit, on the held-out 20%


# 5.4.4 Regularising your model --------------------------------------------------
def imdb_multi_hot(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """The IMDB training reviews, multi-hot encoded over the 10,000 most frequent words."""
    (train_data, train_labels), _ = run.data("imdb", num_words=10000)
    train_data = vectorize_sequences(train_data)
    return train_data, train_labels


def original_model(run: Run, train_data: np.ndarray, train_labels: np.ndarray) -> keras.callbacks.History:
    """§5.4.4's reference model (16-16-1), trained as every model of the section is."""
    model = keras.Sequential([
        layers.Dense(16, activation="relu"),
        layers.Dense(16, activation="relu"),
        layers.Dense(1, activation="sigmoid")
    ])
    model.compile(optimizer="rmsprop",
                  loss="binary_crossentropy",
                  metrics=["accuracy"])
    history_original = model.fit(train_data, train_labels,
                                 epochs=run.epochs(20), batch_size=512, validation_split=0.4)
    run.model("original_model", model)
    run.history("original", history_original)
    record_overfitting(run, "original", history_original)
    run.value("majority_class_acc", baselines.majority_class_accuracy(
        *validation_split_labels(train_labels, 0.4)))  # always the commonest label, on the held-out 40%
    return history_original


@example("ch05_imdb_model_size", section="5.4.4",
         title="Reducing the network's size: the original, a smaller and a larger IMDB model",
         datasets=("imdb",))
def imdb_model_size(run: Run) -> None:
    """The book's figures compare validation losses: the smaller model (4-4-1) starts
    overfitting later than the original (16-16-1), the larger one (512-512-1) almost
    immediately, after one epoch, and overfits much more severely."""
    train_data, train_labels = imdb_multi_hot(run)
    original_model(run, train_data, train_labels)

    model = keras.Sequential([
        layers.Dense(4, activation="relu"),
        layers.Dense(4, activation="relu"),
        layers.Dense(1, activation="sigmoid")
    ])
    model.compile(optimizer="rmsprop",
                  loss="binary_crossentropy",
                  metrics=["accuracy"])
    history_smaller_model = model.fit(
        train_data, train_labels,
        epochs=run.epochs(20), batch_size=512, validation_split=0.4)
    run.model("smaller_model", model)
    run.history("smaller", history_smaller_model)
    record_overfitting(run, "smaller", history_smaller_model)

    model = keras.Sequential([
        layers.Dense(512, activation="relu"),
        layers.Dense(512, activation="relu"),
        layers.Dense(1, activation="sigmoid")
    ])
    model.compile(optimizer="rmsprop",
                  loss="binary_crossentropy",
                  metrics=["accuracy"])
    history_larger_model = model.fit(
        train_data, train_labels,
        epochs=run.epochs(20), batch_size=512, validation_split=0.4)
    run.model("larger_model", model)
    run.history("larger", history_larger_model)
    record_overfitting(run, "larger", history_larger_model)


@example("ch05_imdb_l2", section="5.4.4", title="Adding L2 weight regularization to the IMDB model",
         datasets=("imdb",))
def imdb_l2(run: Run) -> None:
    """The book's figure puts the L2 model's validation loss beside the original model's:
    with the same parameters it is much more resistant to overfitting. The original model
    is trained here too (the notebook keeps ``history_original`` from the previous listing)
    so the comparison is within one run."""
    train_data, train_labels = imdb_multi_hot(run)
    original_model(run, train_data, train_labels)

    model = keras.Sequential([
        layers.Dense(16,
                     kernel_regularizer=regularizers.l2(0.002),
                     activation="relu"),
        layers.Dense(16,
                     kernel_regularizer=regularizers.l2(0.002),
                     activation="relu"),
        layers.Dense(1, activation="sigmoid")
    ])
    model.compile(optimizer="rmsprop",
                  loss="binary_crossentropy",
                  metrics=["accuracy"])
    history_l2_reg = model.fit(
        train_data, train_labels,
        epochs=run.epochs(20), batch_size=512, validation_split=0.4)
    run.model("l2_model", model)
    run.history("l2", history_l2_reg)
    record_overfitting(run, "l2", history_l2_reg)
    # l2(0.002): each kernel coefficient adds 0.002 * coefficient ** 2 to the training loss.
    penalty = sum(float(keras.ops.convert_to_numpy(loss)) for loss in model.losses)
    by_hand = sum(0.002 * float(np.sum(np.square(keras.ops.convert_to_numpy(layer.kernel)))) for layer in model.layers[:2])
    run.value("l2_penalty_relative_error", abs(penalty - by_hand) / by_hand)

    # Listing 5.14: the other weight regularizers Keras offers.
    run.value("l1_config", regularizers.l1(0.001).get_config())
    run.value("l1_l2_config", regularizers.l1_l2(l1=0.001, l2=0.001).get_config())


@example("ch05_imdb_dropout", section="5.4.4", title="Adding dropout to the IMDB model", datasets=("imdb",))
def imdb_dropout(run: Run) -> None:
    """Two dropout layers at rate 0.5: the book's figure shows a clear improvement over the
    original model, whose validation loss is drawn beside it, so the original is trained
    here too and the comparison is within one run."""
    train_data, train_labels = imdb_multi_hot(run)
    original_model(run, train_data, train_labels)

    model = keras.Sequential([
        layers.Dense(16, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(16, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(1, activation="sigmoid")
    ])
    model.compile(optimizer="rmsprop",
                  loss="binary_crossentropy",
                  metrics=["accuracy"])
    history_dropout = model.fit(
        train_data, train_labels,
        epochs=run.epochs(20), batch_size=512, validation_split=0.4)
    run.model("dropout_model", model)
    run.history("dropout", history_dropout)
    record_overfitting(run, "dropout", history_dropout)
