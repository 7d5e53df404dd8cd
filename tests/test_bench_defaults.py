"""What a benchmark runs when not told: the precision policies and device counts each kind of machine
supports (TPUs have no float16 units, so they never get mixed_float16), and each backend: Keras runs
PyTorch on one device, so several are refused with the reason; and a matmul ceiling that stays within
seconds where the device only emulates the dtype."""

import time

import pytest

from conformance.bench.runner import BenchOptions, default_device_counts, default_precisions, device_counts
from conformance.bench.suite import ceiling_size
from conformance.engine.runner import SettingsError
from conformance.stack import devices, profile
from conformance.stack.devices import DeviceError
from conformance.stack.tpu import LocalChips

CPU = {"gpu": {}, "tpu": {}}
ONE_GPU = {"gpu": profile.gpu_info("NVIDIA H100 80GB HBM3, 81559, 580.65\n", ""), "tpu": {}}
FOUR_GPUS = {"gpu": profile.gpu_info("NVIDIA L4, 23034, 550.54\n" * 4, ""), "tpu": {}}
V5E_8 = {"gpu": {}, "tpu": profile.tpu_info({"TPU_ACCELERATOR_TYPE": "v5litepod-8"}, local=LocalChips(8, "v5e"))}
V3_8 = {"gpu": {}, "tpu": profile.tpu_info({"TPU_ACCELERATOR_TYPE": "v3-8"}, local=LocalChips(4, "v3"))}


@pytest.mark.parametrize(("machine", "policies"), [
    (CPU, ["float32", "mixed_bfloat16"]),
    (ONE_GPU, ["float32", "mixed_float16", "mixed_bfloat16"]),
    (V5E_8, ["float32", "mixed_bfloat16"]),
])
def test_each_device_kind_gets_the_mixed_policies_it_runs(machine, policies):
    assert default_precisions(machine) == policies


def test_a_tpu_never_gets_mixed_float16_even_beside_a_gpu():
    assert "mixed_float16" not in default_precisions({"gpu": ONE_GPU["gpu"], "tpu": V5E_8["tpu"]})


def test_a_profile_recorded_before_tpus_were_detected_still_chooses():
    assert default_precisions({"gpu": {}}) == ["float32", "mixed_bfloat16"]


@pytest.mark.parametrize(("machine", "counts"), [
    (CPU, [1, 2]), (ONE_GPU, [1]), (FOUR_GPUS, [1, 4]), (V5E_8, [1, 8]), (V3_8, [1, 8]),
])
def test_device_counts_are_one_and_every_device_on_this_host(machine, counts):
    assert default_device_counts(machine) == counts


def test_torch_benchmarks_run_on_one_device_and_say_why(capsys):
    assert device_counts(BenchOptions(backend="torch"), CPU) == [1]
    assert "keras.distribution (JAX)" in capsys.readouterr().out


def test_several_devices_asked_of_torch_is_an_error_that_says_why():
    with pytest.raises(SettingsError, match=r"--devices 1,2: Keras runs torch on one device"):
        device_counts(BenchOptions(backend="torch", device_counts=[1, 2]), CPU)


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_data_parallel_backends_keep_the_counts_asked_for(backend):
    assert device_counts(BenchOptions(backend=backend, device_counts=[1, 4]), CPU) == [1, 4]
    assert device_counts(BenchOptions(backend=backend), FOUR_GPUS) == [1, 4]


def test_a_conformance_run_on_several_torch_devices_is_refused_before_keras_starts():
    with pytest.raises(DeviceError, match="cannot run on 2 devices: Keras runs torch on one device"):
        devices.prepare(2, "torch")


def slow_matmul(seconds: float):
    def matmul(a, b):
        time.sleep(seconds)
        return a
    return matmul


def test_the_matmul_ceiling_keeps_its_size_where_a_matmul_is_fast():
    assert ceiling_size(slow_matmul(0.0), "float32", 2048) == 2048


def test_the_matmul_ceiling_shrinks_where_the_dtype_is_emulated():
    # 20 ms for the 256 probe: a 2048 matmul would take 10.2 s, a 1024 one 1.3 s.
    assert ceiling_size(slow_matmul(0.02), "float32", 2048) == 1024
    assert ceiling_size(slow_matmul(0.5), "float32", 2048) == 512  # 4 s at 512
