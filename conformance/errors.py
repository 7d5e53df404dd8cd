"""The errors a user can act on. The CLI prints these and exits 2; anything else is a bug and keeps its traceback."""

from __future__ import annotations

from pathlib import Path


class ConformanceError(Exception):
    """A bad option, a missing install, a selection that matches nothing, a file that cannot be used."""


class MalformedFile(ConformanceError):
    """A file that cannot be used; the message names the file, the field and the problem."""

    def __init__(self, path: Path | str, field: str, problem: str) -> None:
        super().__init__(f"{path}: {field}: {problem}")
        self.path, self.field, self.problem = str(path), field, problem
