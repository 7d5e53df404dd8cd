"""Each of chapter 7's lesson checks fails when the lesson is broken.

A fault is planted in Keras, TensorFlow, matplotlib or the chapter's own helpers, the example runs
in-process as ``python -m conformance run`` runs it, and the named check must be among the
failures. The early-stopping and checkpoint lessons are shown on the offline tier (genuine digits),
where training stops early and the validation loss is not always lowest at the last epoch; the
others on the smoke tier. Checks whose breakage needs no training are shown on crafted outcomes.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from conformance.engine import registry
from helpers import Fault, RunResult, failed_checks, faulty_run, golden_expectation, judge, package_missing
from reference_impl import ch07_working_with_keras as ch07


def tensorflow_only() -> None:
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the example uses TensorFlow directly (GradientTape / tf.function)")


# -- 7.3.1 the custom RMSE metric -----------------------------------------------------------------
def broadcasting_pitfall(y_true, depth):
    """The book's code as tf.keras 2.x runs it: the labels arrive as a (batch, 1) column, so the
    one-hot targets are (batch, 1, 10) and broadcast against the (batch, 10) predictions."""
    return keras.ops.one_hot(keras.ops.expand_dims(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), -1), depth)


@pytest.fixture(scope="module")
def rmse_broadcasts() -> RunResult:
    return faulty_run("ch07_custom_metric_rmse", lambda patch: patch.setattr(ch07, "one_hot_targets", broadcasting_pitfall))


@pytest.mark.slow
def test_rmse_with_the_broadcasting_pitfall_fails_the_keras_comparison(rmse_broadcasts):
    failed = failed_checks(rmse_broadcasts)
    assert "custom RMSE matches Keras's RootMeanSquaredError" in failed, sorted(failed)
    assert "validation RMSE in a correct RMSE's range" in failed, sorted(failed)


# -- 7.3.2 EarlyStopping and ModelCheckpoint (offline tier: genuine digits) ------------------------
def keyword_forced(cls: type, **forced: Any) -> Fault:
    original = cls.__init__

    def init(self, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **{**kwargs, **forced})

    return lambda patch: patch.setattr(cls, "__init__", init)


@pytest.fixture(scope="module")
def checkpoint_every_epoch() -> RunResult:
    """ModelCheckpoint ignores save_best_only: the file holds the last epoch. Seed 1 is a recorded
    offline seed whose lowest validation loss is not at its last epoch."""
    return faulty_run("ch07_callbacks_earlystop_checkpoint",
                      keyword_forced(keras.callbacks.ModelCheckpoint, save_best_only=False), tier="offline", seed=1)


@pytest.fixture(scope="module")
def patience_ignored() -> RunResult:
    """EarlyStopping waits 100 epochs instead of 2: the fit runs all its epochs."""
    return faulty_run("ch07_callbacks_earlystop_checkpoint",
                      keyword_forced(keras.callbacks.EarlyStopping, patience=100), tier="offline", seed=1)


@pytest.mark.slow
def test_a_checkpoint_that_is_not_the_best_epoch_fails(checkpoint_every_epoch):
    assert "the checkpoint is the best epoch" in failed_checks(checkpoint_every_epoch)


@pytest.mark.slow
def test_training_that_outlives_its_patience_fails(patience_ignored):
    failed = failed_checks(patience_ignored)
    assert "training stopped early" in failed, sorted(failed)
    assert "stopped when patience ran out" in failed, sorted(failed)


# -- 7.3.3 the per-batch loss callback ---------------------------------------------------------------
@pytest.fixture(scope="module")
def plots_not_saved() -> RunResult:
    import matplotlib.pyplot as plt

    return faulty_run("ch07_custom_callback_batch_loss", lambda patch: patch.setattr(plt, "savefig", lambda *a, **k: None))


@pytest.fixture(scope="module")
def every_other_batch() -> RunResult:
    """Keras calls the callback's on_batch_end for every other batch only."""

    def on_train_batch_end(self, batch, logs=None):
        if batch % 2 == 0:
            self.on_batch_end(batch, logs=logs)

    return faulty_run("ch07_custom_callback_batch_loss",
                      lambda patch: patch.setattr(keras.callbacks.Callback, "on_train_batch_end", on_train_batch_end))


@pytest.mark.slow
def test_a_callback_that_writes_no_plot_fails_one_plot_per_epoch(plots_not_saved):
    assert "one plot per epoch" in failed_checks(plots_not_saved)


@pytest.mark.slow
def test_a_plot_missing_batches_fails(every_other_batch):
    failed = failed_checks(every_other_batch)
    assert "each plot holds every batch (fewest)" in failed, sorted(failed)


# -- 7.3.4 TensorBoard -----------------------------------------------------------------------------------
def test_tensorboard_example_without_the_package_is_a_skip_naming_package_and_extra():
    result = faulty_run("ch07_tensorboard", package_missing("tensorboard"))
    assert result["status"] == "skipped", result
    assert "'tensorboard'" in result["reason"] and ".[tensorboard]" in result["reason"], result["reason"]


@pytest.mark.slow
def test_event_files_without_epoch_scalars_fail():
    import tensorboard  # noqa: F401 -- the tensorboard extra, which every nox session installs: missing, it fails
    result = faulty_run("ch07_tensorboard",
                        lambda patch: patch.setattr(keras.callbacks.TensorBoard, "on_epoch_end", lambda *a, **k: None))
    failed = failed_checks(result)
    assert "every epoch's scalars logged (fewest)" in failed, sorted(failed)


# -- 7.4.2 low-level metrics -------------------------------------------------------------------------------
def test_a_mean_that_forgets_earlier_values_fails_the_printed_mean():
    original = keras.metrics.Mean.update_state

    def forgetful(self, *args, **kwargs):
        self.reset_state()
        return original(self, *args, **kwargs)

    result = faulty_run("ch07_low_level_metrics", lambda patch: patch.setattr(keras.metrics.Mean, "update_state", forgetful))
    failed = failed_checks(result)
    assert "exact values.mean_printed" in failed and "approx values.mean_result" in failed, sorted(failed)


# -- 7.4.3 the custom training loop ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def metrics_never_reset() -> RunResult:
    """The loop forgets reset_metrics(): its evaluation averages the training batches in."""
    tensorflow_only()
    return faulty_run("ch07_custom_training_loop",
                      lambda patch: patch.setattr(ch07.CustomLoop, "reset_metrics", lambda self: None))


@pytest.mark.slow
def test_a_loop_that_never_resets_its_metrics_fails_the_evaluate_comparison(metrics_never_reset):
    assert "the loop's evaluation matches evaluate()" in failed_checks(metrics_never_reset)


# -- 7.4.4 tf.function --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def miscompiled() -> RunResult:
    """A tf.function that compiles a different computation: the compiled step sees its inputs halved."""
    tensorflow_only()
    import tensorflow as tf

    original = tf.function

    def halving(func=None, **kwargs):
        if func is None:
            return lambda f: halving(f, **kwargs)
        if not getattr(func, "__module__", "").startswith("reference_impl."):
            return original(func, **kwargs)  # Keras's own tf.functions stay as they are: the fault is the example's

        def step(*args):
            return func(*[a * 0.5 if isinstance(a, tf.Tensor) and a.dtype.is_floating else a for a in args])

        return original(step, **kwargs)

    return faulty_run("ch07_tf_function_eval", lambda patch: patch.setattr(tf, "function", halving))


@pytest.mark.slow
def test_compiled_metrics_that_differ_from_eager_fail(miscompiled):
    assert "eager and compiled metrics agree" in failed_checks(miscompiled)


# -- 7.2.2 the ticket model -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dict_inputs_misrouted() -> RunResult:
    """Keras routes a dict's title array to text_body and back: dicts are not matched by name."""
    original = keras.Model.evaluate

    def evaluate(self, x=None, *args, **kwargs):
        if isinstance(x, dict) and {"title", "text_body"} <= set(x):
            x = {**x, "title": x["text_body"], "text_body": x["title"]}
        return original(self, x, *args, **kwargs)

    return faulty_run("ch07_ticket_multi_io", lambda patch: patch.setattr(keras.Model, "evaluate", evaluate))


@pytest.mark.slow
def test_dicts_routed_by_position_fail_the_same_loss(dict_inputs_misrouted):
    assert "lists and dicts give the same loss" in failed_checks(dict_inputs_misrouted)


# -- crafted outcomes: checks whose breakage needs no training --------------------------------------------------
CRAFTED = [
    ("ch07_sequential_build_summary", "smoke", "exact values.weights_before_build", {"values": {"weights_before_build": 4}}),
    ("ch07_ticket_multi_io", "smoke", "the difficulty head adds 195 parameters", {"values": {"difficulty_head_params": 260}}),
    ("ch07_ticket_multi_io", "smoke", "the new model reuses the heads", {"values": {"reused_layers_shared": False}}),
    ("ch07_ticket_multi_io", "smoke", "the reused priority head predicts the same", {"values": {"reused_priority_max_abs_diff": 0.3}}),
    ("ch07_ticket_multi_io", "offline", "the priority head beats the mean priority",  # a head that learned nothing
     {"values": {"held_out_priority_mae": 0.29, "mean_priority_mae": 0.2931}}),
    ("ch07_custom_training_loop", "smoke", "the loop lowers the training loss", {"history": {"training": {"loss": [1.0, 0.99, 0.98]}}}),
    ("ch07_custom_train_step_fit", "smoke", "fit with the custom step lowers the loss", {"history": {"custom_loss": {"loss": [2.3, 2.3, 2.3]}}}),
    ("ch07_custom_train_step_fit", "smoke", "fit with the compiled-loss step lowers the loss",
     {"history": {"compiled_loss": {"loss": [0.1, 0.1, 0.1]}}}),  # the Keras 3 compiled_metrics shim's "loss"
    ("ch07_tensorboard", "smoke", "logged scalars equal the history", {"values": {"logged_vs_history_max_abs_diff": 0.01}}),
    ("ch07_callbacks_earlystop_checkpoint", "smoke", "never runs past patience", {"values": {"epochs_after_best_val_accuracy": 3}}),
    ("ch07_mixing_models", "smoke", "exact values.subclassed_reuses_functional", {"values": {"subclassed_reuses_functional": False}}),
    ("ch07_ticket_subclassed", "smoke", "exact values.weights_before_call", {"values": {"weights_before_call": 6}}),
    ("ch07_custom_callback_batch_loss", "smoke", "each plot holds every batch (most)",
     {"values": {"points_per_plot_max": 64, "batches_per_epoch": 32}}),  # the per-batch list is never cleared
    ("ch07_tensorboard", "smoke", "every epoch's scalars logged (most)", {"values": {"logged_epochs_max": 6, "epochs_run": 3}}),
    ("ch07_tensorboard", "smoke", "exact values.logged_steps_are_epochs", {"values": {"logged_steps_are_epochs": False}}),
    ("ch07_low_level_metrics", "smoke", "exact values.accuracy_printed", {"values": {"accuracy_printed": "result: 0.67"}}),
    ("ch07_low_level_metrics", "smoke", "approx values.accuracy_after_reset", {"values": {"accuracy_after_reset": 1.0}}),
]


@pytest.mark.parametrize("example_id, tier, name, outcome", CRAFTED, ids=[f"{e}:{n}" for e, _, n, _ in CRAFTED])
def test_crafted_broken_outcome_fails(example_id, tier, name, outcome):
    assert judge(golden_expectation(example_id, tier, name=name), outcome) == "failed"


# -- backends and plot_model ------------------------------------------------------------------------------------------
TENSORFLOW_ONLY = {"ch07_custom_training_loop", "ch07_tf_function_eval", "ch07_custom_train_step_fit"}


def test_only_the_gradienttape_and_tf_function_examples_are_tensorflow_only():
    chapter = {i: spec for i, spec in registry.all_examples().items() if i.startswith("ch07_")}
    assert len(chapter) == 14
    for example_id, spec in chapter.items():
        if example_id in TENSORFLOW_ONLY:
            assert spec.backends == ("tensorflow",), example_id
        else:
            assert "jax" in spec.backends, example_id


def test_no_timing_is_checked():
    from conformance.engine import golden

    for example_id in registry.all_examples():
        if example_id.startswith("ch07_"):
            loaded = golden.load(example_id)
            everything = loaded.expectations + [e for body in loaded.tiers.values() for e in body["expectations"]]
            assert not any("seconds" in str(e.fields) for e in everything), example_id


def ticket_model() -> keras.Model:
    title = keras.Input(shape=(ch07.vocabulary_size,), name="title")
    text_body = keras.Input(shape=(ch07.vocabulary_size,), name="text_body")
    tags = keras.Input(shape=(ch07.num_tags,), name="tags")
    features = keras.layers.Dense(64, activation="relu")(keras.layers.Concatenate()([title, text_body, tags]))
    return keras.Model([title, text_body, tags], [keras.layers.Dense(1, name="priority")(features),
                                                  keras.layers.Dense(4, name="department")(features)])


def test_plot_model_draws_the_ticket_model():
    # A plain skip, not importorskip: pydot is in no extra and graphviz's 'dot' is a system program that no
    # extra can install, so no lane has them (not even tests-extras, whose --no-package-skips would fail an
    # importorskip here); the test runs where someone installed both by hand. The branches the lanes do run
    # are the two tests below.
    if importlib.util.find_spec("pydot") is None or shutil.which("dot") is None:
        pytest.skip("plot_model needs pydot (in no extra: pip install pydot) and graphviz's 'dot' program "
                    "(a system package, which no extra can install)")
    assert ch07.plot_model_files(ticket_model()) == {
        "written": ["ticket_classifier.png", "ticket_classifier_with_shape_info.png"]}


def test_plot_model_files_lists_the_two_drawings_plot_model_writes(monkeypatch):
    drawn = []

    def plot_model(model, to_file, **kwargs):  # what plot_model does with pydot and graphviz: write the image
        drawn.append(kwargs)
        Path(to_file).write_bytes(b"\x89PNG")

    monkeypatch.setattr(keras.utils, "plot_model", plot_model)
    assert ch07.plot_model_files(ticket_model()) == {
        "written": ["ticket_classifier.png", "ticket_classifier_with_shape_info.png"]}
    assert drawn == [{}, {"show_shapes": True}]  # the book's two calls: without and with shapes


@pytest.mark.parametrize("missing", ["pydot", "graphviz"])
def test_without_pydot_or_graphviz_plot_model_is_skipped_with_the_reason(missing, monkeypatch):
    from keras.src.utils import model_visualization  # where plot_model looks for them

    if missing == "pydot":
        monkeypatch.setattr(model_visualization, "pydot", None)
    else:  # pydot importable, graphviz's programs absent
        monkeypatch.setattr(model_visualization, "pydot", model_visualization.pydot or object())
        monkeypatch.setattr(model_visualization, "check_graphviz", lambda: False)
    result = ch07.plot_model_files(ticket_model())
    assert list(result) == ["skipped"]
    assert result["skipped"].startswith("plot_model needs pydot and graphviz: ")
    assert f"install {missing}" in result["skipped"], result["skipped"]


def test_the_ticket_twin_has_the_book_layout():
    np.random.seed(0)
    data = ch07.ticket_data(64)
    assert data["title"].shape == (64, 10000) and data["text_body"].shape == (64, 10000)
    assert data["tags"].shape == (64, 100) and data["priority"].shape == (64, 1)
    assert data["department"].shape == (64, 4) and np.all(data["department"].sum(axis=1) == 1)
    assert set(np.unique(data["title"])) <= {0.0, 1.0} and 0 <= data["priority"].min() <= data["priority"].max() <= 1
