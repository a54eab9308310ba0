"""Series colours that stay readable on the background they are drawn on, with the WCAG
contrast they are checked by. A module of its own (no numpy, no session code) because the
GUI needs the colours before its first frame, and a comparison only later.
"""

from __future__ import annotations

#: Series colours for light backgrounds: Okabe-Ito's blue, vermillion and reddish purple,
#: its green darkened, then gold, wine, grey and black. Every one has at least 3:1 contrast
#: (WCAG) with white and with Qt's light window grey #EFEFEF, so no yellow on white.
LIGHT_PALETTE = ("#0072B2", "#D55E00", "#00876A", "#AA4499", "#8C6D00", "#882255", "#5F5F5F", "#000000")
#: The same hue families for dark backgrounds (#1E1E1E to #353535): sky blue, orange, green,
#: pink, yellow, salmon, grey and near-white, each at least 3:1 against them.
DARK_PALETTE = ("#56B4E9", "#E69F00", "#2BC48F", "#CC79A7", "#F0E442", "#FF8C69", "#B0B0B0", "#F2F2F2")
#: the backgrounds the palettes are drawn on (plot bases and window colours), for checks
LIGHT_BACKGROUNDS = ("#FFFFFF", "#EFEFEF")
DARK_BACKGROUNDS = ("#1E1E1E", "#2B2B2B", "#353535")
PALETTE = LIGHT_PALETTE


def palette(dark: bool = False) -> tuple[str, ...]:
    """The series colours for a dark or a light background; run i of a comparison gets colour i."""
    return DARK_PALETTE if dark else LIGHT_PALETTE


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
