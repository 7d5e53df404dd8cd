"""Settings → one example → its result: the outcome judged against its golden file."""

from __future__ import annotations

import time
import traceback
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from conformance.engine import checks
from conformance.engine import golden as golden_files
from conformance.engine.registry import tiers_of
from conformance.errors import ConformanceError
from conformance.results.records import ExampleResult
from conformance.stack import devices
from reference_impl import datasets
from reference_impl.api import TIERS, DatasetUnavailable, ExampleSpec, Run, Scale, Unavailable

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
# NumPy seeds take 0 to 2**32 - 1, and the IMDB reviews twin draws its train and test splits from seed * 2 and
# seed * 2 + 1
MAX_SEED = 2**31 - 1


class SettingsError(ConformanceError):
    pass


@dataclass(frozen=True)
class Settings:
    tier: str = "smoke"
    backend: str = "tensorflow"
    precision: str = "float32"
    devices: int = 1
    seed: int = 0
    fault: str | None = None  # a fault of the sensitivity catalogue, planted in every example
    probe_faults: bool = False  # record which faults of the catalogue each example reaches; changes nothing
    require_data: bool = False  # data that cannot be had is an error, not a skip (machines meant to have it)

    def __post_init__(self) -> None:
        if self.tier not in TIERS:
            raise SettingsError(f"unknown tier {self.tier!r}; choose one of {', '.join(TIERS)}")
        if self.precision not in PRECISIONS:
            raise SettingsError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        if self.fault is not None and self.probe_faults:
            raise SettingsError("a run either plants a fault or probes where the faults reach, not both")

    def to_json(self) -> dict[str, Any]:
        """The settings a run file records; ``fault`` only when one is planted, so a run with a
        fault never has the same settings as (and is never the baseline of) a run without. A probe
        changes nothing, so a probed run keeps the settings of a plain one."""
        settings = asdict(self)
        del settings["probe_faults"]
        if self.fault is None:
            del settings["fault"]
        if not self.require_data:  # left out, so run files written before it existed keep their settings
            del settings["require_data"]
        return settings


def recorded_settings(settings: Settings, golden_dir: Path | None) -> dict[str, Any]:
    """The settings a run file records, with the golden folder when it is not the project's own: a run
    judged against other golden files is not like for like with one judged against golden/ (it is
    never resumed with, nor the baseline of, such a run). The project's folder is left out, so run
    files written before the folder was recorded keep their settings."""
    recorded = settings.to_json()
    used = (golden_dir or golden_files.golden_dir()).resolve()  # $CONFORMANCE_GOLDEN chooses them too
    if used != golden_files.project_golden_dir().resolve():
        recorded["golden_dir"] = str(used)
    return recorded


def skip_reason(spec: ExampleSpec, settings: Settings) -> str | None:
    if settings.backend not in spec.backends:
        return f"runs on {', '.join(spec.backends)} only ({spec.backends_reason}); this run uses {settings.backend}"
    if settings.tier not in tiers_of(spec):
        return f"no offline source for its data ({', '.join(spec.datasets)})"
    return None


def execute(spec: ExampleSpec, settings: Settings, scale: Scale) -> Run:
    """Run one example under ``settings``; raises what the example raises."""
    import keras

    if keras.backend.backend() != settings.backend:
        raise RuntimeError(f"Keras runs on {keras.backend.backend()!r}, settings ask for {settings.backend!r}")
    keras.utils.set_random_seed(settings.seed)
    keras.utils.disable_interactive_logging()  # no progress bars: the results say what happened
    keras.mixed_precision.set_global_policy(settings.precision)
    run = Run(tier=settings.tier, seed=settings.seed, backend=settings.backend, scale=scale,
              data_loader=datasets.load)
    try:
        with devices.scope(settings.devices, settings.backend) as replicas:
            run.value("replicas_in_sync", replicas)
            spec.func(run)
    finally:
        keras.mixed_precision.set_global_policy("float32")
        keras.backend.clear_session()
    return run


def run_example(
    spec: ExampleSpec, settings: Settings, profile_id: str, golden_dir: Path | None = None
) -> ExampleResult:
    """One example's result, judged against its golden file. Never raises for the example's sake.
    With a fault in the settings, the fault is planted while the example runs and the result
    says how many calls it changed; with ``probe_faults``, the result says per fault of the
    catalogue how many calls it would have changed."""
    result = ExampleResult(id=spec.id, tier=settings.tier, backend=settings.backend, seed=settings.seed,
                           status="passed")
    reason = skip_reason(spec, settings)
    if reason:
        return replace(result, status="skipped", reason=reason)
    try:
        golden = golden_files.load(spec.id, golden_dir)
    except golden_files.GoldenError as error:
        return replace(result, status="error", reason=str(error))
    if settings.fault is None and not settings.probe_faults:
        return _run_and_judge(spec, settings, golden, profile_id, result)
    from conformance.sensitivity import faults

    if settings.fault is not None:
        with faults.planted(faults.get(settings.fault)) as tally:
            result = _run_and_judge(spec, settings, golden, profile_id, result)
        return replace(result, fault_hits=tally.hits)
    with faults.probed(faults.select(None)) as tallies:
        result = _run_and_judge(spec, settings, golden, profile_id, result)
    return replace(result, fault_reach={fault: tally.hits for fault, tally in tallies.items() if tally.hits})


def _run_and_judge(spec: ExampleSpec, settings: Settings, golden: golden_files.Golden, profile_id: str,
                   result: ExampleResult) -> ExampleResult:
    started = time.perf_counter()
    try:
        run = execute(spec, settings, golden.scale(settings.tier))
    except Unavailable as missing:
        required = settings.require_data and isinstance(missing, DatasetUnavailable)
        return replace(result, status="error" if required else "skipped",
                       reason=f"{missing.what}{' (--require-data)' if required else ''}: {missing}",
                       duration_s=round(time.perf_counter() - started, 3))
    except Exception as error:  # the example itself broke: report it, keep the suite going
        return replace(result, status="error", reason=f"{type(error).__name__}: {error}",
                       traceback=traceback.format_exc(), duration_s=round(time.perf_counter() - started, 3))
    duration = round(time.perf_counter() - started, 3)

    observed = run.outcome.to_json()
    verdicts = checks.judge_tier(golden, settings.tier, observed, backend=settings.backend, profile_id=profile_id)
    failed = [v for v in verdicts if not v.passed]
    return replace(result, status="failed" if failed else "passed", reason="; ".join(v.message for v in failed),
                   duration_s=duration, checks=verdicts, metrics=observed["values"], models=observed["models"],
                   history=observed["history"], data=observed["data"])
