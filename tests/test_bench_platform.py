"""A benchmark measures the accelerator its profile names, or refuses: a CPU-only wheel on a GPU box, a
backend that does not run on TPUs, or more devices than the machine has GPUs would otherwise file CPU figures
(emulated devices included) under the GPU's or the TPU's profile, and --save-baseline would make them its baseline."""

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from conformance.bench.runner import check_accelerator_counts
from conformance.engine.runner import SettingsError
from conformance.stack import devices, profile
from conformance.stack.devices import DeviceError

H100 = "NVIDIA H100 80GB HBM3, 81559, 550.54.15"
TWO_H100 = {"id": "gpu-nvidia-h100-80gb-x2", "gpu": profile.gpu_info(f"{H100}\n{H100}\n", ""), "tpu": {}}
CPU_USED = {"platform": "cpu", "device_kind": "cpu", "devices": ["TFRT_CPU_0"]}
GPU_USED = {"platform": "gpu", "device_kind": "NVIDIA H100 80GB HBM3", "devices": ["cuda:0"]}


def test_the_profile_names_the_platform_a_tpu_before_a_gpu():
    assert devices.expected_platform(TWO_H100) == "gpu"
    assert devices.expected_platform({"gpu": TWO_H100["gpu"], "tpu": {"chips": 8}}) == "tpu"
    assert devices.expected_platform({"gpu": {}, "tpu": {}}) == "cpu"


@pytest.mark.parametrize(("backend", "expected", "hint"), [
    ("jax", "gpu", "jax-cuda"), ("tensorflow", "gpu", "tensorflow[and-cuda]"), ("torch", "gpu", "CUDA build"),
    ("jax", "tpu", "jax-tpu"), ("tensorflow", "tpu", "--backend jax"),
])
def test_a_cpu_where_the_profile_names_an_accelerator_is_refused_with_what_to_install(backend, expected, hint):
    with pytest.raises(DeviceError, match=rf"names {expected.upper()}s, but {backend} runs on CPU") as raised:
        devices.check_platform(expected, CPU_USED, 1, backend)
    assert hint in str(raised.value)


def test_the_platform_the_profile_names_passes():
    devices.check_platform("gpu", GPU_USED, 1, "jax")
    devices.check_platform("cpu", CPU_USED, 1, "jax")


def test_more_devices_than_gpus_is_refused_naming_the_gpus():
    with pytest.raises(DeviceError, match=r"has only 1 GPU\(s\) \(NVIDIA H100 80GB HBM3\)"):
        devices.check_platform("gpu", GPU_USED, 2, "jax")


def test_jax_on_this_cpu_reports_its_platform():
    used = devices.platform_used(1, "jax")
    assert used["platform"] == "cpu" and len(used["devices"]) == 1
    with pytest.raises(DeviceError, match="names GPUs, but jax runs on CPU"):
        devices.check_platform("gpu", used, 1, "jax")


def test_jax_on_one_gpu_asked_for_two_says_there_is_one_gpu_not_how_to_emulate(monkeypatch):
    import jax

    gpu = SimpleNamespace(platform="gpu", device_kind="NVIDIA H100 80GB HBM3")
    monkeypatch.setattr(jax, "devices", lambda: [gpu])
    with pytest.raises(DeviceError, match=r"only 1 GPU\(s\) \(NVIDIA H100 80GB HBM3\)") as raised:
        devices._jax_devices(2)
    assert "XLA_FLAGS" not in str(raised.value)


def test_jax_is_not_told_to_emulate_cpu_devices_on_a_machine_with_accelerators(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "")  # set, so that monkeypatch restores what prepare() writes
    devices.prepare(2, "jax", emulate=False)
    assert os.environ["XLA_FLAGS"] == ""
    devices.prepare(2, "jax")
    assert "xla_force_host_platform_device_count=2" in os.environ["XLA_FLAGS"]


@pytest.mark.slow  # starts TensorFlow
def test_tensorflow_does_not_split_the_cpu_on_a_machine_with_accelerators():
    with pytest.raises(DeviceError, match=r"TensorFlow sees 0 GPU\(s\) \(a CPU-only TensorFlow build, or a TPU machine"):
        devices.prepare(2, "tensorflow", emulate=False)


def test_bench_refuses_more_devices_than_the_gpus_before_measuring():
    with pytest.raises(SettingsError, match=r"--devices 4: .*gpu-nvidia-h100-80gb-x2\) has only 2 GPU"):
        check_accelerator_counts([1, 4], TWO_H100, processes=1)
    check_accelerator_counts([1, 2], TWO_H100, processes=1)
    check_accelerator_counts([1, 2], {"id": "cpu-x", "gpu": {}, "tpu": {}}, processes=1)  # emulated on a CPU


def fake_gpus(tmp_path: Path, lines: str) -> str:
    """A PATH entry whose nvidia-smi reports ``lines``, as a GPU machine's would."""
    tool = tmp_path / "bin" / "nvidia-smi"
    tool.parent.mkdir()
    tool.write_text(f"#!/bin/sh\ncase \"$1\" in --query-gpu=*) printf '{lines}';; "
                    f"*) echo 'CUDA Version: 12.4';; esac\n")
    tool.chmod(0o755)
    return f"{tool.parent}{os.pathsep}{os.environ['PATH']}"


@pytest.mark.slow
@pytest.mark.subprocess
def test_cpu_only_jax_on_a_gpu_machine_fails_the_run_and_files_nothing(tmp_path):
    env = {**os.environ, "PATH": fake_gpus(tmp_path, f"{H100}\\n{H100}\\n"),
           "PYTHONPATH": str(Path(__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "bench", "--backend", "jax", "--models", "mnist_dense", "--repeats",
         "1", "--rounds", "2", "--steps", "2", "--no-gate", "--precisions", "float32", "--ceiling-size", "256",
         "--save-baseline", "--baseline-dir", str(tmp_path / "baselines"), "--results-dir", str(tmp_path / "results")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "error: devices=1: this machine's profile names GPUs, but jax runs on CPU" in done.stderr
    assert not list((tmp_path / "results").rglob("*.json")) and not (tmp_path / "baselines").exists()
