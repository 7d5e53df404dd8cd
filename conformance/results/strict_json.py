"""JSON that every reader accepts, non-finite numbers included.

Python's ``json`` writes a diverged loss as a bare ``NaN`` (or ``Infinity``), which is not JSON: ``jq``
and most other tools refuse the whole file. The files this tool writes spell those three values as
the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (as Protocol Buffers' JSON mapping does for
doubles). A record reads them back as floats where it holds measurements (:func:`measured`), and only
there: a text field that says ``"NaN"`` stays text. Files written with bare constants before still read.
"""

from __future__ import annotations

import json
import math
from typing import Any

_SPELLED = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def dumps(document: Any, indent: int | None = 1) -> str:
    return json.dumps(_spell_non_finite(document), indent=indent, ensure_ascii=False, allow_nan=False)


def measured(value: Any) -> Any:
    """``value`` (a measurement, or a structure of them, read from JSON) with the spelled-out
    non-finite numbers turned back into floats."""
    if isinstance(value, str):
        return _SPELLED.get(value, value)
    if isinstance(value, dict):
        return {key: measured(item) for key, item in value.items()}
    if isinstance(value, list):
        return [measured(item) for item in value]
    return value


def _spell_non_finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _spell_non_finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_spell_non_finite(item) for item in value]
    return value

