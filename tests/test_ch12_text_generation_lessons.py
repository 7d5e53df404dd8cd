"""Each lesson check of §12.1.4–12.1.5's Transformer language model fails when the lesson is broken.

Faults are planted in the chapter's own functions or in Keras, and the example runs in-process as
``python -m conformance run`` runs it (smoke tier, a few seconds each: marked slow). The smoke tier
trains the model for two steps, which leaves it close to uniform, so the two lessons that need a
trained model (the held-out loss beats the unigram frequencies; sample diversity rises with the
temperature) are checked in the book tier only. Their tests judge that tier's checks
on outcomes made here: the listing's callback sampling from a fixed, peaked next-token
distribution, without and with a broken temperature.
"""

from __future__ import annotations

from typing import Any, Callable

import keras
import numpy as np
import pytest

from helpers import (Fault, RunResult, failed_checks, faulty_run, golden_expectation, judge,
                     rmsprop_learning_rate_changed, run_example_in_process)
from reference_impl import ch12_generative as ch12
from reference_impl.transformer import TransformerDecoder

EXAMPLE = "ch12_text_generation_transformer_lm"
SEED = 0


@pytest.fixture(scope="module")
def unbroken() -> RunResult:
    return run_example_in_process(EXAMPLE, "smoke", seed=SEED)


@pytest.mark.slow
def test_the_language_model_passes_unbroken(unbroken):
    assert unbroken["status"] == "passed", [c for c in unbroken["checks"] if c["status"] != "passed"]
    values = unbroken["metrics"]
    assert values["temperatures"] == [0.2, 0.5, 0.7, 1.0, 1.5]
    assert all(text.startswith("This movie ") for text in values["generated_texts"])


@pytest.mark.slow
def test_a_model_that_does_not_learn_fails_the_falling_loss():
    failed = failed_checks(faulty_run(EXAMPLE, rmsprop_learning_rate_changed(lambda learning_rate: 0.0)))
    assert "training loss falls" in failed, sorted(failed)


def decoder_with_padding_only_cross_attention(*args: Any, causal_cross_attention: bool = False,
                                              **kwargs: Any) -> TransformerDecoder:
    """The planted fault: the decoder as translation uses it, its cross-attention masked for padding
    only, although it is given the decoder's own input as the encoder output."""
    return TransformerDecoder(*args, **kwargs)


@pytest.mark.slow
def test_a_decoder_fed_with_itself_without_causal_cross_attention_sees_the_next_token():
    failed = failed_checks(faulty_run(EXAMPLE, lambda patch: patch.setattr(
        ch12, "TransformerDecoder", decoder_with_padding_only_cross_attention)))
    assert "no position sees the tokens after it" in failed, sorted(failed)


def samples_changed(change: Callable[[str, str], str]) -> Fault:
    """A fault: the callback's samples, once generated, are passed through ``change(prompt, text)``."""
    original = ch12.TextGenerator.on_epoch_end

    def on_epoch_end(self, epoch, logs=None):
        original(self, epoch, logs)
        self.samples = {t: change(self.prompt, text) for t, text in self.samples.items()}

    return lambda patch: patch.setattr(ch12.TextGenerator, "on_epoch_end", on_epoch_end)


@pytest.mark.slow
def test_samples_that_lose_the_prompt_fail_the_prompt_check():
    failed = failed_checks(faulty_run(EXAMPLE, samples_changed(
        lambda prompt, text: "A film " + text[len(prompt) + 1:])))
    assert "every sample starts with the prompt" in failed, sorted(failed)
    assert "every sample has the prompt's words and the requested number more" not in failed, sorted(failed)


@pytest.mark.slow
def test_samples_one_word_short_fail_the_length_check():
    failed = failed_checks(faulty_run(EXAMPLE, samples_changed(lambda prompt, text: text.rsplit(" ", 1)[0])))
    assert "every sample has the prompt's words and the requested number more" in failed, sorted(failed)
    assert "every sample starts with the prompt" not in failed, sorted(failed)


# -- the lessons of the trained tiers, judged on outcomes made here ------------------------------------
class PeakedModel:
    """Stands for a trained language model: the same next-token distribution at every position, a
    Zipf-like one over 1,000 tokens (token 2 is the likeliest; 0 and 1, the padding and [UNK], next to never)."""

    def __init__(self, vocabulary_size: int = 1000):
        ranks = np.arange(1, vocabulary_size - 1)
        probabilities = np.concatenate([[1e-12, 1e-12], 1.0 / ranks ** 1.1])
        self.probabilities = (probabilities / probabilities.sum()).astype("float32")

    def __call__(self, tokens):
        tokens = keras.ops.convert_to_numpy(tokens)
        return np.broadcast_to(self.probabilities, tokens.shape + self.probabilities.shape)


def diversity_outcome(generate_length: int = 50) -> dict:
    """The listing's callback sampling 50 words at the book's temperatures from ``PeakedModel``; the
    distinct-word ratio of each sample, as the example records them."""
    np.random.seed(SEED)
    vocabulary = ["", "[UNK]"] + [f"w{i}" for i in range(2, 1000)]
    text_vectorization = keras.layers.TextVectorization(vocabulary=vocabulary[2:], output_mode="int",
                                                        output_sequence_length=64)
    callback = ch12.TextGenerator(ch12.PROMPT, generate_length=generate_length, model_input_length=64,
                                  text_vectorization=text_vectorization, tokens_index=dict(enumerate(vocabulary)),
                                  temperatures=ch12.GENERATION_TEMPERATURES)
    callback.set_model(PeakedModel())
    callback.on_epoch_end(0)
    words = [callback.samples[t].split(" ")[2:] for t in ch12.GENERATION_TEMPERATURES]
    return {"values": {"distinct_unigram_ratios": [ch12.distinct_ngram_ratio(w, 1) for w in words]}}


def multiplied_by_temperature(original_distribution, temperature=0.5):
    """The classic slip: log(p) * T instead of log(p) / T, which sharpens as T rises."""
    distribution = np.exp(np.log(original_distribution) * temperature)
    return distribution / np.sum(distribution)


def test_diversity_rises_with_temperature_and_a_broken_temperature_fails(monkeypatch):
    check = golden_expectation(EXAMPLE, "book", name="sample diversity rises with temperature")
    assert judge(check, diversity_outcome()) == "passed"
    monkeypatch.setattr(ch12, "reweight_distribution", multiplied_by_temperature)
    assert judge(check, diversity_outcome()) == "failed"


@pytest.mark.parametrize("tier", ["offline", "book"])
def test_a_model_no_better_than_the_unigram_frequencies_fails(tier):
    check = golden_expectation(EXAMPLE, tier, kind="beats_baseline")
    unigram = 6.0
    assert judge(check, {"values": {"held_out_cross_entropy": unigram, "unigram_cross_entropy": unigram}}) == "failed"
    assert judge(check, {"values": {"held_out_cross_entropy": unigram + 0.5, "unigram_cross_entropy": unigram}}) \
        == "failed"
    assert judge(check, {"values": {"held_out_cross_entropy": unigram - 1.5, "unigram_cross_entropy": unigram}}) \
        == "passed"


# -- the helpers -----------------------------------------------------------------------------------------
def test_distinct_ngram_ratio():
    assert ch12.distinct_ngram_ratio("a b a b a b".split(), 2) == 2 / 5
    assert ch12.distinct_ngram_ratio("a b c d".split(), 2) == 1.0
    assert ch12.distinct_ngram_ratio("a a a a".split(), 1) == 1 / 4
    assert ch12.distinct_ngram_ratio(["a"], 2) == 0.0


def test_the_book_size_model_has_the_books_parameter_count():
    assert ch12.text_generation_model().count_params() == 9_825_176


def test_the_language_model_never_sees_ahead_and_without_causal_cross_attention_it_does(monkeypatch):
    keras.utils.set_random_seed(SEED)
    sequence = np.random.randint(2, 100, size=31)
    assert ch12.future_influence(ch12.text_generation_model(32, 100, 16, 32, 2), sequence) == 0.0
    monkeypatch.setattr(ch12, "TransformerDecoder", decoder_with_padding_only_cross_attention)
    assert ch12.future_influence(ch12.text_generation_model(32, 100, 16, 32, 2), sequence) > 1e-6


def test_lm_dims_scales_the_books_widths_with_the_vocabulary():
    assert ch12.lm_dims(15000) == (256, 2048)
    assert ch12.lm_dims(5000) == (64, 512)
    assert ch12.lm_dims(1000) == (16, 128)


def test_a_non_finite_loss_fails_naming_the_epoch():
    check = golden_expectation(EXAMPLE, "smoke", name="no loss is NaN or infinite in any epoch")
    assert judge(check, {"values": {"non_finite_losses": []}}) == "passed"
    assert judge(check, {"values": {"non_finite_losses": ch12.non_finite_losses({"loss": [6.4, float("nan")]})}}) \
        == "failed"
    assert ch12.non_finite_losses({"loss": [6.4, float("nan")]}) == ["epoch 2: loss"]
