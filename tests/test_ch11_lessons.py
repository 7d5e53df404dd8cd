"""Each of chapter 11's lesson checks fails when its lesson is broken.

* Bigrams beat unigrams: on the twin, a bag of word pairs reads the negated opinions ("not good")
  that single words cannot. Planted fault: the twin without negation (``NEGATED_SHARE = 0``), where
  single words say as much as pairs; the smoke run's compare must then fail.
* Bag-of-words beats the commonest class: planted fault, a twin whose words carry no label (every
  opinion and verdict a coin flip); the smoke run's ``beats_baseline`` checks must fail.
* Masking does not hurt (offline), and improves on the unmasked model (book): crafted outcomes show
  what each refuses; a run takes minutes on the offline data, so no run here.
* Pretrained GloVe vectors are not a large gain (book): a crafted outcome. The GloVe matrix the book
  builds, its frozen layer and the share of the vocabulary GloVe knows: planted faults on the smoke
  twin (a matrix shifted by one row, a layer left trainable, a parser that reads nothing).
* Self-attention: the NumPy loops without the scaling, or without the softmax's normalisation, fail
  the checks against Keras's attention and on the scores' sums.
"""

from __future__ import annotations

from typing import Any

import pytest

import numpy as np

from helpers import failed_checks, faulty_run, golden_expectation, judge, run_example_in_process
from reference_impl import ch11_text as ch11
from reference_impl.datasets import imdb_reviews


def outcome(**values: Any) -> dict[str, Any]:
    return {"values": values}


# -- crafted outcomes ------------------------------------------------------------------------
def test_bigrams_beat_unigrams_refuses_bigrams_no_better_than_unigrams():
    check = golden_expectation("ch11_bow_binary", "smoke", name="bigrams beat unigrams")
    by = check.fields["by"]
    assert judge(check, outcome(binary_2gram_test_acc=0.87, binary_1gram_test_acc=0.70)) == "passed"
    assert judge(check, outcome(binary_2gram_test_acc=0.70 + by / 2, binary_1gram_test_acc=0.70)) == "failed"
    assert judge(check, outcome(binary_2gram_test_acc=0.70, binary_1gram_test_acc=0.70)) == "failed"
    assert judge(check, outcome(binary_2gram_test_acc=0.65, binary_1gram_test_acc=0.70)) == "failed"


def test_masking_does_not_hurt_refuses_a_masked_model_clearly_worse():
    check = golden_expectation("ch11_embedding_bilstm", "offline", name="masking does not hurt")
    assert judge(check, outcome(masking_gain=0.01)) == "passed"
    assert judge(check, outcome(masking_gain=-0.01)) == "passed"  # within the spread of two test scores
    assert judge(check, outcome(masking_gain=-0.10)) == "failed"  # a mask that hides the words, not the padding
    assert judge(check, outcome(masking_gain=float("nan"))) == "failed"


def test_masking_improves_in_the_book_tier_refuses_equal_accuracies():
    check = golden_expectation("ch11_embedding_bilstm", "book", name="masking improves on the unmasked model")
    assert judge(check, outcome(embeddings_bidir_lstm_with_masking_test_acc=0.88,
                                embeddings_bidir_lstm_test_acc=0.87)) == "passed"
    assert judge(check, outcome(embeddings_bidir_lstm_with_masking_test_acc=0.872,
                                embeddings_bidir_lstm_test_acc=0.87)) == "failed"
    assert judge(check, outcome(embeddings_bidir_lstm_with_masking_test_acc=0.86,
                                embeddings_bidir_lstm_test_acc=0.87)) == "failed"


def test_glove_is_not_a_large_gain_refuses_a_clear_gain():
    check = golden_expectation("ch11_glove_bilstm", "book", name="pretrained embeddings are not a large gain here")
    assert judge(check, outcome(glove_gain=0.0)) == "passed"
    assert judge(check, outcome(glove_gain=-0.01)) == "passed"  # comparable, as in the rerun
    assert judge(check, outcome(glove_gain=0.05)) == "failed"  # a clear gain: the book's verdict broken
    assert judge(check, outcome(glove_gain=-0.05)) == "failed"  # far worse: GloVe vectors not reaching the model
    assert judge(check, outcome(glove_gain=float("nan"))) == "failed"


TRAINED = [("ch11_bow_binary", "values.binary_1gram_test_acc"), ("ch11_bow_binary", "values.binary_2gram_test_acc"),
           ("ch11_bow_tfidf", "values.tfidf_2gram_test_acc"),
           ("ch11_onehot_bilstm", "values.one_hot_bidir_lstm_test_acc"),
           ("ch11_embedding_bilstm", "values.embeddings_bidir_lstm_test_acc"),
           ("ch11_embedding_bilstm", "values.embeddings_bidir_lstm_with_masking_test_acc"),
           ("ch11_glove_bilstm", "values.glove_embeddings_sequence_model_test_acc"),
           ("ch11_glove_bilstm", "values.embeddings_bidir_lstm_with_masking_test_acc")]


@pytest.mark.parametrize("tier", ["offline", "book"])
@pytest.mark.parametrize("example, path", TRAINED, ids=[f"{e}:{p.split('.')[-1]}" for e, p in TRAINED])
def test_beats_baseline_refuses_a_model_at_the_commonest_class(example, path, tier):
    from conformance.engine import golden

    checks = [e for e in golden.load(example).expectations_for(tier)
              if e.kind == "beats_baseline" and e.fields["path"] == path]
    assert len(checks) == 1
    check = checks[0]
    margin = check.fields["margin"]
    trivial = 0.5 if tier == "book" else 0.658
    assert judge(check, outcome(**{path.split(".")[1]: trivial, "majority_class_acc": trivial})) == "failed"
    halfway = trivial + margin / 2
    assert judge(check, outcome(**{path.split(".")[1]: halfway, "majority_class_acc": trivial})) == "failed"
    assert judge(check, outcome(**{path.split(".")[1]: min(1.0, trivial + margin + 0.01),
                                   "majority_class_acc": trivial})) == "passed"


# -- planted faults, run on the smoke twin -------------------------------------------------------
@pytest.mark.slow
def test_bigram_lesson_fails_on_a_twin_without_negation(monkeypatch):
    monkeypatch.setattr(imdb_reviews, "NEGATED_SHARE", 0.0)
    failed = failed_checks(run_example_in_process("ch11_bow_binary", "smoke", seed=0))
    assert "bigrams beat unigrams" in failed, sorted(failed)
    assert "unigrams beat the commonest class" not in failed  # the data still has signal: only the lesson broke


@pytest.mark.slow
def test_bag_of_words_fails_its_baseline_check_on_a_twin_without_signal(monkeypatch):
    monkeypatch.setattr(imdb_reviews, "AGREEING_SHARE", 0.5)  # opinions as often against the label as for it
    monkeypatch.setattr(imdb_reviews, "CUE_RIGHT", 0.5)  # verdicts too
    failed = failed_checks(run_example_in_process("ch11_bow_binary", "smoke", seed=0))
    assert {"unigrams beat the commonest class", "bigrams beat the commonest class"} <= set(failed), sorted(failed)


def shifted_by_one_row(embeddings_index, vocabulary, max_tokens, embedding_dim):
    """The classic slip: word i's vector written to row i + 1."""
    matrix = np.zeros((max_tokens, embedding_dim))
    for i, word in enumerate(vocabulary[: max_tokens - 1]):
        if word in embeddings_index:
            matrix[i + 1] = embeddings_index[word]
    return matrix


@pytest.mark.slow
def test_a_glove_matrix_off_by_one_row_fails_the_matrix_checks():
    failed = failed_checks(faulty_run("ch11_glove_bilstm",
                                      lambda patch: patch.setattr(ch11, "glove_embedding_matrix", shifted_by_one_row)))
    assert "the matrix rows of known words are their GloVe vectors" in failed, sorted(failed)


@pytest.mark.slow
def test_a_parser_that_reads_nothing_fails_the_vocabulary_share_check():
    failed = failed_checks(faulty_run("ch11_glove_bilstm", lambda patch: patch.setattr(ch11, "parse_glove",
                                                                                       lambda path: {})))
    assert "most of the vocabulary has a vector" in failed, sorted(failed)


@pytest.mark.slow
def test_a_glove_layer_left_trainable_fails_the_trainable_parameter_count():
    frozen = ch11.pretrained_embedding_bilstm

    def left_trainable(embedding_matrix):
        model = frozen(embedding_matrix)
        model.layers[1].trainable = True
        return model

    failed = failed_checks(faulty_run("ch11_glove_bilstm",
                                      lambda patch: patch.setattr(ch11, "pretrained_embedding_bilstm", left_trainable)))
    assert any("models.model.trainable_params" in name for name in failed), sorted(failed)


def test_the_self_attention_example_passes_unbroken():
    result = run_example_in_process("ch11_self_attention_mha", "smoke", seed=0)
    assert result["status"] == "passed", [c for c in result["checks"] if c["status"] != "passed"]


def unscaled_self_attention(input_sequence):
    """Self-attention without the division by sqrt(d): a softmax far sharper than Keras's."""
    attention = np.apply_along_axis(ch11.softmax, 1, input_sequence @ input_sequence.T)
    return attention @ input_sequence, attention


def test_self_attention_without_the_scaling_fails_the_check_against_keras():
    failed = failed_checks(faulty_run("ch11_self_attention_mha",
                                      lambda patch: patch.setattr(ch11, "self_attention", unscaled_self_attention)))
    assert "the NumPy loops compute Keras's scaled dot-product attention" in failed, sorted(failed)


def test_scores_without_the_softmax_normalisation_fail_the_sum_checks():
    failed = failed_checks(faulty_run("ch11_self_attention_mha",
                                      lambda patch: patch.setattr(ch11, "softmax", np.exp)))
    assert "every pivot's attention scores sum to 1 (highest row)" in failed, sorted(failed)
