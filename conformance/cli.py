"""``python -m conformance``: list, run, profile, record and validate the book's examples."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from conformance.engine import golden, registry
from conformance.engine.runner import MAX_SEED, PRECISIONS
from conformance.errors import ConformanceError
from conformance.report.stats import DEFAULT_ALPHA, DEFAULT_MIN_CHANGE, regression_rule
from conformance.results import store
from conformance.stack import backend, compile_cache
from conformance.upgrade.spread import MOVED_RULE
from reference_impl.api import ANY_BACKEND, TIERS

if TYPE_CHECKING:
    import pytest

    from conformance.bench.runner import BenchOptions
    from conformance.upgrade.runs import RunPlan
    from conformance.upgrade.stacks import BuildOptions

INTERRUPTED = 130  # what shells report for a command stopped with Ctrl-C (128 + SIGINT)

EPILOG = """examples:
  python -m conformance list
  python -m conformance run                                # smoke tier, every example
  python -m conformance run --tier offline --examples 'ch02*'
  python -m conformance run --backend jax --examples 'ch02*,ch03*'
  python -m conformance record --tier smoke --examples ch02_mnist_dense --seeds 0-4
  python -m conformance profile
  python -m conformance bench --models 'mnist*' --rounds 5
  python -m conformance bench --save-baseline            # file this run as golden/bench/<profile-id>.json
  python -m conformance report --fail-on-regression      # latest runs against their baselines
  python -m conformance sensitivity --faults 'relu*,labels*' # which checks catch planted faults
  python -m conformance compare-stacks --a "keras==3.12.*" --b "keras==3.15.*" --examples 'ch0[2-5]*'
  python -m conformance bisect --package keras --good 3.12.0 --bad 3.15.1 --examples ch05_imdb_dropout \\
      --check 'dropout lowers overfitting'               # the release that changed the check's verdict
"""


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter, for commands that import it
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    args, passthrough = parser.parse_known_args(argv)
    args.argv = argv
    if passthrough and args.command != "run":
        parser.error(f"unrecognized arguments: {' '.join(passthrough)}")
    try:
        return args.handler(args, passthrough)
    except ConformanceError as error:  # the user can act on these; anything else is a bug and keeps its traceback
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # the user stopped it: files are written atomically, so nothing is half-written
        print("interrupted", file=sys.stderr)
        return INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m conformance",
        description="Run the book's examples (Deep Learning with R/Python, 2nd ed.) and check them "
                    "against golden results.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser(
        "list", help="show every example with its chapter, data and tiers",
        description="One line per example: id, chapter, section, the data it loads, the tiers it runs in (a tier "
                    "without offline data is left out), the backends it runs on, what else it needs, and its title.")
    listing.add_argument("--examples", type=_patterns, help="comma-separated id globs")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=_list)

    run = commands.add_parser(
        "run", help="run examples as a pytest session and check them; exits non-zero on any failure",
        epilog="Exit status: 0 every selected example passed (or skipped with its reason), 1 a check or example "
               "failed, 2 a usage error (4 when pytest refused an option passed on to it), 5 options passed to pytest "
               "deselected every example, 130 interrupted (Ctrl-C; the run file stays unfinished).",
        description="Run examples and check them against golden/. Unknown options pass through to pytest "
                    "(e.g. --junitxml=report.xml, -x, -m ch02).")
    _add_run_options(run)
    run.add_argument("--workers", type=_workers, default="auto",
                     help="pytest-xdist workers: a number or 'auto' (default)")
    run.add_argument("--results-dir", default="results", help="where run files go (default: results/)")
    run.add_argument("--run-id", type=_run_id,
                     help="name for the run file: letters, digits, '.', '_', '+', '-' (default: "
                          "time-tier-backend-random). Naming an existing run resumes it, skipping nothing: every "
                          "selected example runs again and replaces its earlier result, and the run is unfinished "
                          "until this session ends. Refused when the file's run had other settings (--golden-dir "
                          "included), examples, machine, or Python/library/CUDA versions")
    run.add_argument("--fault", help="plant this fault of the sensitivity catalogue in every example; the run "
                                     "file records it (see `sensitivity --list`)")
    run.add_argument("--probe-faults", action="store_true",
                     help="record per example which faults of the sensitivity catalogue would change a call, "
                          "changing nothing (`sensitivity` runs each fault only where it reaches)")
    run.add_argument("--require-data", action="store_true",
                     help="an example whose data or pretrained weights cannot be had (not in the cache, a download "
                          "failed or is switched off) is an error, not a skip: for machines meant to have the "
                          "book's data, such as the GPU and TPU book-tier jobs, where a skip would hide a lost "
                          "download. The run file records it")
    run.set_defaults(handler=_run)

    prof = commands.add_parser(
        "profile", help="print this machine's hardware/software profile and its id",
        description="Prints the fingerprint results and baselines are filed under (results/<profile-id>/, "
                    "golden/bench/<profile-id>.json): the id names the hardware only; the versions are recorded "
                    "beside it.")
    prof.add_argument("--backend", choices=backend.BACKENDS, default=None,
                      help="the Keras backend whose devices and versions to describe (default: $KERAS_BACKEND or "
                           "tensorflow)")
    prof.set_defaults(handler=_profile)

    record = commands.add_parser(
        "record", help="re-record measured values in golden files from real runs, with provenance",
        description="Runs each example once per seed and rewrites the expectations that cite a recorded-run "
                    "source of this tier (exact values, approx values, threshold bounds with their margin), "
                    "then stamps that source with the command, seeds, versions, profile and date. Prints each "
                    "seed as it finishes, and every check a recorded seed fails under the file as recorded (a "
                    "structural check such as a falling loss, or the trivial-predictor check): exit 1 if any.")
    _add_run_options(record, seed=False)
    record.add_argument("--seeds", type=_seeds, default=f"0-{golden.MIN_RECORDED_SEEDS - 1}",
                        help=f"comma-separated seeds or a range like 0-9, at least {golden.MIN_RECORDED_SEEDS} "
                             f"(default: 0-{golden.MIN_RECORDED_SEEDS - 1})")
    record.add_argument("--dry-run", action="store_true", help="print the changes, write nothing")
    record.set_defaults(handler=_record)

    sensitivity = commands.add_parser(
        "sensitivity", help="plant each fault of a catalogue in turn and report which examples and checks catch it",
        description="Runs the tier once without a fault, then once per fault of conformance/sensitivity/faults.toml "
                    "(an activation dropped, a learning rate off by 100x, labels shuffled, a layer frozen, a "
                    "regulariser ignored ...), and reports per fault the examples and checks that caught it, per "
                    "example the faults it catches, and the detection rate. Writes "
                    "<results-dir>/<profile-id>/sensitivity/<time>/report.md and report.json.")
    sensitivity.add_argument("--faults", type=_patterns,
                             help="comma-separated globs of fault ids (default: the whole catalogue)")
    sensitivity.add_argument("--examples", type=_patterns, help="comma-separated id globs (default: all)")
    sensitivity.add_argument("--tier", choices=TIERS, default="smoke", help="default: smoke")
    sensitivity.add_argument("--backend", choices=backend.BACKENDS, default=None,
                             help="Keras backend (default: $KERAS_BACKEND or tensorflow)")
    sensitivity.add_argument("--seed", type=_seed, default=0, help="default: 0")
    sensitivity.add_argument("--workers", type=_workers, default="auto",
                             help="pytest-xdist workers per run (default: auto)")
    sensitivity.add_argument("--results-dir", default="results", help="default: results/")
    sensitivity.add_argument("--min-detection", type=_fraction, metavar="RATE",
                             help="exit 1 when fewer than this fraction of the faults run are caught (a fault "
                                  "that reaches no example counts as missed)")
    sensitivity.add_argument("--list", action="store_true", help="print the catalogue and exit")
    sensitivity.set_defaults(handler=_sensitivity)

    validate = commands.add_parser(
        "validate", help="check every golden file against the schema, and that golden files and examples match",
        description="Reads every golden file and benchmark baseline and prints each problem with its file and "
                    "field (a golden file's every source, check and tier; a file that is not JSON, or whose top "
                    "level is wrong, stops at that); names every example without a golden file and every golden "
                    "file without an example. Exits 1 if there is any problem. Trains nothing.")
    validate.add_argument("--golden-dir", default=None, help="default: the project's golden/")
    validate.set_defaults(handler=_validate)

    bench = commands.add_parser(
        "bench", help="training throughput of the book's models: precision x device count, with pytest-benchmark",
        description="Times training steps of the book's models on synthetic batches (warm-up excluded, device "
                    "synchronised) over precisions and device counts, one process per device count, and writes "
                    "results/<profile-id>/bench/<run-id>.json. Exits non-zero when an item or the accuracy gate fails.")
    bench.add_argument("--backend", choices=backend.BACKENDS, default=None,
                       help="Keras backend (default: $KERAS_BACKEND or tensorflow)")
    bench.add_argument("--models", type=_patterns, help="comma-separated globs of benchmark models (default: all)")
    bench.add_argument("--precisions", help="comma-separated policies (default: float32 and the mixed policies "
                                            "this device runs: mixed_bfloat16 on CPU, both on GPU)")
    bench.add_argument("--devices", type=_counts,
                       help="comma-separated device counts (default: 1 and all; 1,2 emulated on CPU)")
    bench.add_argument("--rounds", type=_count, default=5, help="timed rounds per item (default: 5; at least 4 "
                                                             "for a regression call at p < 0.05)")
    bench.add_argument("--repeats", type=_count, default=3,
                       help="independent runs of the whole plan, each in fresh processes, interleaved (default: 3); "
                            "the report judges changes against the spread between runs, and the median of three "
                            "runs is not thrown by one run caught in a slow spell of the machine")
    bench.add_argument("--warmup", type=_whole, default=1, help="untimed rounds after compilation (default: 1)")
    bench.add_argument("--steps", type=_whole, default=0, help="batches per round (default: about a second of work)")
    bench.add_argument("--batch", type=_whole, default=0, help="per-device batch size (default: the book's)")
    bench.add_argument("--ceiling-size", type=_whole, default=0,
                       help="matmul ceiling size (default 2048 CPU, 8192 GPU, halved while one matmul would take over 10 s)")
    bench.add_argument("--no-gate", action="store_true", help="skip the mixed-precision accuracy gate")
    bench.add_argument("--results-dir", default="results", help="where run files go (default: results/)")
    bench.add_argument("--run-id", type=_run_id,
                       help="name for the run file: letters, digits, '.', '_', '+', '-' (default: "
                            "time-bench-backend-random)")
    bench.add_argument("--save-baseline", action="store_true",
                       help="file this run as golden/bench/<profile-id>.json (with provenance)")
    bench.add_argument("--promote", type=Path, metavar="RUN_FILE", action="append",
                       help="file the measured entries of an earlier bench run as the baseline (its failures "
                            "are listed in the provenance) instead of running; repeat it to file several runs of "
                            "one profile and backend as one, their runs of a configuration becoming repeats")
    bench.add_argument("--baseline-dir", default=None, help="default: the project's golden/bench/")
    bench.add_argument("--timeout", type=_count, default=3600,
                       help="seconds per device-count process (default: 3600)")
    cluster = bench.add_argument_group(
        "across machines (JAX)",
        "Run the same command on every machine, each with its own --process-id: the devices of all of them "
        "train as one DataParallel (jax.distributed, joined through keras.distribution.initialize). --devices "
        "then counts all the cluster's devices (default: all of them, as if every machine had this one's). "
        "Each machine writes its own run file. TensorFlow forms clusters from TF_CONFIG instead.")
    cluster.add_argument("--coordinator", metavar="HOST:PORT",
                         help="process 0's address and a free port on it, reachable from every machine")
    cluster.add_argument("--num-processes", type=int, default=1, metavar="N",
                         help="processes (machines) in the cluster (default: 1, no cluster)")
    cluster.add_argument("--process-id", type=int, default=0, metavar="ID",
                         help="this process's number, 0 to N-1; process 0 serves the coordinator")
    bench.set_defaults(handler=_bench)

    report = commands.add_parser(
        "report", help="this profile's latest runs against their baselines: Markdown and a self-contained HTML page",
        description="\n\n".join(textwrap.fill(paragraph, 100) for paragraph in (
            "Compares a benchmark run with golden/bench/<profile-id>.json and a conformance run with a baseline "
            "run (examples and checks that went from passed to failed). Defaults: this machine's profile, its "
            "latest runs, the previous conformance run with the same settings.",
            regression_rule(DEFAULT_ALPHA, DEFAULT_MIN_CHANGE) + " --alpha and --min-change set the two numbers.")),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("--profile", help="profile id (default: this machine's)")
    report.add_argument("--results-dir", default="results", help="default: results/")
    report.add_argument("--bench", type=Path, action="append",
                        help="benchmark run file (default: the latest of the profile); repeat to read parts of "
                             "one split run as one")
    report.add_argument("--baseline", type=Path, help="benchmark baseline file (default: <baseline-dir>/<profile-id>.json)")
    report.add_argument("--baseline-dir", type=Path, default=None,
                        help="where bench --save-baseline filed it (default: the project's golden/bench/)")
    report.add_argument("--conformance", type=Path, help="conformance run file (default: the latest)")
    report.add_argument("--conformance-baseline", type=Path,
                        help="conformance run to compare with (default: the previous one with the same settings)")
    report.add_argument("--only", choices=("bench", "conformance"), help="report on one part only")
    report.add_argument("--alpha", type=_probability, default=DEFAULT_ALPHA,
                        help=f"significance level, after Holm's adjustment (default: {DEFAULT_ALPHA})")
    report.add_argument("--min-change", type=_non_negative, default=DEFAULT_MIN_CHANGE,
                        help=f"smallest relative change called (default: {DEFAULT_MIN_CHANGE})")
    report.add_argument("--out", type=Path, help="output path without suffix (default: "
                                                 "<results-dir>/<profile-id>/reports/report-<time>)")
    report.add_argument("--golden-dir", default=None, help="golden files for the loss plots' expected epoch "
                                                            "windows (default: the project's golden/)")
    report.add_argument("--json", action="store_true", help="print the verdicts as JSON instead of Markdown")
    report.add_argument("--fail-on-regression", action="store_true",
                        help="exit 1 when anything regressed, or when a benchmark run had no baseline to compare "
                             "with (no file for the profile, no entries for its backend, no configuration in common)")
    report.set_defaults(handler=_report)

    compare_stacks = commands.add_parser(
        "compare-stacks", help="run the tier under two stacks (e.g. two Keras releases) and report what changed",
        description="\n\n".join(textwrap.fill(paragraph, 100) for paragraph in (
            "Builds one virtualenv per stack (this project with the extras the conformance session installs: "
            "offline, tensorboard, tuner; jax when the stack names JAX or --backend is jax; and the stack's pins; "
            "cached in .nox/stacks/<hash> and reused), runs the tier and examples in each on every seed, and writes "
            "<results-dir>/<profile-id>/upgrade/<time>-<random>-compare-stacks/report.md and report.json: the "
            "examples and "
            "checks whose status changed (per seed, same seed on both sides), the metrics that moved beyond "
            "their seed spread, and the installed versions on each side.",
            "A stack is comma-separated pip requirements: \"keras==3.10.*,tensorflow-cpu==2.19.*\"; "
            "\"keras>=3.10,<3.12\" stays one requirement; \"\" is the project's own dependencies as pip "
            "resolved them when its environment was built (--rebuild resolves them again).",
            MOVED_RULE)),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    compare_stacks.add_argument("--a", required=True, metavar="SPEC", help="the stack to compare from (the old one)")
    compare_stacks.add_argument("--b", required=True, metavar="SPEC", help="the stack to compare to (the new one)")
    _add_stack_run_options(compare_stacks, seeds="0,1,2")
    compare_stacks.add_argument("--examples", type=_patterns,
                                help="comma-separated id globs, e.g. 'ch02*,ch03*' (default: all)")
    compare_stacks.add_argument("--fail-on-change", action="store_true",
                                help="exit 1 when an example or check changed status or a metric moved (an "
                                     "incomplete comparison exits 1 anyway)")
    compare_stacks.set_defaults(handler=_compare_stacks)

    bisect = commands.add_parser(
        "bisect", help="find the release of a package that changed a check's verdict or moved a metric",
        description="\n\n".join(textwrap.fill(paragraph, 100) for paragraph in (
            "Lists the releases of --package from --good to --bad on the registry (PyPI's JSON API, or a "
            "folder of wheels), leaves out those this Python cannot install (yanked, Requires-Python, no wheel "
            "for this platform) with the reason, and bisects the rest: one environment per version tried "
            "(the --with pins plus the package at that version, cached like compare-stacks'), about log2 of "
            "the range in all. In each, the example runs on every seed; the first release whose verdict "
            "differs from the older end's is the answer, printed with a link to its release notes. A version "
            "pip fails to install is skipped with pip's reason and its neighbour tried instead.",
            "--check names a check as run files list it (e.g. 'exact values.sequential_param_count', "
            "'dropout lowers overfitting'): its verdict is passed, failed, or which seeds said what. Or a metric "
            "path (values.test_acc, models.model.params): " + MOVED_RULE)),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    bisect.add_argument("--package", required=True, help="the package whose releases to bisect, e.g. keras")
    bisect.add_argument("--good", required=True, metavar="VERSION", help="a release that behaves as expected")
    bisect.add_argument("--bad", required=True, metavar="VERSION",
                        help="a release that does not (either end may be the older one)")
    bisect.add_argument("--examples", required=True, metavar="EXAMPLE", help="the one example to run")
    bisect.add_argument("--check", required=True, help="a check name of the example's golden file, or a metric path")
    bisect.add_argument("--with", dest="base", default="", metavar="SPEC",
                        help="pins to hold fixed in every version's environment, e.g. 'tensorflow-cpu==2.19.*'")
    bisect.add_argument("--registry", default="https://pypi.org/pypi",
                        help="where releases are listed: a JSON API URL (default: PyPI) or a folder of wheels")
    bisect.add_argument("--pre", action="store_true", help="include pre-releases between the ends")
    _add_stack_run_options(bisect, seeds="0,1,2")
    bisect.set_defaults(handler=_bisect)
    return parser


def _add_stack_run_options(parser: argparse.ArgumentParser, seeds: str) -> None:
    parser.add_argument("--tier", choices=TIERS, default="smoke", help="default: smoke")
    parser.add_argument("--backend", choices=backend.BACKENDS, default=None,
                        help="Keras backend (default: $KERAS_BACKEND or tensorflow)")
    parser.add_argument("--seeds", default=seeds, help=f"comma-separated seeds or a range like 0-4, each run in "
                                                       f"every environment compared (default: {seeds})")
    parser.add_argument("--workers", type=_workers, default="auto", help="pytest-xdist workers per run (default: auto)")
    parser.add_argument("--results-dir", default="results", help="default: results/")
    parser.add_argument("--stacks-dir", type=Path, default=None,
                        help="where environments are cached (default: the project's .nox/stacks/)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the environments instead of reusing them")
    parser.add_argument("--find-links", action="append", default=[], metavar="DIR_OR_URL",
                        help="more places pip finds wheels in (a local build of Keras ...); repeatable")
    parser.add_argument("--inherit", action="store_true",
                        help="build each stack on top of this interpreter's packages (only the stack's pins are "
                             "installed; they shadow the inherited copies): quick, and offline with --find-links")
    parser.add_argument("--timeout", type=_positive, default=None, metavar="SECONDS",
                        help="limit for each run (default: none)")


def _add_run_options(parser: argparse.ArgumentParser, seed: bool = True) -> None:
    parser.add_argument("--examples", type=_patterns, help="comma-separated id globs, e.g. 'ch02*' (default: all)")
    parser.add_argument("--tier", choices=TIERS, default="smoke", help="default: smoke")
    parser.add_argument("--backend", choices=backend.BACKENDS, default=None,
                        help="Keras backend (default: $KERAS_BACKEND or tensorflow)")
    if seed:
        parser.add_argument("--seed", type=_seed, default=0, help=f"0 to {MAX_SEED} (default: 0)")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="the Keras dtype policy the examples run under (default: float32)")
    parser.add_argument("--devices", type=_count, default=1, help="data-parallel devices (CPU: emulated; default: 1)")
    parser.add_argument("--golden-dir", default=None, help="default: the project's golden/")


def _count(text: str) -> int:
    """A whole number of at least 1: devices, workers."""
    return _whole(text, least=1)


def _whole(text: str, least: int = 0) -> int:
    """A whole number of at least ``least``: warm-up rounds, steps (where 0 means "choose for me")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
    return value


def _seed(text: str) -> int:
    value = _whole(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_SEED}, got {value}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _non_negative(text: str) -> float:
    """A relative change: 0 or more (a speed-up can exceed 100 %)."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def _positive(text: str) -> float:
    """A time limit in seconds."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {value}")
    return value


def _fraction(text: str) -> float:
    """A number from 0 to 1: a detection rate."""
    value = _number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {value}")
    return value


def _probability(text: str) -> float:
    """A significance level: above 0 and below 1."""
    value = _fraction(text)
    if value in (0, 1):
        raise argparse.ArgumentTypeError(f"must be above 0 and below 1, got {value}")
    return value


def _patterns(text: str) -> str:
    """Comma-separated globs; an empty one (an unset shell variable) would select everything."""
    if not text.strip(" ,"):
        raise argparse.ArgumentTypeError("is empty: give comma-separated globs, or leave the option out for all")
    return text


def _run_id(text: str) -> str:
    try:
        return store.check_run_id(text)
    except ConformanceError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _counts(text: str) -> list[int]:
    return [_count(part) for part in text.split(",")]


def _workers(text: str) -> int | str:
    return text if text == "auto" else _count(text)


def _seeds(text: str) -> list[int]:
    from conformance.upgrade.workflows import parse_seeds

    try:
        return parse_seeds(text)
    except ConformanceError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _list(args: argparse.Namespace, _: list[str]) -> int:
    rows = []
    for spec in registry.select(args.examples):
        rows.append({
            "id": spec.id, "chapter": spec.chapter, "section": spec.section, "title": spec.title,
            "datasets": list(spec.datasets), "tiers": list(registry.tiers_of(spec)),
            "backends": list(spec.backends), "needs": list(spec.needs),
        })
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    columns = ("id", "ch", "section", "data", "tiers", "backends", "needs", "title")
    table = [[r["id"], str(r["chapter"]), r["section"], ",".join(r["datasets"]) or "(inline)",
              ",".join(r["tiers"]), "any" if set(r["backends"]) == set(ANY_BACKEND) else ",".join(r["backends"]),
              ",".join(r["needs"]) or "-", r["title"]] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in table)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in table:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    print(f"{len(rows)} examples")
    return 0


def _run(args: argparse.Namespace, passthrough: list[str]) -> int:
    chosen_backend = args.backend or backend.current()
    backend.require_installed(chosen_backend)
    backend.select(chosen_backend)
    with compile_cache.for_run(chosen_backend):  # before the registry imports Keras, and JAX with it
        return _run_selected(args, passthrough, chosen_backend)


def _run_selected(args: argparse.Namespace, passthrough: list[str], chosen_backend: str) -> int:
    import pytest

    selected = registry.select(args.examples)  # fail fast on a pattern that matches nothing
    _require_golden_dir(args.golden_dir)
    if args.fault:
        from conformance.sensitivity import faults

        faults.get(args.fault)  # an unknown fault fails here, not in every example
        if args.probe_faults:
            raise ConformanceError("--fault plants a fault and --probe-faults watches for all of them: choose one")
    workers = min(len(selected), os.cpu_count() or 1) if args.workers == "auto" else args.workers
    suite = Path(__file__).parent / "engine" / "suite.py"
    pytest_args = [
        str(suite), "-p", "conformance.engine.plugin", "-p", "no:cacheprovider", "--rootdir", os.getcwd(),
        "--tier", args.tier, "--backend", chosen_backend, "--seed", str(args.seed),
        "--precision", args.precision, "--devices", str(args.devices), "--results-dir", args.results_dir,
        "-n", str(workers if workers > 1 else 0), "-o", "console_output_style=progress", "-rfEs",
        # Keras's PyTorch backend converts tensors with np.array(x), which NumPy 2 warns about on every
        # call (thousands per run): noise that would bury the summary.
        "-W", "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning",
    ]
    for option, value in (("--examples", args.examples), ("--golden-dir", args.golden_dir),
                          ("--run-id", args.run_id), ("--fault", args.fault)):
        if value:
            pytest_args += [option, value]
    for flag, given in (("--probe-faults", args.probe_faults), ("--require-data", args.require_data)):
        if given:
            pytest_args.append(flag)
    ctrl_c = _CtrlCWatch()
    status = int(pytest.main(pytest_args + passthrough, plugins=[ctrl_c]))
    if status == pytest.ExitCode.NO_TESTS_COLLECTED:
        print(f"error: no example ran: the options passed to pytest ({shlex.join(passthrough) or 'none'}) "
              f"deselected every one of --examples {args.examples or '(all)'}", file=sys.stderr)
    if status == pytest.ExitCode.USAGE_ERROR and passthrough:
        print(f"note: options 'python -m conformance run' does not know went to pytest: {shlex.join(passthrough)} "
              f"(see 'python -m conformance run --help')", file=sys.stderr)
    if ctrl_c.pressed:  # pytest ends with 2, the code the CLI gives a usage error: say it as any command does
        print("interrupted: the run file says the run did not finish (resume it with its --run-id)", file=sys.stderr)
        return INTERRUPTED
    return status


class _CtrlCWatch:
    """Tells a run stopped with Ctrl-C from one the plugin refused (``pytest.exit``) or one that
    ``-x``/``--maxfail`` cut short: pytest ends them all with status 2 and reports them all through this
    hook, the last two as an ``Exit`` or as subclasses of ``KeyboardInterrupt`` (pytest's and xdist's
    ``Interrupted``). Only the key itself raises ``KeyboardInterrupt`` proper."""

    pressed = False

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.pressed = self.pressed or excinfo.type is KeyboardInterrupt


def _require_golden_dir(golden_dir: str | None) -> None:
    if golden_dir and not Path(golden_dir).is_dir():
        raise ConformanceError(f"no golden folder at {golden_dir}")


def _profile(args: argparse.Namespace, _: list[str]) -> int:
    from conformance.stack.profile import fingerprint

    print(json.dumps(fingerprint(args.backend), indent=1))
    return 0


def _record(args: argparse.Namespace, _: list[str]) -> int:
    from conformance.engine import record

    _require_golden_dir(args.golden_dir)
    chosen_backend = args.backend or backend.current()
    backend.select(chosen_backend)
    command = "python -m conformance " + shlex.join(args.argv)
    with compile_cache.for_run(chosen_backend):
        return record.record(args.examples, tier=args.tier, backend=chosen_backend, seeds=args.seeds,
                             precision=args.precision, devices=args.devices, command=command,
                             golden_dir=Path(args.golden_dir) if args.golden_dir else None, dry_run=args.dry_run)


def bench_options(args: argparse.Namespace) -> BenchOptions:
    """The ``bench`` command's parsed arguments as the runner's options."""
    from conformance.bench import runner
    from conformance.stack.cluster import Cluster

    clustered = args.coordinator is not None or args.num_processes != 1
    return runner.BenchOptions(
        backend=args.backend or backend.current(), models=args.models,
        precisions=args.precisions.split(",") if args.precisions else [],
        device_counts=args.devices or [],
        rounds=args.rounds, repeats=args.repeats, warmup=args.warmup, steps=args.steps, per_device_batch=args.batch,
        ceiling_size=args.ceiling_size, gate=not args.no_gate, results_dir=Path(args.results_dir),
        run_id=args.run_id, save_baseline=args.save_baseline,
        baseline_dir=Path(args.baseline_dir) if args.baseline_dir else None,
        command="python -m conformance " + shlex.join(args.argv), timeout_s=args.timeout,
        cluster=Cluster(args.coordinator or "", args.num_processes, args.process_id) if clustered else None)


def _bench(args: argparse.Namespace, _: list[str]) -> int:
    from conformance.bench import baseline, runner

    options = bench_options(args)
    if args.promote:
        merged = baseline.merge_runs([baseline.load_run(path) for path in args.promote])
        if not merged.entries:
            raise ConformanceError(f"{', '.join(map(str, args.promote))}: no configuration was measured, so there "
                                   f"is nothing to file as a baseline")
        print(f"baseline: {baseline.save_baseline(merged, options.baseline_dir, filed_by=options.command)}")
        return 0
    return runner.run(options)


def _report(args: argparse.Namespace, _: list[str]) -> int:
    import datetime as dt

    from conformance.report import compare, markdown
    from conformance.stack.profile import fingerprint

    profile_id = args.profile or fingerprint()["id"]
    built = compare.build(profile_id, results_dir=Path(args.results_dir), bench_run=args.bench,
                          baseline=args.baseline, baseline_dir=args.baseline_dir, conformance_run=args.conformance,
                          conformance_baseline=args.conformance_baseline, alpha=args.alpha,
                          min_change=args.min_change, bench_only=args.only == "bench",
                          conformance_only=args.only == "conformance")
    if built.bench_run is None and built.conformance_run is None:
        print("error: nothing to report: " + "; ".join(built.notes), file=sys.stderr)
        return 2
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or Path(args.results_dir) / built.profile_id / "reports" / f"report-{stamp}"
    markdown_path, html_path = markdown.write(built, out, golden_dir=Path(args.golden_dir) if args.golden_dir else None)
    print(compare.dumps(built) if args.json else markdown.render(built))
    print(f"report: {markdown_path} and {html_path}", file=sys.stderr)
    if args.fail_on_regression and built.bench_uncompared:  # a check that compared nothing must not pass
        print(f"error: the benchmark run was compared with nothing: {built.bench_uncompared}", file=sys.stderr)
        return 1
    return 1 if args.fail_on_regression and built.regressions else 0


def _sensitivity(args: argparse.Namespace, _: list[str]) -> int:
    from conformance.sensitivity import faults, runner

    if args.list:
        for fault in faults.select(args.faults):
            print(f"{fault.id:28} {fault.description}")
        return 0
    chosen_backend = args.backend or backend.current()
    backend.require_installed(chosen_backend)
    faults.select(args.faults)  # fail fast on a pattern that matches nothing
    registry.select(args.examples)  # likewise; it imports Keras, which the catalogue's targets name
    faults.check_targets(faults.load_catalogue())
    return runner.run(runner.SensitivityOptions(
        faults=args.faults, examples=args.examples, tier=args.tier, backend=chosen_backend, seed=args.seed,
        workers=args.workers, results_dir=Path(args.results_dir), min_detection=args.min_detection,
        command="python -m conformance " + shlex.join(args.argv)))


def _stack_build_options(args: argparse.Namespace, find_links: tuple[str, ...] = ()) -> BuildOptions:
    from conformance.upgrade.stacks import DEFAULT_ROOT, BuildOptions

    extras = BuildOptions.extras + (("jax",) if (args.backend or backend.current()) == "jax" else ())
    return BuildOptions(root=(args.stacks_dir or DEFAULT_ROOT).resolve(), extras=extras, inherit=args.inherit,
                        find_links=tuple(args.find_links) + find_links, rebuild=args.rebuild)


def _stack_run_plan(args: argparse.Namespace, examples: str | None) -> RunPlan:
    from conformance.upgrade.runs import RunPlan

    chosen_backend = args.backend or backend.current()
    if chosen_backend not in backend.BACKENDS:
        raise ConformanceError(f"unknown backend {chosen_backend!r}")
    return RunPlan(tier=args.tier, examples=examples, backend=chosen_backend, workers=args.workers,
                   timeout_s=args.timeout)


def _compare_stacks(args: argparse.Namespace, _: list[str]) -> int:
    from conformance.upgrade import workflows

    return workflows.compare_stacks(workflows.CompareOptions(
        a=args.a, b=args.b, plan=_stack_run_plan(args, args.examples), seeds=workflows.parse_seeds(args.seeds),
        results_dir=Path(args.results_dir), build=_stack_build_options(args),
        command="python -m conformance " + shlex.join(args.argv), fail_on_change=args.fail_on_change))


def _bisect(args: argparse.Namespace, _: list[str]) -> int:
    from conformance.upgrade import stacks, workflows

    registry, find_links = workflows.registry_for(args.registry)
    return workflows.bisect_release(workflows.BisectOptions(
        package=args.package, good=args.good, bad=args.bad, example=args.examples, check=args.check,
        plan=_stack_run_plan(args, args.examples), seeds=workflows.parse_seeds(args.seeds),
        results_dir=Path(args.results_dir), build=_stack_build_options(args, find_links), registry=registry,
        command="python -m conformance " + shlex.join(args.argv), base=stacks.parse_stack(args.base), pre=args.pre))


def _validate(args: argparse.Namespace, _: list[str]) -> int:
    from conformance.bench.baseline import load_baseline

    _require_golden_dir(args.golden_dir)
    directory = Path(args.golden_dir) if args.golden_dir else golden.golden_dir()
    problems = 0
    registered, filed = set(registry.all_examples()), {path.stem for path in directory.glob("*.json")}
    for example_id in sorted(registered - filed):
        problems += 1
        print(f"error: {example_id} has no golden file ({golden.golden_path(example_id, directory)})", file=sys.stderr)
    for example_id in sorted(filed - registered):
        problems += 1
        print(f"error: {golden.golden_path(example_id, directory)}: no example {example_id!r} is registered (renamed or "
              f"removed?): its checks would never run", file=sys.stderr)
    for path in sorted(directory.glob("*.json")):
        try:
            golden.load(path.stem, directory)
        except golden.GoldenError as error:
            problems += 1
            for problem in error.problems:
                print(f"error: {problem}", file=sys.stderr)
    baselines = sorted((directory / "bench").glob("*.json"))
    for path in baselines:
        try:
            load_baseline(path)
        except ConformanceError as error:
            problems += 1
            print(f"error: {error}", file=sys.stderr)
    print(f"{len(list(directory.glob('*.json')))} golden files and {len(baselines)} benchmark baselines, "
          f"{problems} with problems")
    return 1 if problems else 0
