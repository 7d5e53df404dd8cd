"""Each of chapter 13's lesson checks fails when the lesson is broken.

A fault is planted in KerasTuner, Keras or the chapter's own helpers, the example runs in-process
as ``python -m conformance run`` runs it, and the named check must be among the failures. Checks
whose breakage needs hardware this machine lacks (several GPUs, a TPU) are shown on crafted
outcomes; the data-parallel path itself runs over two emulated CPU devices in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from helpers import failed_checks, faulty_run, golden_expectation, judge, package_missing, run_example_in_process
from reference_impl import ch13_best_practices as ch13

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def needs_keras_tuner() -> None:
    """KerasTuner is in the tuner extra, which every nox session installs: missing, the test fails (pip install '.[tuner]')."""
    import keras_tuner  # noqa: F401


# -- 13.1.1 KerasTuner -------------------------------------------------------------------------------
def swapped_split(x, y):
    """The R edition's split: train on the first sixth, validate on the rest."""
    num_val_samples = len(x) * ch13.BOOK_VALIDATION_SAMPLES // 60_000
    return (x[:num_val_samples], y[:num_val_samples]), (x[num_val_samples:], y[num_val_samples:])


def ranking_by_the_lowest_score(patch: pytest.MonkeyPatch) -> None:
    """Every objective minimised: the tuner ranks the worst validation accuracy first."""
    from keras_tuner.src.engine import objective

    original = objective.Objective.__init__
    patch.setattr(objective.Objective, "__init__", lambda self, name, direction: original(self, name, "min"))


@pytest.mark.slow
def test_the_r_editions_swapped_split_fails_the_split_checks():
    needs_keras_tuner()
    failed = failed_checks(faulty_run("ch13_kerastuner_mnist", lambda patch: patch.setattr(ch13, "split_off_validation", swapped_split)))
    assert "the search trains on the first five sixths" in failed, sorted(failed)
    assert "the search validates on the last sixth" in failed, sorted(failed)


@pytest.mark.slow
def test_a_tuner_that_ranks_the_worst_trial_first_fails_the_ranking_check():
    needs_keras_tuner()
    failed = failed_checks(faulty_run("ch13_kerastuner_mnist", ranking_by_the_lowest_score))
    assert "the trials are ranked best first (the validation accuracy is maximised)" in failed, sorted(failed)


def test_a_search_space_other_than_the_books_fails():
    expectation = golden_expectation("ch13_kerastuner_mnist", "smoke", name="the search space is the book's")
    space = {"units": {"min_value": 32, "max_value": 512, "step": 32}, "optimizer": {"values": ["rmsprop", "adam"]}}
    assert judge(expectation, {"values": {"search_space": space}}) == "failed"


@pytest.mark.parametrize("name, observed", [
    ("the HyperModel subclass defines the same space",
     {"hypermodel_space": {"units": {"min_value": 16, "max_value": 128, "step": 16}}, "search_space": {"units": {}}}),
    ("the search ran its whole budget", {"trials_run": 1}),  # a search that stopped after one trial of two
    ("the retrain uses every training image", {"retrain_samples": 1280}),  # retrained on the search's split only
    ("every trial tried another hyperparameter set", {"distinct_hyperparameter_sets": 1, "trials_run": 2}),
])
def test_a_search_that_departs_from_the_book_fails(name, observed):
    assert judge(golden_expectation("ch13_kerastuner_mnist", "smoke", name=name), {"values": observed}) == "failed"


def test_kerastuner_example_without_the_package_is_a_skip_naming_package_and_extra():
    result = faulty_run("ch13_kerastuner_mnist", package_missing("keras_tuner"))
    assert result["status"] == "skipped", result
    assert "'keras-tuner'" in result["reason"] and ".[tuner]" in result["reason"], result["reason"]


# -- 13.1.2 ensembling ---------------------------------------------------------------------------------
def predictions_in_shuffled_order(patch: pytest.MonkeyPatch) -> None:
    """predict returns its rows out of order (as predicting on a dataset that reshuffles does):
    each model's accuracy from evaluate is intact, its predictions no longer line up with the labels."""
    original = keras.Model.predict

    def predict(self, x, *args, **kwargs):
        return original(self, x[np.random.permutation(len(x))], *args, **kwargs)

    patch.setattr(keras.Model, "predict", predict)


@pytest.mark.slow
def test_an_ensemble_of_misaligned_predictions_fails():
    failed = failed_checks(faulty_run("ch13_ensembling", predictions_in_shuffled_order))
    assert "the ensemble beats its worst member" in failed, sorted(failed)
    assert "the weighted ensemble beats the worst member" in failed, sorted(failed)


@pytest.mark.parametrize("tier", ["smoke", "offline"])
@pytest.mark.parametrize("name", ["the ensemble beats its members' average",
                                  "the weighted ensemble beats its members' average"])
def test_an_ensemble_no_better_than_a_typical_member_fails(tier, name):
    observed = {"values": {"ensemble_val_acc": 0.615, "weighted_ensemble_val_acc": 0.615, "mean_member_val_acc": 0.61}}
    assert judge(golden_expectation("ch13_ensembling", tier, name=name), observed) == "failed"


def test_averaged_predictions_that_are_not_probabilities_fail():
    expectation = golden_expectation("ch13_ensembling", "smoke", name="averaged predictions are probabilities (highest row sum)")
    assert judge(expectation, {"values": {"ensemble_row_sums": [1.0, 4.0]}}) == "failed"  # summed, not averaged


# -- 13.2.1 mixed precision ----------------------------------------------------------------------------
def output_dtype_ignored(patch: pytest.MonkeyPatch) -> None:
    """The output layer's dtype="float32" is dropped: the softmax runs in the policy's 16 bits."""
    original = keras.layers.Dense.__init__

    def init(self, *args, **kwargs):
        kwargs.pop("dtype", None)
        original(self, *args, **kwargs)

    patch.setattr(keras.layers.Dense, "__init__", init)


def policy_never_restored(patch: pytest.MonkeyPatch) -> None:
    """As in the book: the example sets the mixed policy and never sets float32 back."""
    original = keras.mixed_precision.set_global_policy
    patch.setattr(keras.mixed_precision, "set_global_policy",
                  lambda policy: None if policy == "float32" else original(policy))


@pytest.mark.slow
def test_a_16_bit_softmax_fails_the_output_dtype_checks():
    failed = failed_checks(faulty_run("ch13_mixed_precision", output_dtype_ignored))
    assert "mixed_float16: the softmax output is float32" in failed, sorted(failed)
    assert "mixed_bfloat16: the softmax output is float32" in failed, sorted(failed)


@pytest.mark.slow
def test_a_policy_left_set_fails_the_restore_checks():
    try:
        failed = failed_checks(faulty_run("ch13_mixed_precision", policy_never_restored))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert "the float32 policy is back after the example" in failed, sorted(failed)
    assert "a layer built afterwards computes in float32" in failed, sorted(failed)


@pytest.mark.parametrize("name, observed", [
    ("conversion keeps float64", {"converted_dtype": "float32"}),  # a conversion that narrows silently
    ("mixed_float16: Dense layers compute in float16, the float32 output layer in float32",
     {"mixed_float16": {"compute_dtypes": ["float32", "float32"]}}),  # the policy ignored
    ("mixed_bfloat16: the optimizer does not scale the loss", {"mixed_bfloat16": {"loss_scaled": True}}),
])
def test_dtypes_other_than_the_policys_fail(name, observed):
    assert judge(golden_expectation("ch13_mixed_precision", "smoke", name=name), {"values": observed}) == "failed"


def test_a_loss_that_does_not_fall_under_float16_fails():
    expectation = golden_expectation("ch13_mixed_precision", "smoke", name="mixed_float16: the training loss falls")
    assert judge(expectation, {"history": {"mixed_float16": {"loss": [2.30, 2.29]}}}) == "failed"  # 0.4 %, not 20 %
    assert judge(expectation, {"history": {"mixed_float16": {"loss": [2.30, float("nan")]}}}) == "failed"


def test_float16_without_loss_scaling_fails():
    expectation = golden_expectation("ch13_mixed_precision", "smoke", name="mixed_float16: the optimizer scales the loss")
    assert judge(expectation, {"values": {"mixed_float16": {"loss_scaled": False}}}) == "failed"


def test_float16_variables_fail():
    expectation = golden_expectation("ch13_mixed_precision", "smoke", name="mixed_float16: variables stay float32")
    assert judge(expectation, {"values": {"mixed_float16": {"variable_dtypes": ["float16"]}}}) == "failed"


# -- 13.2.2 MirroredStrategy / DataParallel ------------------------------------------------------------
def test_a_strategy_on_fewer_devices_than_the_machine_shows_fails():
    expectation = golden_expectation("ch13_multi_gpu_mirrored", "smoke", name="the strategy spans every device the machine shows")
    assert judge(expectation, {"values": {"replicas": 1, "devices_seen": 2}}) == "failed"


def test_weights_on_one_device_of_two_fail():
    expectation = golden_expectation("ch13_multi_gpu_mirrored", "smoke", name="every replica holds a copy of the weights")
    assert judge(expectation, {"values": {"replica_copies": 1, "replicas": 2}}) == "failed"


def test_a_training_step_that_diverges_across_replicas_fails():
    expectation = golden_expectation("ch13_multi_gpu_mirrored", "offline", name="the training step's loss is finite")
    assert judge(expectation, {"values": {"training_loss": float("nan")}}) == "failed"
    assert judge(expectation, {"values": {"training_loss": float("inf")}}) == "failed"


@pytest.mark.nightly
@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_the_resnet_is_mirrored_over_two_emulated_devices(backend, tmp_path):
    if backend == "jax":
        import jax  # noqa: F401 -- the tests session installs the jax extra: missing, it is a failure
    completed = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--examples", "ch13_multi_gpu_mirrored", "--devices", "2",
         "--backend", backend, "--results-dir", str(tmp_path), "--run-id", "mirrored"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "KERAS_BACKEND": backend})
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    [run_file] = tmp_path.rglob("mirrored.json")
    [result] = json.loads(run_file.read_text())["examples"]
    assert result["status"] == "passed", result
    assert result["metrics"]["replicas"] == 2 and result["metrics"]["replica_copies"] == 2, result["metrics"]


# -- 13.2.3 TPU ----------------------------------------------------------------------------------------
def test_a_tpu_strategy_without_replicas_fails():
    expectation = golden_expectation("ch13_tpu", "book", name="the TPU strategy has replicas")
    assert judge(expectation, {"values": {"replicas": 0}}) == "failed"


def test_tpu_example_without_a_tpu_is_a_skip_that_says_so():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the TPU example uses tf.distribute")
    if ch13.tpu_attached():
        pytest.skip("this machine has a TPU: the example runs")
    result = run_example_in_process("ch13_tpu")
    assert result["status"] == "skipped", result
    assert result["reason"].startswith("device missing:") and "TPU" in result["reason"], result["reason"]
