"""Which planted fault the suite caught, in which example, by which check; the detection rate.

A fault *touched* an example when it changed at least one call while the example ran; it was
*caught* there when the example, which passes without the fault, failed a check or raised. A
fault no example touched is *not exercised*: the tier has nothing it could break. The detection
rate counts the exercised faults that at least one example caught. Each fault runs only on the
examples the run without a fault showed it reaching (``reach``); one that reaches none is not run.

For a fault that changes configuring calls (constructors, ``compile``), an error raised inside a
call the fault changed (its traceback passes through the fault's wrapper in ``faults.py``) is not
a catch: Keras refused the planted value (a ``becomes`` it does not accept), so the fault, not the
suite, is broken there. A fault of ``fit`` (one epoch, shuffled labels) wraps the whole training,
so an error inside it is its effect and counts as caught. Such examples are listed as *refused*;
a fault refused everywhere it was not otherwise caught gets the verdict *refused*, which counts as
exercised and not caught, so a misconfigured fault lowers the detection rate instead of scoring as
caught by every example it crashed. An error raised later (a pooling layer that passes its input
through breaks the next layer's shapes) is the fault's effect and counts as caught; the report
names the faults caught only by such errors. A run file without tracebacks counts every error.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from conformance.results.records import ConformanceRun, ExampleResult
from conformance.sensitivity.faults import Fault

CAUGHT, MISSED, NOT_EXERCISED, NO_RESULT = "caught", "missed", "not exercised", "no result"
REFUSED = "refused"  # every example it broke raised inside the call it changed: the fault is misconfigured
_PLANTED_CALL = re.compile(r'sensitivity[/\\]faults\.py", line \d+, in rewritten$', re.MULTILINE)


@dataclass
class FaultOutcome:
    id: str
    description: str
    verdict: str
    touched: list[str] = field(default_factory=list)
    caught_by: dict[str, list[str]] = field(default_factory=dict)  # example → failed checks, or its error
    failed_untouched: list[str] = field(default_factory=list)  # failed although the fault never reached them
    refused: dict[str, str] = field(default_factory=dict)  # example → the error its planted call raised
    note: str = ""


@dataclass
class SensitivityReport:
    command: str
    settings: dict[str, Any]
    clean_failures: dict[str, str]  # examples that fail without any fault: left out of the attribution
    faults: list[FaultOutcome]

    @property
    def exercised(self) -> list[FaultOutcome]:
        return [f for f in self.faults if f.verdict in (CAUGHT, MISSED, REFUSED)]

    @property
    def caught(self) -> list[FaultOutcome]:
        return [f for f in self.faults if f.verdict == CAUGHT]

    @property
    def detection_rate(self) -> float | None:
        return len(self.caught) / len(self.exercised) if self.exercised else None

    @property
    def caught_of_all(self) -> float | None:
        """Caught over every fault run, a fault no example exercised counting as missed: what a gate
        may rely on, since a Keras change that stopped faults reaching the examples raises the other."""
        return len(self.caught) / len(self.faults) if self.faults else None

    def per_example(self) -> dict[str, tuple[int, int]]:
        """Example → (faults that touched it, faults it caught)."""
        tally: dict[str, list[int]] = {}
        for outcome in self.faults:
            for example in outcome.touched:
                counts = tally.setdefault(example, [0, 0])
                counts[0] += 1
                counts[1] += example in outcome.caught_by
        return {example: (touched, caught) for example, (touched, caught) in sorted(tally.items())}

    def to_json(self) -> dict[str, Any]:
        return {"command": self.command, "settings": self.settings, "detection_rate": self.detection_rate,
                "caught_of_all": self.caught_of_all,
                "caught": len(self.caught), "exercised": len(self.exercised), "clean_failures": self.clean_failures,
                "faults": [asdict(f) for f in self.faults],
                "examples": {e: {"touched_by": t, "caught": c} for e, (t, c) in self.per_example().items()}}


def reach(clean: ConformanceRun) -> dict[str, list[str]]:
    """Fault id → the examples whose calls it would change, from a probed run without a fault;
    examples that do not pass there are left out (their failures under a fault say nothing)."""
    reached: dict[str, list[str]] = {}
    for result in clean.examples:
        if result.status != "passed":
            continue
        for fault, calls in (result.fault_reach or {}).items():
            if calls:
                reached.setdefault(fault, []).append(result.id)
    return reached


def build(command: str, clean: ConformanceRun, faulted: dict[str, ConformanceRun | None],
          catalogue: list[Fault]) -> SensitivityReport:
    """Attribute each fault's failures, given the run without a fault and one run per fault that
    reaches an example (None where the run left no file)."""
    clean_results = {result.id: result for result in clean.examples}
    clean_failures = {example: result.reason or result.status for example, result in clean_results.items()
                      if result.status in ("failed", "error")}  # a skip (no TPU here) is no failure
    outcomes = [_judge(fault, fault.id in faulted, faulted.get(fault.id), clean_failures) for fault in catalogue]
    return SensitivityReport(command, clean.settings, clean_failures, outcomes)


def _judge(fault: Fault, was_run: bool, run: ConformanceRun | None, clean_failures: dict[str, str]) -> FaultOutcome:
    outcome = FaultOutcome(fault.id, fault.description, NO_RESULT)
    if not was_run:
        outcome.verdict = NOT_EXERCISED
        outcome.note = "not run: it changes no call of an example that passes without it"
        return outcome
    if run is None:
        outcome.note = "the run left no results file"
        return outcome
    for result in run.examples:
        if result.id in clean_failures or result.status == "skipped":
            continue
        broke = result.status in ("failed", "error")
        if result.fault_hits:
            outcome.touched.append(result.id)
            if broke and changes_configuration(fault) and refused_planted_call(result):
                outcome.refused[result.id] = _evidence(result)[0]
            elif broke:
                outcome.caught_by[result.id] = _evidence(result)
        elif broke:
            outcome.failed_untouched.append(result.id)
    outcome.verdict = (CAUGHT if outcome.caught_by else REFUSED if outcome.refused else MISSED if outcome.touched
                       else NOT_EXERCISED)
    notes = []
    if outcome.refused and outcome.verdict == CAUGHT:
        notes.append(f"Keras refused the planted call in {len(outcome.refused)}: check the fault")
    if not run.complete:
        notes.append(f"the run did not finish ({run.incompleteness()}); its verdict covers the examples it ran")
    outcome.note = "; ".join(notes)
    return outcome


def changes_configuration(fault: Fault) -> bool:
    """The fault changes only calls that configure (constructors, ``compile``), where Keras checks the
    values it is given. A fault of ``fit`` or a layer's ``call`` changes a call that does the work
    itself, so an error raised inside it is the fault's effect, not Keras refusing a value."""
    return all(target.endswith(("__init__", ".compile")) for target in fault.targets)


def refused_planted_call(result: ExampleResult) -> bool:
    """The example raised inside a call the planted fault changed: the library refused the fault's
    value, which says nothing about the suite's checks."""
    return result.status == "error" and _PLANTED_CALL.search(result.traceback) is not None


def caught_only_by_errors(outcome: FaultOutcome) -> bool:
    return bool(outcome.caught_by) and all(checks and checks[0].startswith("raised")
                                           for checks in outcome.caught_by.values())


def _evidence(result: ExampleResult) -> list[str]:
    if result.status == "error":
        return [f"raised {result.reason.splitlines()[0][:120]}" if result.reason else "raised"]
    return [check.name for check in result.failed_checks]


def render(report: SensitivityReport) -> str:
    settings = report.settings
    rate = report.detection_rate
    lines = [
        f"# Fault sensitivity: {settings.get('tier')} tier, {settings.get('backend')}, seed {settings.get('seed')}",
        "",
        f"Command: `{report.command}`",
        "",
        (f"**Detection: {len(report.caught)} of {len(report.exercised)} exercised faults caught ({rate:.0%}).**"
         if rate is not None else "**Detection: no fault reached any example.**"),
    ]
    idle = [f.id for f in report.faults if f.verdict == NOT_EXERCISED]
    if idle:
        lines.append(f"Not exercised by any example of this tier: {', '.join(idle)}.")
    if report.faults:
        lines.append(f"Of all {len(report.faults)} faults run, {len(report.caught)} caught ({report.caught_of_all:.0%}; "
                     f"what --min-detection counts).")
    if report.clean_failures:
        lines += ["", "Left out of the attribution, because they fail without any fault: "
                  + ", ".join(f"{example} ({reason[:80]})" for example, reason in report.clean_failures.items())]
    lines += ["", "## Faults", "", "| fault | what breaks | verdict | caught by | touched |", "|---|---|---|---|---|"]
    for outcome in report.faults:
        caught = "; ".join(f"{example}: {', '.join(checks[:2])}{' …' if len(checks) > 2 else ''}"
                           for example, checks in outcome.caught_by.items()) or "—"
        verdict = outcome.verdict + (f" ({outcome.note})" if outcome.note else "")
        lines.append(f"| {outcome.id} | {outcome.description} | {verdict} | {caught} | {len(outcome.touched)} |")
    missed = [f for f in report.faults if f.verdict == MISSED]
    if missed:
        lines += ["", "## Missed", ""]
        for outcome in missed:
            lines.append(f"- **{outcome.id}** reached {', '.join(outcome.touched)}; none of their checks failed.")
    refused = [f for f in report.faults if f.refused]
    if refused:
        lines += ["", "## Refused", "", "Keras raised inside the call the fault changed: the fault is misconfigured "
                  "there (not counted as caught).", ""]
        for outcome in refused:
            lines.append(f"- **{outcome.id}**: " + "; ".join(f"{example} ({error})"
                                                              for example, error in outcome.refused.items()))
    crashed = [f.id for f in report.faults if caught_only_by_errors(f)]
    if crashed:
        lines += ["", f"Caught only by examples that raised, no check failing: {', '.join(crashed)}."]
    lines += ["", "## Examples", "", "| example | faults that reached it | caught |", "|---|---|---|"]
    for example, (touched, caught) in report.per_example().items():
        lines.append(f"| {example} | {touched} | {caught} |")
    noisy = [(f.id, f.failed_untouched) for f in report.faults if f.failed_untouched]
    if noisy:
        lines += ["", "Failed although the fault never reached them (noise, not detection): "
                  + "; ".join(f"{fault}: {', '.join(examples)}" for fault, examples in noisy)]
    return "\n".join(lines) + "\n"
