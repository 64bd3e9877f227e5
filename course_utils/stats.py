"""Exact tests of test accuracies, for the lessons' verdicts (`lessons`).

`binomial_test(k, n)`: k of n test images right, against chance (1/2). `paired_test(b, c, n)`:
two models on the same n images, b right only for the first, c only for the second
(McNemar's exact test). Both give the estimate, its 95 % interval and the two-sided
p-value; each interval excludes "no effect" exactly when p < `LEVEL`, so a verdict's
interval and its test never disagree. Exact sums, no SciPy: the course does not declare it.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

LEVEL = 0.05  # a p-value below this counts: the 95 % level


class Evidence(NamedTuple):
    """An exact test's result: the estimate, its 95 % interval and the two-sided p-value."""

    estimate: float
    low: float
    high: float
    p: float


def _at_least(k: int, n: int, p: float) -> float:
    """P(X >= k) for X binomial with n trials of probability p (summed in logs: n may be 10,000)."""
    if k <= 0 or p >= 1:
        return 1.0
    if k > n or p <= 0:
        return 0.0
    logs = [math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) + j * math.log(p)
            + (n - j) * math.log1p(-p) for j in range(k, n + 1)]
    top = max(logs)
    return min(1.0, math.exp(top) * math.fsum(math.exp(v - top) for v in logs))


def _solve(rising: Callable[[float], float], target: float) -> float:
    """The probability in [0, 1] where the rising function reaches `target` (by bisection)."""
    low, high = 0.0, 1.0
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (middle, high) if rising(middle) < target else (low, middle)
    return (low + high) / 2


def binomial_test(k: int, n: int) -> Evidence:
    """The exact binomial test of k successes in n trials against a probability of 1/2:
    the share k/n, its 95 % Clopper-Pearson interval and the two-sided p-value (twice
    the smaller tail). The interval excludes 1/2 exactly when p < `LEVEL`."""
    if n == 0:
        return Evidence(0.5, 0.0, 1.0, 1.0)
    p = min(1.0, 2 * min(_at_least(k, n, 0.5), _at_least(n - k, n, 0.5)))
    low = 0.0 if k == 0 else _solve(lambda q: _at_least(k, n, q), LEVEL / 2)
    high = 1.0 if k == n else _solve(lambda q: _at_least(k + 1, n, q), 1 - LEVEL / 2)
    return Evidence(k / n, low, high, p)


def paired_test(b: int, c: int, n: int) -> Evidence:
    """McNemar's exact test of two models on the same n test images, b of which only the
    first got right and c only the second: the difference in accuracy (b - c)/n, its 95 %
    exact interval given the b + c images they disagree on (`binomial_test`'s interval for
    b/(b + c), scaled) and the two-sided p-value of `binomial_test(b, b + c)`."""
    if b + c == 0:  # the two agree on every image (or there are none)
        return Evidence(0.0, 0.0, 0.0, 1.0)
    share = binomial_test(b, b + c)
    scale = (b + c) / n
    return Evidence((b - c) / n, scale * (2 * share.low - 1), scale * (2 * share.high - 1), share.p)
