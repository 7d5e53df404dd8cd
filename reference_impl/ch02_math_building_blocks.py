"""Chapter 2 — The mathematical building blocks of neural networks."""

from __future__ import annotations

import math
import time

import keras
import numpy as np
from keras import layers

from reference_impl import baselines
from reference_impl.api import LazyModule, Run, benchmark, example

tf = LazyModule("tensorflow")  # §2.4.4 and §2.5 use TensorFlow itself (imported on first use)


# 2.1 A first look at a neural network ---------------------------------------
@benchmark("mnist_dense", example="ch02_mnist_dense", section="2.1", title="MNIST, Dense 512 + softmax",
           input_shape=(28 * 28,), batch_size=128, loss="sparse_categorical_crossentropy", classes=10)
def mnist_dense_model() -> keras.Sequential:
    # Listing 2.2: the network architecture
    return keras.Sequential([
        layers.Dense(512, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])


@example("ch02_mnist_dense", section="2.1", title="A first look at a neural network", datasets=("mnist",))
def mnist_dense(run: Run) -> None:
    (train_images, train_labels), (test_images, test_labels) = run.data("mnist")
    run.value("train_images_shape", train_images.shape)
    run.value("train_images_dtype", str(train_images.dtype))
    run.value("first_test_label", test_labels[0])

    model = mnist_dense_model()
    model.compile(optimizer="rmsprop",
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])

    train_images = train_images.reshape((len(train_images), 28 * 28))
    train_images = train_images.astype("float32") / 255
    test_images = test_images.reshape((len(test_images), 28 * 28))
    test_images = test_images.astype("float32") / 255

    run.history("fit", model.fit(train_images, train_labels, epochs=run.epochs(5), batch_size=128))
    run.model("model", model)

    test_digits = test_images[0:10]
    predictions = model.predict(test_digits)
    run.value("predicted_first_digit", predictions[0].argmax())
    run.value("first_prediction_max_prob", predictions[0].max())
    run.value("prediction_row_sums", predictions.sum(axis=1))

    test_loss, test_acc = model.evaluate(test_images, test_labels)
    run.value("test_acc", test_acc)
    run.value("test_loss", test_loss)
    run.value("majority_class_acc", baselines.majority_class_accuracy(train_labels, test_labels))  # always the commonest digit


# 2.2–2.3 Data representations and tensor operations ---------------------------
def naive_relu(x):
    assert len(x.shape) == 2
    x = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] = max(x[i, j], 0)
    return x


def naive_add(x, y):
    assert len(x.shape) == 2
    assert x.shape == y.shape
    x = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] += y[i, j]
    return x


def naive_add_matrix_and_vector(x, y):
    assert len(x.shape) == 2
    assert len(y.shape) == 1
    assert x.shape[1] == y.shape[0]
    x = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] += y[j]
    return x


def naive_vector_dot(x, y):
    assert len(x.shape) == 1
    assert len(y.shape) == 1
    assert x.shape[0] == y.shape[0]
    z = 0.0
    for i in range(x.shape[0]):
        z += x[i] * y[i]
    return z


def naive_matrix_vector_dot(x, y):
    assert len(x.shape) == 2
    assert len(y.shape) == 1
    assert x.shape[1] == y.shape[0]
    z = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[i] += x[i, j] * y[j]
    return z


def naive_matrix_dot(x, y):
    assert len(x.shape) == 2
    assert len(y.shape) == 2
    assert x.shape[1] == y.shape[0]
    z = np.zeros((x.shape[0], y.shape[1]))
    for i in range(x.shape[0]):
        for j in range(y.shape[1]):
            row_x = x[i, :]
            column_y = y[:, j]
            z[i, j] = naive_vector_dot(row_x, column_y)
    return z


@example("ch02_tensor_ops_naive", section="2.2–2.3", title="Tensors and tensor operations, naive and vectorised",
         datasets=("mnist",))
def tensor_ops_naive(run: Run) -> None:
    # 2.2 Data representations: scalars, vectors, matrices, rank-3 tensors
    matrix = np.array([[5, 78, 2, 34, 0],
                       [6, 79, 3, 35, 1],
                       [7, 80, 4, 36, 2]])
    run.value("ranks", [np.array(12).ndim, np.array([12, 3, 6, 14, 7]).ndim, matrix.ndim,
                        np.array([matrix, matrix, matrix]).ndim])
    (train_images, train_labels), _ = run.data("mnist")
    run.value("train_images_ndim", train_images.ndim)
    run.value("train_images_dtype", str(train_images.dtype))

    # 2.2.6 Manipulating tensors in NumPy
    my_slice = train_images[10:100]
    run.value("slice_shape", my_slice.shape)
    run.value("slice_explicit_equals_short", bool(
        np.array_equal(train_images[10:100, :, :], my_slice) and np.array_equal(train_images[10:100, 0:28, 0:28], my_slice)))
    run.value("corner_crop_shape", train_images[:, 14:, 14:].shape[1:])
    run.value("centre_crop_shape", train_images[:, 7:-7, 7:-7].shape[1:])
    batch = train_images[:128]
    batch = train_images[128:256]
    n = 3
    batch = train_images[128 * n:128 * (n + 1)]
    run.value("batch_shape", batch.shape)

    # 2.3.1 Element-wise operations, naive and vectorised. Not in the listing: the naive
    # functions agree with NumPy's, on values of both signs so that the relu has work to do.
    rng = np.random.default_rng(run.seed)
    signed_x, signed_y = rng.random((20, 100)) - 0.5, rng.random((20, 100)) - 0.5
    run.value("naive_relu_max_abs_diff", np.abs(naive_relu(signed_x) - np.maximum(signed_x, 0.0)).max())
    run.value("naive_add_max_abs_diff", np.abs(naive_add(signed_x, signed_y) - (signed_x + signed_y)).max())

    x = rng.random((20, 100))
    y = rng.random((20, 100))
    repeats = run.steps(1000)
    t0 = time.time()
    for _ in range(repeats):
        z = x + y
        z = np.maximum(z, 0.0)
    run.value("vectorised_seconds", time.time() - t0)
    t0 = time.time()
    for _ in range(repeats):
        z = naive_add(x, y)
        z = naive_relu(z)
    run.value("naive_seconds", time.time() - t0)

    # 2.3.2 Broadcasting
    X = rng.random((32, 10))
    y = rng.random((10,))
    y = np.expand_dims(y, axis=0)
    Y = np.concatenate([y] * 32, axis=0)
    run.value("broadcast_by_hand_equals_numpy", bool(np.array_equal(X + Y, X + y)))
    run.value("naive_add_matrix_and_vector_max_abs_diff",
              np.abs(naive_add_matrix_and_vector(X, y[0]) - (X + y[0])).max())
    x = rng.random((64, 3, 32, 10))
    y = rng.random((32, 10))
    z = np.maximum(x, y)
    run.value("broadcast_maximum_shape", z.shape)

    # 2.3.3 Tensor product
    x = rng.random((32,))
    y = rng.random((32,))
    run.value("naive_vector_dot_abs_diff", abs(naive_vector_dot(x, y) - np.dot(x, y)))
    x = rng.random((8, 32))
    run.value("naive_matrix_vector_dot_max_abs_diff", np.abs(naive_matrix_vector_dot(x, y) - np.dot(x, y)).max())
    y = rng.random((32, 5))
    run.value("naive_matrix_dot_max_abs_diff", np.abs(naive_matrix_dot(x, y) - np.dot(x, y)).max())

    # 2.3.4 Tensor reshaping: row-major (C order)
    x = np.array([[0., 1.], [2., 3.], [4., 5.]])
    run.value("reshape_input_shape", x.shape)
    run.value("reshape_6x1", x.reshape((6, 1)))
    run.value("reshape_2x3", x.reshape((2, 3)))
    run.value("transpose_shape", np.transpose(np.zeros((300, 20))).shape)


# 2.4.4 Derivative of a tensor operation: the gradient -------------------------
@example("ch02_gradienttape_basics", section="2.4.4", title="The GradientTape in TensorFlow",
         backends=("tensorflow",))
def gradienttape_basics(run: Run) -> None:
    x = tf.Variable(0.)
    with tf.GradientTape() as tape:
        y = 2 * x + 3
    grad_of_y_wrt_x = tape.gradient(y, x)
    run.value("grad_scalar", grad_of_y_wrt_x)

    x = tf.Variable(tf.random.uniform((2, 2)))
    with tf.GradientTape() as tape:
        y = 2 * x + 3
    grad_of_y_wrt_x = tape.gradient(y, x)
    run.value("grad_matrix", grad_of_y_wrt_x)

    W = tf.Variable(tf.random.uniform((2, 2)))
    b = tf.Variable(tf.zeros((2,)))
    x = tf.random.uniform((2, 2))
    with tf.GradientTape() as tape:
        y = tf.matmul(x, W) + b
    grad_of_y_wrt_W_and_b = tape.gradient(y, [W, b])
    run.value("grad_W_and_b_shapes", [g.shape.as_list() for g in grad_of_y_wrt_W_and_b])
    # d(sum of y)/dW is x transposed times ones; d/db counts the rows.
    expected_grad_W = tf.matmul(x, tf.ones((2, 2)), transpose_a=True)
    run.value("grad_W_max_abs_diff", tf.reduce_max(tf.abs(grad_of_y_wrt_W_and_b[0] - expected_grad_W)))
    run.value("grad_b", grad_of_y_wrt_W_and_b[1])


# 2.5 Reimplementing our first example from scratch in TensorFlow --------------
class NaiveDense:
    def __init__(self, input_size, output_size, activation):
        self.activation = activation

        w_shape = (input_size, output_size)
        w_initial_value = tf.random.uniform(w_shape, minval=0, maxval=1e-1)
        self.W = tf.Variable(w_initial_value)

        b_shape = (output_size,)
        b_initial_value = tf.zeros(b_shape)
        self.b = tf.Variable(b_initial_value)

    def __call__(self, inputs):
        return self.activation(tf.matmul(inputs, self.W) + self.b)

    @property
    def weights(self):
        return [self.W, self.b]


class NaiveSequential:
    def __init__(self, layers):
        self.layers = layers

    def __call__(self, inputs):
        x = inputs
        for layer in self.layers:
            x = layer(x)
        return x

    @property
    def weights(self):
        weights = []
        for layer in self.layers:
            weights += layer.weights
        return weights


class BatchGenerator:
    def __init__(self, images, labels, batch_size=128):
        assert len(images) == len(labels)
        self.index = 0
        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        self.num_batches = math.ceil(len(images) / batch_size)

    def next(self):
        images = self.images[self.index: self.index + self.batch_size]
        labels = self.labels[self.index: self.index + self.batch_size]
        self.index += self.batch_size
        return images, labels


learning_rate = 1e-3


def update_weights(gradients, weights):
    for g, w in zip(gradients, weights):
        w.assign_sub(g * learning_rate)


def one_training_step(model, images_batch, labels_batch):
    with tf.GradientTape() as tape:
        predictions = model(images_batch)
        per_sample_losses = keras.losses.sparse_categorical_crossentropy(labels_batch, predictions)
        average_loss = tf.reduce_mean(per_sample_losses)
    gradients = tape.gradient(average_loss, model.weights)
    update_weights(gradients, model.weights)
    return average_loss


def fit(model, images, labels, epochs, batch_size=128):
    losses = []
    for epoch_counter in range(epochs):
        batch_generator = BatchGenerator(images, labels, batch_size)
        for batch_counter in range(batch_generator.num_batches):
            images_batch, labels_batch = batch_generator.next()
            loss = one_training_step(model, images_batch, labels_batch)
        losses.append(float(loss))  # the book prints it every 100 batches; we keep each epoch's last
    return {"loss": losses}


@example("ch02_mnist_from_scratch", section="2.5", title="Reimplementing our first example from scratch",
         datasets=("mnist",), backends=("tensorflow",))
def mnist_from_scratch(run: Run) -> None:
    """The book's hand-written training loop; ``fit`` returns each epoch's last batch loss
    where the book prints the loss every 100 batches."""
    model = NaiveSequential([
        NaiveDense(input_size=28 * 28, output_size=512, activation=tf.nn.relu),
        NaiveDense(input_size=512, output_size=10, activation=tf.nn.softmax),
    ])
    run.value("weight_count", len(model.weights))
    run.value("param_count", sum(int(np.prod(w.shape)) for w in model.weights))

    (train_images, train_labels), (test_images, test_labels) = run.data("mnist")
    train_images = train_images.reshape((len(train_images), 28 * 28))
    train_images = train_images.astype("float32") / 255
    test_images = test_images.reshape((len(test_images), 28 * 28))
    test_images = test_images.astype("float32") / 255
    run.value("batches_per_epoch", BatchGenerator(train_images, train_labels).num_batches)

    run.history("fit", fit(model, train_images, train_labels, epochs=run.epochs(10), batch_size=128))

    predictions = model(test_images)
    predictions = predictions.numpy()
    predicted_labels = np.argmax(predictions, axis=1)
    matches = predicted_labels == test_labels
    run.value("accuracy", matches.mean())
    run.value("majority_class_acc", baselines.majority_class_accuracy(train_labels, test_labels))  # always the commonest digit
    # Not in the listing: the test loss beside that of always answering the training digits'
    # frequencies. Plain SGD at 1e-3 lowers the loss long before the arg-max accuracy moves.
    run.value("test_loss", np.mean(keras.losses.sparse_categorical_crossentropy(test_labels, predictions)))
    run.value("class_prior_loss", baselines.class_prior_cross_entropy(train_labels, test_labels))

    # 2.5.2 The same update through a Keras optimizer gives the same weights.
    optimizer = keras.optimizers.SGD(learning_rate=1e-3)
    twin_weights = [tf.Variable(w) for w in model.weights]
    images_batch, labels_batch = train_images[:128], train_labels[:128]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels_batch, model(images_batch)))
    gradients = tape.gradient(loss, model.weights)
    update_weights(gradients, twin_weights)
    optimizer.apply_gradients(zip(gradients, model.weights))
    run.value("optimizer_vs_manual_max_abs_diff",
              max(float(tf.reduce_max(tf.abs(a - b))) for a, b in zip(model.weights, twin_weights)))
