"""``python -m conformance bench``: training throughput of the book's models over precision × device count.

For each device count, one pytest process runs ``conformance/bench_suite.py`` under
pytest-benchmark (device emulation must be arranged before the framework starts, so each
count gets a fresh process). This module reads back what pytest-benchmark measured
(``--benchmark-json``: every round's time, plus each item's ``extra_info``), derives

* throughput: samples per second of each round (``samples_per_round / round_time``);
* mixed-precision speedup: median throughput under a mixed policy over float32's;
* scaling efficiency: ``T_N / (N · T_1)`` at constant per-device batch;
* achieved FLOP/s (analytic FLOPs per sample × median throughput, see ``bench_models``) and
  utilisation against the ceiling: the best round of a large matmul at that precision (the
  fastest way the backend runs it: XLA, or TensorFlow's graph op),
  measured in the same process, times the device count (emulated CPU devices share the cores,
  so there the figure understates what the cores deliver);
* peak memory (host RSS; device peak where the backend reports it), per process so far;

With ``--repeats K`` the whole plan runs K times, one set of fresh processes per repeat,
interleaved (all models of repeat 1, then of repeat 2, ...) so that slow drift of the machine
spreads over the repeats instead of landing on one model. Each entry keeps its repeats' rounds
(``repeats``): the report tests a change against the spread *between* runs (``conformance.report.stats``).

The run goes to ``results/<profile-id>/bench-<run-id>.json``, written atomically. ``--save-baseline``
files the run as this profile's baseline, ``golden/bench/<profile-id>.json``, with provenance
(command, run id, date, versions, profile); a baseline holds one entry per backend.
pytest-benchmark's own storage goes to ``<results-dir>/.benchmarks`` (compare with
``pytest-benchmark --storage <results-dir>/.benchmarks compare``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.stack import backend
from conformance.bench import models as bench_models
from conformance.stack import profile
from conformance.results import store
from conformance.engine.runner import PRECISIONS
from conformance.report.stats import between_run_cv, median_of_runs, robust_cv

BENCH_SCHEMA_VERSION = 1
BASELINE_ENTRY_FIELDS = ("model", "precision", "devices", "global_batch", "samples_per_s")
PROVENANCE_FIELDS = ("command", "run_id", "date", "versions", "profile", "backend")


class BaselineError(Exception):
    """A benchmark baseline or run file that cannot be used; the message names the file and the field."""


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


def baseline_dir() -> Path:
    from conformance.engine.golden import golden_dir

    return golden_dir() / "bench"


def baseline_path(profile_id: str, directory: Path | None = None) -> Path:
    return (directory or baseline_dir()) / f"{profile_id}.json"


def default_precisions(fingerprint: dict[str, Any]) -> list[str]:
    """float32 and mixed_bfloat16 everywhere (functional on CPU); mixed_float16 where there is a GPU."""
    return ["float32", "mixed_float16", "mixed_bfloat16"] if fingerprint["gpu"] else ["float32", "mixed_bfloat16"]


def default_device_counts(fingerprint: dict[str, Any]) -> list[int]:
    """One device and all of them; a CPU is split into two emulated devices so the path runs in CI."""
    gpus = (fingerprint["gpu"] or {}).get("count", 0)
    if gpus:
        return [1, gpus] if gpus > 1 else [1]
    return [1, 2]


def run(options: BenchOptions) -> int:
    """Run the benchmarks, store the run, optionally save it as the baseline; 0 when every item passed."""
    backend.require_installed(options.backend)
    backend.select(options.backend)
    fingerprint = profile.fingerprint(options.backend)
    precisions = options.precisions or default_precisions(fingerprint)
    unknown = [p for p in precisions if p not in PRECISIONS]
    if unknown:
        raise ValueError(f"unknown precision {', '.join(unknown)}; choose from {', '.join(PRECISIONS)}")
    counts = options.device_counts or default_device_counts(fingerprint)
    bench_models.select(options.models)  # fail fast on a pattern that matches nothing
    run_id = options.run_id or store.new_run_id("bench", options.backend)
    path = Path(options.results_dir) / fingerprint["id"] / f"bench-{run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    started = _now()
    if options.repeats < 1:
        raise ValueError("--repeats must be at least 1")
    processes, timings, records = [], [], []
    plan = process_plan(options, counts, gpus=(fingerprint["gpu"] or {}).get("count", 0))
    for repeat in range(1, options.repeats + 1):
        for count, models in plan:
            # The accuracy gate measures correctness, not speed: once is enough.
            name = f"{run_id}-r{repeat}-d{count}" + (f"-{models}" if models != options.models else "")
            process, benchmarks, process_records = _run_process(options, count, precisions, models, repeat=repeat,
                                                                gate=options.gate and repeat == 1, name=name,
                                                                log=path.parent / f"bench-{name}.log")
            processes.append(process)
            timings += benchmarks
            records += process_records
            print(f"repeat {repeat}/{options.repeats} devices={count} models={models or 'all'}: pytest exited "
                  f"{process['returncode']} after {process['wall_s']:.1f}s", flush=True)
    document = assemble(timings, records, processes)
    document.update({
        "schema_version": BENCH_SCHEMA_VERSION, "kind": "bench", "run_id": run_id, "started": started,
        "finished": _now(), "command": options.command, "profile": fingerprint,
        "settings": {"backend": options.backend, "models": options.models, "precisions": precisions,
                     "device_counts": counts, "rounds": options.rounds, "repeats": options.repeats,
                     "warmup_rounds": options.warmup,
                     "steps": options.steps or "auto", "per_device_batch": options.per_device_batch or "book",
                     "gate": options.gate},
    })
    document["status"] = "passed" if all(p["returncode"] == 0 for p in processes) else "failed"
    store.write_json_atomically(path, document)
    print(format_summary(document))
    print(f"results: {path}")
    if options.save_baseline:
        if document["status"] != "passed":
            print("error: not saving a baseline from a run with failures", file=sys.stderr)
            return 1
        saved = save_baseline(document, options.baseline_dir)
        print(f"baseline: {saved}")
    return 0 if document["status"] == "passed" else 1


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
                 gate: bool, name: str, log: Path) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """One pytest process of the plan, saved by pytest-benchmark as ``name``; a process that
    fails leaves its whole output in ``log``."""
    from conformance.bench import suite as bench_suite

    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        timings_file, records_file = Path(scratch) / "benchmark.json", Path(scratch) / "records.jsonl"
        storage = (Path(options.results_dir) / ".benchmarks").resolve()
        args = [
            sys.executable, "-m", "pytest", str(bench_suite.suite_path()), "-p", "conformance.bench.plugin",
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
        started = time.perf_counter()
        try:
            # An outer pytest-xdist worker's variables would make pytest-benchmark switch itself off.
            env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
            done = subprocess.run(args, capture_output=True, text=True, timeout=options.timeout_s, env=env)
            returncode, output = done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired as expired:
            returncode = -1
            output = f"timed out after {options.timeout_s}s\n{expired.stdout or ''}"
        wall = time.perf_counter() - started
        if returncode != 0:
            log.write_text(output, encoding="utf-8")
            print(f"{output[-3000:]}\nthe process's whole output: {log}", file=sys.stderr)
        timings = json.loads(timings_file.read_text())["benchmarks"] if timings_file.exists() else []
        if returncode == 0 and not timings:
            returncode, output = 1, output + "\nFAILED pytest-benchmark recorded no timings (benchmarks disabled?)"
        records = [json.loads(line) for line in records_file.read_text().splitlines()] if records_file.exists() else []
    facts = next((r for r in records if r["kind"] == "process"), {})
    process = {"repeat": repeat, "devices": count, "models": models or "all", "returncode": returncode,
               "wall_s": round(wall, 2),
               "tensorflow_imported": facts.get("tensorflow_imported"),
               "failures": _failures(output, returncode, count, models) + [f"output: {log}"] if returncode else []}
    return process, timings, [r for r in records if r["kind"] != "process"]


def _failures(output: str, returncode: int, count: int, models: str | None) -> list[str]:
    failed = [line for line in output.splitlines() if line.startswith(("FAILED", "ERROR"))][:20]
    return failed or [f"devices={count} models={models or 'all'}: pytest exited {returncode} (crashed or timed out)"]


def assemble(timings: list[dict[str, Any]], records: list[dict[str, Any]],
             processes: list[dict[str, Any]]) -> dict[str, Any]:
    """pytest-benchmark's timings and the suite's records → entries, ceilings and derived figures.

    A configuration measured in several processes (``--repeats``) becomes one entry whose
    ``repeats`` hold each process's rounds."""
    ceilings, measurements = [], []
    for item in timings:
        info, rounds_s = item["extra_info"], item["stats"]["data"]
        if info.get("kind") == "ceiling":
            flops = [info["flops_per_round"] / t for t in rounds_s]
            ceilings.append({"devices": info["devices"], "precision": info["precision"], "dtype": info["dtype"],
                             "size": info["size"], "implementation": info.get("implementation", "xla"),
                             "round_s": rounds_s, "flops_per_s": flops,
                             "best_flops_per_s": max(flops)})
        else:
            throughput = [info["samples_per_round"] / t for t in rounds_s]
            measurements.append({**{k: v for k, v in info.items() if k != "kind"}, "name": item["name"],
                                 "round_s": rounds_s, "repeats": [throughput]})
    ceilings = best_ceilings(ceilings)
    entries = combine_repeats(measurements, ceilings)
    return {"entries": entries, "ceilings": ceilings, "derived": derive(entries),
            "gates": [r for r in records if r["kind"] == "gate"], "processes": processes}


def best_ceilings(ceilings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The best ceiling per (devices, precision): several processes measure one (a model per
    process, or repeats), and the ceiling is what the device can do at best."""
    best: dict[tuple[int, str], dict[str, Any]] = {}
    for ceiling in ceilings:
        key = (ceiling["devices"], ceiling["precision"])
        if key not in best or ceiling["best_flops_per_s"] > best[key]["best_flops_per_s"]:
            best[key] = ceiling
    return list(best.values())


def combine_repeats(measurements: list[dict[str, Any]], ceilings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Measurements of the same configuration (model, precision, devices, global batch) from
    different processes → one entry each, in first-seen order, with every process's rounds in
    ``repeats`` and the figures derived from them: the median of the run medians, the within-run
    robust CV (``stats.robust_cv``, the median over the runs), the between-run CV of the run
    medians, achieved FLOP/s and utilisation, and ``timer_overhead``: how much longer
    pytest-benchmark's time of a round is than the round's own stopwatch (median over rounds)."""
    groups: dict[tuple[str, str, int, int], list[dict[str, Any]]] = {}
    for measurement in measurements:
        groups.setdefault(_configuration(measurement), []).append(measurement)
    best = {(c["devices"], c["precision"]): c["best_flops_per_s"] for c in ceilings}
    entries = []
    for group in groups.values():
        repeats = [rounds for m in group for rounds in runs_of(m)]
        median = median_of_runs(repeats)
        first = group[0]
        achieved = median * first["flops_per_sample"] if first.get("flops_per_sample") else None
        ceiling = best.get((first["devices"], first["precision"]))
        timer_shares = [outer / inner - 1 for m in group
                        for outer, inner in zip(m.get("round_s", []), m.get("inner_round_s", [])) if inner > 0]
        entries.append({
            **first, "round_s": [t for m in group for t in m.get("round_s", [])],
            "repeats": repeats, "samples_per_s": [v for rounds in repeats for v in rounds],
            "median_samples_per_s": median,
            "cv": statistics.median(robust_cv(rounds) for rounds in repeats),
            "between_run_cv": between_run_cv(repeats), "achieved_flops_per_s": achieved,
            "utilisation": achieved / (first["devices"] * ceiling) if achieved and ceiling else None,
            "timer_overhead": statistics.median(timer_shares) if timer_shares else None,
            **({"memory": _peak_memory([m["memory"] for m in group])} if "memory" in first else {}),
        })
    return entries


def runs_of(entry: dict[str, Any]) -> list[list[float]]:
    """An entry's throughputs as runs of rounds (files from before ``--repeats`` hold one run)."""
    return entry.get("repeats") or [entry["samples_per_s"]]


def _peak_memory(memories: list[dict[str, int]]) -> dict[str, int]:
    return {key: max(m[key] for m in memories if key in m) for key in dict.fromkeys(k for m in memories for k in m)}


def derive(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Mixed-precision speedups (same model and device count) and scaling efficiencies (same model and precision)."""
    by_key = {(e["model"], e["precision"], e["devices"]): e for e in entries}
    speedups, scaling = [], []
    for (model, precision, devices), entry in sorted(by_key.items()):
        reference = by_key.get((model, "float32", devices))
        if precision != "float32" and reference:
            speedups.append({"model": model, "precision": precision, "devices": devices,
                             "speedup": entry["median_samples_per_s"] / reference["median_samples_per_s"]})
        single = by_key.get((model, precision, 1))
        if devices > 1 and single:
            scaling.append({"model": model, "precision": precision, "devices": devices,
                            "efficiency": entry["median_samples_per_s"] / (devices * single["median_samples_per_s"])})
    return {"mixed_speedup": speedups, "scaling_efficiency": scaling}


def format_summary(document: dict[str, Any]) -> str:
    settings = document["settings"]
    lines = [f"Benchmarks: backend {settings['backend']}, profile {document['profile']['id']}, "
             f"{settings.get('repeats', 1)} run(s) of {settings['rounds']} rounds; CV: round to round within a run "
             f"(robust, from the median absolute deviation; median over runs), runs CV: between the runs' medians"]
    header = f"{'model':<22} {'precision':<15} {'dev':>3} {'batch':>5} {'samples/s':>10} {'CV':>6} " \
             f"{'runs CV':>7} {'GFLOP/s':>9} {'util':>6} {'peak RSS':>9}"
    lines.append(header)
    for e in document["entries"]:
        util = f"{e['utilisation']:.1%}" if e["utilisation"] is not None else "-"
        between = f"{e['between_run_cv']:.1%}" if e.get("between_run_cv") is not None else "-"
        rss = e["memory"]["host_peak_rss_bytes"] / 2**20
        lines.append(f"{e['model']:<22} {e['precision']:<15} {e['devices']:>3} {e['global_batch']:>5} "
                     f"{e['median_samples_per_s']:>10.1f} {e['cv']:>6.1%} {between:>7} {e['achieved_flops_per_s'] / 1e9:>9.2f} "
                     f"{util:>6} {rss:>7.0f}Mi")
    for c in document["ceilings"]:
        lines.append(f"ceiling: {c['size']}² matmul {c['dtype']} ({c.get('implementation', 'xla')}) on "
                     f"{c['devices']}-device process: "
                     f"{c['best_flops_per_s'] / 1e9:.1f} GFLOP/s (best round)")
    for s in document["derived"]["mixed_speedup"]:
        lines.append(f"speedup {s['model']} {s['precision']} vs float32 on {s['devices']}: {s['speedup']:.2f}×")
    for s in document["derived"]["scaling_efficiency"]:
        lines.append(f"scaling {s['model']} {s['precision']} on {s['devices']} devices: {s['efficiency']:.1%}")
    shares = [e["timer_overhead"] for e in document["entries"] if e.get("timer_overhead") is not None]
    if shares:
        lines.append(f"pytest-benchmark's timer around a round: {statistics.median(shares):+.3%} of the round "
                     f"(median over configurations; largest {max(shares):+.3%})")
    for g in document["gates"]:
        lines.append(f"accuracy gate {g['precision']}: {'passed' if g['passed'] else 'FAILED'} — {g['message']}")
    return "\n".join(lines)


def save_baseline(document: dict[str, Any], directory: Path | None = None, filed_by: str | None = None) -> Path:
    """File ``document``'s entries in its profile's baseline for its backend.

    Entries of the same :func:`comparison_key` (model, precision, devices) are replaced;
    others stay, so the selection can grow (or a long run be split) one model at a time.
    Each entry names the run it came from; ``runs`` keeps every contributing run's provenance,
    ``provenance`` the latest.
    """
    profile_id, chosen = document["profile"]["id"], document["settings"]["backend"]
    path = baseline_path(profile_id, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    baseline = load_baseline(path) if path.exists() else {
        "schema_version": BENCH_SCHEMA_VERSION, "kind": "bench-baseline", "profile_id": profile_id, "backends": {}}
    provenance = {"command": document["command"], "run_id": document["run_id"], "date": document["finished"],
                  "versions": document["profile"]["libraries"], "profile": document["profile"], "backend": chosen,
                  "settings": document["settings"], "filed_by": filed_by or document["command"],
                  "failures": [f for p in document.get("processes", []) for f in p.get("failures") or (
                      [f"devices={p['devices']} models={p.get('models', 'all')}: pytest exited {p['returncode']}"]
                      if p.get("returncode") else [])]}
    # Derived from the raw rounds again, so that a promoted older run file gets today's figures.
    measured = combine_repeats(document["entries"], best_ceilings(document.get("ceilings", [])))
    new = [{**{k: e[k] for k in (*BASELINE_ENTRY_FIELDS, "repeats", "per_device_batch", "steps_per_round",
                                 "round_s", "median_samples_per_s", "cv", "between_run_cv", "achieved_flops_per_s",
                                 "utilisation")},
            "run_id": document["run_id"]} for e in measured]
    previous = baseline["backends"].get(chosen, {})
    replaced = {comparison_key(e) for e in new}
    entries = [e for e in previous.get("entries", []) if comparison_key(e) not in replaced] + new
    baseline["backends"][chosen] = {
        "provenance": provenance,
        "runs": {**previous.get("runs", {}), document["run_id"]: {k: v for k, v in provenance.items() if k != "profile"}},
        "entries": entries,
        "ceilings": _replace(previous.get("ceilings", []), document["ceilings"], ("devices", "precision")),
        "gates": _replace(previous.get("gates", []), document["gates"], ("precision",)),
        "derived": derive(entries),
    }
    store.write_json_atomically(path, baseline)
    return path


def _replace(old: list[dict[str, Any]], new: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    """``old`` items without a counterpart in ``new`` (same values at ``key``), then ``new``."""
    renewed = {tuple(item.get(k) for k in key) for item in new}
    return [item for item in old if tuple(item.get(k) for k in key) not in renewed] + new


def _configuration(entry: dict[str, Any]) -> tuple[str, str, int, int]:
    return entry["model"], entry["precision"], entry["devices"], entry["global_batch"]


def comparison_key(entry: dict[str, Any]) -> tuple[str, str, int]:
    """What a run and its baseline are matched by. The batch is left out on purpose: a run at
    another batch size is still compared (and the report says the batches differ), so a smaller
    batch that slows training shows as the regression it is rather than as a missing baseline."""
    return entry["model"], entry["precision"], entry["devices"]


def merge_runs(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """Several bench runs of one profile and backend read as one: a long selection split in parts,
    or the same selection run again (its entries become further repeats)."""
    first = documents[0]
    for other in documents[1:]:
        if (other["profile"]["id"], other["settings"]["backend"]) != (first["profile"]["id"],
                                                                       first["settings"]["backend"]):
            raise BaselineError(f"run {other['run_id']} is of another profile or backend than {first['run_id']}")
    merged = {**first, "run_id": "+".join(d["run_id"] for d in documents),
              "command": " ; ".join(d["command"] for d in documents), "finished": documents[-1]["finished"]}
    for key in ("gates", "processes"):
        merged[key] = [item for d in documents for item in d.get(key, [])]
    merged["ceilings"] = best_ceilings([c for d in documents for c in d.get("ceilings", [])])
    merged["entries"] = combine_repeats([e for d in documents for e in d["entries"]], merged["ceilings"])
    merged["derived"] = derive(merged["entries"])
    merged["status"] = "passed" if all(d.get("status") == "passed" for d in documents) else "failed"
    return merged


def load_baseline(path: Path) -> dict[str, Any]:
    """A validated baseline file; a :class:`BaselineError` names the file and what is wrong."""
    document = _read_json(path, "baseline")
    _require(document.get("schema_version") == BENCH_SCHEMA_VERSION, path, "schema_version",
             f"must be {BENCH_SCHEMA_VERSION}")
    _require(document.get("kind") == "bench-baseline", path, "kind", "must be 'bench-baseline'")
    _require(isinstance(document.get("profile_id"), str), path, "profile_id", "must name the hardware profile")
    backends = document.get("backends")
    _require(isinstance(backends, dict) and backends, path, "backends", "must hold at least one backend's run")
    for name, body in backends.items():
        where = f"backends.{name}"
        _require(isinstance(body, dict), path, where, "must be an object")
        provenance = body.get("provenance")
        _require(isinstance(provenance, dict), path, f"{where}.provenance", "must say where the numbers came from")
        for key in PROVENANCE_FIELDS:
            _require(key in provenance, path, f"{where}.provenance.{key}", "missing")
        _validate_entries(body.get("entries"), path, f"{where}.entries")
    return document


def load_run(path: Path) -> dict[str, Any]:
    """A validated benchmark run file (``results/<profile>/bench-<run>.json``)."""
    document = _read_json(path, "benchmark run")
    _require(document.get("kind") == "bench", path, "kind", "must be 'bench' (is this a conformance run file?)")
    _require(isinstance(document.get("profile"), dict) and "id" in document["profile"], path, "profile.id", "missing")
    _validate_entries(document.get("entries"), path, "entries")
    return document


def _validate_entries(entries: Any, path: Path, where: str) -> None:
    _require(isinstance(entries, list), path, where, "must be a list")
    for index, entry in enumerate(entries):
        at = f"{where}[{index}]"
        _require(isinstance(entry, dict), path, at, "must be an object")
        for key in BASELINE_ENTRY_FIELDS:
            _require(key in entry, path, f"{at}.{key}", "missing")
        _require(_throughputs(entry["samples_per_s"]), path, f"{at}.samples_per_s",
                 "must be a non-empty list of positive throughputs")
        if "repeats" in entry:  # older files have one run's rounds only
            repeats = entry["repeats"]
            _require(isinstance(repeats, list) and repeats and all(_throughputs(r) for r in repeats), path,
                     f"{at}.repeats", "must be a non-empty list of runs, each a non-empty list of positive throughputs")


def _throughputs(values: Any) -> bool:
    return isinstance(values, list) and bool(values) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in values)


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise BaselineError(f"{path}: no {what} file here") from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BaselineError(f"{path}: {what} file is not valid JSON ({error})") from error
    _require(isinstance(document, dict), path, "(top level)", "must be a JSON object")
    return document


def _require(condition: bool, path: Path, where: str, problem: str) -> None:
    if not condition:
        raise BaselineError(f"{path}: {where}: {problem}")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def train_multiworker(out: Path, model_name: str = "mnist_dense", steps: int = 4, per_worker_batch: int = 16) -> None:
    """One worker of a ``tf.distribute.MultiWorkerMirroredStrategy`` cluster (``TF_CONFIG`` names it):
    train ``steps`` steps of a benchmark model on data every worker generates alike, then write
    the losses and the weights' checksums to ``out`` so the workers can be compared.

    Keras 3.15's ``fit`` fails under this strategy on TensorFlow 2.21 (its symbolic build reduces
    the first distributed batch with ``strategy.reduce``, which cannot convert the per-replica
    value across workers; known upstream as keras-team/keras#20585 and tensorflow/tensorflow#72388),
    so the step is the model's own ``train_step`` run by the strategy.
    """
    backend.select("tensorflow")
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    spec = bench_models.MODELS[model_name]
    with strategy.scope():
        model = spec.build()
        spec.compile(model)
        model.optimizer.build(model.trainable_variables)
    global_batch = per_worker_batch * strategy.num_replicas_in_sync
    x, y = spec.batch(global_batch * steps, seed=0)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch)  # sharded by the strategy
    batches = iter(strategy.experimental_distribute_dataset(dataset))

    @tf.function
    def train_step(batch: Any) -> Any:
        logs = strategy.run(model.train_step, args=(batch,))
        return strategy.reduce("MEAN", logs["loss"], axis=None)

    losses = [float(train_step(next(batches))) for _ in range(steps)]
    weights = [np.asarray(v) for v in model.trainable_variables]
    store.write_json_atomically(Path(out), {
        "workers": strategy.cluster_resolver.cluster_spec().num_tasks("worker"),
        "task": strategy.cluster_resolver.task_id, "replicas": strategy.num_replicas_in_sync, "losses": losses,
        "weight_sums": [float(w.sum()) for w in weights], "weight_bytes_sha256": _digest(weights),
    })


def _digest(arrays: list[Any]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for array in arrays:
        digest.update(array.tobytes())
    return digest.hexdigest()
