"""Data that cannot be had is a skip with its reason, except in a run that requires the data
(``run --require-data``, the GPU and TPU book-tier jobs): there a lost download must not pass as a skip."""

from conformance.engine import registry
from conformance.engine.runner import Settings, run_example
from helpers import TEST_PROFILE_ID


def test_data_that_cannot_be_had_is_a_skip_unless_the_run_requires_it(offline_data_home):
    spec = registry.all_examples()["ch02_mnist_dense"]  # the book tier reads mnist.npz, not in the empty cache
    skipped = run_example(spec, Settings(tier="book"), TEST_PROFILE_ID)
    assert skipped.status == "skipped" and skipped.reason.startswith("data unavailable: "), skipped.reason
    required = run_example(spec, Settings(tier="book", require_data=True), TEST_PROFILE_ID)
    assert required.status == "error", required.reason
    assert required.reason.startswith("data unavailable (--require-data): ") and "mnist.npz" in required.reason


def test_a_run_that_requires_its_data_records_it_and_is_not_like_one_that_does_not():
    assert "require_data" not in Settings(tier="book").to_json()  # run files from before the option still match
    assert Settings(tier="book", require_data=True).to_json()["require_data"] is True
