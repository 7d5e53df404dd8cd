"""A lesson check states the size of the book's claim, so that a model showing no effect fails it:
a trend says by how much (``by``), an inequality between measured outcomes is strict and says by
how much, a best epoch that marks overfitting lies before the run's last epochs
(``exclude_last``; 0 only where the book says the model does not overfit, and the check says
why). Read from every golden file, every tier."""

from __future__ import annotations

import pytest

from conformance.engine import golden, registry
from conformance.engine.golden import Expectation

INEQUALITIES = {"<", ">", "<=", ">="}


def every_expectation() -> list[tuple[str, Expectation]]:
    found = []
    for example_id in registry.all_examples():
        loaded = golden.load(example_id)
        found += [(example_id, e) for e in loaded.expectations]
        found += [(f"{example_id}[{tier}]", e) for tier, body in loaded.tiers.items() for e in body["expectations"]]
    return found


EXPECTATIONS = every_expectation()


def of_kind(*kinds: str) -> list[tuple[str, Expectation]]:
    return [(where, e) for where, e in EXPECTATIONS if e.kind in kinds]


def ids(items: list[tuple[str, Expectation]]) -> list[str]:
    return [f"{where}:{e.name}" for where, e in items]


TRENDS = of_kind("falls", "rises")
MEASURED = ("values.", "history.")  # outcomes of training; models.* are architecture facts, exact by nature
INEQUALITY_COMPARES = [(w, e) for w, e in of_kind("compare") if e.fields["op"] in INEQUALITIES
                       and e.fields["left"].startswith(MEASURED) and e.fields["right"].startswith(MEASURED)]
BEST_EPOCHS = of_kind("best_epoch")


def test_the_golden_files_hold_each_kind_of_lesson_check():
    """A guard against the tests below passing because they found nothing to test."""
    assert len(TRENDS) >= 10 and len(INEQUALITY_COMPARES) >= 10 and len(BEST_EPOCHS) >= 5


@pytest.mark.parametrize("where, expectation", TRENDS, ids=ids(TRENDS))
def test_a_trend_states_by_how_much_it_moves(where, expectation):
    assert expectation.fields.get("by", 0) > 0, (
        f"{where}: {expectation.name} has no 'by': a loss that creeps down by 0.01 % passes it")


@pytest.mark.parametrize("where, expectation", INEQUALITY_COMPARES, ids=ids(INEQUALITY_COMPARES))
def test_an_inequality_is_strict_and_states_its_size(where, expectation):
    assert expectation.fields["op"] in ("<", ">"), f"{where}: {expectation.name} accepts equality"
    assert expectation.fields.get("by", 0) > 0, f"{where}: {expectation.name} has no 'by': any difference passes"
    assert expectation.why, f"{where}: {expectation.name} must say where the size of its 'by' comes from"


@pytest.mark.parametrize("where, expectation", BEST_EPOCHS, ids=ids(BEST_EPOCHS))
def test_a_best_epoch_that_marks_overfitting_lies_before_the_last_epochs(where, expectation):
    assert "exclude_last" in expectation.fields, (
        f"{where}: {expectation.name} accepts the run's last epoch: a model that never overfits passes it; "
        f"set exclude_last (0 only where the book says the model does not overfit)")
    if expectation.fields["exclude_last"] == 0:
        assert expectation.why, f"{where}: {expectation.name} may end at the last epoch only if it says why"
