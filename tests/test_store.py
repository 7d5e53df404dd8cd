"""The results store keeps every worker's result, survives interrupted writes and refuses corrupt files."""

import json
import math
import multiprocessing
import os

import pytest

from conformance.errors import ConformanceError
from conformance.results import store
from conformance.results.records import ConformanceRun, ExampleResult, MalformedRecord
from helpers import unreadable


def result(i, tier="smoke", status="passed"):
    return ExampleResult(id=f"ch99_example_{i:02d}", tier=tier, backend="tensorflow", seed=0, status=status)


def _add_many(path, start, count):
    for i in range(start, start + count):
        store.add_example(path, result(i))


def test_run_file_has_profile_settings_and_examples(tmp_path):
    path = store.run_path(tmp_path, "cpu-test-2c", "conformance", store.new_run_id("smoke", "tensorflow"))
    store.create_run(path, {"id": "cpu-test-2c"}, {"tier": "smoke"}, [])
    store.add_example(path, result(1))
    document = json.loads(path.read_text())
    assert path.parent == tmp_path / "cpu-test-2c" / "conformance"
    assert document["kind"] == "conformance" and document["profile"]["id"] == "cpu-test-2c"
    assert document["settings"] == {"tier": "smoke"}
    assert [e["id"] for e in document["examples"]] == ["ch99_example_01"]


def test_a_run_folder_lists_only_run_files_after_locked_writes(tmp_path):
    path = store.run_path(tmp_path, "cpu-test-2c", "conformance", "run-1")
    store.create_run(path, {"id": "cpu-test-2c"}, {}, [])
    store.add_example(path, result(1))
    visible = [p.name for p in path.parent.iterdir() if not p.name.startswith(".")]
    assert visible == ["run-1.json"]
    assert store.runs(tmp_path, "cpu-test-2c", "conformance") == [path]


@pytest.mark.subprocess  # four forked writers
def test_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "cpu" / "run.json"
    store.create_run(path, {"id": "cpu"}, {}, [])
    workers = [multiprocessing.Process(target=_add_many, args=(path, w * 25, 25)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
        assert w.exitcode == 0
    ids = sorted(e.id for e in store.read_run(path).examples)
    assert ids == [f"ch99_example_{i:02d}" for i in range(100)]


def test_a_run_id_too_long_for_a_file_name_is_refused_before_anything_runs():
    store.check_run_id("r" * store.MAX_RUN_ID_LENGTH)
    with pytest.raises(ConformanceError, match="260 characters, at most 128"):
        store.run_path("results", "cpu", "bench", "r" * 260)


def test_written_files_are_readable_as_the_umask_allows_and_keep_their_mode(tmp_path):
    path = tmp_path / "run.json"
    previous = os.umask(0o022)
    try:
        store.write_json_atomically(path, {"a": 1})
        assert path.stat().st_mode & 0o777 == 0o644  # mkstemp alone leaves 0o600: unreadable to the lab's others
        path.chmod(0o640)
        store.write_json_atomically(path, {"a": 2})
        assert path.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(previous)


def test_same_example_and_tier_is_replaced_not_duplicated(tmp_path):
    path = tmp_path / "run.json"
    store.create_run(path, {}, {}, [])
    store.add_example(path, result(1))
    store.add_example(path, result(1, status="failed"))
    store.add_example(path, result(1, tier="offline"))
    examples = store.read_run(path).examples
    assert sorted((e.tier, e.status) for e in examples) == [("offline", "passed"), ("smoke", "failed")]


def test_interrupted_write_leaves_previous_version_whole(tmp_path, monkeypatch):
    path = tmp_path / "run.json"
    store.create_run(path, {}, {}, [])
    store.add_example(path, result(1))

    def crash(*args):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        store.add_example(path, result(2))
    monkeypatch.undo()
    assert [e.id for e in store.read_run(path).examples] == ["ch99_example_01"]
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"], "temporary file left behind"


def test_corrupt_results_file_is_reported_and_left_untouched(tmp_path):
    path = tmp_path / "run.json"
    path.write_text('{"examples": [')
    with pytest.raises(MalformedRecord, match="run.json: \\(file\\): not valid JSON"):
        store.add_example(path, result(1))
    assert path.read_text() == '{"examples": ['


def test_resumed_run_keeps_its_examples(tmp_path):
    path = tmp_path / "run.json"
    store.create_run(path, {"id": "a"}, {}, [])
    store.add_example(path, result(1))
    store.create_run(path, {"id": "a"}, {}, [])
    assert len(store.read_run(path).examples) == 1


def test_resuming_a_run_with_other_settings_is_refused_and_the_file_kept(tmp_path):
    path = tmp_path / "run.json"
    store.create_run(path, {"id": "a"}, {"tier": "smoke", "seed": 0}, [])
    store.add_example(path, result(1))
    before = path.read_text()
    with pytest.raises(ConformanceError, match=r"holds run 'run' with other settings .*seed 0.*this run: .*seed 7"):
        store.create_run(path, {"id": "a"}, {"tier": "smoke", "seed": 7}, [])
    with pytest.raises(ConformanceError, match="profile a.*this run: .*profile b"):
        store.create_run(path, {"id": "b"}, {"tier": "smoke", "seed": 0}, [])
    assert path.read_text() == before


def test_resuming_a_run_for_other_examples_is_refused_and_the_file_kept(tmp_path):
    path = tmp_path / "run.json"
    store.create_run(path, {"id": "a"}, {}, ["ch05_a", "ch05_b"], selection="ch05*")
    store.add_example(path, result(1))
    before = path.read_text()
    store.create_run(path, {"id": "a"}, {}, ["ch05_b", "ch05_a"], selection="ch05_b,ch05_a")  # the same plan
    with pytest.raises(ConformanceError, match=r"holds run 'run' of other examples \(--examples ch05\*: 2 planned; "
                                               r"this run: ch02\*, 1\)"):
        store.create_run(path, {"id": "a"}, {}, ["ch02_a"], selection="ch02*")
    assert path.read_text() == before


def test_runs_are_listed_by_start_time_whatever_their_names_or_state(tmp_path):
    folder = tmp_path / "p" / "conformance"
    folder.mkdir(parents=True)
    (folder / "zz-named.json").write_text('{"started": "2026-01-01T08:00:00Z"}')  # "Z", as Python 3.11 writes none
    (folder / "20260101T090000Z-x.json").write_text('{"started": "2026-01-01T09:00:00"}')  # naive: the store's UTC
    (folder / "aa-later.json").write_text('{"started": "2026-01-01T11:00:00+01:00"}')  # 10:00 UTC
    (folder / "dangling.json").symlink_to(tmp_path / "gone.json")  # cannot be looked at: first, no traceback
    assert [p.name for p in store.runs(tmp_path, "p", "conformance")] == [
        "dangling.json", "zz-named.json", "20260101T090000Z-x.json", "aa-later.json"]


def test_a_run_id_must_name_a_file_in_the_run_folder(tmp_path):
    local_build = store.run_path(tmp_path, "p", "conformance", "keras-3.13.0.dev5+g1a-seed0")  # bisect's names
    assert local_build.parent == tmp_path / "p" / "conformance"
    for bad in ("../escape", "a/b", ".hidden", ""):
        with pytest.raises(ConformanceError, match="use letters, digits"):
            store.run_path(tmp_path, "p", "conformance", bad)


def test_a_missing_run_file_is_a_clear_error(tmp_path):
    with pytest.raises(MalformedRecord, match=r"nope\.json: \(file\): cannot be read"):
        store.read_run(tmp_path / "nope.json")


def test_a_history_that_is_not_a_set_of_series_is_named_by_file_and_field(tmp_path):
    path = tmp_path / "run.json"
    document = ConformanceRun(run_id="r", started="t", profile={}, settings={}, examples=[result(1)]).to_json()
    document["examples"][0]["history"] = {"fit": [0.5, 0.4]}
    path.write_text(json.dumps(document))
    with pytest.raises(MalformedRecord, match=r"run\.json: examples\[0\]\.history: must map each history's name"):
        store.read_run(path)


def test_a_malformed_example_is_named_by_file_and_field(tmp_path):
    path = tmp_path / "run.json"
    document = ConformanceRun(run_id="r", started="t", profile={}, settings={}, examples=[result(1)]).to_json()
    document["examples"][0]["status"] = "green"
    path.write_text(json.dumps(document))
    with pytest.raises(MalformedRecord, match=r"run\.json: examples\[0\]\.status: must be one of passed, failed"):
        store.read_run(path)
    del document["examples"][0]["seed"]
    path.write_text(json.dumps(document))
    with pytest.raises(MalformedRecord, match=r"run\.json: examples\[0\]\.seed: missing"):
        store.read_run(path)


def test_a_benchmark_run_is_not_read_as_a_conformance_run(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"schema_version": 1, "kind": "bench", "entries": []}))
    with pytest.raises(MalformedRecord, match=r"kind: must be 'conformance' \(this is a bench file\)"):
        store.read_run(path)


def test_an_example_result_reads_back_as_it_was_written(tmp_path):
    path = tmp_path / "run.json"
    store.create_run(path, {"id": "a"}, {"tier": "smoke"}, [])
    written = ExampleResult(id="ch99_x", tier="smoke", backend="jax", seed=3, status="error", reason="boom",
                            duration_s=1.5, metrics={"acc": 0.5}, history={"fit": {"loss": [1.0, 0.5]}},
                            traceback="Traceback ...")
    store.add_example(path, written)
    assert store.read_run(path).examples == [written]


def test_a_diverged_run_is_written_as_standard_json_and_reads_back_non_finite(tmp_path):
    path = tmp_path / "run.json"
    store.create_run(path, {"id": "a"}, {"tier": "smoke"}, [])
    store.add_example(path, ExampleResult(
        id="ch99_x", tier="smoke", backend="jax", seed=0, status="failed", reason="NaN",
        metrics={"loss": math.nan, "best": math.inf, "worst": -math.inf},
        history={"fit": {"loss": [2.5, math.nan]}}))

    def refuse(constant):  # what jq and other strict readers do with a bare NaN or Infinity
        raise ValueError(f"not JSON: {constant}")

    document = json.loads(path.read_text(), parse_constant=refuse)
    assert document["examples"][0]["metrics"] == {"loss": "NaN", "best": "Infinity", "worst": "-Infinity"}
    (read,) = store.read_run(path).examples
    assert math.isnan(read.metrics["loss"]) and read.metrics["best"] == math.inf and read.metrics["worst"] == -math.inf
    assert read.history["fit"]["loss"][0] == 2.5 and math.isnan(read.history["fit"]["loss"][1])
    assert read.reason == "NaN"  # text is text where the record says so


def test_a_run_file_written_with_bare_nan_before_still_reads(tmp_path):
    path = tmp_path / "run.json"
    store.create_run(path, {"id": "a"}, {"tier": "smoke"}, [])
    store.add_example(path, result(1))
    document = json.loads(path.read_text())
    document["examples"][0]["metrics"] = {"loss": float("nan")}
    path.write_text(json.dumps(document))
    assert math.isnan(store.read_run(path).examples[0].metrics["loss"])


def test_a_run_says_what_it_planned_and_whether_it_finished(tmp_path):
    path = tmp_path / "run.json"
    store.create_run(path, {"id": "a"}, {"tier": "smoke"}, ["ch99_example_01", "ch99_example_02", "ch99_example_03"],
                     selection="ch99*")
    store.add_example(path, result(1))
    run = store.read_run(path)
    assert not run.complete and run.missing == ["ch99_example_02", "ch99_example_03"]
    assert "never finished" in run.incompleteness() and "2 of 3 planned examples" in run.incompleteness()
    store.mark_not_run(path, ["ch99_example_03"], "deselected by pytest (-k / -m)")
    store.add_example(path, result(2))
    store.finish_run(path, exit_status=0)
    run = store.read_run(path)
    assert run.complete and run.not_run == {"ch99_example_03": "deselected by pytest (-k / -m)"}
    assert json.loads(path.read_text())["complete"] is True


def test_an_interrupted_session_is_not_a_complete_run(tmp_path):
    path = tmp_path / "run.json"
    store.create_run(path, {"id": "a"}, {}, ["ch99_example_01"])
    store.add_example(path, result(1))
    store.finish_run(path, exit_status=2)  # pytest's INTERRUPTED: Ctrl-C
    run = store.read_run(path)
    assert not run.complete and "ended early (interrupted)" in run.incompleteness()


STACK = {"id": "a", "python": "3.11.9", "libraries": {"keras": "3.5.0", "tensorflow": "2.17.0"}}


def test_resuming_a_run_on_another_software_stack_is_refused_naming_what_changed(tmp_path):
    """The profile id names the hardware only: a library upgrade keeps it, and must not resume the old stack's run."""
    path = tmp_path / "run.json"
    store.create_run(path, STACK, {"tier": "smoke"}, [])
    store.add_example(path, result(1))
    before = path.read_text()
    upgraded = {**STACK, "python": "3.12.3", "libraries": {"keras": "3.6.0", "tensorflow": "2.17.0", "jax": "0.4.30"}}
    with pytest.raises(ConformanceError, match=r"holds run 'run' from another software stack \(jax \(none\) → 0\.4\.30; "
                                               r"keras 3\.5\.0 → 3\.6\.0; python 3\.11\.9 → 3\.12\.3\)"):
        store.create_run(path, upgraded, {"tier": "smoke"}, [])
    assert path.read_text() == before
    store.create_run(path, {**STACK, "memory_gib": 64.0}, {"tier": "smoke"}, [])  # the same stack resumes


def test_a_resumed_run_is_unfinished_until_its_new_session_finishes(tmp_path):
    """A resumed session killed part-way must not leave the first session's 'finished' over results of both."""
    path = tmp_path / "run.json"
    store.create_run(path, {"id": "a"}, {}, ["ch99_example_01"])
    store.add_example(path, result(1))
    store.finish_run(path, exit_status=0)
    assert store.read_run(path).complete
    store.create_run(path, {"id": "a"}, {}, ["ch99_example_01"])  # resumed; then SIGKILLed before it finishes
    run = store.read_run(path)
    assert run.finished is None and run.exit_status is None and not run.complete
    assert "never finished" in run.incompleteness() and json.loads(path.read_text())["complete"] is False
    store.finish_run(path, exit_status=0)
    assert store.read_run(path).complete


def test_an_example_run_after_being_left_out_is_no_longer_listed_as_not_run(tmp_path):
    path = tmp_path / "run.json"
    store.create_run(path, {"id": "a"}, {}, ["ch99_example_01", "ch99_example_02"])
    store.mark_not_run(path, ["ch99_example_01", "ch99_example_02"], "deselected by pytest (-k / -m)")
    store.create_run(path, {"id": "a"}, {}, ["ch99_example_01", "ch99_example_02"])  # resumed, selecting one
    store.add_example(path, result(1))
    assert store.read_run(path).not_run == {"ch99_example_02": "deselected by pytest (-k / -m)"}
    store.create_run(path, {"id": "a"}, {}, ["ch99_example_01", "ch99_example_02"])  # resumed, selecting the other
    store.mark_not_run(path, ["ch99_example_01"], "deselected by pytest (-k / -m)")
    assert "ch99_example_01" not in store.read_run(path).not_run  # its earlier result stands


def test_an_unreadable_run_file_is_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "run.json"
    store.create_run(path, {"id": "a"}, {}, [])
    unreadable(path)(monkeypatch)
    with pytest.raises(MalformedRecord, match=r"run\.json: \(file\): cannot be read \(Permission denied\)"):
        store.read_run(path)


def test_a_results_folder_that_cannot_be_made_is_a_clear_error_before_anything_runs(tmp_path):
    not_a_folder = tmp_path / "results"
    not_a_folder.write_text("a file where the results folder should be")
    path = store.run_path(not_a_folder, "cpu", "conformance", "run-1")
    with pytest.raises(ConformanceError, match=r"cannot write the run file .*run-1\.json: Not a directory \(check "
                                               r"--results-dir\)"):
        store.create_run(path, {"id": "cpu"}, {}, [])


def test_golden_files_chosen_by_the_environment_are_recorded_too(tmp_path, monkeypatch):
    from conformance.engine.runner import Settings, recorded_settings

    monkeypatch.setenv("CONFORMANCE_GOLDEN", str(tmp_path / "golden"))
    assert recorded_settings(Settings(), None)["golden_dir"] == str((tmp_path / "golden").resolve())


def test_a_run_judged_against_other_golden_files_records_them_and_is_not_resumed_with_the_projects(tmp_path):
    from conformance.engine.golden import golden_dir
    from conformance.engine.runner import Settings, recorded_settings

    own = recorded_settings(Settings(), None)
    assert own == Settings().to_json() == recorded_settings(Settings(), golden_dir())  # old run files still match
    other = recorded_settings(Settings(), tmp_path / "golden")
    assert other == {**own, "golden_dir": str((tmp_path / "golden").resolve())}
    path = tmp_path / "run.json"
    store.create_run(path, {"id": "a"}, other, [])
    with pytest.raises(ConformanceError, match=r"with other settings \(.*golden_dir .*golden.*this run: tier smoke, "
                                               r"backend tensorflow, precision float32, devices 1, seed 0, profile a"):
        store.create_run(path, {"id": "a"}, own, [])
