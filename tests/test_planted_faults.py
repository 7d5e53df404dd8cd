"""Faults planted in the library the examples use are reported as failures that name the check,
the expected and the actual value. The suite itself is untouched."""

import functools

import keras
import pytest

from helpers import failed_checks, rmsprop_learning_rate_changed, run_example_in_process

pytestmark = pytest.mark.slow  # every test runs an example


@pytest.fixture
def hidden_layers_lose_their_activation(monkeypatch):
    original = keras.layers.Dense.__init__

    @functools.wraps(original)
    def without_relu(self, units, activation=None, **kwargs):
        original(self, units, activation=None if activation == "relu" else activation, **kwargs)

    monkeypatch.setattr(keras.layers.Dense, "__init__", without_relu)


@pytest.fixture
def learning_rate_100x_too_large(monkeypatch):
    rmsprop_learning_rate_changed(lambda learning_rate: learning_rate * 100)(monkeypatch)


def test_unplanted_example_passes():
    assert run_example_in_process("ch02_mnist_dense")["status"] == "passed"


def test_learning_rate_100x_too_large_fails_mnist_dense(learning_rate_100x_too_large):
    result = run_example_in_process("ch02_mnist_dense")
    assert result["status"] == "failed"
    failures = failed_checks(result)
    assert "threshold values.test_acc" in failures
    message = failures["threshold values.test_acc"]["message"]
    assert "expected values.test_acc >= " in message and "actual " in message and "source: run 'run-smoke'" in message
    assert "threshold values.test_acc" in result["reason"]


def test_learning_rate_100x_too_large_fails_compile_fit_validation(learning_rate_100x_too_large):
    result = run_example_in_process("ch03_keras_compile_fit_validation")
    assert result["status"] == "failed"
    assert "threshold values.val_binary_accuracy" in failed_checks(result)


def test_hidden_layer_without_activation_fails_mnist_dense(hidden_layers_lose_their_activation):
    result = run_example_in_process("ch02_mnist_dense")
    assert result["status"] == "failed", result["checks"]
    assert "threshold values.test_acc" in failed_checks(result)
