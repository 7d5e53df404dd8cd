"""Plain functions that several test modules share; import them with ``from helpers import ...``.

What lives here: running one example in-process as the conformance suite does
(``run_example_in_process``, and with a fault planted: ``faulty_run``), reading its failed checks (``failed_checks``), looking up and
judging one golden expectation (``golden_expectation``, ``judge``), the faults the lesson
tests plant (``dense_units_replaced``, ``rmsprop_learning_rate_changed``, ``package_missing``), the
ragged arrays of the sequence-dataset tests (``object_array``), and the noxfile as a module
(``load_noxfile``).

Why a module of its own and not conftest.py: conftest.py is pytest's file for fixtures and
hooks, which pytest loads by itself, in every process (pytest-xdist's controller included);
``from conftest import ...`` relies on how pytest happens to name that file when it loads it,
which ``--import-mode=importlib`` or a second conftest.py breaks. ``from helpers import ...``
is an ordinary import, and only the modules that use a helper load this one; it works because
pytest's default (prepend) import mode puts ``tests/`` on ``sys.path`` (there is no
``tests/__init__.py``). Keras is imported inside the functions that use it, so a data-layer
test that only wants ``object_array`` does not pay for TensorFlow (about 7 s of CPU here).
The fixtures stay in conftest.py, where pytest finds them without an import.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pytest

from conformance.engine import checks, golden, registry
from conformance.engine.golden import Expectation
from conformance.engine.runner import Settings, run_example

if TYPE_CHECKING:
    import keras

RunResult = dict[str, Any]
"""One example's result as the results store writes it: ``status``, ``reason``, ``checks`` (each
with ``name``, ``status``, ``message``...), ``metrics``, ``history``, and ``traceback`` after an error."""

Fault = Callable[[pytest.MonkeyPatch], None]
"""Plants a fault through the monkeypatch it is given; undone when that monkeypatch is."""

TEST_PROFILE_ID = "cpu-test"
"""The machine profile the tests' runs claim: no golden override names it."""


# -- running examples --------------------------------------------------------------------
def run_example_in_process(
    example_id: str,
    tier: str = "smoke",
    *,
    backend: str | None = None,
    seed: int = 0,
    golden_dir: Path | None = None,
) -> RunResult:
    """Run one example in this process as ``python -m conformance run`` runs it (float32, one
    device), judge it against its golden file (the project's, or the one in ``golden_dir``) and
    return the result as the store writes it. ``backend`` defaults to the backend Keras runs on."""
    import keras

    spec = registry.all_examples()[example_id]
    settings = Settings(tier=tier, backend=backend or keras.backend.backend(), seed=seed)
    return run_example(spec, settings, TEST_PROFILE_ID, golden_dir).to_json()


def faulty_run(example_id: str, plant: Fault, tier: str = "smoke", seed: int = 0) -> RunResult:
    """``run_example_in_process`` with a fault planted (through a monkeypatch undone afterwards)."""
    with pytest.MonkeyPatch.context() as patch:
        plant(patch)
        return run_example_in_process(example_id, tier, seed=seed)


def failed_checks(result: RunResult) -> dict[str, dict[str, Any]]:
    """The checks the run failed, by name, each as the result stores it (``message``,
    ``expected``, ``actual``, ...). Asserts that the run failed, so an example that raised,
    was skipped or passed every check says so instead of yielding an empty collection."""
    assert result["status"] == "failed", result.get("traceback") or result["reason"] or "every check passed"
    return {check["name"]: check for check in result["checks"] if check["status"] == "failed"}


# -- golden expectations -----------------------------------------------------------------
def golden_expectation(example_id: str, tier: str, *, name: str | None = None, kind: str | None = None) -> Expectation:
    """The one expectation of ``example_id``'s golden file, for ``tier``, with this ``name``
    and/or of this ``kind``."""
    matching = [
        expectation for expectation in golden.load(example_id).expectations_for(tier)
        if (name is None or expectation.name == name) and (kind is None or expectation.kind == kind)
    ]
    assert len(matching) == 1, f"{example_id} ({tier}): {len(matching)} expectations match name={name!r} kind={kind!r}"
    return matching[0]


def judge(expectation: Expectation, observed: dict[str, Any]) -> str:
    """``"passed"`` or ``"failed"``: the verdict of ``expectation`` on a crafted outcome."""
    return checks.evaluate(expectation, observed, "test").status


# -- faults planted in Keras ---------------------------------------------------------------
def dense_units_replaced(mapping: dict[int, int]) -> Fault:
    """A fault: ``keras.layers.Dense(units)`` builds ``mapping[units]`` units instead."""
    import keras

    original = keras.layers.Dense.__init__

    @functools.wraps(original)
    def resized(self: keras.layers.Dense, units: int, **kwargs: Any) -> None:
        original(self, mapping.get(units, units), **kwargs)

    return lambda patch: patch.setattr(keras.layers.Dense, "__init__", resized)


def package_missing(module_name: str) -> Fault:
    """``importlib.util.find_spec`` answers None for ``module_name``: the optional package looks uninstalled."""
    import importlib.util

    original = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name == module_name else original(name, *args, **kwargs)

    return lambda patch: patch.setattr(importlib.util, "find_spec", find_spec)


def unreadable(path: Path) -> Fault:
    """Reading ``path`` as text fails with "Permission denied", as a file another user owns would (the
    tests may run as root, whom ``chmod`` does not stop); every other file reads as usual."""
    original = Path.read_text

    def read_text(self: Path, *args: Any, **kwargs: Any) -> str:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return original(self, *args, **kwargs)

    return lambda patch: patch.setattr(Path, "read_text", read_text)


def rmsprop_learning_rate_changed(change: Callable[[float], float]) -> Fault:
    """A fault: ``keras.optimizers.RMSprop(learning_rate)`` trains at ``change(learning_rate)``."""
    import keras

    original = keras.optimizers.RMSprop.__init__

    @functools.wraps(original)
    def changed(self: keras.optimizers.RMSprop, learning_rate: float = 0.001, *args: Any, **kwargs: Any) -> None:
        original(self, change(learning_rate), *args, **kwargs)

    return lambda patch: patch.setattr(keras.optimizers.RMSprop, "__init__", changed)


# -- data --------------------------------------------------------------------------------
def object_array(sequences: Sequence[Sequence[int]]) -> np.ndarray:
    """A 1-D object array of ragged sequences, as Keras's imdb.npz and reuters.npz store them."""
    array = np.empty(len(sequences), dtype=object)
    array[:] = sequences
    return array


# -- the noxfile -----------------------------------------------------------------------------
@functools.cache
def load_noxfile() -> Any:
    """The project's noxfile as a module, loaded once per process (loading it registers its sessions
    with nox, and registering them twice is deprecated)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("noxfile", Path(__file__).resolve().parents[1] / "noxfile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
