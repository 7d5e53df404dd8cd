"""Harness overhead: the bench's way of timing a round against a bare Keras ``fit`` loop, in one process.

    python bench/overhead.py --backend tensorflow --model mnist_dense --steps 160 --rounds 5 --blocks 8

Two ways of timing the same model, same data, same batch and batches per round (160 is what the
bench picks for the MNIST dense model on a CPU), alternated in blocks within one process so that
the machine's slow spells and process-to-process differences (see ``conformance.report.stats``) fall on
both alike:

* harness: what ``conformance/bench/suite.py`` times for a round, by its own code
  (``training_round``: one ``model.fit(epochs=1)`` over the round's batches, then a weight read
  back to the host);
* bare: one ``model.fit(epochs=rounds)`` over the same input (``fit_input``), with a callback
  that times each epoch, as a user would.

Overhead = 1 − harness / bare on the medians of the per-round throughputs, per block; the median
over blocks and its spread are printed and written as JSON. pytest-benchmark's own share (its
timer around the round) is measured by every bench run instead: ``timer_overhead`` in the entries.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"))
    parser.add_argument("--model", default="mnist_dense")
    parser.add_argument("--steps", type=int, default=160)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()

    from conformance.stack import backend

    backend.select(args.backend)
    import keras

    from conformance.bench import models as bench_models
    from conformance.bench.suite import fit_input, training_round

    spec = bench_models.get(args.model)
    keras.utils.disable_interactive_logging()
    model = spec.build()
    spec.compile(model)
    batch = spec.batch_size
    x, y = spec.batch(batch * args.steps)
    samples = batch * args.steps

    train_round, batches = training_round(model, x, y, batch), fit_input(x, y, batch)

    def harness_block() -> list[float]:
        throughput = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            train_round()
            throughput.append(samples / (time.perf_counter() - started))
        return throughput

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            epochs.append(samples / (time.perf_counter() - self.started))

    def bare_block() -> list[float]:
        epochs.clear()
        model.fit(**batches, epochs=args.rounds, verbose=0, callbacks=[EpochTimer()])
        return list(epochs)

    epochs: list[float] = []
    harness_block(), bare_block()  # compile and warm up both paths
    started = time.perf_counter()
    blocks = []
    for index in range(args.blocks):
        order = (harness_block, bare_block) if index % 2 == 0 else (bare_block, harness_block)
        measured = {block.__name__: statistics.median(block()) for block in order}
        blocks.append({**measured, "overhead": 1 - measured["harness_block"] / measured["bare_block"]})
        print(f"block {index + 1}/{args.blocks}: harness {measured['harness_block']:.0f}, bare "
              f"{measured['bare_block']:.0f} samples/s, overhead {blocks[-1]['overhead']:+.2%}", flush=True)
    overheads = [b["overhead"] for b in blocks]
    quartiles = statistics.quantiles(overheads, n=4) if len(overheads) > 1 else overheads * 3
    figures = {**vars(args), "out": str(args.out), "batch": batch, "blocks": blocks,
               "median_overhead": statistics.median(overheads), "quartiles": [quartiles[0], quartiles[2]],
               "wall_s": round(time.perf_counter() - started, 1), "keras": keras.__version__}
    print(f"harness overhead vs bare fit: median {figures['median_overhead']:+.2%} over {args.blocks} blocks "
          f"(quartiles {quartiles[0]:+.2%} … {quartiles[2]:+.2%})")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
