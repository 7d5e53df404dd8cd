"""Each of §11.5's lesson checks fails when its lesson is broken.

* Decoding starts after ``[start]``, once: planted fault, Spanish sentences wrapped in ``[start]``
  twice (a preparation bug), so the trained GRU decodes a second ``[start]``.
* Decoding stops at ``[end]`` or the length limit: planted fault, a decoding loop that does not
  recognise ``[end]`` and runs on past it.
* Next-token accuracy beats the commonest token: planted fault, RMSprop at a learning rate of 0 (a
  model that learns nothing); crafted outcomes for the tiers whose runs take minutes.
* Next-token accuracy rises over the epochs (offline, book): crafted outcomes, a flat curve and one
  that only falls; an offline run takes minutes, so no run here.
"""

from __future__ import annotations

import pytest

from helpers import failed_checks, faulty_run, golden_expectation, judge, rmsprop_learning_rate_changed
from reference_impl import ch11_translation
from reference_impl.datasets import spa_eng

EXAMPLES = ("ch11_seq2seq_gru", "ch11_seq2seq_transformer")
START = "decoding starts after [start], once"
STOP = "decoding stops at [end] or the length limit"
BEATS = "next-token accuracy beats the commonest token"
RISES = "next-token accuracy rises over the epochs"


# -- crafted outcomes ------------------------------------------------------------------------
@pytest.mark.parametrize("tier", ["smoke", "offline", "book"])
@pytest.mark.parametrize("example", EXAMPLES)
def test_the_decoding_checks_refuse_malformed_sentences(example, tier):
    for name, path in ((START, "decoded_start_once"), (STOP, "decoded_stop_at_end_or_limit")):
        if (example, tier, name) == ("ch11_seq2seq_transformer", "smoke", START):
            continue  # untrained there (scale epochs 0): an arbitrary model may decode [start] (see the golden notes)
        check = golden_expectation(example, tier, name=name)
        assert judge(check, {"values": {path: True}}) == "passed"
        assert judge(check, {"values": {path: False}}) == "failed"


BEATS_TIERS = [("ch11_seq2seq_gru", "smoke"), *((e, t) for e in EXAMPLES for t in ("offline", "book"))]


@pytest.mark.parametrize("example, tier", BEATS_TIERS, ids=[f"{e}-{t}" for e, t in BEATS_TIERS])
def test_beats_baseline_refuses_a_model_at_the_commonest_token(example, tier):
    check = golden_expectation(example, tier, name=BEATS)
    path, margin = check.fields["path"].split(".")[1], check.fields["margin"]

    def curve(best: float) -> dict:
        return {"history": {path: {"val_accuracy": [best / 2, best]}}, "values": {"commonest_token_acc": 0.14}}

    assert judge(check, curve(0.14)) == "failed"
    assert judge(check, curve(0.14 + margin / 2)) == "failed"
    assert judge(check, curve(0.14 + margin + 0.01)) == "passed"


@pytest.mark.parametrize("tier", ["offline", "book"])
@pytest.mark.parametrize("example", EXAMPLES)
def test_rises_refuses_a_curve_that_does_not_climb(example, tier):
    check = golden_expectation(example, tier, name=RISES)
    path = check.fields["path"].split(".")[1]
    curve = lambda series: {"history": {path: {"val_accuracy": series}}}
    assert judge(check, curve([0.30, 0.45, 0.55, 0.60, 0.62, 0.63])) == "passed"
    assert judge(check, curve([0.30, 0.30, 0.30])) == "failed"  # stuck at the first epoch's accuracy
    assert judge(check, curve([0.30, 0.305, 0.31])) == "failed"  # rising, but by less than 5 %
    assert judge(check, curve([0.40, 0.35, 0.30])) == "failed"


# -- planted faults, run on the smoke twin -------------------------------------------------------
@pytest.mark.slow
def test_a_start_token_wrapped_twice_fails_the_start_check():
    def plant(patch: pytest.MonkeyPatch) -> None:
        patch.setattr(spa_eng, "wrap", lambda spanish: "[start] [start] " + spanish + " [end]")

    failed = failed_checks(faulty_run("ch11_seq2seq_gru", plant))
    assert START in failed, sorted(failed)


@pytest.mark.slow
def test_a_loop_that_misses_end_fails_the_stop_check():
    def plant(patch: pytest.MonkeyPatch) -> None:
        patch.setattr(ch11_translation, "END_TOKEN", "[stop]")

    failed = failed_checks(faulty_run("ch11_seq2seq_gru", plant))
    assert STOP in failed, sorted(failed)
    assert START not in failed


@pytest.mark.slow
def test_a_model_that_learns_nothing_fails_its_baseline_check():
    failed = failed_checks(faulty_run("ch11_seq2seq_gru", rmsprop_learning_rate_changed(lambda lr: 0.0)))
    assert BEATS in failed, sorted(failed)
