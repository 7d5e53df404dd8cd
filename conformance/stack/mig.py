"""MIG (Multi-Instance GPU) slices: which ones this process computes on, read from ``nvidia-smi -L``.

A GPU in MIG mode runs CUDA work only on its slices (``1g.5gb``, ``3g.20gb``, ``1g.10gb+me``, or
``1c.3g.20gb`` for a compute instance sharing its GPU instance), each much smaller than the GPU, so the
profile must name the slice, not the GPU. ``nvidia-smi -L`` lists each GPU and, indented under it, its
MIG devices with their UUIDs (``MIG-<uuid>``, or ``MIG-GPU-<gpu uuid>/<gi>/<ci>`` from drivers before
R470). Which of them a process gets follows CUDA's rule: the devices ``CUDA_VISIBLE_DEVICES`` names, in
order (GPU indices, ``GPU-`` or ``MIG-`` UUIDs or their unique prefixes, the list ending at the first entry
that names no device), else every GPU; a GPU in MIG mode stands for its first slice, and a process gets
one MIG device at most.

Where the slice cannot be told (an entry naming a MIG device that is not listed, a MIG line in a form not
understood), the device keeps the GPU but its slice profile is ``None`` and a note says why: its id reads
``…-mig-unknown-…``, never the whole GPU's.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

# CUDA enumerates one MIG device per process, whatever CUDA_VISIBLE_DEVICES names.
MIG_DEVICES_PER_PROCESS = 1

_GPU_LINE = re.compile(r"^GPU\s+(\d+):\s*(.+?)\s*\(UUID:\s*(GPU-[^)\s]+)\s*\)\s*$")
_MIG_LINE = re.compile(r"^\s+MIG\b", re.IGNORECASE)
# "+me" adds a slice's media engines, "-me" leaves them out (Blackwell), "+me.all" takes all of them
_MIG_PROFILE = re.compile(r"^\s+MIG\s+(\d+[cg]\.[0-9a-z.+-]+)\s+Device\s+\d+:", re.IGNORECASE)
_MIG_UUID = re.compile(r"\(UUID:\s*(MIG-[^)\s]+)\s*\)")


class MigDevice(NamedTuple):
    profile: str | None  # None: listed, but in a form not understood
    uuid: str | None


class ListedGpu(NamedTuple):
    index: int
    name: str
    uuid: str
    mig_devices: tuple[MigDevice, ...]


class Slice(NamedTuple):
    gpu: ListedGpu
    device: MigDevice


def parse_listing(text: str) -> list[ListedGpu]:
    """The GPUs of an ``nvidia-smi -L`` answer with their MIG devices; lines of another kind are skipped,
    so an answer with no ``GPU n:`` line (an old or stub ``nvidia-smi``) lists nothing."""
    gpus: list[ListedGpu] = []
    for line in text.splitlines():
        gpu = _GPU_LINE.match(line)
        if gpu:
            gpus.append(ListedGpu(int(gpu.group(1)), gpu.group(2), gpu.group(3), ()))
        elif _MIG_LINE.match(line) and gpus:
            profile, uuid = _MIG_PROFILE.match(line), _MIG_UUID.search(line)
            device = MigDevice(profile.group(1).lower() if profile else None, uuid.group(1) if uuid else None)
            gpus[-1] = gpus[-1]._replace(mig_devices=gpus[-1].mig_devices + (device,))
    return gpus


def in_use(gpus: list[ListedGpu]) -> bool:
    return any(gpu.mig_devices for gpu in gpus)


def process_devices(gpus: list[ListedGpu], cuda_visible_devices: str | None,
                    notes: list[str]) -> list[ListedGpu | Slice]:
    """The devices CUDA gives this process, in its order, on a machine where ``in_use(gpus)``: MIG slices,
    and whole GPUs not in MIG mode; ``notes`` gains a line for each thing that left a slice unknown or a
    named device out."""
    chosen: list[ListedGpu | Slice] = []
    for target in _named_targets(gpus, cuda_visible_devices, notes):
        if isinstance(target, ListedGpu) and target.mig_devices:
            target = Slice(target, target.mig_devices[0])
        if target not in chosen:
            chosen.append(target)
    slices = [s for s in chosen if isinstance(s, Slice)]
    if len(slices) > MIG_DEVICES_PER_PROCESS:
        notes.append(f"CUDA gives a process {MIG_DEVICES_PER_PROCESS} MIG device, the first it is shown: this one "
                     f"computes on {_describe(slices[0])}, not on the {len(slices) - 1} other(s)")
        chosen = [s for s in chosen if not isinstance(s, Slice) or s == slices[0]]
    for s in chosen:
        # A slice made up for an unlisted name already has its note.
        if isinstance(s, Slice) and not s.device.profile and s.device in s.gpu.mig_devices:
            notes.append(f"the MIG device {s.device.uuid or '(no UUID)'} of GPU {s.gpu.index} is listed in a "
                         f"form not understood, so its slice profile is unknown")
    return chosen


def device_fields(slice_: Slice) -> dict[str, Any]:
    """What the fingerprint records of a MIG slice beside its GPU's name, memory and driver."""
    return {"profile": slice_.device.profile, "uuid": slice_.device.uuid,
            "parent_index": slice_.gpu.index, "parent_uuid": slice_.gpu.uuid}


def id_part(mig: dict[str, Any]) -> str:
    """``mig-1g-5gb``: the slice profile in the characters an id uses (``+``, which joins the models of a
    mixed box, and ``.`` become ``-``: ``1g.10gb+me`` → ``mig-1g-10gb-me``; a ``-`` that leaves a part out
    becomes ``-no-``: ``1g.24gb-me`` → ``mig-1g-24gb-no-me``); ``mig-unknown`` where not read."""
    profile = mig.get("profile")
    if not profile:
        return "mig-unknown"
    return f"mig-{re.sub(r'[^a-z0-9]+', '-', profile.replace('-', '-no-')).strip('-')}"


def _named_targets(gpus: list[ListedGpu], cuda_visible_devices: str | None,
                   notes: list[str]) -> list[ListedGpu | Slice]:
    """The GPUs and MIG devices ``CUDA_VISIBLE_DEVICES`` names, up to the first entry that names none (as
    CUDA reads it); every GPU where it is unset."""
    if cuda_visible_devices is None:
        return list(gpus)
    targets: list[ListedGpu | Slice] = []
    for entry in (part.strip() for part in cuda_visible_devices.split(",")):
        target = _resolve(gpus, entry)
        if target is None:
            # A MIG entry that is not listed may be a slice nvidia-smi does not show here: its profile
            # is unknown, not absent. Any other entry that names nothing ends the list, as in CUDA.
            if entry.upper().startswith("MIG-") and not targets:
                notes.append(f"CUDA_VISIBLE_DEVICES names {entry!r}, which `nvidia-smi -L` does not list, "
                             f"so this process's MIG slice is unknown")
                owner = next((g for g in gpus if g.uuid in entry), None) or gpus[0]
                targets.append(Slice(owner, MigDevice(None, entry)))
            elif entry:
                notes.append(f"CUDA_VISIBLE_DEVICES entry {entry!r} names no device `nvidia-smi -L` lists; "
                             f"CUDA ignores it and the entries after it")
            break
        targets.append(target)
    if not targets:
        notes.append(f"CUDA_VISIBLE_DEVICES={cuda_visible_devices!r} shows this process no GPU, so its MIG slice "
                     f"is unknown")
        targets.append(Slice(gpus[0], MigDevice(None, None)))
    return targets


def _resolve(gpus: list[ListedGpu], entry: str) -> ListedGpu | Slice | None:
    # Index entries count GPUs in nvidia-smi's (PCI bus) order; CUDA's default order can differ on a box of
    # mixed models, which MIG boxes seldom are.
    if entry.isdigit():
        return next((gpu for gpu in gpus if gpu.index == int(entry)), None)
    if entry.upper().startswith("MIG-"):
        found = [Slice(gpu, device) for gpu in gpus for device in gpu.mig_devices
                 if device.uuid and device.uuid.lower().startswith(entry.lower())]
    elif entry.upper().startswith("GPU-"):
        found = [gpu for gpu in gpus if gpu.uuid.lower().startswith(entry.lower())]
    else:
        return None
    return found[0] if len(found) == 1 else None


def _describe(slice_: Slice) -> str:
    return f"{slice_.device.profile or 'a slice'} ({slice_.device.uuid}) of GPU {slice_.gpu.index}"
