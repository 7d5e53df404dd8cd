"""Chapter 12 — Generative deep learning: text generation, a variational autoencoder, a GAN.

§12.1.3's reweighting of a probability distribution by a softmax temperature; §12.1.4–12.1.5's
Transformer language model trained on the IMDB reviews, with the callback that samples text from it
at several temperatures; §12.4's variational autoencoder on MNIST digits (its encoder, sampler and
decoder, and the ``VAE`` subclass whose ``train_step`` tracks the total, reconstruction and KL
losses); and §12.5's deep convolutional GAN trained on faces. DeepDream (§12.2) and neural style
transfer (§12.3) need pretrained weights and live elsewhere.

The VAE's and the GAN's ``train_step`` differentiate with ``tf.GradientTape`` as the listings do
(``tf`` is imported on first use), so the VAE and GAN examples, which train, run on TensorFlow only;
the temperature example (NumPy) runs on every backend. Deviations are in each example's docstring.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import layers

from reference_impl import baselines
from reference_impl.api import LazyModule, Run, example
from reference_impl.transformer import PositionalEmbedding, TransformerDecoder

tf = LazyModule("tensorflow")  # the text pipeline's tf.strings, the VAE's and the GAN's GradientTape


# 12.1.3 The importance of the sampling strategy ------------------------------------------------
def reweight_distribution(original_distribution, temperature=0.5):
    # original_distribution is a 1D NumPy array of probability values that must sum to 1;
    # temperature is a factor quantifying the entropy of the output distribution.
    distribution = np.log(original_distribution) / temperature
    distribution = np.exp(distribution)
    # Returns a reweighted version of the original distribution. The sum of the distribution may no
    # longer be 1, so you divide it by its sum to obtain the new distribution.
    return distribution / np.sum(distribution)


def entropy(distribution):
    """Shannon entropy in nats (zero-probability entries contribute nothing)."""
    p = np.asarray(distribution, dtype="float64")
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


TEMPERATURES = (0.01, 0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0)


@example("ch12_temperature_reweighting", section="12.1.3",
         title="Reweighting a probability distribution with a softmax temperature")
def temperature_reweighting(run: Run) -> None:
    """The listing's function applied to one next-token distribution at the temperatures of the
    book's figure (0.01 to 1.0) and two above 1. The book draws no particular distribution: the
    example draws one over a 20-token vocabulary from a flat Dirichlet with the run's seed, in float64."""
    original_distribution = np.random.dirichlet(np.ones(20)).astype("float64")
    run.value("original_entropy", entropy(original_distribution))
    run.value("original_max", float(np.max(original_distribution)))
    run.value("temperatures", list(TEMPERATURES))
    sums, entropies, max_probabilities, argmax_kept = [], [], [], []
    for temperature in TEMPERATURES:
        reweighted = reweight_distribution(original_distribution, temperature=temperature)
        sums.append(float(np.sum(reweighted)))
        entropies.append(entropy(reweighted))
        max_probabilities.append(float(np.max(reweighted)))
        argmax_kept.append(bool(np.argmax(reweighted) == np.argmax(original_distribution)))
        if temperature == 1.0:
            run.value("t1_max_abs_diff", float(np.max(np.abs(reweighted - original_distribution))))
    run.value("sums", sums)
    run.value("max_sum_error", max(abs(s - 1.0) for s in sums))
    run.value("entropies", entropies)
    run.value("max_probabilities_as_t_falls", max_probabilities[::-1])
    run.value("argmax_kept", all(argmax_kept))
    run.value("lowest_t_max_probability", max_probabilities[0])
    run.value("lowest_t_entropy", entropies[0])
    run.value("highest_t_entropy", entropies[-1])
    run.value("max_entropy", math.log(len(original_distribution)))  # the uniform distribution's


# 12.1.4 Implementing text generation with Keras --------------------------------------------------
# The book's sizes (its sequence_length, vocab_size, embed_dim, latent_dim and num_heads; the VAE
# below has a latent_dim of its own):
LM_SEQUENCE_LENGTH = 100
LM_VOCAB_SIZE = 15000
LM_EMBED_DIM = 256
LM_LATENT_DIM = 2048
LM_NUM_HEADS = 2


def lm_dims(vocabulary_size: int) -> tuple[int, int]:
    """``embed_dim`` and ``latent_dim`` for a vocabulary: the book's 256 and 2048 for its 15,000 words;
    a stand-in's smaller vocabulary divides both by the power of two nearest the ratio of the two
    vocabularies (1,000 words: 16 and 128)."""
    factor = 2 ** round(math.log2(LM_VOCAB_SIZE / vocabulary_size))
    return LM_EMBED_DIM // factor, LM_LATENT_DIM // factor


# A simple Transformer-based language model
def text_generation_model(sequence_length: int = LM_SEQUENCE_LENGTH, vocab_size: int = LM_VOCAB_SIZE,
                          embed_dim: int = LM_EMBED_DIM, latent_dim: int = LM_LATENT_DIM,
                          num_heads: int = LM_NUM_HEADS) -> keras.Model:
    inputs = keras.Input(shape=(None,), dtype="int64")
    x = PositionalEmbedding(sequence_length, vocab_size, embed_dim)(inputs)
    # The decoder attends to its own input: causally in both attentions, as the book's mask made it.
    x = TransformerDecoder(embed_dim, latent_dim, num_heads, causal_cross_attention=True)(x, x)
    # Softmax over possible vocabulary words, computed for each output sequence timestep.
    outputs = layers.Dense(vocab_size, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="rmsprop")
    return model


# 12.1.5 A text-generation callback with variable-temperature sampling ------------------------------
def sample_next(predictions: Any, temperature: float = 1.0) -> int:
    # Reweight the predicted distribution by the temperature (12.1.3), then draw one token from it.
    predictions = reweight_distribution(keras.ops.convert_to_numpy(predictions).astype("float64"), temperature)
    probas = np.random.multinomial(1, predictions, 1)
    return int(np.argmax(probas))


class TextGenerator(keras.callbacks.Callback):
    """The listing's callback. Deviations: the vectorization layer and the index-to-token dict are
    arguments (globals in the listing); each temperature's last sample is kept in ``samples`` as well
    as printed; the temperature is passed to ``sample_next`` (the listing leaves it out, so every
    sample is drawn at temperature 1); the next word is sampled from the prediction after the
    sentence's last token (``prompt_length - 1 + i``; the listing reads position ``i``, which lags
    the sentence by the prompt's length less one, so each word continues an older context);
    ``model_input_length`` (unused in the listing) bounds the prompt plus the generated words."""

    def __init__(self, prompt, generate_length, model_input_length, text_vectorization, tokens_index,
                 temperatures=(1.,), print_freq=1):
        super().__init__()
        self.prompt = prompt
        self.generate_length = generate_length
        self.model_input_length = model_input_length
        self.text_vectorization = text_vectorization
        self.tokens_index = tokens_index
        self.temperatures = temperatures
        self.print_freq = print_freq
        vectorized_prompt = keras.ops.convert_to_numpy(text_vectorization([prompt]))[0]
        self.prompt_length = np.nonzero(vectorized_prompt == 0)[0][0]
        if self.prompt_length + generate_length > model_input_length:
            raise ValueError(f"a {self.prompt_length}-token prompt and {generate_length} generated words do not fit "
                             f"in {model_input_length} tokens")
        self.samples = {}

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.print_freq != 0:
            return
        for temperature in self.temperatures:
            print("== Generating with temperature", temperature)
            sentence = self.prompt
            for i in range(self.generate_length):
                tokenized_sentence = self.text_vectorization([sentence])
                predictions = self.model(tokenized_sentence)
                # The prediction for the token after the sentence's last one (the prompt's length
                # minus one, plus the words generated so far).
                next_token = sample_next(predictions[0, self.prompt_length - 1 + i, :], temperature)
                sampled_token = self.tokens_index[next_token]
                sentence += " " + sampled_token
            print(sentence)
            self.samples[temperature] = sentence


def distinct_ngram_ratio(words: list[str], n: int = 2) -> float:
    """Distinct n-grams over all n-grams of a word sequence: 1 when no n-gram repeats."""
    ngrams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return len(set(ngrams)) / len(ngrams) if ngrams else 0.0


def held_out_cross_entropy(model: keras.Model, dataset: Any) -> tuple[float, np.ndarray]:
    """Mean next-token cross-entropy (nats) of ``model`` over a dataset of ``(x, y)`` token batches, on
    the positions whose input token is not padding (those the loss weighs), and those positions' targets."""
    losses, targets = [], []
    for x, y in dataset.as_numpy_iterator():
        per_token = keras.ops.convert_to_numpy(keras.losses.sparse_categorical_crossentropy(y, model(x)))
        losses.append(per_token[x != 0])
        targets.append(y[x != 0])
    return float(np.mean(np.concatenate(losses))), np.concatenate(targets)


def lm_targets(dataset: Any) -> np.ndarray:
    """The targets of a dataset of ``(x, y)`` token batches, on the positions whose input is not padding."""
    return np.concatenate([y[x != 0] for x, y in dataset.as_numpy_iterator()])


def future_influence(model: keras.Model, sequence: np.ndarray) -> float:
    """The largest change of the model's predictions over the first half of a sequence's tokens when
    every token after them is replaced: 0 for a language model that never sees ahead. (Positions past
    the end of the text are padding, whose outputs nothing reads, so they are left out.)"""
    position = max(1, np.count_nonzero(sequence) // 2)
    changed = sequence.copy()
    changed[position:] = np.where(changed[position:] == 1, 2, 1)
    before = keras.ops.convert_to_numpy(model(sequence[None]))[0, :position]
    after = keras.ops.convert_to_numpy(model(changed[None]))[0, :position]
    return float(np.max(np.abs(before - after)))


PROMPT = "This movie"
GENERATION_TEMPERATURES = (0.2, 0.5, 0.7, 1., 1.5)


@example("ch12_text_generation_transformer_lm", section="12.1.4–12.1.5",
         title="Text generation with a Transformer language model trained on IMDB reviews",
         datasets=("imdb_reviews",))
def text_generation_transformer_lm(run: Run) -> None:
    """Deviations: the book reads every review of ``aclImdb`` (its unlabelled ones too) and trains on
    all of them; here the model trains on the reviews of ``train/`` and is scored on those of
    ``test/`` against the training tokens' unigram frequencies (the best predictor that ignores the
    preceding words). The reviews come with their vocabulary and length: the book's 15,000 words and
    100 tokens on its data (``min`` of those and the stand-in's own), and the model's widths follow
    the vocabulary (``lm_dims``); the book-size model is built too. The callback generates after the
    last epoch only (the book: after every epoch). The ``tf.strings`` call is the book's, inside the
    ``tf.data`` pipeline that feeds the text on every backend."""
    reviews = run.data("imdb_reviews")
    run.model("model", text_generation_model())

    # 12.1.4 Preparing the data
    dataset = keras.utils.text_dataset_from_directory(
        directory=str(reviews.base_dir / "train"), label_mode=None, batch_size=256)
    # Strip the <br /> HTML tag that occurs in many of the reviews.
    dataset = dataset.map(lambda x: tf.strings.regex_replace(x, "<br />", " "))
    held_out = keras.utils.text_dataset_from_directory(
        directory=str(reviews.base_dir / "test"), label_mode=None, batch_size=256, shuffle=False)
    held_out = held_out.map(lambda x: tf.strings.regex_replace(x, "<br />", " "))

    sequence_length = min(LM_SEQUENCE_LENGTH, reviews.max_length)
    text_vectorization = layers.TextVectorization(
        max_tokens=min(LM_VOCAB_SIZE, reviews.max_tokens),
        output_mode="int",
        # Input and target sequences are offset by one, so the model sees sequences one token shorter (99).
        output_sequence_length=sequence_length,
    )
    text_vectorization.adapt(dataset)

    def prepare_lm_dataset(text_batch):
        vectorized_sequences = text_vectorization(text_batch)
        x = vectorized_sequences[:, :-1]  # inputs: all tokens but the last
        y = vectorized_sequences[:, 1:]  # targets: the inputs offset by one step
        return x, y

    lm_dataset = dataset.map(prepare_lm_dataset, num_parallel_calls=4)
    held_out_lm_dataset = held_out.map(prepare_lm_dataset, num_parallel_calls=4)
    run.value("vocabulary_size", text_vectorization.vocabulary_size())
    run.value("sequence_length", sequence_length)

    # 12.1.5 The text-generation callback, and training the model
    tokens_index = dict(enumerate(text_vectorization.get_vocabulary()))
    epochs = run.epochs(200)
    text_gen_callback = TextGenerator(
        PROMPT,
        generate_length=run.steps(50),
        model_input_length=sequence_length,
        text_vectorization=text_vectorization,
        tokens_index=tokens_index,
        temperatures=GENERATION_TEMPERATURES,
        print_freq=epochs,  # generate after the last epoch only
    )
    vocab_size = text_vectorization.vocabulary_size()
    model = text_generation_model(sequence_length, vocab_size, *lm_dims(vocab_size))
    run.model("trained_model", model)
    history = model.fit(lm_dataset, epochs=epochs, callbacks=[text_gen_callback])
    run.history("fit", history)
    run.value("non_finite_losses", non_finite_losses(history.history))

    # The generated texts, one per temperature, and how varied each is
    samples = [text_gen_callback.samples[temperature] for temperature in GENERATION_TEMPERATURES]
    run.value("temperatures", list(GENERATION_TEMPERATURES))
    run.value("generated_texts", samples)
    run.value("generate_length", text_gen_callback.generate_length)
    prompt_words = PROMPT.split(" ")
    run.value("samples_not_starting_with_prompt",
              [t for t, s in zip(GENERATION_TEMPERATURES, samples) if s.split(" ")[:len(prompt_words)] != prompt_words])
    run.value("samples_of_wrong_length",
              [t for t, s in zip(GENERATION_TEMPERATURES, samples)
               if len(s.split(" ")) != len(prompt_words) + text_gen_callback.generate_length])
    generated_words = [s.split(" ")[len(prompt_words):] for s in samples]
    run.value("distinct_unigram_ratios", [distinct_ngram_ratio(words, 1) for words in generated_words])
    run.value("distinct_bigram_ratios", [distinct_ngram_ratio(words, 2) for words in generated_words])

    # The held-out reviews against the training tokens' unigram frequencies; no peeking ahead
    loss, held_out_targets = held_out_cross_entropy(model, held_out_lm_dataset)
    run.value("held_out_cross_entropy", loss)
    run.value("unigram_cross_entropy",
              baselines.class_prior_cross_entropy(lm_targets(lm_dataset), held_out_targets))
    x, _ = next(held_out_lm_dataset.as_numpy_iterator())
    run.value("future_influence", future_influence(model, x[0]))


# 12.4.3 Implementing a VAE with Keras ----------------------------------------------------------
latent_dim = 2  # dimensionality of the latent space: a 2D plane


def vae_encoder():
    encoder_inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    # The input image ends up being encoded into these two parameters.
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    return keras.Model(encoder_inputs, [z_mean, z_log_var], name="encoder")


class Sampler(layers.Layer):
    """Latent-space sampling layer. Deviation: ``keras.random.normal`` with the layer's own seed
    generator stands for ``tf.random.normal`` (Keras 3's random ops are seeded through it)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator()

    def call(self, z_mean, z_log_var):
        batch_size = keras.ops.shape(z_mean)[0]
        z_size = keras.ops.shape(z_mean)[1]
        # Draw a batch of random normal vectors; apply the VAE sampling formula.
        epsilon = keras.random.normal(shape=(batch_size, z_size), seed=self.seed_generator)
        return z_mean + keras.ops.exp(0.5 * z_log_var) * epsilon


def vae_decoder():
    latent_inputs = keras.Input(shape=(latent_dim,))  # where we'll feed z
    # Produce the same number of coefficients that we had at the level of the Flatten layer in the encoder.
    x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
    x = layers.Reshape((7, 7, 64))(x)  # revert the encoder's Flatten layer
    # Revert the Conv2D layers of the encoder.
    x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    # The output ends up with shape (28, 28, 1).
    decoder_outputs = layers.Conv2D(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(latent_inputs, decoder_outputs, name="decoder")


class VAE(keras.Model):
    """The listing's VAE. Deviation: the listing's ``train_step`` calls the global ``decoder``; here
    it calls ``self.decoder`` (the same model in the listing's script)."""

    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.sampler = Sampler()
        # Use these metrics to keep track of the loss averages over each epoch.
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    # List the metrics in the metrics property so the model can reset them after each epoch
    # (or between multiple calls to fit()/evaluate()).
    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var = self.encoder(data)
            z = self.sampler(z_mean, z_log_var)
            reconstruction = self.decoder(z)
            # Sum the reconstruction loss over the spatial dimensions (axes 1 and 2) and take its
            # mean over the batch dimension.
            reconstruction_loss = tf.reduce_mean(
                tf.reduce_sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2)))
            # Add the regularization term (Kullback–Leibler divergence).
            kl_loss = -0.5 * (1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var))
            total_loss = reconstruction_loss + tf.reduce_mean(kl_loss)
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {
            "total_loss": self.total_loss_tracker.result(),
            "reconstruction_loss": self.reconstruction_loss_tracker.result(),
            "kl_loss": self.kl_loss_tracker.result(),
        }


def non_finite_losses(logs):
    """'epoch N: name' for every non-finite value of a per-epoch loss history, in epoch order."""
    return [f"epoch {epoch}: {name}" for epoch in range(1, 1 + max(map(len, logs.values()), default=0))
            for name, values in logs.items() if epoch <= len(values) and not math.isfinite(values[epoch - 1])]


def latent_grid(decoder, n=30, digit_size=28):
    """§12.4.3's figure: a 2D grid of points linearly sampled from the latent space, decoded.
    Deviation: the 900 points are decoded in one batch rather than one ``predict`` call each."""
    figure = np.zeros((digit_size * n, digit_size * n))
    grid_x = np.linspace(-1, 1, n)
    grid_y = np.linspace(-1, 1, n)[::-1]
    z_samples = np.array([[xi, yi] for yi in grid_y for xi in grid_x], dtype="float32")
    x_decoded = keras.ops.convert_to_numpy(decoder(z_samples))
    for index, (i, j) in enumerate((i, j) for i in range(n) for j in range(n)):
        digit = x_decoded[index].reshape(digit_size, digit_size)
        figure[i * digit_size: (i + 1) * digit_size, j * digit_size: (j + 1) * digit_size] = digit
    return figure, x_decoded


def mean_nearest_distance(images, references):
    """Mean over ``images`` of the root-mean-square pixel distance to the nearest of ``references``."""
    a = np.asarray(images, dtype="float64").reshape(len(images), -1)
    b = np.asarray(references, dtype="float64").reshape(len(references), -1)
    squared = (a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2 * a @ b.T
    return float(np.mean(np.sqrt(np.maximum(squared.min(axis=1), 0) / a.shape[1])))


@example("ch12_vae_mnist", section="12.4", title="A variational autoencoder on MNIST digits", datasets=("mnist",),
         backends=("tensorflow",))
def vae_mnist(run: Run) -> None:
    """Deviations: the book trains on all 70,000 digits (training and test images together); here the
    test digits are held out, to score the reconstruction against the best predictor that ignores
    the input (the training digits' mean image, which minimises the summed per-pixel binary
    cross-entropy among constant images). The held-out reconstruction decodes each digit's ``z_mean``.
    Not in the listing: the decoded latent grid is compared with real digits and with noise."""
    encoder = run.model("encoder", vae_encoder())
    decoder = run.model("decoder", vae_decoder())

    # 12.4.3 Training the VAE
    (x_train, _), (x_test, _) = run.data("mnist")
    mnist_digits = np.expand_dims(x_train, -1).astype("float32") / 255
    held_out_digits = np.expand_dims(x_test, -1).astype("float32") / 255

    vae = VAE(encoder, decoder)
    vae.compile(optimizer=keras.optimizers.Adam(), run_eagerly=True)
    # No loss argument in compile(): the loss is already part of the train_step().
    history = vae.fit(mnist_digits, epochs=run.epochs(30), batch_size=128, verbose=0)
    run.history("fit", history)
    logs = history.history
    run.value("non_finite_losses", non_finite_losses(logs))
    run.value("total_minus_parts_max_rel", max(
        (abs(t - (r + k)) / max(abs(t), 1e-12)
         for t, r, k in zip(logs["total_loss"], logs["reconstruction_loss"], logs["kl_loss"])), default=0.0))

    # Held-out reconstruction against the mean image
    z_mean, _ = encoder(held_out_digits)
    reconstructions = keras.ops.convert_to_numpy(decoder(z_mean))
    run.value("held_out_reconstruction_bce", baselines.reconstruction_bce(reconstructions, held_out_digits))
    run.value("mean_image_reconstruction_bce", baselines.mean_image_reconstruction_bce(mnist_digits, held_out_digits))

    # 12.4.3 Sampling a grid of images from the 2D latent space
    figure, decoded = latent_grid(decoder)
    run.value("grid_shape", figure.shape)
    run.value("grid_min", float(figure.min()))
    run.value("grid_max", float(figure.max()))
    noise = np.random.uniform(0, 1, size=(100,) + decoded.shape[1:])
    sample = decoded[np.random.choice(len(decoded), size=100, replace=False)]
    run.value("decoded_to_real_distance", mean_nearest_distance(sample, held_out_digits[:500]))
    run.value("noise_to_real_distance", mean_nearest_distance(noise, held_out_digits[:500]))


# 12.5.4 The discriminator ------------------------------------------------------------------------
def gan_discriminator(image_size=64):
    return keras.Sequential([
        keras.Input(shape=(image_size, image_size, 3)),
        layers.Conv2D(64, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(128, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(128, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Flatten(),
        layers.Dropout(0.2),  # one dropout layer: an important trick!
        layers.Dense(1, activation="sigmoid"),
    ], name="discriminator")


# 12.5.5 The generator ----------------------------------------------------------------------------
gan_latent_dim = 128  # the latent space will be made of 128-dimensional vectors


def gan_generator(image_size=64):
    start = image_size // 8  # three strided transposed convolutions double the size three times
    return keras.Sequential([
        keras.Input(shape=(gan_latent_dim,)),
        layers.Dense(start * start * 128),  # produce the same number of coefficients as the discriminator's Flatten
        layers.Reshape((start, start, 128)),  # revert the Flatten layer of the encoder
        layers.Conv2DTranspose(128, kernel_size=4, strides=2, padding="same"),  # revert the Conv2D layers
        layers.LeakyReLU(negative_slope=0.2),  # use LeakyReLU as the activation
        layers.Conv2DTranspose(256, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(512, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(3, kernel_size=5, padding="same", activation="sigmoid"),  # output: an RGB image
    ], name="generator")


# 12.5.6 The adversarial network ------------------------------------------------------------------
class GAN(keras.Model):
    """The listing's GAN. Deviation: latent vectors are drawn with ``keras.random.normal`` and a seed
    generator (Keras 3's seeded random ops) where the listing calls ``tf.random.normal``."""

    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_loss_metric = keras.metrics.Mean(name="d_loss")
        self.g_loss_metric = keras.metrics.Mean(name="g_loss")
        self.seed_generator = keras.random.SeedGenerator()

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    @property
    def metrics(self):
        return [self.d_loss_metric, self.g_loss_metric]

    def train_step(self, real_images):
        # Sample random points in the latent space and decode them to fake images.
        batch_size = tf.shape(real_images)[0]
        random_latent_vectors = keras.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)
        generated_images = self.generator(random_latent_vectors)
        # Combine them with real images; assemble labels, discriminating real from fake images.
        combined_images = tf.concat([generated_images, real_images], axis=0)
        labels = tf.concat([tf.ones((batch_size, 1)), tf.zeros((batch_size, 1))], axis=0)
        # Add random noise to the labels: an important trick!
        labels += 0.05 * keras.random.uniform(tf.shape(labels), seed=self.seed_generator)

        # Train the discriminator.
        with tf.GradientTape() as tape:
            predictions = self.discriminator(combined_images)
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

        # Sample random points in the latent space; assemble labels that say "these are all real images".
        random_latent_vectors = keras.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)
        misleading_labels = tf.zeros((batch_size, 1))

        # Train the generator.
        with tf.GradientTape() as tape:
            predictions = self.discriminator(self.generator(random_latent_vectors))
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))

        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {"d_loss": self.d_loss_metric.result(), "g_loss": self.g_loss_metric.result()}


class GANMonitor(keras.callbacks.Callback):
    """§12.5.6's callback that samples generated images at the end of every epoch. Deviations: instead
    of saving them as PNG files, it keeps each epoch's images' shape, range and spread across the
    latent vectors (the per-pixel standard deviation over the samples, averaged over the pixels); the
    latent vectors are drawn with ``keras.random.normal`` and a seed generator, as in ``GAN``."""

    def __init__(self, num_img=3, latent_dim=128):
        super().__init__()
        self.num_img = num_img
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator()
        self.shapes, self.minima, self.maxima, self.spreads = [], [], [], []

    def on_epoch_end(self, epoch, logs=None):
        random_latent_vectors = keras.random.normal(shape=(self.num_img, self.latent_dim), seed=self.seed_generator)
        generated_images = keras.ops.convert_to_numpy(self.model.generator(random_latent_vectors))
        self.shapes.append(list(generated_images.shape))
        self.minima.append(float(generated_images.min()))
        self.maxima.append(float(generated_images.max()))
        self.spreads.append(float(generated_images.std(axis=0).mean()))


def discriminator_scores(gan, real_images, latent_dim):
    """The discriminator's mean output on a batch of real images and on as many generated ones
    (the listing's labels: 0 real, 1 fake), in inference mode."""
    fake_images = gan.generator(keras.random.normal(shape=(len(real_images), latent_dim)))
    real_score = keras.ops.convert_to_numpy(gan.discriminator(real_images)).mean()
    fake_score = keras.ops.convert_to_numpy(gan.discriminator(fake_images)).mean()
    return float(real_score), float(fake_score)


@example("ch12_gan", section="12.5", title="A deep convolutional GAN on faces", datasets=("celeba",),
         backends=("tensorflow",))
def gan(run: Run) -> None:
    """The book's networks are built at its 64×64 size for their architecture, and trained as §12.5.6
    trains them at the size the data comes with (``image_size``: a stand-in's faces are smaller, and
    the networks' three strided layers need a side divisible by 8). Deviations: ``GANMonitor`` keeps
    statistics of the generated images rather than writing PNG files (see its docstring); after
    training, the discriminator scores one batch of real images against as many generated ones, and
    the per-epoch losses are listed where they are not finite. Runs on TensorFlow only: the listing's
    ``train_step`` differentiates with ``tf.GradientTape``. Not in the listing either: both optimizers
    are built before ``fit()`` (about 1.4 s less tracing on a CPU, the same training)."""
    book_discriminator = run.model("discriminator", gan_discriminator())
    book_generator = run.model("generator", gan_generator())
    run.value("discriminator_output_shape", tuple(book_discriminator.outputs[0].shape))
    run.value("generator_output_shape", tuple(book_generator.outputs[0].shape))
    run.value("generator_output_activation", book_generator.layers[-1].get_config()["activation"])
    run.value("discriminator_output_activation", book_discriminator.layers[-1].get_config()["activation"])
    run.value("discriminator_dropout_rate", [layer.rate for layer in book_discriminator.layers
                                            if isinstance(layer, layers.Dropout)])

    # 12.5.3 Getting our hands on the CelebA dataset
    folder, image_size = run.data("celeba")
    dataset = keras.utils.image_dataset_from_directory(
        folder, label_mode=None, image_size=image_size, batch_size=32, crop_to_aspect_ratio=True)
    dataset = dataset.map(lambda x: x / 255.)  # rescale the images to the [0-1] range

    # 12.5.6 The adversarial network
    discriminator = gan_discriminator(image_size[0])
    generator = gan_generator(image_size[0])
    gan = GAN(discriminator=discriminator, generator=generator, latent_dim=gan_latent_dim)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate=0.0001),
        g_optimizer=keras.optimizers.Adam(learning_rate=0.0001),
        loss_fn=keras.losses.BinaryCrossentropy(),
    )
    # Not in the listing: build both optimizers before fit(), as Keras builds a model's own optimizer,
    # so that TensorFlow traces the train step once rather than again after it created their variables.
    gan.d_optimizer.build(discriminator.trainable_weights)
    gan.g_optimizer.build(generator.trainable_weights)
    run.value("metric_names", [metric.name for metric in gan.metrics])
    run.value("d_learning_rate", float(gan.d_optimizer.learning_rate))
    run.value("g_learning_rate", float(gan.g_optimizer.learning_rate))

    monitor = GANMonitor(num_img=10, latent_dim=gan_latent_dim)
    history = gan.fit(dataset, epochs=run.epochs(100), callbacks=[monitor], verbose=0)
    run.history("fit", history)
    run.value("non_finite_losses", non_finite_losses(history.history))

    # The generated images, epoch by epoch, and the discriminator at the end
    run.value("generated_shape", monitor.shapes[-1])
    run.value("generated_shapes_agree", all(shape == monitor.shapes[-1] for shape in monitor.shapes))
    run.value("generated_min", min(monitor.minima))
    run.value("generated_max", max(monitor.maxima))
    run.value("generated_spread", min(monitor.spreads))
    real_score, fake_score = discriminator_scores(gan, next(iter(dataset)), gan_latent_dim)
    run.value("discriminator_real_score", real_score)
    run.value("discriminator_fake_score", fake_score)
