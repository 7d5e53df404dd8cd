"""Chapter 3 — Introduction to Keras and TensorFlow."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from reference_impl import baselines
from reference_impl.api import LazyModule, Run, example

tf = LazyModule("tensorflow")  # sections 3.5.1–3.5.4 are about TensorFlow itself (imported on first use)


# 3.5.1–3.5.2 Constant tensors and variables -----------------------------------
@example("ch03_tensors_variables", section="3.5.1–3.5.2", title="Constant tensors and variables",
         backends=("tensorflow",))
def tensors_variables(run: Run) -> None:
    x = tf.ones(shape=(2, 1))
    run.value("ones", x)
    x = tf.zeros(shape=(2, 1))
    run.value("zeros", x)
    x = tf.random.normal(shape=(3, 1), mean=0., stddev=1.)
    run.value("normal_shape", x.shape.as_list())
    x = tf.random.uniform(shape=(3, 1), minval=0., maxval=1.)
    run.value("uniform_in_range", bool(tf.reduce_all((x >= 0.) & (x < 1.))))

    # NumPy arrays are assignable, TensorFlow tensors are not.
    x = np.ones(shape=(2, 2))
    x[0, 0] = 0.
    run.value("numpy_assignment", x)
    x = tf.ones(shape=(2, 2))
    try:
        x[0, 0] = 0.
        run.value("tensor_assignment_error", None)
    except TypeError as error:
        run.value("tensor_assignment_error", type(error).__name__)

    v = tf.Variable(initial_value=tf.random.normal(shape=(3, 1)))
    v.assign(tf.ones((3, 1)))
    v[0, 0].assign(3.)
    v.assign_add(tf.ones((3, 1)))
    run.value("variable_after_assignments", v)

    # Basic math
    a = tf.ones((2, 2))
    b = tf.square(a)
    c = tf.sqrt(a)
    d = b + c
    e = tf.matmul(a, b)
    e *= d
    run.value("math_result", e)

    # Shapes and reductions the R edition shows alongside (Deep Learning with R, §3.5.1)
    run.value("reshape_shape", tf.reshape(tf.range(1, 7), (-1, 3)).shape.as_list())
    m = tf.random.normal((3, 4))
    kept = tf.reduce_mean(m, axis=0, keepdims=True)
    run.value("mean_keepdims_shape", kept.shape.as_list())
    run.value("mean_keepdims_max_abs_diff", np.abs(kept.numpy() - m.numpy().mean(axis=0, keepdims=True)).max())


# 3.5.3 A second look at the GradientTape API --------------------------------
@example("ch03_gradienttape_second_order", section="3.5.3", title="GradientTape: watch and second-order gradients",
         backends=("tensorflow",))
def gradienttape_second_order(run: Run) -> None:
    input_var = tf.Variable(initial_value=3.)
    with tf.GradientTape() as tape:
        result = tf.square(input_var)
    gradient = tape.gradient(result, input_var)
    run.value("gradient_of_square_at_3", gradient)

    input_const = tf.constant(3.)
    with tf.GradientTape() as tape:
        tape.watch(input_const)
        result = tf.square(input_const)
    gradient = tape.gradient(result, input_const)
    run.value("gradient_of_watched_constant", gradient)

    time = tf.Variable(0.)
    with tf.GradientTape() as outer_tape:
        with tf.GradientTape() as inner_tape:
            position = 4.9 * time ** 2
        speed = inner_tape.gradient(position, time)
    acceleration = outer_tape.gradient(speed, time)
    run.value("acceleration", acceleration)


# 3.5.4 An end-to-end example: a linear classifier in pure TensorFlow ---------
num_samples_per_class = 1000


def two_class_points():
    """The chapter's two Gaussian point clouds and their 0/1 targets."""
    negative_samples = np.random.multivariate_normal(
        mean=[0, 3], cov=[[1, 0.5], [0.5, 1]], size=num_samples_per_class)
    positive_samples = np.random.multivariate_normal(
        mean=[3, 0], cov=[[1, 0.5], [0.5, 1]], size=num_samples_per_class)
    inputs = np.vstack((negative_samples, positive_samples)).astype(np.float32)
    targets = np.vstack((np.zeros((num_samples_per_class, 1), dtype="float32"),
                         np.ones((num_samples_per_class, 1), dtype="float32")))
    return inputs, targets


@example("ch03_linear_classifier_pure_tf", section="3.5.4", title="A linear classifier in pure TensorFlow",
         backends=("tensorflow",))
def linear_classifier_pure_tf(run: Run) -> None:
    """Deviation: the listing scores the line on the points it was fitted on; a second draw
    of the two clouds scores it on points it never saw, beside always answering the
    commonest class."""
    inputs, targets = two_class_points()
    run.value("inputs_shape", inputs.shape)
    run.value("targets_shape", targets.shape)

    input_dim = 2
    output_dim = 1
    W = tf.Variable(initial_value=tf.random.uniform(shape=(input_dim, output_dim)))
    b = tf.Variable(initial_value=tf.zeros(shape=(output_dim,)))

    def model(inputs):
        return tf.matmul(inputs, W) + b

    def square_loss(targets, predictions):
        per_sample_losses = tf.square(targets - predictions)
        return tf.reduce_mean(per_sample_losses)

    learning_rate = 0.1

    def training_step(inputs, targets):
        with tf.GradientTape() as tape:
            predictions = model(inputs)
            loss = square_loss(targets, predictions)
        grad_loss_wrt_W, grad_loss_wrt_b = tape.gradient(loss, [W, b])
        W.assign_sub(grad_loss_wrt_W * learning_rate)
        b.assign_sub(grad_loss_wrt_b * learning_rate)
        return loss

    losses = []
    for step in range(run.steps(40)):
        loss = training_step(inputs, targets)
        losses.append(float(loss))
    run.history("training", {"loss": losses})

    predictions = model(inputs)
    run.value("accuracy", np.mean((predictions.numpy() > 0.5) == (targets > 0.5)))
    # The decision line is w1 * x + w2 * y + b = 0.5; the book plots it between the clouds.
    run.value("decision_weights", W.numpy().ravel())
    # Not in the listing: a fresh draw of the two clouds, points the line was not fitted on
    test_inputs, test_targets = two_class_points()
    run.value("test_accuracy", np.mean((model(test_inputs).numpy() > 0.5) == (test_targets > 0.5)))
    run.value("majority_class_acc", baselines.majority_class_accuracy(targets, test_targets))  # always the commonest class


# 3.6.1 Layers: the building blocks of deep learning --------------------------
class SimpleDense(keras.layers.Layer):
    """The book's SimpleDense in Keras 3 form: ``ops.matmul`` where the listing has
    ``tf.matmul``, so the layer runs on every backend.

    Deviation: the listing stores ``activation`` as given, so the book's own
    ``SimpleDense(32, activation="relu")`` in 3.6.1 would call a string; resolving it
    with ``keras.activations.get`` makes both of the book's uses work."""

    def __init__(self, units, activation=None):
        super().__init__()
        self.units = units
        self.activation = keras.activations.get(activation) if activation is not None else None

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.W = self.add_weight(shape=(input_dim, self.units), initializer="random_normal")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, inputs):
        y = ops.matmul(inputs, self.W) + self.b
        if self.activation is not None:
            y = self.activation(y)
        return y


@example("ch03_simple_dense_layer", section="3.6.1", title="The base Layer class: SimpleDense")
def simple_dense_layer(run: Run) -> None:
    my_dense = SimpleDense(units=32, activation=keras.activations.relu)
    input_tensor = ops.ones(shape=(2, 784))
    output_tensor = my_dense(input_tensor)
    run.value("output_shape", tuple(output_tensor.shape))
    run.value("layer_param_count", sum(int(np.prod(w.shape)) for w in my_dense.weights))

    # Automatic shape inference: building layers on the fly
    model = keras.Sequential([
        SimpleDense(32, activation="relu"),
        SimpleDense(64, activation="relu"),
        SimpleDense(32, activation="relu"),
        SimpleDense(10, activation="softmax"),
    ])
    model(ops.ones(shape=(2, 784)))
    run.value("sequential_layer_count", len(model.layers))
    run.value("sequential_param_count", model.count_params())


# 3.6.3–3.6.7 compile(), fit(), validation data, inference -------------------------
@example("ch03_keras_compile_fit_validation", section="3.6.3–3.6.7",
         title="The compile() step, fit(), validation data and predict()")
def keras_compile_fit_validation(run: Run) -> None:
    inputs, targets = two_class_points()

    # 3.6.3 compile() with strings, then with objects
    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile(optimizer="rmsprop",
                  loss="mean_squared_error",
                  metrics=["accuracy"])
    model.compile(optimizer=keras.optimizers.RMSprop(),
                  loss=keras.losses.MeanSquaredError(),
                  metrics=[keras.metrics.BinaryAccuracy()])

    # 3.6.5 fit() with NumPy data
    history = model.fit(
        inputs,
        targets,
        epochs=run.epochs(5),
        batch_size=128
    )
    run.history("fit", history)

    # 3.6.6 Monitoring loss and metrics on validation data
    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.1),
                  loss=keras.losses.MeanSquaredError(),
                  metrics=[keras.metrics.BinaryAccuracy()])

    indices_permutation = np.random.permutation(len(inputs))
    shuffled_inputs = inputs[indices_permutation]
    shuffled_targets = targets[indices_permutation]

    num_validation_samples = int(0.3 * len(inputs))
    val_inputs = shuffled_inputs[:num_validation_samples]
    val_targets = shuffled_targets[:num_validation_samples]
    training_inputs = shuffled_inputs[num_validation_samples:]
    training_targets = shuffled_targets[num_validation_samples:]
    history = model.fit(
        training_inputs,
        training_targets,
        epochs=run.epochs(5),
        batch_size=16,
        validation_data=(val_inputs, val_targets)
    )
    run.history("fit_with_validation", history)
    run.model("model", model)

    loss_and_metrics = model.evaluate(val_inputs, val_targets, batch_size=128)
    run.value("evaluate_result_length", len(loss_and_metrics))
    run.value("val_binary_accuracy", loss_and_metrics[1])
    run.value("majority_class_acc", baselines.majority_class_accuracy(training_targets, val_targets))  # always the commonest class

    # 3.6.7 Inference: using a model after training
    predictions = model.predict(val_inputs, batch_size=128)
    run.value("predictions_shape", predictions.shape)
