"""compare-stacks and bisect: the stack spec, the registry listing, the moved-metric rule, the bisection
over fake releases and fake environments, the report; and, in the slow lane, real environments built
from wheels this test writes (a tiny package whose later releases change how Keras counts parameters),
with no network: the environments inherit this interpreter's packages and pip finds the wheels in a folder;
and one full build, of a fake project whose own cap a stack's pin goes beyond.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import dataclasses
import json
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.version import Version

from conformance import cli
from conformance.errors import ConformanceError
from conformance.results.records import CheckVerdict, ConformanceRun, ExampleResult
from conformance.upgrade import bisect as search
from conformance.upgrade import report, spread, stacks, verdicts, workflows
from conformance.upgrade.registry import (FileInfo, LocalRegistry, PyPIRegistry, Release, between, release_notes_url,
                                          skip_reason)
from conformance.upgrade.runs import RunPlan, SeedRun

PROJECT = Path(__file__).resolve().parents[1]
PY = "3.11.7"


# -- the stack spec ------------------------------------------------------------------------------
def test_a_stack_is_comma_separated_requirements():
    stack = stacks.parse_stack("keras==3.10.*, tensorflow-cpu==2.19.*")
    assert [str(r) for r in stack.requirements] == ["keras==3.10.*", "tensorflow-cpu==2.19.*"]
    assert stack.names == ["keras", "tensorflow-cpu"] and not stack.wants_jax


def test_a_specifier_with_commas_stays_one_requirement():
    stack = stacks.parse_stack("keras>=3.10,<3.12,jax[cpu]==0.4.*")
    assert [r.name for r in stack.requirements] == ["keras", "jax"]
    assert str(stack.requirements[0].specifier) == "<3.12,>=3.10"
    assert stack.wants_jax


def test_the_empty_stack_is_the_projects_own_dependencies():
    assert stacks.parse_stack("").requirements == ()
    assert "project's own" in stacks.parse_stack("").label


@pytest.mark.parametrize("spec, problem", [("keras==3.10.*,keras==3.11.*", "more than once"),
                                           ("keras===,", "not a requirement"), ("ker as", "not a requirement")])
def test_a_bad_stack_is_a_user_error(spec, problem):
    with pytest.raises(ConformanceError, match=problem):
        stacks.parse_stack(spec)


def test_with_pin_replaces_a_pin_of_the_same_package():
    stack = stacks.parse_stack("keras==3.10.*,numpy<2").with_pin("Keras==3.12.0")
    assert [str(r) for r in stack.requirements] == ["numpy<2", "Keras==3.12.0"]


def test_the_cache_key_changes_with_the_pins_and_the_options_only(tmp_path):
    options = stacks.BuildOptions(root=tmp_path)
    key = stacks.environment_key(stacks.parse_stack("keras==3.10.*,numpy<3"), options)
    assert key == stacks.environment_key(stacks.parse_stack("numpy<3, keras==3.10.*"), options)
    assert key != stacks.environment_key(stacks.parse_stack("keras==3.11.*,numpy<3"), options)
    assert key != stacks.environment_key(stacks.parse_stack("keras==3.10.*,numpy<3"),
                                         stacks.BuildOptions(root=tmp_path, inherit=True))
    assert stacks.BuildOptions().extras_for(stacks.parse_stack("jax==0.4.30")) == ("jax", "offline", "tensorboard", "tuner")


def test_a_pin_replaces_the_projects_range_for_its_package_keeping_extras_and_markers(tmp_path):
    (tmp_path / "pyproject.toml").write_text("""[project]
name = "p"
version = "1"
dependencies = ["keras>=3.5,<3.16", "tensorflow-cpu>=2.16,<2.22; platform_machine == 'x86_64'", "numpy>=1.26,<3"]
[project.optional-dependencies]
jax = ["jax[cpu]>=0.4.30"]
torch = ["torch>=2.6,<2.16"]
""")
    own = ["keras>=3.5,<3.16", "tensorflow-cpu>=2.16,<2.22; platform_machine == 'x86_64'", "numpy>=1.26,<3"]

    def install(spec, extras=("jax",)):
        return stacks.requirements_to_install(stacks.parse_stack(spec), tmp_path, extras)

    assert install("") == own + ["jax[cpu]>=0.4.30"]  # the empty stack: the project's own ranges, as written
    assert install("scipy<2") == own + ["jax[cpu]>=0.4.30", "scipy<2"]  # a pin the project does not name: added
    assert install("Keras==3.16.0rc1,jax==0.12.0,tensorflow-cpu>=2.22") == [
        "keras", 'tensorflow-cpu; platform_machine == "x86_64"', "numpy>=1.26,<3", "jax[cpu]",
        "Keras==3.16.0rc1", "jax==0.12.0", "tensorflow-cpu>=2.22"]
    assert install("torch==2.16.0", extras=()) == own + ["torch==2.16.0"]  # an extra not installed is left alone
    # a pin that holds only where its marker is true leaves the project's range in force everywhere else
    assert install("keras==3.16.0; python_version >= '3.12'", extras=()) == own + [
        'keras==3.16.0; python_version >= "3.12"']
    with pytest.raises(ConformanceError, match="has no extra gpu"):
        install("", extras=("gpu",))


def test_pip_reason_is_pips_error_line():
    output = "Looking in links: /x\nERROR: Could not find a version that satisfies the requirement keras==9\n" \
             "ERROR: No matching distribution found for keras==9\n"
    assert stacks.pip_reason(output).startswith("Could not find a version that satisfies the requirement keras==9")


# -- the registry --------------------------------------------------------------------------------
def _file(name, requires=None, yanked=False, reason=None):
    return {"filename": name, "requires_python": requires, "yanked": yanked, "yanked_reason": reason}


PYPI_DOCUMENT = {"releases": {
    "3.10.0": [_file("keras-3.10.0-py3-none-any.whl", ">=3.9"), _file("keras-3.10.0.tar.gz", ">=3.9")],
    "3.11.0": [_file("keras-3.11.0-py3-none-any.whl", ">=3.10", yanked=True, reason="broken saving")],
    "3.11.1": [_file("keras-3.11.1-py3-none-any.whl", ">=3.10")],
    "3.12.0": [_file("keras-3.12.0-py3-none-any.whl", ">=3.12")],
    "3.12.1": [_file("keras-3.12.1-cp311-cp311-win_amd64.whl", ">=3.10")],
    "3.13.0rc1": [_file("keras-3.13.0rc1-py3-none-any.whl")],
    "3.13.0": [_file("keras-3.13.0-py3-none-any.whl")],
    "3.14.0": [],
    "not-a-version": [_file("keras-x.tar.gz")],
}}


def test_pypi_listing_is_ordered_and_says_why_a_release_cannot_be_installed(monkeypatch):
    monkeypatch.setattr("conformance.upgrade.registry.python_version", lambda: PY)
    releases = {str(r.version): r.skip_reason for r in PyPIRegistry.parse(PYPI_DOCUMENT)}
    assert list(releases) == ["3.10.0", "3.11.0", "3.11.1", "3.12.0", "3.12.1", "3.13.0rc1", "3.13.0", "3.14.0"]
    assert releases["3.10.0"] is None and releases["3.11.1"] is None and releases["3.13.0"] is None
    assert releases["3.11.0"] == "yanked (broken saving)"
    assert releases["3.12.0"] == f"requires Python >=3.12 (this is {PY})"
    assert releases["3.12.1"].startswith("no wheel for this platform")
    assert releases["3.14.0"] == "no files on the registry"


def test_an_sdist_alone_is_installable():
    assert skip_reason([FileInfo("x-1.0.tar.gz")], python=PY) is None


def test_between_takes_both_ends_leaves_out_prereleases_and_accepts_either_order():
    releases = PyPIRegistry.parse(PYPI_DOCUMENT)
    assert [str(r.version) for r in between(releases, "3.11.1", "3.13.0")] == ["3.11.1", "3.12.0", "3.12.1", "3.13.0"]
    assert [str(r.version) for r in between(releases, "3.13.0", "3.11.1")] == ["3.11.1", "3.12.0", "3.12.1", "3.13.0"]
    assert "3.13.0rc1" in [str(r.version) for r in between(releases, "3.11.1", "3.13.0", pre=True)]
    with pytest.raises(ConformanceError, match="3.9.9 is not a release; nearby"):
        between(releases, "3.9.9", "3.13.0")


def test_release_notes_links():
    assert release_notes_url("keras", "3.12.0") == "https://github.com/keras-team/keras/releases/tag/v3.12.0"
    assert release_notes_url("tensorflow-cpu", "2.20.0") == \
        "https://github.com/tensorflow/tensorflow/releases/tag/v2.20.0"
    assert release_notes_url("jax", "0.4.30") == "https://github.com/jax-ml/jax/releases/tag/jax-v0.4.30"
    assert release_notes_url("ml_dtypes", "0.5.1") == "https://pypi.org/project/ml-dtypes/0.5.1/"


def test_a_folder_of_wheels_is_a_registry(tmp_path):
    for version, requires in (("1.0.0", None), ("1.1.0", ">=3.99"), ("1.2.0", None)):
        build_wheel(tmp_path, "plantfix", version, {"plantfix/__init__.py": ""}, requires_python=requires)
    build_wheel(tmp_path, "other", "9.0", {"other/__init__.py": ""})
    releases = LocalRegistry(tmp_path).releases("PlantFix")
    assert [str(r.version) for r in releases] == ["1.0.0", "1.1.0", "1.2.0"]
    assert releases[1].skip_reason.startswith("requires Python >=3.99")
    with pytest.raises(ConformanceError, match="no release"):
        LocalRegistry(tmp_path).releases("absent")


# -- the moved-metric rule -----------------------------------------------------------------------
@pytest.mark.parametrize("before, after, verdict", [
    ((0.80, 0.82, 0.81), (0.90, 0.91, 0.89), spread.MOVED),  # beyond both ranges
    ((0.80, 0.86, 0.83), (0.84, 0.85, 0.86), spread.STEADY),  # within the seed range
    ((0.80, 0.81, 0.82), (0.80, 0.81, 0.82), spread.STEADY),
    ((12345, 12345), (12346, 12346), spread.MOVED),  # no seed spread: any change is real
    ((0.5,), (0.6,), spread.UNJUDGED),  # one seed: no spread to judge by
    ((0.5,), (0.5,), spread.STEADY),
    ((0.5, 0.5), (0.5 + 1e-9, 0.5), spread.STEADY),  # round-off
    ((0.3, math.nan), (0.3, 0.31), spread.MOVED),  # a loss that became NaN (or stopped being one)
    ((math.nan, math.nan), (math.nan, math.nan), spread.STEADY),
])
def test_the_moved_rule(before, after, verdict):
    assert spread.movement(before, after).verdict == verdict


def test_the_rule_is_stated_in_help_and_describes_its_numbers(capsys):
    move = spread.movement((0.80, 0.82), (0.90, 0.91))
    assert "seed range 0.02" in move.describe() and "+0.095" in move.describe()
    with pytest.raises(SystemExit):
        cli.main(["compare-stacks", "--help"])
    assert " ".join(spread.MOVED_RULE.split()[:12]) in " ".join(capsys.readouterr().out.split())


# -- bisection over fake releases ----------------------------------------------------------------
def releases(*versions, skips=None):
    skips = skips or {}
    return [(Version(v), skips.get(v)) for v in versions]


VERSIONS = ("3.10.0", "3.10.1", "3.11.0", "3.11.1", "3.12.0", "3.12.1", "3.13.0", "3.14.0", "3.15.0")


def fake_verdict(changed_at, broken=(), calls=None):
    """A verdict function: 'failed' from ``changed_at`` on; pip cannot install the ``broken`` versions."""
    def observe(version):
        if calls is not None:
            calls.append(str(version))
        if str(version) in broken:
            raise search.Unobservable("No matching distribution found for ml-dtypes==0.0.1")
        return "failed" if version >= Version(changed_at) else "passed"
    return observe


def same(a, b):
    return a == b


@pytest.mark.parametrize("changed_at", VERSIONS[1:])
def test_bisect_finds_the_first_changed_release_in_log2_environments(changed_at):
    calls = []
    result = search.search(releases(*VERSIONS), fake_verdict(changed_at, calls=calls), same)
    assert result.outcome == search.FOUND and str(result.first_changed) == changed_at
    assert len(calls) <= 2 + math.ceil(math.log2(len(VERSIONS) - 2))
    assert len(set(calls)) == len(calls)  # no version observed twice


def test_a_change_at_the_first_release_after_good_and_at_the_last():
    first = search.search(releases(*VERSIONS), fake_verdict("3.10.1"), same)
    assert (str(first.last_same), str(first.first_changed)) == ("3.10.0", "3.10.1")
    last = search.search(releases(*VERSIONS), fake_verdict("3.15.0"), same)
    assert (str(last.last_same), str(last.first_changed)) == ("3.14.0", "3.15.0")


def test_no_change_between_the_ends_is_said_after_two_environments():
    calls = []
    result = search.search(releases(*VERSIONS), fake_verdict("9.0", calls=calls), same)
    assert result.outcome == search.NO_CHANGE and result.first_changed is None
    assert calls == ["3.10.0", "3.15.0"]


def test_versions_the_listing_rules_out_are_never_tried():
    calls = []
    listed = releases(*VERSIONS, skips={"3.12.0": "requires Python >=3.12 (this is 3.11.7)"})
    result = search.search(listed, fake_verdict("3.13.0", calls=calls), same)
    assert "3.12.0" not in calls
    assert str(result.first_changed) == "3.13.0" and result.outcome == search.FOUND
    assert [(str(s.version), s.skipped) for s in result.steps if s.skipped] == \
        [("3.12.0", "requires Python >=3.12 (this is 3.11.7)")]


def test_a_version_pip_cannot_install_is_skipped_with_the_reason_and_a_neighbour_tried():
    calls = []
    result = search.search(releases(*VERSIONS), fake_verdict("3.14.0", broken={"3.12.0"}, calls=calls), same)
    assert str(result.first_changed) == "3.14.0" and result.outcome == search.FOUND
    skipped = [s for s in result.steps if s.skipped]
    assert [str(s.version) for s in skipped] == ["3.12.0"] and "No matching distribution" in skipped[0].skipped


def test_a_change_next_to_uninstallable_versions_is_reported_as_one_of_them():
    result = search.search(releases(*VERSIONS), fake_verdict("3.12.0", broken={"3.11.1", "3.12.0"}), same)
    assert result.outcome == search.AMBIGUOUS
    assert str(result.last_same) == "3.11.0" and str(result.first_changed) == "3.12.1"
    assert [str(v) for v in result.untested_between] == ["3.11.1", "3.12.0"]


def test_an_end_that_cannot_be_installed_is_a_user_error():
    with pytest.raises(ConformanceError, match="oldest version 3.10.0 cannot be installed"):
        search.search(releases(*VERSIONS, skips={"3.10.0": "yanked"}), fake_verdict("3.12.0"), same)
    with pytest.raises(ConformanceError, match="newest version 3.15.0 cannot be observed here"):
        search.search(releases(*VERSIONS), fake_verdict("3.12.0", broken={"3.15.0"}), same)


# -- verdicts over seeds -------------------------------------------------------------------------
def verdict(name, status, actual=1):
    return CheckVerdict(name, "exact", status, "== 1", actual, "computed", f"{name}: {status}")


def result(example, status="passed", checks=(), metrics=None, seed=0, models=None):
    return ExampleResult(id=example, tier="smoke", backend="tensorflow", seed=seed, status=status,
                         reason="" if status == "passed" else "something", checks=tuple(checks),
                         metrics=metrics or {}, models=models or {})


def run_of(*results, run_id="r"):
    return ConformanceRun(run_id=run_id, started="t", profile={"id": "cpu-test"}, settings={},
                          examples=list(results), planned=[r.id for r in results], finished="t", exit_status=0)


def test_a_checks_verdict_over_seeds():
    passing = {s: run_of(result("ex", checks=[verdict("c", "passed")])) for s in (0, 1)}
    mixed = {0: run_of(result("ex", checks=[verdict("c", "passed")])),
             1: run_of(result("ex", "failed", checks=[verdict("c", "failed")]))}
    broken = {0: run_of(result("ex", "error")), 1: None}
    assert verdicts.observe(passing, "ex", "c").verdict == "passed"
    assert verdicts.observe(mixed, "ex", "c").verdict == "mixed: passed on seed 0, failed on seed 1"
    assert verdicts.observe(broken, "ex", "c").verdict == "mixed: error on seed 0, no result on seed 1"
    assert not verdicts.same(verdicts.observe(passing, "ex", "c"), verdicts.observe(mixed, "ex", "c"))


def test_a_metrics_values_over_seeds_and_whether_it_moved():
    def runs(*values):
        return {s: run_of(result("ex", metrics={"acc": v}, models={"m": {"params": 10}})) for s, v in enumerate(values)}

    reference = verdicts.observe(runs(0.80, 0.82, 0.81), "ex", "values.acc")
    assert reference.verdict == "mean 0.81 (range 0.8–0.82 over 3 seeds)"
    assert verdicts.same(reference, verdicts.observe(runs(0.81, 0.80, 0.815), "ex", "values.acc"))
    assert not verdicts.same(reference, verdicts.observe(runs(0.70, 0.71, 0.72), "ex", "values.acc"))
    assert verdicts.observe(runs(0.8, 0.8), "ex", "models.m.params").values == (10.0, 10.0)
    errored = {0: run_of(result("ex", "error")), 1: run_of(result("ex", "error"))}
    assert not verdicts.same(reference, verdicts.observe(errored, "ex", "values.acc"))


# -- the report between two stacks ---------------------------------------------------------------
def environment(spec, packages, path="/stacks/x"):
    return stacks.Environment(stacks.parse_stack(spec), Path(path), "k" + spec[-4:], packages, reused=True)


def side(name, env, per_seed):
    return report.Side(name, env, {seed: SeedRun(name, seed, run, Path(f"/logs/{name}-{seed}.log"), 0, 10.0)
                                   for seed, run in per_seed.items()})


def test_the_report_gathers_status_changes_over_seeds_moved_metrics_and_versions():
    def seed_run(check_status, acc, params, flaky="passed"):
        return run_of(result("ex", "passed" if check_status == "passed" else "failed",
                             checks=[verdict("count", check_status), verdict("flaky", flaky)],
                             metrics={"acc": acc, "loss": 0.5}, models={"m": {"params": params}}),
                      result("other", metrics={"acc": 0.5}))

    a = side("a", environment("keras==3.10.*", {"keras": "3.10.0", "numpy": "2.1.0", "rich": "13"}),
             {0: seed_run("passed", 0.80, 100), 1: seed_run("passed", 0.82, 100), 2: seed_run("passed", 0.81, 100)})
    b = side("b", environment("keras==3.15.*", {"keras": "3.15.1", "numpy": "2.1.0", "rich": "14"}),
             {0: seed_run("failed", 0.90, 101), 1: seed_run("failed", 0.91, 101),
              2: seed_run("failed", 0.89, 101, flaky="failed")})
    built = report.build(command="python -m conformance compare-stacks ...", started="now", profile_id="cpu-test",
                         settings={"tier": "smoke", "examples": "ex,other", "backend": "tensorflow",
                                   "seeds": [0, 1, 2]}, a=a, b=b, wall_s=125)
    changes = {(c["example"], c["check"]): c for c in built.status_changes}
    assert changes[("ex", "")]["seeds"] == [0, 1, 2] and changes[("ex", "")]["regression"]
    assert changes[("ex", "count")]["seeds"] == [0, 1, 2]
    assert changes[("ex", "flaky")]["seeds"] == [2]
    assert {m["metric"] for m in built.moved} == {"values.acc", "models.m.params"}
    assert built.steady_metrics == 2  # ex values.loss, other values.acc
    assert {row["package"]: (row["a"], row["b"]) for row in built.versions} == {
        "keras": ("3.10.0", "3.15.1"), "numpy": ("2.1.0", "2.1.0"), "rich": ("13", "14")}
    text = report.render(built)
    assert "1 example and 2 checks changed status (3 regressions); 2 metrics moved" in text
    assert "## Closing note" in text and "took 2 min 05 s" in text
    assert spread.MOVED_RULE in text
    assert json.loads(json.dumps(report.to_json(built)))["what_changed"] == built.what_changed()


def test_two_checks_of_one_name_are_each_compared_with_their_own_counterpart():
    """A golden file may hold a book threshold and a recorded-run threshold on one value, both named
    'threshold values.val_binary_accuracy': the same outcome on both sides is no change."""
    def seed_run():
        return run_of(result("ex", "failed", checks=[verdict("threshold values.acc", "failed", 0.87),
                                                     verdict("threshold values.acc", "passed", 0.87)]))

    a = side("a", environment("x==1", {}), {0: seed_run()})
    b = side("b", environment("x==2", {}), {0: seed_run()})
    built = report.build(command="c", started="s", profile_id="p", settings={"tier": "smoke", "examples": None,
                         "backend": "tensorflow", "seeds": [0]}, a=a, b=b, wall_s=1)
    assert built.status_changes == []
    flipped = run_of(result("ex", "failed", checks=[verdict("threshold values.acc", "failed", 0.87),
                                                    verdict("threshold values.acc", "failed", 0.5)]))
    built = report.build(command="c", started="s", profile_id="p", settings={"tier": "smoke", "examples": None,
                         "backend": "tensorflow", "seeds": [0]}, a=a, b=side("b", b.environment, {0: flipped}),
                         wall_s=1)
    assert [(c["check"], c["before"], c["after"]) for c in built.status_changes] == \
        [("threshold values.acc #2", "passed", "failed")]
    observed = verdicts.observe({0: flipped}, "ex", "threshold values.acc #2")
    assert observed.verdict == "failed"
    assert verdicts.unique_names(["a", "b", "a", "a"]) == ["a", "b", "a #2", "a #3"]


SETTINGS = {"tier": "smoke", "examples": None, "backend": "tensorflow", "seeds": [0]}


def test_a_side_without_results_makes_the_comparison_incomplete_not_unchanged():
    a = side("a", environment("x==1", {}), {0: run_of(result("ex"))})
    b = side("b", environment("x==2", {}), {0: None})
    b.runs[0] = SeedRun("b", 0, None, Path("/l"), 1, 1.0, problem="the run exited with status 1")
    built = report.build(command="c", started="s", profile_id="p", settings=SETTINGS, a=a, b=b, wall_s=1)
    assert built.incomplete == ["seed 0: no results on b (the run exited with status 1; see /l)"]
    assert built.what_changed().startswith("the comparison is INCOMPLETE (seed 0: no results on b")
    assert "INCOMPLETE" in report.render(built) and report.to_json(built)["incomplete"] == built.incomplete


def test_a_run_cut_short_on_a_leaves_the_examples_only_b_ran_uncompared_and_says_so():
    cut = dataclasses.replace(run_of(result("ex")), planned=["ex", "later"], finished=None, exit_status=None)
    a = side("a", environment("x==1", {}), {0: cut})
    b = side("b", environment("x==2", {}), {0: run_of(result("ex"), result("later"))})
    built = report.build(command="c", started="s", profile_id="p", settings=SETTINGS, a=a, b=b, wall_s=1)
    assert built.status_changes == [] and not built.changed
    assert any(line.startswith("seed 0: a's run") and "never finished" in line for line in built.incomplete), \
        built.incomplete
    assert "seed 0: only b has results for later" in built.incomplete


# -- the workflows, with fake environments -------------------------------------------------------
class FakeRegistry:
    def __init__(self, listing):
        self.listing = listing

    def releases(self, name):
        return [Release(Version(v), reason) for v, reason in self.listing]


def fake_stack_machinery(monkeypatch, changed_at, broken=(), lost=()):
    """stacks.using and run_seed replaced: an environment is a version, a run the check's verdict; the
    versions in ``lost`` leave no run file (a crash, a timeout, a kill)."""
    built = []

    @contextlib.contextmanager
    def using(stack, options):
        version = str(next(r for r in stack.requirements if r.name == "keras").specifier).lstrip("=")
        if version in broken:
            raise stacks.InstallFailed(stack, "No matching distribution found for ml-dtypes==0.0.1", Path("/log"))
        built.append(version)
        yield stacks.Environment(stack, Path(f"/stacks/{version}"), version, {"keras": version})

    def run_seed(environment, plan, seed, folder, label):
        if environment.key in lost:
            return SeedRun(label, seed, None, Path("/log"), -9, 1.0, problem="the run left no run file")
        status = "failed" if Version(environment.key) >= Version(changed_at) else "passed"
        run = run_of(result("ch05_imdb_dropout", status, checks=[verdict("dropout lowers overfitting", status)],
                            metrics={"test_acc": 0.8 + 0.01 * seed + (0.1 if status == "failed" else 0)}))
        return SeedRun(label, seed, run, Path("/log"), 0, 1.0)

    monkeypatch.setattr(stacks, "using", using)
    monkeypatch.setattr(workflows, "run_seed", run_seed)
    return built


def bisect_options(tmp_path, registry, check="dropout lowers overfitting", seeds=(0,)):
    return workflows.BisectOptions(
        package="keras", good="3.10.0", bad="3.15.0", example="ch05_imdb_dropout", check=check,
        plan=RunPlan("smoke", "ch05_imdb_dropout", "tensorflow"), seeds=list(seeds), results_dir=tmp_path,
        build=stacks.BuildOptions(root=tmp_path / "stacks"), registry=registry, command="python -m conformance bisect")


def test_bisect_prints_versions_verdicts_and_the_release_notes_of_the_first_changed(tmp_path, monkeypatch):
    built = fake_stack_machinery(monkeypatch, "3.13.0", broken={"3.12.0"})
    listing = [(v, "requires Python >=3.12 (this is 3.11.7)" if v == "3.11.0" else None) for v in VERSIONS]
    said = []
    status = workflows.bisect_release(bisect_options(tmp_path, FakeRegistry(listing)), say=said.append)
    assert status == 0
    text = "\n".join(said)
    assert "keras 3.11.0: skipped — requires Python >=3.12" in text
    assert "keras 3.12.0: skipped — pip cannot install it: No matching distribution found" in text
    assert "keras 3.10.0: passed (same as the reference)" in text and "keras 3.15.0: failed (CHANGED)" in text
    assert "first changed release: keras 3.13.0 (after 3.12.1" in text
    assert "release notes: https://github.com/keras-team/keras/releases/tag/v3.13.0" in text
    assert "3.11.0" not in built
    document = json.loads(next(tmp_path.glob("*/upgrade/*-bisect/bisect.json")).read_text())
    assert document["first_changed"] == "3.13.0" and document["outcome"] == "found"


def test_a_version_whose_runs_left_no_results_is_skipped_not_blamed(tmp_path, monkeypatch):
    fake_stack_machinery(monkeypatch, "3.13.0", lost={"3.12.1"})
    said = []
    assert workflows.bisect_release(bisect_options(tmp_path, FakeRegistry([(v, None) for v in VERSIONS])),
                                    say=said.append) == 1  # 3.12.1 or 3.13.0: not pinned to one release
    text = "\n".join(said)
    assert "keras 3.12.1: skipped — its runs did not finish (seed 0: no results (the run left no run file" in text
    assert "3.12.1: no result" not in text and "first changed release" not in text


def test_a_metric_path_the_example_does_not_record_is_an_error_not_a_verdict(tmp_path, monkeypatch):
    fake_stack_machinery(monkeypatch, "3.13.0")
    with pytest.raises(ConformanceError, match="records no number at values.test_accuracy"):
        workflows.bisect_release(bisect_options(tmp_path, FakeRegistry([(v, None) for v in VERSIONS]),
                                                check="values.test_accuracy", seeds=(0, 1)))


def test_bisect_on_a_metric_uses_the_spread_rule(tmp_path, monkeypatch):
    fake_stack_machinery(monkeypatch, "3.11.1")
    said = []
    options = bisect_options(tmp_path, FakeRegistry([(v, None) for v in VERSIONS]), check="values.test_acc",
                             seeds=(0, 1, 2))
    assert workflows.bisect_release(options, say=said.append) == 0
    assert any("first changed release: keras 3.11.1" in line for line in said)
    with pytest.raises(ConformanceError, match="at least two seeds"):
        workflows.bisect_release(bisect_options(tmp_path, FakeRegistry([]), check="values.test_acc"))


def test_bisect_says_so_when_the_ends_agree(tmp_path, monkeypatch):
    fake_stack_machinery(monkeypatch, "9.0")
    said = []
    assert workflows.bisect_release(bisect_options(tmp_path, FakeRegistry([(v, None) for v in VERSIONS])),
                                    say=said.append) == 1
    assert any(line.startswith("no change: keras 3.10.0 and 3.15.0 give the same verdict") for line in said)


@pytest.mark.parametrize("argv, message", [
    (["compare-stacks", "--a", "keras==3.10.*,keras==3.11.*", "--b", "keras"], "more than once"),
    (["compare-stacks", "--a", "keras", "--b", "keras", "--examples", "ch99*"], "no example matches ch99*"),
    (["compare-stacks", "--a", "keras", "--b", "keras", "--seeds", "a,b"], "--seeds"),
    (["bisect", "--package", "keras", "--good", "3.10.0", "--bad", "3.15.1", "--examples", "ch05_imdb_dropout",
      "--check", "no such check"], "has no check 'no such check'"),
    (["bisect", "--package", "keras", "--good", "3.10.0", "--bad", "3.15.1", "--examples", "ch05*",
      "--check", "x"], "bisect watches one example"),
])
def test_user_errors_exit_2_before_anything_is_built(argv, message, capsys, tmp_path):
    assert cli.main(argv + ["--stacks-dir", str(tmp_path), "--results-dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


# -- real environments from wheels this test writes (slow lane) ---------------------------------
PLUGIN = '''"""A pytest plugin (entry point pytest11) that, from release {changed} on, adds one to every Keras
parameter count: a behaviour change in one release, as a dependency upgrade may bring."""
CHANGED = {flag}


def pytest_configure(config):
    if not CHANGED:
        return
    import keras

    original = keras.layers.Layer.count_params
    keras.layers.Layer.count_params = lambda self: original(self) + 1
'''
CHECK = "exact values.sequential_param_count"


def build_wheel(folder, name, version, files, requires_python=None, requires=(), entry_points=None):
    """A pure-Python wheel written by hand (no build backend, no network)."""
    dist = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += f"Requires-Python: {requires_python}\n" if requires_python else ""
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    entries = dict(files)
    entries[f"{dist}/METADATA"] = metadata
    entries[f"{dist}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: test_upgrade\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    if entry_points:
        entries[f"{dist}/entry_points.txt"] = entry_points
    record = []
    for path, text in entries.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    entries[f"{dist}/RECORD"] = "\n".join(record + [f"{dist}/RECORD,,"]) + "\n"
    wheel = Path(folder) / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in entries.items():
            archive.writestr(path, text)
    return wheel


def planted_release(folder, version, changed, **kwargs):
    files = {"plantfix/__init__.py": f"__version__ = {version!r}\n",
             "plantfix/plugin.py": PLUGIN.format(changed=version, flag=changed)}
    return build_wheel(folder, "plantfix", version, files, entry_points="[pytest11]\nplantfix = plantfix.plugin\n",
                       **kwargs)


def offline_environ():
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PIP_FIND_LINKS", None)
    return env


def conformance(*args, cwd):
    return subprocess.run([sys.executable, "-m", "conformance", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=1200, env=offline_environ())


def fake_built_environment(options, stack):
    """A complete environment as ``using`` finds it cached: its marker, and a Python (this one)."""
    folder = options.root / stacks.environment_key(stack, options)
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "python").symlink_to(sys.executable)
    (folder / stacks.MARKER).write_text(json.dumps({"build_s": 1.0}))
    return folder


def test_two_specs_of_one_stack_share_one_environment_even_when_rebuilt(tmp_path, monkeypatch):
    built = []

    def build(stack, folder, key, options):  # a build without pip: what _build leaves behind
        built.append(key)
        (folder / "bin").mkdir(parents=True, exist_ok=True)
        return stacks.Environment(stack, folder, key, {"keras": "3.15.1"})

    def run_seed(environment, plan, seed, folder, label):
        run = run_of(result("ch05_imdb_dropout", "passed", checks=[verdict("dropout lowers overfitting", "passed")],
                            metrics={"test_acc": 0.8}))
        return SeedRun(label, seed, run, Path("/log"), 0, 1.0)

    monkeypatch.setattr(stacks, "_build", build)
    monkeypatch.setattr(workflows, "run_seed", run_seed)
    options = workflows.CompareOptions(
        a="keras==3.15.1", b="keras == 3.15.1", plan=RunPlan("smoke", "ch05_imdb_dropout", "tensorflow"), seeds=[0],
        results_dir=tmp_path / "results", build=stacks.BuildOptions(root=tmp_path / "stacks", rebuild=True),
        command="python -m conformance compare-stacks")
    assert workflows.compare_stacks(options, say=lambda line: None) == 0
    assert len(built) == 1  # not refused as "another command is running in it", nor built twice


def test_rebuild_refuses_to_remove_an_environment_another_command_is_running_in(tmp_path, monkeypatch):
    options = stacks.BuildOptions(root=tmp_path / "stacks")
    stack = stacks.parse_stack("keras==3.15.1")
    folder = fake_built_environment(options, stack)
    rebuild = dataclasses.replace(options, rebuild=True)

    def building(*args):
        raise RuntimeError("building")

    monkeypatch.setattr(stacks, "_create", building)
    with stacks.using(stack, options) as running:
        assert running.reused and running.path == folder
        with stacks.using(stack, options) as also:  # another command reusing it is fine
            assert also.reused
        with pytest.raises(ConformanceError, match="another command is running in it"):
            with stacks.using(stack, rebuild):
                pass
        assert (folder / "bin" / "python").exists()
    with pytest.raises(RuntimeError, match="building"):  # once nothing runs there, it rebuilds
        with stacks.using(stack, rebuild):
            pass
    assert not folder.exists()


@pytest.mark.slow
@pytest.mark.subprocess
def test_environments_are_cached_and_a_failed_install_says_why(tmp_path, monkeypatch):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    planted_release(wheels, "1.0.0", False)
    build_wheel(wheels, "needsmissing", "1.0.0", {"needsmissing/__init__.py": ""},
                requires=["conformance-no-such-dependency"])
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    options = stacks.BuildOptions(root=tmp_path / "stacks", inherit=True, find_links=(str(wheels),))
    with stacks.using(stacks.parse_stack("plantfix==1.0.0"), options) as first:
        pass
    assert not first.reused and first.packages["plantfix"] == "1.0.0"
    assert "keras" in first.packages  # inherited from this interpreter
    marker = first.path / stacks.MARKER
    recorded = json.loads(marker.read_text())
    recorded["packages"]["keras"] = "0.0.1"  # as if the host had upgraded since the build
    marker.write_text(json.dumps(recorded))
    with stacks.using(stacks.parse_stack("plantfix==1.0.0"), options) as again:
        pass
    assert again.reused and again.path == first.path
    assert again.packages["keras"] == first.packages["keras"]  # what the environment imports now
    with pytest.raises(stacks.InstallFailed, match="conformance-no-such-dependency") as failed:
        with stacks.using(stacks.parse_stack("needsmissing==1.0.0"), options):
            pass
    assert not (options.root / stacks.environment_key(failed.value.stack, options)).exists()


# The fake project's PEP 517 backend, in its own tree, after a line that sets NAME, VERSION and REQUIRES: it
# needs nothing installed to build (setuptools would have to come from an index), so pip builds the project
# offline. Its editable wheel puts the project's folder on the path.
FAKE_BACKEND = '''
import zipfile
from pathlib import Path


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    info = f"{NAME}-{VERSION}.dist-info"
    files = {f"{NAME}.pth": f"{Path.cwd()}\\n",
             f"{info}/METADATA": f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n"
                                 + "".join(f"Requires-Dist: {r}\\n" for r in REQUIRES),
             f"{info}/WHEEL": "Wheel-Version: 1.0\\nGenerator: fake\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
    files[f"{info}/RECORD"] = "".join(f"{path},,\\n" for path in [*files, f"{info}/RECORD"])
    wheel = f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(Path(wheel_directory) / wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel
'''


def fake_project(folder, name, requires):
    """A project folder pip can install editable without the network: its pyproject.toml, a package, and
    a build backend of its own."""
    folder.mkdir()
    dependencies = ", ".join(f'"{r}"' for r in requires)
    (folder / "pyproject.toml").write_text(
        f'[build-system]\nrequires = []\nbuild-backend = "fake_backend"\nbackend-path = ["."]\n\n'
        f'[project]\nname = "{name}"\nversion = "0.1.0"\ndependencies = [{dependencies}]\n')
    (folder / "fake_backend.py").write_text(f"NAME, VERSION, REQUIRES = {name!r}, '0.1.0', {list(requires)!r}\n"
                                            + FAKE_BACKEND)
    (folder / name).mkdir()
    (folder / name / "__init__.py").write_text("")
    return folder


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_full_build_installs_a_pin_beyond_the_projects_own_cap(tmp_path, monkeypatch):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for version in ("1.0", "2.0"):
        build_wheel(wheels, "plantedpkg", version, {"plantedpkg/__init__.py": f"__version__ = {version!r}\n"})
    project = fake_project(tmp_path / "project", "fakeproject", ["plantedpkg>=1,<2"])
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    options = stacks.BuildOptions(root=tmp_path / "stacks", project=project, extras=(), inherit=False,
                                  find_links=(str(wheels),))
    with stacks.using(stacks.parse_stack("plantedpkg==2.0"), options) as pinned:
        imported = subprocess.run([str(pinned.python), "-c",
                                   "import fakeproject, plantedpkg; print(plantedpkg.__version__)"],
                                  capture_output=True, text=True, env=pinned.environ(), check=False)
    assert pinned.packages["plantedpkg"] == "2.0" and "fakeproject" in pinned.packages
    assert imported.stdout.strip() == "2.0", imported.stderr
    with stacks.using(stacks.parse_stack(""), options) as own:  # no pin: the project's own range
        pass
    assert own.packages["plantedpkg"] == "1.0"


@pytest.mark.nightly
@pytest.mark.slow
@pytest.mark.subprocess
def test_compare_stacks_between_two_releases_of_a_planted_package(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    planted_release(wheels, "1.0.0", False)
    planted_release(wheels, "2.0.0", True)
    done = conformance("compare-stacks", "--a", "plantfix==1.0.0", "--b", "plantfix==2.0.0", "--examples",
                       "ch03_simple_dense_layer", "--seeds", "0,1", "--workers", "1", "--inherit", "--find-links",
                       str(wheels), "--stacks-dir", str(tmp_path / "stacks"), "--results-dir",
                       str(tmp_path / "results"), cwd=PROJECT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    document = json.loads(next(tmp_path.glob("results/*/upgrade/*-compare-stacks/report.json")).read_text())
    changes = {(c["example"], c["check"]): (c["before"], c["after"], c["seeds"]) for c in document["status_changes"]}
    assert changes == {("ch03_simple_dense_layer", ""): ("passed", "failed", [0, 1]),
                       ("ch03_simple_dense_layer", CHECK): ("passed", "failed", [0, 1])}
    moved = [(m["metric"], m["change"]) for m in document["metrics"] if m["verdict"] == "moved"]
    assert moved == [("values.sequential_param_count", 1.0)]
    assert {r["package"]: (r["a"], r["b"]) for r in document["versions"] if r["differs"]} == \
        {"plantfix": ("1.0.0", "2.0.0")}
    assert "## Closing note" in done.stdout and "1 example and 1 check changed status" in done.stdout


@pytest.mark.nightly
@pytest.mark.slow
@pytest.mark.subprocess
def test_bisect_finds_the_planted_release(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for version in ("1.0.0", "1.1.0", "1.2.0", "1.4.0", "1.5.0", "1.6.0", "1.8.0"):
        planted_release(wheels, version, changed=Version(version) >= Version("1.5.0"))
    planted_release(wheels, "1.3.0", False, requires=["conformance-no-such-dependency"])  # pip cannot install it
    planted_release(wheels, "1.7.0", True, requires_python=">=3.99")  # the listing rules it out
    done = conformance("bisect", "--package", "plantfix", "--good", "1.0.0", "--bad", "1.8.0", "--examples",
                       "ch03_simple_dense_layer", "--check", CHECK, "--seeds", "0", "--workers", "1", "--inherit",
                       "--registry", str(wheels), "--stacks-dir", str(tmp_path / "stacks"), "--results-dir",
                       str(tmp_path / "results"), cwd=PROJECT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "plantfix 1.7.0: skipped — requires Python >=3.99" in out
    assert "plantfix 1.3.0: skipped — pip cannot install it" in out and "conformance-no-such-dependency" in out
    assert "plantfix 1.0.0: passed (same as the reference)" in out
    assert "plantfix 1.8.0: failed (CHANGED)" in out
    assert "first changed release: plantfix 1.5.0 (after 1.4.0" in out
    assert "release notes: https://pypi.org/project/plantfix/1.5.0/" in out


def test_stack_environments_get_the_extras_nox_conformance_installs_so_no_example_is_skipped_for_a_package():
    for argv, wanted in ((["--backend", "jax"], ("offline", "tensorboard", "tuner", "jax")),
                         ([], ("offline", "tensorboard", "tuner"))):
        args = cli.build_parser().parse_args(["compare-stacks", "--a", "keras", "--b", "", *argv])
        assert set(cli._stack_build_options(args).extras) == set(wanted)


def test_a_tensorflow_pin_on_x86_64_is_refused_in_favour_of_tensorflow_cpu(monkeypatch):
    monkeypatch.setattr(stacks.platform, "machine", lambda: "x86_64")
    with pytest.raises(ConformanceError, match=r"pin that instead \(tensorflow-cpu==2.20.\*\)"):
        stacks.parse_stack("keras==3.12.*,tensorflow==2.20.*")
    monkeypatch.setattr(stacks.platform, "machine", lambda: "aarch64")  # where the project installs tensorflow
    assert stacks.parse_stack("tensorflow==2.20.*").label
