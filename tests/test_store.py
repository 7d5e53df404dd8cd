"""The results store keeps every worker's result, survives interrupted writes and refuses corrupt files."""

import json
import multiprocessing
import os

import pytest

from conformance.results import store


def result(i, tier="smoke"):
    return {"id": f"ch99_example_{i:02d}", "tier": tier, "status": "passed", "checks": []}


def _add_many(path, start, count):
    for i in range(start, start + count):
        store.add_example(path, result(i))


def test_run_file_has_profile_settings_and_examples(tmp_path):
    path = store.run_path(tmp_path, "cpu-test-2c", store.new_run_id("smoke", "tensorflow"))
    store.create_run(path, {"id": "cpu-test-2c"}, {"tier": "smoke"})
    store.add_example(path, result(1))
    document = json.loads(path.read_text())
    assert path.parent.name == "cpu-test-2c"
    assert document["profile"]["id"] == "cpu-test-2c"
    assert document["settings"] == {"tier": "smoke"}
    assert [e["id"] for e in document["examples"]] == ["ch99_example_01"]


def test_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "cpu" / "run.json"
    store.create_run(path, {"id": "cpu"}, {})
    workers = [multiprocessing.Process(target=_add_many, args=(path, w * 25, 25)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
        assert w.exitcode == 0
    ids = sorted(e["id"] for e in store.read_run(path)["examples"])
    assert ids == [f"ch99_example_{i:02d}" for i in range(100)]


def test_same_example_and_tier_is_replaced_not_duplicated(tmp_path):
    path = tmp_path / "run.json"
    store.create_run(path, {}, {})
    store.add_example(path, result(1))
    store.add_example(path, {**result(1), "status": "failed"})
    store.add_example(path, result(1, tier="offline"))
    examples = store.read_run(path)["examples"]
    assert sorted((e["tier"], e["status"]) for e in examples) == [("offline", "passed"), ("smoke", "failed")]


def test_interrupted_write_leaves_previous_version_whole(tmp_path, monkeypatch):
    path = tmp_path / "run.json"
    store.create_run(path, {}, {})
    store.add_example(path, result(1))

    def crash(*args):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        store.add_example(path, result(2))
    monkeypatch.undo()
    assert [e["id"] for e in store.read_run(path)["examples"]] == ["ch99_example_01"]
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"], "temporary file left behind"


def test_corrupt_results_file_is_reported_and_left_untouched(tmp_path):
    path = tmp_path / "run.json"
    path.write_text('{"examples": [')
    with pytest.raises(store.CorruptResults, match="not valid JSON"):
        store.add_example(path, result(1))
    assert path.read_text() == '{"examples": ['


def test_resumed_run_keeps_its_examples(tmp_path):
    path = tmp_path / "run.json"
    store.create_run(path, {"id": "a"}, {})
    store.add_example(path, result(1))
    store.create_run(path, {"id": "a"}, {})
    assert len(store.read_run(path)["examples"]) == 1
