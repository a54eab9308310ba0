"""The gradient noise scale B_simple, measured during training from two batch sizes.

McCandlish et al. (2018), "An Empirical Model of Large-Batch Training", define the simple noise
scale ``B_simple = tr(Σ) / |G|²``: ``G`` is the true (full-data) gradient and ``Σ`` the
per-sample gradient covariance. It predicts the critical batch size: well below it, doubling
the batch halves the steps to a target (the linear scaling rule holds); well above it, the
extra samples mostly average away noise that no longer matters, and the steps barely fall.

Neither ``tr(Σ)`` nor ``|G|²`` can be read off one batch, but a batch's mean gradient ``G_B``
of ``B`` samples has ``E|G_B|² = |G|² + tr(Σ)/B``. Two batch sizes ``b < B`` give two such
equations, which the paper's appendix A solves for unbiased estimates::

    |G|²   ≈ (B |G_B|² - b |G_b|²) / (B - b)
    tr(Σ)  ≈ (|G_b|² - |G_B|²) / (1/b - 1/B)

Here ``G_B`` is the step's own gradient (its norm is the recorded ``grad_norm``: no extra
work) and ``G_b`` the gradient of the loss on the first half ``A`` of the same batch, taken
through the same forward pass (one extra backward pass; no second forward, so no extra draw of
dropout masks and no second batch-norm update: the training numbers and the training RNG are
exactly those of a run without the measurement). The other half ``C`` comes for free:
``G_C = (B G_B - b G_A) / (B - b)``, and its norm follows from ``|G_A|``, ``|G_B|`` and
``|G_A - G_B|`` (one more norm on the device). Each measurement is the average of the two
estimates above with ``A`` and with ``C`` as the small batch; with equal halves that is
``|G|² ≈ |G_B|² - |G_A - G_B|²`` and ``tr(Σ) ≈ 2 b |G_A - G_B|²``, the noise of which half
was picked averaged out (at fixed weights on the digits MLP, where B_simple is about 200 and the
batch 64, this cut the spread of the averaged estimate from 0.5x-4.5x of the per-sample value
to 0.8x-2.4x). The estimates are unbiased but very noisy (the |G|² estimate is often negative
on one batch), so each is smoothed by an exponential moving average before the ratio is taken:
the ratio of averages, as the paper advises, not the average of ratios, which a near-zero
denominator would ruin. Each measurement enters both averages divided by its own ``|G_B|²``,
so a run whose gradients shrink a thousandfold is not averaged in the units of its first steps.
Both averages carry the same ``1 - decay^t`` start-up bias, so their ratio needs no bias
correction. Where the averaged ``|G|²`` is not positive the ratio means
nothing and the value is NaN. The estimate is best when the batch is not much smaller than
B_simple; far below it, the averages need many measurements to settle.

The halves share their samples with the whole batch, so the two norms are correlated; that
adds variance, not bias (each expectation above holds on its own). Sampling a batch without
replacement from ``n`` training samples shrinks the noise term by ``(n - B)/(n - 1)``, a small
bias towards lower B_simple when the batch is a large share of the training set.

What the device computes is two more norms per measurement, left there with
the step's other values until the run reads them (once per flush); the averages and the ratio
are a few float64 operations on the host, per read (numbers for one model, ``[K]`` arrays for a
sweep's K members, each with its own averages). On a small model every device operation costs
more than its arithmetic, so these stay off the step.
"""

from __future__ import annotations

import math

import numpy as np

Values = np.ndarray | float

#: EMA decay per measurement: averages over about twenty measurements (1 / (1 - decay)). In the
#: hard case above (B_simple about 3x the batch, fixed weights) the smoothed value stayed within
#: 0.8x-2.4x of the per-sample figure at 0.95 and 0.86x-1.56x at 0.98; 0.95 follows a changing
#: B_simple twice as fast (at every 20 steps, over about 400 steps)
DECAY = 0.95


class NoiseScale:
    """Exponential moving averages of the two estimates, and B_simple from them, in float64.

    ``members`` is None for one model (values are numbers) or K for K stacked members (``[K]``
    arrays, each member its own averages)."""

    def __init__(self, members: int | None = None, decay: float = DECAY):
        if not 0 <= decay < 1:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        self.decay = decay
        # EMAs of the |G|² and tr(Σ) estimates: numbers for one model, [K] arrays for K members
        self.grad_sq: Values = 0.0 if members is None else np.zeros(members)
        self.trace: Values = 0.0 if members is None else np.zeros(members)
        self.count = 0  # measurements so far

    def update(self, small_norm: Values, small: int, big_norm: Values, big: int, diff_norm: Values) -> Values:
        """One measurement: ``small_norm`` is the gradient norm |G_A| of the batch's first ``small``
        samples, ``big_norm`` the norm |G_B| of the whole batch of ``big`` samples, ``diff_norm``
        the norm |G_A - G_B| (numbers, or ``[K]`` arrays). Returns B_simple after it (samples;
        NaN while the averaged |G|² is not positive)."""
        if not 0 < small < big:
            raise ValueError(f"needs 0 < small < big, got {small} and {big}")
        # plain arithmetic: the same code for numbers (a training run: no numpy call per scalar,
        # which cost more than the maths) and for [K] arrays (a sweep)
        rest, d = big - small, self.decay
        # a diverged step's norms are inf or NaN: the estimate becomes NaN, quietly (numpy scalars
        # would warn, and warnings are errors in the tests); every 20 steps, so the context is cheap
        with np.errstate(over="ignore", invalid="ignore"):
            a2, b2, d2 = small_norm * small_norm, big_norm * big_norm, diff_norm * diff_norm
            dot = (a2 + b2 - d2) / 2  # G_A . G_B
            c2 = (big * big * b2 - 2 * small * big * dot + small * small * a2) / (rest * rest)  # |G_C|²
            grad_sq = ((big * b2 - small * a2) / rest + (big * b2 - rest * c2) / small) / 2
            trace = ((a2 - b2) / (1 / small - 1 / big) + (c2 - b2) / (1 / rest - 1 / big)) / 2
            # each measurement in units of its own |G_B|^2: the gradients shrink by orders of
            # magnitude as a run converges, and unscaled averages kept the early ratio for ever
            # (B_simple flat at 146 from step 100 to 380 on cosine-warmup, while |G|^2 fell 1000x)
            scale = b2 + (b2 <= 0)  # (1 where the norm is 0: nothing to scale)
            self.grad_sq = d * self.grad_sq + (1 - d) * grad_sq / scale
            self.trace = d * self.trace + (1 - d) * trace / scale
        self.count += 1
        return self.value()

    def value(self) -> Values:
        """B_simple = EMA(tr(Σ)) / EMA(|G|²), NaN where EMA(|G|²) <= 0 or before any measurement."""
        with np.errstate(divide="ignore", invalid="ignore"):  # inf / inf after a diverged step
            if isinstance(self.grad_sq, float):
                return self.trace / self.grad_sq if self.count and self.grad_sq > 0 else math.nan
            ratio = self.trace / self.grad_sq
        return np.where((self.grad_sq > 0) & (self.count > 0), ratio, np.nan)

    def copy(self) -> NoiseScale:
        other = NoiseScale(None, self.decay)
        other.grad_sq, other.trace, other.count = np.copy(self.grad_sq), np.copy(self.trace), self.count
        if isinstance(self.grad_sq, float):
            other.grad_sq, other.trace = float(self.grad_sq), float(self.trace)
        return other

    def state(self) -> list[float]:
        """The averages and the count as plain numbers (a snapshot's JSON)."""
        return [*np.ravel(self.grad_sq).tolist(), *np.ravel(self.trace).tolist(), float(self.count)]

    def set_state(self, state: object) -> None:
        """Continue from :meth:`state` (a fork); anything that does not fit starts afresh."""
        n = np.size(self.grad_sq)
        if (not isinstance(state, list) or len(state) != 2 * n + 1
                or not all(type(v) in (int, float) for v in state)):
            return
        if isinstance(self.grad_sq, float):
            self.grad_sq, self.trace = float(state[0]), float(state[1])
        else:
            self.grad_sq = np.asarray(state[:n], dtype=np.float64)
            self.trace = np.asarray(state[n:2 * n], dtype=np.float64)
        self.count = int(state[-1])


def split(batch: int) -> int:
    """The small batch of a measurement: the first half of the step's batch (0: too small to split)."""
    return batch // 2
