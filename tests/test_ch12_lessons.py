"""Each of chapter 12's lesson checks fails when the lesson is broken.

A fault is planted in the chapter's own functions, in Keras or in the data, the example runs
in-process as ``python -m conformance run`` runs it (smoke tier), and the named check must be among
the failures. The temperature example is NumPy and runs in well under a second; the VAE's and the
GAN's runs train (TensorFlow only, a few seconds each) and are marked slow.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import keras
import numpy as np
import pytest

from helpers import Fault, RunResult, failed_checks, faulty_run, run_example_in_process
from reference_impl import ch12_generative as ch12
from reference_impl.datasets import Loaded, celeba, mnist

SEED = 0


def tensorflow_only() -> None:
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the example's train_step uses tf.GradientTape")


# -- 12.1.3 reweighting a distribution by temperature -----------------------------------------------
def test_the_temperature_example_passes_unbroken():
    result = run_example_in_process("ch12_temperature_reweighting", "smoke", seed=SEED)
    assert result["status"] == "passed", [c for c in result["checks"] if c["status"] != "passed"]


def multiplied_by_temperature(original_distribution, temperature=0.5):
    """The classic slip: log(p) * T instead of log(p) / T, which sharpens as T rises."""
    distribution = np.exp(np.log(original_distribution) * temperature)
    return distribution / np.sum(distribution)


def test_multiplying_by_the_temperature_breaks_the_entropy_lessons():
    failed = failed_checks(faulty_run("ch12_temperature_reweighting",
                                      lambda patch: patch.setattr(ch12, "reweight_distribution", multiplied_by_temperature)))
    for name in ("entropy rises with temperature", "the top probability rises as temperature falls",
                 "low temperature concentrates on the argmax", "low temperature leaves little entropy",
                 "lower temperature, lower entropy than the original",
                 "higher temperature, higher entropy than the original"):
        assert name in failed, sorted(failed)


def not_normalised(original_distribution, temperature=0.5):
    return np.exp(np.log(original_distribution) / temperature)


def test_a_reweighting_without_the_division_by_its_sum_fails_the_sum_check():
    failed = failed_checks(faulty_run("ch12_temperature_reweighting",
                                      lambda patch: patch.setattr(ch12, "reweight_distribution", not_normalised)))
    assert "reweighted distributions sum to 1" in failed, sorted(failed)


def smoothed(original_distribution, temperature=0.5):
    """Add-one style smoothing slipped into the log: no longer the identity at T = 1."""
    distribution = np.exp(np.log1p(original_distribution) / temperature)
    return distribution / np.sum(distribution)


def test_a_reweighting_that_is_not_the_identity_at_temperature_1_fails():
    failed = failed_checks(faulty_run("ch12_temperature_reweighting",
                                      lambda patch: patch.setattr(ch12, "reweight_distribution", smoothed)))
    assert "temperature 1 returns the original distribution" in failed, sorted(failed)


def negated(original_distribution, temperature=0.5):
    distribution = np.exp(-np.log(original_distribution) / temperature)
    return distribution / np.sum(distribution)


def test_a_reweighting_that_reorders_the_tokens_fails_the_argmax_check():
    failed = failed_checks(faulty_run("ch12_temperature_reweighting",
                                      lambda patch: patch.setattr(ch12, "reweight_distribution", negated)))
    assert "reweighting keeps the most probable token" in failed, sorted(failed)


def test_no_temperature_exceeds_the_uniform_entropy_on_a_crafted_outcome():
    from helpers import golden_expectation, judge

    check = golden_expectation("ch12_temperature_reweighting", "smoke",
                               name="no temperature exceeds the uniform distribution's entropy")
    assert judge(check, {"values": {"highest_t_entropy": 3.2, "max_entropy": np.log(20)}}) == "failed"
    assert judge(check, {"values": {"highest_t_entropy": 2.9, "max_entropy": np.log(20)}}) == "passed"


# -- 12.4 the variational autoencoder ---------------------------------------------------------------
@pytest.mark.slow
def test_the_vae_passes_unbroken():
    tensorflow_only()
    result = run_example_in_process("ch12_vae_mnist", "smoke", seed=SEED)
    assert result["status"] == "passed", [c for c in result["checks"] if c["status"] != "passed"]


def adam_frozen(patch: pytest.MonkeyPatch) -> None:
    original = keras.optimizers.Adam.__init__

    @functools.wraps(original)
    def frozen(self, learning_rate=0.001, *args, **kwargs):
        original(self, 0.0, *args, **kwargs)

    patch.setattr(keras.optimizers.Adam, "__init__", frozen)


@pytest.mark.slow
def test_a_vae_that_does_not_learn_fails_the_falling_loss():
    tensorflow_only()
    failed = failed_checks(faulty_run("ch12_vae_mnist", adam_frozen))
    assert "reconstruction loss falls" in failed, sorted(failed)


def nan_pixel(patch: pytest.MonkeyPatch) -> None:
    original = mnist.twin

    def poisoned(seed: int = 0, samples: float = 1.0) -> Loaded:
        loaded = original(seed=seed, samples=samples)
        (train_images, train_labels), test = loaded.value
        train_images = train_images.astype("float32")
        train_images[0, 14, 14] = np.nan
        loaded.value = (train_images, train_labels), test
        return loaded

    patch.setattr(mnist, "twin", poisoned)


@pytest.mark.slow
def test_a_nan_in_the_losses_fails_naming_the_epoch_and_the_loss():
    tensorflow_only()
    failed = failed_checks(faulty_run("ch12_vae_mnist", nan_pixel))
    name = "no loss is NaN or infinite in any epoch"
    assert name in failed, sorted(failed)
    assert "epoch 1: reconstruction_loss" in str(failed[name]["actual"]), failed[name]


def train_step_without_kl(self, data):
    """The listing's step with the KL term left out of the total, as a slip would leave it."""
    tf = ch12.tf
    with tf.GradientTape() as tape:
        z_mean, z_log_var = self.encoder(data)
        z = self.sampler(z_mean, z_log_var)
        reconstruction = self.decoder(z)
        reconstruction_loss = tf.reduce_mean(
            tf.reduce_sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2)))
        kl_loss = -0.5 * (1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var))
        total_loss = reconstruction_loss
    grads = tape.gradient(total_loss, self.trainable_weights)
    self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
    self.total_loss_tracker.update_state(total_loss)
    self.reconstruction_loss_tracker.update_state(reconstruction_loss)
    self.kl_loss_tracker.update_state(kl_loss)
    return {m.name: m.result() for m in self.metrics}


@pytest.mark.slow
def test_a_total_without_the_kl_term_fails_the_sum_check():
    tensorflow_only()
    failed = failed_checks(faulty_run("ch12_vae_mnist",
                                      lambda patch: patch.setattr(ch12.VAE, "train_step", train_step_without_kl)))
    assert "total loss is reconstruction plus KL" in failed, sorted(failed)


@pytest.mark.slow
def test_a_smaller_latent_grid_fails_the_grid_shape():
    tensorflow_only()
    failed = failed_checks(faulty_run("ch12_vae_mnist", lambda patch: patch.setattr(
        ch12, "latent_grid", functools.partial(ch12.latent_grid, n=20))))
    assert "the latent grid is 30×30 digits of 28×28" in failed, sorted(failed)


def conv_with_filters_changed(filters_of_layer: int, **changes: Any) -> Fault:
    """A fault: every Conv2D with ``filters_of_layer`` filters (a network's last layer: the VAE
    decoder's one-filter, the GAN generator's three-filter) is built with ``changes``."""
    original = keras.layers.Conv2D.__init__

    def changed(self, filters, kernel_size, **kwargs):  # no *args: Keras reads the signature
        if filters == filters_of_layer:
            kwargs.update(changes)
        original(self, filters, kernel_size, **kwargs)

    return lambda patch: patch.setattr(keras.layers.Conv2D, "__init__", changed)


def unsquashed_decoder() -> Fault:
    """A decoder whose last layer lost its sigmoid and starts from large weights: its pixels are
    unbounded (measured, seed 0: from -11.5 up), as a decoder trained without the squashing would paint."""
    return conv_with_filters_changed(1, activation=None,
                                     kernel_initializer=keras.initializers.RandomNormal(stddev=30.0))


@pytest.fixture(scope="module")
def unsquashed() -> RunResult:
    tensorflow_only()
    return faulty_run("ch12_vae_mnist", unsquashed_decoder())


@pytest.mark.slow
def test_a_decoder_without_its_sigmoid_fails_the_pixel_range(unsquashed):
    failed = failed_checks(unsquashed)
    assert {"decoded pixels are at least 0", "decoded pixels are at most 1"} & set(failed), sorted(failed)


@pytest.mark.slow
def test_a_decoder_that_paints_no_digits_is_not_closer_to_digits_than_noise(unsquashed):
    failed = failed_checks(unsquashed)
    assert "decoded digits lie closer to real digits than noise does" in failed, sorted(failed)


# -- the VAE's trivial predictor ---------------------------------------------------------------------
def test_the_mean_image_is_the_best_constant_reconstruction():
    from reference_impl import baselines

    rng = np.random.default_rng(0)
    train = (rng.random((200, 28, 28, 1)) < 0.2).astype("float32") * rng.random((200, 28, 28, 1))
    test = (rng.random((50, 28, 28, 1)) < 0.2).astype("float32") * rng.random((50, 28, 28, 1))
    best = baselines.mean_image_reconstruction_bce(train, test)
    mean = train.mean(axis=0)
    for other in (np.full_like(mean, 0.5), np.clip(mean * 1.3, 0, 1), np.clip(mean * 0.7, 0, 1)):
        assert best < baselines.reconstruction_bce(np.broadcast_to(other, test.shape), test)
    # a perfect reconstruction of binary images costs (almost) nothing
    binary = (test > 0.5).astype("float32")
    assert baselines.reconstruction_bce(binary, binary) < 1e-3


# -- 12.5 the GAN ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_gan_passes_unbroken():
    tensorflow_only()
    result = run_example_in_process("ch12_gan", "smoke", seed=SEED)
    assert result["status"] == "passed", [c for c in result["checks"] if c["status"] != "passed"]


def gan_compiled_with(change: Callable[[Any, Any, Any], tuple[Any, Any, Any]]) -> Fault:
    """A fault: ``GAN.compile`` gets ``change(d_optimizer, g_optimizer, loss_fn)`` instead."""
    original = ch12.GAN.compile

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        original(self, *change(d_optimizer, g_optimizer, loss_fn))

    return lambda patch: patch.setattr(ch12.GAN, "compile", compile)


def nan_loss(d_optimizer, g_optimizer, loss_fn):
    return d_optimizer, g_optimizer, lambda y_true, y_pred: loss_fn(y_true, y_pred) * float("nan")


@pytest.mark.slow
def test_a_nan_in_the_gan_losses_fails_naming_the_epoch_and_the_loss():
    tensorflow_only()
    failed = failed_checks(faulty_run("ch12_gan", gan_compiled_with(nan_loss)))
    name = "no loss is NaN or infinite in any epoch"
    assert name in failed, sorted(failed)
    assert "epoch 1: d_loss" in str(failed[name]["actual"]), failed[name]


def exploding_discriminator(d_optimizer, g_optimizer, loss_fn):
    """A discriminator learning rate of 10 (the book's is 1e-4) throws its loss out of bounds."""
    return keras.optimizers.Adam(learning_rate=10.0), g_optimizer, loss_fn


@pytest.mark.slow
def test_a_gan_whose_losses_explode_fails_the_loss_bounds():
    tensorflow_only()
    failed = failed_checks(faulty_run("ch12_gan", gan_compiled_with(exploding_discriminator)))
    bounds = {"the discriminator's loss stays below 2", "the generator's loss stays below 10",
              "the discriminator's loss does not collapse to 0", "the generator's loss does not collapse to 0"}
    assert bounds & set(failed), sorted(failed)


@pytest.mark.parametrize("name,observed", [
    ("the discriminator's loss stays below 2", {"d_loss": [0.7, 2.5]}),
    ("the generator's loss stays below 10", {"g_loss": [0.7, 12.0]}),
    ("the discriminator's loss does not collapse to 0", {"d_loss": [0.7, 0.01]}),
    ("the generator's loss does not collapse to 0", {"g_loss": [0.7, 0.001]}),
])
def test_the_loss_bounds_fail_on_a_crafted_history(name, observed):
    from helpers import golden_expectation, judge

    check = golden_expectation("ch12_gan", "smoke", name=name)
    healthy = {"d_loss": [0.69, 0.68], "g_loss": [0.72, 0.9]}
    assert judge(check, {"history": {"fit": healthy}}) == "passed"
    assert judge(check, {"history": {"fit": {**healthy, **observed}}}) == "failed"


@pytest.mark.slow
def test_a_generator_without_its_sigmoid_fails_the_pixel_range():
    """Without the sigmoid and from large weights, the generated pixels leave [0, 1]."""
    tensorflow_only()
    failed = failed_checks(faulty_run("ch12_gan", conv_with_filters_changed(
        3, activation=None, kernel_initializer=keras.initializers.RandomNormal(stddev=30.0))))
    assert {"generated pixels are at least 0", "generated pixels are at most 1"} <= set(failed), sorted(failed)


def latent_ignored() -> Fault:
    """A fault: the generator's first Dense layer starts from a zero kernel, so what it paints does not
    depend on the latent vector until training moves it (one step moves it by about the learning rate)."""
    original = keras.layers.Dense.__init__

    def zeroed(self, units, **kwargs):
        if units != 1:  # the generator's Dense(start * start * 128), not the discriminator's Dense(1)
            kwargs["kernel_initializer"] = "zeros"
        original(self, units, **kwargs)

    return lambda patch: patch.setattr(keras.layers.Dense, "__init__", zeroed)


@pytest.mark.slow
def test_a_generator_that_ignores_its_latent_vector_fails_the_spread():
    tensorflow_only()
    failed = failed_checks(faulty_run("ch12_gan", latent_ignored()))
    assert "generated images vary with the latent vector" in failed, sorted(failed)


@pytest.mark.parametrize("tier,side", [("smoke", 8), ("offline", 16), ("book", 64)])
def test_generated_images_of_another_size_fail_the_shape_check(tier, side):
    from helpers import golden_expectation, judge

    check = golden_expectation("ch12_gan", tier, name="the generated images are 10 RGB images at the trained size")
    assert judge(check, {"values": {"generated_shape": [10, side, side, 3]}}) == "passed"
    assert judge(check, {"values": {"generated_shape": [10, side * 2, side * 2, 3]}}) == "failed"
    assert judge(check, {"values": {"generated_shape": [3, side, side, 3]}}) == "failed"


# -- the GAN's training step, each optimizer on its own network -------------------------------------
def gan_fit(steps: int, image_size: int = 8, fault: Fault | None = None):
    """Train the listing's GAN for ``steps`` batches of 32 drawn faces at ``image_size``; return the
    history and the weights of both networks before and after."""
    keras.utils.set_random_seed(SEED)
    dataset = celeba.draw_faces(32 * steps, image_size, np.random.RandomState(SEED)).astype("float32") / 255
    with pytest.MonkeyPatch.context() as patch:
        if fault:
            fault(patch)
        discriminator, generator = ch12.gan_discriminator(image_size), ch12.gan_generator(image_size)
        gan = ch12.GAN(discriminator=discriminator, generator=generator, latent_dim=ch12.gan_latent_dim)
        gan.compile(d_optimizer=keras.optimizers.Adam(learning_rate=0.0001),
                    g_optimizer=keras.optimizers.Adam(learning_rate=0.0001),
                    loss_fn=keras.losses.BinaryCrossentropy())
        before = {name: [w.numpy().copy() for w in model.weights] for name, model in
                  (("discriminator", discriminator), ("generator", generator))}
        history = gan.fit(dataset, epochs=2, batch_size=32, verbose=0)
        after = {name: [w.numpy() for w in model.weights] for name, model in
                 (("discriminator", discriminator), ("generator", generator))}
    return history.history, before, after


def test_the_drawn_faces_are_rgb_images():
    faces = celeba.draw_faces(5, 8, np.random.RandomState(SEED))
    assert faces.shape == (5, 8, 8, 3) and faces.dtype == np.uint8 and faces.std() > 10


def gan_problems(logs, before, after) -> list[str]:
    """What is wrong with a short GAN run: non-finite losses, losses out of (0.05, 5) (ln 2 ≈ 0.69 at the
    start; near zero one network has collapsed), a network whose weights did not move."""
    problems = list(ch12.non_finite_losses(logs))
    for name in ("d_loss", "g_loss"):
        problems += [f"{name} {value:.3g} out of (0.05, 5)" for value in logs[name] if not 0.05 < value < 5.0]
    for name in ("discriminator", "generator"):
        if all(np.array_equal(a, b) for a, b in zip(before[name], after[name])):
            problems.append(f"{name} did not train")
    return problems


@pytest.mark.slow
def test_a_few_gan_steps_give_finite_bounded_losses_that_do_not_collapse():
    tensorflow_only()
    assert gan_problems(*gan_fit(steps=2)) == []


@pytest.mark.slow
def test_a_gan_whose_generator_optimizer_never_moves_it_is_caught():
    """The planted fault for the test above: a g_optimizer with learning rate 0."""
    tensorflow_only()
    frozen = gan_compiled_with(lambda d, g, loss: (d, keras.optimizers.Adam(learning_rate=0.0), loss))
    problems = gan_problems(*gan_fit(steps=2, fault=frozen))
    assert problems == ["generator did not train"], problems


def frozen_discriminator(d_optimizer, g_optimizer, loss_fn):
    return keras.optimizers.Adam(learning_rate=0.0), g_optimizer, loss_fn


@pytest.mark.nightly
@pytest.mark.slow
def test_a_discriminator_that_does_not_learn_fails_the_offline_lessons():
    """The offline tier (the LFW faces, five epochs: about a minute) with a discriminator learning rate of 0."""
    tensorflow_only()
    pytest.importorskip("skimage", reason="the offline faces need scikit-image (pip install '.[celeba-offline]')")
    failed = failed_checks(faulty_run("ch12_gan", gan_compiled_with(frozen_discriminator), tier="offline"))
    assert {"the discriminator's loss falls as it learns to tell real from fake",
            "the discriminator scores generated faces above real ones"} <= set(failed), sorted(failed)
