"""When is a benchmark change a regression? Only when it is larger than the measured noise.

A comparison takes the per-round throughputs of a baseline and of a new run (higher is
better) and calls

* ``regression`` when the new rounds are slower with a two-sided Mann–Whitney U test
  p-value below ``alpha`` (0.05) **and** the median is lower by at least the threshold:
  ``min_change`` or the rounds' own spread (the larger coefficient of variation of the two
  sides), whichever is larger;
* ``improvement`` likewise in the other direction;
* ``unchanged`` otherwise; the verdict still says how large the change is and how sure.

Why both: the test alone flags tiny but consistent shifts (a 1% change over quiet rounds
is "significant" yet not worth a red build), and a size threshold alone flags noise. The
rounds of one run are not independent of the run's conditions (other processes' load,
clock speed), so a shift between two runs smaller than the spread inside them is not called
either. The
default minimum change is 10%: on a shared CPU the spread between two runs of the same
code (load from other processes, frequency scaling) is several percent even when the
rounds inside one run agree closely; on a dedicated GPU 5% is a reasonable choice
(``--min-change 0.05``). Mann–Whitney needs no normality and at least 4 rounds per side to
reach p < 0.05 at all (with 3 and 3 the smallest two-sided p is 0.1); a comparison with
fewer says it cannot call a change (``underpowered``).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from scipy import stats as scipy_stats

DEFAULT_ALPHA = 0.05
DEFAULT_MIN_CHANGE = 0.10


@dataclass(frozen=True)
class Comparison:
    verdict: str  # regression | improvement | unchanged
    change: float  # relative change of the median, new vs baseline (−0.3 = 30% slower)
    p_value: float
    baseline_median: float
    new_median: float
    baseline_cv: float
    new_cv: float
    rounds: tuple[int, int]
    underpowered: bool
    threshold: float  # the smallest |change| called: max(min_change, the larger CV)
    alpha: float
    min_change: float

    @property
    def is_regression(self) -> bool:
        return self.verdict == "regression"

    def describe(self) -> str:
        sureness = f"p = {self.p_value:.3g} (Mann–Whitney U, {self.rounds[0]} vs {self.rounds[1]} rounds)"
        if self.underpowered:
            sureness += ", too few rounds to call any change"
        return (f"{self.verdict}: {self.change:+.1%} ({self.baseline_median:.4g} → {self.new_median:.4g}), {sureness}; "
                f"noise CV {self.baseline_cv:.1%} / {self.new_cv:.1%}; called when p < {self.alpha} and "
                f"|change| ≥ {self.threshold:.1%} (max of {self.min_change:.0%} and the larger CV)")

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["rounds"] = list(self.rounds)
        document["description"] = self.describe()
        return document


def coefficient_of_variation(samples: Sequence[float]) -> float:
    """Sample standard deviation over the mean; 0 for fewer than two samples."""
    if len(samples) < 2:
        return 0.0
    mean = statistics.fmean(samples)
    return statistics.stdev(samples) / mean if mean else math.inf


def smallest_p_value(n_baseline: int, n_new: int) -> float:
    """The smallest two-sided p a Mann–Whitney U test can give for these sample sizes (complete separation)."""
    if n_baseline == 0 or n_new == 0:
        return 1.0
    return min(1.0, 2 / math.comb(n_baseline + n_new, n_new))


def compare(baseline: Sequence[float], new: Sequence[float], *, alpha: float = DEFAULT_ALPHA,
            min_change: float = DEFAULT_MIN_CHANGE) -> Comparison:
    """Compare per-round throughputs (higher is better) of a baseline and a new run."""
    if not baseline or not new:
        raise ValueError("both sides need at least one round")
    if any(not math.isfinite(v) or v <= 0 for v in (*baseline, *new)):
        raise ValueError("throughputs must be positive finite numbers")
    baseline_median, new_median = statistics.median(baseline), statistics.median(new)
    change = new_median / baseline_median - 1
    if len(set(baseline) | set(new)) == 1:
        p_value = 1.0  # identical samples: nothing to test
    else:
        p_value = float(scipy_stats.mannwhitneyu(new, baseline, alternative="two-sided").pvalue)
    noise = max(coefficient_of_variation(baseline), coefficient_of_variation(new))
    threshold = max(min_change, noise)
    significant = p_value < alpha and abs(change) >= threshold
    verdict = "unchanged" if not significant else "regression" if change < 0 else "improvement"
    return Comparison(
        verdict=verdict, change=change, p_value=p_value, baseline_median=baseline_median, new_median=new_median,
        baseline_cv=coefficient_of_variation(baseline), new_cv=coefficient_of_variation(new), threshold=threshold,
        rounds=(len(baseline), len(new)), underpowered=smallest_p_value(len(baseline), len(new)) >= alpha,
        alpha=alpha, min_change=min_change,
    )
