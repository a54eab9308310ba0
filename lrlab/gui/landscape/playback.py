"""Playback: the bar with Play, Step, Reset and the speed, and the timer that animates the landscape.

Trajectories advance on a QTimer in the GUI thread: a step of six trajectories is a few hundred
microseconds of 2-D maths, so no worker thread is needed. Each frame (every :data:`FRAME_MS`) takes
the steps due at the chosen speed since play began, ``due = floor((now - t_play) * speed) -
played``, but at most :data:`MAX_STEPS_PER_FRAME`: a frame's work stays bounded whatever the speed
asked for, and behind that the animation slows down instead of stuttering.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton

from lrlab.core.decl.resources import icon_path

#: animation speeds offered, in steps per second
SPEEDS = (1, 5, 15, 30, 60, 120, 240)
FRAME_MS = 33  # about 30 frames a second: smooth to the eye, half the painting of 60
#: the most steps one frame takes, whatever the speed: a frame's work stays bounded
MAX_STEPS_PER_FRAME = 16


class Playback(QObject):
    """Plays, pauses and steps a landscape through three callbacks: ``advance(n)`` takes up to n
    steps and returns how many it took, ``done()`` says the run is over, ``reset()`` goes back
    to step 0. ``bar`` is the row of buttons for the window to lay out."""

    def __init__(self, advance: Callable[[int], int], done: Callable[[], bool], reset: Callable[[], None],
                 parent: QObject | None = None):
        super().__init__(parent)
        self._advance, self._done, self._reset = advance, done, reset
        self.playing = False
        self.speed = 30.0
        self._t_play = 0.0
        self._steps_played = 0
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self.tick)

        self.bar = QHBoxLayout()
        # the app's icons: the "⏸" character shows as an empty box where the font lacks it
        self.icons = {name: QIcon(str(icon_path(f"{name}.svg"))) for name in ("start", "pause")}
        self.play_button = QPushButton(self.icons["start"], "Play")
        self.play_button.setShortcut("Space")
        self.play_button.setMinimumWidth(self.play_button.fontMetrics().horizontalAdvance("Pause") + 48)
        self.play_button.clicked.connect(self.toggle)
        self.step_button = QPushButton("Step")
        self.step_button.setToolTip("one step of every trajectory")
        self.step_button.clicked.connect(self.step_once)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("back to step 0")
        self.reset_button.clicked.connect(lambda: self._reset())
        self.speed_combo = QComboBox()
        for s in SPEEDS:
            self.speed_combo.addItem(f"{s} steps/s", float(s))
        self.speed_combo.setCurrentIndex(SPEEDS.index(30))
        self.speed_combo.currentIndexChanged.connect(lambda _: self.set_speed(self.speed_combo.currentData()))
        self.step_label = QLabel()
        for w in (self.play_button, self.step_button, self.reset_button, QLabel("speed"), self.speed_combo):
            self.bar.addWidget(w)
        self.bar.addSpacing(12)
        self.bar.addWidget(self.step_label, 1)

    def toggle(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        """Play from here (from step 0 when the run is over)."""
        if self._done():
            self._reset()
        self.playing = True
        self.restart_clock()
        self.play_button.setText("Pause")
        self.play_button.setIcon(self.icons["pause"])
        self.timer.start()

    def pause(self) -> None:
        self.playing = False
        self.timer.stop()
        self.play_button.setText("Play")
        self.play_button.setIcon(self.icons["start"])

    def set_speed(self, steps_per_second: float) -> None:
        self.speed = float(steps_per_second)
        self.restart_clock()

    def restart_clock(self) -> None:
        """Count the steps due from now: after a new speed or set-up, none are owed."""
        self._t_play, self._steps_played = time.perf_counter(), 0

    def step_once(self) -> None:
        self.pause()
        self._advance(1)

    def show_step(self, step: int, total: int, done: bool) -> None:
        self.step_label.setText(f"step {step} / {total}" + ("   done" if done else ""))

    def tick(self) -> None:
        """One frame: the steps due at the current speed since play began (at most
        MAX_STEPS_PER_FRAME; behind that, the animation slows down instead of stuttering)."""
        now = time.perf_counter()
        due = int((now - self._t_play) * self.speed) - self._steps_played
        if due > MAX_STEPS_PER_FRAME:  # too far behind: drop the backlog rather than burst
            self._t_play = now - (self._steps_played + MAX_STEPS_PER_FRAME) / self.speed
            due = MAX_STEPS_PER_FRAME
        if due > 0:
            self._steps_played += self._advance(due)
        if self._done():
            self.pause()
