"""The Landscape window: optimizers stepping on a 2-D loss surface, animated (View > Landscape).

The package, from the bottom up (each module imports only those above it in this list):

- :mod:`.art`: the contour's helpers, paths that grow in pieces of :data:`CHUNK` points (a frame
  re-sends only the newest piece, so its cost does not grow with the length of a path), and the
  art of one trajectory; a diverged path ends at the view box's edge (:func:`clip_to_box`);
- :mod:`.surface_view`: the filled contour of f - f* at log-spaced levels, minima, start, heads,
  crosses, the header and the legend;
- :mod:`.plots`: the loss (log) and LR plots under it, with 2/L marked;
- :mod:`.playback`: Play, Step, Reset, the speed and the frame timer (at most
  :data:`MAX_STEPS_PER_FRAME` steps a frame, whatever the speed);
- :mod:`.editors` and :mod:`.controls`: the set-up editors and the control column;
- :mod:`.window`: :class:`LandscapeWindow`, which composes them around one
  :class:`~lrlab.core.features.landscape.Landscape`, and :func:`render_png` for ``lrlab landscape --png``.

All the numbers come from :mod:`lrlab.core.features.landscape`, the same code the CLI and a replay run.
"""

from __future__ import annotations

from lrlab.gui.landscape.art import CHUNK, LOSS_FLOOR, GrowingPath, TrajectoryArt, clip_to_box, isolines, pretty
from lrlab.gui.landscape.playback import FRAME_MS, MAX_STEPS_PER_FRAME, SPEEDS, Playback
from lrlab.gui.landscape.window import LandscapeWindow, render_png

__all__ = ["CHUNK", "FRAME_MS", "LOSS_FLOOR", "MAX_STEPS_PER_FRAME", "SPEEDS", "GrowingPath", "LandscapeWindow",
           "Playback", "TrajectoryArt", "clip_to_box", "isolines", "pretty", "render_png"]
