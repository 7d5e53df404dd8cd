"""One device or several, through each framework's own engine.

TensorFlow: ``tf.distribute.MirroredStrategy``; JAX: ``keras.distribution.DataParallel``.
On a machine with fewer accelerators than asked for, the CPU is split into N
emulated devices (TensorFlow logical devices; XLA's host platform device count),
so the multi-device code path runs in CI. Emulation must be arranged before the
framework starts: call :func:`prepare` before Keras is imported.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

from conformance.errors import ConformanceError


class DeviceError(ConformanceError):
    pass


# Keras trains data-parallel through tf.distribute on TensorFlow and keras.distribution on JAX; on
# PyTorch its fit() runs on one device and Keras offers no data-parallel engine.
MULTI_DEVICE_BACKENDS = ("tensorflow", "jax")


def single_device_reason(backend: str) -> str:
    return (f"Keras runs {backend} on one device: its data-parallel engines are tf.distribute (TensorFlow) and "
            f"keras.distribution (JAX); run several devices with --backend tensorflow or jax")


def prepare(count: int, backend: str) -> None:
    """Arrange ``count`` devices for ``backend``; call before Keras is imported."""
    if count < 1:
        raise DeviceError(f"device count must be at least 1, got {count}")
    if count == 1:
        return
    if backend not in MULTI_DEVICE_BACKENDS:
        raise DeviceError(f"cannot run on {count} devices: {single_device_reason(backend)}")
    if backend == "jax":
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_force_host_platform_device_count" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={count}".strip()
    elif backend == "tensorflow":
        import tensorflow as tf

        if len(tf.config.list_physical_devices("GPU")) >= count:
            return
        cpus = tf.config.list_physical_devices("CPU")
        try:
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
            )
        except RuntimeError as error:  # the runtime started before we could split the CPU
            raise DeviceError(f"cannot emulate {count} CPU devices: TensorFlow already started ({error})") from error


def _tensorflow_devices(count: int) -> list[str]:
    import tensorflow as tf

    for kind in ("GPU", "CPU"):
        found = tf.config.list_logical_devices(kind)
        if len(found) >= count:
            return [device.name for device in found[:count]]
    raise DeviceError(f"TensorFlow sees fewer than {count} devices; call devices.prepare() before Keras starts")


def _jax_devices(count: int) -> list[object]:
    import jax

    devices = jax.devices()
    if len(devices) < count:
        raise DeviceError(
            f"JAX sees {len(devices)} device(s), {count} asked for; for CPU emulation set "
            f"XLA_FLAGS=--xla_force_host_platform_device_count={count} before JAX starts"
        )
    return devices[:count]


@contextlib.contextmanager
def scope(count: int, backend: str) -> Iterator[int]:
    """Run the body data-parallel over ``count`` devices; yields the replica count."""
    if count == 1:
        yield 1
        return
    if backend == "tensorflow":
        import tensorflow as tf

        names = _tensorflow_devices(count)
        # Collective all-reduce instances are keyed per process, so two models in one
        # process clash ("Shape mismatch in the collective instance"); emulated CPU
        # devices reduce on one device instead, which has no such keys.
        emulated = all("CPU" in name.upper() for name in names)
        strategy = tf.distribute.MirroredStrategy(
            devices=names, cross_device_ops=tf.distribute.ReductionToOneDevice() if emulated else None)
        with strategy.scope():
            yield strategy.num_replicas_in_sync
    elif backend == "jax":
        import jax
        import keras

        # Across processes (``conformance.stack.cluster``) each process feeds its own share of
        # every batch as NumPy arrays, which Keras cannot shard itself (it shards a tf.data
        # pipeline only); left on, its auto-sharding refuses them.
        keras.distribution.set_distribution(keras.distribution.DataParallel(
            devices=_jax_devices(count), auto_shard_dataset=jax.process_count() == 1))
        try:
            yield count
        finally:
            keras.distribution.set_distribution(None)
    else:
        raise DeviceError(f"cannot run on {count} devices: {single_device_reason(backend)}")
