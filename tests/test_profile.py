"""The profile fingerprints the machine and gives it a short id that is stable across runs."""

import os
import re

import pytest

from conformance.stack import profile
from conformance.stack import tpu as profile_tpu

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


def test_gpu_profile_id_names_chip_memory_and_count():
    gpu = profile.gpu_info("NVIDIA H100 80GB HBM3, 81559, 580.65\nNVIDIA H100 80GB HBM3, 81559, 580.65\n",
                           "| NVIDIA-SMI 580.65   Driver Version: 580.65   CUDA Version: 13.0 |")
    assert gpu["count"] == 2 and gpu["cuda"] == "13.0"
    assert gpu["devices"][0] == {"name": "NVIDIA H100 80GB HBM3", "memory_gib": 80, "memory_mib": 81559,
                                 "driver": "580.65"}
    assert profile.profile_id({"gpu": gpu}) == "gpu-nvidia-h100-80gb-x2"
    a100 = profile.gpu_info("NVIDIA A100-SXM4-40GB, 40960, 535.1\n", "")
    assert profile.profile_id({"gpu": a100}) == "gpu-nvidia-a100-40gb-x1"


def gpu_id(csv: str) -> str:
    return profile.profile_id({"gpu": profile.gpu_info(csv, "")})


def test_the_golden_gpu_baseline_keeps_its_profile_id():
    assert gpu_id("NVIDIA H100 80GB HBM3, 81559, 550.54.15\n") == "gpu-nvidia-h100-80gb-x1"


def test_a_pcie_card_is_not_filed_with_the_sxm_module_of_the_same_chip():
    assert gpu_id("NVIDIA H100 PCIe, 81559, 550.54.15\n") == "gpu-nvidia-h100-pcie-80gb-x1"
    assert gpu_id("NVIDIA A100-PCIE-40GB, 40960, 535.1\n") == "gpu-nvidia-a100-pcie-40gb-x1"
    assert gpu_id("NVIDIA A100-SXM4-40GB, 40960, 535.1\n") == "gpu-nvidia-a100-40gb-x1"


def test_a_box_of_mixed_gpus_names_every_model_with_its_count():
    mixed = gpu_id("NVIDIA A100-SXM4-40GB, 40960, 535.1\nTesla T4, 15360, 535.1\n")
    assert mixed == "gpu-nvidia-a100-40gb-x1+t4-16gb-x1"
    assert mixed != gpu_id("NVIDIA A100-SXM4-40GB, 40960, 535.1\n" * 2)
    # the slots' order does not matter
    assert gpu_id("Tesla T4, 15360, 535.1\nNVIDIA A100-SXM4-40GB, 40960, 535.1\nTesla T4, 15360, 535.1\n") == \
        "gpu-nvidia-a100-40gb-x1+t4-16gb-x2"


@pytest.mark.parametrize(("line", "expected"), [
    ("NVIDIA L4, 23034, 550.54", "gpu-nvidia-l4-24gb-x1"),
    ("NVIDIA L4, 22995, 560.10", "gpu-nvidia-l4-24gb-x1"),  # a driver that keeps 39 MiB more
    ("NVIDIA A10G, 23028, 550.54", "gpu-nvidia-a10g-24gb-x1"),
    ("Tesla T4, 15360, 535.1", "gpu-nvidia-t4-16gb-x1"),
    ("NVIDIA H100 NVL, 95830, 550.54", "gpu-nvidia-h100-94gb-x1"),
    ("NVIDIA H200, 143771, 550.54", "gpu-nvidia-h200-141gb-x1"),
    ("NVIDIA GeForce RTX 4090, 24564, 550.54", "gpu-nvidia-rtx-4090-24gb-x1"),
    ("NVIDIA GeForce RTX 4070, 12282, 550.54", "gpu-nvidia-rtx-4070-12gb-x1"),  # just under 12 GiB: not 11
    ("Quadro P1000, 4086, 550.54", "gpu-nvidia-quadro-p1000-4gb-x1"),
    ("NVIDIA GH200 480GB, 97871, 550.54", "gpu-nvidia-gh200-96gb-x1"),  # the name counts the CPU's memory too
    ("NVIDIA A100-SXM4-40GB, 40960, 550.54", "gpu-nvidia-a100-40gb-x1"),
])
def test_gpu_memory_is_named_by_the_size_the_card_is_sold_with(line, expected):
    assert gpu_id(line + "\n") == expected


def fake_nvidia_smi(tmp_path, monkeypatch, script: str) -> None:
    tool = tmp_path / "nvidia-smi"
    tool.write_text("#!/bin/sh\n" + script + "\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")


def test_nvidia_smi_that_fails_is_an_error_naming_it_not_a_cpu_profile(tmp_path, monkeypatch):
    fake_nvidia_smi(tmp_path, monkeypatch, "echo 'Unable to determine the device handle for GPU0000:00:04.0: "
                                           "Unknown Error' >&2; exit 15")
    with pytest.raises(profile.GpuQueryError, match=r"nvidia-smi.*exited 15.*Unable to determine the device handle"):
        profile.gpu_info()


def test_nvidia_smi_that_finds_no_device_means_no_gpu(tmp_path, monkeypatch):
    fake_nvidia_smi(tmp_path, monkeypatch, "echo 'No devices were found'; exit 6")
    assert profile.gpu_info() == {}


def test_nvidia_smi_that_hangs_is_an_error(tmp_path, monkeypatch):
    fake_nvidia_smi(tmp_path, monkeypatch, "sleep 5")
    monkeypatch.setattr(profile, "NVIDIA_SMI_TIMEOUT_S", 0.5)
    with pytest.raises(profile.GpuQueryError, match="did not answer"):
        profile.gpu_info()


def test_the_stub_nvidia_smi_is_read_like_the_real_one(tmp_path, monkeypatch):
    fake_nvidia_smi(tmp_path, monkeypatch, "echo 'NVIDIA H100 80GB HBM3, 81559, 550.54.15'")
    assert profile.profile_id({"gpu": profile.gpu_info()}) == "gpu-nvidia-h100-80gb-x1"


@pytest.mark.parametrize("line", ["NVIDIA H100 80GB HBM3, [N/A], 550.54.15", "NVIDIA H100 80GB HBM3, 81559",
                                  "garbage"])
def test_nvidia_smi_output_not_understood_is_an_error_naming_the_line(line):
    with pytest.raises(profile.GpuQueryError, match=re.escape(repr(line))):
        profile.gpu_info(line + "\n", "")


def test_fingerprint_of_this_machine_is_complete_and_stable():
    first, second = profile.fingerprint("tensorflow"), profile.fingerprint("tensorflow")
    assert first["id"] == second["id"]
    assert first["id"].startswith("tpu-" if first["tpu"] else "gpu-" if first["gpu"] else "cpu-")
    assert first["backend"] == "tensorflow"
    assert {"keras", "numpy"} <= set(first["libraries"])
    assert first["python"].count(".") == 2


# --- TPUs -------------------------------------------------------------------------------------------
# Recorded descriptions of Cloud TPU machines: GKE's environment variables, a TPU VM's GCE metadata
# (which the profile never fetches; a caller may pass it), and this host's chips by PCI id.

NO_ENV: dict[str, str] = {}
NO_LOCAL_CHIPS = profile_tpu.LocalChips(0, None)
TPU_ENV_V4_METADATA = """ACCELERATOR_TYPE: 'v4-8'
CHIPS_PER_HOST_BOUNDS: '2,2,1'
HOST_BOUNDS: '1,1,1'
TOPOLOGY: '2x2x1'
WORKER_ID: '0'
ZONE: 'us-central2-b'
"""


def test_no_tpu_signs_give_an_empty_description_and_a_cpu_or_gpu_id():
    assert profile.tpu_info(NO_ENV, local=NO_LOCAL_CHIPS) == {}
    assert profile.tpu_info({"TPU_WORKER_ID": "0", "TPU_WORKER_HOSTNAMES": "a,b"}, local=NO_LOCAL_CHIPS) == {}
    fake = {"cpu": {"arch": "x86_64", "feature": "avx2", "cores": 2}, "gpu": {}, "tpu": {}}
    assert profile.profile_id(fake) == "cpu-x86_64-avx2-2c"


@pytest.mark.parametrize(("accelerator_type", "chips"), [
    ("v2-8", 4), ("v3-32", 16), ("v4-8", 4), ("v4-16", 8), ("v5p-8", 4),
    ("v5litepod-8", 8), ("v5litepod-1", 1), ("v6e-8", 8), ("v6e-256", 256),
])
def test_accelerator_type_counts_tensorcores_so_v4_8_is_four_chips(accelerator_type, chips):
    tpu = profile.tpu_info({"TPU_ACCELERATOR_TYPE": accelerator_type}, local=NO_LOCAL_CHIPS)
    assert tpu["chips"] == chips, tpu
    assert tpu["notes"] == []


def test_gke_environment_gives_type_topology_hosts_and_worker():
    env = {"TPU_ACCELERATOR_TYPE": "v5litepod-16", "TPU_TOPOLOGY": "4x4", "TPU_WORKER_ID": "1",
           "TPU_WORKER_HOSTNAMES": "tpu-0.svc,tpu-1.svc,tpu-2.svc,tpu-3.svc"}
    tpu = profile.tpu_info(env, local=NO_LOCAL_CHIPS)
    assert {key: tpu[key] for key in ("generation", "chips", "topology", "hosts", "worker_id", "local_chips")} == {
        "generation": "v5e", "chips": 16, "topology": "4x4", "hosts": 4, "worker_id": 1, "local_chips": 4}
    assert tpu["local_devices"] == 4
    assert profile.profile_id({"tpu": tpu, "gpu": {}}) == "tpu-v5e-4x4-x16"


def test_tpu_vm_metadata_when_given_describes_the_slice():
    tpu = profile.tpu_info(NO_ENV, metadata={"accelerator-type": "v4-8", "tpu-env": TPU_ENV_V4_METADATA},
                           local=profile_tpu.LocalChips(4, "v4"))
    assert profile.profile_id({"tpu": tpu}) == "tpu-v4-2x2x1-x4"
    assert tpu["worker_id"] == 0 and tpu["local_devices"] == 4  # megacore: one device per v4 chip


def test_environment_wins_over_metadata():
    tpu = profile.tpu_info({"TPU_ACCELERATOR_TYPE": "v6e-8", "TPU_TOPOLOGY": "2x4"},
                           metadata={"accelerator-type": "v5p-8"}, local=NO_LOCAL_CHIPS)
    assert profile.profile_id({"tpu": tpu}) == "tpu-v6e-2x4-x8"


def test_v2_and_v3_show_each_tensorcore_as_a_device():
    tpu = profile.tpu_info({"TPU_ACCELERATOR_TYPE": "v3-8"}, local=profile_tpu.LocalChips(4, None))
    assert (tpu["chips"], tpu["local_devices"]) == (4, 8)
    assert profile.profile_id({"tpu": tpu}) == "tpu-v3-2x2-x4"


def test_chips_found_on_this_host_alone_still_make_a_tpu_profile():
    assert profile.profile_id({"tpu": profile.tpu_info(NO_ENV, local=profile_tpu.LocalChips(8, "v6e"))}) == \
        "tpu-v6e-x8"
    unknown = profile.tpu_info(NO_ENV, local=profile_tpu.LocalChips(4, None))
    assert profile.profile_id({"tpu": unknown}) == "tpu-unknown-x4"
    assert unknown["local_devices"] is None  # devices per chip depend on the generation


def test_topology_alone_gives_the_chip_count():
    tpu = profile.tpu_info({"TPU_TOPOLOGY": "2x2x2"}, local=NO_LOCAL_CHIPS)
    assert profile.profile_id({"tpu": tpu}) == "tpu-unknown-2x2x2-x8"


@pytest.mark.parametrize(("env", "expected_id", "note"), [
    ({"TPU_ACCELERATOR_TYPE": "v9z-8"}, "tpu-v9z", "not in the chip-count table"),
    ({"TPU_ACCELERATOR_TYPE": "trillium"}, "tpu-unknown", "not of the form"),
    ({"TPU_ACCELERATOR_TYPE": "v4-8", "TPU_TOPOLOGY": "two by two"}, "tpu-v4-2x2x1-x4", "topology 'two by two'"),
    ({"TPU_ACCELERATOR_TYPE": "v4-7"}, "tpu-v4", "not a whole number of v4 chips"),
    ({"TPU_ACCELERATOR_TYPE": "v4-8", "TPU_TOPOLOGY": "2x4"}, "tpu-v4-2x4-x4", "the topology 2x4 8"),
])
def test_unknown_or_inconsistent_forms_give_a_partial_description_with_a_note(env, expected_id, note):
    tpu = profile.tpu_info(env, local=NO_LOCAL_CHIPS)
    assert profile.profile_id({"tpu": tpu}) == expected_id
    assert any(note in line for line in tpu["notes"]), tpu["notes"]


def test_a_type_that_disagrees_with_this_hosts_chips_wins_with_a_note():
    tpu = profile.tpu_info({"TPU_ACCELERATOR_TYPE": "v5p-8"}, local=profile_tpu.LocalChips(4, "v5e"))
    assert profile.profile_id({"tpu": tpu}) == "tpu-v5p-2x2x1-x4"
    assert tpu["notes"] == ["the accelerator type says v5p, this host's chips are v5e"]


def test_chips_on_one_host_of_several_are_not_taken_for_the_slice():
    tpu = profile.tpu_info({"TPU_WORKER_HOSTNAMES": "a,b", "TPU_TOPOLOGY": "bad"},
                           local=profile_tpu.LocalChips(4, "v4"))
    assert (tpu["chips"], tpu["local_chips"], tpu["hosts"]) == (None, 4, 2)
    assert profile.profile_id({"tpu": tpu}) == "tpu-v4"


@pytest.mark.parametrize(("environ", "local", "expected_id"), [
    ({"TPU_ACCELERATOR_TYPE": "v5litepod-4"}, NO_LOCAL_CHIPS, "tpu-v5e-2x2-x4"),
    ({"TPU_WORKER_HOSTNAMES": "tpu-0"}, profile_tpu.LocalChips(4, "v5e"), "tpu-v5e-2x2-x4"),
    ({"TPU_ACCELERATOR_TYPE": "v4-8"}, NO_LOCAL_CHIPS, "tpu-v4-2x2x1-x4"),
    ({"TPU_WORKER_HOSTNAMES": "tpu-0"}, profile_tpu.LocalChips(4, "v4"), "tpu-v4-2x2x1-x4"),
    ({"TPU_WORKER_HOSTNAMES": "tpu-0"}, profile_tpu.LocalChips(4, "7x"), "tpu-7x-2x2x1-x4"),
    ({"TPU_ACCELERATOR_TYPE": "v5p-16"}, NO_LOCAL_CHIPS, "tpu-v5p-2x2x2-x8"),
    ({"TPU_ACCELERATOR_TYPE": "v6e-1"}, NO_LOCAL_CHIPS, "tpu-v6e-1x1-x1"),
])
def test_a_small_slice_has_one_id_whether_or_not_its_topology_is_set(environ, local, expected_id):
    inferred = profile.tpu_info(environ, local=local)
    stated = profile.tpu_info({**environ, "TPU_TOPOLOGY": expected_id.split("-")[2]}, local=local)
    assert profile.profile_id({"tpu": inferred}) == profile.profile_id({"tpu": stated}) == expected_id
    assert inferred["notes"] == []


def test_a_larger_slice_gets_no_topology_it_was_not_given():
    tpu = profile.tpu_info({"TPU_ACCELERATOR_TYPE": "v5litepod-16", "TPU_WORKER_HOSTNAMES": "a,b,c,d"},
                           local=profile_tpu.LocalChips(4, "v5e"))
    assert profile.profile_id({"tpu": tpu}) == "tpu-v5e-x16"
    assert profile.profile_id({"tpu": profile.tpu_info({"TPU_ACCELERATOR_TYPE": "v4-32"}, local=NO_LOCAL_CHIPS)}) == \
        "tpu-v4-x16"


def test_a_host_whose_chips_are_all_that_is_known_gets_no_topology_and_says_why():
    # one worker of a v4-16 without its .env sees the 4 chips a v4-8 has: it must not take the v4-8's id
    worker = profile.tpu_info(NO_ENV, local=profile_tpu.LocalChips(4, "v4"))
    assert profile.profile_id({"tpu": worker}) == "tpu-v4-x4"
    assert any("read from this host alone" in note for note in worker["notes"]), worker["notes"]


def test_tpu7x_hosts_are_found_by_pci_id_with_two_devices_per_chip(tmp_path):
    root = pci_devices(tmp_path / "pci", *[("0x1ae0", "0x0076")] * 4)
    local = profile_tpu.local_chips(root, tmp_path / "dev")
    assert local == profile_tpu.LocalChips(4, "7x")
    tpu = profile.tpu_info({"TPU_TOPOLOGY": "2x2x1"}, local=local)
    assert (tpu["generation"], tpu["chips"], tpu["local_devices"]) == ("7x", 4, 8)
    assert profile.profile_id({"tpu": tpu}) == "tpu-7x-2x2x1-x4"


def test_a_tpu7x_accelerator_type_names_the_generation_and_leaves_the_count_to_the_topology():
    tpu = profile.tpu_info({"TPU_ACCELERATOR_TYPE": "tpu7x-8", "TPU_TOPOLOGY": "2x2x2"}, local=NO_LOCAL_CHIPS)
    assert (tpu["generation"], tpu["chips"]) == ("7x", 8)
    assert any("chip count comes from the topology" in note for note in tpu["notes"]), tpu["notes"]


def test_a_tpu_names_the_profile_before_a_gpu():
    gpu = profile.gpu_info("NVIDIA H100 80GB HBM3, 81559, 580.65\n", "")
    tpu = profile.tpu_info({"TPU_ACCELERATOR_TYPE": "v5p-16"}, local=NO_LOCAL_CHIPS)
    assert profile.profile_id({"tpu": tpu, "gpu": gpu}) == "tpu-v5p-2x2x2-x8"


def test_local_chips_are_read_by_google_tpu_pci_ids_not_by_google_vendor_alone(tmp_path):
    for slot, (vendor, device) in enumerate([("0x1ae0", "0x0063"), ("0x1ae0", "0x0063"), ("0x1ae0", "0x0042"),
                                             ("0x10de", "0x2330")]):
        folder = tmp_path / "pci" / f"0000:00:0{slot}.0"
        folder.mkdir(parents=True)
        (folder / "vendor").write_text(vendor + "\n")
        (folder / "device").write_text(device + "\n")
    (tmp_path / "dev").mkdir()
    assert profile_tpu.local_chips(tmp_path / "pci", tmp_path / "dev") == (2, "v5e")


def test_local_chips_fall_back_to_accel_device_nodes(tmp_path):
    for name in ("accel0", "accel1", "accel2", "accel3", "null"):
        (tmp_path / name).touch()
    assert profile_tpu.local_chips(tmp_path / "no-pci", tmp_path) == (4, None)


def pci_devices(root, *devices):
    """A /sys/bus/pci/devices tree holding (vendor, device) pairs."""
    for slot, (vendor, device) in enumerate(devices):
        folder = root / f"0000:00:{slot:02x}.0"
        folder.mkdir(parents=True)
        (folder / "vendor").write_text(vendor + "\n")
        (folder / "device").write_text(device + "\n")
    return root


def test_tpu_chips_are_counted_by_pci_id_and_google_nics_are_not(tmp_path):
    root = pci_devices(tmp_path / "pci", *[("0x1ae0", "0x0063")] * 4, ("0x1ae0", "0x0042"), ("0x8086", "0x0063"))
    assert profile_tpu.local_chips(root, tmp_path / "dev") == profile_tpu.LocalChips(4, "v5e")


def test_v2_and_v3_hosts_share_a_pci_id_and_their_accelerator_type_names_which(tmp_path):
    root = pci_devices(tmp_path / "pci", *[("0x1ae0", "0x0027")] * 4)
    local = profile_tpu.local_chips(root, tmp_path / "dev")
    assert local == profile_tpu.LocalChips(4, "v3")
    assert profile.profile_id({"tpu": profile.tpu_info(NO_ENV, local=local)}) == "tpu-v3-x4"
    v2 = profile.tpu_info({"TPU_ACCELERATOR_TYPE": "v2-8"}, local=local)
    assert v2["generation"] == "v2" and not any("this host's chips" in note for note in v2.get("notes", []))
