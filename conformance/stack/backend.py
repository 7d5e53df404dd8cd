"""Choosing the Keras backend, which must happen before Keras is first imported."""

from __future__ import annotations

import os
import sys

from conformance.errors import ConformanceError

BACKENDS = ("tensorflow", "jax", "torch")
EXTRAS = {"tensorflow": "(default install)", "jax": "pip install '.[jax]'", "torch": "pip install '.[torch]'"}


class BackendError(ConformanceError):
    pass


def select(backend: str) -> None:
    """Make ``backend`` the Keras backend of this process and the processes it starts."""
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if "keras" in sys.modules:
        active = sys.modules["keras"].backend.backend()
        if active != backend:
            raise BackendError(f"Keras is already imported with backend {active!r}; cannot switch to {backend!r}")
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter buries the report


def current() -> str:
    """The backend ``$KERAS_BACKEND`` names (TensorFlow when unset): one of :data:`BACKENDS`."""
    chosen = os.environ.get("KERAS_BACKEND", "tensorflow")
    if chosen not in BACKENDS:
        raise BackendError(f"KERAS_BACKEND={chosen!r} is not a backend this suite runs ({', '.join(BACKENDS)})")
    return chosen


def require_installed(backend: str) -> None:
    import importlib.util

    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    if importlib.util.find_spec(module) is None:
        raise BackendError(f"backend {backend!r} is not installed here; {EXTRAS[backend]}")
