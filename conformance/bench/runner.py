"""``python -m conformance bench``: plan the processes, run them, store the run.

For each device count, one pytest process runs ``conformance/bench/suite.py`` under
pytest-benchmark (device emulation must be arranged before the framework starts, so each
count gets a fresh process). What pytest-benchmark measured (``--benchmark-json``: every round's
time, plus each item's ``extra_info``) becomes entries and figures in ``bench.measurements``.

With ``--repeats K`` the whole plan runs K times, one set of fresh processes per repeat,
interleaved (all models of repeat 1, then of repeat 2, ...) so that slow drift of the machine
spreads over the repeats instead of landing on one model. Each entry keeps its repeats' rounds
(``repeats``): the report tests a change against the spread *between* runs (``conformance.report.stats``).

The run goes to ``results/<profile-id>/bench/<run-id>.json``, written atomically. ``--save-baseline``
files the run as this profile's baseline, ``golden/bench/<profile-id>.json`` (``bench.baseline``).
pytest-benchmark's own storage goes to ``<results-dir>/.benchmarks`` (compare with
``pytest-benchmark --storage <results-dir>/.benchmarks compare``).

Across machines (JAX; ``BenchOptions.cluster``): every machine runs the same plan, and each pytest
process joins the cluster (``conformance.stack.cluster``) before Keras builds a model, so the
device count is the whole cluster's and each process feeds its share of every global batch.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.bench import models as bench_models
from conformance.bench.baseline import save_baseline
from conformance.bench.measurements import best_ceilings, combine_repeats, derive, format_summary, from_timings
from conformance.engine.runner import PRECISIONS, SettingsError
from conformance.processes import ending_with_this_process
from conformance.results import store
from conformance.results.records import BenchRun
from conformance.stack import backend, devices, profile
from conformance.stack.cluster import Cluster


@dataclass
class BenchOptions:
    backend: str
    models: str | None = None
    precisions: list[str] = field(default_factory=list)  # empty: float32 + the mixed policies this device runs
    device_counts: list[int] = field(default_factory=list)  # empty: 1 and all (2 emulated on a CPU)
    rounds: int = 5
    repeats: int = 3
    warmup: int = 1
    steps: int = 0
    per_device_batch: int = 0
    ceiling_size: int = 0
    gate: bool = True
    results_dir: Path = Path("results")
    run_id: str | None = None
    save_baseline: bool = False
    baseline_dir: Path | None = None
    command: str = "python -m conformance bench"
    timeout_s: int = 3600
    cluster: Cluster | None = None  # this machine's place in a JAX cluster; None: this machine alone


def default_precisions(fingerprint: dict[str, Any]) -> list[str]:
    """float32 and the mixed policies the device runs: on a TPU mixed_bfloat16 only (its matrix units take
    bfloat16, not float16); on a GPU both; on a CPU mixed_bfloat16 (functional, if rarely faster)."""
    if fingerprint.get("tpu"):
        return ["float32", "mixed_bfloat16"]
    if fingerprint.get("gpu"):
        return ["float32", "mixed_float16", "mixed_bfloat16"]
    return ["float32", "mixed_bfloat16"]


def local_accelerators(fingerprint: dict[str, Any]) -> int | None:
    """The TPU devices or GPUs on this host, as the profile counts them; None where it has none, or where
    a TPU's devices per chip are unknown (its generation was not read)."""
    if fingerprint.get("tpu"):
        return fingerprint["tpu"].get("local_devices")
    return (fingerprint.get("gpu") or {}).get("count") or None


def default_device_counts(fingerprint: dict[str, Any], processes: int = 1) -> list[int]:
    """One device and all of this host's; a CPU is split into two emulated devices so the path runs in CI.
    A cluster of ``processes`` machines runs all its devices only (one process cannot train alone
    while the others wait), counted as if every machine had this one's accelerators (a CPU: one device)."""
    accelerators = local_accelerators(fingerprint) or 0
    if processes > 1:
        return [max(accelerators, 1) * processes]
    if accelerators:
        return [1, accelerators] if accelerators > 1 else [1]
    return [1, 2]


def device_counts(options: BenchOptions, fingerprint: dict[str, Any]) -> list[int]:
    """The device counts asked for, else the machine's defaults; one device on a backend that Keras
    cannot run data-parallel (PyTorch), where asking for more is an error that says why."""
    if options.backend in devices.MULTI_DEVICE_BACKENDS:
        processes = options.cluster.num_processes if options.cluster else 1
        counts = options.device_counts or default_device_counts(fingerprint, processes)
        if any(count % processes for count in counts):
            raise SettingsError(f"--devices counts the devices of all {processes} processes: a multiple of {processes}")
        return counts
    reason = devices.single_device_reason(options.backend)
    if any(count > 1 for count in options.device_counts):
        raise SettingsError(f"--devices {','.join(map(str, options.device_counts))}: {reason}")
    print(f"one device only: {reason}", flush=True)
    return [1]


def run(options: BenchOptions) -> int:
    """Run the benchmarks, store the run, optionally save it as the baseline; 0 when every item passed."""
    check_cluster(options)
    backend.require_installed(options.backend)
    backend.select(options.backend)
    fingerprint = profile.fingerprint(options.backend)
    precisions = options.precisions or default_precisions(fingerprint)
    unknown = [p for p in precisions if p not in PRECISIONS]
    if unknown:
        raise SettingsError(f"unknown precision {', '.join(unknown)}; choose from {', '.join(PRECISIONS)}")
    if options.repeats < 1:
        raise SettingsError("--repeats must be at least 1")
    counts = device_counts(options, fingerprint)
    check_accelerator_counts(counts, fingerprint, options.cluster.num_processes if options.cluster else 1)
    bench_models.select(options.models)  # fail fast on a pattern that matches nothing
    run_id = options.run_id or store.new_run_id("bench", options.backend)
    path = store.run_path(options.results_dir, fingerprint["id"], "bench", run_id)
    if path.exists():
        raise SettingsError(f"{path} exists: a bench run is never overwritten (a baseline may cite it); choose "
                            f"another --run-id")
    path.parent.mkdir(parents=True, exist_ok=True)
    gate_skipped = gate_skip_reason(options, counts, precisions)
    if gate_skipped:
        print(f"accuracy gate: skipped — {gate_skipped}", flush=True)
    started = _now()
    processes, timings, records = [], [], []
    plan = process_plan(options, counts, gpus=(fingerprint["gpu"] or {}).get("count", 0))
    for repeat in range(1, options.repeats + 1):
        for count, models in plan:
            # The accuracy gate measures correctness, not speed: once is enough.
            name = f"{run_id}-r{repeat}-d{count}" + (f"-{models}" if models != options.models else "")
            process, benchmarks, process_records = _run_process(options, count, precisions, models, repeat=repeat,
                                                                platform=devices.expected_platform(fingerprint),
                                                                gate=options.gate and repeat == 1, name=name,
                                                                log=path.parent / f"{name}.log")
            processes.append(process)
            timings += benchmarks
            records += process_records
            print(f"repeat {repeat}/{options.repeats} devices={count} models={models or 'all'}: pytest exited "
                  f"{process['returncode']} after {process['wall_s']:.1f}s", flush=True)
    measured, ceilings = from_timings(timings)
    ceilings = best_ceilings(ceilings)
    entries = combine_repeats(measured, ceilings)
    result = BenchRun(
        run_id=run_id, started=started, finished=_now(), command=options.command, profile=fingerprint,
        settings={"backend": options.backend, "models": options.models, "precisions": precisions,
                  "device_counts": counts, "rounds": options.rounds, "repeats": options.repeats,
                  "warmup_rounds": options.warmup, "steps": options.steps or "auto",
                  "per_device_batch": options.per_device_batch or "book", "gate": options.gate,
                  "gate_skipped": gate_skipped,
                  "cluster": options.cluster.as_settings() if options.cluster else None},
        status="passed" if all(p["returncode"] == 0 for p in processes) else "failed",
        entries=entries, ceilings=ceilings, gates=[r for r in records if r["kind"] == "gate"], processes=processes,
        derived=derive(entries))
    store.write_json_atomically(path, result.to_json())
    print(format_summary(result))
    print(f"results: {path}")
    if options.save_baseline:
        if result.status != "passed":
            print("error: not saving a baseline from a run with failures", file=sys.stderr)
            return 1
        print(f"baseline: {save_baseline(result, options.baseline_dir)}")
    return 0 if result.status == "passed" else 1


def gate_skip_reason(options: BenchOptions, counts: list[int], precisions: list[str]) -> str | None:
    """Why the accuracy gate, though asked for, will not run (the plugin leaves its items out); None when it runs
    or was switched off. Recorded in the run's settings and printed, so an empty ``gates`` list is never read
    as a gate that passed."""
    if not options.gate:
        return None
    if options.cluster:
        return "a cluster run trains on all its devices, and the gate trains on one"
    if 1 not in counts:
        return (f"it trains on one device, and --devices {','.join(map(str, counts))} leaves out 1; "
                f"add 1 to --devices to run it")
    if all(precision == "float32" for precision in precisions):
        return "it compares mixed precision with float32, and only float32 was asked for"
    return None


def check_accelerator_counts(counts: list[int], fingerprint: dict[str, Any], processes: int) -> None:
    """Refuse more devices per process than this machine has accelerators: they could only be emulated on
    its CPU, and the figures filed under the accelerator's profile."""
    platform = devices.expected_platform(fingerprint)
    accelerators = local_accelerators(fingerprint)
    too_many = [count for count in counts if accelerators and count // processes > accelerators]
    if too_many:
        raise SettingsError(f"--devices {','.join(map(str, too_many))}: this machine ({fingerprint['id']}) has only "
                            f"{accelerators} {platform.upper()} device(s); CPU devices are emulated only on a machine "
                            f"without accelerators")


def check_cluster(options: BenchOptions) -> None:
    """A cluster runs on JAX (TensorFlow's forms from TF_CONFIG) and files no baseline: its figures
    belong to the machines and network together, not to this machine's profile."""
    if options.cluster is None:
        return
    if options.backend != "jax":
        raise SettingsError("--coordinator/--num-processes/--process-id are for --backend jax "
                            "(TensorFlow forms clusters from TF_CONFIG)")
    if options.save_baseline:
        raise SettingsError("a cluster's run is not this machine's baseline; leave out --save-baseline")


def cluster_arguments(cluster: Cluster | None) -> list[str]:
    """The bench plugin's options that make a pytest process join ``cluster``."""
    if cluster is None:
        return []
    return ["--bench-coordinator", cluster.coordinator, "--bench-num-processes", str(cluster.num_processes),
            "--bench-process-id", str(cluster.process_id)]


def process_plan(options: BenchOptions, counts: list[int], gpus: int) -> list[tuple[int, str | None]]:
    """(device count, models) per pytest process: one process per device count, except that
    TensorFlow on several GPUs gets one process per model. There, MirroredStrategy's NCCL
    all-reduces are keyed per strategy from the same starting numbers, so a second model in the
    process (another gradient size) can collide with the first one's collective ("Shape mismatch
    in the collective instance 100 ... expected shape [104202] but another member ... [407050]").
    Emulated CPU devices reduce on one device (``devices.scope``), which has no such collectives,
    so they share one process."""
    plan: list[tuple[int, str | None]] = []
    for count in counts:
        if options.backend == "tensorflow" and count > 1 and gpus:
            plan += [(count, model.name) for model in bench_models.select(options.models)]
        else:
            plan.append((count, options.models))
    return plan


def _run_process(options: BenchOptions, count: int, precisions: list[str], models: str | None, repeat: int,
                 gate: bool, name: str, log: Path, platform: str | None = None
                 ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """One pytest process of the plan, saved by pytest-benchmark as ``name``; a process that
    fails leaves its whole output in ``log``. A process that refused to measure because its framework
    does not run on ``platform`` (the profile's: ``cpu``, ``gpu``, ``tpu``) stops the run: a
    :class:`devices.DeviceError`."""
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        timings_file, records_file = Path(scratch) / "benchmark.json", Path(scratch) / "records.jsonl"
        storage = (Path(options.results_dir) / ".benchmarks").resolve()
        args = [
            sys.executable, "-m", "pytest", str(Path(__file__).with_name("suite.py")), "-p", "conformance.bench.plugin",
            "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "-rfE", "--rootdir", os.getcwd(),
            "--bench-backend", options.backend, "--bench-devices", str(count),
            "--bench-precisions", ",".join(precisions), "--bench-rounds", str(options.rounds),
            "--bench-warmup", str(options.warmup), "--bench-steps", str(options.steps),
            "--bench-batch", str(options.per_device_batch), "--bench-ceiling-size", str(options.ceiling_size),
            "--bench-gate", "on" if gate else "off", "--bench-records", str(records_file),
            "--benchmark-json", str(timings_file), "--benchmark-storage", f"file://{storage}",
            "--benchmark-save", name,
            "--benchmark-save-data", "--benchmark-disable-gc",
            "--benchmark-sort", "name",
        ]
        if models:
            args += ["--bench-models", models]
        if platform:  # else the plugin reads this machine's profile itself
            args += ["--bench-platform", platform]
        args += cluster_arguments(options.cluster)
        started = time.perf_counter()
        try:
            # An outer pytest-xdist worker's variables would make pytest-benchmark switch itself off.
            env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
            done = subprocess.run(args, capture_output=True, text=True, timeout=options.timeout_s, env=env,
                                  preexec_fn=ending_with_this_process())
            returncode, output = done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired as expired:
            returncode = -1
            output = f"timed out after {options.timeout_s}s\n" + "".join(  # bytes here, whatever text= said
                _text(stream) for stream in (expired.stdout, expired.stderr))
        wall = time.perf_counter() - started
        if returncode != 0:
            log.write_text(output, encoding="utf-8")
            print(f"{output[-3000:]}\nthe process's whole output: {log}", file=sys.stderr)
        timings = json.loads(timings_file.read_text())["benchmarks"] if timings_file.exists() else []
        if returncode == 0 and not timings:
            returncode, output = 1, output + "\nFAILED pytest-benchmark recorded no timings (benchmarks disabled?)"
        records = [json.loads(line) for line in records_file.read_text().splitlines()] if records_file.exists() else []
    refused = next((r for r in records if r["kind"] == "refused"), None)
    if refused:
        raise devices.DeviceError(f"devices={count}: {refused['message']}; nothing was filed (the process's "
                                  f"output: {log})")
    facts = next((r for r in records if r["kind"] == "process"), {})
    process = {"repeat": repeat, "devices": count, "models": models or "all", "returncode": returncode,
               "wall_s": round(wall, 2),
               "tensorflow_imported": facts.get("tensorflow_imported"), "platform": facts.get("platform"),
               "failures": _failures(output, returncode, count, models) + [f"output: {log}"] if returncode else []}
    return process, timings, [r for r in records if r["kind"] not in ("process", "refused")]


def _text(stream: bytes | str | None) -> str:
    return stream.decode(errors="replace") if isinstance(stream, bytes) else stream or ""


def _failures(output: str, returncode: int, count: int, models: str | None) -> list[str]:
    failed = [line for line in output.splitlines() if line.startswith(("FAILED", "ERROR"))][:20]
    return failed or [f"devices={count} models={models or 'all'}: pytest exited {returncode} (crashed or timed out)"]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
