"""Examples that run on some backends only say why, and a restriction that works around a Keras
or framework bug is checked against that bug: once a release fixes it, the test fails and the
restriction should go."""

import os
import subprocess
import sys
import textwrap

import pytest

from conformance.engine.registry import all_examples
from conformance.engine.runner import Settings, skip_reason
from reference_impl.api import ANY_BACKEND


def test_every_backend_restriction_says_why():
    for spec in all_examples().values():
        if spec.backends == ANY_BACKEND:
            continue
        if spec.backends != ("tensorflow",):
            assert spec.backends_reason != "uses TensorFlow directly", f"{spec.id} runs on {spec.backends}: say why"


def test_a_run_on_pytorch_skips_the_data_parallel_example_with_its_reason():
    reason = skip_reason(all_examples()["ch13_multi_gpu_mirrored"], Settings(backend="torch"))
    assert reason == ("runs on tensorflow, jax only (Keras trains data-parallel through tf.distribute and "
                      "keras.distribution (JAX); on PyTorch it has no data-parallel engine); this run uses torch")
    assert skip_reason(all_examples()["ch13_multi_gpu_mirrored"], Settings(backend="jax")) is None


def test_a_tensorflow_only_example_still_says_it_uses_tensorflow_directly():
    reason = skip_reason(all_examples()["ch02_gradienttape_basics"], Settings(backend="torch"))
    assert reason == "runs on tensorflow only (uses TensorFlow directly); this run uses torch"


PER_PIXEL_CROSSENTROPY = textwrap.dedent("""
    import keras, numpy as np
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(3, 1, activation="softmax")(inputs))
    model.compile("rmsprop", "sparse_categorical_crossentropy")
    model.fit(np.random.rand(4, 8, 8, 3).astype("float32"), np.random.randint(0, 3, (4, 8, 8, 1)), verbose=0)
""")


@pytest.mark.subprocess
def test_the_pytorch_per_pixel_crossentropy_bug_that_keeps_segmentation_off_pytorch_is_still_there():
    pytest.importorskip("torch", reason="the PyTorch backend is not installed (pip install '.[torch]')")
    done = subprocess.run([sys.executable, "-c", PER_PIXEL_CROSSENTROPY], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "KERAS_BACKEND": "torch"})
    assert done.returncode != 0 and "grad_input must be contiguous" in done.stderr, (
        "per-pixel sparse cross-entropy now trains on PyTorch: let ch09_oxford_pets_segmentation run there "
        f"(drop its backends restriction)\n{done.stderr[-2000:]}")


BATCH_ORDER_PER_EPOCH = textwrap.dedent("""
    import sys, keras, numpy as np
    if sys.argv[1] == "seeded":
        keras.utils.set_random_seed(0)

    class RecordsItsBatches(keras.Model):
        def train_step(self, data):
            return {"first": data[0][0, 0]}

    firsts = []
    class Collect(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            firsts.append(round(float(logs["first"])))

    model = RecordsItsBatches()
    model.compile()
    x = np.arange(64, dtype="float32").reshape(64, 1)
    model.fit(x, np.zeros((64, 1), "float32"), batch_size=4, epochs=3, verbose=0, callbacks=[Collect()])
    print(firsts[:16] == firsts[16:32] == firsts[32:])
""")


@pytest.mark.subprocess
@pytest.mark.parametrize("seeding, same_order_every_epoch", [("seeded", True), ("unseeded", False)])
def test_a_seeded_tensorflow_fit_visits_the_batches_in_one_order_every_epoch(seeding, same_order_every_epoch):
    """ch03_keras_compile_fit_validation's golden notes explain its TensorFlow runs by this: with the global
    seed set, fit() on NumPy arrays draws its shuffle inside tf.data, which restarts from the seed each epoch.
    If this changes, re-record that example's smoke bound and rewrite the notes."""
    done = subprocess.run([sys.executable, "-c", BATCH_ORDER_PER_EPOCH, seeding], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(same_order_every_epoch), (
        f"a {seeding} TensorFlow fit() {'no longer repeats' if same_order_every_epoch else 'now repeats'} its batch "
        "order every epoch: revisit ch03_keras_compile_fit_validation's notes and bound")


JIT_WITH_AND_WITHOUT_AUGMENTATION = textwrap.dedent("""
    import keras
    from reference_impl.ch08_computer_vision_intro import data_augmentation_stage
    def compiled(*stages):
        inputs = keras.Input((32, 32, 3))
        x = inputs
        for stage in stages:
            x = stage(x)
        model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(x)))
        model.compile("rmsprop", "mse")
        return model.jit_compile
    print(compiled(), compiled(data_augmentation_stage()))
""")


@pytest.mark.subprocess
def test_on_jax_keras_trains_the_books_augmented_image_models_eagerly():
    """The README explains JAX's time on chapters 8-9 by this: RandomRotation and RandomZoom say they do not
    support XLA, so a model holding the book's augmentation stage is not jitted on JAX and runs op by op.
    If a release jits them, the image examples' JAX time changes: measure it again and update the README."""
    import jax  # noqa: F401 -- the tests session installs the jax extra: missing, it is a failure

    done = subprocess.run([sys.executable, "-c", JIT_WITH_AND_WITHOUT_AUGMENTATION], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "KERAS_BACKEND": "jax"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "False"], (
        f"on JAX a plain model jits and one with the augmentation stage does not; now: {done.stdout!r}")
