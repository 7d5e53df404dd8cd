"""One process of the JAX multi-process test (``test_jax_distributed.py`` starts two): run as
``python tests/jax_distributed_worker.py OUT.json COORDINATOR NUM_PROCESSES PROCESS_ID`` with
``KERAS_BACKEND=jax`` (and, on CPU, ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` for N
devices per process)."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from conformance.bench import models as bench_models
from conformance.stack import devices
from conformance.stack.cluster import Cluster

MODEL = "mnist_dense"
STEPS = 4
PER_PROCESS_BATCH = 16


def process_share(x: np.ndarray, cluster: Cluster, steps: int, per_process_batch: int) -> np.ndarray:
    """This process's rows of every global batch (``per_process_batch × processes`` rows): process i
    feeds rows ``[i·b, (i+1)·b)`` of each, as one process would split the global batch over devices."""
    batches = x.reshape(steps, per_process_batch * cluster.num_processes, *x.shape[1:])
    start = cluster.process_id * per_process_batch
    return batches[:, start:start + per_process_batch].reshape(-1, *x.shape[1:])


def train(replicas: int, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Train the benchmark model one epoch over this process's share, data-parallel over the first
    ``replicas`` global devices (1: this process alone); the per-step losses and the weights' checksum."""
    import keras

    keras.utils.set_random_seed(0)
    spec = bench_models.get(MODEL)
    losses: list[float] = []
    record_loss = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: losses.append(float(logs["loss"])))
    with devices.scope(replicas, "jax"):
        model = spec.build()
        spec.compile(model)
        model.fit(x, y, batch_size=PER_PROCESS_BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[record_loss])
        weights = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    keras.backend.clear_session()
    return {"replicas": replicas, "losses": losses, "weight_sums": [float(w.sum()) for w in weights],
            "weight_bytes_sha256": _digest(weights)}


def train_in_cluster(out: Path, cluster: Cluster) -> None:
    """Join ``cluster`` and train twice on this process's share of the same global data: with
    ``DataParallel`` over every process's devices (gradients all-reduced: the processes must end
    alike) and with this process alone (no all-reduce: they must not, which shows the test's
    comparison would catch a cluster that does not synchronise). Writes both to ``out``."""
    cluster.join("jax")
    import jax

    x, y = bench_models.get(MODEL).batch(PER_PROCESS_BATCH * cluster.num_processes * STEPS, seed=0)
    x, y = (process_share(a, cluster, STEPS, PER_PROCESS_BATCH) for a in (x, y))
    Path(out).write_text(json.dumps({
        "process_id": jax.process_index(), "processes": jax.process_count(), "global_devices": len(jax.devices()),
        "local_devices": jax.local_device_count(),
        "synchronised": train(len(jax.devices()), x, y), "unsynchronised": train(1, x, y),
    }))


def _digest(arrays: list[Any]) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("coordinator", help="HOST:PORT of process 0")
    parser.add_argument("num_processes", type=int)
    parser.add_argument("process_id", type=int)
    args = parser.parse_args()
    train_in_cluster(args.out, Cluster(args.coordinator, args.num_processes, args.process_id))
