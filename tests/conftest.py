"""Fixtures that several test modules share; pytest hands them to any test that names them.

Plain helper functions (running an example in-process, reading its failed checks, planting
faults in Keras, ragged arrays) live in helpers.py and are imported by name; see its
docstring for why. Keep this file free of heavy imports (Keras, TensorFlow, SciPy): pytest
imports it in every process, pytest-xdist's controller included. The lanes (markers ``slow``,
``subprocess`` and ``nightly``) are declared in pyproject.toml under ``[tool.pytest.ini_options]``.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-package-skips", action="store_true",
        help="a test that skips because a package is missing (pytest.importorskip in the test or a fixture) fails "
             "instead: for the lane that installs every extra (nox -s tests-extras), where such a skip would hide "
             "the test. Test modules call importorskip inside tests, never at import (tests/test_package_skips.py)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report = outcome.get_result()
    if (report.skipped and item.config.getoption("no_package_skips") and call.excinfo is not None
            and any(entry.name == "importorskip" for entry in call.excinfo.traceback)):
        report.outcome = "failed"
        report.longrepr = (f"skipped for a missing package in a lane that installs every extra "
                           f"(--no-package-skips): {call.excinfo.value}")


@pytest.fixture
def offline_data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty dataset cache (``BOOK_DATA_HOME``) in this test's ``tmp_path``, with downloads
    switched off (``BOOK_DATA_OFFLINE=1``): the loaders see only the files the test puts there."""
    monkeypatch.setenv("BOOK_DATA_HOME", str(tmp_path))
    monkeypatch.setenv("BOOK_DATA_OFFLINE", "1")
    return tmp_path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The nightly lane's tests run only when a mark expression names them (``-m nightly``): every
    other run leaves them out, a plain ``pytest`` as much as the fast lane's ``-m "not slow"``."""
    if "nightly" in (config.option.markexpr or ""):
        return
    nightly = [item for item in items if item.get_closest_marker("nightly")]
    if nightly:
        config.hook.pytest_deselected(items=nightly)
        items[:] = [item for item in items if not item.get_closest_marker("nightly")]
