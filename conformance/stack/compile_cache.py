"""One XLA compilation cache per run, for JAX: each distinct program is compiled once per run.

Keras on JAX compiles every model's train, test and predict steps, and the book builds the same
model again and again: the four folds of the Boston K-fold, a checkpoint reloaded for ``evaluate``,
KerasTuner's trials, the same MNIST network in several chapters. The compiled program depends only
on the computation, so JAX's persistent compilation cache, keyed by the program, the compile options
and the JAX and XLA versions, hands back the executable a fresh compile would produce. On 2 CPU
cores compiling is most of a JAX smoke run's time.

The cache lives in a temporary folder for one run, shared by its workers, and goes with the run: a
run never reuses a previous run's programs, so every run still compiles everything it runs once. A
user who sets ``JAX_COMPILATION_CACHE_DIR`` keeps their own cache across runs; one who sets
``JAX_ENABLE_COMPILATION_CACHE=false`` turns caching off.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

# Small programs too, down to the steps of a small model (0.1 s to compile and more); not the
# single operations Keras runs eagerly (a few ms each), which would only add thousands of files.
# No size limit: with one, JAX locks the folder for every read and write and sums the sizes of all
# its files on every write. A first try with a limit, caching every eager operation too, made a
# whole JAX smoke run slower than no cache at all (12 min 47 s against 9 min 54 s on 2 cores).
# Without the lock, a worker that reads a program while another is still writing it gets a cut
# entry, which does not decompress: JAX warns and compiles afresh (tests/test_compile_cache.py
# cuts one).
_THRESHOLDS = {
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0.1",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
}


def _user_declined() -> bool:
    return os.environ.get("JAX_ENABLE_COMPILATION_CACHE", "").lower() in ("0", "false", "no", "off")


@contextlib.contextmanager
def for_run(backend: str) -> Iterator[Path | None]:
    """Within the block, the worker processes started (and a JAX first imported) share a fresh
    compilation cache; yields its folder, or ``None`` where none is set up (another backend, the
    user's own cache, or caching turned off). JAX reads these settings when it is imported, so a JAX
    already loaded in this process keeps its own."""
    if backend != "jax" or "JAX_COMPILATION_CACHE_DIR" in os.environ or _user_declined():
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="conformance-xla-cache-") as folder:
        settings = {"JAX_COMPILATION_CACHE_DIR": folder, **_THRESHOLDS}
        saved = {name: os.environ.get(name) for name in settings}
        os.environ.update(settings)
        try:
            yield Path(folder)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
