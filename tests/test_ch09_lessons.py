"""Each lesson chapter 9's golden files check fails when the lesson is broken: a fault is
planted in the library (or the data) the examples use, never in the suite, and the
named check reports it. The unbroken examples pass in the smoke conformance run."""

import copy
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from conformance.engine import golden
from helpers import failed_checks, golden_expectation, rmsprop_learning_rate_changed, run_example_in_process
from reference_impl import ch09_advanced_computer_vision as ch09
from reference_impl.datasets import oxford_pets

pytestmark = pytest.mark.slow  # every test runs an example


@pytest.fixture
def shrunk(tmp_path):
    """A golden directory holding one example's file with a smaller smoke scale, for
    faults whose effect does not depend on how long the example trains."""

    def write(example_id, **scale):
        raw = copy.deepcopy(golden.load(example_id).raw)
        raw["tiers"]["smoke"]["scale"] = scale
        (tmp_path / f"{example_id}.json").write_text(json.dumps(raw))
        return tmp_path

    return write


@pytest.fixture
def learning_rate_zero(monkeypatch):
    rmsprop_learning_rate_changed(lambda learning_rate: 0.0)(monkeypatch)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the example uses TensorFlow directly")
def test_gradient_descent_instead_of_ascent_fails_rises(monkeypatch):
    original = tf.math.l2_normalize
    monkeypatch.setattr(tf.math, "l2_normalize", lambda x, *args, **kwargs: -original(x, *args, **kwargs))
    result = run_example_in_process("ch09_visualize_filters_xception", backend="tensorflow")
    assert "rises values.first_filter_ascent_loss" in failed_checks(result)


class _NumpyWithoutMax:
    """numpy, except that ``np.max`` returns 1: the heatmap is never divided by its maximum."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def max(*args, **kwargs):
        return 1.0


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the example uses TensorFlow directly")
def test_heatmap_without_normalisation_fails_the_unit_range(monkeypatch):
    monkeypatch.setattr(ch09, "np", _NumpyWithoutMax())
    result = run_example_in_process("ch09_gradcam_xception", backend="tensorflow")
    assert "approx values.heatmap_max" in failed_checks(result)


def test_batchnorm_left_trainable_fails_the_freeze_checks(monkeypatch):
    monkeypatch.setattr(keras.layers.BatchNormalization, "trainable",
                        property(lambda layer: True, lambda layer, value: None))
    failures = failed_checks(run_example_in_process("ch09_batchnorm_freeze_efficientnet", backend="tensorflow"))
    assert "exact values.trainable_batchnorm_layers_after" in failures
    assert "exact values.trainable_weight_tensors_after" in failures
    assert "models.after.trainable_params < models.before.trainable_params" in failures


def test_segmentation_that_does_not_learn_fails_falls(learning_rate_zero, shrunk):
    golden_dir = shrunk("ch09_oxford_pets_segmentation", samples=0.01, epochs=0.04)
    result = run_example_in_process("ch09_oxford_pets_segmentation", backend="tensorflow", golden_dir=golden_dir)
    assert "falls history.fit.loss" in failed_checks(result)


def test_mini_xception_that_does_not_learn_fails_falls_and_the_held_out_check(learning_rate_zero, shrunk):
    golden_dir = shrunk("ch09_mini_xception_catsdogs", samples=0.02, epochs=0.04)
    result = run_example_in_process("ch09_mini_xception_catsdogs", backend="tensorflow", golden_dir=golden_dir)
    failures = failed_checks(result)
    assert "falls history.fit.loss" in failures
    assert golden_expectation("ch09_mini_xception_catsdogs", "smoke", kind="beats_baseline").name in failures


@pytest.mark.nightly
def test_masks_without_signal_fail_the_pixel_accuracy_lesson(tmp_path, monkeypatch):
    """A twin whose trimap pixels are shuffled within each trimap: neither the picture nor
    the position tells a pixel's class, so the model cannot beat answering the commonest
    class. Full smoke scale, because the healthy twin clears the check only after the
    smoke tier's training. (Trimaps of another scene, or a shuffled object mask, still
    leave a position signal: objects sit near the middle, bands avoid the edges.)"""
    monkeypatch.setenv("BOOK_DATA_HOME", str(tmp_path))  # not the cached healthy twin
    original = oxford_pets.trimap
    shuffler = np.random.default_rng(0)

    def shuffled_trimap(foreground, *args, **kwargs):
        values = original(foreground, *args, **kwargs)
        return shuffler.permutation(values.ravel()).reshape(values.shape)

    monkeypatch.setattr(oxford_pets, "trimap", shuffled_trimap)
    # The offline and book tiers also compare with the position prior: check it here too.
    raw = golden.load("ch09_oxford_pets_segmentation").raw
    prior_check = next(e for e in raw["tiers"]["book"]["expectations"]
                       if e.get("right") == "values.position_prior_pixel_accuracy")
    raw["tiers"]["smoke"]["expectations"].append(prior_check)
    golden_dir = tmp_path / "golden"
    golden_dir.mkdir()
    (golden_dir / "ch09_oxford_pets_segmentation.json").write_text(json.dumps(raw))
    result = run_example_in_process("ch09_oxford_pets_segmentation", backend="tensorflow", golden_dir=golden_dir)
    failures = failed_checks(result)
    assert "values.val_pixel_accuracy > values.majority_class_fraction" in failures
    assert "values.val_pixel_accuracy > values.position_prior_pixel_accuracy" in failures


def test_offline_mini_xception_trains_long_enough_for_its_batch_norm_statistics():
    """The offline tier checks the held-out accuracy, which the model computes with the batch-normalisation
    moving statistics (momentum 0.99, moving variance starting at 1, far above the batch variance of about
    0.01 on these pictures): their initial values must weigh under 1 % by the end of training, or every
    inference-mode prediction falls on one side (the smoke tier's few steps, which check the held-out accuracy
    with each batch's own statistics instead)."""
    from reference_impl.api import Run
    from reference_impl.datasets import cats_vs_dogs

    loaded = golden.load("ch09_mini_xception_catsdogs", pending_ok=True)
    run = Run(tier="offline", seed=0, backend="tensorflow", scale=loaded.scale("offline"), data_loader=None)
    train_images = 2 * cats_vs_dogs.OFFLINE_PER_CLASS[0]
    steps = run.epochs(100) * -(-train_images // 32)
    assert 0.99 ** steps < 0.01, steps
    assert any(e.kind == "beats_baseline" for e in loaded.expectations_for("offline"))
