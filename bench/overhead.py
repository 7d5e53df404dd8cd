"""Harness overhead: the bench command's throughput against a bare Keras ``fit`` loop on the same model.

    python bench/overhead.py --backend tensorflow --model mnist_dense --steps 50 --rounds 5 --repeats 8

Alternates (harness, bare) ``--repeats`` times, each in a fresh process, same model, precision
(float32), one device, batch and batches per round (50 is what the bench picks for the MNIST
dense model on a CPU). The bare loop is what a user would time: build, compile, one ``fit`` to
compile, then ``fit(epochs=rounds)`` under a stopwatch. Overhead = 1 − harness / bare, on the
medians of each side; since whole processes differ in speed on a shared machine (see
``conformance.stats``), each adjacent (harness, bare) pair's overhead is printed too, and the
spread of those pairs says how far the median can be trusted. Printed and written as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE = """
import json, sys, time
import keras
from conformance import bench_models
spec = bench_models.MODELS[sys.argv[1]]
steps, rounds, batch = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
keras.utils.disable_interactive_logging()
model = spec.build()
spec.compile(model)
x, y = spec.batch(batch * steps)
model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
started = time.perf_counter()
model.fit(x, y, batch_size=batch, epochs=rounds, shuffle=False, verbose=0)
keras.ops.convert_to_numpy(model.trainable_variables[-1])
print(json.dumps({"samples_per_s": rounds * steps * batch / (time.perf_counter() - started)}))
"""


def harness(args: argparse.Namespace, batch: int, results: Path) -> float:
    subprocess.run([sys.executable, "-m", "conformance", "bench", "--backend", args.backend, "--models", args.model,
                    "--precisions", "float32", "--devices", "1", "--rounds", str(args.rounds), "--repeats", "1", "--warmup", "1",
                    "--steps", str(args.steps), "--batch", str(batch), "--no-gate", "--results-dir", str(results)],
                   check=True, capture_output=True, text=True)
    latest = sorted(results.glob("*/bench-*.json"))[-1]
    [entry] = json.loads(latest.read_text())["entries"]
    latest.unlink()
    return entry["median_samples_per_s"]


def bare(args: argparse.Namespace, batch: int) -> float:
    done = subprocess.run([sys.executable, "-c", BARE, args.model, str(args.steps), str(args.rounds), str(batch)],
                          check=True, capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": args.backend})
    return json.loads(done.stdout.strip().splitlines()[-1])["samples_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"))
    parser.add_argument("--model", default="mnist_dense")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=0, help="default: the book's")
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    from conformance import bench_models

    batch = args.batch or bench_models.MODELS[args.model].batch_size
    sides: dict[str, list[float]] = {"harness": [], "bare": []}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.repeats):
            sides["harness"].append(harness(args, batch, Path(scratch)))
            sides["bare"].append(bare(args, batch))
    overhead = 1 - statistics.median(sides["harness"]) / statistics.median(sides["bare"])
    pairs = [1 - h / b for h, b in zip(sides["harness"], sides["bare"])]
    figures = {**vars(args), "out": str(args.out), "batch": batch, **sides, "overhead": overhead,
               "pair_overheads": pairs, "pair_median": statistics.median(pairs),
               "wall_s": round(time.perf_counter() - started, 1)}
    print(json.dumps(figures, indent=1))
    quartiles = statistics.quantiles(pairs, n=4) if len(pairs) > 1 else [pairs[0]] * 3
    print(f"harness overhead vs bare fit: {overhead:+.1%} on the medians (harness "
          f"{statistics.median(sides['harness']):.0f}, bare {statistics.median(sides['bare']):.0f} samples/s); "
          f"per pair: median {statistics.median(pairs):+.1%}, quartiles {quartiles[0]:+.1%} … {quartiles[2]:+.1%}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
