"""The LR range test ("find LR") without torch: its parameters, the LR ramp, the smoothed loss,
the stop rule, the three suggestion rules and "Use this LR".

Leslie Smith's range test (*Cyclical Learning Rates for Training Neural Networks*, 2015/2017)
trains a fresh model for a short run while the LR grows from tiny to huge and reads the loss
curve: a good LR sits where the loss falls fastest, well before it blows up. The runner that
trains is :mod:`lrlab.core.runs.range_finder`; everything here works on plain arrays, so it is
tested on constructed curves with known answers, and the GUI can validate the parameters and
apply a suggestion without importing torch (as :mod:`lrlab.core.decl.spec` does for run specs).

Every rule returns a :class:`Suggestion` that is either an LR with its index on the curve and
a one-sentence reason, or no LR and a message saying why (too few points, an all-NaN curve, a
curve that never falls): nothing here raises on a bad curve.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from lrlab.core.decl.params import Choice, Num, Param, Problems, dump_fields, parse_fields
from lrlab.core.decl.spec import apply_changes

# --- parameters --------------------------------------------------------------------------------

#: the range test's parameters, declared once: validation with field messages, the GUI's form,
#: the CLI's flags and the session's ``meta.range_test`` all come from this tuple
RANGE_TEST_PARAMS: tuple[Param, ...] = (
    Param("start_lr", Num(gt=0, le=1e3), 1e-7, "the LR of the first step"),
    Param("end_lr", Num(gt=0, le=1e3), 10.0, "the LR of the last step (above start_lr)"),
    Param("num_iter", Num(ge=2, le=10_000, integer=True), 100,
          "steps from start_lr to end_lr (the test may stop earlier)"),
    Param("mode", Choice(("exponential", "linear")), "exponential",
          "exponential: equal ratios between steps (even on a log axis); linear: equal differences"),
    Param("beta", Num(ge=0, lt=1), 0.98, "smoothing of the loss's moving average (0: none)"),
    Param("stop_factor", Num(gt=1, le=1e6), 4.0,
          "stop once the smoothed loss exceeds this many times its lowest value"),
    Param("seeds", Num(ge=1, le=16, integer=True), 3,
          "repeats with seeds derived from the run seed (other initial weights and batch order)"),
)


@dataclass(frozen=True)
class RangeTestParams:
    """Validated range-test parameters. Build with :meth:`from_json`; defaults as fastai's
    ``lr_find`` (1e-7 to 10 over 100 steps, stop at 4x the best smoothed loss) plus 3 seeds."""

    start_lr: float = 1e-7
    end_lr: float = 10.0
    num_iter: int = 100
    mode: str = "exponential"
    beta: float = 0.98
    stop_factor: float = 4.0
    seeds: int = 3

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None = None, path: str = "") -> RangeTestParams:
        """Validate ``data`` (missing fields take their defaults); raises SpecError naming every
        bad field, e.g. ``end_lr: must be greater than start_lr (0.1), got 0.01``."""
        problems = Problems()
        values = parse_fields({} if data is None else data, path, RANGE_TEST_PARAMS, problems)
        problems.raise_if_any()
        if values["end_lr"] <= values["start_lr"]:
            problems.add(f"{path}.end_lr" if path else "end_lr",
                         f"must be greater than start_lr ({values['start_lr']:g}), got {values['end_lr']:g}")
        problems.raise_if_any()
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return dump_fields({f.name: getattr(self, f.name) for f in fields(self)}, RANGE_TEST_PARAMS)


# --- the ramp, the smoothed loss and the stop rule ---------------------------------------------


def lr_ramp(start_lr: float, end_lr: float, num_iter: int, mode: str = "exponential") -> np.ndarray:
    """The LR of each step i = 0 .. num_iter-1, from ``start_lr`` (i = 0) to ``end_lr`` (the last):

    exponential: lr_i = start * (end / start) ** (i / (num_iter - 1))
    linear:      lr_i = start + (end - start) * i / (num_iter - 1)

    Exponential is the default (fastai, torch-lr-finder): it spends as many steps on each decade
    as the next, so the curve is evenly sampled on the log axis it is read on. Written as Python
    floats in exactly this order, so the session's ``lr`` column is the formula, bit for bit."""
    if num_iter < 2:
        raise ValueError(f"num_iter must be >= 2, got {num_iter}")
    last = num_iter - 1
    if mode == "exponential":
        ratio = end_lr / start_lr
        return np.array([start_lr * ratio ** (i / last) for i in range(num_iter)])
    if mode == "linear":
        return np.array([start_lr + (end_lr - start_lr) * i / last for i in range(num_iter)])
    raise ValueError(f"mode must be 'exponential' or 'linear', got {mode!r}")


class LossSmoother:
    """A bias-corrected exponential moving average, one loss at a time:

    avg_i = beta * avg_{i-1} + (1 - beta) * loss_i  with avg_{-1} = 0,  shown as avg_i / (1 - beta ** (i + 1))

    Without the division the curve would start near zero (avg_0 = (1 - beta) * loss_0); with
    it the smoothed curve starts at the first loss (Adam's and TensorBoard's correction; the
    same numbers as :func:`lrlab.core.features.series.debiased_ema`). A NaN or infinite loss makes the
    average NaN or infinite from then on: the test stops there anyway."""

    def __init__(self, beta: float):
        self.beta = beta
        self.avg = 0.0
        self.i = 0

    def update(self, loss: float) -> float:
        beta = self.beta
        self.avg = beta * self.avg + (1 - beta) * loss
        self.i += 1
        return self.avg / (1 - beta ** self.i)


def smooth_losses(losses: Sequence[float] | np.ndarray, beta: float) -> np.ndarray:
    """The bias-corrected EMA (:class:`LossSmoother`) of a whole curve, as the runner computes it
    step by step."""
    smoother = LossSmoother(beta)
    return np.array([smoother.update(float(x)) for x in losses], dtype=np.float64)


def zero_phase(losses: Sequence[float] | np.ndarray, width: float | None = None) -> np.ndarray:
    """The loss smoothed without lag, for the drawn curve and the suggestions (the EMA above,
    causal, lags behind the curve by about 1/(1 - beta) points: with beta 0.98 its minimum sat
    three times further right than the raw curve's). A Gaussian kernel over the points, centred:

        z_i = sum_j w_ij m_j x_j / sum_j w_ij m_j,   w_ij = exp(-(i - j)^2 / (2 s^2))

    with m_j = 1 for a finite loss and 0 otherwise (NaN and inf are left out, not spread), s
    = ``width`` points (default n / 30, at least 1; the points are equally spaced in ln(lr) on
    an exponential ramp), truncated at 3 s. A point whose neighbourhood is mostly non-finite,
    or that is not finite itself, stays NaN."""
    x = np.asarray(losses, dtype=np.float64)
    n = len(x)
    if n == 0:
        return x.copy()
    s = max(1.0, n / 30.0) if width is None else max(float(width), 1e-9)
    half = int(np.ceil(3 * s))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / s) ** 2)
    finite = np.isfinite(x)
    num = np.convolve(np.where(finite, x, 0.0), kernel, mode="full")[half:half + n]
    den = np.convolve(finite.astype(np.float64), kernel, mode="full")[half:half + n]
    full = np.convolve(np.ones(n), kernel, mode="full")[half:half + n]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[~finite | (den < 0.5 * full)] = np.nan
    return out


def stop_reason(losses: Sequence[float], smoothed: float, best: float, stop_factor: float,
                lr: float) -> str | None:
    """Why the test stops after this step, or None to go on.

    It stops on a NaN or infinite loss (in any seed), or once the smoothed loss exceeds
    ``stop_factor`` times the lowest smoothed loss so far (fastai's rule, factor 4): past that
    point the LR is clearly too high and more steps only waste time and squash the plot."""
    bad = [x for x in losses if not math.isfinite(x)]
    if bad:
        what = "NaN" if any(math.isnan(x) for x in bad) else "infinite"
        return f"the loss became {what} at LR {lr:.3g}: the test ends there"
    if smoothed > stop_factor * best:
        return (f"the smoothed loss {smoothed:.4g} passed {stop_factor:g}x its lowest value ({best:.4g}) "
                f"at LR {lr:.3g}: the LR is too high from here, so the test ends")
    return None


# --- suggestions -------------------------------------------------------------------------------

#: fewer finite points than this give a message, not a suggestion
MIN_POINTS = 5
RULES = ("steepest", "valley", "minimum")


@dataclass(frozen=True)
class Suggestion:
    """One rule's answer: ``lr`` and ``index`` (the curve point nearest that LR, where the plot
    marks it) with a one-sentence ``reason``, or ``lr`` None and ``reason`` saying why not."""

    rule: str
    lr: float | None
    index: int | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.lr is not None

    def to_json(self) -> dict[str, Any]:
        return {"lr": self.lr, "index": self.index, "reason": self.reason}

    @classmethod
    def from_json(cls, rule: str, data: Mapping[str, Any]) -> Suggestion:
        return cls(rule, data.get("lr"), data.get("index"), str(data.get("reason", "")))


def _finite_points(lrs: np.ndarray, losses: np.ndarray, rule: str) -> tuple[np.ndarray, Suggestion | None]:
    """Indices of the finite points, or a message when there are too few to read a curve from."""
    lrs, losses = np.asarray(lrs, dtype=np.float64), np.asarray(losses, dtype=np.float64)
    if len(lrs) != len(losses):
        raise ValueError(f"lrs and losses differ in length ({len(lrs)} and {len(losses)})")
    idx = np.flatnonzero(np.isfinite(losses) & np.isfinite(lrs) & (lrs > 0))
    if len(losses) and not len(idx):
        return idx, Suggestion(rule, None, None, "the loss is NaN or infinite at every point, so there is no "
                                                 "curve to read: lower start_lr")
    if len(idx) < MIN_POINTS:
        return idx, Suggestion(rule, None, None,
                               f"too few points: the curve has {len(idx)} finite point(s) and a suggestion "
                               f"needs at least {MIN_POINTS} (raise num_iter, or lower start_lr so the test "
                               "runs longer before it stops)")
    return idx, None


def _nearest(lrs: np.ndarray, idx: np.ndarray, lr: float) -> int:
    """The finite point whose LR is nearest ``lr`` on a log axis (the first of a tie)."""
    return int(idx[np.argmin(np.abs(np.log(lrs[idx]) - math.log(lr)))])


def suggest_steepest(lrs: Sequence[float] | np.ndarray, smoothed: Sequence[float] | np.ndarray,
                     skip_start: float = 0.1, skip_end: int = 5) -> Suggestion:
    """The LR where the smoothed loss falls fastest against ln(lr): Smith's own reading of the
    range test (the loss decreases most quickly there, so training makes the quickest progress).

    slope_i = d smoothed / d ln(lr_i), by ``np.gradient`` over the points' ln(lr) (central
    differences inside, one-sided at the ends); the suggestion is the point of the most
    negative slope. The first ``skip_start`` share of the points (10%: the loss barely moves
    and the noise decides) and the last ``skip_end`` points (5: the blow-up) are skipped, as
    fastai's ``lr_find`` trims its curve (``losses[num_it//10:-5]``). NaN or infinite points
    are left out, so a NaN in the middle does not hide the rest of the curve.

    How the libraries differ: fastai's ``steep`` also differentiates against ln(lr) (forward
    differences, the left point of the steepest segment); torch-lr-finder differentiates over
    the index (``np.gradient(losses)``), which is the same up to a constant for an exponential
    ramp but not for a linear one; Lightning's ``suggestion()`` differentiates over the raw LR
    (``np.gradient(loss, lr)``), which weighs the high-LR end more, where the points are
    further apart on the raw axis. Against ln(lr), an exponential and a linear ramp of the
    same range agree on the slope at a given LR.
    """
    lrs, smoothed = np.asarray(lrs, dtype=np.float64), np.asarray(smoothed, dtype=np.float64)
    idx, problem = _finite_points(lrs, smoothed, "steepest")
    if problem:
        return problem
    n = len(smoothed)
    lo, hi = int(n * skip_start), n - skip_end
    window = idx[(idx >= lo) & (idx < hi)]
    if len(window) < 3:
        return Suggestion("steepest", None, None,
                          f"too few points: after skipping the first {lo} and the last {skip_end} of {n}, "
                          f"{len(window)} finite point(s) are left and the slope needs at least 3 "
                          "(raise num_iter)")
    slope = np.gradient(smoothed[window], np.log(lrs[window]))
    best = int(np.argmin(slope))
    if not slope[best] < 0:
        return Suggestion("steepest", None, None, "the smoothed loss never falls between the skipped ends: "
                                                  "lower start_lr, or check the model can learn at all")
    i = int(window[best])
    return Suggestion("steepest", float(lrs[i]), i,
                      f"the smoothed loss falls fastest here ({-slope[best]:.3g} per e-fold of LR), where "
                      "training makes the quickest progress")


def suggest_valley(lrs: Sequence[float] | np.ndarray, smoothed: Sequence[float] | np.ndarray) -> Suggestion:
    """About half-way down the longest falling stretch of the smoothed loss: fastai's ``valley``
    rule (``fastai.callback.schedule.valley``, added with Zachary Mueller's experiments in
    fastai PR #3377, 2021, and fastai's default suggestion since).

    L is the length of the longest strictly decreasing subsequence of the smoothed curve and e
    the point where it ends (the first such point); as in fastai, the stretch is the L points
    up to e, from s = e - L + 1, so bumps stepped over in a long flat start do not stretch it
    back to the first point. The suggestion is the point s + floor(L / 3) + floor(L / 6),
    fastai's thirds and sixths: about half-way down. fastai finds L in O(n^2) and counts from
    e - L, one point earlier (and can keep an earlier start when one point's length grows by
    several in one pass); here L comes from patience sorting in O(n log n).

    How it differs: ``steepest`` reads a derivative, which noise can move around; ``valley``
    reads the shape of the whole fall, so it is steadier from seed to seed and usually lower
    than ``steepest``. ``minimum`` ignores the fall and steps back from its bottom.
    """
    lrs, smoothed = np.asarray(lrs, dtype=np.float64), np.asarray(smoothed, dtype=np.float64)
    idx, problem = _finite_points(lrs, smoothed, "valley")
    if problem:
        return problem
    tails: list[float] = []  # tails[k]: the largest -loss that ends a decreasing run of length k + 1
    length = [0] * len(idx)
    for j, value in enumerate((-smoothed[idx]).tolist()):
        k = bisect.bisect_left(tails, value)  # strictly increasing -loss: strictly decreasing loss
        if k == len(tails):
            tails.append(value)
        else:
            tails[k] = value
        length[j] = k + 1
    end = int(np.argmax(length))
    run = length[end]
    if run < 3:
        return Suggestion("valley", None, None, "the smoothed loss never falls over three points: "
                                                "no valley (lower start_lr)")
    e = int(idx[end])
    s = e - run + 1
    target = s + run // 3 + run // 6
    i = int(idx[np.argmin(np.abs(idx - target))])  # a finite point (NaN points are skipped)
    return Suggestion("valley", float(lrs[i]), i,
                      f"half-way down the longest fall of the smoothed loss (LR {lrs[s]:.3g} to {lrs[e]:.3g}), "
                      "steady from seed to seed")


def suggest_minimum(lrs: Sequence[float] | np.ndarray, smoothed: Sequence[float] | np.ndarray) -> Suggestion:
    """A tenth of the LR of the lowest smoothed loss: fastai's ``minimum`` rule (``lr_min``, one
    of the two suggestions fastai gave before ``valley``, with ``steep``).

    At the minimum the loss is already about to blow up, so one decade below it is a safe
    choice; it is the most conservative of the three and the least sensitive to noise in the
    slope, but it ignores where the loss falls fastest. ``index`` is the point nearest the
    suggested LR (which may be the first point when the minimum lies in the first decade).
    """
    lrs, smoothed = np.asarray(lrs, dtype=np.float64), np.asarray(smoothed, dtype=np.float64)
    idx, problem = _finite_points(lrs, smoothed, "minimum")
    if problem:
        return problem
    low = int(idx[np.argmin(smoothed[idx])])
    lr = float(lrs[low]) / 10
    return Suggestion("minimum", lr, _nearest(lrs, idx, lr),
                      f"a tenth of the LR of the lowest smoothed loss ({smoothed[low]:.4g} at LR {lrs[low]:.3g}): "
                      "one decade back from where the loss turns up")


def suggest(lrs: Sequence[float] | np.ndarray, smoothed: Sequence[float] | np.ndarray) -> dict[str, Suggestion]:
    """All three rules on one curve, in the order :data:`RULES` lists them."""
    return {"steepest": suggest_steepest(lrs, smoothed), "valley": suggest_valley(lrs, smoothed),
            "minimum": suggest_minimum(lrs, smoothed)}


# --- the result of a test ----------------------------------------------------------------------


def _json_list(values: np.ndarray | Sequence[float]) -> list[float | None]:
    """Floats for JSON, NaN and infinities as null (session meta and ``--json`` stay strict JSON)."""
    return [x if math.isfinite(x) else None for x in np.asarray(values, dtype=np.float64).tolist()]


def _array(values: Sequence[float | None]) -> np.ndarray:
    return np.array([math.nan if x is None else x for x in values], dtype=np.float64)


@dataclass
class SeedCurve:
    """One seed's own curve and its own suggestions."""

    seed: int
    losses: np.ndarray
    smoothed: np.ndarray
    suggestions: dict[str, Suggestion]


@dataclass
class RangeTestResult:
    """A finished (or stopped) range test: the median curve over the seeds, its min-max band,
    each seed's curve, and the suggestions (on the median curve, and per seed for the spread).

    ``losses`` is the median raw loss of each step, ``smoothed`` the median of the seeds'
    smoothed losses, ``low`` and ``high`` the lowest and highest smoothed loss of any seed."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    low: np.ndarray
    high: np.ndarray
    seeds: list[SeedCurve]
    suggestions: dict[str, Suggestion]
    stop: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    #: the median of the seeds' :func:`zero_phase` curves: what is drawn bold, and what the
    #: suggestions read (``smoothed``, the causal EMA, is the stop rule's)
    curve: np.ndarray = field(default_factory=lambda: np.empty(0))

    @classmethod
    def from_curves(cls, lrs: np.ndarray, losses: np.ndarray, smoothed: np.ndarray, low: np.ndarray,
                    high: np.ndarray, seeds: Sequence[tuple[int, np.ndarray, np.ndarray]], stop: str = "",
                    params: Mapping[str, Any] | None = None) -> RangeTestResult:
        """The result with every suggestion computed on the zero-phase curves (no lag): on the
        median of the seeds' (the raw median's when no seed is given), and on each seed's."""
        per_seed = []
        for s, raw, sm in seeds:
            per_seed.append(SeedCurve(s, raw, sm, suggest(lrs, zero_phase(raw))))
        if seeds:
            with np.errstate(all="ignore"), _quiet():
                curve = np.nanmedian(np.array([zero_phase(raw) for _, raw, _ in seeds]), axis=0)
        else:
            curve = zero_phase(losses)
        return cls(np.asarray(lrs), np.asarray(losses), np.asarray(smoothed), np.asarray(low), np.asarray(high),
                   per_seed, suggest(lrs, curve), stop, dict(params or {}), np.asarray(curve))

    def spread(self, rule: str) -> tuple[float, float] | None:
        """The lowest and highest LR the seeds' own curves suggest, or None if none does."""
        lrs = [lr for c in self.seeds if (lr := c.suggestions[rule].lr) is not None]
        return (min(lrs), max(lrs)) if lrs else None

    def describe(self, rule: str) -> str:
        """'steepest 0.11, 0.09-0.15 across 3 seeds': the answer and how stable it is."""
        s = self.suggestions[rule]
        if not s.ok:
            return f"{rule}: none ({s.reason})"
        text = f"{rule} {s.lr:.3g}"
        spread = self.spread(rule)
        if len(self.seeds) > 1 and spread is not None:
            agree = sum(c.suggestions[rule].ok for c in self.seeds)
            text += f", {spread[0]:.3g}-{spread[1]:.3g} across {agree} seeds"
        return text

    def summary_json(self) -> dict[str, Any]:
        """Everything, as stored in a session's ``summary.range_test`` (strict JSON: NaN is null)."""
        return {"params": self.params, "stop": self.stop,
                "suggestions": {r: {**s.to_json(), "spread": _pair(self.spread(r))}
                                for r, s in self.suggestions.items()},
                "lrs": _json_list(self.lrs), "losses": _json_list(self.losses),
                "smoothed": _json_list(self.smoothed), "low": _json_list(self.low), "high": _json_list(self.high),
                "curve": _json_list(self.curve),
                "seeds": [{"seed": c.seed, "losses": _json_list(c.losses), "smoothed": _json_list(c.smoothed),
                           "suggestions": {r: s.to_json() for r, s in c.suggestions.items()}}
                          for c in self.seeds]}

    @classmethod
    def from_summary(cls, data: Mapping[str, Any]) -> RangeTestResult:
        """Read back :meth:`summary_json` (a session's ``summary.range_test``)."""
        seeds = [SeedCurve(int(c["seed"]), _array(c["losses"]), _array(c["smoothed"]),
                           {r: Suggestion.from_json(r, s) for r, s in c["suggestions"].items()})
                 for c in data.get("seeds", [])]
        return cls(_array(data["lrs"]), _array(data["losses"]), _array(data["smoothed"]), _array(data["low"]),
                   _array(data["high"]), seeds,
                   {r: Suggestion.from_json(r, s) for r, s in data["suggestions"].items()},
                   str(data.get("stop", "")), dict(data.get("params", {})),
                   # a session from before the zero-phase curve: its suggestions read the EMA
                   _array(data["curve"]) if "curve" in data else _array(data["smoothed"]))

    def cli_json(self) -> dict[str, Any]:
        """The shape ``lrlab find-lr --json`` prints: ``{"suggestions": {"steepest": {"lr", "index",
        "spread": [lo, hi]}, ...}, "lrs", "losses", "smoothed", "seeds": [{"seed", "suggestions"}]}``.
        A rule without an answer has ``lr``, ``index`` and ``spread`` null and a ``message``."""

        def one(s: Suggestion) -> dict[str, Any]:
            return {"lr": s.lr, "index": s.index} if s.ok else {"lr": None, "index": None, "message": s.reason}

        def with_spread(rule: str, s: Suggestion) -> dict[str, Any]:
            out = {"lr": s.lr, "index": s.index, "spread": _pair(self.spread(rule)) if s.ok else None}
            return out if s.ok else {**out, "message": s.reason}

        return {"suggestions": {r: with_spread(r, s) for r, s in self.suggestions.items()},
                "lrs": _json_list(self.lrs), "losses": _json_list(self.losses), "smoothed": _json_list(self.smoothed),
                "seeds": [{"seed": c.seed, "suggestions": {r: one(s) for r, s in c.suggestions.items()}}
                          for c in self.seeds]}


class _quiet:
    """No "All-NaN slice" warning from nanmedian on the steps past a divergence (NaN is the answer)."""

    def __enter__(self) -> None:
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._catch.__exit__(*exc)


def summary_lines(summary: Mapping[str, Any]) -> list[str]:
    """What ``lrlab info`` says about a range-test session: each rule's suggestion (the
    ``range_test`` kind's :attr:`~lrlab.core.runs.kinds.RunKind.summary_lines`)."""
    data = summary.get("range_test")
    if not data:
        return []
    result = RangeTestResult.from_summary(data)
    return [f"suggests  {result.describe(rule)}" for rule in RULES]


def _pair(spread: tuple[float, float] | None) -> list[float] | None:
    return None if spread is None else [spread[0], spread[1]]


# --- "Use this LR" -----------------------------------------------------------------------------


def suggestion_changes(spec_json: Mapping[str, Any], lr: float) -> tuple[dict[str, Any], str]:
    """Which fields "Use this LR" sets for the experiment ``spec_json``, and a line saying so.

    The LR a range test finds is the peak a schedule may reach: with a constant LR or a
    schedule that scales the optimizer's LR (step, cosine, warmup into a constant...), the
    optimizer's ``lr``; for one-cycle its ``max_lr`` (the peak of the cycle, Smith's use of
    the test); for cyclic its ``max_lr``, with ``base_lr`` a tenth of it (Smith's cyclical
    LR paper sets the bounds from the test, the lower about 1/3 to 1/4 of the upper; a tenth
    is one decade, as fastai's ``minimum`` steps back). A warmup ramps into its ``then``
    schedule, so one-cycle or cyclic inside a warmup are set the same way."""
    path, node = "schedule", spec_json.get("schedule") if isinstance(spec_json, Mapping) else None
    while isinstance(node, Mapping) and node.get("kind") == "warmup" and isinstance(node.get("then"), Mapping):
        path, node = f"{path}.then", node["then"]
    kind = node.get("kind") if isinstance(node, Mapping) else None
    if kind == "onecycle":
        return {f"{path}.max_lr": lr}, f"sets the one-cycle peak {path}.max_lr to {lr:.3g}"
    if kind == "cyclic":
        return ({f"{path}.max_lr": lr, f"{path}.base_lr": lr / 10},
                f"sets the cyclic bounds: {path}.max_lr {lr:.3g} and {path}.base_lr {lr / 10:.3g} (a tenth)")
    return {"optimizer.lr": lr}, f"sets the optimizer's LR (optimizer.lr) to {lr:.3g}"


def apply_suggestion(spec_json: Mapping[str, Any], lr: float) -> dict[str, Any]:
    """The experiment JSON with a suggested LR applied (see :func:`suggestion_changes` for which
    fields); a new object, ``spec_json`` is left as it was. Not validated: the caller's form
    validates as it does for every edit."""
    changes, _ = suggestion_changes(spec_json, lr)
    return apply_changes(spec_json, changes)


def describe_suggestion(spec_json: Mapping[str, Any], lr: float) -> str:
    """One line for the "Use this LR" button's tooltip: which fields it sets, to what."""
    return suggestion_changes(spec_json, lr)[1]
