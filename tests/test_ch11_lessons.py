"""Each of chapter 11's lesson checks fails when its lesson is broken.

* Bigrams beat unigrams: on the twin, a bag of word pairs reads the negated opinions ("not good")
  that single words cannot. Planted fault: the twin without negation (``NEGATED_SHARE = 0``), where
  single words say as much as pairs; the smoke run's compare must then fail.
* Bag-of-words beats the commonest class: planted fault, a twin whose words carry no label (every
  opinion and verdict a coin flip); the smoke run's ``beats_baseline`` checks must fail.
* Masking does not hurt (offline), and improves on the unmasked model (book): crafted outcomes show
  what each refuses; a run takes minutes on the offline data, so no run here.
"""

from __future__ import annotations

from typing import Any

import pytest

from helpers import failed_checks, golden_expectation, judge, run_example_in_process
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


TRAINED = [("ch11_bow_binary", "values.binary_1gram_test_acc"), ("ch11_bow_binary", "values.binary_2gram_test_acc"),
           ("ch11_bow_tfidf", "values.tfidf_2gram_test_acc"),
           ("ch11_onehot_bilstm", "values.one_hot_bidir_lstm_test_acc"),
           ("ch11_embedding_bilstm", "values.embeddings_bidir_lstm_test_acc"),
           ("ch11_embedding_bilstm", "values.embeddings_bidir_lstm_with_masking_test_acc")]


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
