"""The fault catalogue plants what it says and restores Keras after; the report attributes each
fault to the examples and checks that caught it; the command runs end to end."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from conformance.engine.runner import Settings
from conformance.errors import ConformanceError, MalformedFile
from conformance.results.records import CheckVerdict, ConformanceRun, ExampleResult
from conformance.sensitivity import faults, report


def planted(fault_id: str):
    return faults.planted(faults.get(fault_id))


# -- the catalogue ---------------------------------------------------------------------------
def test_every_fault_of_the_catalogue_names_targets_that_exist():
    for fault in faults.load_catalogue().values():
        with faults.planted(fault) as tally:
            assert tally.hits == 0, fault.id


@pytest.mark.parametrize("entry, field", [
    ('id = "x"\ndescription = "d"\ntargets = ["keras.layers.Dense.__init__"]\nchange = "teleport"', "change"),
    ('id = "x"\ndescription = "d"\ntargets = []\nchange = "passthrough"', "targets"),
    ('id = "x"\ndescription = "d"\ntargets = ["keras.layers.Dense.__init__"]\nchange = "argument"\nargument = "units"',
     "becomes"),
    ('id = "x"\ndescription = "d"\ntargets = ["keras.layers.Dense.call"]\nchange = "passthrough"\ncolour = 1', "colour"),
    ('id = "relu/dropped"\ndescription = "d"\ntargets = ["keras.layers.Dense.call"]\nchange = "passthrough"', "id"),
])
def test_a_malformed_fault_is_an_error_naming_its_field(tmp_path, entry, field):
    path = tmp_path / "faults.toml"
    path.write_text(f"[[fault]]\n{entry}\n")
    with pytest.raises(MalformedFile) as raised:
        faults.load_catalogue(path)
    assert raised.value.field == f"fault[0].{field}"


def test_duplicate_fault_ids_and_unknown_ids_are_errors(tmp_path):
    entry = '[[fault]]\nid = "x"\ndescription = "d"\ntargets = ["keras.layers.Dense.call"]\nchange = "passthrough"\n'
    path = tmp_path / "faults.toml"
    path.write_text(entry * 2)
    with pytest.raises(MalformedFile, match="duplicate id 'x'"):
        faults.load_catalogue(path)
    with pytest.raises(ConformanceError, match="unknown fault 'nope'; the catalogue has relu-dropped"):
        faults.get("nope")
    with pytest.raises(ConformanceError, match="no fault matches"):
        faults.select("nothing*")


def test_a_misspelt_target_in_the_catalogue_is_refused_before_any_run(tmp_path):
    path = tmp_path / "faults.toml"
    path.write_text('[[fault]]\nid = "ok"\ndescription = "d"\ntargets = ["keras.layers.Dense.call"]\n'
                    'change = "passthrough"\n[[fault]]\nid = "typo"\ndescription = "d"\n'
                    'targets = ["keras.layers.Densee.__init__"]\nchange = "passthrough"\n')
    with pytest.raises(MalformedFile, match="Densee") as raised:
        faults.check_targets(faults.load_catalogue(path), path)
    assert raised.value.field == "fault[1].targets"
    faults.check_targets(faults.load_catalogue())  # the shipped catalogue


def test_a_glob_that_matches_no_fault_is_an_error_even_beside_others_that_match():
    with pytest.raises(ConformanceError, match="no fault matches 'zzz\\*'"):
        faults.select("relu-dropped,zzz*")


def test_a_target_that_does_not_exist_is_an_error():
    ghost = faults.Fault("ghost", "d", ("keras.layers.NoSuchLayer.__init__",), "passthrough")
    with pytest.raises(ConformanceError, match="does not exist"):
        with faults.planted(ghost):
            pass


# -- planting ----------------------------------------------------------------------------------
def test_an_argument_fault_changes_only_the_values_it_names_and_counts_them():
    import keras

    with planted("relu-dropped") as tally:
        hidden = keras.layers.Dense(4, activation="relu")
        output = keras.layers.Dense(4, activation="softmax")
    assert hidden.activation is keras.activations.linear
    assert output.activation is keras.activations.softmax
    assert tally.hits == 1


def test_planting_restores_the_library_afterwards_even_after_an_error():
    import keras

    before = {name: vars(keras.layers.Dense).get(name) for name in ("__init__", "call")}
    with pytest.raises(RuntimeError):
        with planted("relu-dropped"):
            raise RuntimeError("the example broke")
    assert keras.layers.Dense(2, activation="relu").activation is keras.activations.relu
    assert {name: vars(keras.layers.Dense).get(name) for name in ("__init__", "call")} == before
    inherited = keras.layers.RandomFlip.call  # RandomFlip inherits call: the wrapper goes, nothing is left behind
    with planted("augmentation-ignored"):
        assert keras.layers.RandomFlip.call is not inherited
    assert "call" not in vars(keras.layers.RandomFlip) and keras.layers.RandomFlip.call is inherited


def test_a_scaled_argument_counts_its_default():
    import keras

    with planted("learning-rate-100x") as tally:
        optimizer = keras.optimizers.get("rmsprop")  # compile(optimizer="rmsprop") builds it this way
    assert float(optimizer.learning_rate) == pytest.approx(0.1)
    assert tally.hits == 1


def test_keyword_only_arguments_reach_the_layer_through_kwargs():
    import keras

    with planted("dense-frozen"):
        assert keras.layers.Dense(3).trainable is False
    with planted("weight-regularizer-ignored"):
        assert keras.layers.Dense(3, kernel_regularizer=keras.regularizers.l2(0.002)).kernel_regularizer is None


def test_permuted_labels_no_longer_match_their_inputs_and_datasets_are_left_alone():
    fault = faults.get("labels-shuffled")
    labels = np.arange(100)
    shuffled = faults._change(fault, labels)
    assert sorted(shuffled) == list(labels) and (shuffled != labels).mean() > 0.9
    assert faults._change(fault, None) is faults._UNCHANGED


def test_a_passthrough_layer_returns_its_input():
    import keras

    images = np.random.RandomState(0).rand(2, 8, 8, 3).astype("float32")
    with planted("augmentation-ignored") as tally:
        out = keras.layers.RandomRotation(0.4)(images, training=True)
    np.testing.assert_allclose(np.asarray(out), images)
    assert tally.hits >= 1


# -- probing where faults reach ----------------------------------------------------------------
def test_a_probe_counts_the_calls_each_fault_would_change_and_changes_none():
    import keras

    with faults.probed(faults.select(None)) as tallies:
        hidden = keras.layers.Dense(4, activation="relu")
        output = keras.layers.Dense(4, activation="softmax")
        optimizer = keras.optimizers.get("rmsprop")
    assert hidden.activation is keras.activations.relu and hidden.trainable
    assert float(optimizer.learning_rate) == pytest.approx(1e-3)
    hits = {fault: tally.hits for fault, tally in tallies.items() if tally.hits}
    assert hits == {"relu-dropped": 1, "softmax-dropped": 1, "dense-frozen": 2, "learning-rate-100x": 1,
                    "learning-rate-100x-smaller": 1}
    assert keras.layers.Dense(2, activation="relu").activation is keras.activations.relu  # restored


def reload_and_evaluate(tmp_path: Path, loss: str) -> float:
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="rmsprop", loss=loss)
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    return reloaded.evaluate(np.zeros((4, 3)), np.eye(2)[[0, 1, 0, 1]], verbose=0)


@pytest.mark.parametrize("wrapping", ["probed", "planted"])
def test_a_model_reloaded_under_a_probe_or_the_loss_fault_is_still_compiled(tmp_path, wrapping):
    """load_model compiles a loaded model only when Model.compile is Keras's own: a wrapper in the
    wrong place made every reloaded model fail with 'No loss to compute', which a sensitivity run
    counted as catching the fault."""
    wrapper = (faults.probed(faults.select(None)) if wrapping == "probed"
               else faults.planted(faults.get("loss-swapped-for-mse")))
    with wrapper:
        loss = reload_and_evaluate(tmp_path, "categorical_crossentropy")
    # Predictions of exactly 0.5 (zero inputs, zero bias): the cross-entropy is log 2, and the loss
    # the fault compiles in, mean squared error, is 0.25; the probe changes nothing.
    assert loss == pytest.approx(np.log(2) if wrapping == "probed" else 0.25, rel=1e-4)


def small_training() -> None:
    """A little of everything the catalogue targets: every fault reaches it but the sigmoid's."""
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.RandomFlip("horizontal")(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-3))(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.5)(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    model.compile(keras.optimizers.RMSprop(), "sparse_categorical_crossentropy")
    data = np.random.RandomState(0)
    model.fit(data.rand(8, 8, 8, 3).astype("float32"), data.randint(0, 3, 8), epochs=2, batch_size=4, verbose=0)


BREAKS_SMALL_TRAINING = {"pooling-dropped": None, "loss-swapped-for-mse": "mean_squared_error"}  # None: any message


@pytest.mark.slow
def test_the_probe_finds_exactly_the_faults_that_planting_would_change():
    catalogue = faults.select(None)
    with faults.probed(catalogue) as tallies:
        small_training()
    probed = {fault: tally.hits > 0 for fault, tally in tallies.items()}
    planted_reach = {}
    for fault in catalogue:
        # Two faults break this model's shapes: a pooling layer that passes its input through, and
        # mean squared error between integer labels and 3 class probabilities. Any other fault that
        # raises here is an error of this test's, not a reach to compare.
        breaks = (pytest.raises(ValueError, match=BREAKS_SMALL_TRAINING[fault.id]) if fault.id in BREAKS_SMALL_TRAINING
                  else contextlib.nullcontext())
        with faults.planted(fault) as tally, breaks:
            small_training()
        planted_reach[fault.id] = tally.hits > 0
    assert probed == planted_reach
    assert [fault for fault, reached in probed.items() if not reached] == ["sigmoid-dropped"]


def test_a_probed_run_keeps_the_settings_of_a_plain_run_and_cannot_also_plant_a_fault():
    from conformance.engine.runner import SettingsError

    assert Settings(probe_faults=True).to_json() == Settings().to_json()
    with pytest.raises(SettingsError, match="not both"):
        Settings(fault="relu-dropped", probe_faults=True)


def test_run_refuses_a_fault_and_a_probe_together(capsys):
    from conformance.cli import main

    assert main(["run", "--fault", "relu-dropped", "--probe-faults", "--examples", "ch02_mnist_dense"]) == 2
    assert "choose one" in capsys.readouterr().err


def reaching(example: str, status: str = "passed", **calls: int) -> ExampleResult:
    """A result of a probed run: per fault, the calls it would have changed."""
    return dataclasses.replace(result(example, status), fault_reach=calls)


def test_what_a_probe_found_survives_the_run_file():
    probed = reaching("a", **{"relu-dropped": 3})
    assert ExampleResult.from_json(probed.to_json(), "run.json", "examples[0]").fault_reach == {"relu-dropped": 3}
    assert "fault_reach" not in result("a").to_json()  # a run that did not probe writes nothing


def test_each_fault_runs_only_on_the_examples_it_reaches(tmp_path, monkeypatch):
    from conformance.sensitivity import runner

    clean = conformance_run(reaching("a", caught=2, missed=1), reaching("b", caught=1),
                            reaching("broken", "failed", caught=4), reaching("c"))
    ran: dict[str, str | None] = {}

    def run_tier(options, name, folder, examples):
        ran[name] = examples
        if name == runner.CLEAN:
            return clean
        caught = name == "caught"
        return conformance_run(*(result(example, "failed" if caught else "passed", 1, ("x",) if caught else ())
                                 for example in examples.split(",")))

    monkeypatch.setattr(runner, "_run_tier", run_tier)
    monkeypatch.setattr(faults, "select", lambda patterns: CATALOGUE[:3])
    options = runner.SensitivityOptions(faults=None, examples=None, tier="smoke", backend="tensorflow", seed=0,
                                        workers="1", results_dir=tmp_path, command="cmd")
    assert runner.run(options) == 1  # "broken" fails without a fault
    assert ran == {runner.CLEAN: None, "caught": "a,b", "missed": "a"}  # "idle" reaches nothing: not run
    written = json.loads(next(tmp_path.glob("*/sensitivity/*/report.json")).read_text())
    verdicts = {fault["id"]: fault["verdict"] for fault in written["faults"]}
    assert verdicts == {"caught": "caught", "missed": "missed", "idle": "not exercised"}


def test_a_run_without_a_fault_that_did_not_finish_stops_the_report_with_its_log(tmp_path, monkeypatch):
    from conformance.sensitivity import runner

    cut_short = dataclasses.replace(conformance_run(reaching("a", caught=1)), planned=["a", "b"])
    ran = []
    monkeypatch.setattr(runner, "_run_tier", lambda options, name, folder, examples: ran.append(name) or cut_short)
    monkeypatch.setattr(faults, "select", lambda patterns: CATALOGUE[:1])
    options = runner.SensitivityOptions(faults=None, examples=None, tier="smoke", backend="tensorflow", seed=0,
                                        workers="1", results_dir=tmp_path, command="cmd")
    with pytest.raises(ConformanceError, match=r"did not finish \(.*1 of 2 planned examples have no result.*"
                                               r"no-fault\.log"):
        runner.run(options)
    assert ran == [runner.CLEAN]  # no fault runs on a reach that is not known


def test_the_detection_gate_counts_a_fault_that_reached_no_example_as_missed(tmp_path, monkeypatch, capsys):
    from conformance.sensitivity import runner

    def run_tier(options, name, folder, examples):
        if name == runner.CLEAN:
            return conformance_run(reaching("a", caught=2))  # "idle" reaches nothing, as after a Keras rename
        return conformance_run(result("a", "failed", 1, ("x",)))

    monkeypatch.setattr(runner, "_run_tier", run_tier)
    monkeypatch.setattr(faults, "select", lambda patterns: [CATALOGUE[0], CATALOGUE[2]])
    options = runner.SensitivityOptions(faults=None, examples=None, tier="smoke", backend="tensorflow", seed=0,
                                        workers="1", results_dir=tmp_path, command="cmd", min_detection=0.9)
    assert runner.run(options) == 1  # 1 of 1 exercised (100%), but 1 of 2 run
    captured = capsys.readouterr()
    assert "1 of 2 faults caught (50%; 1 reached no example), below --min-detection 90%" in captured.err
    assert "Of all 2 faults run, 1 caught (50%" in captured.out


# -- the run records its fault -------------------------------------------------------------
def test_a_run_with_a_fault_never_has_the_settings_of_a_run_without():
    plain, faulted = Settings(), Settings(fault="relu-dropped")
    assert "fault" not in plain.to_json()  # run files written before faults existed keep their settings
    assert faulted.to_json()["fault"] == "relu-dropped" and faulted.to_json() != plain.to_json()


def test_run_rejects_an_unknown_fault_before_running_anything(capsys):
    from conformance.cli import main

    assert main(["run", "--fault", "nope", "--examples", "ch02_mnist_dense"]) == 2
    assert "unknown fault 'nope'" in capsys.readouterr().err


# -- the report ------------------------------------------------------------------------------
def result(example: str, status: str = "passed", hits: int | None = None, failed: tuple[str, ...] = (),
           reason: str = "") -> ExampleResult:
    checks = tuple(CheckVerdict(name, "threshold", "failed", "", None, "run", name) for name in failed)
    return ExampleResult(id=example, tier="smoke", backend="tensorflow", seed=0, status=status, checks=checks,
                         fault_hits=hits, reason=reason)


def conformance_run(*examples: ExampleResult, finished: bool = True) -> ConformanceRun:
    return ConformanceRun(run_id="r", started="t", profile={}, settings={"tier": "smoke", "backend": "tensorflow",
                          "seed": 0}, examples=list(examples), planned=[e.id for e in examples],
                          finished="t" if finished else None, exit_status=1 if finished else None)


CATALOGUE = [faults.Fault(name, f"{name} breaks", ("keras.layers.Dense.call",), "passthrough")
             for name in ("caught", "missed", "idle", "lost")]


def test_the_report_attributes_each_fault_and_states_the_detection_rate():
    clean = conformance_run(result("a"), result("b"), result("flaky", "failed", failed=("x",)),
                            result("tpu", "skipped", reason="device missing"))
    runs = {
        "caught": conformance_run(result("a", "failed", 3, ("threshold values.test_acc",)),
                                  result("b", "error", 1, reason="ValueError: shapes\ntraceback"),
                                  result("flaky", "failed", 2, ("x",))),
        "missed": conformance_run(result("a", hits=5), result("b", "failed", 0, ("noise",)), result("flaky")),
        "idle": conformance_run(result("a", hits=0), result("b", hits=0)),
        "lost": None,
    }
    built = report.build("python -m conformance sensitivity", clean, runs, CATALOGUE)
    verdicts = {outcome.id: outcome for outcome in built.faults}
    assert verdicts["caught"].verdict == report.CAUGHT
    assert verdicts["caught"].caught_by == {"a": ["threshold values.test_acc"], "b": ["raised ValueError: shapes"]}
    assert verdicts["missed"].verdict == report.MISSED and verdicts["missed"].touched == ["a"]
    assert verdicts["missed"].failed_untouched == ["b"]  # failing where the fault never reached is noise
    assert verdicts["idle"].verdict == report.NOT_EXERCISED
    assert verdicts["lost"].verdict == report.NO_RESULT
    assert built.clean_failures == {"flaky": "failed"}  # left out: it fails without a fault; a skip is no failure
    assert built.detection_rate == 0.5
    assert built.per_example() == {"a": (2, 1), "b": (1, 1)}
    text = report.render(built)
    assert "**Detection: 1 of 2 exercised faults caught (50%).**" in text
    assert "Not exercised by any example of this tier: idle." in text
    assert "- **missed** reached a; none of their checks failed." in text
    assert json.loads(json.dumps(built.to_json()))["detection_rate"] == 0.5


def test_a_run_cut_short_says_so_in_its_verdict():
    clean = conformance_run(result("a"), result("b"))
    cut = conformance_run(result("a", "failed", 1, ("x",)), finished=False)
    cut.planned = ["a", "b"]
    built = report.build("cmd", clean, {"caught": cut}, CATALOGUE[:1])
    assert built.faults[0].verdict == report.CAUGHT
    assert "did not finish" in built.faults[0].note


def raised_under(fault: faults.Fault, example: Callable[[], None]) -> ExampleResult:
    """The result the engine records for an example that raises with ``fault`` planted."""
    import traceback

    with faults.planted(fault) as tally:
        try:
            example()
        except Exception as error:
            return dataclasses.replace(result("a", "error", tally.hits, reason=f"{type(error).__name__}: {error}"),
                                       traceback=traceback.format_exc())
    raise AssertionError("the example did not raise")


def test_an_error_raised_by_the_call_the_fault_changed_is_a_refused_fault_not_a_catch():
    """A `becomes` Keras does not accept crashes every example the fault reaches: that is the
    catalogue's error, and must not score as caught."""
    import keras

    misspelt = faults.Fault("misspelt", "activation='relu' becomes a name Keras does not know", (
        "keras.layers.Dense.__init__",), "argument", argument="activation", when=("relu",), becomes="linaer")
    refused = raised_under(misspelt, lambda: keras.layers.Dense(2, activation="relu"))
    assert "linaer" in refused.reason and refused.fault_hits == 1
    clean = conformance_run(result("a"), result("b"))
    built = report.build("cmd", clean, {"misspelt": conformance_run(refused, result("b", hits=1))}, [misspelt])
    outcome = built.faults[0]
    assert outcome.verdict == report.REFUSED and outcome.caught_by == {}
    assert list(outcome.refused) == ["a"] and "linaer" in outcome.refused["a"] and outcome.touched == ["a", "b"]
    assert built.detection_rate == 0.0 and built.caught_of_all == 0.0  # exercised, not caught
    text = report.render(built)
    assert "**Detection: 0 of 1 exercised faults caught (0%).**" in text
    assert "## Refused" in text and "- **misspelt**: a (raised ValueError" in text

    # caught elsewhere by a check: still caught, with a note to check the fault
    run = conformance_run(refused, result("b", "failed", 1, ("threshold values.test_acc",)))
    outcome = report.build("cmd", clean, {"misspelt": run}, [misspelt]).faults[0]
    assert outcome.verdict == report.CAUGHT and list(outcome.caught_by) == ["b"] and list(outcome.refused) == ["a"]
    assert "refused the planted call in 1" in outcome.note


def test_an_error_raised_after_the_planted_call_returned_is_caught_and_said_to_be_only_an_error():
    """A pooling layer that passes its input through breaks the next layer's shapes: the fault's
    effect, which the suite notices; the report says no check caught it."""
    import keras

    def example() -> None:
        model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.MaxPooling2D(), keras.layers.Flatten(),
                                  keras.layers.Dense(1)])
        model(np.zeros((1, 8, 8, 3), "float32"))

    fault = faults.get("pooling-dropped")
    crashed = raised_under(fault, example)
    assert not report.refused_planted_call(crashed)
    clean = conformance_run(result("a"))
    built = report.build("cmd", clean, {"pooling-dropped": conformance_run(crashed)}, [fault])
    assert built.faults[0].verdict == report.CAUGHT and built.faults[0].caught_by["a"][0].startswith("raised ")
    assert "Caught only by examples that raised, no check failing: pooling-dropped." in report.render(built)
    assert report.refused_planted_call(dataclasses.replace(crashed, traceback="")) is False  # old files: caught


def test_an_error_inside_a_fit_the_fault_changed_is_its_effect_and_caught():
    """one-epoch wraps the whole of fit(): a callback that reads the second epoch's loss raises inside
    that call, because the fault took the epoch away, not because Keras refused a value."""
    import keras

    class SecondEpochReader(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            self.model.history.history["loss"][1]

    def example() -> None:
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32"), epochs=2, verbose=0,
                  callbacks=[SecondEpochReader()])

    fault = faults.get("one-epoch")
    crashed = raised_under(fault, example)
    assert report.refused_planted_call(crashed)  # the traceback passes through the wrapper of fit ...
    built = report.build("cmd", conformance_run(result("a")), {"one-epoch": conformance_run(crashed)}, [fault])
    assert built.faults[0].verdict == report.CAUGHT and not built.faults[0].refused  # ... yet it is a catch


# -- end to end -------------------------------------------------------------------------------
@pytest.mark.nightly
@pytest.mark.slow
@pytest.mark.subprocess
def test_the_command_reports_a_planted_fault_caught_by_the_check_that_caught_it(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "conformance", "sensitivity", "--faults", "labels-shuffled,pooling-dropped",
         "--examples", "ch03_keras_compile_fit_validation", "--workers", "1", "--results-dir", str(tmp_path)],
        cwd=Path(__file__).parents[1], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    written = json.loads(next(tmp_path.glob("*/sensitivity/*/report.json")).read_text())
    by_id = {fault["id"]: fault for fault in written["faults"]}
    assert by_id["labels-shuffled"]["verdict"] == "caught"
    assert "ch03_keras_compile_fit_validation" in by_id["labels-shuffled"]["caught_by"]
    assert by_id["pooling-dropped"]["verdict"] == "not exercised"  # the example has no pooling layer
    assert written["detection_rate"] == 1.0
    assert "Detection: 1 of 1 exercised faults caught (100%)" in completed.stdout
