"""One worker of the multi-worker test (``test_multiworker.py`` starts two): run as
``python tests/multiworker_worker.py OUT.json`` with ``TF_CONFIG`` naming the worker and
``KERAS_BACKEND=tensorflow``."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from conformance.bench import models as bench_models


def train_multiworker(out: Path, model_name: str = "mnist_dense", steps: int = 4, per_worker_batch: int = 16) -> None:
    """One worker of a ``tf.distribute.MultiWorkerMirroredStrategy`` cluster (``TF_CONFIG`` names it):
    train ``steps`` steps of a benchmark model on data every worker generates alike, then write
    the losses and the weights' checksums to ``out`` so the workers can be compared.

    Keras 3.15's ``fit`` fails under this strategy on TensorFlow 2.21 (its symbolic build reduces
    the first distributed batch with ``strategy.reduce``, which cannot convert the per-replica
    value across workers; known upstream as keras-team/keras#20585 and tensorflow/tensorflow#72388),
    so the step is the model's own ``train_step`` run by the strategy.
    """
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    spec = bench_models.get(model_name)
    with strategy.scope():
        model = spec.build()
        spec.compile(model)
        model.optimizer.build(model.trainable_variables)
    global_batch = per_worker_batch * strategy.num_replicas_in_sync
    x, y = spec.batch(global_batch * steps, seed=0)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch)  # sharded by the strategy
    batches = iter(strategy.experimental_distribute_dataset(dataset))

    @tf.function
    def train_step(batch: Any) -> Any:
        logs = strategy.run(model.train_step, args=(batch,))
        return strategy.reduce("MEAN", logs["loss"], axis=None)

    losses = [float(train_step(next(batches))) for _ in range(steps)]
    weights = [np.asarray(v) for v in model.trainable_variables]
    Path(out).write_text(json.dumps({
        "workers": strategy.cluster_resolver.cluster_spec().num_tasks("worker"),
        "task": strategy.cluster_resolver.task_id, "replicas": strategy.num_replicas_in_sync, "losses": losses,
        "weight_sums": [float(w.sum()) for w in weights], "weight_bytes_sha256": _digest(weights),
    }))


def _digest(arrays: list[Any]) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(array.tobytes())
    return digest.hexdigest()


if __name__ == "__main__":
    train_multiworker(Path(sys.argv[1]))
