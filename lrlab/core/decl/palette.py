"""Series colours that stay readable on the background they are drawn on, with the WCAG
contrast they are checked by. A module of its own (no numpy, no session code) because the
GUI needs the colours before its first frame, and a comparison only later.
"""

from __future__ import annotations

#: Series colours for light backgrounds: Okabe-Ito's blue, vermillion and reddish purple,
#: its green darkened, then gold, wine, grey and black, then indigo, brown, olive and crimson
#: (twelve runs get twelve colours; see :func:`series_style`). Every one has at least 3:1
#: contrast (WCAG) with white and with Qt's light window grey #EFEFEF, so no yellow on white.
LIGHT_PALETTE = ("#0072B2", "#D55E00", "#00876A", "#AA4499", "#8C6D00", "#882255", "#5F5F5F", "#000000",
                 "#332288", "#7A4A1E", "#4B7A00", "#C0143C")
#: The same hue families for dark backgrounds (#1E1E1E to #353535): sky blue, orange, green,
#: pink, yellow, salmon, grey and near-white, lavender, tan, lime and rose, each at least 3:1
#: against them.
DARK_PALETTE = ("#56B4E9", "#E69F00", "#2BC48F", "#CC79A7", "#F0E442", "#FF8C69", "#B0B0B0", "#F2F2F2",
                "#9E8CFF", "#D2A679", "#A6D854", "#FF6F91")
#: line styles after the colours run out: run i gets colour i % 12 and dash i // 12 % 4
DASHES = ("solid", "dash", "dot", "dashdot")
#: the LR colour scale of the members of one sweep, grid or population, low LR to high on a log
#: scale (blue, green, gold, vermillion: readable on white at every point, no yellow)
LR_SCALE = ("#0072B2", "#00876A", "#8C6D00", "#D55E00")
#: the backgrounds the palettes are drawn on (plot bases and window colours), for checks
LIGHT_BACKGROUNDS = ("#FFFFFF", "#EFEFEF")
DARK_BACKGROUNDS = ("#1E1E1E", "#2B2B2B", "#353535")
PALETTE = LIGHT_PALETTE


def palette(dark: bool = False) -> tuple[str, ...]:
    """The series colours for a dark or a light background; run i of a comparison gets colour i."""
    return DARK_PALETTE if dark else LIGHT_PALETTE


def series_style(i: int, dark: bool = False) -> tuple[str, str]:
    """(colour, dash) of series ``i`` of a set of unrelated runs: twelve distinct colours, then
    the same colours again dashed, dotted, dash-dotted."""
    colours = palette(dark)
    return colours[i % len(colours)], DASHES[i // len(colours) % len(DASHES)]


def lr_colour(lr: float, lo: float, hi: float) -> str:
    """The colour of LR ``lr`` among members whose LRs span ``lo``..``hi``: the position
    t = (log10 lr - log10 lo) / (log10 hi - log10 lo) (0.5 when they are equal) on :data:`LR_SCALE`,
    linear in RGB between its evenly spaced stops (as pyqtgraph's ColorMap draws the bar)."""
    import math

    span = math.log10(hi) - math.log10(lo) if hi > 0 and lo > 0 else 0.0
    t = (math.log10(lr) - math.log10(lo)) / span if span > 0 else 0.5
    t = min(max(t, 0.0), 1.0) * (len(LR_SCALE) - 1)
    k = min(int(t), len(LR_SCALE) - 2)
    f = t - k
    a, b = (tuple(int(c.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)) for c in LR_SCALE[k:k + 2])
    return "#" + "".join(f"{round(x + (y - x) * f):02X}" for x, y in zip(a, b, strict=True))


def relative_luminance(colour: str) -> float:
    """WCAG 2 relative luminance of ``#RRGGBB``: L = 0.2126 R + 0.7152 G + 0.0722 B over the
    linearised channels c = s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4."""
    channels = [int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    """WCAG contrast (L_lighter + 0.05) / (L_darker + 0.05): 1 for equal colours, 21 for black on
    white; 3 is the minimum for graphics such as plot lines."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
