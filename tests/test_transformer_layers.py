"""The shared Transformer layers (reference_impl/transformer.py): the book's parameter counts,
serialization, and the masks the book relies on (padding in the encoder, causality in the decoder)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from reference_impl.ch11_text import transformer_classifier
from reference_impl.ch11_translation import transformer_seq2seq
from reference_impl.transformer import PositionalEmbedding, TransformerDecoder, TransformerEncoder


def seq2seq() -> keras.Model:
    """The book's English-to-Spanish Transformer (§11.5.3) at a small size."""
    return transformer_seq2seq(vocab_size=50, sequence_length=12, embed_dim=16, dense_dim=8, num_heads=2)


def tokens(rng, batch, length, real, vocab=50):
    """Token ids in [1, vocab), zero (padding) from position ``real`` on."""
    x = rng.integers(1, vocab, size=(batch, length)).astype("int32")
    x[:, real:] = 0
    return x


# -- the book's parameter counts -----------------------------------------------------------------
def test_encoder_classifier_has_the_books_parameter_count():
    assert transformer_classifier().count_params() == 5_664_033  # §11.4.3 model.summary()


def test_positional_encoder_classifier_has_the_books_parameter_count():
    assert transformer_classifier(positional=True).count_params() == 5_817_633  # §11.4.3 model.summary()


def test_encoder_weights_break_down_as_the_book_describes():
    encoder = TransformerEncoder(256, 32, 2)
    encoder.build((None, 600, 256))
    attention = 3 * (256 * 2 * 256 + 2 * 256) + (2 * 256 * 256 + 256)
    dense = (256 * 32 + 32) + (32 * 256 + 256)
    assert encoder.count_params() == attention + dense + 2 * 2 * 256


# -- serialization --------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", [TransformerEncoder(16, 8, 2, name="enc"),
                                   PositionalEmbedding(12, 50, 16, name="pos"),
                                   TransformerDecoder(16, 8, 2, name="dec")],
                         ids=lambda layer: type(layer).__name__)
def test_get_config_round_trips(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(revived) is type(layer) and revived.get_config() == config


def test_layers_are_registered_under_the_package():
    for cls in (TransformerEncoder, PositionalEmbedding, TransformerDecoder):
        assert keras.saving.get_registered_object(f"dlbook>{cls.__name__}") is cls


@pytest.mark.parametrize("build", ["classifier", "seq2seq"])
def test_a_saved_model_loads_with_identical_predictions(build, tmp_path):
    rng = np.random.default_rng(0)
    if build == "classifier":
        model = transformer_classifier(positional=True)  # the book's size; the reviews here are 12 tokens long
        inputs = tokens(rng, 3, 12, real=9)
    else:
        model = seq2seq()
        inputs = [tokens(rng, 3, 12, real=9), tokens(rng, 3, 12, real=7)]
    before = model.predict(inputs, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # no custom_objects: the layers are registered
    np.testing.assert_array_equal(loaded.predict(inputs, verbose=0), before)


# -- masks ----------------------------------------------------------------------------------------
def test_positional_embedding_masks_zeros_like_mask_zero():
    layer = PositionalEmbedding(6, 10, 4)
    x = np.array([[3, 1, 4, 0, 0, 0]], dtype="int32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.compute_mask(x)), x != 0)


def test_padding_mask_reaches_the_encoders_attention():
    """With the padding masked, the encoding of the real tokens does not depend on how much padding follows."""
    model = keras.Sequential([keras.Input(shape=(None,), dtype="int32"), PositionalEmbedding(12, 50, 16),
                              TransformerEncoder(16, 8, 2)])
    short = tokens(np.random.default_rng(1), 2, 6, real=4)
    long = np.concatenate([short, np.zeros((2, 6), "int32")], axis=1)
    np.testing.assert_allclose(model(short)[:, :4], model(long)[:, :4], atol=1e-5)


def test_the_encoder_without_its_mask_attends_to_padding():
    """The planted fault for the test above: dropping the mask makes the encoding depend on the padding."""
    encoder = TransformerEncoder(16, 8, 2)
    x = np.random.default_rng(2).normal(size=(2, 8, 16)).astype("float32")
    mask = np.arange(8)[None, :].repeat(2, 0) < 5
    changed = x.copy()
    changed[:, 5:] += 1.0  # only padded positions differ
    masked = [keras.ops.convert_to_numpy(encoder(v, mask=mask))[:, :5] for v in (x, changed)]
    np.testing.assert_allclose(masked[0], masked[1], atol=1e-5)
    unmasked = [keras.ops.convert_to_numpy(encoder(v))[:, :5] for v in (x, changed)]
    assert np.abs(unmasked[0] - unmasked[1]).max() > 1e-3


def test_the_decoder_is_causal():
    """The decoder's output at position t does not depend on the target tokens after t."""
    model = seq2seq()
    rng = np.random.default_rng(3)
    source, target = tokens(rng, 2, 12, real=10), tokens(rng, 2, 12, real=12)
    changed = target.copy()
    changed[:, 7:] = rng.integers(1, 50, size=(2, 5))
    before, after = model.predict([source, target], verbose=0), model.predict([source, changed], verbose=0)
    np.testing.assert_allclose(before[:, :7], after[:, :7], atol=1e-5)
    assert np.abs(before[:, 7:] - after[:, 7:]).max() > 1e-4  # later positions do see them


def test_the_decoders_cross_attention_ignores_source_padding():
    model = seq2seq()
    rng = np.random.default_rng(4)
    source, target = tokens(rng, 2, 6, real=4), tokens(rng, 2, 6, real=6)
    longer_source = np.concatenate([source, np.zeros((2, 5), "int32")], axis=1)
    np.testing.assert_allclose(model.predict([source, target], verbose=0),
                               model.predict([longer_source, target], verbose=0), atol=1e-5)
