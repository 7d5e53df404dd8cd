"""Each fault of the catalogue changes what its description says, on a tiny model built here.

``test_each_fault_of_the_catalogue_does_what_it_says`` runs once per fault of ``faults.toml``
(its ids are read when pytest collects), and fails for a fault that has no effect check below:
a new ``[[fault]]`` block needs one. Each check first shows the behaviour without the fault,
then plants the fault with ``faults.planted`` (as ``run --fault`` does) and shows it changed,
so a fault made a no-op (a wrong ``when``, a target dropped, a ``becomes`` equal to the
default) fails here instead of scoring as "missed" in a 40-minute sensitivity run. Nothing
trains beyond a step or two; the models run eagerly.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pytest

from conformance.sensitivity import faults

EFFECTS: dict[str, Callable[[], None]] = {}


def effect(fault_id: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Registers the check of what fault ``fault_id`` changes."""
    def register(check: Callable[[], None]) -> Callable[[], None]:
        assert fault_id not in EFFECTS, f"two effect checks for {fault_id}"
        EFFECTS[fault_id] = check
        return check
    return register


def planted(fault_id: str):
    return faults.planted(faults.get(fault_id))


@pytest.mark.parametrize("fault_id", list(faults.load_catalogue()))
def test_each_fault_of_the_catalogue_does_what_it_says(fault_id):
    assert fault_id in EFFECTS, (f"fault {fault_id!r} has no check of its effect: add one to {__file__} "
                                 f"with @effect({fault_id!r})")
    EFFECTS[fault_id]()


def test_every_effect_check_names_a_fault_of_the_catalogue():
    assert sorted(set(EFFECTS) - set(faults.load_catalogue())) == []


# -- activations -------------------------------------------------------------------------------
def activation_layers(activation: str) -> dict[str, object]:
    import keras

    return {"Dense": keras.layers.Dense(2, activation=activation),
            "Conv2D": keras.layers.Conv2D(2, 3, activation=activation),
            "SeparableConv2D": keras.layers.SeparableConv2D(2, 3, activation=activation),
            "Activation": keras.layers.Activation(activation)}


@effect("relu-dropped")
def relu_dropped() -> None:
    import keras

    assert {name: layer.activation for name, layer in activation_layers("relu").items()} == dict.fromkeys(
        ["Dense", "Conv2D", "SeparableConv2D", "Activation"], keras.activations.relu)
    with planted("relu-dropped") as tally:
        layers = activation_layers("relu")
        untouched = keras.layers.Dense(2, activation="tanh")
    assert {name: layer.activation for name, layer in layers.items()} == dict.fromkeys(layers, keras.activations.linear)
    assert untouched.activation is keras.activations.tanh
    assert tally.hits == 4
    out = layers["Dense"](np.array([[-3.0, -2.0]], "float32"))  # a negative pre-activation is not clipped to 0
    kernel, bias = (np.asarray(w) for w in layers["Dense"].weights)
    np.testing.assert_allclose(np.asarray(out), np.array([[-3.0, -2.0]]) @ kernel + bias, rtol=1e-5)


@effect("softmax-dropped")
def softmax_dropped() -> None:
    import keras

    x = np.array([[1.0, -2.0, 0.5]], "float32")
    clean = keras.layers.Dense(4, activation="softmax")
    assert clean.activation is keras.activations.softmax
    assert float(np.asarray(clean(x)).sum()) == pytest.approx(1.0, abs=1e-5)
    with planted("softmax-dropped") as tally:
        classifier = keras.layers.Dense(4, activation="softmax")
        hidden = keras.layers.Dense(4, activation="relu")
    assert classifier.activation is keras.activations.linear and hidden.activation is keras.activations.relu
    assert tally.hits == 1
    logits = np.asarray(classifier(x))  # raw scores: no longer a probability distribution
    kernel, bias = (np.asarray(w) for w in classifier.weights)
    np.testing.assert_allclose(logits, x @ kernel + bias, rtol=1e-5)


@effect("sigmoid-dropped")
def sigmoid_dropped() -> None:
    import keras

    def layers() -> dict[str, object]:
        return {"Dense": keras.layers.Dense(1, activation="sigmoid"),
                "Conv2D": keras.layers.Conv2D(1, 3, activation="sigmoid")}

    assert {name: layer.activation for name, layer in layers().items()} == dict.fromkeys(
        ["Dense", "Conv2D"], keras.activations.sigmoid)
    with planted("sigmoid-dropped") as tally:
        planted_layers = layers()
        softmax = keras.layers.Dense(2, activation="softmax")
    assert {name: layer.activation for name, layer in planted_layers.items()} == dict.fromkeys(
        ["Dense", "Conv2D"], keras.activations.linear)
    assert softmax.activation is keras.activations.softmax
    assert tally.hits == 2
    out = np.asarray(planted_layers["Dense"](np.array([[40.0], [-40.0]], "float32")))
    assert out.max() > 1 or out.min() < 0  # no longer squashed into (0, 1)


# -- optimizers ---------------------------------------------------------------------------------
def learning_rates() -> dict[str, float]:
    """RMSprop with its learning rate given, Adam and SGD with their defaults (0.001, 0.01), and
    RMSprop as compile(optimizer="rmsprop") builds it."""
    import keras

    return {"RMSprop(1e-2)": float(keras.optimizers.RMSprop(learning_rate=1e-2).learning_rate),
            "Adam()": float(keras.optimizers.Adam().learning_rate),
            "SGD()": float(keras.optimizers.SGD().learning_rate),
            "'rmsprop'": float(keras.optimizers.get("rmsprop").learning_rate)}


CLEAN_LEARNING_RATES = {"RMSprop(1e-2)": 1e-2, "Adam()": 1e-3, "SGD()": 1e-2, "'rmsprop'": 1e-3}


def assert_learning_rates_scaled(fault_id: str, factor: float) -> None:
    assert learning_rates() == pytest.approx(CLEAN_LEARNING_RATES)
    with planted(fault_id) as tally:
        scaled = learning_rates()
    assert scaled == pytest.approx({name: rate * factor for name, rate in CLEAN_LEARNING_RATES.items()})
    assert tally.hits == 4


@effect("learning-rate-100x")
def learning_rate_100x() -> None:
    assert_learning_rates_scaled("learning-rate-100x", 100.0)


@effect("learning-rate-100x-smaller")
def learning_rate_100x_smaller() -> None:
    assert_learning_rates_scaled("learning-rate-100x-smaller", 0.01)


# -- fit ----------------------------------------------------------------------------------------
def tiny_model(loss: object = "mean_squared_error"):
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(1e-3), loss, run_eagerly=True)
    return model


@effect("labels-shuffled")
def labels_shuffled() -> None:
    seen: list[np.ndarray] = []

    def recording_loss(y_true, y_pred):  # what the training step was given as targets
        import keras

        seen.append(np.asarray(y_true).ravel())
        return keras.ops.mean(keras.ops.square(y_true - y_pred))

    x = np.arange(40, dtype="float32").reshape(20, 2)
    y = np.arange(20, dtype="float32")
    tiny_model(recording_loss).fit(x, y, epochs=1, batch_size=20, shuffle=False, verbose=0)
    np.testing.assert_array_equal(seen.pop(), y)
    with planted("labels-shuffled") as tally:
        tiny_model(recording_loss).fit(x, y, epochs=1, batch_size=20, shuffle=False, verbose=0)
    shuffled = seen.pop()
    assert sorted(shuffled) == list(y) and (shuffled != y).mean() > 0.8  # the same labels, not with their inputs
    assert tally.hits == 1


@effect("one-epoch")
def one_epoch() -> None:
    x, y = np.ones((2, 2), "float32"), np.ones((2, 1), "float32")
    assert len(tiny_model().fit(x, y, epochs=3, verbose=0).history["loss"]) == 3
    with planted("one-epoch") as tally:
        history = tiny_model().fit(x, y, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1 and history.params["epochs"] == 1
    assert tally.hits == 1


# -- frozen layers ------------------------------------------------------------------------------
@effect("dense-frozen")
def dense_frozen() -> None:
    import keras

    clean = keras.layers.Dense(3)
    clean.build((None, 2))
    assert clean.trainable and len(clean.trainable_weights) == 2
    with planted("dense-frozen") as tally:
        frozen = keras.layers.Dense(3)
    frozen.build((None, 2))
    assert frozen.trainable is False and frozen.trainable_weights == [] and len(frozen.weights) == 2
    assert tally.hits == 1


@effect("conv-frozen")
def conv_frozen() -> None:
    import keras

    def convolutions() -> list[object]:
        layers = [keras.layers.Conv2D(2, 3), keras.layers.SeparableConv2D(2, 3)]
        for layer in layers:
            layer.build((None, 5, 5, 3))
        return layers

    assert [(layer.trainable, len(layer.trainable_weights)) for layer in convolutions()] == [(True, 2), (True, 3)]
    with planted("conv-frozen") as tally:
        frozen = convolutions()
        dense = keras.layers.Dense(2)
    assert [(layer.trainable, layer.trainable_weights) for layer in frozen] == [(False, []), (False, [])]
    assert dense.trainable  # densely connected layers are another fault's
    assert tally.hits == 2
    model = keras.Sequential([keras.Input((5, 5, 3)), frozen[0], keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mean_squared_error", run_eagerly=True)
    kernel = np.asarray(frozen[0].kernel).copy()
    model.fit(np.ones((2, 5, 5, 3), "float32"), np.ones((2, 1), "float32"), epochs=1, verbose=0)
    np.testing.assert_array_equal(np.asarray(frozen[0].kernel), kernel)  # a training step leaves it as it was


# -- layers that do less ----------------------------------------------------------------------
@effect("dropout-ignored")
def dropout_ignored() -> None:
    import keras

    ones = np.ones((4, 100), "float32")
    dropped = np.asarray(keras.layers.Dropout(0.5, seed=1)(ones, training=True))
    assert (dropped == 0).mean() > 0.3  # in training, half the units are zeroed, the rest scaled by 2
    with planted("dropout-ignored") as tally:
        layer = keras.layers.Dropout(0.5, seed=1)
        kept = np.asarray(layer(ones, training=True))
    assert layer.rate == 0.0
    np.testing.assert_array_equal(kept, ones)
    assert tally.hits == 1


@effect("weight-regularizer-ignored")
def weight_regularizer_ignored() -> None:
    import keras

    def regularized() -> list[object]:
        layers = [keras.layers.Dense(2, kernel_regularizer=keras.regularizers.l2(0.1)),
                  keras.layers.Conv2D(2, 3, kernel_regularizer=keras.regularizers.l2(0.1))]
        layers[0](np.ones((1, 3), "float32"))
        layers[1](np.ones((1, 5, 5, 3), "float32"))
        return layers

    assert [len(layer.losses) for layer in regularized()] == [1, 1]  # the penalty joins the loss
    with planted("weight-regularizer-ignored") as tally:
        layers = regularized()
    assert [(layer.kernel_regularizer, layer.losses) for layer in layers] == [(None, []), (None, [])]
    assert tally.hits == 2


@effect("augmentation-ignored")
def augmentation_ignored() -> None:
    import keras

    images = np.random.RandomState(0).rand(8, 8, 8, 3).astype("float32")

    def augmenters() -> list[object]:
        return [keras.layers.RandomFlip("horizontal_and_vertical", seed=1),
                keras.layers.RandomRotation(0.4, seed=1), keras.layers.RandomZoom(0.5, seed=1)]

    for layer in augmenters():
        assert not np.allclose(np.asarray(layer(images, training=True)), images), type(layer).__name__
    with planted("augmentation-ignored") as tally:
        for layer in augmenters():
            np.testing.assert_array_equal(np.asarray(layer(images, training=True)), images)
    assert tally.hits == 3


@effect("pooling-dropped")
def pooling_dropped() -> None:
    import keras

    images = np.random.RandomState(0).rand(2, 8, 8, 3).astype("float32")
    assert np.asarray(keras.layers.MaxPooling2D()(images)).shape == (2, 4, 4, 3)
    with planted("pooling-dropped") as tally:
        out = np.asarray(keras.layers.MaxPooling2D()(images))
    np.testing.assert_array_equal(out, images)  # no downsampling: the input, whole
    assert tally.hits == 1


@effect("batchnorm-ignored")
def batchnorm_ignored() -> None:
    import keras

    x = (np.random.RandomState(0).rand(16, 4) * 5 + 3).astype("float32")
    clean = keras.layers.BatchNormalization()
    normalised = np.asarray(clean(x, training=True))
    assert np.abs(normalised.mean(axis=0)).max() < 1e-3 and np.abs(np.asarray(clean.moving_mean)).max() > 0.01
    with planted("batchnorm-ignored") as tally:
        layer = keras.layers.BatchNormalization()
        out = np.asarray(layer(x, training=True))
    np.testing.assert_array_equal(out, x)  # identity in training
    np.testing.assert_array_equal(np.asarray(layer.moving_mean), np.zeros(4))  # and no statistics gathered
    assert tally.hits == 1


# -- the loss ------------------------------------------------------------------------------------
def evaluated_loss(loss: str, units: int, targets: np.ndarray) -> float:
    """The compiled loss on predictions of exactly 0.5 (zero inputs, zero bias): a cross-entropy
    gives log 2, mean squared error 0.25, whichever of the three cross-entropies is asked."""
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units, activation="sigmoid" if units == 1
                                                                      else "softmax")])
    model.compile("rmsprop", loss, run_eagerly=True)
    return float(model.evaluate(np.zeros((len(targets), 3), "float32"), targets, verbose=0))


LOSSES = {"binary_crossentropy": (1, np.array([[0.0], [1.0], [1.0], [0.0]], "float32")),
          "categorical_crossentropy": (2, np.eye(2, dtype="float32")[[0, 1, 0, 1]]),
          "sparse_categorical_crossentropy": (2, np.array([[0], [1], [0], [1]]))}  # a column: MSE broadcasts it


@effect("loss-swapped-for-mse")
def loss_swapped_for_mse() -> None:
    for loss, (units, targets) in LOSSES.items():
        assert evaluated_loss(loss, units, targets) == pytest.approx(math.log(2), rel=1e-4), loss
    with planted("loss-swapped-for-mse") as tally:
        swapped = {loss: evaluated_loss(loss, units, targets) for loss, (units, targets) in LOSSES.items()}
        kept = evaluated_loss("mean_absolute_error", 2, LOSSES["categorical_crossentropy"][1])
    assert swapped == pytest.approx(dict.fromkeys(LOSSES, 0.25), rel=1e-4)
    assert kept == pytest.approx(0.5, rel=1e-4)  # a loss that is not a cross-entropy is left alone
    assert tally.hits == 3
