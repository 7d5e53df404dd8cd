"""What `Run.model` records about an architecture."""

import keras

from reference_impl.api import model_facts


def test_a_model_built_on_its_first_batch_records_no_batch_size():
    """The book's Reuters models have no Input and are built on their first batch; JAX keeps that batch's
    size in the shapes, TensorFlow does not. The recorded shapes must read the same on both."""
    model = keras.Sequential([keras.layers.Dense(64, activation="relu"), keras.layers.Dense(4)])
    model.build((128, 10))  # what fit does with the first batch on JAX
    facts = model_facts(model)
    assert list(facts.layer_output_shapes.values()) == [[None, 64], [None, 4]]
    assert facts.params == 10 * 64 + 64 + 64 * 4 + 4
