"""Every number in the golden files can be followed to its source without leaving the repository.

A book source names the section, the value as the book prints it and the sentence or listing output it comes
from; a number the book's printing could not confirm may be recorded but not checked. Fast: no training.
"""

import copy

import pytest

from conformance.engine import golden
from conformance.engine.golden import GoldenError

# briefing files outside the repository, spelt in pieces so that a search of the repository finds none
CATALOG, SHARED = "book-" "catalog", "shared" "/"
FOREIGN = (CATALOG, SHARED)

BOOK_SOURCE = {"kind": "book", "section": "4.1.4", "printed": "88%",
               "quote": "This fairly naive approach achieves an accuracy of 88%.", "ref": "listing 4.10's evaluate"}

RAW = {
    "schema_version": 1,
    "example": "ch99_demo",
    "sources": {
        "book-test-acc": BOOK_SOURCE,
        "book-recalled": {"kind": "book", "section": "5.4.4", "printed": "six epochs",
                          "quote": "(after six epochs rather than four)", "confirmed": False},
        "third": {"kind": "reference", "ref": "a public run of the listing: 0.8816"},
        "arch": {"kind": "computed", "ref": "10000*16+16 + 16*16+16 + 16+1"},
    },
    "expectations": [{"kind": "threshold", "source": "book-test-acc", "path": "values.test_acc", "min": 0.87}],
}


def project_golden_files():
    return sorted(golden.golden_dir().glob("*.json"))


def parse(mutate=None, tmp_path=None):
    raw = copy.deepcopy(RAW)
    if mutate:
        mutate(raw)
    return golden.parse(raw, tmp_path / "ch99_demo.json")


def rejected(tmp_path, mutate):
    with pytest.raises(GoldenError) as raised:
        parse(mutate, tmp_path)
    return raised.value


def test_the_project_has_golden_files():
    assert len(project_golden_files()) >= 30


@pytest.mark.parametrize("path", project_golden_files(), ids=lambda p: p.stem)
def test_every_golden_file_loads(path):
    assert golden.load(path.stem, path.parent).example == path.stem


@pytest.mark.parametrize("path", project_golden_files(), ids=lambda p: p.stem)
def test_no_golden_file_names_a_file_outside_the_repository(path):
    text = path.read_text(encoding="utf-8")
    for marker in FOREIGN:
        assert marker not in text, f"{path.name} mentions {marker!r}"


def test_the_published_numbers_page_names_no_file_outside_the_repository():
    page = golden.golden_dir().parent / "docs" / "published-numbers.md"
    text = page.read_text(encoding="utf-8")
    for marker in FOREIGN:
        assert marker not in text
    for path in project_golden_files():
        assert path.stem in text, f"{path.stem} is not on {page.name}"


@pytest.mark.parametrize("path", project_golden_files(), ids=lambda p: p.stem)
def test_every_book_source_is_self_contained(path):
    loaded = golden.load(path.stem, path.parent)
    for key, source in loaded.sources.items():
        if source["kind"] == "book":
            for field in ("section", "printed", "quote"):
                assert isinstance(source[field], str) and source[field].strip(), f"{path.name}: {key}.{field}"
            assert loaded.describe_source(key).startswith(f"book §{source['section']}: printed ")


def test_a_valid_document_parses(tmp_path):
    parsed = parse(tmp_path=tmp_path)
    assert parsed.describe_source("book-test-acc") == (
        "book §4.1.4: printed 88% — 'This fairly naive approach achieves an accuracy of 88%.' (ch99_demo.json)")


def test_book_source_missing_quote_is_rejected_naming_the_field(tmp_path):
    error = rejected(tmp_path, lambda d: d["sources"]["book-test-acc"].pop("quote"))
    assert error.field == "sources.book-test-acc.quote"
    assert "sources.book-test-acc.quote" in str(error) and "ch99_demo.json" in str(error)


@pytest.mark.parametrize("field", ["section", "printed"])
def test_book_source_with_an_empty_field_is_rejected(tmp_path, field):
    error = rejected(tmp_path, lambda d: d["sources"]["book-test-acc"].update({field: " "}))
    assert error.field == f"sources.book-test-acc.{field}"


def test_expectation_citing_an_unconfirmed_book_source_is_rejected(tmp_path):
    error = rejected(tmp_path, lambda d: d["expectations"][0].update(source="book-recalled"))
    assert error.field == "expectations[0].source"
    assert "could not confirm" in error.problem


def test_unconfirmed_book_source_may_be_recorded_when_nothing_cites_it(tmp_path):
    assert parse(tmp_path=tmp_path).sources["book-recalled"]["confirmed"] is False


def test_confirmed_must_be_a_bool(tmp_path):
    error = rejected(tmp_path, lambda d: d["sources"]["book-test-acc"].update(confirmed="yes"))
    assert error.field == "sources.book-test-acc.confirmed"


@pytest.mark.parametrize("kind", ["reference", "computed"])
def test_reference_and_computed_sources_need_a_ref(tmp_path, kind):
    key = "third" if kind == "reference" else "arch"
    error = rejected(tmp_path, lambda d: d["sources"][key].pop("ref"))
    assert error.field == f"sources.{key}.ref"


@pytest.mark.parametrize("field, marker", [("ref", f"{CATALOG}.md ch04"), ("quote", f"see {SHARED}notes.md"),
                                           ("printed", CATALOG.upper())])
def test_a_source_naming_a_file_outside_the_repository_is_rejected(tmp_path, field, marker):
    error = rejected(tmp_path, lambda d: d["sources"]["book-test-acc"].update({field: marker}))
    assert error.field == f"sources.book-test-acc.{field}"
    assert "cite the book itself; the file named is not part of the repository" in error.problem


def test_a_reference_naming_a_file_outside_the_repository_is_rejected(tmp_path):
    error = rejected(tmp_path, lambda d: d["sources"]["third"].update(ref=f"{CATALOG}.md: [run] 0.88"))
    assert error.field == "sources.third.ref"


def test_a_book_source_with_an_unknown_field_is_rejected(tmp_path):
    error = rejected(tmp_path, lambda d: d["sources"]["book-test-acc"].update(page=97))
    assert error.field == "sources.book-test-acc.page"
