"""Sessions: conformance (smoke tier by default), tests.

Arguments after ``--`` pass through to ``python -m conformance run``:
    nox -s conformance -- --tier offline --examples 'ch02*'
    nox -s conformance -- --backend jax
"""

import nox

nox.options.sessions = ["conformance", "tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"


def _install(session: nox.Session, *extras: str) -> None:
    session.install("-e", f".[{','.join(('offline',) + extras)}]")


@nox.session(python=PYTHON)
def conformance(session: nox.Session) -> None:
    """Run the book's examples and check them (smoke tier unless told otherwise)."""
    args = list(session.posargs)
    extras = ("jax",) if "jax" in args or "--backend=jax" in args else ()
    _install(session, *extras)
    session.run("python", "-m", "conformance", "run", *args)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit tests of the engine and the data layer."""
    _install(session, "test", "jax")  # the tests run the Keras-only examples on JAX too
    session.run("pytest", "-n", "auto", *session.posargs)
