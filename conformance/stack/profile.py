"""The hardware/software fingerprint of this machine and its short, stable id.

The id names the hardware only (``cpu-x86_64-avx512-2c``, ``gpu-nvidia-h100-80gb-x1``,
``gpu-nvidia-h100-pcie-80gb-x1``, ``gpu-nvidia-a100-40gb-x1+t4-16gb-x1`` for a box of mixed GPUs,
``tpu-v5e-2x4-x8``), so results and baselines from one machine stay together across library
upgrades; the full fingerprint (library versions, backend, Python) travels with every result.
A process on a MIG slice of a GPU is named by the slice it gets (``gpu-nvidia-a100-40gb-mig-1g-5gb-x1``),
whose speed and memory are a fraction of the GPU's; its fingerprint records the slice's profile and UUID
and its GPU (``conformance.stack.mig``).
Nothing here imports a framework: GPUs are read from ``nvidia-smi``, TPUs from the environment
and this host's devices (``conformance.stack.tpu``).
"""

from __future__ import annotations

import importlib.metadata
import math
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Mapping

from conformance.errors import ConformanceError
from conformance.stack import mig
from conformance.stack.tpu import id_part as tpu_id_part
from conformance.stack.tpu import tpu_info

LIBRARIES = (
    "tensorflow", "tensorflow-cpu", "keras", "jax", "jaxlib", "torch", "numpy", "tensorflow-datasets",
)
# Name tokens that are not the chip: vendor and brand, memory size and type, form factor (a PCIe card gets
# its own token back in gpu_model_id_part).
_NOT_CHIP = re.compile(r"^(nvidia|geforce|tesla|\d+gb|hbm\d*e?|gddr\d*x?|pcie|sxm\d*|nvl)$")
CPU_FEATURES = ("avx512f", "avx2", "avx", "sse4_2", "asimd", "neon")  # best first


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def cpu_info(cpuinfo: str | None = None) -> dict[str, Any]:
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.exists() else ""
    model = _first(r"^(?:model name|Model|Hardware)\s*:\s*(.+)$", cpuinfo) or platform.processor() or "unknown"
    flags = set((_first(r"^(?:flags|Features)\s*:\s*(.+)$", cpuinfo) or "").split())
    best = next((f for f in CPU_FEATURES if f in flags), "")
    return {
        "model": model.strip(),
        "arch": platform.machine(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "feature": best.replace("avx512f", "avx512"),
    }


def memory_gib() -> float | None:
    path = Path("/proc/meminfo")
    if not path.exists():
        return None
    kib = _first(r"^MemTotal:\s+(\d+) kB", path.read_text())
    return round(int(kib) / 2**20, 1) if kib else None


class GpuQueryError(ConformanceError):
    """``nvidia-smi`` is installed but did not describe the GPUs: the profile would otherwise say ``cpu-…``."""


NVIDIA_SMI_QUERY = ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits"]
# The query's rows describe whole GPUs; only this listing names their MIG slices.
NVIDIA_SMI_LIST = ["nvidia-smi", "-L"]
# nvidia-smi's answer on a machine whose driver is loaded but has no GPU attached: a fact, not a failure.
NO_DEVICES = "No devices were found"
NVIDIA_SMI_TIMEOUT_S = 30


def gpu_info(nvidia_smi_csv: str | None = None, header: str | None = None, listing: str | None = None,
             environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The GPUs this process computes on, as ``nvidia-smi`` reports them; empty when there are none (no
    ``nvidia-smi``, or it finds no device). On a GPU in MIG mode that is the slice CUDA gives this process
    (``listing``, ``nvidia-smi -L``, names the slices; ``environ``'s ``CUDA_VISIBLE_DEVICES`` picks one).

    An ``nvidia-smi`` that fails (a non-zero exit, a timeout) or answers in a form not understood is a
    :class:`GpuQueryError`: read as "no GPU", a passing hiccup would file a GPU machine's results under
    its CPU's profile."""
    if nvidia_smi_csv is None:
        if not shutil.which("nvidia-smi"):
            return {}
        nvidia_smi_csv = _nvidia_smi(NVIDIA_SMI_QUERY)
        if nvidia_smi_csv is None:
            return {}
        header = _nvidia_smi(["nvidia-smi"]) or ""
        listing = _nvidia_smi(NVIDIA_SMI_LIST) or ""
    devices = [_gpu_device(line) for line in nvidia_smi_csv.strip().splitlines() if line.strip()]
    if not devices:
        return {}
    notes: list[str] = []
    listed = mig.parse_listing(listing or "")
    if mig.in_use(listed):
        cuda_visible_devices = (os.environ if environ is None else environ).get("CUDA_VISIBLE_DEVICES")
        devices = _mig_devices(devices, listed, cuda_visible_devices, notes)
    return {
        "vendor": "nvidia",
        "devices": devices,
        "count": len(devices),
        "cuda": _first(r"CUDA Version:\s*([\d.]+)", header or ""),
        "cudnn": _package_version("nvidia-cudnn-cu12", "nvidia-cudnn-cu13", "nvidia-cudnn"),
        "notes": notes,
    }


def _mig_devices(gpus: list[dict[str, Any]], listed: list[mig.ListedGpu], cuda_visible_devices: str | None,
                 notes: list[str]) -> list[dict[str, Any]]:
    """The devices of this process on a machine with MIG slices: each GPU's name, memory and driver, and
    for a slice its ``mig`` fields. The query's rows and ``nvidia-smi -L``'s GPUs come in one order."""
    if len(listed) != len(gpus):
        raise GpuQueryError(f"`{' '.join(NVIDIA_SMI_QUERY)}` lists {len(gpus)} GPU(s) and "
                            f"`{' '.join(NVIDIA_SMI_LIST)}` {len(listed)}, so the GPU of each MIG slice is unknown")
    devices = []
    for chosen in mig.process_devices(listed, cuda_visible_devices, notes):
        if isinstance(chosen, mig.Slice):
            devices.append({**gpus[listed.index(chosen.gpu)], "mig": mig.device_fields(chosen)})
        else:
            devices.append(gpus[listed.index(chosen)])
    return devices


def _nvidia_smi(command: list[str]) -> str | None:
    """``command``'s output; None where it says there is no GPU; a :class:`GpuQueryError` where it fails."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise GpuQueryError(f"`{' '.join(command)}` did not answer within {NVIDIA_SMI_TIMEOUT_S} s, so this "
                            f"machine's GPUs are unknown; rerun when the driver responds") from None
    except OSError as error:
        raise GpuQueryError(f"`{' '.join(command)}` could not start ({error})") from error
    if done.returncode != 0:
        if NO_DEVICES in done.stdout + done.stderr:
            return None
        said = (done.stderr.strip() or done.stdout.strip() or "no output")[-500:]
        raise GpuQueryError(f"`{' '.join(command)}` exited {done.returncode}, so this machine's GPUs are unknown: "
                            f"{said}")
    return done.stdout


def _gpu_device(line: str) -> dict[str, Any]:
    """One line of ``name, memory.total (MiB), driver_version``."""
    parts = [part.strip() for part in line.split(",")]
    if len(parts) != 3 or not parts[1].isdigit():
        raise GpuQueryError(f"nvidia-smi's line {line.strip()!r} is not 'name, memory in MiB, driver version'")
    name, memory_mib, driver = parts
    return {"name": name, "memory_gib": round(int(memory_mib) / 1024), "memory_mib": int(memory_mib),
            "driver": driver}


def fingerprint(backend: str | None = None) -> dict[str, Any]:
    """The full profile, including its ``id``."""
    profile = {
        "cpu": cpu_info(),
        "memory_gib": memory_gib(),
        "gpu": gpu_info(),
        "tpu": tpu_info(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "backend": backend or os.environ.get("KERAS_BACKEND", "tensorflow"),
        "libraries": library_versions(),
    }
    profile["id"] = profile_id(profile)
    return profile


def profile_id(profile: dict[str, Any]) -> str:
    """The accelerator names the machine when there is one (a TPU before a GPU), else the CPU."""
    if profile.get("tpu"):
        return tpu_id_part(profile["tpu"])
    gpu = profile.get("gpu") or {}
    if gpu:
        return f"gpu-{gpu['vendor']}-{gpu_models_id_part(gpu['devices'])}"
    cpu = profile["cpu"]
    parts = ["cpu", cpu["arch"]] + ([cpu["feature"]] if cpu["feature"] else []) + [f"{cpu['cores']}c"]
    return "-".join(parts).lower()


def gpu_models_id_part(devices: list[dict[str, Any]]) -> str:
    """``h100-80gb-x2``; on a box of mixed GPUs each model with its count, in name order and joined by
    ``+`` (``a100-40gb-x1+t4-16gb-x1``), so that neither machine's results land in the other's profile."""
    counts: dict[str, int] = {}
    for device in devices:
        model = gpu_model_id_part(device)
        counts[model] = counts.get(model, 0) + 1
    return "+".join(f"{model}-x{count}" for model, count in sorted(counts.items()))


def gpu_model_id_part(device: dict[str, Any]) -> str:
    """"NVIDIA H100 80GB HBM3" → ``h100-80gb``, "NVIDIA H100 PCIe" → ``h100-pcie-80gb``: the chip, a PCIe
    card's form factor (its clocks and power limit differ from the SXM module's), the marketed memory; and
    for a MIG slice its profile (``a100-40gb-mig-1g-5gb``)."""
    tokens = [t for t in re.split(r"[^a-z0-9]+", device["name"].lower()) if t and not _NOT_CHIP.match(t)]
    if re.search(r"(?<![a-z])pcie(?![a-z])", device["name"].lower()):
        tokens.append("pcie")
    model = f"{'-'.join(tokens)}-{marketed_memory_gb(device)}gb"
    return f"{model}-{mig.id_part(device['mig'])}" if device.get("mig") else model


# Memory sizes GPUs are sold with, in GB. nvidia-smi reports a little less than the card has (the driver
# and ECC keep some), and how much less moves with the driver: an L4 reports 23034 MiB (22.5 GiB), an
# A10G 23028 MiB, an H100 80GB 81559 MiB (79.6 GiB), an RTX 4070's 12 GB 12282 MiB (12.0 GiB).
MARKETED_MEMORY_GB = (2, 3, 4, 6, 8, 10, 11, 12, 16, 20, 24, 32, 40, 48, 64, 80, 94, 96, 128, 141, 180, 192, 288)
# How far (as a log ratio) the reported memory may lie from a size for that size to name it: the driver's
# share and the GB/GiB difference are a few per cent; a card further from every size keeps its reported GiB.
MEMORY_MATCH = 0.15


def marketed_memory_gb(device: dict[str, Any]) -> int:
    """The size the card is sold with: the one its name states ("A100-SXM4-40GB") when the reported
    memory agrees with it (a GH200's "480GB" counts the CPU's memory too), else the size of
    :data:`MARKETED_MEMORY_GB` nearest the reported GiB (22.5 → 24, 12.0 → 12, 93.6 → 94), so a few MiB
    more or less never change the profile id; with none near, the reported GiB rounded."""
    reported = device.get("memory_mib", device["memory_gib"] * 1024) / 1024
    stated = re.search(r"(\d+)\s*gb\b", device["name"].lower())
    if stated and _near(int(stated.group(1)), reported):
        return int(stated.group(1))
    nearest = min(MARKETED_MEMORY_GB, key=lambda size: abs(math.log(size / reported)))
    return nearest if _near(nearest, reported) else round(reported)


def _near(size_gb: int, reported_gib: float) -> bool:
    return abs(math.log(size_gb / reported_gib)) <= MEMORY_MATCH


def _first(pattern: str, text: str) -> str | None:
    match = re.search(pattern, text, re.MULTILINE)
    return match.group(1) if match else None


def _package_version(*names: str) -> str | None:
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None
