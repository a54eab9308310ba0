"""Regression: PySide6 6.12.0 on Python 3.11 aborts after a few hundred Signal.emit() calls.

pyproject.toml pins PySide6 below 6.12; this test makes a future bump that brings the
bug back fail loudly instead of crashing users' training runs.
"""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
import sys
from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot, Qt

N = 100_000

class Emitter(QObject):
    sig_value = Signal(int, bool)
    @Slot()
    def run(self):
        for i in range(N):
            self.sig_value.emit(i, True)

class Receiver(QObject):
    def __init__(self):
        super().__init__()
        self.count = 0
        self.total = 0
    @Slot(int, bool)
    def on_value(self, i, flag):
        self.count += 1
        self.total += i
        if self.count == N:
            QCoreApplication.quit()

app = QCoreApplication([])
thread = QThread()
emitter, receiver = Emitter(), Receiver()
emitter.moveToThread(thread)
emitter.sig_value.connect(receiver.on_value, Qt.QueuedConnection)
thread.started.connect(emitter.run)
thread.start()
app.exec()
thread.quit(); thread.wait()
print(receiver.count, receiver.total)
"""


def test_100k_queued_signal_emits_survive():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300,
                          env={"QT_QPA_PLATFORM": "offscreen", **__import__("os").environ})
    assert proc.returncode == 0, f"process died ({proc.returncode}): {proc.stderr[-2000:]}"
    n = 100_000
    assert proc.stdout.split() == [str(n), str(n * (n - 1) // 2)]
