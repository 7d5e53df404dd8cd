"""The pytest plugin behind ``nox -s conformance``: each (example, tier) is one test item.

Load it explicitly (``-p conformance.engine.plugin``) and point pytest at
``conformance/engine/suite.py``; ``python -m conformance run`` does both. Works with
pytest-xdist: the controller creates the run file, every worker adds its results.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance.engine.runner import PRECISIONS, Settings, recorded_settings
from conformance.errors import ConformanceError
from conformance.results import store
from conformance.stack import backend, devices, profile
from reference_impl.api import TIERS


@dataclass
class Conformance:
    settings: Settings
    profile_id: str
    run_path: Path
    golden_dir: Path | None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "book-example conformance")
    group.addoption("--tier", choices=TIERS, default="smoke", help="data source and scale (default: smoke)")
    group.addoption("--backend", choices=backend.BACKENDS, default=None,
                    help="Keras backend (default: $KERAS_BACKEND or tensorflow)")
    group.addoption("--examples", default=None, help="comma-separated id globs, e.g. 'ch02*,ch03_simple*'")
    group.addoption("--seed", type=int, default=0, help="random seed for data twins and training (default: 0)")
    group.addoption("--precision", choices=PRECISIONS, default="float32", help="Keras dtype policy")
    group.addoption("--devices", type=int, default=1, help="data-parallel device count (CPU: emulated)")
    group.addoption("--results-dir", default="results", help="where run files go (default: results/)")
    group.addoption("--golden-dir", default=None, help="golden files (default: the project's golden/)")
    group.addoption("--run-id", default=None, help="name of the run file (default: time-tier-backend-random); an "
                                                   "existing one is resumed: its selected examples run again")
    group.addoption("--fault", default=None,
                    help="plant this fault of the sensitivity catalogue in every example (see `sensitivity --list`)")
    group.addoption("--probe-faults", action="store_true", default=False,
                    help="record per example which faults of the sensitivity catalogue would change a call "
                         "(changes nothing)")
    group.addoption("--require-data", action="store_true", default=False,
                    help="an example whose data cannot be had is an error, not a skip")


def pytest_configure(config: pytest.Config) -> None:
    markers = [f"{tier}: {tier}-tier conformance item" for tier in TIERS]
    markers += [f"ch{n:02d}: example from chapter {n}" for n in range(2, 15)]
    markers += ["tensorflow_only: example that uses TensorFlow directly", "any_backend: runs on every backend"]
    for marker in markers:
        config.addinivalue_line("markers", marker)

    try:
        config.stash[_STATE] = _conformance_state(config)
    except ConformanceError as error:  # a bad option or run file: the CLI's usage error (exit 2), no traceback
        pytest.exit(f"error: {error}", returncode=2)


def _conformance_state(config: pytest.Config) -> Conformance:
    option = config.option
    settings = Settings(tier=option.tier, backend=option.backend or backend.current(), precision=option.precision,
                        devices=option.devices, seed=option.seed, fault=option.fault,
                        probe_faults=option.probe_faults, require_data=option.require_data)
    backend.select(settings.backend)
    devices.prepare(settings.devices, settings.backend, emulate=may_emulate_devices(settings))
    golden_dir = Path(option.golden_dir) if option.golden_dir else None
    worker_input = getattr(config, "workerinput", None)
    if worker_input is not None:  # an xdist worker: the controller chose the run file
        return Conformance(settings, worker_input["conformance_profile"], Path(worker_input["conformance_run"]),
                           golden_dir)
    from conformance.engine import registry

    fingerprint = profile.fingerprint(settings.backend)
    run_id = option.run_id or store.new_run_id(settings.tier, settings.backend)
    path = store.run_path(option.results_dir, fingerprint["id"], "conformance", run_id)
    planned = [spec.id for spec in registry.select(option.examples)]
    store.create_run(path, fingerprint, recorded_settings(settings, golden_dir), planned,
                     selection=option.examples)
    return Conformance(settings, fingerprint["id"], path, golden_dir)


def may_emulate_devices(settings: Settings) -> bool:
    """Whether CPU devices may stand in for the ones ``--devices`` asks for: on a machine without
    accelerators only. Where the profile names a GPU or TPU, too few of them is an error, not a run
    that quietly trains on the host CPU."""
    return settings.devices == 1 or devices.expected_platform(profile.fingerprint(settings.backend)) == "cpu"


_STATE = pytest.StashKey[Conformance]()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    state = node.config.stash[_STATE]
    node.workerinput["conformance_profile"] = state.profile_id
    node.workerinput["conformance_run"] = str(state.run_path)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "conformance_example" not in metafunc.fixturenames:
        return
    from conformance.engine import registry

    config = metafunc.config
    tier = config.stash[_STATE].settings.tier
    params = []
    for spec in registry.select(config.option.examples):
        marks = [getattr(pytest.mark, tier), getattr(pytest.mark, f"ch{spec.chapter:02d}"),
                 pytest.mark.tensorflow_only if spec.backends == ("tensorflow",) else pytest.mark.any_backend]
        params.append(pytest.param(spec, id=f"{spec.id}[{tier}]", marks=marks))
    metafunc.parametrize("conformance_example", params)


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Examples that ``-k`` or ``-m`` left out were left out on purpose: the run says so."""
    examples = [item for item in items if "conformance_example" in getattr(item, "fixturenames", ())]
    if examples:
        state = examples[0].config.stash[_STATE]
        store.mark_not_run(state.run_path, [item.callspec.params["conformance_example"].id for item in examples],
                           "deselected by pytest (-k / -m)")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput") or _STATE not in session.config.stash:
        return
    store.finish_run(session.config.stash[_STATE].run_path, exitstatus)


@pytest.fixture(scope="session")
def conformance(request: pytest.FixtureRequest) -> Conformance:
    return request.config.stash[_STATE]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or _STATE not in config.stash:
        return
    from conformance.engine.summary import format_table

    path = config.stash[_STATE].run_path
    run = store.read_run(path)
    if not run.examples:
        return
    terminalreporter.write_sep("=", "conformance summary")
    terminalreporter.write_line(format_table(run, width=terminalreporter._tw.fullwidth))
    terminalreporter.write_line(f"results: {path}")
