"""From pytest-benchmark's timings to benchmark entries and the figures derived from them.

* throughput: samples per second of each round (``samples_per_round / round_time``);
* mixed-precision speedup: median throughput under a mixed policy over float32's;
* scaling efficiency: ``T_N / (N · T_1)`` at constant per-device batch;
* achieved FLOP/s (analytic FLOPs per sample × median throughput, see ``bench.models``) and
  utilisation against the ceiling: the best round of a large matmul at that precision (the
  fastest way the backend runs it: XLA, or TensorFlow's graph op), measured in the same process,
  times the device count (emulated CPU devices share the cores, so there the figure understates
  what the cores deliver);
* peak memory (host RSS; device peak where the backend reports it), per process so far.

A configuration measured in several processes (``bench --repeats``) becomes one entry whose
``repeats`` hold each process's rounds.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from typing import Any

from conformance.report.stats import between_run_cv, median_of_runs, robust_cv
from conformance.results.records import BenchEntry, BenchRun

CONFIGURATION_FIELDS = ("model", "precision", "devices", "global_batch", "per_device_batch", "steps_per_round")


def from_timings(timings: list[dict[str, Any]]) -> tuple[list[BenchEntry], list[dict[str, Any]]]:
    """pytest-benchmark's items (``--benchmark-json``) → one single-run entry per training item, and the ceilings."""
    ceilings, entries = [], []
    for item in timings:
        info, rounds_s = item["extra_info"], item["stats"]["data"]
        if info.get("kind") == "ceiling":
            flops = [info["flops_per_round"] / t for t in rounds_s]
            ceilings.append({"devices": info["devices"], "precision": info["precision"], "dtype": info["dtype"],
                             "size": info["size"], "implementation": info.get("implementation", "xla"),
                             "platform": info.get("platform"),
                             "round_s": rounds_s, "flops_per_s": flops, "best_flops_per_s": max(flops)})
            continue
        facts = {k: v for k, v in info.items() if k not in CONFIGURATION_FIELDS and k != "memory"}
        # How much longer pytest-benchmark's time of a round is than the round's own stopwatch.
        timer_shares = [outer / inner - 1 for outer, inner in zip(rounds_s, info.get("inner_round_s", [])) if inner > 0]
        entries.append(BenchEntry(
            **{k: info[k] for k in CONFIGURATION_FIELDS}, repeats=(tuple(info["samples_per_round"] / t
                                                                         for t in rounds_s),),
            round_s=tuple(rounds_s), timer_overhead=statistics.median(timer_shares) if timer_shares else None,
            facts={"name": item["name"], **facts}, memory=info.get("memory", {})))
    return entries, ceilings


def best_ceilings(ceilings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The best ceiling per (devices, precision): several processes measure one (a model per
    process, or repeats), and the ceiling is what the device can do at best."""
    best: dict[tuple[int, str], dict[str, Any]] = {}
    for ceiling in ceilings:
        key = (ceiling["devices"], ceiling["precision"])
        if key not in best or ceiling["best_flops_per_s"] > best[key]["best_flops_per_s"]:
            best[key] = ceiling
    return list(best.values())


def combine_repeats(entries: list[BenchEntry], ceilings: list[dict[str, Any]]) -> list[BenchEntry]:
    """Entries of the same configuration (model, precision, devices, global batch) from different
    processes → one entry each, in first-seen order, with every process's rounds in ``repeats``
    and the figures derived from them: the median of the run medians, the within-run robust CV
    (``stats.robust_cv``, the median over the runs), the between-run CV of the run medians,
    achieved FLOP/s and utilisation, and the timer's overhead (the median over the processes)."""
    groups: dict[tuple[str, str, int, int], list[BenchEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.configuration, []).append(entry)
    best = {(c["devices"], c["precision"]): c["best_flops_per_s"] for c in ceilings}
    combined = []
    for group in groups.values():
        first = group[0]
        repeats = tuple(rounds for entry in group for rounds in entry.repeats)
        median = median_of_runs(repeats)
        flops_per_sample = first.facts.get("flops_per_sample")
        achieved = median * flops_per_sample if flops_per_sample else None
        ceiling = best.get((first.devices, first.precision))
        overheads = [e.timer_overhead for e in group if e.timer_overhead is not None]
        combined.append(replace(
            first, repeats=repeats, round_s=tuple(t for e in group for t in e.round_s),
            median_samples_per_s=median, cv=statistics.median(robust_cv(rounds) for rounds in repeats),
            between_run_cv=between_run_cv(repeats), achieved_flops_per_s=achieved,
            utilisation=achieved / (first.devices * ceiling) if achieved and ceiling else None,
            timer_overhead=statistics.median(overheads) if overheads else None,
            memory=_peak_memory([e.memory for e in group])))
    return combined


def _peak_memory(memories: list[dict[str, int]]) -> dict[str, int]:
    return {key: max(m[key] for m in memories if key in m) for key in dict.fromkeys(k for m in memories for k in m)}


def derive(entries: list[BenchEntry]) -> dict[str, list[dict[str, Any]]]:
    """Mixed-precision speedups (same model and device count) and scaling efficiencies (same model and precision)."""
    by_key = {(e.model, e.precision, e.devices): e for e in entries}
    speedups, scaling = [], []
    for (model, precision, devices), entry in sorted(by_key.items()):
        throughput = median_of_runs(entry.repeats)
        reference = by_key.get((model, "float32", devices))
        if precision != "float32" and reference:
            speedups.append({"model": model, "precision": precision, "devices": devices,
                             "speedup": throughput / median_of_runs(reference.repeats)})
        single = by_key.get((model, precision, 1))
        if devices > 1 and single:
            scaling.append({"model": model, "precision": precision, "devices": devices,
                            "efficiency": throughput / (devices * median_of_runs(single.repeats))})
    return {"mixed_speedup": speedups, "scaling_efficiency": scaling}


def format_summary(run: BenchRun) -> str:
    settings = run.settings
    lines = [f"Benchmarks: backend {run.backend}, profile {run.profile_id}, "
             f"{settings.get('repeats', 1)} run(s) of {settings['rounds']} rounds; CV: round to round within a run "
             f"(robust, from the median absolute deviation; median over runs), runs CV: between the runs' medians"]
    lines.append(f"{'model':<22} {'precision':<15} {'dev':>3} {'batch':>5} {'samples/s':>10} {'CV':>6} "
                 f"{'runs CV':>7} {'GFLOP/s':>9} {'util':>6} {'peak RSS':>9}")
    for e in run.entries:
        util = f"{e.utilisation:.1%}" if e.utilisation is not None else "-"
        between = f"{e.between_run_cv:.1%}" if e.between_run_cv is not None else "-"
        achieved = f"{e.achieved_flops_per_s / 1e9:>9.2f}" if e.achieved_flops_per_s else f"{'-':>9}"
        rss = f"{e.memory['host_peak_rss_bytes'] / 2**20:>7.0f}Mi" if "host_peak_rss_bytes" in e.memory else "-"
        lines.append(f"{e.model:<22} {e.precision:<15} {e.devices:>3} {e.global_batch:>5} "
                     f"{median_of_runs(e.repeats):>10.1f} {e.cv or 0:>6.1%} {between:>7} {achieved} {util:>6} {rss:>9}")
    for c in run.ceilings:
        lines.append(f"ceiling: {c['size']}² matmul {c['dtype']} ({c.get('implementation', 'xla')}) on "
                     f"{c['devices']}-device process: {c['best_flops_per_s'] / 1e9:.1f} GFLOP/s (best round)")
    for s in run.derived["mixed_speedup"]:
        lines.append(f"speedup {s['model']} {s['precision']} vs float32 on {s['devices']}: {s['speedup']:.2f}×")
    for s in run.derived["scaling_efficiency"]:
        lines.append(f"scaling {s['model']} {s['precision']} on {s['devices']} devices: {s['efficiency']:.1%}")
    shares = [e.timer_overhead for e in run.entries if e.timer_overhead is not None]
    if shares:
        lines.append(f"pytest-benchmark's timer around a round: {statistics.median(shares):+.3%} of the round "
                     f"(median over configurations; largest {max(shares):+.3%})")
    for g in run.gates:
        lines.append(f"accuracy gate {g['precision']}: {'passed' if g['passed'] else 'FAILED'} — {g['message']}")
    if settings.get("gate_skipped"):
        lines.append(f"accuracy gate: skipped — {settings['gate_skipped']}")
    return "\n".join(lines)
