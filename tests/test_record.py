"""Recording rewrites only run-sourced measured values, from what the runs observed."""

import json
from pathlib import Path

import pytest

from conformance.engine.record import RecordError, rerecorded

RAW = {
    "schema_version": 1, "example": "ch99_demo",
    "sources": {"book": {"kind": "book", "section": "9.9", "printed": "10", "quote": "Total params: 10"},
                "run-smoke": {"kind": "run"}},
    "expectations": [{"kind": "exact", "source": "book", "path": "values.params", "value": 10}],
    "tiers": {"smoke": {"expectations": [
        {"kind": "threshold", "source": "run-smoke", "path": "values.acc", "min": None, "margin": 0.05},
        {"kind": "exact", "source": "run-smoke", "path": "values.shape", "value": None},
        {"kind": "approx", "source": "run-smoke", "path": "values.loss", "value": None, "atol": 0.1},
        {"kind": "threshold", "source": "book", "path": "values.acc", "min": 0.5},
    ]}},
}


SEEDS = [0, 1, 2, 3, 4]  # the fewest a recording may stand on


def placeholder_run_source(tier):
    """A run source before its first recording: every field present, none filled."""
    return {"kind": "run", "command": "", "tier": tier, "seeds": [], "backend": "", "versions": {}, "profile": "",
            "date": ""}


def observed(acc, loss, shape=(6, 28), params=999):
    return {"values": {"acc": acc, "loss": loss, "shape": list(shape), "params": params},
            "history": {"fit": {"loss": [loss * 2, loss]}}}


def test_threshold_takes_worst_seed_less_margin_and_others_their_measure():
    updated, changes = rerecorded(RAW, "smoke", ["run-smoke"], [observed(0.9, 0.3), observed(0.8, 0.5)])
    smoke = updated["tiers"]["smoke"]["expectations"]
    assert smoke[0]["min"] == pytest.approx(0.75)
    assert smoke[1]["value"] == [6, 28]
    assert smoke[2]["value"] == pytest.approx(0.4)
    assert len(changes) == 3


def test_book_and_computed_values_are_never_touched():
    updated, _ = rerecorded(RAW, "smoke", ["run-smoke"], [observed(0.1, 0.3)])
    assert updated["expectations"][0]["value"] == 10
    assert updated["tiers"]["smoke"]["expectations"][3]["min"] == 0.5
    assert RAW["tiers"]["smoke"]["expectations"][0]["min"] is None  # the input is not mutated


def test_exact_value_that_differs_between_seeds_is_refused():
    with pytest.raises(RecordError, match="differs between seeds"):
        rerecorded(RAW, "smoke", ["run-smoke"], [observed(0.9, 0.3, (6, 28)), observed(0.9, 0.3, (7, 28))])


def test_recordings_of_two_tiers_of_one_file_both_land(tmp_path, monkeypatch):
    """Two recordings of one golden file at once (say smoke and offline) must not lose either."""
    from conformance.engine import record as recording
    from conformance.engine import golden as golden_files

    raw = {**RAW, "sources": {**RAW["sources"], "run-smoke": placeholder_run_source("smoke"),
                              "run-offline": placeholder_run_source("offline")},
           "tiers": {"smoke": {"expectations": [RAW["tiers"]["smoke"]["expectations"][0]]},
                     "offline": {"expectations": [{**RAW["tiers"]["smoke"]["expectations"][0], "source": "run-offline"}]}}}
    path = tmp_path / "ch99_demo.json"
    path.write_text(json.dumps(raw))

    class Spec:
        id = "ch99_demo"

    monkeypatch.setattr(recording.registry, "select", lambda patterns: [Spec()])
    monkeypatch.setattr(recording, "skip_reason", lambda spec, settings: None)

    def execute_then_let_the_other_tier_land(spec, settings, scale):
        if settings.tier == "smoke":  # while smoke trains, the offline recording finishes
            recording.record("ch99_demo", tier="offline", backend="tensorflow", seeds=SEEDS, precision="float32",
                             devices=1, command="offline", golden_dir=tmp_path)

        acc = 0.9 if settings.tier == "smoke" else 0.7

        class Run:
            outcome = type("O", (), {"to_json": staticmethod(lambda: observed(acc, 0.3, params=10))})

        return Run()

    monkeypatch.setattr(recording, "execute", execute_then_let_the_other_tier_land)
    assert recording.record("ch99_demo", tier="smoke", backend="tensorflow", seeds=SEEDS, precision="float32",
                            devices=1, command="smoke", golden_dir=tmp_path) == 0
    landed = golden_files.load("ch99_demo", tmp_path)
    assert landed.tiers["smoke"]["expectations"][0].fields["min"] == pytest.approx(0.85)
    assert landed.tiers["offline"]["expectations"][0].fields["min"] == pytest.approx(0.65)


def record_one_seed(tmp_path, monkeypatch, *, acc: float, indent: int = 2) -> tuple[int, Path]:
    """Record ch99_demo's smoke tier from one seed that observes ``acc``; the exit status and the file."""
    from conformance.engine import record as recording

    raw = {**RAW, "sources": {**RAW["sources"], "run-smoke": placeholder_run_source("smoke")},
           "tiers": {"smoke": {"scale": {"samples": 0.5},
                               "expectations": [RAW["tiers"]["smoke"]["expectations"][i] for i in (0, 3)]}}}
    path = tmp_path / "ch99_demo.json"
    path.write_text(json.dumps(raw, indent=indent) + "\n")

    class Spec:
        id = "ch99_demo"

    class Run:
        outcome = type("O", (), {"to_json": staticmethod(lambda: observed(acc, 0.3, params=10))})

    monkeypatch.setattr(recording.registry, "select", lambda patterns: [Spec()])
    monkeypatch.setattr(recording, "skip_reason", lambda spec, settings: None)
    monkeypatch.setattr(recording, "execute", lambda spec, settings, scale: Run())
    status = recording.record("ch99_demo", tier="smoke", backend="tensorflow", seeds=SEEDS, precision="float32",
                              devices=1, command="smoke", golden_dir=tmp_path)
    return status, path


@pytest.mark.parametrize("indent", [1, 2])
def test_a_recording_keeps_the_golden_files_indentation_and_reports_each_seed(tmp_path, monkeypatch, capsys, indent):
    """Golden files are written with one or two spaces; re-recording one must not re-indent every line."""
    status, path = record_one_seed(tmp_path, monkeypatch, acc=0.9, indent=indent)
    assert status == 0
    assert "ch99_demo: seed 0 ran in" in capsys.readouterr().out  # a long recording shows its progress
    rewritten = path.read_text()
    assert json.loads(rewritten)["tiers"]["smoke"]["expectations"][0]["min"] == pytest.approx(0.85)
    assert rewritten.splitlines()[1] == " " * indent + '"schema_version": 1,'
    stamp = json.loads(rewritten)["sources"]["run-smoke"]
    assert stamp["seeds"] == SEEDS and stamp["scale"] == {"samples": 0.5}  # what the values were taken at


def test_a_recorded_seed_that_fails_a_check_is_reported_and_the_command_fails(tmp_path, monkeypatch, capsys):
    """The recorded bound follows the seed down (0.3 - 0.05), but the book's floor of 0.5 does not: the seed
    is red under the new file, and recording must say so rather than land it quietly."""
    status, path = record_one_seed(tmp_path, monkeypatch, acc=0.3)
    assert status == 1
    printed = capsys.readouterr().out.splitlines()
    assert any(line.startswith("ch99_demo: seed 0 fails") and "expected values.acc >= 0.5, actual 0.3" in line
               for line in printed), printed
    assert json.loads(path.read_text())["tiers"]["smoke"]["expectations"][0]["min"] == pytest.approx(0.25)


def test_recording_on_another_backend_than_the_values_were_recorded_on_is_refused(tmp_path, monkeypatch, capsys):
    """The base values are what every backend is checked against; a JAX recording would rewrite TensorFlow's."""
    from conformance.engine import record as recording

    status, path = record_one_seed(tmp_path, monkeypatch, acc=0.9)
    assert status == 0 and json.loads(path.read_text())["sources"]["run-smoke"]["backend"] == "tensorflow"
    before = path.read_text()
    monkeypatch.setattr(recording, "execute", lambda *a: pytest.fail("ran seeds it could not record"))
    assert recording.record("ch99_demo", tier="smoke", backend="jax", seeds=SEEDS, precision="float32", devices=1,
                            command="jax", golden_dir=tmp_path) == 1
    assert "recorded with backend tensorflow (this recording: jax)" in capsys.readouterr().out
    assert path.read_text() == before


@pytest.mark.parametrize("setting", [{"precision": "mixed_float16"}, {"devices": 2}])
def test_recording_under_another_precision_or_device_count_is_refused_too(tmp_path, monkeypatch, capsys, setting):
    from conformance.engine import record as recording

    record_one_seed(tmp_path, monkeypatch, acc=0.9)
    monkeypatch.setattr(recording, "execute", lambda *a: pytest.fail("ran seeds it could not record"))
    chosen = {"precision": "float32", "devices": 1, **setting}
    assert recording.record("ch99_demo", tier="smoke", backend="tensorflow", seeds=SEEDS, command="other",
                            golden_dir=tmp_path, **chosen) == 1
    [(name, value)] = setting.items()
    assert f"recorded with {name} " in capsys.readouterr().out


def test_fewer_seeds_than_a_bound_needs_are_refused_before_anything_runs(tmp_path, monkeypatch):
    from conformance.engine import record as recording

    monkeypatch.setattr(recording, "execute", lambda *a: pytest.fail("ran seeds it could not record"))
    for dry_run in (False, True):  # a dry run shows what would land, and five seeds is what may land
        with pytest.raises(RecordError, match="--seeds 0,1: a recording needs at least 5 seeds"):
            recording.record("ch99_demo", tier="smoke", backend="tensorflow", seeds=[0, 1], precision="float32",
                             devices=1, command="two", golden_dir=tmp_path, dry_run=dry_run)
