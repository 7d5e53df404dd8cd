"""The hardware/software fingerprint of this machine and its short, stable id.

The id names the hardware only (``cpu-x86_64-avx512-2c``, ``gpu-nvidia-h100-80gb-x1``,
``tpu-v5e-2x4-x8``), so results and baselines from one machine stay together across library
upgrades; the full fingerprint (library versions, backend, Python) travels with every result.
Nothing here imports a framework: GPUs are read from ``nvidia-smi``, TPUs from the environment
and this host's devices (``conformance.stack.tpu``).
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from conformance.stack.tpu import id_part as tpu_id_part
from conformance.stack.tpu import tpu_info

LIBRARIES = (
    "tensorflow", "tensorflow-cpu", "keras", "jax", "jaxlib", "torch", "numpy", "tensorflow-datasets",
)
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


def gpu_info(nvidia_smi_csv: str | None = None, header: str | None = None) -> dict[str, Any]:
    """GPUs as ``nvidia-smi`` reports them; empty when there are none."""
    if nvidia_smi_csv is None:
        if not shutil.which("nvidia-smi"):
            return {}
        try:
            nvidia_smi_csv = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits"],
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout
            header = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            return {}
    devices = []
    for line in nvidia_smi_csv.strip().splitlines():
        name, memory_mib, driver = (part.strip() for part in line.split(","))
        devices.append({"name": name, "memory_gib": round(int(memory_mib) / 1024), "driver": driver})
    if not devices:
        return {}
    return {
        "vendor": "nvidia",
        "devices": devices,
        "count": len(devices),
        "cuda": _first(r"CUDA Version:\s*([\d.]+)", header or ""),
        "cudnn": _package_version("nvidia-cudnn-cu12", "nvidia-cudnn-cu13", "nvidia-cudnn"),
    }


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
        first = gpu["devices"][0]
        # "NVIDIA H100 80GB HBM3" → "h100": vendor, memory size and type, form factor go
        tokens = [t for t in re.split(r"[^a-z0-9]+", first["name"].lower()) if t and not _NOT_CHIP.match(t)]
        return f"gpu-{gpu['vendor']}-{'-'.join(tokens)}-{first['memory_gib']}gb-x{gpu['count']}"
    cpu = profile["cpu"]
    parts = ["cpu", cpu["arch"]] + ([cpu["feature"]] if cpu["feature"] else []) + [f"{cpu['cores']}c"]
    return "-".join(parts).lower()


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
