"""A process on a MIG slice is profiled as that slice, never as the whole GPU it is cut from."""

import os

import pytest

from conformance.stack import mig, profile

A100_CSV = "NVIDIA A100-SXM4-40GB, 40960, 535.104.05\n"
H100_CSV = "NVIDIA H100 80GB HBM3, 81559, 550.54.15\n"

# `nvidia-smi -L` on an A100 cut into a 3g.20gb and a 1g.5gb slice (R470 and later: MIG-<uuid>).
A100_TWO_SLICES = """\
GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77)
  MIG 3g.20gb     Device  0: (UUID: MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f)
  MIG 1g.5gb      Device  1: (UUID: MIG-cba663e8-9bed-5b7e-8d0a-7a1d6d1f2b8e)
"""
# The same from a driver before R470, whose MIG UUIDs are MIG-GPU-<gpu uuid>/<gi>/<ci>.
A100_TWO_SLICES_OLD_DRIVER = """\
GPU 0: A100-SXM4-40GB (UUID: GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77)
  MIG 3g.20gb Device 0: (UUID: MIG-GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77/1/0)
  MIG 1g.5gb Device 1: (UUID: MIG-GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77/7/0)
"""
# Two A100s, both in MIG mode.
TWO_A100S_IN_MIG_MODE = A100_TWO_SLICES + """\
GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-0c2a6e3e-8a7b-4c4f-9a6e-2f1d3b5c7e90)
  MIG 2g.10gb     Device  0: (UUID: MIG-7f0e9d3c-1b2a-5c4d-8e6f-0a1b2c3d4e5f)
"""
# A Kubernetes container given one slice: its GPU is shown with that slice only.
H100_CONTAINER_ONE_SLICE = """\
GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90)
  MIG 1g.10gb+me  Device  0: (UUID: MIG-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0)
"""
H100_NO_MIG = "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90)\n"


def mig_id(csv: str, listing: str, cuda_visible_devices: str | None = None) -> str:
    environ = {} if cuda_visible_devices is None else {"CUDA_VISIBLE_DEVICES": cuda_visible_devices}
    return profile.profile_id({"gpu": profile.gpu_info(csv, "", listing, environ)})


def mig_gpu(csv: str, listing: str, cuda_visible_devices: str | None = None) -> dict:
    environ = {} if cuda_visible_devices is None else {"CUDA_VISIBLE_DEVICES": cuda_visible_devices}
    return profile.gpu_info(csv, "", listing, environ)


def test_cuda_visible_devices_naming_a_slice_gives_that_slices_id():
    assert mig_id(A100_CSV, A100_TWO_SLICES, "MIG-cba663e8-9bed-5b7e-8d0a-7a1d6d1f2b8e") == \
        "gpu-nvidia-a100-40gb-mig-1g-5gb-x1"
    assert mig_id(A100_CSV, A100_TWO_SLICES, "MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f") == \
        "gpu-nvidia-a100-40gb-mig-3g-20gb-x1"


def test_a_pre_r470_mig_uuid_in_cuda_visible_devices_names_its_slice():
    assert mig_id(A100_CSV, A100_TWO_SLICES_OLD_DRIVER,
                  "MIG-GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77/7/0") == "gpu-nvidia-a100-40gb-mig-1g-5gb-x1"


def test_a_unique_uuid_prefix_in_cuda_visible_devices_names_its_slice_as_cuda_reads_it():
    assert mig_id(A100_CSV, A100_TWO_SLICES, "MIG-cba663e8") == "gpu-nvidia-a100-40gb-mig-1g-5gb-x1"


def test_unset_cuda_visible_devices_means_the_first_slice_of_the_first_gpu():
    assert mig_id(A100_CSV, A100_TWO_SLICES) == "gpu-nvidia-a100-40gb-mig-3g-20gb-x1"
    assert mig_id(A100_CSV, A100_TWO_SLICES_OLD_DRIVER) == "gpu-nvidia-a100-40gb-mig-3g-20gb-x1"


def test_a_gpu_index_in_cuda_visible_devices_means_that_gpus_first_slice():
    assert mig_id(A100_CSV * 2, TWO_A100S_IN_MIG_MODE, "1") == "gpu-nvidia-a100-40gb-mig-2g-10gb-x1"
    assert mig_id(A100_CSV * 2, TWO_A100S_IN_MIG_MODE, "GPU-0c2a6e3e") == "gpu-nvidia-a100-40gb-mig-2g-10gb-x1"
    assert mig_id(A100_CSV * 2, TWO_A100S_IN_MIG_MODE, "0") == "gpu-nvidia-a100-40gb-mig-3g-20gb-x1"


def test_a_process_shown_two_slices_computes_on_one_and_the_profile_says_which():
    gpu = mig_gpu(A100_CSV * 2, TWO_A100S_IN_MIG_MODE,
                  "MIG-7f0e9d3c-1b2a-5c4d-8e6f-0a1b2c3d4e5f,MIG-cba663e8-9bed-5b7e-8d0a-7a1d6d1f2b8e")
    assert profile.profile_id({"gpu": gpu}) == "gpu-nvidia-a100-40gb-mig-2g-10gb-x1"
    assert gpu["count"] == 1  # the bench's default device counts read this
    assert any("1 MIG device" in note and "2g.10gb" in note for note in gpu["notes"])


def test_a_container_given_one_slice_is_named_by_it_with_the_id_characters_kept():
    assert mig_id(H100_CSV, H100_CONTAINER_ONE_SLICE) == "gpu-nvidia-h100-80gb-mig-1g-10gb-me-x1"


@pytest.mark.parametrize("slice_profile, part", [
    ("1g.5gb", "mig-1g-5gb"), ("7g.80gb", "mig-7g-80gb"), ("1g.18gb", "mig-1g-18gb"),
    ("1g.10gb+me", "mig-1g-10gb-me"), ("1c.3g.20gb", "mig-1c-3g-20gb"), (None, "mig-unknown"),
    ("1g.24gb-me", "mig-1g-24gb-no-me"), ("1g.24gb+me.all", "mig-1g-24gb-me-all"), ("1g.24gb+gfx", "mig-1g-24gb-gfx")])
def test_a_slice_profile_becomes_an_id_part_without_dots_or_plus(slice_profile, part):
    # "+" joins the models of a mixed box in an id, and ids name folders and baseline files.
    assert mig.id_part({"profile": slice_profile}) == part


def test_slices_with_and_without_media_engines_get_different_ids():
    listing = """GPU 0: NVIDIA RTX PRO 6000 Blackwell Server Edition (UUID: GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77)
  MIG 1g.24gb-me    Device  0: (UUID: MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f)
  MIG 1g.24gb+me    Device  1: (UUID: MIG-cba663e8-9bed-5b7e-8d0a-7a1d6d1f2b8e)
"""
    csv = "NVIDIA RTX PRO 6000 Blackwell Server Edition, 97887, 580.65\n"
    without = mig_gpu(csv, listing, "MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f")
    with_engines = mig_gpu(csv, listing, "MIG-cba663e8-9bed-5b7e-8d0a-7a1d6d1f2b8e")
    assert without["notes"] == [] and without["devices"][0]["mig"]["profile"] == "1g.24gb-me"
    assert profile.profile_id({"gpu": without}) != profile.profile_id({"gpu": with_engines})
    assert profile.profile_id({"gpu": without}).endswith("-mig-1g-24gb-no-me-x1")


def test_a_slice_profile_in_capitals_gets_the_id_of_one_in_lower_case():
    capitals = A100_TWO_SLICES.replace("MIG 3g.20gb", "MIG 3G.20GB")
    assert mig_id(A100_CSV, capitals) == mig_id(A100_CSV, A100_TWO_SLICES) == "gpu-nvidia-a100-40gb-mig-3g-20gb-x1"


def test_the_fingerprint_records_the_slice_its_uuid_and_its_gpu():
    gpu = mig_gpu(A100_CSV, A100_TWO_SLICES, "MIG-cba663e8-9bed-5b7e-8d0a-7a1d6d1f2b8e")
    assert gpu["devices"] == [{
        "name": "NVIDIA A100-SXM4-40GB", "memory_gib": 40, "memory_mib": 40960, "driver": "535.104.05",
        "mig": {"profile": "1g.5gb", "uuid": "MIG-cba663e8-9bed-5b7e-8d0a-7a1d6d1f2b8e", "parent_index": 0,
                "parent_uuid": "GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77"}}]
    assert gpu["notes"] == []


def test_a_slice_named_but_not_listed_is_unknown_with_a_note_not_the_whole_gpu():
    gpu = mig_gpu(A100_CSV, A100_TWO_SLICES, "MIG-00000000-1111-2222-3333-444444444444")
    assert profile.profile_id({"gpu": gpu}) == "gpu-nvidia-a100-40gb-mig-unknown-x1"
    assert any("MIG-00000000" in note and "does not list" in note for note in gpu["notes"])


def test_cuda_visible_devices_showing_no_gpu_on_a_mig_box_is_unknown_with_a_note():
    for hidden in ("", "-1"):
        gpu = mig_gpu(A100_CSV, A100_TWO_SLICES, hidden)
        assert profile.profile_id({"gpu": gpu}) == "gpu-nvidia-a100-40gb-mig-unknown-x1"
        assert any("shows this process no GPU" in note for note in gpu["notes"])


def test_a_mig_line_not_understood_gives_an_unknown_slice_with_a_note():
    listing = A100_TWO_SLICES.replace("MIG 3g.20gb     Device  0:", "MIG (profile hidden) Device 0:")
    gpu = mig_gpu(A100_CSV, listing)
    assert profile.profile_id({"gpu": gpu}) == "gpu-nvidia-a100-40gb-mig-unknown-x1"
    assert any("form not understood" in note for note in gpu["notes"])


@pytest.mark.parametrize("listing", [H100_NO_MIG, "", "CUDA Version: 12.4\n", H100_CSV])
@pytest.mark.parametrize("cuda_visible_devices", [None, "0", ""])
def test_a_box_without_mig_slices_keeps_its_id_whatever_cuda_visible_devices_says(listing, cuda_visible_devices):
    # Committed baselines are filed under these ids; stub nvidia-smis answer -L with anything.
    assert mig_id(H100_CSV, listing, cuda_visible_devices) == "gpu-nvidia-h100-80gb-x1"
    assert mig_id(H100_CSV * 2, listing.replace("GPU 0", "GPU 1") + listing, cuda_visible_devices) == \
        "gpu-nvidia-h100-80gb-x2"


def test_query_and_listing_that_disagree_on_the_gpus_are_an_error():
    with pytest.raises(profile.GpuQueryError, match=r"lists 2 GPU\(s\) and `nvidia-smi -L` 1"):
        mig_gpu(A100_CSV * 2, A100_TWO_SLICES)


def fake_nvidia_smi(tmp_path, monkeypatch, listing_script: str) -> None:
    tool = tmp_path / "nvidia-smi"
    tool.write_text("#!/bin/sh\ncase \"$1\" in\n"
                    f"  --query-gpu=*) printf '{A100_CSV}';;\n"
                    f"  -L) {listing_script};;\n"
                    "  *) echo 'CUDA Version: 12.4';;\nesac\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")


def test_the_profile_of_a_process_on_a_mig_slice_reads_nvidia_smi_and_names_the_slice(tmp_path, monkeypatch):
    fake_nvidia_smi(tmp_path, monkeypatch, f"cat <<'EOF'\n{A100_TWO_SLICES}EOF\n")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "MIG-cba663e8-9bed-5b7e-8d0a-7a1d6d1f2b8e")
    assert profile.profile_id({"gpu": profile.gpu_info()}) == "gpu-nvidia-a100-40gb-mig-1g-5gb-x1"


def test_an_nvidia_smi_listing_that_fails_is_an_error_naming_it(tmp_path, monkeypatch):
    fake_nvidia_smi(tmp_path, monkeypatch, "echo 'Failed to initialize NVML: Unknown Error' >&2; exit 255")
    with pytest.raises(profile.GpuQueryError, match=r"`nvidia-smi -L` exited 255.*Failed to initialize NVML"):
        profile.gpu_info()
