"""Decimated views keep every spike at bounded cost; smoothing matches a reference EMA."""

from __future__ import annotations

import numpy as np
import pytest

from lrlab.core.features.series import MinMaxPyramid, debiased_ema


def reference_ema(y, s):
    out, m = [], 0.0
    for t, v in enumerate(y):
        m = s * m + (1 - s) * v
        out.append(m / (1 - s ** (t + 1)))
    return np.array(out)


@pytest.mark.parametrize("s", [0.0, 0.6, 0.9, 0.99])
def test_debiased_ema_matches_reference_in_one_go_and_in_chunks(s):
    y = np.random.default_rng(0).normal(size=1000).cumsum()
    ref = reference_ema(y, s) if s else y
    whole, _ = debiased_ema(y, s)
    np.testing.assert_allclose(whole, ref, rtol=1e-10)
    parts, state, start = [], 0.0, 0
    for chunk in np.array_split(y, 7):
        out, state = debiased_ema(chunk, s, start, state)
        parts.append(out)
        start += len(chunk)
    np.testing.assert_allclose(np.concatenate(parts), ref, rtol=1e-10)
    assert whole[0] == pytest.approx(y[0])  # debiased: starts at the first value, not at 0


def test_long_and_short_series_are_smoothed_alike_and_continue_each_other():
    """Short chunks (a live run's frames) are smoothed without scipy; a long series (a redraw of
    the whole history) by scipy's lfilter: the two continue each other's state."""
    from lrlab.core.features.series import SHORT_SERIES

    y = np.random.default_rng(2).normal(size=3 * SHORT_SERIES).cumsum()
    ref = reference_ema(y, 0.9)
    long, state = debiased_ema(y[: 2 * SHORT_SERIES], 0.9)  # lfilter
    short, _ = debiased_ema(y[2 * SHORT_SERIES:], 0.9, 2 * SHORT_SERIES, state)  # the loop
    np.testing.assert_allclose(np.concatenate([long, short]), ref, rtol=1e-10)
    head, state = debiased_ema(y[:SHORT_SERIES], 0.9)  # the loop
    rest, _ = debiased_ema(y[SHORT_SERIES:], 0.9, SHORT_SERIES, state)  # lfilter
    np.testing.assert_allclose(np.concatenate([head, rest]), ref, rtol=1e-10)


def test_smoothing_a_live_chunk_imports_no_scipy():
    from testkit import loaded_by

    code = ("import numpy as np\nfrom lrlab.core.features.series import debiased_ema\n"
            "debiased_ema(np.arange(500.0), 0.9)")
    assert loaded_by(code, ("scipy",)) == []


def test_view_is_bounded_and_keeps_extremes():
    rng = np.random.default_rng(1)
    n = 1_000_000
    x = np.arange(n, dtype=float)
    y = rng.normal(size=n)
    y[123_457] = 50.0  # a single spike must survive decimation
    p = MinMaxPyramid()
    for chunk in np.array_split(np.arange(n), 333):  # arrives in batches, like live training
        p.append(x[chunk], y[chunk])
    vx, vy = p.view(0, n, 2000)
    assert len(vx) <= 2000 + 4
    assert vy.max() == 50.0 and vy.min() == y.min()
    vx, vy = p.view(100_000, 150_000, 2000)
    assert vx[0] <= 100_000 and vx[-1] >= 149_000 and len(vx) <= 2004
    assert vy.max() == 50.0
    # a narrow range comes back raw
    vx, vy = p.view(10, 20, 2000)
    assert vx.tolist() == list(range(9, 22)) and vy.tolist() == y[9:22].tolist()


def test_incremental_summaries_equal_one_shot():
    rng = np.random.default_rng(2)
    y = rng.normal(size=50_000)
    y[::97] = np.nan  # sampled metrics have gaps
    x = np.arange(len(y), dtype=float)
    a, b = MinMaxPyramid(), MinMaxPyramid()
    a.append(x, y)
    for chunk in np.array_split(np.arange(len(y)), 101):
        b.append(x[chunk], y[chunk])
    assert len(a.lo) == len(b.lo) >= 2
    for la, lb in zip(a.lo + a.hi, b.lo + b.hi, strict=True):
        np.testing.assert_array_equal(la.data, lb.data)
    assert np.nanmin(y[:512]) == a.lo[2].data[0] and np.nanmax(y[:512]) == a.hi[2].data[0]


def test_a_step_down_decimates_to_one_clean_edge():
    y = np.where(np.arange(1000) < 500, 0.1, 0.03)  # step decay at step 500, seen at low resolution
    p = MinMaxPyramid()
    p.append(np.arange(1000, dtype=float), y)
    vx, vy = p.view(0, 1000, 100)
    assert len(vx) < 1000
    changes = np.flatnonzero(np.diff(vy))
    assert len(changes) == 1  # never back up to 0.1 after going down
    assert (vy[: changes[0] + 1] == 0.1).all() and (vy[changes[0] + 1:] == 0.03).all()


def test_smooth_curves_are_sampled_not_drawn_as_stairs():
    """A linear warmup over 50 of 100,000 steps, then a cosine: min/max blocks would draw the
    ramp as vertical edges (stairs); a smooth view keeps distinct x and follows the curve."""
    steps = np.arange(100_000, dtype=np.float64)
    lr = np.where(steps < 5000, steps / 5000, 0.5 * (1 + np.cos(np.pi * (steps - 5000) / 95_000)))
    p = MinMaxPyramid()
    p.append(steps, lr)
    x, y = p.view(-np.inf, np.inf, 400, smooth=True)
    assert len(x) <= 402 and x[0] == 0 and x[-1] == 99_999
    assert np.all(np.diff(x) > 0)  # no two points at one x: no vertical edges
    np.testing.assert_allclose(y, np.interp(x, steps, lr))  # points on the curve itself
    ramp = y[x < 5000]
    assert len(ramp) >= 15 and np.all(np.diff(ramp) > 0)  # the warmup rises smoothly
    xs, _ = p.view(-np.inf, np.inf, 400)  # the envelope view, for noisy curves, pairs points
    assert np.any(np.diff(xs) == 0)


def test_a_long_history_arriving_at_once_is_not_copied_again_by_the_next_batches():
    # a session opened (or a run resumed) hands the plots its whole history in one batch; the live
    # batches after it must not copy those million points again (they did: the array had grown
    # to exactly what the first batch needed)
    from lrlab.core.features.series import Growable

    series = Growable()
    series.extend(np.arange(1_000_000, dtype=np.float64))
    buffer = series._buf
    for i in range(50):
        series.extend(np.full(1000, float(i)))
    assert series._buf is buffer
    assert series.n == 1_050_000 and series.data[-1] == 49.0 and series.data[999_999] == 999_999.0
