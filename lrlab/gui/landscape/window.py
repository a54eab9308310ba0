"""The Landscape window: optimizers stepping on a 2-D loss surface, animated.

The window composes parts that each own their state, and holds the one thing they share: the
set-up (:class:`~lrlab.core.features.landscape.LandscapeSpec`) and its run
(:class:`~lrlab.core.features.landscape.Landscape`).

- :class:`~.controls.Controls` (left): demos, presets, the set-up editors, save and export;
- :class:`~.playback.Playback` (top): Play, Step, Reset, the speed, the frame timer;
- :class:`~.surface_view.SurfaceView`: the contour with minima, start, heads and crosses, the
  header and the legend; a click on it moves the start;
- :class:`~.plots.LossLrPlots`: the loss above the minimum (log) and the LR by step, 2/L marked;
- :class:`~.art.TrajectoryArt`: one per trajectory, its path and curves in those plots.

Every change of the set-up goes through the core (``spec.with_setup``, ``spec.with_trajectory``,
``spec.with_copy_of``, ...: one parser, every problem with its field path), so the window
validates nothing of its own, and ``lrlab landscape`` (:func:`lrlab.api.landscape`) and a saved
session compute the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from lrlab.core.decl.palette import palette
from lrlab.core.decl.params import SpecError
from lrlab.core.features.landscape import (
    DEMOS,
    MAX_TRAJECTORIES,
    QUADRATIC_PRESETS,
    Landscape,
    LandscapeSpec,
    Note,
    quadratic_preset,
    write_csv,
)
from lrlab.gui.landscape.art import BANDS_DARK, BANDS_LIGHT, TrajectoryArt
from lrlab.gui.landscape.controls import Controls
from lrlab.gui.landscape.playback import Playback
from lrlab.gui.landscape.plots import LossLrPlots
from lrlab.gui.landscape.surface_view import SurfaceView
from lrlab.gui.style import fit_to_screen, is_dark


class LandscapeWindow(QWidget):
    """The loss landscape playground (View > Landscape). ``LandscapeWindow()`` is ready to show:
    the quadratic with its four teaching LRs around 2/L, paused at step 0."""

    sig_message = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Landscape — lrlab")
        dark = is_dark()
        self.colours = palette(dark)
        self.halo = "#1e1e1e" if dark else "#ffffff"
        self.spec = LandscapeSpec.from_json(quadratic_preset(list(QUADRATIC_PRESETS)))
        self.land = Landscape(self.spec)
        self.arts: list[TrajectoryArt] = []

        self.controls = Controls(self.colours)
        self.playback = Playback(lambda n: self.advance(n), lambda: self.land.done, self.reset, self)
        self.view = SurfaceView(self.halo, BANDS_DARK if dark else BANDS_LIGHT)
        self.plots = LossLrPlots(dark)
        self._wire()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.controls)
        lay.addWidget(self._figure_side(), 1)

        # the parts' widgets by the names the tests, the benchmark and the CLI's picture use
        self.header, self.legend, self.contour = self.view.header, self.view.legend, self.view.contour
        self.image, self.isolines = self.view.image, self.view.isolines
        self.heads, self.crosses = self.view.heads, self.view.crosses
        self.critical_line = self.plots.critical_line
        self.play_button, self.step_label = self.playback.play_button, self.playback.step_label
        self.preset_buttons = self.controls.preset_buttons
        self.surface_editor, self.start_label = self.controls.setup.surface_editor, self.controls.setup.start_label
        editor = self.controls.trajectories
        self.traj_list, self.opt_editor, self.add_button = editor.traj_list, editor.opt_editor, editor.add_button

        self.set_spec(self.spec)
        fit_to_screen(self, 1366, 768)

    def _wire(self) -> None:
        c = self.controls
        c.sig_demo.connect(self.load_demo)
        c.sig_preset.connect(self.load_preset)
        c.sig_save.connect(self.save_session_dialog)
        c.sig_export.connect(self._export_dialog)
        c.setup.sig_changed.connect(lambda: self._try(lambda: self.spec.with_setup(**c.setup.value()), c.setup))
        c.setup.sig_default_start.connect(lambda: self.set_start(None))
        c.trajectories.sig_changed.connect(
            lambda i, data: self._try(lambda: self.spec.with_trajectory(i, data), c.trajectories))
        c.trajectories.sig_add.connect(self.add_trajectory)
        c.trajectories.sig_remove.connect(self.remove_trajectory)
        c.trajectories.sig_edit.connect(lambda i, edit: self.edit_selected(edit, i))
        self.view.widget.scene().sigMouseClicked.connect(self._clicked)

    def _figure_side(self) -> QWidget:
        """The playback bar over the figure (what a PNG shows) over the hint line."""
        side = QWidget()
        col = QVBoxLayout(side)
        col.setContentsMargins(0, 0, 0, 0)
        col.addLayout(self.playback.bar)
        self.figure = QWidget()
        self.figure.setAutoFillBackground(True)
        fig = QVBoxLayout(self.figure)
        fig.setContentsMargins(4, 4, 4, 4)
        fig.setSpacing(2)
        fig.addWidget(self.view.header)
        fig.addWidget(self.view.widget, 3)
        fig.addWidget(self.view.legend)
        bottom = QHBoxLayout()
        bottom.setSpacing(4)
        bottom.addWidget(self.plots.loss_widget)
        bottom.addWidget(self.plots.lr_widget)
        fig.addLayout(bottom, 2)
        col.addWidget(self.figure, 1)
        self.hint = QLabel("Click the surface to start every trajectory there. Space plays and pauses.")
        self.hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.hint.setWordWrap(True)
        col.addWidget(self.hint)
        return side

    # --- the set-up ------------------------------------------------------------------------------

    def _try(self, change: Callable[[], LandscapeSpec], editor: Any) -> bool:
        """Make ``change()`` the set-up (back to step 0), or show ``editor`` why it is not one."""
        try:
            spec = change()
        except SpecError as err:
            editor.show_problems(dict(err.problems))
            return False
        editor.show_problems({})
        self.set_spec(spec, reload_editors=False)
        return True

    def set_spec(self, spec: LandscapeSpec | dict[str, Any], reload_editors: bool = True,
                 edits: Iterable[tuple[int, Mapping[str, Any]]] = ()) -> None:
        """Make ``spec`` the set-up and go back to step 0 (playing on if it was playing)."""
        self.show_landscape(Landscape(spec if isinstance(spec, LandscapeSpec) else LandscapeSpec.from_json(spec),
                                      edits), reload_editors)

    def show_landscape(self, land: Landscape, reload_editors: bool = True) -> None:
        """Show ``land`` as far as it has run (a computed one: ``lrlab landscape --png``)."""
        self.spec, self.land = land.spec, land
        if reload_editors:
            self.controls.setup.show_spec(self.spec)
        self.controls.trajectories.show_spec(self.spec, reload=reload_editors)
        self._rebuild()

    def load_preset(self, name: str) -> None:
        """One of the quadratic's teaching presets (``too low`` ... ``divergent``), at the bowl's
        current condition number when the quadratic is already shown."""
        condition = self.spec.surface["condition"] if self.spec.surface.kind == "quadratic" else 10.0
        self.set_spec(quadratic_preset([name], condition, self.spec.steps))
        self._explain(DEMOS["quadratic-" + name.replace(" ", "-")].explanation)

    def load_demo(self, key: str) -> None:
        demo = DEMOS[key]
        self.set_spec(demo.spec)
        self._explain(demo.explanation)

    def _explain(self, text: str) -> None:
        """What the set-up now on screen shows, under the controls and on the status line (a
        preset chosen after a demo used to leave the demo's text under the controls)."""
        self.hint.setText(text)
        self.sig_message.emit(text)

    def set_start(self, point: tuple[float, float] | None) -> None:
        """Start every trajectory at ``point`` (None: the surface's default) and go back to step 0."""
        self.set_spec(self.spec.with_changes(start=None if point is None else [float(point[0]), float(point[1])]),
                      reload_editors=False)

    def add_trajectory(self, i: int | None = None) -> None:
        """A copy of trajectory ``i`` (default: the selected one) at half its LR."""
        if len(self.spec.trajectories) >= MAX_TRAJECTORIES:
            return
        self.set_spec(self.spec.with_copy_of(self.controls.trajectories.current() if i is None else i))
        self.controls.trajectories.select(len(self.spec.trajectories) - 1)

    def remove_trajectory(self, i: int | None = None) -> None:
        """Remove trajectory ``i`` (default: the selected one); the last one stays."""
        if len(self.spec.trajectories) <= 1:
            return
        i = self.controls.trajectories.current() if i is None else i
        self.set_spec(self.spec.without_trajectory(i))
        self.controls.trajectories.select(min(i, len(self.spec.trajectories) - 1))

    def edit_selected(self, edit: dict[str, Any], i: int | None = None) -> None:
        """A mid-run edit of trajectory ``i`` (default: the selected one) from the current step on
        (recorded, so a saved session replays it)."""
        i = self.controls.trajectories.current() if i is None else i
        try:
            note = self.land.apply_edit(edit, i + 1)
        except SpecError as err:
            self.sig_message.emit(f"edit rejected: {err}")
            return
        self._notes([note])
        for art in self.arts:
            art.draw_planned(self.spec.steps)

    def _clicked(self, event: Any) -> None:
        point = self.view.point_at(event.scenePos(), self.land.box)
        if point is not None:
            self.set_start(point)

    # --- drawing ---------------------------------------------------------------------------------

    def _rebuild(self) -> None:
        """Everything for a new set-up: the surface (when it changed), fresh trajectory art."""
        for art in self.arts:
            art.remove()
        land = self.land
        self.view.show_landscape(land)
        self.controls.setup.show_start(*land.start)
        self.arts = [TrajectoryArt(t, self.colours[t.index % len(self.colours)], self.view.contour,
                                   self.plots.loss_plot, self.plots.lr_plot, self.halo) for t in land.trajectories]
        for art in self.arts:
            art.draw()
            art.draw_planned(self.spec.steps)
        self.view.draw_ends(self.arts)
        self.plots.set_up(land.surface.max_curvature, [t.optimizer["lr"] for t in self.spec.trajectories],
                          self.spec.steps)
        self.plots.fit_loss_axis(self.arts)
        self._refresh_text()
        if self.playback.playing:
            self.playback.restart_clock()

    def _refresh_text(self) -> None:
        """The step counter, the legend and the list's statuses (these two only when they changed)."""
        self.playback.show_step(self.land.step, self.spec.steps, self.land.done)
        texts = self.view.show_legend(self.land, self.colours)
        if texts is not None:
            self.controls.trajectories.show_statuses(texts)

    def _draw(self) -> None:
        if any([art.draw() for art in self.arts]):
            self.view.draw_ends(self.arts)
            self.plots.fit_loss_axis(self.arts)
        self._refresh_text()

    def _notes(self, notes: list[Note]) -> None:
        for note in notes:
            if note.kind == "diverged":
                self.sig_message.emit(note.data["message"])
                self.hint.setText(note.data["message"])
            elif note.kind == "edit":
                self.hint.setText(f"step {note.step}: trajectory {note.data['trajectory'] or 'all'}: "
                                  f"{note.data['edit']}")

    # --- playing (the playback bar's, here for scripts and tests) --------------------------------

    @property
    def playing(self) -> bool:
        return self.playback.playing

    def toggle_play(self) -> None:
        self.playback.toggle()

    def play(self) -> None:
        self.playback.play()

    def pause(self) -> None:
        self.playback.pause()

    def set_speed(self, steps_per_second: float) -> None:
        self.playback.set_speed(steps_per_second)

    def step_once(self) -> None:
        self.playback.step_once()

    def reset(self) -> None:
        """Back to step 0 with the same set-up (edits made while playing are dropped)."""
        self.set_spec(self.spec, reload_editors=False)

    def advance(self, n: int) -> int:
        """Up to ``n`` steps of every trajectory, then one redraw; returns the steps taken."""
        done = 0
        notes: list[Note] = []
        while done < n and not self.land.done:
            notes += self.land.advance()
            done += 1
        if notes:
            self._notes(notes)
        self._draw()
        return done

    # --- files ------------------------------------------------------------------------------------

    def save_session(self, path: str) -> str:
        """Save the run as shown (as far as it got, with its mid-run edits) as a session of kind
        ``landscape``; a run not started yet is run to its end first. Returns the final status."""
        from lrlab.core.runs import record
        from lrlab.core.runs.landscape import run_spec_of

        land = self.land
        cut = land.step if 0 < land.step < self.spec.steps and not land.done else None
        run = record("landscape", run_spec_of(self.spec), path, label=f"landscape-{self.spec.surface.kind}",
                     overwrite=True, landscape=self.spec.to_json(), edits=list(land.applied), max_steps=cut)
        return str(run.run())

    def export_png(self, path: str) -> None:
        """The figure (surface, legend, loss and LR plots; no controls) as a PNG."""
        from lrlab.gui.exports import save_image

        save_image(self.figure.grab(), path)

    def export_csv(self, path: str) -> int:
        return write_csv(self.land, path)

    def save_session_dialog(self) -> None:
        from lrlab.core.decl import paths
        from lrlab.core.runs.landscape import run_spec_of
        from lrlab.core.storage.session import default_name

        name = default_name(run_spec_of(self.spec), f"landscape-{self.spec.surface.kind}")
        suggestion = str(paths.sessions_dir() / name)
        out, _ = QFileDialog.getSaveFileName(self, "Save landscape session", suggestion, "lrlab sessions (*.lrlab)")
        if out:
            status = self.save_session(out)
            self.hint.setText(f"saved {out} ({status})")

    def _export_dialog(self, fmt: str) -> None:
        out, _ = QFileDialog.getSaveFileName(self, f"Export {fmt.upper()}", f"landscape.{fmt}",
                                             f"{fmt.upper()} (*.{fmt})")
        if out:
            self.export_png(out) if fmt == "png" else self.export_csv(out)
            self.hint.setText(f"exported {out}")

    def closeEvent(self, event: Any) -> None:
        self.pause()
        super().closeEvent(event)


def render_png(landscape: Landscape, out: str, width: int = 1700, height: int = 1000) -> None:
    """Draw a computed landscape into a PNG without a display (``lrlab landscape --png``)."""
    from lrlab.gui.exports import shown_for_export

    window = LandscapeWindow()
    window.show_landscape(landscape)
    with shown_for_export(window, width, height):
        window.export_png(out)
