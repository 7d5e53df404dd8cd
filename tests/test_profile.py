"""The profile fingerprints the machine and gives it a short id that is stable across runs."""

from conformance.stack import profile

CPUINFO_X86 = """processor\t: 0
model name\t: AMD EPYC 9454 48-Core Processor
flags\t\t: fpu vme sse4_2 avx avx2 avx512f avx512bw
"""
CPUINFO_ARM = """processor\t: 0
Features\t: fp asimd evtstrm aes
"""


def test_cpu_info_reads_model_and_best_vector_feature():
    info = profile.cpu_info(CPUINFO_X86)
    assert info["model"] == "AMD EPYC 9454 48-Core Processor"
    assert info["feature"] == "avx512"
    assert profile.cpu_info(CPUINFO_ARM)["feature"] == "asimd"


def test_cpu_profile_id_names_arch_feature_and_cores():
    fake = {"cpu": {"arch": "x86_64", "feature": "avx2", "cores": 2}, "gpu": {}}
    assert profile.profile_id(fake) == "cpu-x86_64-avx2-2c"


def test_gpu_profile_id_names_chip_memory_and_count_without_form_factor():
    gpu = profile.gpu_info("NVIDIA H100 80GB HBM3, 81559, 580.65\nNVIDIA H100 80GB HBM3, 81559, 580.65\n",
                           "| NVIDIA-SMI 580.65   Driver Version: 580.65   CUDA Version: 13.0 |")
    assert gpu["count"] == 2 and gpu["cuda"] == "13.0"
    assert gpu["devices"][0] == {"name": "NVIDIA H100 80GB HBM3", "memory_gib": 80, "driver": "580.65"}
    assert profile.profile_id({"gpu": gpu}) == "gpu-nvidia-h100-80gb-x2"
    a100 = profile.gpu_info("NVIDIA A100-SXM4-40GB, 40960, 535.1\n", "")
    assert profile.profile_id({"gpu": a100}) == "gpu-nvidia-a100-40gb-x1"


def test_fingerprint_of_this_machine_is_complete_and_stable():
    first, second = profile.fingerprint("tensorflow"), profile.fingerprint("tensorflow")
    assert first["id"] == second["id"]
    assert first["id"].startswith("cpu-" if not first["gpu"] else "gpu-")
    assert first["backend"] == "tensorflow"
    assert {"keras", "numpy"} <= set(first["libraries"])
    assert first["python"].count(".") == 2
