"""The command line and the pytest plugin, end to end, in subprocesses as a user runs them."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.engine.golden import golden_dir

pytestmark = pytest.mark.subprocess  # every test runs `python -m conformance`

FAST = "ch03_simple_dense_layer,ch02_gradienttape_basics,ch03_gradienttape_second_order"


def conformance(*args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "conformance", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=env)


def only_run_file(results):
    files = list(Path(results).glob("*/conformance/*.json"))
    assert len(files) == 1, files
    return json.loads(files[0].read_text())


@pytest.mark.slow
def test_list_shows_every_example_with_chapter_data_and_tiers(tmp_path):
    done = conformance("list", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = {r["id"]: r for r in json.loads(done.stdout)}
    assert rows["ch02_mnist_dense"]["chapter"] == 2
    assert rows["ch02_mnist_dense"]["datasets"] == ["mnist"]
    assert rows["ch02_mnist_dense"]["tiers"] == ["smoke", "offline", "book"]
    assert rows["ch02_gradienttape_basics"]["backends"] == ["tensorflow"]


@pytest.mark.slow
def test_run_writes_results_and_prints_a_summary(tmp_path):
    done = conformance("run", "--examples", FAST, "--workers", "2", "--junitxml", "junit.xml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "conformance summary" in done.stdout and "3 passed" in done.stdout
    document = only_run_file(tmp_path / "results")
    assert document["profile"]["id"] == Path(next((tmp_path / "results").iterdir())).name
    assert document["settings"]["tier"] == "smoke"
    entries = {e["id"]: e for e in document["examples"]}
    assert set(entries) == set(FAST.split(","))
    entry = entries["ch03_simple_dense_layer"]
    assert {"id", "tier", "backend", "status", "reason", "duration_s", "checks", "metrics", "history"} <= set(entry)
    assert entry["status"] == "passed"
    assert {"name", "status", "expected", "actual", "source"} <= set(entry["checks"][0])
    assert (tmp_path / "junit.xml").exists()


@pytest.mark.slow
def test_run_fails_with_expected_and_actual_when_a_golden_value_is_wrong(tmp_path):
    golden = tmp_path / "golden"
    shutil.copytree(golden_dir(), golden)
    path = golden / "ch03_simple_dense_layer.json"
    document = json.loads(path.read_text())
    for item in document["expectations"]:
        if item["path"] == "values.sequential_param_count":
            item["value"] = 12345
    path.write_text(json.dumps(document))
    done = conformance("run", "--examples", "ch03_simple_dense_layer", "--golden-dir", str(golden), cwd=tmp_path)
    assert done.returncode == 1
    assert "exact values.sequential_param_count: failed; expected values.sequential_param_count == 12345, " \
           "actual 29642" in done.stdout
    assert "FAILED" in done.stdout
    assert only_run_file(tmp_path / "results")["examples"][0]["status"] == "failed"


@pytest.mark.slow
def test_malformed_golden_file_is_an_error_naming_file_and_field(tmp_path):
    golden = tmp_path / "golden"
    shutil.copytree(golden_dir(), golden)
    (golden / "ch03_simple_dense_layer.json").write_text('{"schema_version": 2}')
    done = conformance("run", "--examples", "ch03_simple_dense_layer", "--golden-dir", str(golden), cwd=tmp_path)
    assert done.returncode == 1
    assert "ch03_simple_dense_layer.json: schema_version: must be 1" in done.stdout


@pytest.mark.slow
def test_a_results_dir_that_cannot_be_written_is_a_usage_error_before_any_example_runs(tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    done = conformance("run", "--examples", "ch03_simple_dense_layer", "--results-dir", "taken/results", "--workers",
                       "1", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert "error: cannot write the run file taken/results/" in output and "Not a directory" in output
    assert "INTERNALERROR" not in output and "Traceback" not in output
    assert "ch03_simple_dense_layer" not in done.stdout  # no example ran


@pytest.mark.slow
def test_a_run_id_that_holds_another_run_is_refused_and_its_file_kept(tmp_path):
    """A --run-id resumes that run; naming one that was run with other settings would put results in the file that
    its header does not describe."""
    first = conformance("run", "--examples", "ch03_simple_dense_layer", "--run-id", "mine", "--results-dir", "r",
                        cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    (path,) = (tmp_path / "r").glob("*/conformance/mine.json")
    before = path.read_text()
    second = conformance("run", "--examples", "ch03_simple_dense_layer", "--run-id", "mine", "--results-dir", "r",
                         "--seed", "7", "-q", cwd=tmp_path)  # options for pytest do not change what the refusal is
    assert second.returncode == 2, second.stdout + second.stderr  # a usage error, no traceback
    assert "does not know went to pytest" not in second.stderr
    assert "holds run 'mine' with other settings" in second.stderr and "Traceback" not in second.stderr
    assert path.read_text() == before


@pytest.mark.slow
def test_a_mistyped_option_is_named_as_one_the_command_passed_to_pytest(tmp_path):
    done = conformance("run", "--examples", "ch03_simple_dense_layer", "--seeds", "1", cwd=tmp_path)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "options 'python -m conformance run' does not know went to pytest: --seeds 1" in done.stderr


@pytest.mark.slow
def test_pytest_options_that_deselect_every_example_say_so(tmp_path):
    done = conformance("run", "--examples", "ch03_simple_dense_layer", "-k", "no_such_example", cwd=tmp_path)
    assert done.returncode == 5, done.stdout + done.stderr
    assert "no example ran: the options passed to pytest (-k no_such_example) deselected every one" in done.stderr


@pytest.mark.slow
def test_unknown_pattern_exits_2_with_a_clear_message(tmp_path):
    done = conformance("run", "--examples", "ch99*", cwd=tmp_path)
    assert done.returncode == 2
    assert "no example matches ch99*" in done.stderr


@pytest.mark.slow
def test_jax_backend_runs_keras_examples_and_skips_tensorflow_ones_with_a_reason(tmp_path):
    import jax  # noqa: F401 -- the tests session installs the jax extra: missing, it is a failure

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = conformance("run", "--backend", "jax", "--examples", "ch03_simple_dense_layer,ch02_gradienttape_basics",
                       cwd=tmp_path, env={**os.environ, "TMPDIR": str(scratch)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert not list(scratch.glob("conformance-xla-cache-*")), "the run's compilation cache outlived the run"
    entries = {e["id"]: e for e in only_run_file(tmp_path / "results")["examples"]}
    assert entries["ch03_simple_dense_layer"]["status"] == "passed"
    assert entries["ch02_gradienttape_basics"]["status"] == "skipped"
    assert "runs on tensorflow only" in entries["ch02_gradienttape_basics"]["reason"]


@pytest.mark.slow  # about 2 s: one interpreter importing the whole CLI
def test_help_explains_the_commands(tmp_path):
    done = conformance("--help", cwd=tmp_path)
    assert done.returncode == 0
    for command in ("list", "run", "profile", "record", "validate"):
        assert command in done.stdout


@pytest.mark.nightly
@pytest.mark.slow
def test_two_emulated_devices_run_several_models_in_one_process(tmp_path):
    """MirroredStrategy over two emulated CPU devices, two examples in one worker: their
    all-reduces must not collide (they did with collective ops keyed per process)."""
    done = conformance("run", "--devices", "2", "--workers", "1",
                       "--examples", "ch02_mnist_dense,ch03_keras_compile_fit_validation", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    for entry in only_run_file(tmp_path / "results")["examples"]:
        assert entry["metrics"]["replicas_in_sync"] == 2
