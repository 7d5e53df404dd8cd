"""Cloud TPUs as the machine itself describes them, without importing a framework or calling the network.

Three sources, the first that knows a fact wins:

* environment variables (``TPU_ACCELERATOR_TYPE``, ``TPU_TOPOLOGY``, ``TPU_WORKER_HOSTNAMES``,
  ``TPU_WORKER_ID``), which GKE sets in TPU pods and a runner can set in its ``.env`` file;
* GCE metadata values (``accelerator-type``, and ``tpu-env``'s ``KEY: 'value'`` lines), only when the
  caller passes them in: the metadata server is a network call, which the profile never makes;
* this host's PCI devices (``/sys/bus/pci/devices``), whose ids name the generation, as JAX's own
  hardware check reads them, and ``/dev/accel*`` nodes, which count the chips attached to this host.

A slice of up to 8 chips comes in one shape for its chip count (four v5e chips are a 2x2), so its
topology is filled in where nothing states it but its size is known (from the accelerator type, or the
chips of a host named as the slice's only one): the id of such a slice is the same whether or not the
runner sets ``TPU_TOPOLOGY``. A larger slice keeps the topology it is given, or none; so does a host
whose chips are all that is known, which may be one worker of a larger slice.

A form this module does not know (a new generation, an odd topology) leaves that fact ``None`` and a
note saying why, never an error.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Mapping, NamedTuple


class Generation(NamedTuple):
    tensorcores_per_chip: int | None  # what a chip adds to an accelerator type's number; None: not documented
    devices_per_chip: int  # what JAX or TensorFlow lists per chip


# An accelerator-type name ("v4-8", "v5litepod-8") counts TensorCores, not chips. v2, v3, v4 and v5p
# chips have two cores (v4-8 and v5p-8 are 4 chips); v5e and v6e chips have one, so there the number
# is the chip count (v5litepod-8 and v6e-8 are 8 chips). v4 and v5p show a chip's two cores to the
# framework as one device (megacore); v2, v3 and 7x show each core. TPU7x (Ironwood) chips have two
# TensorCores and no megacore (JAX's TPU tables say so), but what the number in its accelerator type counts
# is not documented where this module could read it: its chips come from the topology or this host.
GENERATIONS = {
    "v2": Generation(tensorcores_per_chip=2, devices_per_chip=2),
    "v3": Generation(tensorcores_per_chip=2, devices_per_chip=2),
    "v4": Generation(tensorcores_per_chip=2, devices_per_chip=1),
    "v5p": Generation(tensorcores_per_chip=2, devices_per_chip=1),
    "v5e": Generation(tensorcores_per_chip=1, devices_per_chip=1),
    "v6e": Generation(tensorcores_per_chip=1, devices_per_chip=1),
    "7x": Generation(tensorcores_per_chip=None, devices_per_chip=2),
}
# Accelerator types spell v5e "v5litepod" (and some tools "v5lite"), and 7x "tpu7x".
GENERATION_ALIASES = {"v5litepod": "v5e", "v5lite": "v5e", "tpu7x": "7x"}
GOOGLE_PCI_VENDOR = "0x1ae0"
# Google's PCI vendor id also covers its virtual NIC, so only these device ids are TPUs (the ids JAX's
# hardware check reads). v2 and v3 chips share one id, read as v3; an accelerator type that says v2 is
# taken at its word.
TPU_PCI_DEVICES = {"0x0027": "v3", "0x005e": "v4", "0x0062": "v5p", "0x0063": "v5e", "0x006f": "v6e",
                   "0x0076": "7x"}
# The one shape of a small slice, by generation and chip count (the smallest slices each generation is sold
# in): 1, 4 or 8 v5e or v6e chips in a plane; 4 v4, v5p or 7x chips in a 2x2x1 cube (one host), 8 v4 or
# v5p chips in a 2x2x2 (two); 4 v2 or v3 chips in a 2x2.
SMALL_SLICE_TOPOLOGIES = {
    ("v5e", 1): "1x1", ("v5e", 4): "2x2", ("v5e", 8): "2x4",
    ("v6e", 1): "1x1", ("v6e", 4): "2x2", ("v6e", 8): "2x4",
    ("v4", 4): "2x2x1", ("v5p", 4): "2x2x1", ("7x", 4): "2x2x1", ("v4", 8): "2x2x2", ("v5p", 8): "2x2x2",
    ("v2", 4): "2x2", ("v3", 4): "2x2",
}
SAME_PCI_ID_AS = {"v2": "v3"}

_TPU_ENV_KEYS = ("ACCELERATOR_TYPE", "TOPOLOGY", "WORKER_HOSTNAMES", "WORKER_ID")


class LocalChips(NamedTuple):
    count: int
    generation: str | None


def tpu_info(environ: Mapping[str, str] | None = None, metadata: Mapping[str, str] | None = None,
             local: LocalChips | None = None) -> dict[str, Any]:
    """This machine's TPU slice: type, generation, chips, topology, hosts; empty when there is no TPU.

    ``environ`` defaults to ``os.environ``, ``local`` to this host's PCI devices and ``/dev/accel*``
    nodes; ``metadata`` (GCE metadata attribute → text) is never fetched, only read when given.
    """
    facts = _facts(os.environ if environ is None else environ, metadata or {})
    local = local_chips() if local is None else local
    # A worker id or host list alone describes a job, not a TPU.
    if not ({"ACCELERATOR_TYPE", "TOPOLOGY"} & facts.keys()) and not local.count:
        return {}
    notes: list[str] = []
    accelerator_type = facts.get("ACCELERATOR_TYPE")
    generation, cores = _parse_accelerator_type(accelerator_type, notes) if accelerator_type else (None, None)
    if generation and local.generation and SAME_PCI_ID_AS.get(generation, generation) != local.generation:
        notes.append(f"the accelerator type says {generation}, this host's chips are {local.generation}")
    generation = generation or local.generation
    topology = _parse_topology(facts.get("TOPOLOGY"), notes)
    hosts = len([name for name in facts.get("WORKER_HOSTNAMES", "").split(",") if name.strip()]) or None
    stated_chips = _chips(generation, cores, topology, notes)
    # Without a type or topology, the chips seen here are the slice's only when it has one host.
    chips = stated_chips or (local.count if hosts in (None, 1) else None) or None
    if chips and not stated_chips and hosts is None:
        notes.append("the slice's chip count is read from this host alone; where the slice spans hosts, set "
                     "TPU_ACCELERATOR_TYPE or TPU_TOPOLOGY")
    # A worker of a larger slice sees as many chips as a small slice has: its shape is known only when
    # the slice's size is stated, or its one host is.
    if topology is None and (stated_chips or hosts == 1):
        topology = SMALL_SLICE_TOPOLOGIES.get((generation, chips))
    on_this_host = local.count or (chips // hosts if chips and hosts and chips % hosts == 0 else None)
    per_chip = GENERATIONS[generation].devices_per_chip if generation in GENERATIONS else None
    return {
        "accelerator_type": accelerator_type,
        "generation": generation,
        "chips": chips,
        "topology": topology,
        "hosts": hosts,
        "worker_id": _integer(facts.get("WORKER_ID")),
        "local_chips": on_this_host,
        "local_devices": on_this_host * per_chip if on_this_host and per_chip else None,
        "notes": notes,
    }


def id_part(tpu: Mapping[str, Any]) -> str:
    """``tpu-v5e-2x4-x8``: generation, topology and chip count of the slice, each where known."""
    parts = ["tpu", tpu.get("generation") or "unknown"]
    if tpu.get("topology"):
        parts.append(tpu["topology"])
    if tpu.get("chips"):
        parts.append(f"x{tpu['chips']}")
    return "-".join(parts)


def local_chips(pci_root: Path = Path("/sys/bus/pci/devices"), dev: Path = Path("/dev")) -> LocalChips:
    """The TPU chips attached to this host, by PCI id (which also names the generation) or else by
    ``/dev/accel*`` node."""
    generations = []
    for vendor in sorted(pci_root.glob("*/vendor")):
        try:
            if vendor.read_text().strip() != GOOGLE_PCI_VENDOR:
                continue
            device = vendor.with_name("device").read_text().strip()
        except OSError:
            continue
        if device in TPU_PCI_DEVICES:
            generations.append(TPU_PCI_DEVICES[device])
    if generations:
        return LocalChips(len(generations), generations[0])
    return LocalChips(len(list(dev.glob("accel[0-9]*"))), None)


def _facts(environ: Mapping[str, str], metadata: Mapping[str, str]) -> dict[str, str]:
    """The slice's facts by ``tpu-env`` key, environment over metadata."""
    facts = dict(re.findall(r"^\s*([A-Z_]+)\s*:\s*'?([^'\n]*?)'?\s*$", metadata.get("tpu-env", ""), re.MULTILINE))
    if metadata.get("accelerator-type"):
        facts["ACCELERATOR_TYPE"] = metadata["accelerator-type"]
    facts.update({key: environ[f"TPU_{key}"] for key in _TPU_ENV_KEYS if environ.get(f"TPU_{key}")})
    return {key: value.strip() for key, value in facts.items() if key in _TPU_ENV_KEYS and value.strip()}


def _parse_accelerator_type(text: str, notes: list[str]) -> tuple[str | None, int | None]:
    """``v5litepod-8`` → ("v5e", 8 TensorCores)."""
    match = re.fullmatch(r"(v\d+[a-z]*|tpu\d+[a-z]*)-(\d+)", text.strip().lower())
    if not match:
        notes.append(f"accelerator type {text!r} is not of the form <generation>-<number>")
        return None, None
    generation = GENERATION_ALIASES.get(match.group(1), match.group(1))
    if generation not in GENERATIONS:
        notes.append(f"generation {generation!r} is not in the chip-count table; its chip count comes from the "
                     f"topology or this host's chips")
        return generation, None
    if GENERATIONS[generation].tensorcores_per_chip is None:
        notes.append(f"what the number in a {generation} accelerator type counts is not documented; its chip "
                     f"count comes from the topology or this host's chips")
        return generation, None
    return generation, int(match.group(2))


def _parse_topology(text: str | None, notes: list[str]) -> str | None:
    if not text:
        return None
    topology = text.strip().lower().replace(" ", "")
    if not re.fullmatch(r"\d+(x\d+)+", topology):
        notes.append(f"topology {text!r} is not of the form AxB or AxBxC")
        return None
    return topology


def _chips(generation: str | None, cores: int | None, topology: str | None, notes: list[str]) -> int | None:
    from_type = None
    if cores is not None and generation in GENERATIONS:
        from_type, odd = divmod(cores, GENERATIONS[generation].tensorcores_per_chip)
        if odd:
            notes.append(f"{cores} TensorCores is not a whole number of {generation} chips")
            from_type = None
    from_topology = math.prod(int(side) for side in topology.split("x")) if topology else None
    if from_type and from_topology and from_type != from_topology:
        notes.append(f"the accelerator type says {from_type} chips, the topology {topology} {from_topology}")
    return from_type or from_topology


def _integer(text: str | None) -> int | None:
    return int(text) if text and text.strip().isdigit() else None
