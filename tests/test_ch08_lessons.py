"""Chapter 8's lesson checks fail when the lesson is broken: the convnet's edge over the dense
network goes when pixels lose their neighbourhoods; a cats-vs-dogs twin without signal fails the
accuracy check; removing augmentation is caught; the book's overfitting windows reject each other's
regime; the fine-tuning check fails when freezing does nothing; and the pretrained-VGG16 examples fail
when training changes no weight. The passing runs are the conformance suite's smoke tier."""

import numpy as np
import pytest

import keras
from helpers import (
    failed_checks,
    faulty_run,
    golden_expectation,
    judge,
    rmsprop_learning_rate_changed,
    run_example_in_process,
)
from reference_impl.datasets import cats_vs_dogs, mnist


# -- 8.1: the convnet beats the dense network because it exploits pixel neighbourhoods ------
@pytest.fixture
def mnist_pixels_scrambled(monkeypatch):
    """The same digits with every image's pixels put through one fixed permutation: a dense
    network does not care, a convnet loses the neighbourhoods it is built to exploit."""
    original = mnist.twin
    order = np.random.RandomState(0).permutation(28 * 28)

    def scramble(images):
        return images.reshape(len(images), -1)[:, order].reshape(images.shape)

    def scrambled(*args, **kwargs):
        loaded = original(*args, **kwargs)
        (x, y), (xt, yt) = loaded.value
        loaded.value = (scramble(x), y), (scramble(xt), yt)
        return loaded

    monkeypatch.setattr(mnist, "twin", scrambled)


@pytest.mark.nightly
@pytest.mark.slow
def test_convnet_loses_its_edge_when_pixels_are_scrambled(mnist_pixels_scrambled):
    failures = failed_checks(run_example_in_process("ch08_mnist_convnet"))
    assert "values.test_acc > values.dense_test_acc" in failures


# -- 8.2: cats vs. dogs from scratch --------------------------------------------------------
@pytest.fixture
def twin_without_signal(monkeypatch, tmp_path):
    """Both classes get the same flat disc, drawn into a separate cache."""
    monkeypatch.setattr(cats_vs_dogs, "twin_home", lambda: tmp_path)
    monkeypatch.setattr(cats_vs_dogs, "_texture", lambda category, dy, dx, radius, rng: np.zeros_like(dy))


@pytest.mark.nightly
@pytest.mark.slow
def test_from_scratch_accuracy_check_fails_on_a_twin_without_signal(twin_without_signal):
    failures = failed_checks(run_example_in_process("ch08_catsdogs_from_scratch"))
    assert "threshold values.test_acc" in failures


@pytest.fixture
def augmentation_does_nothing(monkeypatch):
    for name in ("RandomFlip", "RandomRotation", "RandomZoom"):
        monkeypatch.setattr(getattr(keras.layers, name), "call", lambda self, inputs, training=True: inputs)


@pytest.mark.nightly
@pytest.mark.slow
def test_augmentation_removed_is_caught(augmentation_does_nothing):
    failures = failed_checks(run_example_in_process("ch08_catsdogs_augmentation"))
    assert "exact values.augmentations_differ" in failures


def u_shaped_val_loss(epochs, best):
    """A validation loss that falls to its minimum at epoch ``best`` (1-based), then climbs."""
    return [0.3 + 0.01 * abs(epoch - best) for epoch in range(1, epochs + 1)]


def book_verdicts(example_id, epochs, best):
    expectation = golden_expectation(example_id, "book", kind="best_epoch")
    observed = {"history": {"fit": {"val_loss": u_shaped_val_loss(epochs, best)}}}
    return judge(expectation, observed)


@pytest.mark.parametrize("example_id, epochs, passing_best, failing_best", [
    # from scratch: the book's minimum after ~10 of 30 epochs; a model that kept improving to the end fails
    ("ch08_catsdogs_from_scratch", 30, 10, 30),
    # with augmentation and dropout: ~60-70 of 100; the minimum of a model without them (epoch 10) fails
    ("ch08_catsdogs_augmentation", 100, 65, 10),
])
def test_book_overfitting_windows_separate_the_two_regimes(example_id, epochs, passing_best, failing_best):
    assert book_verdicts(example_id, epochs, passing_best) == "passed"
    assert book_verdicts(example_id, epochs, failing_best) == "failed"


# -- 8.3: pretrained VGG16, frozen and fine-tuned ----------------------------------------------
@pytest.fixture
def freezing_does_nothing(monkeypatch):
    """Setting ``trainable = False`` on a convolution is ignored: every layer stays trainable."""
    trainable = keras.layers.Layer.trainable

    def setter(self, value):
        trainable.fset(self, True)

    monkeypatch.setattr(keras.layers.Conv2D, "trainable", property(trainable.fget, setter), raising=False)


@pytest.mark.slow
def test_fine_tuning_check_fails_when_all_layers_stay_trainable(freezing_does_nothing):
    failures = failed_checks(run_example_in_process("ch08_vgg16_finetuning"))
    assert {"exact values.changed_base_weights", "exact models.model.trainable_params"} <= set(failures)


@pytest.mark.slow
def test_feature_extraction_checks_fail_when_the_base_is_not_frozen(freezing_does_nothing):
    failures = failed_checks(run_example_in_process("ch08_vgg16_feature_extraction_augmented"))
    assert {"exact values.changed_base_weights", "exact models.model.trainable_params"} <= set(failures)


# Without pretrained weights (smoke, offline) nothing checks the accuracy, and a frozen base that did not change is
# also what a fit that trains nothing leaves: the head's changed tensors are what shows that training happened.
trains_nothing = rmsprop_learning_rate_changed(lambda learning_rate: 0.0)


@pytest.mark.slow
def test_feature_extraction_fails_when_training_changes_nothing():
    failures = failed_checks(faulty_run("ch08_vgg16_feature_extraction_augmented", trains_nothing))
    assert set(failures) == {"exact values.changed_head_weights"}
    assert failures["exact values.changed_head_weights"]["actual"] == []


@pytest.mark.slow
def test_fine_tuning_fails_when_training_changes_nothing():
    failures = failed_checks(faulty_run("ch08_vgg16_finetuning", trains_nothing))
    assert set(failures) == {"exact values.changed_base_weights", "exact values.changed_head_weights"}
