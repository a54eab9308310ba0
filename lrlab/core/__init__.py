"""The headless core of lrlab: specs, schedules, data, models, the trainer and sessions.

Nothing under ``lrlab.core`` imports Qt or pyqtgraph (``tests/core/test_architecture.py``
checks it), so everything the GUI does can be done from the CLI, a notebook or a test.
"""
