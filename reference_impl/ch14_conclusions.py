"""Chapter 14 — Conclusions: the key network architectures as templates (§14.1.6).

The book closes with one template per problem type: densely connected networks for vectors
(binary, single-label and multi-label classification, regression), a separable-convolution
network for images, LSTMs for sequences, and Transformers for sequence-to-sequence learning and
text classification. Nothing is trained: the example builds and compiles each template as the
book writes it and records its architecture.

The book leaves the sizes open (``num_input_features``, ``num_classes``, ``num_values``,
``height``, ``width``, ``channels``, ``num_timesteps``, ``num_features``); the values below are
stated choices:

- ``num_input_features = 20``, ``num_classes = 10``, ``num_values = 4`` for the dense templates;
- ``height = width = 200``, ``channels = 3`` for the convnet (the ``num_classes = 10`` above);
- ``num_timesteps = 120``, ``num_features = 14`` for the recurrent templates (chapter 10's five days
  of hourly weather readings, 14 per hour), with ``num_classes = 10`` labels;
- the sequence-to-sequence Transformer: ``sequence_length = 200``, ``vocab_size = 15000``,
  ``embed_dim = 256``, ``dense_dim = 32``, ``num_heads = 4``;
- the Transformer text classifier: chapter 11's IMDB sizes (``vocab_size = 20000``,
  ``sequence_length = 600``, ``embed_dim = 256``, ``dense_dim = 32``, ``num_heads = 2``), so that its
  parameter count is the one §11.4.3 prints for the same network with a dropout layer (none of whose
  weights count).

The Transformer layers are the shared ones of ``reference_impl.transformer`` (§11.4.3–§11.5.3).
"""

from __future__ import annotations

import keras
from keras import layers

from reference_impl.api import Run, example
from reference_impl.transformer import PositionalEmbedding, TransformerDecoder, TransformerEncoder

num_input_features = 20
num_classes = 10
num_values = 4
height, width, channels = 200, 200, 3
num_timesteps, num_features = 120, 14


# 14.1.6 Densely connected networks ----------------------------------------------------------
def dense_binary_classifier():
    inputs = keras.Input(shape=(num_input_features,))
    x = layers.Dense(32, activation="relu")(inputs)
    x = layers.Dense(32, activation="relu")(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    return model


def dense_single_label_classifier():
    inputs = keras.Input(shape=(num_input_features,))
    x = layers.Dense(32, activation="relu")(inputs)
    x = layers.Dense(32, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    return model


def dense_multi_label_classifier():
    inputs = keras.Input(shape=(num_input_features,))
    x = layers.Dense(32, activation="relu")(inputs)
    x = layers.Dense(32, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    return model


def dense_regression():
    """The listing prints ``outputs layers.Dense(num_values)(x)``, without its ``=``; this is the
    assignment it means."""
    inputs = keras.Input(shape=(num_input_features,))
    x = layers.Dense(32, activation="relu")(inputs)
    x = layers.Dense(32, activation="relu")(x)
    outputs = layers.Dense(num_values)(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="mse")
    return model


# 14.1.6 Convnets -----------------------------------------------------------------------------
def separable_convnet():
    inputs = keras.Input(shape=(height, width, channels))
    x = layers.SeparableConv2D(32, 3, activation="relu")(inputs)
    x = layers.SeparableConv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.SeparableConv2D(64, 3, activation="relu")(x)
    x = layers.SeparableConv2D(128, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.SeparableConv2D(64, 3, activation="relu")(x)
    x = layers.SeparableConv2D(128, 3, activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(32, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    return model


# 14.1.6 RNNs ---------------------------------------------------------------------------------
def lstm_classifier():
    inputs = keras.Input(shape=(num_timesteps, num_features))
    x = layers.LSTM(32)(inputs)
    outputs = layers.Dense(num_classes, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    return model


def stacked_lstm_classifier():
    inputs = keras.Input(shape=(num_timesteps, num_features))
    x = layers.LSTM(32, return_sequences=True)(inputs)
    x = layers.LSTM(32, return_sequences=True)(x)
    x = layers.LSTM(32)(x)
    outputs = layers.Dense(num_classes, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    return model


# 14.1.6 Transformers -------------------------------------------------------------------------
def transformer_seq2seq(sequence_length=200, vocab_size=15000, embed_dim=256, dense_dim=32, num_heads=4):
    encoder_inputs = keras.Input(shape=(sequence_length,), dtype="int64")
    x = PositionalEmbedding(sequence_length, vocab_size, embed_dim)(encoder_inputs)
    encoder_outputs = TransformerEncoder(embed_dim, dense_dim, num_heads)(x)
    decoder_inputs = keras.Input(shape=(None,), dtype="int64")
    x = PositionalEmbedding(sequence_length, vocab_size, embed_dim)(decoder_inputs)
    x = TransformerDecoder(embed_dim, dense_dim, num_heads)(x, encoder_outputs)
    decoder_outputs = layers.Dense(vocab_size, activation="softmax")(x)
    transformer = keras.Model([encoder_inputs, decoder_inputs], decoder_outputs)
    transformer.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    return transformer


def transformer_text_classifier(sequence_length=600, vocab_size=20000, embed_dim=256, dense_dim=32, num_heads=2):
    inputs = keras.Input(shape=(sequence_length,), dtype="int64")
    x = PositionalEmbedding(sequence_length, vocab_size, embed_dim)(inputs)
    x = TransformerEncoder(embed_dim, dense_dim, num_heads)(x)
    x = layers.GlobalMaxPooling1D()(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    return model


TEMPLATES = {
    "dense_binary": dense_binary_classifier,
    "dense_single_label": dense_single_label_classifier,
    "dense_multi_label": dense_multi_label_classifier,
    "dense_regression": dense_regression,
    "separable_convnet": separable_convnet,
    "lstm": lstm_classifier,
    "stacked_lstm": stacked_lstm_classifier,
    "transformer_seq2seq": transformer_seq2seq,
    "transformer_classifier": transformer_text_classifier,
}


@example("ch14_model_templates", section="14.1.6", title="Key network architectures: a template per problem type")
def model_templates(run: Run) -> None:
    for name, build in TEMPLATES.items():
        model = build()
        run.model(name, model)
        run.value(f"{name}_loss", model.loss if isinstance(model.loss, str) else type(model.loss).__name__)
        run.value(f"{name}_output_activation", model.layers[-1].get_config().get("activation"))
