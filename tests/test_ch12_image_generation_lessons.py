"""Each lesson check of chapter 12's DeepDream (§12.2) and neural style transfer (§12.3) fails when
its lesson is broken.

A fault is planted in the chapter's own functions or constants, the example runs in-process as
``python -m conformance run`` runs it (smoke tier: random weights, synthetic stand-ins for the
book's pictures), and the named check must be among the failures. Both examples take their
gradients with ``tf.GradientTape`` (TensorFlow only) and build a full-size InceptionV3 or VGG19,
some seconds a run, so every test that runs one is marked slow.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest

from helpers import Fault, failed_checks, faulty_run, golden_expectation, judge, run_example_in_process
from reference_impl import ch12_image_generation as ch12
from reference_impl.api import DatasetUnavailable

DEEPDREAM = "ch12_deepdream_inceptionv3"
STYLE_TRANSFER = "ch12_neural_style_transfer_vgg19"
# the chapter's functions as written, for the faults that wrap them
ORIGINAL_STEP = ch12.dream_gradient_ascent_step
ORIGINAL_PREPROCESS = ch12.dream_preprocess_image
ORIGINAL_STYLE_LOSS = ch12.style_loss


def tensorflow_only() -> None:
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the examples take their gradients with tf.GradientTape")


def replaced(name: str, value: Any) -> Fault:
    """A fault: the chapter module's ``name`` (a function or a constant) is ``value``."""
    return lambda patch: patch.setattr(ch12, name, value)


# -- fast: the schedule and the loss bookkeeping ----------------------------------------------------
def test_the_octave_schedule_is_the_books_formula():
    assert ch12.octave_shapes((240, 320)) == [(122, 163), (171, 228), (240, 320)]
    assert ch12.octave_shapes((100, 100)) == [(51, 51), (71, 71), (100, 100)]  # int() truncates: 100/1.96 = 51.02


def test_non_finite_losses_name_the_octave_and_the_step():
    assert ch12.non_finite_losses([[0.1, 0.2], [0.3, float("nan")], [float("inf")]]) == [
        "octave 1 step 1: loss", "octave 2 step 0: loss"]


def test_a_reversed_octave_schedule_fails_on_a_crafted_outcome():
    check = golden_expectation(DEEPDREAM, "smoke", name="the last octave is the picture's own size")
    outcome = {"values": {"original_shape": [240, 320], "successive_shapes": [[240, 320], [171, 228], [122, 163]]}}
    assert judge(check, outcome) == "failed"
    outcome["values"]["successive_shapes"].reverse()
    assert judge(check, outcome) == "passed"


def test_the_style_transfer_stand_ins_are_small_and_differ(offline_data_home):
    """The content and style stand-ins of one seed are two pictures, drawn at the size asked for."""
    from PIL import Image

    from reference_impl.datasets import book_images, load

    content, style = (np.array(Image.open(book_images.twin(seed=0, fname=fname,
                                                           stand_in_size=ch12.STYLE_TRANSFER_STAND_IN).value))
                      for fname in ("sf.jpg", "starry_night.jpg"))
    assert content.shape == style.shape == ch12.STYLE_TRANSFER_STAND_IN + (3,)
    assert np.abs(content.astype(int) - style.astype(int)).mean() > 10
    with pytest.raises(DatasetUnavailable, match="sf.jpg"):  # the book's picture ignores the stand-in size
        load("book_images", tier="book", seed=0, fname="sf.jpg", stand_in_size=ch12.STYLE_TRANSFER_STAND_IN)


# -- 12.2 DeepDream ------------------------------------------------------------------------------
@pytest.mark.slow
def test_deepdream_passes_unbroken():
    tensorflow_only()
    result = run_example_in_process(DEEPDREAM, "smoke", seed=0)
    assert result["status"] == "passed", [c for c in result["checks"] if c["status"] != "passed"]


def descending_step(feature_extractor):
    """The listing's ascent step with the sign of the step flipped: gradient descent."""
    gradient_ascent_step = ORIGINAL_STEP(feature_extractor)
    return lambda image, learning_rate: gradient_ascent_step(image, -learning_rate)



@pytest.mark.slow
def test_gradient_descent_instead_of_ascent_fails_the_rising_loss():
    tensorflow_only()
    failed = failed_checks(faulty_run(DEEPDREAM, replaced("dream_gradient_ascent_step", descending_step)))
    assert "the DeepDream loss rises over the ascent steps" in failed, sorted(failed)


@pytest.mark.slow
def test_a_wrong_octave_scale_fails_the_schedule():
    tensorflow_only()
    failed = failed_checks(faulty_run(DEEPDREAM, replaced("octave_scale", 1.5)))
    assert "the book's octave schedule for the stand-in" in failed, sorted(failed)


def dream_deprocess_without_clipping(img: np.ndarray) -> np.ndarray:
    img = img.reshape((img.shape[1], img.shape[2], 3))
    img /= 2.0
    img += 0.5
    img *= 255.
    return img.astype("uint8")  # the cast wraps what lies outside [0, 255]


@pytest.mark.slow
def test_a_deprocess_without_clipping_fails_the_range_check():
    tensorflow_only()
    with np.errstate(invalid="ignore"):
        failed = failed_checks(faulty_run(DEEPDREAM, replaced("dream_deprocess_image",
                                                              dream_deprocess_without_clipping)))
    assert "deprocess clips to the uint8 range" in failed, sorted(failed)


def nan_pixel(image_path: str) -> np.ndarray:
    img = ORIGINAL_PREPROCESS(image_path)
    img[0, 100, 100, 0] = np.nan
    return img



@pytest.mark.slow
def test_a_nan_in_the_loss_fails_naming_the_step():
    tensorflow_only()
    with np.errstate(invalid="ignore"):
        failed = failed_checks(faulty_run(DEEPDREAM, replaced("dream_preprocess_image", nan_pixel)))
    name = "no DeepDream loss is NaN or infinite"
    assert name in failed, sorted(failed)
    assert "octave 0 step 0: loss" in failed[name]["actual"], failed[name]


# -- 12.3 neural style transfer -------------------------------------------------------------------
@pytest.mark.slow
def test_style_transfer_passes_unbroken():
    tensorflow_only()
    result = run_example_in_process(STYLE_TRANSFER, "smoke", seed=0)
    assert result["status"] == "passed", [c for c in result["checks"] if c["status"] != "passed"]


def gram_without_transpose(x):
    """The classic slip: the (height, width, channels) map reshaped to (channels, -1) without moving
    the channels first, which mixes pixels and channels."""
    tf = ch12.tf
    features = tf.reshape(x, (tf.shape(x)[-1], -1))
    return tf.matmul(features, tf.transpose(features))


def gram_of_pixels(x):
    """The product the other way round: a (pixels × pixels) matrix instead of channels × channels."""
    tf = ch12.tf
    x = tf.transpose(x, (2, 0, 1))
    features = tf.reshape(x, (tf.shape(x)[0], -1))
    return tf.matmul(tf.transpose(features), features)


@pytest.mark.slow
def test_a_gram_matrix_computed_wrongly_fails():
    tensorflow_only()
    failed = failed_checks(faulty_run(STYLE_TRANSFER, replaced("gram_matrix", gram_without_transpose)))
    assert "the Gram matrix is the feature matrix times its transpose" in failed, sorted(failed)


@pytest.mark.slow
def test_a_transposed_gram_matrix_fails_its_shape():
    tensorflow_only()
    failed = failed_checks(faulty_run(STYLE_TRANSFER, replaced("gram_matrix", gram_of_pixels)))
    assert "the Gram matrix is channels × channels" in failed, sorted(failed)


def negated_style_loss(style_img, combination_img, img_height, img_width):
    return -ORIGINAL_STYLE_LOSS(style_img, combination_img, img_height, img_width)



@pytest.mark.slow
def test_a_style_loss_with_the_wrong_sign_fails():
    tensorflow_only()
    failed = failed_checks(faulty_run(STYLE_TRANSFER, replaced("style_loss", negated_style_loss)))
    assert "the style loss is never negative" in failed, sorted(failed)


def content_loss_without_the_content(base_img, combination_img):
    """The content loss with the content picture's features left out."""
    return ch12.tf.reduce_sum(ch12.tf.square(combination_img))


@pytest.mark.slow
def test_a_content_loss_that_ignores_the_content_picture_is_not_zero_at_the_start():
    tensorflow_only()
    failed = failed_checks(faulty_run(STYLE_TRANSFER, replaced("content_loss", content_loss_without_the_content)))
    assert "the content loss is 0 when the combination image is the content image" in failed, sorted(failed)


@pytest.mark.slow
def test_a_wrong_content_layer_fails():
    tensorflow_only()
    failed = failed_checks(faulty_run(STYLE_TRANSFER, replaced("content_layer_name", "block4_conv2")))
    assert "the content layer is block5_conv2" in failed, sorted(failed)


def style_deprocess_without_clipping(img, img_height, img_width):
    img = img.reshape((img_height, img_width, 3))
    img[:, :, 0] += 103.939
    img[:, :, 1] += 116.779
    img[:, :, 2] += 123.68
    return img[:, :, ::-1].astype("uint8")


@pytest.mark.slow
def test_a_style_deprocess_without_clipping_fails_the_range_check():
    tensorflow_only()
    failed = failed_checks(faulty_run(STYLE_TRANSFER, replaced("style_deprocess_image",
                                                               style_deprocess_without_clipping)))
    assert "deprocess restores RGB and clips to the uint8 range" in failed, sorted(failed)


def frozen_schedule(patch: pytest.MonkeyPatch) -> None:
    """A fault: the learning-rate schedule starts at 0, so SGD never moves the pixels."""
    original = keras.optimizers.schedules.ExponentialDecay.__init__

    def frozen(self, initial_learning_rate, *args, **kwargs):
        original(self, 0.0, *args, **kwargs)

    patch.setattr(keras.optimizers.schedules.ExponentialDecay, "__init__", frozen)


@pytest.mark.slow
def test_a_combination_image_that_does_not_move_fails_the_falling_loss_and_the_baseline():
    tensorflow_only()
    failed = failed_checks(faulty_run(STYLE_TRANSFER, frozen_schedule))
    baseline = golden_expectation(STYLE_TRANSFER, "smoke", kind="beats_baseline").name
    assert {"the total loss falls", baseline} <= set(failed), sorted(failed)
