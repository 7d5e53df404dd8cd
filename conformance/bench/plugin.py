"""The pytest plugin behind ``python -m conformance bench``: options, device set-up, machine info.

Load it with ``-p conformance.bench.plugin`` and point pytest at ``conformance/bench/suite.py``.
It selects the backend and arranges the device count before Keras is imported (and joins a JAX
cluster before Keras builds a model, ``conformance.stack.cluster``), and extends
pytest-benchmark's machine info with this project's profile (id, GPU fields, libraries), so
pytest-benchmark's own storage and ``compare`` know which hardware profile a run belongs to.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from conformance.stack import backend
from conformance.bench import models as bench_models
from conformance.stack import devices
from conformance.stack import profile
from conformance.stack.cluster import Cluster

# How each backend can run the ceiling's matmul (see bench_suite.compiled_matmul).
MATMUL_IMPLEMENTATIONS = {"tensorflow": ("xla", "graph"), "jax": ("xla",), "torch": ("eager",)}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("bench", "book-model benchmarks")
    group.addoption("--bench-backend", default=None)
    group.addoption("--bench-devices", type=int, default=1)
    group.addoption("--bench-models", default=None, help="comma-separated globs of benchmark model names")
    group.addoption("--bench-precisions", default="float32")
    group.addoption("--bench-rounds", type=int, default=5)
    group.addoption("--bench-warmup", type=int, default=1)
    group.addoption("--bench-steps", type=int, default=0, help="batches per round (0: per model default)")
    group.addoption("--bench-batch", type=int, default=0, help="per-device batch (0: the book's)")
    group.addoption("--bench-ceiling-size", type=int, default=0,
                    help="matmul size (0: 2048 CPU, 8192 GPU, halved while one matmul would take over 10 s)")
    group.addoption("--bench-gate", choices=("on", "off"), default="on")
    group.addoption("--bench-records", default=None, help="JSON-lines file for the gates and the process facts")
    group.addoption("--bench-coordinator", default=None, help="HOST:PORT of process 0 of a JAX cluster")
    group.addoption("--bench-num-processes", type=int, default=1)
    group.addoption("--bench-process-id", type=int, default=0)
    group.addoption("--bench-platform", choices=("cpu", "gpu", "tpu"), default=None,
                    help="what the profile says the work runs on (default: this machine's profile); a process "
                         "whose framework runs elsewhere is refused")


def pytest_configure(config: pytest.Config) -> None:
    try:
        arrange_devices(config.option)
    except devices.DeviceError as error:
        # The runner stops the whole run on this record: the machine cannot measure what its profile names.
        record(config, {"kind": "refused", "message": str(error)})
        raise pytest.UsageError(str(error)) from error


def arrange_devices(option: Any) -> None:
    """Select the backend, arrange the device count (emulated on a CPU only), join the cluster, and check
    that the framework runs on the platform the profile names before anything is measured."""
    chosen = option.bench_backend or backend.current()
    backend.select(chosen)
    expected = option.bench_platform or devices.expected_platform(profile.fingerprint(chosen))
    # In a cluster --bench-devices counts every process's devices; this process arranges its share.
    local_count = option.bench_devices // option.bench_num_processes
    devices.prepare(local_count, chosen, emulate=expected == "cpu")
    if option.bench_coordinator:
        Cluster(option.bench_coordinator, option.bench_num_processes, option.bench_process_id).join(chosen)
        import jax

        if len(jax.devices()) != option.bench_devices:
            raise pytest.UsageError(f"the cluster has {len(jax.devices())} devices and --devices asked for "
                                    f"{option.bench_devices}: a cluster run trains on all of them")
    used = devices.platform_used(option.bench_devices, chosen)
    option.bench_platform_used = used
    devices.check_platform(expected, used, option.bench_devices, chosen)


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    fingerprint = profile.fingerprint(config.option.bench_backend)
    machine_info["conformance_profile"] = fingerprint["id"]
    machine_info["conformance_gpu"] = fingerprint["gpu"]
    machine_info["conformance_tpu"] = fingerprint["tpu"]
    machine_info["conformance_libraries"] = fingerprint["libraries"]
    machine_info["conformance_backend"] = fingerprint["backend"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    option = metafunc.config.option
    precisions = [p for p in option.bench_precisions.split(",") if p]
    if "bench_model" in metafunc.fixturenames:
        metafunc.parametrize("bench_model", bench_models.select(option.bench_models), ids=lambda m: m.name)
    if "precision" in metafunc.fixturenames:
        if metafunc.function.__name__ == "test_accuracy_gate":
            precisions = [p for p in precisions if p != "float32"]
            if option.bench_gate == "off" or option.bench_devices != 1:
                precisions = []
        metafunc.parametrize("precision", precisions)
    if "implementation" in metafunc.fixturenames:
        chosen = option.bench_backend or backend.current()
        metafunc.parametrize("implementation", MATMUL_IMPLEMENTATIONS.get(chosen, ("eager",)))


def pytest_sessionfinish(session: pytest.Session) -> None:
    record(session.config, {"kind": "process", "devices": session.config.option.bench_devices,
                             "tensorflow_imported": "tensorflow" in sys.modules,
                             "platform": getattr(session.config.option, "bench_platform_used", None)})


def record(config: pytest.Config, entry: dict[str, Any]) -> None:
    if config.option.bench_records:
        with open(config.option.bench_records, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
