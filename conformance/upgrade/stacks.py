"""A stack spec and the environment that installs it.

A **stack** is a comma-separated list of PEP 508 requirements, ``"keras==3.10.*,tensorflow-cpu==2.19.*"``
(a specifier with commas of its own, ``"keras>=3.10,<3.12"``, stays whole: a piece that starts with a
comparison joins the one before it). The empty stack is the project's own dependencies as pip resolved
them when its environment was built; ``--rebuild`` resolves them again.

Its **environment** is a virtualenv — made as nox makes its sessions' (``python -m virtualenv``, or
the standard library's ``venv`` where virtualenv is not installed), with pip — that holds this
project with its extras ``offline``, ``tensorboard`` and ``tuner`` (the smoke tier's optional parts, and
``jax`` when the stack names JAX), and the stack's pins. The pins replace the project's own ranges for the
packages they name: pyproject.toml caps the frameworks at the releases the project was checked on, and a
stack is how a later release or a release candidate gets tried before the cap is raised (or an earlier one
below the floor, whose missing APIs then show in the examples, not at install).
:func:`requirements_to_install` lists the project's requirements, read from pyproject.toml, with a pinned
package's specifier left out (its extras and marker kept), and the pins; pip resolves them in one command,
so every other constraint still holds, and then installs the project editable with ``--no-deps``.

Environments are cached under ``.nox/stacks/<hash>``, the hash of everything that decides what gets
installed (the pins, this Python, the extras, pyproject.toml, the extra wheel folders, inheriting or
not); ``stack.json`` in the folder is written last, so a build that failed half-way is rebuilt, never
reused.

``inherit=True`` builds the stack *on top of this interpreter's packages*: a ``.pth`` file puts
this project's working tree and this interpreter's site-packages on the environment's path, behind
its own site-packages, and pip installs the stack's pins alone (pip leaves the inherited copies
alone: "not uninstalling ..., outside environment"). Quick, and it works without the network when
the pins come from a local folder (``find_links``); most of the tests use it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import platform
import shutil
import site
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Sequence

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from conformance.errors import ConformanceError
from conformance.results import store
from conformance.toml_compat import tomllib

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = PROJECT_ROOT / ".nox" / "stacks"
MARKER = "stack.json"
INHERIT_PTH = "_conformance_stack_inherit.pth"
JAX_NAMES = {"jax", "jaxlib"}
_INSTALLED = ("import importlib.metadata as m, json, re\n"
              "seen = {}\n"
              "for d in m.distributions():\n"
              "    name = d.metadata['Name']\n"
              "    if name:\n"
              "        seen.setdefault(re.sub(r'[-_.]+', '-', name).lower(), d.version)\n"
              "print(json.dumps(dict(sorted(seen.items()))))\n")


@dataclass(frozen=True)
class Stack:
    spec: str  # as the user wrote it
    requirements: tuple[Requirement, ...]

    @property
    def names(self) -> list[str]:
        return [canonicalize_name(r.name) for r in self.requirements]

    @property
    def wants_jax(self) -> bool:
        return bool(JAX_NAMES & set(self.names))

    @property
    def label(self) -> str:
        return ", ".join(str(r) for r in self.requirements) or "(the project's own dependencies)"

    def with_pin(self, requirement: str) -> "Stack":
        """This stack with ``requirement`` added, replacing a pin of the same package."""
        added = _requirement(requirement)
        kept = [r for r in self.requirements if canonicalize_name(r.name) != canonicalize_name(added.name)]
        spec = ",".join([str(r) for r in kept] + [str(added)])
        return Stack(spec, tuple(kept) + (added,))


def parse_stack(text: str) -> Stack:
    """``"keras==3.10.*,tensorflow-cpu==2.19.*"`` → a :class:`Stack`; a bad requirement or a package
    named twice is a :class:`ConformanceError`."""
    pieces: list[str] = []
    for piece in (p.strip() for p in (text or "").split(",")):
        if not piece:
            continue
        if pieces and piece[0] in "<>=!~":  # "keras>=3.10,<3.12": the second comparison belongs to keras
            pieces[-1] += "," + piece
        else:
            pieces.append(piece)
    requirements = tuple(_requirement(p) for p in pieces)
    names = [canonicalize_name(r.name) for r in requirements]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConformanceError(f"stack {text!r} names {', '.join(twice)} more than once")
    if platform.machine() == "x86_64" and "tensorflow" in names:
        # pyproject.toml installs TensorFlow as tensorflow-cpu here; a tensorflow pin would unpack a second
        # TensorFlow over it, and the environment would mix the files of two releases
        raise ConformanceError(f"stack {text!r}: on x86_64 the project installs TensorFlow as tensorflow-cpu; pin "
                               f"that instead (tensorflow-cpu{requirements[names.index('tensorflow')].specifier})")
    return Stack(text or "", requirements)


def _requirement(text: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as error:
        raise ConformanceError(f"not a requirement: {text!r} ({error})") from error


@dataclass(frozen=True)
class BuildOptions:
    root: Path = DEFAULT_ROOT
    project: Path = PROJECT_ROOT
    extras: tuple[str, ...] = ("offline", "tensorboard", "tuner")  # what `nox -s conformance` installs
    inherit: bool = False
    find_links: tuple[str, ...] = ()
    rebuild: bool = False
    python: str = sys.executable

    def extras_for(self, stack: Stack) -> tuple[str, ...]:
        return tuple(sorted(set(self.extras) | ({"jax"} if stack.wants_jax else set())))


@dataclass(frozen=True)
class Environment:
    stack: Stack
    path: Path
    key: str
    packages: dict[str, str] = field(default_factory=dict)  # every distribution Python sees there: name → version
    reused: bool = False
    build_s: float = 0.0
    log: Path | None = None

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def environ(self) -> dict[str, str]:
        """The process environment for commands run in this environment."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env["VIRTUAL_ENV"] = str(self.path)
        env["PATH"] = str(self.path / "bin") + os.pathsep + env.get("PATH", "")
        return env


class InstallFailed(ConformanceError):
    """pip could not install a stack; ``reason`` is pip's own complaint, ``log`` its whole output."""

    def __init__(self, stack: Stack, reason: str, log: Path) -> None:
        super().__init__(f"cannot install {stack.label}: {reason} (pip's output: {log})")
        self.stack, self.reason, self.log = stack, reason, log


def environment_key(stack: Stack, options: BuildOptions) -> str:
    """The cache key: a hash of everything that decides what the environment holds."""
    pyproject = options.project / "pyproject.toml"
    identity = {
        "requirements": sorted(str(r) for r in stack.requirements),
        "python": sys.version, "executable": os.path.realpath(options.python),
        "extras": list(options.extras_for(stack)), "project": str(options.project),
        "pyproject": hashlib.sha256(pyproject.read_bytes()).hexdigest() if pyproject.exists() else None,
        "find_links": [str(f) for f in options.find_links],
        "inherit": _host_site_packages() if options.inherit else False,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


@contextlib.contextmanager
def using(stack: Stack, options: BuildOptions) -> Iterator[Environment]:
    """The environment of ``stack``, held for the commands run in it: the cached one when a complete
    build exists (and ``rebuild`` is off), else a new build. While one command holds it, another cannot
    rebuild it under its feet: that one's ``--rebuild`` stops with an error instead of removing the folder.
    Raises :class:`InstallFailed` when pip cannot install the stack."""
    key = environment_key(stack, options)
    folder = options.root / key
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(options.root / f".{key}.in-use", "a") as in_use:
        with store.locked(folder):  # two commands building the same stack at once: the second reuses it
            environment = _reused(stack, folder, key, options)
            if environment is None:
                try:
                    fcntl.flock(in_use, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise ConformanceError(
                        f"cannot rebuild the environment of {stack.label} ({folder}): another command is running in "
                        f"it; wait for it to finish, or leave out --rebuild") from None
                environment = _build(stack, folder, key, options)
            # shared from here on; no rebuild can slip in between: a rebuild takes the build lock first
            fcntl.flock(in_use, fcntl.LOCK_SH)
        try:
            yield environment
        finally:
            fcntl.flock(in_use, fcntl.LOCK_UN)


def _reused(stack: Stack, folder: Path, key: str, options: BuildOptions) -> Environment | None:
    """The complete environment in ``folder``, or None when there is none (or ``rebuild`` is on)."""
    marker = folder / MARKER
    if options.rebuild or not marker.exists() or not (folder / "bin" / "python").exists():
        return None
    recorded = json.loads(marker.read_text())
    reused = Environment(stack, folder, key, reused=True, build_s=recorded.get("build_s", 0.0),
                         log=options.root / f"{key}.log")
    # read again, not from the marker: an --inherit environment imports the host's packages,
    # which may have changed since it was built
    return replace(reused, packages=installed_packages(reused))


def _build(stack: Stack, folder: Path, key: str, options: BuildOptions) -> Environment:
    started = time.monotonic()
    log = options.root / f"{key}.log"
    shutil.rmtree(folder, ignore_errors=True)
    log.write_text(f"# stack: {stack.label}\n# key: {key}\n")
    _create(folder, options.python, log)
    environment = Environment(stack, folder, key, log=log)
    if options.inherit:
        _inherit(environment, options.project)
    pip = [str(environment.python), "-m", "pip", "install", "--disable-pip-version-check"]
    for folder_or_url in options.find_links:
        pip += ["--find-links", str(folder_or_url)]
    if options.inherit:
        installs = [pip + [str(r) for r in stack.requirements]] if stack.requirements else []
    else:
        # the project's requirements were resolved in the first command, with the pins replacing their
        # ranges; pip would warn that the project's own metadata disagrees, which is the point
        installs = [pip + requirements_to_install(stack, options.project, options.extras_for(stack)),
                    pip + ["--no-deps", "--no-warn-conflicts", "-e", str(options.project)]]
    for command in installs:
        done = _logged(command, log, environment.environ())
        if done.returncode != 0:
            shutil.rmtree(folder, ignore_errors=True)
            raise InstallFailed(stack, pip_reason(done.stdout), log)
    packages = installed_packages(environment)
    build_s = round(time.monotonic() - started, 1)
    (folder / MARKER).write_text(json.dumps({
        "spec": stack.spec, "requirements": [str(r) for r in stack.requirements], "key": key,
        "inherit": options.inherit, "extras": list(options.extras_for(stack)),
        "find_links": list(map(str, options.find_links)), "build_s": build_s,
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "packages": packages}, indent=1) + "\n")
    return Environment(stack, folder, key, packages, reused=False, build_s=build_s, log=log)


def requirements_to_install(stack: Stack, project: Path, extras: Sequence[str]) -> list[str]:
    """What a build that does not inherit resolves in one pip command: the project's own requirements
    (its dependencies and those of ``extras``, read from its pyproject.toml) and the stack's pins. A pin
    replaces the project's range for the package it names: that requirement loses its version specifier
    and keeps its extras and marker (``jax[cpu]>=0.4.30,<0.11`` with the pin ``jax==0.12.0`` becomes
    ``jax[cpu]`` and ``jax==0.12.0``). A pin with a marker of its own replaces nothing: where its marker is
    false, the project's range must still hold. The others go to pip as pyproject.toml writes them."""
    pinned = {canonicalize_name(r.name) for r in stack.requirements if r.marker is None}
    own = []
    for text in _project_requirements(project, extras):
        requirement = Requirement(text)
        if canonicalize_name(requirement.name) in pinned:
            requirement.specifier = SpecifierSet()
            text = str(requirement)
        own.append(text)
    return own + [str(r) for r in stack.requirements]


def _project_requirements(project: Path, extras: Sequence[str]) -> list[str]:
    pyproject = project / "pyproject.toml"
    metadata = tomllib.loads(pyproject.read_text())["project"]
    dynamic = {"dependencies", "optional-dependencies"} & set(metadata.get("dynamic", ()))
    if dynamic:  # only the build backend knows them, and the pins could not replace their ranges
        raise ConformanceError(f"{pyproject}: a stack needs the project's requirements written out, "
                               f"not dynamic {', '.join(sorted(dynamic))}")
    optional = metadata.get("optional-dependencies", {})
    unknown = sorted(set(extras) - set(optional))
    if unknown:
        raise ConformanceError(f"{pyproject} has no extra {', '.join(unknown)}")
    return list(metadata.get("dependencies", ())) + [text for extra in extras for text in optional[extra]]


def installed_packages(environment: Environment) -> dict[str, str]:
    """Every distribution the environment's Python imports, by normalised name: the first on its
    path wins, as it does for an import (so a pin shadows an inherited copy)."""
    done = subprocess.run([str(environment.python), "-c", _INSTALLED], capture_output=True, text=True,
                          env=environment.environ(), check=False)
    if done.returncode != 0:
        raise ConformanceError(f"cannot list the packages of {environment.path}: {done.stderr.strip()[-300:]}")
    return json.loads(done.stdout)


def pip_reason(output: str, limit: int = 400) -> str:
    """pip's complaint in a line: its ERROR lines (the first two), or its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR:")]
    reason = " ".join(errors[:2]) if errors else (lines[-1] if lines else "pip failed without a message")
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"


def _create(folder: Path, python: str, log: Path) -> None:
    if importlib.util.find_spec("virtualenv"):  # nox's; the standard library's venv stands in without it
        command = [python, "-m", "virtualenv", "--quiet", "--no-periodic-update", str(folder)]
    else:
        command = [python, "-m", "venv", str(folder)]
    done = _logged(command, log, None)
    if done.returncode != 0:
        raise ConformanceError(f"cannot create a virtual environment in {folder}: {done.stdout.strip()[-300:]}")


def _inherit(environment: Environment, project: Path) -> None:
    """Put the project's working tree and this interpreter's site-packages behind the environment's own."""
    done = subprocess.run([str(environment.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True)
    own = Path(done.stdout.strip())
    lines = [str(project)] + [p for p in _host_site_packages() if Path(p) != own]
    (own / INHERIT_PTH).write_text("\n".join(lines) + "\n")


def _host_site_packages() -> list[str]:
    paths = site.getsitepackages() + [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    return list(dict.fromkeys(p for p in paths if os.path.isdir(p)))


def _logged(command: list[str], log: Path, env: dict[str, str] | None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False,
                          stdin=subprocess.DEVNULL)
    output = done.stdout + done.stderr
    with open(log, "a") as f:
        f.write(f"$ {' '.join(command)}\n{output}\n# exit status {done.returncode}\n")
    return subprocess.CompletedProcess(command, done.returncode, output, "")


def describe(environment: Environment) -> dict[str, Any]:
    return {"stack": environment.stack.label, "spec": environment.stack.spec, "path": str(environment.path),
            "key": environment.key, "reused": environment.reused, "build_s": environment.build_s,
            "packages": environment.packages}
