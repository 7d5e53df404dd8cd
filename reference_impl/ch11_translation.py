"""Chapter 11 — Deep learning for text: the translation half (§11.5).

The Python book's listings (DLwP 2e): the English–Spanish pairs vectorized with two
``TextVectorization`` layers and batched as ``({"english", "spanish"}, targets)`` (§11.5.1), the
GRU encoder-decoder (§11.5.2) and the Transformer encoder-decoder (§11.5.3), each trained on the
next Spanish token and then decoding test sentences one token at a time, greedily.

The pairs come with the vocabulary size, sentence length and layer widths to use (``vocab_size``,
``sequence_length``, ``width``): the book's 15,000 tokens, 20 tokens and full widths on its pairs, a
stand-in's own on other data. The models are also built at the book's sizes, whose parameter counts
the summaries print. The target's custom standardization is TensorFlow string ops, which
``TextVectorization`` runs through TensorFlow on every backend (as it does its own); the
translation models are fed the vectorized sentences as arrays, so they train on any backend, while
§11.5.1's ``tf.data`` pipeline is TensorFlow's.

Accuracy. The models' ``accuracy`` is next-token accuracy on the teacher-forced targets. Keras 3
weights it (and the loss) with the mask of the model's output, which is the padding mask of the
Spanish *input* (the decoder's ``Embedding(mask_zero=True)``, carried through the GRU or the
Transformer decoder): the target positions of the sentence's words and ``[end]``, plus the one
padding position after ``[end]`` (the input is the target shifted by one, so it still holds
``[end]`` there). The book's code is followed, so that easy extra position counts too (measured:
``evaluate`` agrees with the arg-max accuracy over those positions, not over all, nor over the
non-padding targets alone). The trivial predictor the models are checked against is scored on the
same positions: the commonest training target token there, predicted everywhere. Decoding
stops at ``[end]`` or after ``sequence_length`` tokens (the book's ``max_decoded_sentence_length``
of 20).

Deviations. The Transformer decoder masks its cross-attention with the source's padding and its
self-attention with the target's (the listing masks the cross-attention with the target's padding
combined with the causal mask, which hides source words that lie after the target position);
``reference_impl/transformer.py`` says why. Training takes the arrays with ``batch_size=64``, so
``fit`` reshuffles the pairs every epoch; the listing's ``make_dataset`` shuffles whole batches
and caches after shuffling, so it replays the first epoch's batch order in every later one.
"""

from __future__ import annotations

import random
import re
import string
from typing import Any

import keras
import numpy as np
from keras import layers

from reference_impl import baselines
from reference_impl.api import LazyModule, Run, example
from reference_impl.datasets.spa_eng import BOOK_SEQUENCE_LENGTH, BOOK_VOCAB_SIZE, SpaEng
from reference_impl.transformer import PositionalEmbedding, TransformerDecoder, TransformerEncoder

tf = LazyModule("tensorflow")  # §11.5.1's custom standardization and tf.data pipeline

batch_size = 64
END_TOKEN = "[end]"  # the token that ends a decoded sentence

# 11.5.1 Vectorizing the English and Spanish text pairs ------------------------------------
strip_chars = string.punctuation + "¿"
strip_chars = strip_chars.replace("[", "")
strip_chars = strip_chars.replace("]", "")


def custom_standardization(input_string):
    lowercase = tf.strings.lower(input_string)
    return tf.strings.regex_replace(lowercase, f"[{re.escape(strip_chars)}]", "")


def text_vectorization(pairs: SpaEng) -> tuple[layers.TextVectorization, layers.TextVectorization]:
    """The source and target layers (listing 11.26), adapted on the training pairs."""
    vocab_size = pairs.vocab_size
    sequence_length = pairs.sequence_length
    source_vectorization = layers.TextVectorization(
        max_tokens=vocab_size,
        output_mode="int",
        output_sequence_length=sequence_length,
    )
    target_vectorization = layers.TextVectorization(
        max_tokens=vocab_size,
        output_mode="int",
        output_sequence_length=sequence_length + 1,
        standardize=custom_standardization,
    )
    train_english_texts = [pair[0] for pair in pairs.train_pairs]
    train_spanish_texts = [pair[1] for pair in pairs.train_pairs]
    source_vectorization.adapt(train_english_texts)
    target_vectorization.adapt(train_spanish_texts)
    return source_vectorization, target_vectorization


def vectorized(pairs: list[tuple[str, str]], source_vectorization: Any,
               target_vectorization: Any) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``format_dataset`` on a whole split at once, as arrays: the Spanish input is the target
    sentence less its last token, the target the sentence one step ahead."""
    eng_texts, spa_texts = zip(*pairs)
    eng = np.asarray(source_vectorization(list(eng_texts)))
    spa = np.asarray(target_vectorization(list(spa_texts)))
    return ({"english": eng, "spanish": spa[:, :-1]}, spa[:, 1:])


def training_data(run: Run, pairs: SpaEng) -> tuple[Any, Any, Any, Any]:
    """The two adapted layers and the vectorized training and validation splits, with the trivial
    predictor's score recorded on the latter."""
    source_vectorization, target_vectorization = text_vectorization(pairs)
    train = vectorized(pairs.train_pairs, source_vectorization, target_vectorization)
    val = vectorized(pairs.val_pairs, source_vectorization, target_vectorization)
    record_baseline(run, train, val)
    return source_vectorization, target_vectorization, train, val


def record_baseline(run: Run, train: Any, val: Any) -> None:
    """The commonest training target token's accuracy on the validation targets, at the positions the
    models' accuracy counts (where the Spanish input is not padding)."""
    (train_inputs, train_targets), (val_inputs, val_targets) = train, val
    run.value("commonest_token_acc", baselines.majority_class_accuracy(train_targets[train_inputs["spanish"] != 0],
                                                                       val_targets[val_inputs["spanish"] != 0]))


# 11.5.2 Sequence-to-sequence learning with RNNs --------------------------------------------
def gru_seq2seq(vocab_size=15000, embed_dim=256, latent_dim=1024):
    """Listings 11.28 (the GRU encoder) and 11.29 (the GRU decoder and the end-to-end model)."""
    source = keras.Input(shape=(None,), dtype="int64", name="english")
    x = layers.Embedding(vocab_size, embed_dim, mask_zero=True)(source)
    encoded_source = layers.Bidirectional(layers.GRU(latent_dim), merge_mode="sum")(x)

    past_target = keras.Input(shape=(None,), dtype="int64", name="spanish")
    x = layers.Embedding(vocab_size, embed_dim, mask_zero=True)(past_target)
    decoder_gru = layers.GRU(latent_dim, return_sequences=True)
    x = decoder_gru(x, initial_state=encoded_source)
    x = layers.Dropout(0.5)(x)
    target_next_step = layers.Dense(vocab_size, activation="softmax")(x)
    seq2seq_rnn = keras.Model([source, past_target], target_next_step)
    return seq2seq_rnn


# 11.5.3 Sequence-to-sequence learning with Transformer ---------------------------------------
def transformer_seq2seq(vocab_size=15000, sequence_length=20, embed_dim=256, dense_dim=2048, num_heads=8):
    """Listing 11.34: the end-to-end Transformer (the decoder layer is ``reference_impl.transformer``'s)."""
    encoder_inputs = keras.Input(shape=(None,), dtype="int64", name="english")
    x = PositionalEmbedding(sequence_length, vocab_size, embed_dim)(encoder_inputs)
    encoder_outputs = TransformerEncoder(embed_dim, dense_dim, num_heads)(x)

    decoder_inputs = keras.Input(shape=(None,), dtype="int64", name="spanish")
    x = PositionalEmbedding(sequence_length, vocab_size, embed_dim)(decoder_inputs)
    x = TransformerDecoder(embed_dim, dense_dim, num_heads)(x, encoder_outputs)
    x = layers.Dropout(0.5)(x)
    decoder_outputs = layers.Dense(vocab_size, activation="softmax")(x)
    transformer = keras.Model([encoder_inputs, decoder_inputs], decoder_outputs)
    return transformer


# Greedy decoding (listings 11.30 and 11.35) ---------------------------------------------------
def decode_sequence(model: keras.Model, input_sentence: str, source_vectorization: Any, target_vectorization: Any,
                    max_decoded_sentence_length: int, drop_last: bool) -> str:
    """The book's loop: feed the sentence decoded so far, take the arg-max of the next token's
    probabilities, stop at ``[end]``. The Transformer's target input drops the vectorized sentence's
    last token (``drop_last``), as it was trained on. ``predict_on_batch`` for the book's ``predict`` (GRU)
    and direct call (Transformer): one compiled step for every token, without setting up a dataset
    for each."""
    spa_vocab = target_vectorization.get_vocabulary()
    spa_index_lookup = dict(zip(range(len(spa_vocab)), spa_vocab))
    tokenized_input_sentence = np.asarray(source_vectorization([input_sentence]))
    decoded_sentence = "[start]"
    for i in range(max_decoded_sentence_length):
        tokenized_target_sentence = np.asarray(target_vectorization([decoded_sentence]))
        if drop_last:
            tokenized_target_sentence = tokenized_target_sentence[:, :-1]
        next_token_predictions = np.asarray(model.predict_on_batch([tokenized_input_sentence,
                                                                    tokenized_target_sentence]))
        sampled_token_index = int(np.argmax(next_token_predictions[0, i, :]))
        sampled_token = spa_index_lookup[sampled_token_index]
        decoded_sentence += " " + sampled_token
        if sampled_token == END_TOKEN:
            break
    return decoded_sentence


def translate_test_sentences(run: Run, model: keras.Model, pairs: SpaEng, source_vectorization: Any,
                             target_vectorization: Any, drop_last: bool) -> None:
    """Decode ``run.steps(20)`` random test sentences (the book decodes 20) and record what the
    decoded sentences look like: ``[start]`` once, at the front; ``[end]`` only last; no more than
    ``sequence_length`` tokens after ``[start]``."""
    test_eng_texts = [pair[0] for pair in pairs.test_pairs]
    translations = []
    for _ in range(run.steps(20)):
        input_sentence = random.choice(test_eng_texts)
        translations.append((input_sentence, decode_sequence(model, input_sentence, source_vectorization,
                                                             target_vectorization, pairs.sequence_length, drop_last)))
    run.value("translations", translations)
    decoded = [sentence.split(" ") for _, sentence in translations]
    run.value("decoded_start_once", all(tokens[0] == "[start]" and tokens.count("[start]") == 1
                                        for tokens in decoded))
    run.value("decoded_stop_at_end_or_limit", all("[end]" not in tokens[1:-1] for tokens in decoded)
              and max(len(tokens) - 1 for tokens in decoded) <= pairs.sequence_length)
    run.value("decoded_ending_at_end", float(np.mean([tokens[-1] == "[end]" for tokens in decoded])))


def learnt_vocab_size(source_vectorization: Any, target_vectorization: Any) -> int:
    """The vocabulary size to train at: the book's 15,000 tokens fill both layers; a stand-in's
    vocabularies may be smaller, and the decoder's softmax must not offer tokens it cannot look up."""
    return max(source_vectorization.vocabulary_size(), target_vectorization.vocabulary_size())


def widths(pairs: SpaEng, *book_widths: int) -> list[int]:
    """The book's layer widths at the pairs' ``width``."""
    return [max(1, round(w * pairs.width)) for w in book_widths]


# -- examples -------------------------------------------------------------------------------
@example("ch11_spa_eng_prep", section="11.5.1", title="Preparing the English-to-Spanish translation data",
         datasets=("spa_eng",), backends=("tensorflow",))
def spa_eng_prep(run: Run) -> None:
    pairs = run.data("spa_eng")
    train_pairs, val_pairs, test_pairs = pairs.train_pairs, pairs.val_pairs, pairs.test_pairs
    run.value("pairs", {"train": len(train_pairs), "val": len(val_pairs), "test": len(test_pairs)})
    run.value("spanish_wrapped", all(spa.startswith("[start] ") and spa.endswith(" [end]")
                                     for _, spa in train_pairs + val_pairs + test_pairs))
    source_vectorization, target_vectorization = text_vectorization(pairs)
    run.value("target_standardized", custom_standardization("¿Dónde está el baño? [start] [end]").numpy().decode())

    def format_dataset(eng, spa):
        eng = source_vectorization(eng)
        spa = target_vectorization(spa)
        return ({
            "english": eng,
            "spanish": spa[:, :-1],
        }, spa[:, 1:])

    def make_dataset(pairs):
        eng_texts, spa_texts = zip(*pairs)
        eng_texts = list(eng_texts)
        spa_texts = list(spa_texts)
        dataset = tf.data.Dataset.from_tensor_slices((eng_texts, spa_texts))
        dataset = dataset.batch(batch_size)
        dataset = dataset.map(format_dataset, num_parallel_calls=4)
        return dataset.shuffle(2048).prefetch(16).cache()

    train_ds = make_dataset(train_pairs)
    val_ds = make_dataset(val_pairs)
    for inputs, targets in train_ds.take(1):
        run.value("inputs_english_shape", tuple(inputs["english"].shape))
        run.value("inputs_spanish_shape", tuple(inputs["spanish"].shape))
        run.value("targets_shape", tuple(targets.shape))
        # The target is the Spanish input one step ahead.
        run.value("targets_are_shifted_inputs", bool(np.array_equal(np.asarray(inputs["spanish"])[:, 1:],
                                                                    np.asarray(targets)[:, :-1])))
    run.value("val_batches", int(val_ds.cardinality()))
    spa_vocab = target_vectorization.get_vocabulary()
    run.value("target_vocabulary_head", spa_vocab[:4])
    run.value("target_vocabulary_has_start_end", "[start]" in spa_vocab and END_TOKEN in spa_vocab)


@example("ch11_seq2seq_gru", section="11.5.2", title="Sequence-to-sequence learning with RNNs: a GRU "
         "encoder-decoder for English-to-Spanish translation", datasets=("spa_eng",))
def seq2seq_gru(run: Run) -> None:
    pairs = run.data("spa_eng")
    run.model("model", gru_seq2seq(vocab_size=BOOK_VOCAB_SIZE))  # the book's size
    source_vectorization, target_vectorization, train, val = training_data(run, pairs)
    embed_dim, latent_dim = widths(pairs, 256, 1024)
    vocab_size = learnt_vocab_size(source_vectorization, target_vectorization)
    seq2seq_rnn = gru_seq2seq(vocab_size=vocab_size, embed_dim=embed_dim, latent_dim=latent_dim)
    seq2seq_rnn.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = seq2seq_rnn.fit(*train, batch_size=batch_size, epochs=run.epochs(15), validation_data=val)
    run.history("seq2seq_rnn", history)
    translate_test_sentences(run, seq2seq_rnn, pairs, source_vectorization, target_vectorization, drop_last=False)


@example("ch11_seq2seq_transformer", section="11.5.3", title="Sequence-to-sequence learning with Transformer: "
         "an end-to-end Transformer for English-to-Spanish translation", datasets=("spa_eng",))
def seq2seq_transformer(run: Run) -> None:
    pairs = run.data("spa_eng")
    run.model("model", transformer_seq2seq(vocab_size=BOOK_VOCAB_SIZE, sequence_length=BOOK_SEQUENCE_LENGTH))
    source_vectorization, target_vectorization, train, val = training_data(run, pairs)
    embed_dim, dense_dim = widths(pairs, 256, 2048)
    vocab_size = learnt_vocab_size(source_vectorization, target_vectorization)
    transformer = transformer_seq2seq(vocab_size=vocab_size, sequence_length=pairs.sequence_length,
                                      embed_dim=embed_dim, dense_dim=dense_dim)
    transformer.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = transformer.fit(*train, batch_size=batch_size, epochs=run.epochs(30), validation_data=val)
    run.history("transformer", history)
    translate_test_sentences(run, transformer, pairs, source_vectorization, target_vectorization, drop_last=True)
