"""Several processes (machines) as one JAX computation: ``jax.distributed`` through Keras.

Each process names the coordinator (process 0's ``HOST:PORT``), the process count and its own
id, and joins with ``keras.distribution.initialize``, Keras's wrapper around
``jax.distributed.initialize``. After that ``jax.devices()`` lists every process's devices, so
``devices.scope(count, "jax")`` with the global count runs ``DataParallel`` over the whole
cluster: each process feeds its own share of every batch and the gradients are all-reduced
(NCCL between GPUs, gloo between CPU processes). Join before the first JAX computation.

TensorFlow forms its clusters from ``TF_CONFIG`` (``MultiWorkerMirroredStrategy``) instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.errors import ConformanceError


class ClusterError(ConformanceError):
    pass


@dataclass(frozen=True)
class Cluster:
    coordinator: str  # HOST:PORT where process 0 serves the coordination service
    num_processes: int
    process_id: int

    def __post_init__(self) -> None:
        host, _, port = self.coordinator.rpartition(":")
        if not host or not port.isdigit():
            raise ClusterError(f"coordinator must be HOST:PORT, got {self.coordinator!r}")
        if self.num_processes < 2:
            raise ClusterError(f"a cluster needs at least 2 processes, got {self.num_processes}")
        if not 0 <= self.process_id < self.num_processes:
            raise ClusterError(f"process id must be in 0..{self.num_processes - 1}, got {self.process_id}")

    def join(self, backend: str) -> None:
        """Join the cluster: blocks until every process has joined (JAX's own time-out applies)."""
        if backend != "jax":
            raise ClusterError(f"joining processes is for the JAX backend; {backend} forms clusters otherwise "
                               "(TensorFlow: TF_CONFIG with MultiWorkerMirroredStrategy)")
        import keras

        keras.distribution.initialize(job_addresses=self.coordinator, num_processes=self.num_processes,
                                      process_id=self.process_id)

    def as_settings(self) -> dict[str, object]:
        return {"coordinator": self.coordinator, "num_processes": self.num_processes, "process_id": self.process_id}


def process_count() -> int:
    """Processes training together: ``jax.process_count()`` on JAX (1 unless joined), else 1."""
    import keras

    if keras.backend.backend() != "jax":
        return 1
    import jax

    return jax.process_count()
