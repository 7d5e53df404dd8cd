"""The comma-separated globs every selecting option takes: blanks ignored, a glob that matches nothing named."""

from conformance import globs


def test_globs_split_on_commas_and_ignore_blanks():
    assert globs.split(" ch02*, ,ch03_simple* ") == ["ch02*", "ch03_simple*"]
    assert globs.split(None) == [] and globs.split("") == [] and globs.split(["a", " b "]) == ["a", "b"]


def test_a_glob_that_matches_nothing_is_named_and_matching_is_case_sensitive():
    names = ["ch02_mnist_dense", "ch03_simple_dense_layer"]
    assert globs.unmatched(["ch02*", "CH03*", "zzz"], names) == ["CH03*", "zzz"]
    assert globs.matches("ch02_mnist_dense", ["ch03*", "ch02_*"]) and not globs.matches("ch02_mnist_dense", [])
