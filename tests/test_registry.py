"""The registry finds every example of reference_impl and selects them by glob."""

import pytest

from conformance.engine import registry
from conformance.engine.golden import golden_dir

CH02_CH03 = {
    "ch02_mnist_dense", "ch02_tensor_ops_naive", "ch02_gradienttape_basics", "ch02_mnist_from_scratch",
    "ch03_tensors_variables", "ch03_gradienttape_second_order", "ch03_linear_classifier_pure_tf",
    "ch03_simple_dense_layer", "ch03_keras_compile_fit_validation",
}


def test_every_catalog_example_of_chapters_2_and_3_is_registered():
    assert CH02_CH03 <= set(registry.all_examples())


def test_every_example_has_a_golden_file_and_metadata():
    for spec in registry.all_examples().values():
        assert (golden_dir() / f"{spec.id}.json").exists(), f"{spec.id} has no golden file"
        assert spec.chapter == int(spec.id[2:4])
        assert spec.section and spec.title
        assert set(spec.backends) <= {"tensorflow", "jax", "torch"}


def test_select_by_glob_and_comma_list():
    assert {s.id for s in registry.select("ch03_grad*,ch02_mnist_dense")} == {
        "ch03_gradienttape_second_order", "ch02_mnist_dense"}
    assert all(s.id.startswith("ch02") for s in registry.select("ch02*"))


def test_pattern_that_matches_nothing_is_an_error():
    with pytest.raises(registry.SelectionError, match="no example matches ch99"):
        registry.select("ch02*,ch99*")


def test_offline_tier_listed_only_where_data_has_an_offline_source():
    spec = registry.all_examples()["ch02_mnist_dense"]
    assert registry.tiers_of(spec) == ("smoke", "offline", "book")


def test_recorded_values_are_pythons_own_types_so_exact_checks_compare_like_with_like():
    import enum

    import numpy as np

    from reference_impl.api import to_jsonable

    class Mode(str, enum.Enum):
        MIN = "min"

    recorded = to_jsonable({"name": np.str_("a"), "acc": np.float64(0.5), "n": np.int64(3), "ok": np.bool_(True),
                            "mode": Mode.MIN, "shape": (None, 4)})
    assert recorded == {"name": "a", "acc": 0.5, "n": 3, "ok": True, "mode": "min", "shape": [None, 4]}
    assert [type(recorded[k]) for k in ("name", "acc", "n", "ok", "mode")] == [str, float, int, bool, str]
