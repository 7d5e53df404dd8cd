"""When is a benchmark change a regression? Only when it is larger than the measured noise.

A comparison takes the throughputs (higher is better) of a baseline and of a new
measurement, each as one or more **runs** (independent processes, ``bench --repeats``) of
several **rounds**. Two kinds of noise matter, and the rounds of one run show only the first:

* within a run, round to round (timer, caches, the odd interrupted round);
* between runs: each process gets its own memory layout and thread placement, and a shared
  machine has slow spells (another tenant on the same physical cores) that last longer than
  one model's rounds. So whole runs shift together. On the 2-core CI machines this is the
  larger part: runs of the same code whose rounds agree to 5% differ by 10%, and about one
  configuration in twenty runs at half speed for its whole measurement. A test over one run's
  rounds calls such a shift significant.

So, like airspeed velocity (asv) and other suites that run several processes, the comparison
works on the runs' median throughputs:

* the **change** is the median of the new runs' medians over the median of the baseline
  runs' medians, minus one. With three runs a side, one run caught in a slow spell moves it
  little.
* the **between-run noise** σ is the spread of log run medians, estimated robustly and pooled
  over every configuration in the comparison (:func:`between_run_noise`): the median of the
  absolute differences between two runs of the same configuration, divided by 0.954 (that
  median for normal data). One configuration's three runs say little about the noise; forty
  configurations' runs say a lot, and an odd half-speed run does not inflate the estimate.
* **between-run test**: a two-sided t-test of the log change of the medians. Its standard
  error is σ·√(v(K_baseline) + v(K_new)), where v(K) is the variance of the median of K
  standard normal samples (:func:`median_variance`: 0.449 for three, where a mean's would be
  1/3), and its degrees of freedom are those of the pooled σ: the runs' Σ(K − 1) over every
  configuration and side, times 0.3675, the efficiency of a median of absolute deviations
  against the standard deviation on normal data (exact with two runs a side; with three or more
  the pooled pairwise differences are more efficient than that, so the test errs on the safe side). Treating σ as known and the median as a mean
  made the same code, benchmarked twice over 20 configurations of three runs a side at the CI
  machines' 12% between-run noise, draw a false call in about one report in five (simulated;
  ``tests/test_stats.py`` keeps it under ``alpha``). Used whenever σ can be estimated (some
  configuration has two or more runs on a side).
* **within-run test** (one run everywhere, e.g. a baseline recorded before ``--repeats``): a
  two-sided Mann–Whitney U test over the rounds; the noise is the larger within-run CV. The
  verdict says it saw within-run noise only.

A change is called (``regression`` when slower, ``improvement`` when faster) when the test
gives p < ``alpha`` (0.05) **and** the median moved by at least the threshold: ``min_change``
(10%) or the noise (as a CV), whichever is larger. Otherwise ``unchanged``; the verdict still
says how large the change is and how sure. Why both: a test alone flags tiny consistent shifts
(a 1% change is "significant" yet not worth a red build), a size threshold alone flags noise.

A report compares every configuration at once (20 on a CPU), and at p < 0.05 each the same
code run twice would draw about one false call per report. :func:`adjust_for_family` applies
Holm's step-down adjustment to the p-values of one report, which keeps the chance of any false
call in it under ``alpha``.

Within a run the spread is measured robustly too (:func:`robust_cv`, from the median absolute
deviation): a single interrupted round can take three times as long as the others, and the
ordinary CV would let that one round decide how noisy the whole run was.

One more guard: a change that would be called is reported as ``unstable`` instead when the new
measurement's rounds vary far more than the baseline's (within-run robust CV above ``min_change``
and above :data:`UNSTABLE_CV_RATIO` times the baseline's): a slow spell that starts or ends during
the measurement does that, a slower code path does not (a sleep in the step or a smaller batch
slows every round alike). An unstable line is not a regression; it asks for a rerun.

The minimum change of 10% suits shared CPUs; on a dedicated GPU 5% is a reasonable choice
(``--min-change 0.05``). Mann–Whitney needs at least 4 rounds per side to reach p < 0.05 at all
(with 3 and 3 the smallest two-sided p is 0.1); a comparison that cannot reach ``alpha`` says so
(``underpowered``).
"""

from __future__ import annotations

import functools
import itertools
import math
import statistics
from dataclasses import asdict, dataclass, replace
from typing import Any, Iterable, Sequence

import numpy as np
from scipy import stats as scipy_stats

DEFAULT_ALPHA = 0.05
DEFAULT_MIN_CHANGE = 0.10
UNSTABLE_CV_RATIO = 3.0
MAD_TO_SD = 1.4826  # the standard deviation of normal data is 1.4826 × its median absolute deviation
PAIR_DIFFERENCE_TO_SD = 0.9539  # median |X − Y| for X, Y ~ N(0, σ²) is 0.9539 σ (= 0.6745 · √2 σ)
MEDIAN_OF_DEVIATIONS_EFFICIENCY = 0.3675  # of the median absolute deviation against the standard deviation, normal data
MEDIAN_GRID_EDGE, MEDIAN_GRID_POINTS = 8.0, 1201  # beyond 8 standard deviations the normal density is below 1e-14
EXACT_MEDIAN_UP_TO = 50  # runs a side; the grid is within 0.3% of a Monte Carlo up to 60
BETWEEN_RUNS = "t-test on the log change against the between-run noise"
WITHIN_RUN = "Mann–Whitney U on rounds"

Runs = Sequence[Sequence[float]]


def regression_rule(alpha: float = DEFAULT_ALPHA, min_change: float = DEFAULT_MIN_CHANGE) -> str:
    """The rule that calls a benchmark change, in words, from the constants that implement it.

    The one description of the rule: the reports and ``python -m conformance report --help`` print it."""
    return (f"A benchmark change is called (regression when slower, improvement when faster) when the median of "
            f"the runs' median throughputs moved by at least {min_change:.0%} and by more than the between-run "
            f"noise, and a two-sided test gives p < {alpha:g} after Holm's adjustment over the configurations of "
            f"the report. The test is a t-test of the log change of the medians against the between-run noise (the "
            f"robust spread between independent runs of one configuration, bench --repeats, pooled over all "
            f"configurations, with the degrees of freedom of that estimate); "
            f"where every side has a single run, a Mann-Whitney U test over the rounds stands in, which sees only "
            f"the noise within a run. A change that would be called while the new run's rounds varied more than "
            f"{UNSTABLE_CV_RATIO:g}x as much as the baseline's (and by more than {min_change:.0%}) is reported as "
            f"unstable: listed, not called.")


@dataclass(frozen=True)
class Comparison:
    verdict: str  # regression | improvement | unchanged | unstable
    change: float  # relative change of the median, new vs baseline (−0.3 = 30% slower)
    p_value: float
    test: str  # BETWEEN_RUNS or WITHIN_RUN
    baseline_median: float  # median of the run medians
    new_median: float
    noise: float  # the spread the change is judged against, as a CV: between runs, or the larger within-run CV
    baseline_cv: float  # within-run robust CV (the median over the runs)
    new_cv: float  # within-run robust CV (the median over the runs)
    runs: tuple[int, int]
    rounds: tuple[int, int]
    underpowered: bool
    threshold: float  # the smallest |change| called: max(min_change, noise)
    alpha: float
    min_change: float
    noise_dof: float | None = None  # degrees of freedom of the between-run noise (None: within-run test)
    p_adjusted: float | None = None  # Holm-adjusted over the comparisons of one report (see adjust_for_family)
    family: int = 1  # how many comparisons the adjustment covered

    @property
    def is_regression(self) -> bool:
        return self.verdict == "regression"

    @property
    def p_verdict(self) -> float:
        """The p-value the verdict is taken on: Holm-adjusted where the report tested several configurations."""
        return self.p_value if self.p_adjusted is None else self.p_adjusted

    @property
    def would_call(self) -> str | None:
        """The call the size and the test support (before the stability guard), or None."""
        if self.p_verdict < self.alpha and abs(self.change) >= self.threshold:
            return "regression" if self.change < 0 else "improvement"
        return None

    def describe(self) -> str:
        if self.test == BETWEEN_RUNS:
            sureness = f"p = {self.p_value:.3g} ({self.test}, {self.runs[0]} vs {self.runs[1]} runs, " \
                       f"{self.noise_dof:.3g} degrees of freedom)"
            noise = f"between-run CV {self.noise:.1%}"
        else:
            sureness = f"p = {self.p_value:.3g} ({self.test}, {self.rounds[0]} vs {self.rounds[1]} rounds of one run " \
                        f"each: within-run noise only)"
            noise = f"within-run CV {self.baseline_cv:.1%} / {self.new_cv:.1%}"
        if self.p_adjusted is not None:
            sureness += f"; p = {self.p_adjusted:.3g} after Holm's adjustment over {self.family} comparisons"
        if self.underpowered:
            sureness += ", too few rounds to call any change"
        verdict = self.verdict
        if verdict == "unstable":
            verdict = (f"unstable (would be a {self.would_call}; this run's rounds vary by {self.new_cv:.0%} against "
                       f"the baseline's {self.baseline_cv:.0%}: rerun on a quiet machine)")
        return (f"{verdict}: {self.change:+.1%} ({self.baseline_median:.4g} → {self.new_median:.4g}), {sureness}; "
                f"{noise}; called when p < {self.alpha} and |change| ≥ {self.threshold:.1%} "
                f"(max of {self.min_change:.0%} and the noise)")

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["runs"], document["rounds"] = list(self.runs), list(self.rounds)
        document["description"] = self.describe()
        return document


def coefficient_of_variation(samples: Sequence[float]) -> float:
    """Sample standard deviation over the mean; 0 for fewer than two samples."""
    if len(samples) < 2:
        return 0.0
    mean = statistics.fmean(samples)
    return statistics.stdev(samples) / mean if mean else math.inf


def robust_cv(samples: Sequence[float]) -> float:
    """1.4826 × the median absolute deviation over the median: the CV of normal data, but one
    outlying round moves it little. 0 for fewer than two samples."""
    if len(samples) < 2:
        return 0.0
    centre = statistics.median(samples)
    deviation = statistics.median(abs(v - centre) for v in samples)
    return MAD_TO_SD * deviation / centre if centre else math.inf


def median_of_runs(runs: Runs) -> float:
    """The median of the runs' median throughputs: each run counts once, however many rounds it has."""
    return statistics.median(statistics.median(rounds) for rounds in runs)


def between_run_cv(runs: Runs) -> float | None:
    """The CV of one configuration's run medians (for display); None for a single run."""
    return coefficient_of_variation([statistics.median(r) for r in runs]) if len(runs) > 1 else None


@dataclass(frozen=True)
class BetweenRunNoise:
    sigma: float  # the spread of log run medians
    dof: float  # the degrees of freedom of that estimate


def between_run_noise(groups: Iterable[Runs]) -> BetweenRunNoise | None:
    """The robust, pooled spread σ of log run medians: each group is the runs of one
    configuration on one side; the differences of log medians between every two runs of a
    group are pooled, and σ = their median absolute value / 0.9539. Its degrees of freedom are
    the groups' Σ(K − 1), discounted by the median's efficiency. None when no group has two runs."""
    differences, dof = [], 0
    for runs in groups:
        logs = [math.log(statistics.median(rounds)) for rounds in runs]
        differences += [abs(a - b) for a, b in itertools.combinations(logs, 2)]
        dof += len(runs) - 1
    if not differences:
        return None
    return BetweenRunNoise(statistics.median(differences) / PAIR_DIFFERENCE_TO_SD,
                           MEDIAN_OF_DEVIATIONS_EFFICIENCY * dof)


@functools.lru_cache(maxsize=None)
def median_variance(k: int) -> float:
    """The variance of the median of ``k`` independent standard normal samples (1/k for a mean):
    for an odd k the middle order statistic's, for an even k that of the mean of the two middle
    ones, integrated numerically over their densities; beyond :data:`EXACT_MEDIAN_UP_TO` samples,
    where the grid no longer resolves the narrowing density, the large-sample π/(2k), which lies
    slightly above the exact value."""
    if k < 1:
        raise ValueError("the median of no samples")
    if k <= 2:
        return 1 / k
    if k > EXACT_MEDIAN_UP_TO:
        return math.pi / (2 * k)
    m = k // 2
    x = np.linspace(-MEDIAN_GRID_EDGE, MEDIAN_GRID_EDGE, MEDIAN_GRID_POINTS)
    below, above, density = scipy_stats.norm.cdf(x), scipy_stats.norm.sf(x), scipy_stats.norm.pdf(x)
    if k % 2:  # the (m+1)-th of k: k!/(m!)² F^m (1 − F)^m f
        order_density = math.exp(math.lgamma(k + 1) - 2 * math.lgamma(m + 1)) * (below * above) ** m * density
        return float(np.trapezoid(x * x * order_density, x))
    # the m-th and (m+1)-th of k at (lower, upper), lower < upper: k!/((m−1)!)² F(lower)^(m−1) (1 − F(upper))^(m−1) f f
    lower = (math.exp(math.lgamma(k + 1) - 2 * math.lgamma(m)) * below ** (m - 1) * density)[:, None]
    upper = (above ** (m - 1) * density)[None, :]
    mean_squared = ((x[:, None] + x[None, :]) / 2) ** 2
    region = np.triu(np.ones((x.size, x.size)), 1) + 0.5 * np.eye(x.size)  # lower < upper; half the diagonal
    step = x[1] - x[0]
    return float((mean_squared * lower * upper * region).sum() * step * step)


def smallest_p_value(n_baseline: int, n_new: int) -> float:
    """The smallest two-sided p a Mann–Whitney U test can give for these sample sizes (complete separation)."""
    if n_baseline == 0 or n_new == 0:
        return 1.0
    return min(1.0, 2 / math.comb(n_baseline + n_new, n_new))


def compare(baseline: Runs, new: Runs, *, noise: BetweenRunNoise | None = None, alpha: float = DEFAULT_ALPHA,
            min_change: float = DEFAULT_MIN_CHANGE) -> Comparison:
    """Compare the throughputs of a baseline and a new measurement, each given as runs of rounds.

    ``noise`` is the between-run noise pooled over a whole comparison (:func:`between_run_noise`);
    without it, it is estimated from these two sides' runs where either has two or more."""
    for side, runs in (("baseline", baseline), ("new", new)):
        if not runs or any(not rounds for rounds in runs):
            raise ValueError(f"the {side} side needs at least one run with at least one round")
        if any(not math.isfinite(v) or v <= 0 for rounds in runs for v in rounds):
            raise ValueError("throughputs must be positive finite numbers")
    baseline_median, new_median = median_of_runs(baseline), median_of_runs(new)
    baseline_cv = statistics.median(robust_cv(r) for r in baseline)
    new_cv = statistics.median(robust_cv(r) for r in new)
    if noise is None:
        noise = between_run_noise([baseline, new])
    if noise is not None:
        test, underpowered, noise_dof = BETWEEN_RUNS, False, noise.dof
        standard_error = noise.sigma * math.sqrt(median_variance(len(baseline)) + median_variance(len(new)))
        p_value = _t_test(math.log(new_median / baseline_median), standard_error, noise.dof)
        noise_cv = math.expm1(noise.sigma)
    else:
        test = WITHIN_RUN
        (baseline_rounds,), (new_rounds,) = baseline, new
        p_value = _mann_whitney(baseline_rounds, new_rounds)
        noise_cv, noise_dof = max(baseline_cv, new_cv), None
        underpowered = smallest_p_value(len(baseline_rounds), len(new_rounds)) >= alpha
    comparison = Comparison(
        verdict="unchanged", change=new_median / baseline_median - 1, p_value=p_value, test=test,
        baseline_median=baseline_median, new_median=new_median, noise=noise_cv, baseline_cv=baseline_cv,
        new_cv=new_cv, runs=(len(baseline), len(new)),
        rounds=(sum(map(len, baseline)), sum(map(len, new))), underpowered=underpowered,
        threshold=max(min_change, noise_cv), alpha=alpha, min_change=min_change, noise_dof=noise_dof,
    )
    return _judged(comparison)


def adjust_for_family(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """The comparisons of one report, judged on Holm-adjusted p-values (same order).

    A report tests every configuration at once (20 on a CPU); at p < 0.05 each, the same code
    run twice would draw about one false call per report. Holm's step-down adjustment keeps the
    chance of any false call in the whole report under ``alpha`` and is never less powerful than
    Bonferroni's; a single comparison is left as it is."""
    if len(comparisons) < 2:
        return list(comparisons)
    adjusted = _holm([c.p_value for c in comparisons])
    return [_judged(replace(c, p_adjusted=p, family=len(comparisons), verdict="unchanged"))
            for c, p in zip(comparisons, adjusted)]


def _holm(p_values: Sequence[float]) -> list[float]:
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def _judged(comparison: Comparison) -> Comparison:
    """The verdict: the call size and test support, unless the new rounds were unstable."""
    call = comparison.would_call
    if call is None:
        return comparison
    unstable = comparison.new_cv > max(comparison.min_change, UNSTABLE_CV_RATIO * comparison.baseline_cv)
    return replace(comparison, verdict="unstable" if unstable else call)


def _mann_whitney(baseline: Sequence[float], new: Sequence[float]) -> float:
    if len(set(baseline) | set(new)) == 1:
        return 1.0  # identical samples: nothing to test
    return float(scipy_stats.mannwhitneyu(new, baseline, alternative="two-sided").pvalue)


def _t_test(log_change: float, standard_error: float, dof: float) -> float:
    if standard_error == 0:
        return 1.0 if log_change == 0 else 0.0
    return 2 * float(scipy_stats.t.sf(abs(log_change) / standard_error, dof))
