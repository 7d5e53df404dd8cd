"""Every number the book prints for chapters 2–11 is checked in the ``book`` tier with a band from one rule, and
every claimed difference states its size (CONTRIBUTING.md, "Bands on the book's numbers").

Static: reads the golden files, trains nothing. The tables below restate the printed values the golden files
quote (their ``book`` sources), so that dropping or loosening one of them fails here.
"""

from __future__ import annotations

import math

import pytest

from conformance.engine import golden
from conformance.engine.golden import Expectation, Golden

# (example, path, printed value or printed range, kind): kind "fraction" (accuracies, probabilities; floor 1 point)
# or "loss" (losses and MAEs; floor 10 % of the printed value)
PRINTED = [
    ("ch02_mnist_dense", "values.test_acc", 0.9785, "fraction"),
    ("ch02_mnist_dense", "history.fit.accuracy:last", 0.989, "fraction"),
    ("ch02_mnist_dense", "values.first_prediction_max_prob", 0.99999106, "fraction"),
    ("ch03_linear_classifier_pure_tf", "history.training.loss:last", 0.025, "loss"),
    ("ch04_imdb_binary", "values.test_loss", 0.2929924130630493, "loss"),
    ("ch04_imdb_binary", "values.test_acc", 0.88327999999999995, "fraction"),
    ("ch04_reuters_multiclass", "values.test_loss", 0.9565213431445807, "loss"),
    ("ch04_reuters_multiclass", "values.test_acc", 0.79697239536954589, "fraction"),
    ("ch04_reuters_multiclass", "values.random_baseline_acc", 0.18655387355298308, "fraction"),
    ("ch04_reuters_bottleneck", "history.bottleneck.val_accuracy:max", 0.71, "fraction"),
    ("ch04_boston_kfold", "values.all_scores[0]", 2.112449, "loss"),
    ("ch04_boston_kfold", "values.all_scores[1]", 3.0801501, "loss"),
    ("ch04_boston_kfold", "values.all_scores[2]", 2.6483836, "loss"),
    ("ch04_boston_kfold", "values.all_scores[3]", 2.4275346, "loss"),
    ("ch04_boston_kfold", "values.mean_score", 2.5671294, "loss"),
    ("ch04_boston_kfold", "values.test_mae_score", 2.4642276763916016, "loss"),
    ("ch05_mnist_learning_rate", "history.lr_1.val_accuracy:last", (0.30, 0.40), "fraction"),
    ("ch05_mnist_learning_rate", "history.lr_1.accuracy:last", (0.30, 0.40), "fraction"),
    ("ch05_mnist_capacity", "history.small_model.val_loss:min", 0.26, "loss"),
    ("ch08_mnist_convnet", "values.test_acc", 0.991, "fraction"),
    ("ch08_mnist_convnet", "values.dense_test_acc", 0.978, "fraction"),
    ("ch08_catsdogs_from_scratch", "values.test_acc", 0.695, "fraction"),
    ("ch08_catsdogs_from_scratch", "history.fit.val_accuracy:max", 0.75, "fraction"),
    ("ch08_catsdogs_augmentation", "values.test_acc", 0.835, "fraction"),
    ("ch08_catsdogs_augmentation", "history.fit.val_accuracy:last", (0.80, 0.85), "fraction"),
    ("ch08_vgg16_fast_feature_extraction", "history.fit.val_accuracy:max", 0.97, "fraction"),
    ("ch08_vgg16_feature_extraction_augmented", "values.test_acc", 0.975, "fraction"),
    ("ch08_vgg16_feature_extraction_augmented", "history.fit.val_accuracy:max", (0.98, 1.0), "fraction"),
    ("ch08_vgg16_finetuning", "values.test_acc", 0.985, "fraction"),
    ("ch09_mini_xception_catsdogs", "values.test_acc", 0.908, "fraction"),
    ("ch09_gradcam_xception", "values.top3_probs[0]", 0.8699266, "fraction"),
    ("ch09_gradcam_xception", "values.top3_probs[1]", 0.076968715, "fraction"),
    ("ch09_gradcam_xception", "values.top3_probs[2]", 0.02353728, "fraction"),
    ("ch10_jena_conv1d", "values.conv1d_best_val_mae", 2.9, "loss"),
    ("ch10_jena_lstm", "values.lstm_best_val_mae", 2.36, "loss"),
    ("ch10_jena_lstm", "values.lstm_test_mae", 2.55, "loss"),
    ("ch10_jena_lstm_recurrent_dropout", "values.dropout_lstm_best_val_mae", 2.27, "loss"),
    ("ch10_jena_lstm_recurrent_dropout", "values.dropout_lstm_test_mae", 2.45, "loss"),
    ("ch10_jena_stacked_gru", "values.stacked_gru_test_mae", 2.39, "loss"),
    ("ch11_bow_tfidf", "values.tfidf_2gram_test_acc", 0.898, "fraction"),
    ("ch11_onehot_bilstm", "values.one_hot_bidir_lstm_test_acc", 0.87, "fraction"),
    ("ch11_embedding_bilstm", "values.embeddings_bidir_lstm_test_acc", 0.87, "fraction"),
    ("ch11_embedding_bilstm", "values.embeddings_bidir_lstm_with_masking_test_acc", 0.88, "fraction"),
    ("ch11_transformer_encoder", "values.transformer_encoder_test_acc", 0.875, "fraction"),
    ("ch11_transformer_positional", "values.full_transformer_encoder_test_acc", 0.883, "fraction"),
    ("ch11_seq2seq_gru", "history.seq2seq_rnn.val_accuracy:last", 0.64, "fraction"),
]

# Fractions whose band reaches more than 2 points below the book, and the evidence that widened it.
WIDER_THAN_TWO_POINTS = {
    ("ch04_reuters_multiclass", "values.random_baseline_acc"): "three standard deviations of one shuffle",
    ("ch04_reuters_bottleneck", "history.bottleneck.val_accuracy:max"): "a rerun peaked at 0.666",
    ("ch05_mnist_learning_rate", "history.lr_1.val_accuracy:last"): "reruns ended at 0.2466 and 0.20–0.26",
    ("ch05_mnist_learning_rate", "history.lr_1.accuracy:last"): "the validation accuracy's band, for want of rerun "
                                                                "training accuracies",
    ("ch08_catsdogs_from_scratch", "history.fit.val_accuracy:max"): "a rerun peaked at 0.735",
    ("ch08_vgg16_finetuning", "values.test_acc"): "a rerun scored 0.974",
    ("ch11_bow_tfidf", "values.tfidf_2gram_test_acc"): "a rerun scored 0.886",
}

# (example, path of the validation curve, printed epoch or range, offset of the curve's index from the epoch)
PRINTED_EPOCHS = [
    ("ch04_imdb_binary", "history.fit.val_loss", 4, 0),
    ("ch04_reuters_multiclass", "history.fit.val_loss", 9, 0),
    ("ch04_boston_kfold", "values.smooth_mae_history", (120, 140), 10),
    ("ch05_mnist_capacity", "history.large_model.val_loss", 8, 0),
    ("ch05_imdb_model_size", "history.larger.val_loss", 1, 0),
    ("ch08_catsdogs_from_scratch", "history.fit.val_loss", 10, 0),
    ("ch08_catsdogs_augmentation", "history.fit.val_loss", (60, 70), 0),
    ("ch09_oxford_pets_segmentation", "history.fit.val_loss", 25, 0),
]

# Book-tier best_epoch checks on a book source that print no epoch, and why they need no exclude_last.
NOT_OVERFITTING = {
    ("ch05_mnist_capacity", "history.small_model.val_loss"): "the book says the logistic regression plateaus",
}

# (example, left side of the compare, the difference the book prints): by is half of it (rounded down)
PRINTED_DIFFERENCES = [
    ("ch04_reuters_multiclass", "values.test_acc", 0.79697239536954589 - 0.18655387355298308),
    ("ch04_reuters_bottleneck", "history.bottleneck.val_accuracy:max", 0.08),
    ("ch05_mnist_noise_vs_zero_channels", "history.noise_channels.val_accuracy:max", 0.01),
    ("ch08_mnist_convnet", "values.test_acc", 0.991 - 0.978),
    ("ch11_embedding_bilstm", "values.embeddings_bidir_lstm_with_masking_test_acc", 0.88 - 0.87),
]

# (example, the measured side of a book-tier compare or beats_baseline, the smallest difference a cited rerun of the
# book's code measured the same way round, where it is smaller than the book's): by or margin is at most half of it
RERUN_DIFFERENCES = [
    ("ch10_jena_lstm", "values.lstm_best_val_mae", 2.44 - 2.40),
    ("ch10_jena_lstm", "values.lstm_test_mae", 2.62 - 2.60),
    ("ch10_jena_lstm_recurrent_dropout", "values.dropout_lstm_best_val_mae", 2.44 - 2.35),
    ("ch10_jena_stacked_gru", "values.stacked_gru_test_mae", 2.62 - 2.42),
]

INEQUALITIES = {"<", "<=", ">", ">="}

GOLDEN: dict[str, Golden] = {path.stem: golden.load(path.stem, path.parent)
                             for path in sorted(golden.golden_dir().glob("*.json"))}


def book_tier(example: str) -> list[Expectation]:
    return GOLDEN[example].tiers.get("book", {}).get("expectations", [])


def owned(example: str) -> list[tuple[str, Expectation]]:
    """The top-level expectations (every tier) and the book tier's."""
    return ([("all", e) for e in GOLDEN[example].expectations] + [("book", e) for e in book_tier(example)])


def source_kind(example: str, expectation: Expectation) -> str:
    return GOLDEN[example].sources[expectation.source]["kind"]


def the_one(items: list[Expectation], **fields) -> Expectation:
    found = [e for e in items if all(e.fields.get(k) == v for k, v in fields.items())]
    assert len(found) == 1, f"{len(found)} expectations with {fields}"
    return found[0]


def bounds(value) -> tuple[float, float]:
    return value if isinstance(value, tuple) else (value, value)


@pytest.mark.parametrize("example, path, printed, kind", PRINTED, ids=[f"{e}:{p}" for e, p, _, _ in PRINTED])
def test_every_printed_number_has_a_band_in_the_book_tier(example, path, printed, kind):
    check = the_one([e for e in book_tier(example) if e.kind == "threshold"], path=path)
    source = GOLDEN[example].sources[check.source]
    assert source["kind"] == "book" and source.get("confirmed", True), f"{example}: {path} must cite the book"
    low, high = check.fields.get("min"), check.fields.get("max")
    assert low is not None and high is not None, f"{example}: {path} needs both min and max"
    book_low, book_high = bounds(printed)
    floor = 0.01 if kind == "fraction" else 0.1 * book_low
    assert low <= book_low - floor + 1e-4 and high >= min(book_high + floor, 1.0 if kind == "fraction" else math.inf) - 1e-4, (
        f"{example}: [{low}, {high}] is narrower than the printed value ± the floor")
    assert "band rule" in check.why, f"{example}: {path}'s why must name the band rule and its evidence"


@pytest.mark.parametrize("example, path, printed, kind", [row for row in PRINTED if row[3] == "fraction"],
                         ids=[f"{e}:{p}" for e, p, _, k in PRINTED if k == "fraction"])
def test_a_band_on_a_fraction_catches_a_two_point_drop_unless_evidence_widened_it(example, path, printed, kind):
    check = the_one([e for e in book_tier(example) if e.kind == "threshold"], path=path)
    drop = bounds(printed)[0] - 0.02
    if (example, path) in WIDER_THAN_TWO_POINTS:
        assert check.fields["min"] <= drop, f"{example}: {path} catches a 2-point drop now: drop the exception"
    else:
        assert check.fields["min"] > drop, f"{example}: {path} lets a 2-point drop below the book pass"


@pytest.mark.parametrize("example, path, printed, offset", PRINTED_EPOCHS, ids=[e for e, *_ in PRINTED_EPOCHS])
def test_every_printed_epoch_has_a_window_that_excludes_the_end(example, path, printed, offset):
    check = the_one([e for e in book_tier(example) if e.kind == "best_epoch"], path=path)
    first, last = check.fields["window"]
    book_low, book_high = bounds(printed)
    assert first <= book_low - offset and book_high - offset <= last, f"{example}: the window misses the book's epoch"
    assert check.fields.get("exclude_last", 0) >= 1, f"{example}: the book says it overfits; exclude the last epochs"
    assert "band rule" in check.why


@pytest.mark.parametrize("example", sorted(GOLDEN))
def test_book_tier_overfitting_windows_exclude_the_last_epochs(example):
    for check in book_tier(example):
        if check.kind == "best_epoch" and source_kind(example, check) == "book":
            if (example, check.fields["path"]) in NOT_OVERFITTING:
                continue
            assert check.fields.get("exclude_last", 0) >= 1, f"{example}: {check.name} admits a model that never overfits"


@pytest.mark.parametrize("example", sorted(GOLDEN))
def test_book_tier_bands_on_book_numbers_have_both_bounds_and_name_the_rule(example):
    for check in book_tier(example):
        if source_kind(example, check) != "book":
            continue
        if check.kind == "threshold":
            assert "min" in check.fields and "max" in check.fields, f"{example}: {check.name} needs min and max"
            assert "band rule" in check.why, f"{example}: {check.name}'s why must name the band rule"
        if check.kind == "approx":
            assert check.fields.get("atol", 0) > 0 or check.fields.get("rtol", 0) > 0, f"{example}: {check.name}"
            assert "band rule" in check.why, f"{example}: {check.name}'s why must name the band rule"


@pytest.mark.parametrize("example", sorted(GOLDEN))
def test_claimed_differences_are_strict_and_sized(example):
    """A comparison of one run with another that cites the book or a rerun states how far apart they must be."""
    for where, check in owned(example):
        if check.kind != "compare" or check.fields["op"] not in INEQUALITIES:
            continue
        if source_kind(example, check) not in ("book", "reference"):
            continue
        assert check.fields["op"] in ("<", ">"), f"{example} ({where}): {check.name} accepts equality"
        assert check.fields.get("by", 0) > 0, f"{example} ({where}): {check.name} needs the size of the claim (by)"
        assert "difference rule" in check.why, f"{example} ({where}): {check.name}'s why must name the rule"


@pytest.mark.parametrize("example, left, printed", PRINTED_DIFFERENCES, ids=[e for e, *_ in PRINTED_DIFFERENCES])
def test_a_printed_difference_is_checked_by_half_of_it(example, left, printed):
    found = [e for _, e in owned(example) if e.kind == "compare" and e.fields["left"] == left]
    assert len(found) == 1, f"{example}: {len(found)} comparisons of {left}"
    by = found[0].fields["by"]
    assert 0.4 * printed <= by <= 0.5 * printed + 1e-9, f"{example}: by {by} is not half of the printed {printed:.4f}"


@pytest.mark.parametrize("example", sorted(GOLDEN))
def test_trends_state_their_size(example):
    for where, check in owned(example):
        if check.kind in ("falls", "rises"):
            assert check.fields.get("by", 0) > 0, f"{example} ({where}): {check.name} needs by"
            assert "trend rule" in check.why, f"{example} ({where}): {check.name}'s why must name the trend rule"


@pytest.mark.parametrize("example, measured, difference", RERUN_DIFFERENCES,
                         ids=[f"{e}:{m}" for e, m, _ in RERUN_DIFFERENCES])
def test_a_difference_a_rerun_found_smaller_sizes_the_check(example, measured, difference):
    found = [e for e in book_tier(example)
             if (e.kind == "compare" and e.fields["left"] == measured)
             or (e.kind == "beats_baseline" and e.fields["path"] == measured)]
    assert len(found) == 1, f"{example}: {len(found)} book-tier comparisons of {measured}"
    size = found[0].fields.get("by", found[0].fields.get("margin"))
    assert 0 < size <= difference / 2 + 1e-9, f"{example}: {measured} asks {size}, more than half the rerun's {difference:.3f}"
