"""The run's JAX compilation cache: fresh for every run, shared by the run's processes, safe against
an entry read half-written, and out of the way of the user's own settings and of other backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conformance.stack import compile_cache

CACHE_VARIABLES = ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
                   "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES")

# Compiles one small Keras training step, as an example's fit does, and prints whether JAX found
# the program in the persistent cache and the step's loss.
WORKER = textwrap.dedent("""
    import json, os
    os.environ["KERAS_BACKEND"] = "jax"
    import jax, jax.monitoring
    events = []
    jax.monitoring.register_event_listener(lambda event, **_: events.append(event))
    import keras, numpy as np
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer="rmsprop", loss="mse")
    x = np.linspace(0, 1, 64, dtype="float32").reshape(8, 8)
    loss = model.train_on_batch(x, np.ones((8, 1), "float32"))
    print(json.dumps({"hits": events.count("/jax/compilation_cache/cache_hits"), "loss": float(loss)}))
""")


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CACHE_VARIABLES + ("JAX_ENABLE_COMPILATION_CACHE",):
        monkeypatch.delenv(name, raising=False)


def compile_in_subprocess() -> dict:
    done = subprocess.run([sys.executable, "-c", WORKER], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_jax_run_gets_a_fresh_folder_that_goes_with_the_run(clean_environment: None) -> None:
    with compile_cache.for_run("jax") as folder:
        assert folder is not None and folder.is_dir() and not any(folder.iterdir())
        assert os.environ["JAX_COMPILATION_CACHE_DIR"] == str(folder)
        assert float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]) < 1  # JAX's default skips model steps
    assert not folder.exists()
    assert not any(name in os.environ for name in CACHE_VARIABLES)


def test_each_run_gets_its_own_folder(clean_environment: None) -> None:
    with compile_cache.for_run("jax") as first:
        pass
    with compile_cache.for_run("jax") as second:
        assert second != first


@pytest.mark.parametrize("other_backend", ["tensorflow", "torch"])
def test_other_backends_get_no_cache_settings(clean_environment: None, other_backend: str) -> None:
    with compile_cache.for_run(other_backend) as folder:
        assert folder is None
        assert not any(name in os.environ for name in CACHE_VARIABLES)


def test_the_users_own_cache_folder_is_kept(clean_environment: None, monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path))
    with compile_cache.for_run("jax") as folder:
        assert folder is None
        assert os.environ["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path)
    assert os.environ["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path)


@pytest.mark.parametrize("switch", ["false", "0", "False"])
def test_caching_turned_off_by_the_user_stays_off(clean_environment: None, monkeypatch: pytest.MonkeyPatch,
                                                  switch: str) -> None:
    monkeypatch.setenv("JAX_ENABLE_COMPILATION_CACHE", switch)
    with compile_cache.for_run("jax") as folder:
        assert folder is None
        assert "JAX_COMPILATION_CACHE_DIR" not in os.environ


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_program_compiled_in_one_process_is_reused_by_the_next_of_the_same_run_only(
        clean_environment: None) -> None:
    import jax  # noqa: F401 -- the tests session installs the jax extra: missing, it is a failure

    with compile_cache.for_run("jax"):
        first, second = compile_in_subprocess(), compile_in_subprocess()
    with compile_cache.for_run("jax"):
        next_run = compile_in_subprocess()
    assert first["hits"] == 0 and second["hits"] >= 1, (first, second)
    assert next_run["hits"] == 0, "a run reused a previous run's programs"
    assert second["loss"] == first["loss"] == next_run["loss"], "a cached program computed something else"


@pytest.mark.slow
@pytest.mark.subprocess
def test_an_entry_cut_short_by_a_concurrent_write_is_compiled_afresh(clean_environment: None) -> None:
    import jax  # noqa: F401 -- the tests session installs the jax extra: missing, it is a failure

    with compile_cache.for_run("jax") as folder:
        written = compile_in_subprocess()
        entries = [entry for entry in folder.iterdir() if entry.is_file()]
        assert entries
        for entry in entries:  # what a reader sees while another worker is halfway through writing
            entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
        reread = compile_in_subprocess()
    assert reread["hits"] == 0 and reread["loss"] == written["loss"]
