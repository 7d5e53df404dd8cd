"""Golden files are validated on load; a malformed one names the file, the field and the problem."""

import copy
import json

import shutil

import pytest

from conformance import cli
from conformance.engine import golden
from conformance.engine.golden import GoldenError
from helpers import unreadable

VALID = {
    "schema_version": 1,
    "example": "ch99_demo",
    "sources": {
        "book": {"kind": "book", "section": "9.9", "printed": "10", "quote": "Total params: 10"},
        "run-smoke": {"kind": "run", "command": "python -m conformance record", "tier": "smoke",
                      "seeds": [0, 1, 2, 3, 4], "backend": "tensorflow", "versions": {"keras": "3"},
                      "profile": "cpu-x", "date": "2026-11-27"},
    },
    "expectations": [{"kind": "exact", "source": "book", "path": "models.model.params", "value": 10}],
    "tiers": {
        "smoke": {"scale": {"samples": 0.1},
                  "expectations": [{"kind": "threshold", "source": "run-smoke", "path": "values.acc", "min": 0.5,
                                    "overrides": [{"when": {"backend": "jax"}, "set": {"min": 0.4}},
                                                  {"when": {"profile": "gpu-*"}, "set": {"min": 0.6}}]}]},
    },
}


def write(tmp_path, document, name="ch99_demo"):
    path = tmp_path / f"{name}.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def broken(mutate):
    document = copy.deepcopy(VALID)
    mutate(document)
    return document


def test_a_recorded_scale_that_spells_out_the_defaults_is_the_same_scale(tmp_path):
    document = copy.deepcopy(VALID)
    document["sources"]["run-smoke"]["scale"] = {"samples": 0.1, "epochs": 1.0}  # epochs 1.0 is the default
    write(tmp_path, document)
    assert golden.load("ch99_demo", tmp_path).scale("smoke").samples == 0.1


def test_valid_file_loads_with_tier_expectations_and_scale(tmp_path):
    write(tmp_path, VALID)
    loaded = golden.load("ch99_demo", tmp_path)
    assert [e.kind for e in loaded.expectations_for("smoke")] == ["exact", "threshold"]
    assert [e.kind for e in loaded.expectations_for("book")] == ["exact"]
    assert loaded.scale("smoke").samples == 0.1
    assert loaded.scale("book").samples == 1.0


@pytest.mark.parametrize("mutate, field, problem", [
    (lambda d: d.pop("schema_version"), "schema_version", "must be 1"),
    (lambda d: d["sources"]["book"].pop("quote"), "sources.book.quote", "a book source must give this"),
    (lambda d: d["sources"]["run-smoke"].pop("profile"), "sources.run-smoke.profile", "a recorded run must say"),
    (lambda d: d["sources"]["book"].update(kind="blog"), "sources.book.kind", "must be one of"),
    (lambda d: d["expectations"][0].update(kind="roughly"), "expectations[0].kind", "must be one of"),
    (lambda d: d["expectations"][0].update(kind=["exact"]), "expectations[0].kind", "must be one of"),
    (lambda d: d["sources"]["book"].update(kind=["book"]), "sources.book.kind", "must be one of"),
    (lambda d: d["expectations"][0].update(source=["book"]), "expectations[0].source", "not one of the file's sources"),
    (lambda d: d["expectations"].append({"kind": "compare", "source": "book", "left": "a", "op": [">"], "right": "b"}),
     "expectations[1].op", "must be one of"),
    (lambda d: d["expectations"][0].pop("value"), "expectations[0].value", "required for kind 'exact'"),
    (lambda d: d["expectations"][0].update(source="nowhere"), "expectations[0].source", "not one of the file's sources"),
    (lambda d: d["expectations"][0].update(tolerance=1), "expectations[0].tolerance", "not a field of kind"),
    (lambda d: d["tiers"].update(nightly={}), "tiers.nightly", "unknown tier"),
    (lambda d: d["tiers"]["smoke"]["scale"].update(epochs=-1), "tiers.smoke.scale.epochs", "must be 0 or more"),
    (lambda d: d["tiers"]["smoke"]["scale"].update(samples=0), "tiers.smoke.scale.samples", "positive number"),
    (lambda d: d["tiers"]["smoke"]["scale"].update(speed=2), "tiers.smoke.scale.speed", "unknown knob"),
    (lambda d: d["tiers"]["smoke"]["expectations"][0].update(min="high"), "tiers.smoke.expectations[0].min",
     "must be a finite number"),
    # a bound that can never fail, or never pass
    (lambda d: d["tiers"]["smoke"]["expectations"][0].update(min=float("-inf")), "tiers.smoke.expectations[0].min",
     "must be a finite number"),
    (lambda d: d["tiers"]["smoke"]["expectations"][0].update(min=0.9, max=0.1), "tiers.smoke.expectations[0]",
     "min 0.9 is above max 0.1"),
    (lambda d: d["expectations"].append({"kind": "approx", "source": "book", "path": "values.x", "value": float("nan")}),
     "expectations[1].value", "must be a finite number"),
    (lambda d: d["expectations"][0].update(path=5), "expectations[0].path", "must be a non-empty string"),
    # a margin only orders: '==' and '!=' ignored it while the message said "by at least"
    (lambda d: d["expectations"].append({"kind": "compare", "source": "book", "left": "a", "op": "==", "right": "b",
                                         "by": 0.1}), "expectations[1].by", "has no meaning for '=='"),
    (lambda d: d["expectations"].append({"kind": "compare", "source": "book", "left": "a", "op": "!=", "right": "b",
                                         "by": 0}), "expectations[1].by", "has no meaning for '!='"),
    (lambda d: d["expectations"].append({"kind": "compare", "source": "book", "left": "a", "op": "<", "right": "b",
                                         "by": 0.1, "overrides": [{"when": {"backend": "jax"}, "set": {"op": "=="}}]}),
     "expectations[1].overrides[0].set.by", "has no meaning for '=='"),
    # an exact value no observation can equal
    (lambda d: d["expectations"][0].update(value=float("inf")), "expectations[0].value", "holds NaN or an infinity"),
    (lambda d: d["expectations"][0].update(value=[1, [2.0, float("nan")]]), "expectations[0].value",
     "holds NaN or an infinity"),
    (lambda d: d["expectations"][0].update(overrides=[{"when": {"backend": "jax"}, "set": {"value": float("-inf")}}]),
     "expectations[0].overrides[0].set.value", "holds NaN or an infinity"),
    # a name or reason the run file quotes must be text
    (lambda d: d["expectations"][0].update(name=5), "expectations[0].name", "must be a non-empty string when given"),
    (lambda d: d["expectations"][0].update(name=""), "expectations[0].name", "must be a non-empty string when given"),
    (lambda d: d["expectations"][0].update(why=["x"]), "expectations[0].why", "must be a non-empty string when given"),
    (lambda d: d["tiers"]["smoke"]["expectations"][0].update(why="  "), "tiers.smoke.expectations[0].why",
     "must be a non-empty string when given"),
    # overrides must be as valid as what they replace, for a backend that exists
    (lambda d: d["tiers"]["smoke"]["expectations"][0]["overrides"][0].update(set={"min": "zero"}),
     "tiers.smoke.expectations[0].overrides[0].set.min", "must be a finite number"),
    (lambda d: d["tiers"]["smoke"]["expectations"][0]["overrides"][0].update(when={"backend": "jaxx"}),
     "tiers.smoke.expectations[0].overrides[0].when.backend", "must be one of tensorflow, jax, torch"),
    (lambda d: d["tiers"]["smoke"]["expectations"][0]["overrides"][1].update(when={"profile": 5}),
     "tiers.smoke.expectations[0].overrides[1].when.profile", "must be a pattern of profile ids"),
    # a recorded run says what ran, from enough seeds, for the tier that cites it
    (lambda d: d["sources"]["run-smoke"].update(seeds=[0]), "sources.run-smoke.seeds", "1 recorded, at least 5"),
    (lambda d: d["sources"]["run-smoke"].update(seeds="01234"), "sources.run-smoke.seeds", "distinct whole numbers"),
    (lambda d: d["sources"]["run-smoke"].update(seeds=[]), "sources.run-smoke.seeds", "yet the source names a backend"),
    (lambda d: d["sources"]["run-smoke"].update(seeds=[], backend=""), "tiers.smoke.expectations[0].min",
     "has recorded no seeds yet: only 'record' may fill a measured value"),
    (lambda d: d["sources"]["run-smoke"].update(versions=None), "sources.run-smoke.versions", "must map packages"),
    (lambda d: d["sources"]["run-smoke"].update(tier="offline"), "tiers.smoke.expectations[0].source",
     "of the offline tier from the smoke tier"),
    (lambda d: d["sources"]["run-smoke"].update(scale={"samples": 0.05}), "sources.run-smoke.scale",
     "recorded at scale {'samples': 0.05}, but the smoke tier now runs at {'samples': 0.1}"),
    (lambda d: d["tiers"]["smoke"].pop("scale") and d["sources"]["run-smoke"].update(scale={"samples": 0.5}),
     "sources.run-smoke.scale", "but the smoke tier now runs at {}"),
    (lambda d: d["tiers"]["smoke"]["expectations"][0].update(min=None), "tiers.smoke.expectations[0].min",
     "not recorded yet; run 'python -m conformance record --tier smoke --examples ch99_demo --seeds 0-4'"),
    (lambda d: d["expectations"][0].update(value=None), "expectations[0].value", "only a recorded run may fill it"),
    (lambda d: d["tiers"]["smoke"]["expectations"][0]["overrides"][0].update(when={"os": "linux"}),
     "tiers.smoke.expectations[0].overrides[0].when", "must name backend and/or profile"),
    (lambda d: d["expectations"].append({"kind": "best_epoch", "source": "book", "path": "h", "mode": "min",
                                         "window": [5, 2]}), "expectations[1].window", "must be [first, last]"),
    (lambda d: d.update(example="ch98_other"), "example", "file is named for"),
])
def test_malformed_file_names_file_field_and_problem(tmp_path, mutate, field, problem):
    path = write(tmp_path, broken(mutate))
    with pytest.raises(GoldenError) as raised:
        golden.load("ch99_demo", tmp_path)
    assert raised.value.path == str(path)
    assert raised.value.field == field
    assert problem in raised.value.problem
    assert str(path) in str(raised.value)


def test_file_that_is_not_json_is_reported(tmp_path):
    write(tmp_path, '{"schema_version": 1, "example": ')
    with pytest.raises(GoldenError, match="not valid JSON"):
        golden.load("ch99_demo", tmp_path)


def test_a_folder_named_like_a_golden_file_is_reported_not_a_traceback(tmp_path):
    (tmp_path / "ch99_demo.json").mkdir()
    with pytest.raises(GoldenError, match="not a file") as raised:
        golden.load("ch99_demo", tmp_path)
    assert raised.value.field == "(file)" and str(tmp_path / "ch99_demo.json") in str(raised.value)


def test_a_file_that_cannot_be_read_is_reported(tmp_path, monkeypatch):
    unreadable(write(tmp_path, VALID))(monkeypatch)
    with pytest.raises(GoldenError, match="cannot be read: .*Permission denied"):
        golden.load("ch99_demo", tmp_path)


def test_a_file_that_is_not_utf8_is_reported(tmp_path):
    (tmp_path / "ch99_demo.json").write_bytes(b'{"example": "\xff"}')
    with pytest.raises(GoldenError, match="not valid JSON"):
        golden.load("ch99_demo", tmp_path)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(GoldenError, match="no golden file for example 'ch99_demo'"):
        golden.load("ch99_demo", tmp_path)


def test_pending_values_load_only_for_recording(tmp_path):
    write(tmp_path, broken(lambda d: d["tiers"]["smoke"]["expectations"][0].update(min=None)))
    assert golden.load("ch99_demo", tmp_path, pending_ok=True).example == "ch99_demo"


def test_override_precedence_profile_beats_backend(tmp_path):
    write(tmp_path, VALID)
    threshold = golden.load("ch99_demo", tmp_path).expectations_for("smoke")[1]
    assert threshold.resolved(backend="tensorflow", profile_id="cpu-x86_64-2c").fields["min"] == 0.5
    assert threshold.resolved(backend="jax", profile_id="cpu-x86_64-2c").fields["min"] == 0.4
    assert threshold.resolved(backend="tensorflow", profile_id="gpu-nvidia-h100-80gb-x1").fields["min"] == 0.6
    assert threshold.resolved(backend="jax", profile_id="gpu-nvidia-h100-80gb-x1").fields["min"] == 0.6


def test_every_project_golden_file_is_valid():
    directory = golden.golden_dir()
    files = sorted(directory.glob("*.json"))
    assert files, f"no golden files in {directory}"
    for path in files:
        golden.load(path.stem, directory)


def test_validate_fails_on_an_example_without_a_golden_file_and_on_a_missing_folder(tmp_path, capsys):
    for path in golden.golden_dir().glob("*.json"):
        if path.stem != "ch02_mnist_dense":
            shutil.copy(path, tmp_path / path.name)
    assert cli.main(["validate", "--golden-dir", str(tmp_path)]) == 1
    assert f"ch02_mnist_dense has no golden file ({tmp_path / 'ch02_mnist_dense.json'})" in capsys.readouterr().err
    assert cli.main(["validate", "--golden-dir", str(tmp_path / "nowhere")]) == 2
    assert "no golden folder at" in capsys.readouterr().err


def test_validate_fails_on_a_golden_file_whose_example_no_longer_exists(tmp_path, capsys):
    for path in golden.golden_dir().glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    stale = json.loads((tmp_path / "ch02_mnist_dense.json").read_text()) | {"example": "ch02_mnist_dense_old"}
    (tmp_path / "ch02_mnist_dense_old.json").write_text(json.dumps(stale))
    assert cli.main(["validate", "--golden-dir", str(tmp_path)]) == 1
    assert "no example 'ch02_mnist_dense_old' is registered (renamed or removed?)" in capsys.readouterr().err


def test_every_problem_of_a_file_is_reported_not_only_the_first(tmp_path):
    def three_problems(document):
        document["sources"]["third"] = {"kind": "reference"}  # no ref
        document["expectations"].append({"kind": "exact", "source": "third", "path": "values.x", "value": 1})
        document["expectations"][0]["value"] = None  # only a recorded run may be null
        document["tiers"]["smoke"]["expectations"][0]["min"] = float("nan")

    write(tmp_path, broken(three_problems))
    with pytest.raises(GoldenError, match=r"and 2 more problems in the file") as raised:
        golden.load("ch99_demo", tmp_path)
    assert [problem.field for problem in raised.value.problems] == [
        "sources.third.ref", "expectations[0].value", "tiers.smoke.expectations[0].min"]  # not the one citing 'third'


def test_validate_prints_every_problem_of_a_golden_file(tmp_path, capsys):
    for path in golden.golden_dir().glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    document = json.loads((tmp_path / "ch02_mnist_dense.json").read_text())
    document["expectations"][0]["kind"] = "nearly"
    document["tiers"]["smoke"]["expectations"][0]["source"] = "nowhere"
    (tmp_path / "ch02_mnist_dense.json").write_text(json.dumps(document))
    assert cli.main(["validate", "--golden-dir", str(tmp_path)]) == 1
    output = capsys.readouterr()
    assert "expectations[0].kind: must be one of" in output.err
    assert "tiers.smoke.expectations[0].source: 'nowhere' is not one of the file's sources" in output.err
    assert ", 1 with problems" in output.out


def test_a_tier_with_a_problem_of_its_own_adds_no_second_guess_about_its_checks_or_scale(tmp_path):
    def broken_tier(document):
        document["sources"]["run-smoke"]["scale"] = {"samples": 0.1}
        document["tiers"]["smoke"]["bogus"] = 1
        document["tiers"]["smok"] = document["tiers"]["smoke"].pop("expectations") and {
            "expectations": [{"kind": "threshold", "source": "run-smoke", "path": "values.acc", "min": 0.5}]}

    write(tmp_path, broken(broken_tier))
    with pytest.raises(GoldenError) as raised:
        golden.load("ch99_demo", tmp_path)
    assert [problem.field for problem in raised.value.problems] == ["tiers.smoke.bogus", "tiers.smok"]
