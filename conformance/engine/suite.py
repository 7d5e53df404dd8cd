"""The conformance suite's one test: run an example, store its result, report its verdict.

Collected by ``python -m conformance run`` with the plugin in ``conformance.engine.plugin``.
"""

from __future__ import annotations

import pytest

from conformance.results import store
from conformance.engine.plugin import Conformance
from conformance.engine.runner import run_example
from conformance.engine.summary import failure_report
from reference_impl.api import ExampleSpec


def test_example(conformance_example: ExampleSpec, conformance: Conformance) -> None:
    result = run_example(conformance_example, conformance.settings, conformance.profile_id, conformance.golden_dir)
    store.add_example(conformance.run_path, result)
    if result.status == "skipped":
        pytest.skip(result.reason)
    if result.status != "passed":
        pytest.fail(failure_report(result), pytrace=False)
