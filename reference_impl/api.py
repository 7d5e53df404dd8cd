"""The small API the book's examples use: a decorator that registers them, the run
context that scales the knobs and hands out data, and the Outcome they return; a
decorator that marks a model builder as a benchmark model; and a lazy import for
the TensorFlow-only listings.

An example states the book's numbers (``run.epochs(20)``); the engine decides the
tier and passes a :class:`Scale`. Nothing here checks anything: the examples only
observe, and ``conformance`` compares the observations with ``golden/``.
"""

from __future__ import annotations

import functools
import importlib
import math
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable

ANY_BACKEND = ("tensorflow", "jax", "torch")
TIERS = ("smoke", "offline", "book")


@dataclass(frozen=True)
class ExampleSpec:
    """What the registry knows about one example, before running it."""

    id: str
    chapter: int
    section: str
    title: str
    datasets: tuple[str, ...]
    backends: tuple[str, ...]
    needs: tuple[str, ...]  # pretrained weights or downloads the book tier needs
    func: Callable[["Run"], None]
    backends_reason: str = "uses TensorFlow directly"  # why it runs on ``backends`` only

    @property
    def module(self) -> str:
        return self.func.__module__


_EXAMPLES: dict[str, ExampleSpec] = {}


def example(
    id: str,
    *,
    section: str,
    title: str,
    datasets: tuple[str, ...] = (),
    backends: tuple[str, ...] = ANY_BACKEND,
    backends_reason: str = "uses TensorFlow directly",
    needs: tuple[str, ...] = (),
) -> Callable[[Callable[["Run"], None]], Callable[["Run"], None]]:
    """Register a book example. ``backends`` lists those it runs on; an example
    that uses TensorFlow directly declares ``backends=("tensorflow",)``, any other
    restriction says why in ``backends_reason`` (a run on another backend skips with it)."""
    chapter = int(id[2:4])

    def register(func: Callable[["Run"], None]) -> Callable[["Run"], None]:
        if id in _EXAMPLES and _EXAMPLES[id].func is not func:
            raise ValueError(f"example id {id!r} is registered twice")
        _EXAMPLES[id] = ExampleSpec(
            id=id,
            chapter=chapter,
            section=section,
            title=title,
            datasets=tuple(datasets),
            backends=tuple(backends),
            needs=tuple(needs),
            func=func,
            backends_reason=backends_reason,
        )
        return func

    return register


def registered_examples() -> dict[str, ExampleSpec]:
    return dict(_EXAMPLES)


@dataclass(frozen=True)
class BenchmarkSpec:
    """A book model the benchmarks train: its builder and what the benchmark needs to feed it.

    ``example`` and ``model`` name where the book-size model's architecture facts are checked
    (``golden/<example>.json``, ``models.<model>.*``), so the benchmark and the conformance
    suite can be shown to build the same network."""

    name: str
    example: str
    model: str
    section: str
    title: str
    input_shape: tuple[int, ...]
    batch_size: int  # the book's
    loss: str
    build: Callable[[], Any]
    inputs: str = "uniform"  # uniform in [0, 1) | pixels in [0, 255] | multi-hot | tokens (word indices)
    classes: int = 2
    vocabulary: int = 0  # for inputs="tokens": indices are drawn from 1 (0 pads) to vocabulary - 1

    @property
    def chapter(self) -> int:
        return int(self.example[2:4])


_BENCHMARKS: dict[str, BenchmarkSpec] = {}


def benchmark(
    name: str,
    *,
    example: str,
    model: str = "model",
    section: str,
    title: str,
    input_shape: tuple[int, ...],
    batch_size: int,
    loss: str,
    inputs: str = "uniform",
    classes: int = 2,
    vocabulary: int = 0,
    **builder_kwargs: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a model builder as a benchmark model, built with ``builder_kwargs`` (the book's configuration)."""

    def register(builder: Callable[..., Any]) -> Callable[..., Any]:
        if name in _BENCHMARKS and _BENCHMARKS[name].build.func is not builder:  # type: ignore[attr-defined]
            raise ValueError(f"benchmark model {name!r} is registered twice")
        _BENCHMARKS[name] = BenchmarkSpec(
            name=name, example=example, model=model, section=section, title=title, input_shape=tuple(input_shape),
            batch_size=batch_size, loss=loss, build=functools.partial(builder, **builder_kwargs), inputs=inputs,
            classes=classes, vocabulary=vocabulary)
        return builder

    return register


def registered_benchmarks() -> dict[str, BenchmarkSpec]:
    return dict(_BENCHMARKS)


class LazyModule:
    """A module imported on first use. Chapter modules name TensorFlow for their TensorFlow-only
    listings this way, so that importing a chapter (to register its examples, or to build a
    benchmark model on JAX) never starts TensorFlow."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)


@dataclass(frozen=True)
class Scale:
    """How a tier scales the book's knobs.

    ``epochs`` and ``steps`` are fractions of the book's value (rounded up, at
    least 1); ``samples`` is the fraction of a dataset's size that a synthetic twin
    generates. ``max_epochs`` caps the scaled epoch count when set. An ``epochs`` of 0
    trains for no epoch at all: the tier builds and compiles the book's model and checks
    its architecture, for a model too costly to train there.
    """

    epochs: float = 1.0
    steps: float = 1.0
    samples: float = 1.0
    max_epochs: int | None = None

    @staticmethod
    def scaled(value: int, fraction: float) -> int:
        return max(1, math.ceil(value * fraction))


@dataclass
class ModelFacts:
    params: int
    trainable_params: int
    non_trainable_params: int
    output_shape: Any
    layer_output_shapes: dict[str, Any]
    trainable_weight_tensors: int

    def to_json(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "output_shape": self.output_shape,
            "layer_output_shapes": self.layer_output_shapes,
            "trainable_weight_tensors": self.trainable_weight_tensors,
        }


@dataclass
class Outcome:
    """What one run of an example observed."""

    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    data: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "models": self.models,
            "history": self.history,
            "values": self.values,
            "data": self.data,
        }


class Unavailable(Exception):
    """Something an example needs is not on this machine; the message says what and how to get it.
    The runner reports the example as skipped with ``what`` and the message, never as failed."""

    what = "unavailable"


class DatasetUnavailable(Unavailable):
    """A dataset the run asked for cannot be had here."""

    what = "data unavailable"


class PackageUnavailable(Unavailable):
    """An optional package is not installed; the message names it and the extra that installs it."""

    what = "package missing"


class DeviceUnavailable(Unavailable):
    """The hardware an example is about (a TPU, several GPUs) is not attached."""

    what = "device missing"


class Run:
    """The context one example runs in: tier, seed, scaled knobs, data, observations."""

    def __init__(
        self,
        *,
        tier: str,
        seed: int,
        backend: str,
        scale: Scale,
        data_loader: Callable[..., Any],
    ) -> None:
        self.tier = tier
        self.seed = seed
        self.backend = backend
        self.scale = scale
        self._data_loader = data_loader
        self.outcome = Outcome()

    # -- knobs ---------------------------------------------------------------
    def epochs(self, book_epochs: int) -> int:
        if self.scale.epochs == 0:
            return 0
        n = Scale.scaled(book_epochs, self.scale.epochs)
        return min(n, self.scale.max_epochs) if self.scale.max_epochs else n

    def steps(self, book_steps: int) -> int:
        return Scale.scaled(book_steps, self.scale.steps)

    # -- data ----------------------------------------------------------------
    def data(self, name: str, **options: Any) -> Any:
        """The dataset ``name`` as this tier provides it (the book's files, a real
        offline substitute, or a synthetic twin), in the book's layout."""
        loaded = self._data_loader(
            name, tier=self.tier, seed=self.seed, samples=self.scale.samples, **options
        )
        # Keyed by the call, so a second call (a word index, another size) keeps the first's provenance.
        call = name + (f"({', '.join(f'{k}={v!r}' for k, v in sorted(options.items()))})" if options else "")
        self.outcome.data[call] = loaded.provenance
        return loaded.value

    # -- observations --------------------------------------------------------
    def model(self, name: str, model: Any) -> Any:
        """Record a built model's architecture facts; returns the model."""
        self.outcome.models[name] = model_facts(model).to_json()
        return model

    def history(self, name: str, history: Any) -> Any:
        """Record a training history (a Keras ``History`` or a dict of lists)."""
        logs = getattr(history, "history", history)
        self.outcome.history[name] = {k: [float(v) for v in vs] for k, vs in logs.items()}
        return history

    def value(self, name: str, value: Any) -> Any:
        """Record a named value (a metric, a shape, a gradient); returns it."""
        self.outcome.values[name] = to_jsonable(value)
        return value


def model_facts(model: Any) -> ModelFacts:
    def count(weights: list[Any]) -> int:
        return int(sum(math.prod(w.shape) for w in weights))

    # A Sequential model given no Input is built on its first batch, and backends differ in
    # whether that batch's size stays in the shapes (JAX keeps 128 where TensorFlow has None):
    # the batch dimension is not part of the architecture, so it is recorded as None.
    def per_sample(shape: Any) -> list[int | None]:
        return [None, *shape_to_json(shape)[1:]]

    layer_shapes = {}
    for layer in model.layers:
        try:
            layer_shapes[layer.name] = per_sample(layer.output.shape)
        except (AttributeError, ValueError):  # subclassed or unbuilt layers have no symbolic output
            continue
    try:
        output_shape = per_sample(model.output.shape)
    except (AttributeError, ValueError):
        output_shape = None
    return ModelFacts(
        params=count(model.weights),
        trainable_params=count(model.trainable_weights),
        non_trainable_params=count(model.non_trainable_weights),
        output_shape=output_shape,
        layer_output_shapes=layer_shapes,
        trainable_weight_tensors=len(model.trainable_weights),
    )


def shape_to_json(shape: Any) -> list[int | None]:
    return [None if d is None else int(d) for d in tuple(shape)]


def to_jsonable(value: Any) -> Any:
    """Plain-JSON form of numbers, arrays, tensors, tuples and dicts of them, in Python's own types
    (a NumPy scalar or string becomes a ``float``, ``int``, ``bool`` or ``str``)."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "numpy") and callable(value.numpy):  # eager tensors, variables
        value = value.numpy()
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if hasattr(value, "__array__"):  # jax arrays
        import numpy as np

        return np.asarray(value).tolist()
    for plain in (bool, int, float, str):  # other subclasses of them (an IntEnum, a str Enum)
        if isinstance(value, plain):
            return str.__str__(value) if plain is str else plain(value)  # str() of a str Enum is its name
    raise TypeError(f"cannot record a value of type {type(value).__name__}")
