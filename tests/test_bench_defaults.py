"""What a benchmark runs when not told: the precision policies and device counts each kind of machine
supports (TPUs have no float16 units, so they never get mixed_float16)."""

import pytest

from conformance.bench.runner import default_device_counts, default_precisions
from conformance.stack import profile
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
