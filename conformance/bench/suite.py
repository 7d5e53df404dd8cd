"""The benchmark items, run by pytest-benchmark in one process per device count.

``python -m conformance bench`` starts ``pytest conformance/bench/suite.py -p conformance.bench.plugin``
once per device count, because device emulation (TensorFlow logical devices, XLA's host
device count) must be arranged before the framework starts. Items:

* ``test_training_throughput[model-precision]``: build and compile the book's model under the
  precision policy inside ``devices.scope`` (MirroredStrategy / DataParallel), warm up (the
  first ``fit`` compiles), then ``benchmark.pedantic`` times ``rounds`` rounds, each one
  ``model.fit`` over ``steps`` batches of ``per-device batch × devices`` samples
  (:func:`training_round`). ``fit``
  returns host floats and a weight is read back to the host before the round ends, so device
  work is finished when the clock stops.
* ``test_matmul_ceiling[precision]``: the same device's large compiled matmul at the policy's
  compute dtype — the ceiling that utilisation is measured against (its best round).
* ``test_accuracy_gate[precision]`` (one device only): a short run in mixed precision must land
  within :data:`GATE_ACCURACY_TOLERANCE` of float32 with the same seed and data.

pytest-benchmark keeps the round times (``--benchmark-json``, ``--benchmark-save``); each item's
``extra_info`` carries what the timing means (samples per round, FLOPs per step, memory).
The options and hooks are in ``conformance.bench.plugin``.
"""

from __future__ import annotations

import math
import resource
import time
from typing import Any, Callable

import pytest

from conformance.bench import models as bench_models
from conformance.stack import devices
from conformance.stack.cluster import process_count
from conformance.bench.plugin import record

# The gate catches mixed precision that fails to learn (overflow to NaN, gradients lost to
# underflow without loss scaling), not the last digit: the held-out accuracy lands within
# 3 points of float32's and the final training loss within 0.1. On the genuine digits float32
# reaches about 92% held-out accuracy and a final loss near 0.16 (TensorFlow CPU, 2026-11-27).
GATE_ACCURACY_TOLERANCE = 0.03
GATE_LOSS_ATOL = 0.10
GATE_EPOCHS = 5
CEILING_REPEATS = 4
COMPUTE_DTYPES = {"float32": "float32", "mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}


def default_steps(flops_per_step: int, bytes_per_step: int, accelerator: bool) -> int:
    """Batches per round: about a second of work at a modest guess of the device's speed
    (50 GFLOP/s on a CPU, 20 TFLOP/s on an accelerator), with at most 512 MiB of input. Rounds
    much shorter than that (the MNIST dense model did 50 steps in 0.25 s) let the per-``fit`` set-up
    and the shared machine's hiccups into the figure."""
    target, most = (2e13, 100) if accelerator else (5e10, 200)
    by_memory = max(1, 2**29 // bytes_per_step)
    return max(1, min(most, by_memory, round(target / max(flops_per_step, 1))))


def accelerator_present() -> bool:
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.devices()[0].platform != "cpu"
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_logical_devices("GPU"))
    return False


def peak_memory() -> dict[str, Any]:
    """Peak memory of this process so far: device memory where the backend reports it, host RSS always."""
    import keras

    memory: dict[str, Any] = {"host_peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    if keras.backend.backend() == "jax":
        import jax

        # This process's first device: in a cluster, jax.devices()[0] may be another process's.
        stats = jax.local_devices()[0].memory_stats() or {}
        if "peak_bytes_in_use" in stats:
            memory["device_peak_bytes"] = int(stats["peak_bytes_in_use"])
    elif keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if tf.config.list_logical_devices("GPU"):
            memory["device_peak_bytes"] = int(tf.config.experimental.get_memory_info("GPU:0")["peak"])
    return memory


def synchronise(model: Any) -> None:
    """Wait for the device: read the last weight back to the host (its update ends each step)."""
    import keras

    keras.ops.convert_to_numpy(model.trainable_variables[-1])


def fit_input(x: Any, y: Any, global_batch: int) -> dict[str, Any]:
    """The keyword arguments that feed a round's batches to ``model.fit``.

    On TensorFlow the batches are a ``tf.data`` pipeline built and cached once: given NumPy
    arrays, every ``fit`` call converts them to tensors again (80 MB for the MNIST dense model's
    round), which cost about 10% of a round (``bench/overhead.py``). Other backends iterate
    NumPy slices with no such set-up."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return {"x": tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch).cache()}
    return {"x": x, "y": y, "batch_size": global_batch, "shuffle": False}


def training_round(model: Any, x: Any, y: Any, global_batch: int) -> Callable[[], None]:
    """One timed round: ``model.fit`` for one epoch over the round's batches, then ``synchronise``."""
    batches = fit_input(x, y, global_batch)

    def train_round() -> None:
        model.fit(**batches, epochs=1, verbose=0)
        synchronise(model)

    return train_round


def test_training_throughput(bench_model: bench_models.BenchModel, precision: str, benchmark: Any,
                             request: pytest.FixtureRequest) -> None:
    import keras

    option = request.config.option
    count = option.bench_devices
    keras.utils.disable_interactive_logging()
    keras.mixed_precision.set_global_policy(precision)
    try:
        with devices.scope(count, keras.backend.backend()) as replicas:
            model = bench_model.build()
            bench_model.compile(model)
            per_device = option.bench_batch or bench_model.batch_size
            global_batch = per_device * replicas
            flops_per_sample = bench_models.training_flops_per_sample(model)
            sample_bytes = 4 * math.prod(bench_model.input_shape)
            steps = option.bench_steps or default_steps(flops_per_sample * global_batch, sample_bytes * global_batch,
                                                        accelerator_present())
            # Across processes each feeds its own share of every global batch (Keras assembles them).
            processes = process_count()
            x, y = bench_model.batch(global_batch * steps // processes)

            fit_round = training_round(model, x, y, global_batch // processes)
            inner_round_s = []  # the round's own stopwatch: pytest-benchmark's share is its time minus this

            def train_round() -> None:
                started = time.perf_counter()
                fit_round()
                inner_round_s.append(time.perf_counter() - started)

            started = time.perf_counter()
            train_round()  # compiles the train step
            first_round_s = time.perf_counter() - started
            benchmark.pedantic(train_round, rounds=option.bench_rounds, iterations=1,
                               warmup_rounds=option.bench_warmup)
            benchmark.extra_info.update({
                "model": bench_model.name, "chapter": bench_model.chapter, "precision": precision,
                "devices": replicas, "per_device_batch": per_device, "global_batch": global_batch,
                "steps_per_round": steps, "samples_per_round": global_batch * steps,
                "flops_per_sample": flops_per_sample,
                "flops_method": "analytic: 2 per MAC of Dense/Conv layers, training = 3x forward",
                "params": model.count_params(), "first_round_s": round(first_round_s, 4),
                "inner_round_s": inner_round_s[-option.bench_rounds:],
                "optimizer": type(model.optimizer).__name__,
                "loss_scaling": type(model.optimizer).__name__ == "LossScaleOptimizer",
                "compute_dtype": model.dtype_policy.compute_dtype,
                "memory": peak_memory(),
                "platform": option.bench_platform_used,  # what the framework ran on (plugin.arrange_devices)
            })
    finally:
        keras.mixed_precision.set_global_policy("float32")
        keras.backend.clear_session()


def compiled_matmul(implementation: str) -> Any:
    """``keras.ops.matmul`` compiled by XLA (``xla``, as Keras compiles a train step on TensorFlow
    and JAX), as a plain TensorFlow graph op (``graph``: oneDNN on CPUs), or run eagerly."""
    import keras

    if implementation == "graph":
        import tensorflow as tf

        return tf.function(keras.ops.matmul)
    if implementation == "xla" and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(keras.ops.matmul, jit_compile=True)
    if implementation == "xla" and keras.backend.backend() == "jax":
        import jax

        return jax.jit(keras.ops.matmul)
    return keras.ops.matmul


PROBE_SIZE = 256
LONGEST_CEILING_MATMUL_S = 10.0


def ceiling_size(matmul: Callable[[Any, Any], Any], dtype: str, largest: int) -> int:
    """``largest``, halved while one matmul of that size would take over ``LONGEST_CEILING_MATMUL_S``
    by the rate of a small probe. A dtype the device only emulates runs at a rate flat in the size:
    PyTorch's bfloat16 matmul on an AVX2 CPU reaches about 1 GFLOP/s, where one 2048 matmul takes
    18 s and a round of the ceiling minutes."""
    import keras

    probe = keras.ops.ones((PROBE_SIZE, PROBE_SIZE), dtype=dtype)
    keras.ops.convert_to_numpy(matmul(probe, probe)[:1, :1])  # compiles, where the backend compiles
    started = time.perf_counter()
    keras.ops.convert_to_numpy(matmul(probe, probe)[:1, :1])
    probe_s = time.perf_counter() - started
    size = largest
    while size > PROBE_SIZE and probe_s * (size / PROBE_SIZE) ** 3 > LONGEST_CEILING_MATMUL_S:
        size //= 2
    return size


def test_matmul_ceiling(precision: str, implementation: str, benchmark: Any, request: pytest.FixtureRequest) -> None:
    """The device's large-matmul speed at the policy's compute dtype, for each way the backend can
    run it (``bench_plugin.MATMUL_IMPLEMENTATIONS``); the ceiling is the best round of the best
    one. On CPUs with bf16 instructions TensorFlow's graph op (oneDNN) doubles XLA's bf16 rate,
    and Keras's TensorFlow train step reaches those kernels, so XLA alone would be no ceiling."""
    import keras
    import numpy as np

    dtype = COMPUTE_DTYPES[precision]
    matmul = compiled_matmul(implementation)
    size = request.config.option.bench_ceiling_size or ceiling_size(matmul, dtype, 8192 if accelerator_present() else 2048)
    rng = np.random.default_rng(0)
    a = keras.ops.convert_to_tensor(rng.random((size, size), dtype=np.float32), dtype=dtype)
    b = keras.ops.convert_to_tensor(rng.random((size, size), dtype=np.float32), dtype=dtype)

    def matmuls() -> None:
        for _ in range(CEILING_REPEATS):
            c = matmul(a, b)
        keras.ops.convert_to_numpy(c[:1, :1])  # waits for the device

    benchmark.pedantic(matmuls, rounds=request.config.option.bench_rounds, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update({"kind": "ceiling", "devices": request.config.option.bench_devices,
                                 "precision": precision, "dtype": dtype, "size": size, "implementation": implementation,
                                 "flops_per_round": CEILING_REPEATS * 2 * size**3,
                                 "platform": request.config.option.bench_platform_used})


def test_accuracy_gate(precision: str, request: pytest.FixtureRequest) -> None:
    """Mixed precision must learn what float32 learns: same seed, same data, same epochs."""
    import keras

    from reference_impl.api import DatasetUnavailable

    spec = bench_models.get("mnist_dense")
    try:
        x_train, y_train, x_test, y_test = bench_models.gate_data()
    except DatasetUnavailable as error:
        pytest.fail(f"the accuracy gate trains on genuine MNIST digits: {error}; or pass --no-gate")
    keras.utils.disable_interactive_logging()
    results = {}
    for policy in ("float32", precision):
        keras.mixed_precision.set_global_policy(policy)
        keras.utils.set_random_seed(0)
        try:
            model = spec.build()
            model.compile(optimizer="rmsprop", loss=spec.loss, metrics=["accuracy"])
            history = model.fit(x_train, y_train, epochs=GATE_EPOCHS, batch_size=spec.batch_size, shuffle=False,
                                verbose=0)
            loss, accuracy = model.evaluate(x_test, y_test, batch_size=512, verbose=0)
            results[policy] = {"test_loss": float(loss), "test_accuracy": float(accuracy),
                               "train_loss": [float(v) for v in history.history["loss"]],
                               "optimizer": type(model.optimizer).__name__}
        finally:
            keras.mixed_precision.set_global_policy("float32")
            keras.backend.clear_session()
    verdict = gate_verdict(results["float32"], results[precision])
    record(request.config, {"kind": "gate", "model": spec.name, "precision": precision, "epochs": GATE_EPOCHS,
                             "seed": 0, "float32": results["float32"], "mixed": results[precision], **verdict})
    assert verdict["passed"], verdict["message"]


def gate_verdict(reference: dict[str, Any], mixed: dict[str, Any]) -> dict[str, Any]:
    """Mixed within :data:`GATE_ACCURACY_TOLERANCE` (held-out accuracy) and :data:`GATE_LOSS_ATOL`
    (final training loss) of float32; a NaN loss fails."""
    accuracy_gap = mixed["test_accuracy"] - reference["test_accuracy"]
    loss_gap = mixed["train_loss"][-1] - reference["train_loss"][-1]
    passed = abs(accuracy_gap) <= GATE_ACCURACY_TOLERANCE and abs(loss_gap) <= GATE_LOSS_ATOL  # False for NaN
    message = (f"held-out accuracy {mixed['test_accuracy']:.4f} vs float32 {reference['test_accuracy']:.4f} "
               f"(gap {accuracy_gap:+.4f}, tolerance ±{GATE_ACCURACY_TOLERANCE}); final training loss "
               f"{mixed['train_loss'][-1]:.4f} vs {reference['train_loss'][-1]:.4f} (gap {loss_gap:+.4f}, "
               f"tolerance ±{GATE_LOSS_ATOL})")
    return {"passed": passed, "accuracy_gap": accuracy_gap, "loss_gap": loss_gap,
            "tolerance": {"accuracy": GATE_ACCURACY_TOLERANCE, "final_train_loss": GATE_LOSS_ATOL},
            "message": message}
