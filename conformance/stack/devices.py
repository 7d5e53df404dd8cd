"""One device or several, through each framework's own engine.

TensorFlow: ``tf.distribute.MirroredStrategy``; JAX: ``keras.distribution.DataParallel``.
On a machine without accelerators the CPU is split into N emulated devices
(TensorFlow logical devices; XLA's host platform device count), so the multi-device
code path runs in CI; never where the machine has accelerators (``emulate=False``),
whose figures would otherwise be CPU figures under the accelerator's name.
Emulation must be arranged before the framework starts: call :func:`prepare` before
Keras is imported. :func:`platform_used` says what the framework actually runs on,
and :func:`check_platform` refuses a CPU where the profile names a GPU or a TPU.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator

from conformance.errors import ConformanceError


class DeviceError(ConformanceError):
    pass


# Keras trains data-parallel through tf.distribute on TensorFlow and keras.distribution on JAX; on
# PyTorch its fit() runs on one device and Keras offers no data-parallel engine.
MULTI_DEVICE_BACKENDS = ("tensorflow", "jax")


def single_device_reason(backend: str) -> str:
    return (f"Keras runs {backend} on one device: its data-parallel engines are tf.distribute (TensorFlow) and "
            f"keras.distribution (JAX); run several devices with --backend tensorflow or jax")


def prepare(count: int, backend: str, emulate: bool = True) -> None:
    """Arrange ``count`` devices for ``backend``; call before Keras is imported. With ``emulate`` the CPU is
    split into ``count`` devices where there are fewer GPUs; without, too few GPUs is an error."""
    if count < 1:
        raise DeviceError(f"device count must be at least 1, got {count}")
    if count == 1:
        return
    if backend not in MULTI_DEVICE_BACKENDS:
        raise DeviceError(f"cannot run on {count} devices: {single_device_reason(backend)}")
    if backend == "jax":
        flags = os.environ.get("XLA_FLAGS", "")
        if emulate and "xla_force_host_platform_device_count" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={count}".strip()
    elif backend == "tensorflow":
        import tensorflow as tf

        gpus = len(tf.config.list_physical_devices("GPU"))
        if gpus >= count:
            return
        if not emulate:
            raise DeviceError(f"{count} devices asked for, and TensorFlow sees {gpus} GPU(s)"
                              + (" (a CPU-only TensorFlow build, or a TPU machine: TensorFlow reaches TPUs through TPUStrategy, not as GPUs)" if not gpus else "")
                              + "; CPU devices are emulated only on a machine without accelerators")
        cpus = tf.config.list_physical_devices("CPU")
        try:
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
            )
        except RuntimeError as error:  # the runtime started before we could split the CPU
            raise DeviceError(f"cannot emulate {count} CPU devices: TensorFlow already started ({error})") from error


def expected_platform(fingerprint: dict[str, Any]) -> str:
    """What the profile says this machine computes on: ``tpu``, ``gpu`` or ``cpu`` (a TPU before a GPU, as in
    its id)."""
    return "tpu" if fingerprint.get("tpu") else "gpu" if fingerprint.get("gpu") else "cpu"


def platform_used(count: int, backend: str) -> dict[str, Any]:
    """What ``backend`` runs this process's work on over ``count`` devices, as the framework itself says:
    ``{"platform": "gpu", "device_kind": "NVIDIA H100 80GB HBM3", "devices": [...]}``. Call after
    :func:`prepare` (and after joining a cluster): it starts the framework."""
    if backend == "jax":
        import jax

        found = jax.devices()[:count]
        return {"platform": found[0].platform, "device_kind": found[0].device_kind,
                "devices": [str(device) for device in found]}
    if backend == "tensorflow":
        return _tensorflow_platform(count)
    if backend == "torch":
        from keras.src.backend.torch.core import get_device  # the device Keras puts every tensor on

        device = str(get_device())
        kind = device
        if device.startswith("cuda"):
            import torch

            kind = torch.cuda.get_device_name(0)
        return {"platform": TORCH_PLATFORMS.get(device.split(":")[0], device), "device_kind": kind,
                "devices": [device]}
    raise DeviceError(f"unknown backend {backend!r}")


TORCH_PLATFORMS = {"cuda": "gpu", "xla": "tpu"}


def _tensorflow_platform(count: int) -> dict[str, Any]:
    """On one device TensorFlow places the work on the first GPU where there is one; on several, on the
    devices :func:`scope` hands MirroredStrategy."""
    import tensorflow as tf

    if count == 1:
        gpus = tf.config.list_logical_devices("GPU")
        names = [gpus[0].name] if gpus else [tf.config.list_logical_devices("CPU")[0].name]
    else:
        names = _tensorflow_devices(count)
    platform = names[0].split(":")[-2].lower()  # "/device:GPU:0" → "gpu"
    kind = platform
    physical = tf.config.list_physical_devices("GPU")
    if platform == "gpu" and physical:
        kind = tf.config.experimental.get_device_details(physical[0]).get("device_name", platform)
    return {"platform": platform, "device_kind": kind, "devices": names}


# What to install where the framework runs on the CPU of a machine with accelerators.
_ACCELERATOR_BUILDS = {
    ("jax", "gpu"): "JAX's CUDA build (the jax-cuda extra; `nox -s benchmark-gpu` installs it)",
    ("jax", "tpu"): "JAX's TPU build (the jax-tpu extra; `nox -s benchmark-tpu` installs it)",
    ("tensorflow", "gpu"): "TensorFlow's CUDA build (the gpu extra, tensorflow[and-cuda])",
    ("torch", "gpu"): "a CUDA build of PyTorch",
}


def check_platform(expected: str, used: dict[str, Any], count: int, backend: str) -> None:
    """Refuse a process whose devices are not the profile's: CPU figures filed under a GPU's or a TPU's
    profile (a CPU-only wheel on a GPU box, a backend that does not run on TPUs) would pass for the
    accelerator's; and refuse fewer accelerators than asked for, which could only be emulated on the CPU."""
    if used["platform"] != expected:
        build = _ACCELERATOR_BUILDS.get((backend, expected))
        hint = (f"install {build}" if build else
                f"Keras does not run {backend} on a {expected.upper()} here; benchmark it with --backend jax")
        raise DeviceError(f"this machine's profile names {expected.upper()}s, but {backend} runs on "
                          f"{used['platform'].upper()} ({used['device_kind']}), so its figures would be filed as "
                          f"the {expected.upper()}'s: {hint}")
    if len(used["devices"]) < count:
        raise DeviceError(f"{count} devices asked for, and this machine has only {len(used['devices'])} "
                          f"{expected.upper()}(s) ({used['device_kind']}); CPU devices are emulated only on a "
                          f"machine without accelerators")


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
    if len(devices) >= count:
        return devices[:count]
    if devices[0].platform != "cpu":  # emulation splits a CPU, not an accelerator: name what there is
        raise DeviceError(f"{count} devices asked for, and this machine has only {len(devices)} "
                          f"{devices[0].platform.upper()}(s) ({devices[0].device_kind})")
    raise DeviceError(
        f"JAX sees {len(devices)} CPU device(s), {count} asked for; for CPU emulation set "
        f"XLA_FLAGS=--xla_force_host_platform_device_count={count} before JAX starts"
    )


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
