"""How often the report calls a change on unchanged code, and how often it catches a real one.

    python bench/false_calls.py --reports 2000 --seeds 0-4

Simulated reports judged as ``conformance.report.compare.compare_bench`` judges them: every
configuration's runs draw their speeds from one log-normal distribution (``--noise``, the CI
machines' 12.3% between-run noise by default), the noise is pooled over the report's
configurations, and each configuration is tested with ``conformance.report.stats`` and Holm's
adjustment. A false call is a report on unchanged code that calls anything; power is the share of
reports, with one configuration slowed by ``--slowdown``, that call it a regression. Prints, per
number of runs a side, the mean and range over the seeds.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from conformance.report import stats


def judged(rng: np.random.Generator, runs_a_side: int, configurations: int, noise: float,
           slowdown: float) -> list[str]:
    """The verdicts of one simulated report in which the first configuration is ``slowdown`` slower."""
    speeds = 1000.0 * rng.lognormal(0, noise, (configurations, 2 * runs_a_side))
    speeds[0, runs_a_side:] *= 1 - slowdown
    pairs = [([[s] for s in row[:runs_a_side]], [[s] for s in row[runs_a_side:]]) for row in speeds]
    pooled = stats.between_run_noise([side for pair in pairs for side in pair])
    return [v.verdict for v in stats.adjust_for_family([stats.compare(*pair, noise=pooled) for pair in pairs])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=2000, help="simulated reports per seed (default: 2000)")
    parser.add_argument("--seeds", default="0-4", help="a range of seeds, each a separate simulation (default: 0-4)")
    parser.add_argument("--configurations", type=int, default=20, help="per report (default: 20, a CPU baseline)")
    parser.add_argument("--noise", type=float, default=0.123, help="between-run σ of log speed (default: 0.123)")
    parser.add_argument("--slowdown", type=float, default=0.3, help="of the one changed configuration (default: 0.3)")
    parser.add_argument("--runs", default="2,3", help="runs a side to simulate (default: 2,3)")
    args = parser.parse_args()
    first, last = (int(part) for part in args.seeds.split("-"))
    summary = {}
    for runs_a_side in (int(r) for r in args.runs.split(",")):
        false_calls, caught = [], []
        for seed in range(first, last + 1):
            rng = np.random.default_rng(seed)
            false_calls.append(float(np.mean([
                any(v in ("regression", "improvement") for v in judged(rng, runs_a_side, args.configurations,
                                                                       args.noise, 0.0))
                for _ in range(args.reports)])))
            caught.append(float(np.mean([
                judged(rng, runs_a_side, args.configurations, args.noise, args.slowdown)[0] == "regression"
                for _ in range(args.reports)])))
        summary[runs_a_side] = {"false_call_rate": false_calls, "power": caught}
        print(f"{runs_a_side} runs a side, {args.configurations} configurations, noise {args.noise:.1%}: false calls "
              f"{np.mean(false_calls):.1%} ({min(false_calls):.1%}-{max(false_calls):.1%}) of reports, "
              f"a {args.slowdown:.0%} slowdown caught in {np.mean(caught):.1%} ({min(caught):.1%}-{max(caught):.1%})",
              flush=True)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
