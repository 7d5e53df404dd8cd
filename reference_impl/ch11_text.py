"""Chapter 11 — Deep learning for text: the IMDB half (§11.2–11.4).

The Python book's listings (DLwP 2e): text standardization, tokenization and vocabulary indexing by
hand and with ``TextVectorization`` (§11.2), the raw IMDB reviews read with
``text_dataset_from_directory`` (§11.3.1), bag-of-words models — single words, word pairs, TF-IDF —
and the model that takes raw strings (§11.3.2), sequence models — a bidirectional LSTM on one-hot
vectors, on learnt embeddings, with masking (§11.3.3) — and the Transformer encoder without and
with positional embeddings (§11.4.3).

The reviews come with the vocabulary size and sequence length to use (``max_tokens``,
``max_length``): the book's 20,000 and 600 on its reviews, a stand-in's own on other data. The
models are also built at the book's sizes, whose parameter counts the book prints. Every trained
model is scored on the test reviews after reloading its best epoch (the book's
``ModelCheckpoint(save_best_only=True)``; checkpoints go to a temporary folder), beside the
commonest training class's accuracy on the same reviews. Where the chapter compares two models
(word pairs against single words, masking against none), the example trains both.
"""

from __future__ import annotations

import os
import re
import string
import tempfile
from typing import Any

import keras
import numpy as np
from keras import layers

from reference_impl import baselines
from reference_impl.api import LazyModule, Run, benchmark, example
from reference_impl.datasets.imdb_reviews import BOOK_MAX_LENGTH, BOOK_MAX_TOKENS, CLASSES
from reference_impl.transformer import PositionalEmbedding, TransformerEncoder

tf = LazyModule("tensorflow")  # §11.2.4's custom standardization and the raw-string inference model

BATCH_SIZE = 32


# 11.2.3 Vocabulary indexing, by hand -----------------------------------------------------
class Vectorizer:
    def standardize(self, text):
        text = text.lower()
        return "".join(char for char in text if char not in string.punctuation)

    def tokenize(self, text):
        text = self.standardize(text)
        return text.split()

    def make_vocabulary(self, dataset):
        self.vocabulary = {"": 0, "[UNK]": 1}
        for text in dataset:
            text = self.standardize(text)
            tokens = self.tokenize(text)
            for token in tokens:
                if token not in self.vocabulary:
                    self.vocabulary[token] = len(self.vocabulary)
        self.inverse_vocabulary = dict((v, k) for k, v in self.vocabulary.items())

    def encode(self, text):
        text = self.standardize(text)
        tokens = self.tokenize(text)
        return [self.vocabulary.get(token, 1) for token in tokens]

    def decode(self, int_sequence):
        return " ".join(self.inverse_vocabulary.get(i, "[UNK]") for i in int_sequence)


DATASET = ["I write, erase, rewrite", "Erase again, and then", "A poppy blooms."]
TEST_SENTENCE = "I write, rewrite, and still rewrite again"


# 11.3.1 Preparing the IMDB movie reviews data --------------------------------------------
def imdb_datasets(run: Run) -> tuple[Any, Any, Any, Any]:
    """The reviews, and ``train_ds``, ``val_ds``, ``test_ds`` as the book reads them."""
    reviews = run.data("imdb_reviews")
    base_dir = reviews.base_dir
    train_ds = keras.utils.text_dataset_from_directory(str(base_dir / "train"), batch_size=BATCH_SIZE)
    val_ds = keras.utils.text_dataset_from_directory(str(base_dir / "val"), batch_size=BATCH_SIZE)
    test_ds = keras.utils.text_dataset_from_directory(str(base_dir / "test"), batch_size=BATCH_SIZE)
    return reviews, train_ds, val_ds, test_ds


def file_labels(folder: Any) -> np.ndarray:
    """The labels of a ``neg``/``pos`` folder's files (0 neg, 1 pos), from the file counts."""
    sizes = [len([f for f in os.listdir(folder / c) if f.endswith(".txt")]) for c in CLASSES]
    return np.repeat(np.arange(len(CLASSES)), sizes)


def record_baseline(run: Run, reviews: Any) -> None:
    """The commonest training class's accuracy on the test reviews every model is scored on."""
    run.value("majority_class_acc", baselines.majority_class_accuracy(file_labels(reviews.base_dir / "train"),
                                                                      file_labels(reviews.base_dir / "test")))


def fit_and_evaluate(run: Run, name: str, model: keras.Model, train: Any, val: Any, test: Any, epochs: int,
                     cache: bool = False) -> keras.Model:
    """The book's recipe: fit with ``ModelCheckpoint(save_best_only=True)``, reload the best
    epoch's model, evaluate it on the test split. Records the history ``<name>`` and
    ``<name>_test_acc``. With no epoch to train (a tier that only builds the model: ``Scale.epochs``
    0) it returns the compiled model and records nothing."""
    if epochs == 0:
        return model
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"{name}.keras")
        callbacks = [keras.callbacks.ModelCheckpoint(path, save_best_only=True)]
        history = model.fit(train.cache() if cache else train, validation_data=val.cache() if cache else val,
                            epochs=epochs, callbacks=callbacks)
        model = keras.models.load_model(path)
        test_acc = model.evaluate(test)[1]
    run.history(name, history)
    run.value(f"{name}_test_acc", test_acc)
    return model


def record_gain(run: Run, name: str, model: str, other: str) -> None:
    """Record ``name``: the test accuracy of ``model`` minus that of ``other``, where both trained."""
    accuracies = run.outcome.values
    if f"{model}_test_acc" in accuracies and f"{other}_test_acc" in accuracies:
        run.value(name, accuracies[f"{model}_test_acc"] - accuracies[f"{other}_test_acc"])


# 11.3.2 Processing words as a set: the bag-of-words approach -----------------------------
def get_model(max_tokens=20000, hidden_dim=16):
    inputs = keras.Input(shape=(max_tokens,))
    x = layers.Dense(hidden_dim, activation="relu")(inputs)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def bag_of_words(run: Run, name: str, reviews: Any, train_ds: Any, val_ds: Any, test_ds: Any,
                 **vectorization: Any) -> tuple[keras.Model, Any]:
    """Adapt a ``TextVectorization(max_tokens=..., **vectorization)`` on the training text, vectorize the
    three datasets, train ``get_model`` on them: returns the best model and the vectorization layer."""
    text_vectorization = layers.TextVectorization(max_tokens=reviews.max_tokens, **vectorization)
    text_only_train_ds = train_ds.map(lambda x, y: x)
    text_vectorization.adapt(text_only_train_ds)
    vectorized = [ds.map(lambda x, y: (text_vectorization(x), y), num_parallel_calls=4)
                  for ds in (train_ds, val_ds, test_ds)]
    # The book's get_model() has 20000 inputs, the size of the vocabulary it learns from IMDB; a
    # stand-in's vocabulary may be smaller, and the multi-hot vectors have one column per word learnt.
    model = get_model(max_tokens=text_vectorization.vocabulary_size())
    run.value(f"{name}_vocabulary_size", text_vectorization.vocabulary_size())
    model = fit_and_evaluate(run, name, model, *vectorized, epochs=run.epochs(10), cache=True)
    return model, text_vectorization


# 11.3.3 Processing words as a sequence: the sequence model approach ----------------------
def int_vectorization(reviews: Any, train_ds: Any) -> layers.TextVectorization:
    """Listing 11.12's layer: the reviews as sequences of ``max_length`` word indices."""
    max_length, max_tokens = reviews.max_length, reviews.max_tokens
    text_vectorization = layers.TextVectorization(max_tokens=max_tokens, output_mode="int",
                                                  output_sequence_length=max_length)
    text_only_train_ds = train_ds.map(lambda x, y: x)
    text_vectorization.adapt(text_only_train_ds)
    return text_vectorization


def int_datasets(reviews: Any, train_ds: Any, val_ds: Any, test_ds: Any,
                 text_vectorization: layers.TextVectorization | None = None) -> list[Any]:
    """The three datasets vectorized by listing 11.12's layer (adapted here unless given)."""
    text_vectorization = text_vectorization or int_vectorization(reviews, train_ds)
    return [ds.map(lambda x, y: (text_vectorization(x), y), num_parallel_calls=4)
            for ds in (train_ds, val_ds, test_ds)]


def bidirectional_lstm_classifier(inputs: Any, embedded: Any) -> keras.Model:
    """The part every §11.3.3 sequence model shares: the embedded words into a bidirectional LSTM,
    dropout and a sigmoid, compiled as the book compiles it."""
    x = layers.Bidirectional(layers.LSTM(32))(embedded)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def one_hot_bilstm(max_tokens=20000):
    """Listing 11.13: one-hot encoded sequences into a bidirectional LSTM (``keras.ops.one_hot`` for
    the book's ``tf.one_hot``)."""
    inputs = keras.Input(shape=(None,), dtype="int64")
    embedded = keras.ops.one_hot(inputs, max_tokens)
    return bidirectional_lstm_classifier(inputs, embedded)


def embedding_bilstm(max_tokens=20000, mask_zero=False):
    """Listing 11.16 (``mask_zero=False``) and 11.17 (``mask_zero=True``)."""
    inputs = keras.Input(shape=(None,), dtype="int64")
    embedded = layers.Embedding(input_dim=max_tokens, output_dim=256, mask_zero=mask_zero)(inputs)
    return bidirectional_lstm_classifier(inputs, embedded)


# Using pretrained word embeddings: GloVe ----------------------------------------------------
def parse_glove(path_to_glove_file: Any) -> dict[str, np.ndarray]:
    """Parsing the GloVe word-embeddings file: a dict from word to vector."""
    embeddings_index = {}
    with open(path_to_glove_file, encoding="utf-8") as f:
        for line in f:
            word, coefs = line.split(maxsplit=1)
            coefs = np.fromstring(coefs, "f", sep=" ")
            embeddings_index[word] = coefs
    return embeddings_index


def glove_embedding_matrix(embeddings_index: dict[str, np.ndarray], vocabulary: list[str], max_tokens: int,
                           embedding_dim: int) -> np.ndarray:
    """Preparing the GloVe word-embeddings matrix: row ``i`` holds the GloVe vector of the vocabulary's word ``i``; words GloVe does
    not know keep a row of zeros."""
    word_index = dict(zip(vocabulary, range(len(vocabulary))))
    embedding_matrix = np.zeros((max_tokens, embedding_dim))
    for word, i in word_index.items():
        if i < max_tokens:
            embedding_vector = embeddings_index.get(word)
            if embedding_vector is not None:
                embedding_matrix[i] = embedding_vector
    return embedding_matrix


def pretrained_embedding_bilstm(embedding_matrix: np.ndarray) -> keras.Model:
    """The model that uses a pretrained Embedding layer: the BiLSTM on a frozen ``Embedding`` initialised with the GloVe matrix."""
    max_tokens, embedding_dim = embedding_matrix.shape
    embedding_layer = layers.Embedding(
        max_tokens,
        embedding_dim,
        embeddings_initializer=keras.initializers.Constant(embedding_matrix),
        trainable=False,
        mask_zero=True,
    )
    inputs = keras.Input(shape=(None,), dtype="int64")
    embedded = embedding_layer(inputs)
    return bidirectional_lstm_classifier(inputs, embedded)


# 11.4.1 Understanding self-attention -------------------------------------------------------
def softmax(scores: np.ndarray) -> np.ndarray:
    exponentials = np.exp(scores - np.max(scores))
    return exponentials / np.sum(exponentials)


def self_attention(input_sequence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The section's NumPy pseudocode, made runnable: each vector becomes the attention-weighted sum
    of every vector of the sequence. Also returns the attention scores, one row per pivot vector."""
    output = np.zeros(shape=input_sequence.shape)
    attention = np.zeros(shape=(len(input_sequence), len(input_sequence)))
    for i, pivot_vector in enumerate(input_sequence):
        scores = np.zeros(shape=(len(input_sequence),))
        for j, vector in enumerate(input_sequence):
            scores[j] = np.dot(pivot_vector, vector.T)
        scores /= np.sqrt(input_sequence.shape[1])
        scores = softmax(scores)
        new_pivot_representation = np.zeros(shape=pivot_vector.shape)
        for j, vector in enumerate(input_sequence):
            new_pivot_representation += vector * scores[j]
        output[i] = new_pivot_representation
        attention[i] = scores
    return output, attention


# 11.4.3 The Transformer encoder, then positional embedding ----------------------------
@benchmark("imdb_transformer", example="ch11_transformer_encoder", section="11.4.3",
           title="IMDB Transformer encoder, 600 words × 256", input_shape=(BOOK_MAX_LENGTH,), batch_size=BATCH_SIZE,
           loss="binary_crossentropy", inputs="tokens", vocabulary=BOOK_MAX_TOKENS)
def transformer_classifier(vocab_size=20000, sequence_length=600, positional=False):
    """Listing 11.25 (``positional=False``) and 11.27 (``positional=True``). With positional embedding the
    padding mask reaches ``GlobalMaxPooling1D``, which does not support masking and drops it (Keras warns),
    as in the book: padded steps take part in the max."""
    embed_dim = 256
    num_heads = 2
    dense_dim = 32
    inputs = keras.Input(shape=(None,), dtype="int64")
    if positional:
        x = PositionalEmbedding(sequence_length, vocab_size, embed_dim)(inputs)
    else:
        x = layers.Embedding(vocab_size, embed_dim)(inputs)
    x = TransformerEncoder(embed_dim, dense_dim, num_heads)(x)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    return model


# -- examples -------------------------------------------------------------------------------
@example("ch11_vectorizer_by_hand", section="11.2.3", title="Standardization, tokenization and vocabulary indexing "
         "in pure Python")
def vectorizer_by_hand(run: Run) -> None:
    vectorizer = Vectorizer()
    dataset = DATASET
    vectorizer.make_vocabulary(dataset)
    run.value("vocabulary", vectorizer.vocabulary)
    test_sentence = TEST_SENTENCE
    encoded_sentence = vectorizer.encode(test_sentence)
    run.value("encoded_sentence", encoded_sentence)
    decoded_sentence = vectorizer.decode(encoded_sentence)
    run.value("decoded_sentence", decoded_sentence)


@example("ch11_text_vectorization_layer", section="11.2.4", title="The TextVectorization layer with a custom "
         "standardization and split", backends=("tensorflow",))
def text_vectorization_layer(run: Run) -> None:
    def custom_standardization_fn(string_tensor):
        lowercase_string = tf.strings.lower(string_tensor)
        return tf.strings.regex_replace(lowercase_string, f"[{re.escape(string.punctuation)}]", "")

    def custom_split_fn(string_tensor):
        return tf.strings.split(string_tensor)

    text_vectorization = layers.TextVectorization(
        output_mode="int",
        standardize=custom_standardization_fn,
        split=custom_split_fn,
    )
    dataset = DATASET
    text_vectorization.adapt(dataset)
    vocabulary = text_vectorization.get_vocabulary()
    run.value("vocabulary", vocabulary)
    test_sentence = TEST_SENTENCE
    encoded_sentence = text_vectorization(test_sentence)
    run.value("encoded_sentence", encoded_sentence)
    run.value("encoded_dtype", str(np.asarray(encoded_sentence).dtype))
    inverse_vocab = dict(enumerate(vocabulary))
    decoded_sentence = " ".join(inverse_vocab[int(i)] for i in encoded_sentence)
    run.value("decoded_sentence", decoded_sentence)
    # The layer's default standardization and split give the same encoding on this sentence.
    default = layers.TextVectorization(output_mode="int")
    default.adapt(dataset)
    run.value("default_encoding_is_the_same", bool(np.array_equal(np.asarray(default(test_sentence)),
                                                                  np.asarray(encoded_sentence))))


@example("ch11_imdb_raw_prep", section="11.3.1", title="Preparing the IMDB movie reviews data",
         datasets=("imdb_reviews",))
def imdb_raw_prep(run: Run) -> None:
    reviews, train_ds, val_ds, test_ds = imdb_datasets(run)
    # "Found 20000 files belonging to 2 classes." (and 5000, 25000)
    for split, ds in (("train", train_ds), ("val", val_ds), ("test", test_ds)):
        run.value(f"{split}_files", len(file_labels(reviews.base_dir / split)))
        run.value(f"{split}_batches", int(ds.cardinality()))
        run.value(f"{split}_class_names", getattr(ds, "class_names", None))
    for inputs, targets in train_ds:
        run.value("inputs_shape", tuple(inputs.shape))
        run.value("inputs_dtype", inputs.dtype.name)
        run.value("targets_shape", tuple(targets.shape))
        run.value("targets_dtype", targets.dtype.name)
        run.value("first_input_is_text", isinstance(inputs[0].numpy(), bytes) and len(inputs[0].numpy()) > 0)
        break
    train_names = {f for c in CLASSES for f in os.listdir(reviews.base_dir / "train" / c)}
    val_names = {f for c in CLASSES for f in os.listdir(reviews.base_dir / "val" / c)}
    run.value("no_review_in_train_and_val", not (train_names & val_names))


@example("ch11_bow_binary", section="11.3.2", title="Single words (unigrams) and bigrams with binary encoding",
         datasets=("imdb_reviews",))
def bow_binary(run: Run) -> None:
    reviews, train_ds, val_ds, test_ds = imdb_datasets(run)
    record_baseline(run, reviews)
    run.model("model", get_model(max_tokens=BOOK_MAX_TOKENS))  # the book's size: 20000 multi-hot inputs
    # Single words (unigrams) with binary encoding
    bag_of_words(run, "binary_1gram", reviews, train_ds, val_ds, test_ds, output_mode="multi_hot")
    # Bigrams with binary encoding
    bag_of_words(run, "binary_2gram", reviews, train_ds, val_ds, test_ds, ngrams=2, output_mode="multi_hot")
    record_gain(run, "bigram_gain", "binary_2gram", "binary_1gram")


@example("ch11_bow_tfidf", section="11.3.2", title="Bigrams with TF-IDF encoding, and a model that takes raw strings",
         datasets=("imdb_reviews",), backends=("tensorflow",))
def bow_tfidf(run: Run) -> None:
    """Deviations: the raw-string model's input is ``shape=()`` (Keras 3, see below), and it scores a
    negative review beside the book's positive one, so that a model which answers "positive" to
    everything shows."""
    reviews, train_ds, val_ds, test_ds = imdb_datasets(run)
    record_baseline(run, reviews)
    run.model("model", get_model(max_tokens=BOOK_MAX_TOKENS))
    model, text_vectorization = bag_of_words(run, "tfidf_2gram", reviews, train_ds, val_ds, test_ds, ngrams=2,
                                             output_mode="tf_idf")
    # Exporting a model that processes raw strings. Keras 3's TextVectorization keeps the book's
    # shape=(1,) string input as an axis of its output ((None, 1, tokens)), so the input is one
    # string per sample, shape=(), and the raw data a vector of strings.
    inputs = keras.Input(shape=(), dtype="string")
    processed_inputs = text_vectorization(inputs)
    outputs = model(processed_inputs)
    inference_model = keras.Model(inputs, outputs)
    raw_text_data = tf.convert_to_tensor([
        "That was an excellent movie, I loved it.",
        "That was an awful movie, I hated it.",
    ])
    predictions = inference_model(raw_text_data)
    run.value("positive_percent", [float(p[0] * 100) for p in np.asarray(predictions)])
    # The inference model on raw strings agrees with the trained model on the vectorized test reviews.
    for texts, _ in test_ds.take(1):
        on_raw = np.asarray(inference_model(texts))
        on_vectors = np.asarray(model(text_vectorization(texts)))
        run.value("inference_model_max_abs_diff", float(np.max(np.abs(on_raw - on_vectors))))


@example("ch11_onehot_bilstm", section="11.3.3", title="A first sequence model: one-hot vectors into a bidirectional "
         "LSTM", datasets=("imdb_reviews",))
def onehot_bilstm(run: Run) -> None:
    reviews, train_ds, val_ds, test_ds = imdb_datasets(run)
    record_baseline(run, reviews)
    run.model("model", one_hot_bilstm(max_tokens=BOOK_MAX_TOKENS))
    int_train_ds, int_val_ds, int_test_ds = int_datasets(reviews, train_ds, val_ds, test_ds)
    model = one_hot_bilstm(max_tokens=reviews.max_tokens)
    fit_and_evaluate(run, "one_hot_bidir_lstm", model, int_train_ds, int_val_ds, int_test_ds, epochs=run.epochs(10))


@example("ch11_embedding_bilstm", section="11.3.3", title="Learning word embeddings with the Embedding layer, "
         "without and with masking", datasets=("imdb_reviews",))
def embedding_bilstm_example(run: Run) -> None:
    reviews, train_ds, val_ds, test_ds = imdb_datasets(run)
    record_baseline(run, reviews)
    run.model("model", embedding_bilstm(max_tokens=BOOK_MAX_TOKENS))
    run.model("masked_model", embedding_bilstm(max_tokens=BOOK_MAX_TOKENS, mask_zero=True))
    int_train_ds, int_val_ds, int_test_ds = int_datasets(reviews, train_ds, val_ds, test_ds)
    model = embedding_bilstm(max_tokens=reviews.max_tokens)
    fit_and_evaluate(run, "embeddings_bidir_lstm", model, int_train_ds, int_val_ds, int_test_ds,
                     epochs=run.epochs(10))

    # Understanding padding and masking: the mask of an Embedding with mask_zero=True
    embedding_layer = layers.Embedding(input_dim=10, output_dim=256, mask_zero=True)
    some_input = [
        [4, 3, 2, 1, 0, 0, 0],
        [5, 4, 3, 2, 1, 0, 0],
        [2, 1, 0, 0, 0, 0, 0],
    ]
    mask = embedding_layer.compute_mask(np.array(some_input))
    run.value("mask", np.asarray(mask).astype(bool))
    # Using an Embedding layer with masking enabled
    model = embedding_bilstm(max_tokens=reviews.max_tokens, mask_zero=True)
    fit_and_evaluate(run, "embeddings_bidir_lstm_with_masking", model, int_train_ds, int_val_ds, int_test_ds,
                     epochs=run.epochs(10))
    record_gain(run, "masking_gain", "embeddings_bidir_lstm_with_masking", "embeddings_bidir_lstm")


@example("ch11_glove_bilstm", section="11.3.3", title="Using pretrained word embeddings: GloVe in a frozen "
         "Embedding layer", datasets=("imdb_reviews", "glove"), needs=("glove-6b",))
def glove_bilstm(run: Run) -> None:
    """The book compares the GloVe model with the earlier ones in words ("pretrained embeddings aren't
    very helpful" on this task); the example trains the masked model of listing 11.17 beside it, on the
    same vectorized reviews, to measure the difference."""
    reviews, train_ds, val_ds, test_ds = imdb_datasets(run)
    record_baseline(run, reviews)
    text_vectorization = int_vectorization(reviews, train_ds)
    int_train_ds, int_val_ds, int_test_ds = int_datasets(reviews, train_ds, val_ds, test_ds, text_vectorization)

    glove = run.data("glove")
    embeddings_index = parse_glove(glove.path)
    run.value("word_vectors", len(embeddings_index))  # "Found 400000 word vectors."
    embedding_dim = glove.embedding_dim
    vocabulary = text_vectorization.get_vocabulary()
    embedding_matrix = glove_embedding_matrix(embeddings_index, vocabulary, reviews.max_tokens, embedding_dim)
    known = [i for i, word in enumerate(vocabulary[:reviews.max_tokens]) if word in embeddings_index]
    run.value("vocabulary_share_in_glove", len(known) / max(1, len(vocabulary) - 2))  # "" and [UNK] aside
    run.value("matrix_rows_are_glove_vectors",
              all(np.array_equal(embedding_matrix[i], embeddings_index[vocabulary[i]]) for i in known))
    unknown = sorted(set(range(len(vocabulary))) - set(known))
    run.value("unknown_word_rows_are_zero", not np.any(embedding_matrix[unknown]))

    # The book's sizes: 20,000 words of 100 dimensions, frozen
    run.model("model", pretrained_embedding_bilstm(np.zeros((BOOK_MAX_TOKENS, 100))))
    model = pretrained_embedding_bilstm(embedding_matrix)
    model = fit_and_evaluate(run, "glove_embeddings_sequence_model", model, int_train_ds, int_val_ds, int_test_ds,
                             epochs=run.epochs(10))
    embedding_weights = keras.ops.convert_to_numpy(model.layers[1].embeddings)
    run.value("glove_embedding_unchanged", bool(np.array_equal(embedding_weights,
                                                               embedding_matrix.astype(embedding_weights.dtype))))
    model = embedding_bilstm(max_tokens=reviews.max_tokens, mask_zero=True)
    fit_and_evaluate(run, "embeddings_bidir_lstm_with_masking", model, int_train_ds, int_val_ds, int_test_ds,
                     epochs=run.epochs(10))
    record_gain(run, "glove_gain", "glove_embeddings_sequence_model", "embeddings_bidir_lstm_with_masking")


@example("ch11_self_attention_mha", section="11.4.1", title="Self-attention in NumPy, and Keras's MultiHeadAttention")
def self_attention_example(run: Run) -> None:
    """The section's NumPy self-attention on a sequence of 20 random 256-d vectors, beside Keras's
    scaled dot-product attention on the same sequence (queries, keys and values all the sequence),
    and §11.4.2's ``MultiHeadAttention`` on a batch of such sequences. The coordinates have a standard
    deviation of 1/4, so each vector's scaled score with itself is about 1 and the attention spreads
    over the sequence (with unit-variance coordinates every vector would attend almost only to itself)."""
    sequence_length, embed_dim = 20, 256
    input_sequence = np.random.normal(scale=0.25, size=(sequence_length, embed_dim))
    output, attention = self_attention(input_sequence)
    run.value("output_shape", output.shape)
    run.value("attention_row_sums", attention.sum(axis=1))
    as_heads = input_sequence[np.newaxis, :, np.newaxis, :].astype("float32")  # (batch, length, heads, dim)
    reference = keras.ops.convert_to_numpy(keras.ops.dot_product_attention(as_heads, as_heads, as_heads))
    run.value("max_abs_diff_from_keras", float(np.max(np.abs(output - reference[0, :, 0, :]))))

    # 11.4.2 Multi-head attention
    num_heads = 4
    mha_layer = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
    inputs = keras.Input(shape=(sequence_length, embed_dim))
    outputs = mha_layer(inputs, inputs, inputs)
    run.model("mha", keras.Model(inputs, outputs))
    batch = np.random.normal(size=(2, sequence_length, embed_dim)).astype("float32")
    run.value("mha_output_shape", tuple(mha_layer(batch, batch, batch).shape))


@example("ch11_transformer_encoder", section="11.4.3", title="A Transformer encoder for text classification",
         datasets=("imdb_reviews",))
def transformer_encoder(run: Run) -> None:
    reviews, train_ds, val_ds, test_ds = imdb_datasets(run)
    record_baseline(run, reviews)
    run.model("model", transformer_classifier(vocab_size=BOOK_MAX_TOKENS))
    int_train_ds, int_val_ds, int_test_ds = int_datasets(reviews, train_ds, val_ds, test_ds)
    model = transformer_classifier(vocab_size=reviews.max_tokens)
    fit_and_evaluate(run, "transformer_encoder", model, int_train_ds, int_val_ds, int_test_ds,
                     epochs=run.epochs(20))


@example("ch11_transformer_positional", section="11.4.3", title="A Transformer encoder with positional embedding",
         datasets=("imdb_reviews",))
def transformer_positional(run: Run) -> None:
    reviews, train_ds, val_ds, test_ds = imdb_datasets(run)
    record_baseline(run, reviews)
    run.model("model", transformer_classifier(vocab_size=BOOK_MAX_TOKENS, sequence_length=BOOK_MAX_LENGTH,
                                              positional=True))
    int_train_ds, int_val_ds, int_test_ds = int_datasets(reviews, train_ds, val_ds, test_ds)
    model = transformer_classifier(vocab_size=reviews.max_tokens, sequence_length=reviews.max_length,
                                   positional=True)
    fit_and_evaluate(run, "full_transformer_encoder", model, int_train_ds, int_val_ds, int_test_ds,
                     epochs=run.epochs(20))
