"""The main window's experiment tools beside a single run: Find LR (an LR range test), the
Sweep (K learning rates at once), the Batch size x LR grid and the Landscape playground. Each is a window of its own,
made on first use; the range test and the sweep run through the window's run controller like
any run, and "Use this LR" comes back into the Experiment form.

:class:`ToolsComponent` owns the three windows and a sweep sent to Ray; it is given the
experiment form, the run controller, the status line and progress bar, and a way to compare
sessions. It follows the controller itself: a range test's progress and result go to the Find
LR window, a sweep's members to the Sweep window.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QMessageBox, QProgressBar, QWidget

from lrlab.gui.controller import RunController
from lrlab.gui.experiment import ExperimentPanel
from lrlab.gui.style import fit_to_screen
from lrlab.gui.views import KindView, register_view


class RangeTestView(KindView):
    """A range test is followed in the Find LR window: running, how far, then its curve."""

    own_window = True
    takes_edits = False

    def metrics(self, window: Any, update: Any) -> None:
        """Its curve is drawn in the Find LR window when it ends; the main plots keep their run."""

    def started(self, window: Any, info: dict[str, Any]) -> None:
        if window.tools.range_test is not None:
            window.tools.range_test.set_running(window.controller.total_steps)

    def progress(self, window: Any, progress: Any) -> None:
        if window.tools.range_test is not None:
            window.tools.range_test.set_progress(progress.steps_done)

    def finished(self, window: Any, path: str) -> None:
        if window.tools.range_test is not None:
            window.tools.show_range_test(path)


class SweepView(KindView):
    """A sweep's K members are drawn by the Sweep window; the main window keeps its last run."""

    own_window = True

    def metrics(self, window: Any, update: Any) -> None:
        if window.tools.sweep is not None:
            window.tools.sweep.add(update)

    def finished(self, window: Any, path: str) -> None:
        if window.tools.sweep is not None:
            window.tools.sweep.finish(path)


class PBTView(KindView):
    """A population's members, LRs and lineage are drawn by the Population window; the main
    plots show only its events."""

    def metrics(self, window: Any, update: Any) -> None:
        if window.tools.pbt is not None:
            window.tools.pbt.add(update)
        window.plots.add(events=update.events)

    def finished(self, window: Any, path: str) -> None:
        if window.tools.pbt is not None:
            window.tools.pbt.finish(path)
class GridView(KindView):
    """A grid's cells fill the Batch size x LR window's heatmap; the main plots show only its events."""

    def started(self, window: Any, info: dict[str, Any]) -> None:
        if window.tools.grid is not None and window.controller.recorded is not None:
            window.tools.grid.set_files(window.controller.recorded.files)

    def metrics(self, window: Any, update: Any) -> None:
        if window.tools.grid is not None:
            window.tools.grid.add(update)
        window.plots.add(events=update.events)

    def finished(self, window: Any, path: str) -> None:
        if window.tools.grid is not None:
            window.tools.grid.finish(path)


register_view("range_test", RangeTestView())
register_view("sweep", SweepView())
register_view("pbt", PBTView())
register_view("grid", GridView())


class ToolsComponent(QObject):
    """Find LR, Sweep and Landscape for the main window (see the module docstring).

    ``range_test``, ``sweep`` and ``landscape`` are their windows once made (None before).
    """

    def __init__(self, window: QWidget, controller: RunController, experiment: ExperimentPanel, status: QLabel,
                 progress: QProgressBar, compare: Callable[[list[str]], Any],
                 open_session: Callable[[str], Any] = lambda path: None) -> None:
        super().__init__(window)
        self.window, self.controller, self.experiment = window, controller, experiment
        self.status, self.progress, self.compare = status, progress, compare
        self.open_session = open_session  # a grid cell's "Open curves"
        self.range_test: Any = None  # the Find LR window
        self.sweep: Any = None  # the Sweep window
        self.landscape: Any = None  # the Landscape window
        self.grid: Any = None  # the Batch size x LR window
        self.autotune: Any = None  # the Auto-tune showdown window
        self.pbt: Any = None  # the Population (PBT) window
        self._transfer_of: str | None = None  # the winner's session while its schedule trains from scratch
        controller.sig_finished.connect(self._compare_transfer)
        self._ray_worker: Any = None  # a sweep on Ray, kept alive while it runs
        self._ray_thread: Any = None

    # --- Find LR -----------------------------------------------------------------------------

    def find_lr(self) -> None:
        """Run an LR range test on the form's experiment, in the background like any run."""
        spec = self.experiment.validate()
        if spec is None or self.controller.state.busy:
            return
        window = self.find_lr_window()
        window.spec_json = spec.to_json()
        window.set_running(None)
        self.controller.start(spec, kind="range_test")
        window.show()
        window.raise_()

    def find_lr_window(self) -> Any:
        if self.range_test is None:
            from lrlab.gui.find_lr import FindLRWindow

            self.range_test = FindLRWindow()
            self.range_test.sig_use.connect(lambda data: self._use_found_lr(data, self.range_test))
            self.range_test.sig_cancel.connect(self.controller.stop)
        return self.range_test

    def show_range_test(self, path: str) -> None:
        from lrlab.core.runs.range_finder import result_of
        from lrlab.core.storage.session import Session, SessionError

        try:
            with Session.open(path) as s:
                result = result_of(s)
        except SessionError as err:
            QMessageBox.warning(self.window, "Cannot read the range test", str(err))
            return
        if result is None:
            self.range_test.set_running(0)
            return
        self.range_test.set_result(result, self.range_test.spec_json, Path(path).name)
        self.range_test.show()
        self.range_test.raise_()

    # --- Auto-tune showdown ------------------------------------------------------------------

    def show_autotune(self) -> Any:
        """Run > Auto-tune showdown…: its window, on the form's experiment (lrlab/gui/autotune.py)."""
        if self.autotune is None:
            from lrlab.gui.autotune import AutotuneWindow

            self.autotune = AutotuneWindow(self.experiment.validate)
            self.autotune.sig_compare.connect(self.compare)
            fit_to_screen(self.autotune, 1100, 850)
        self.autotune.show()
        self.autotune.raise_()
        return self.autotune

    # --- Landscape ---------------------------------------------------------------------------

    def show_landscape(self) -> Any:
        if self.landscape is None:
            from lrlab.gui.landscape import LandscapeWindow

            self.landscape = LandscapeWindow()
            self.landscape.sig_message.connect(self.status.setText)
            fit_to_screen(self.landscape, 1300, 800)
        self.landscape.show()
        self.landscape.raise_()
        return self.landscape

    # --- Sweep -------------------------------------------------------------------------------

    def show_sweep(self) -> Any:
        if self.sweep is None:
            from lrlab.gui.sweep import SweepWindow

            self.sweep = SweepWindow()
            self.sweep.sig_run.connect(self.run_sweep)
            self.sweep.sig_use.connect(lambda data: self._use_found_lr(data, self.sweep))
            self.sweep.sig_compare.connect(self.compare)
            self.sweep.sig_pause.connect(self.controller.toggle_pause)
            self.sweep.sig_stop.connect(self.controller.stop)
            self.sweep.sig_cluster_progress.connect(self._ray_progress)
        self.sweep.show()
        self.sweep.raise_()
        return self.sweep

    def run_sweep(self, lrs: list, seeds: int) -> bool:
        """Train the form's experiment at every LR in ``lrs`` (x ``seeds`` seeds) at once."""
        spec = self.experiment.validate()
        if spec is None or self.controller.state.busy:
            return False
        self.show_sweep()
        self.sweep.begin(spec, lrs, seeds)
        address = self.sweep.cluster_address()
        if address is not None:
            return self._run_sweep_on_ray(spec, lrs, seeds, address)
        from lrlab.core.runs import seed_list

        self.controller.start(spec, kind="sweep", lrs=lrs, seeds=seed_list(spec.seed, seeds))
        return True

    # --- Batch size x LR -----------------------------------------------------------------------

    def show_grid(self) -> Any:
        if self.grid is None:
            from lrlab.gui.grid import GridWindow

            self.grid = GridWindow()
            self.grid.sig_run.connect(self.run_grid)
            self.grid.sig_use.connect(self._use_found_lr)
            self.grid.sig_compare.connect(self.compare)
            self.grid.sig_open.connect(self.open_session)
            self.grid.sig_pause.connect(self.controller.toggle_pause)
            self.grid.sig_stop.connect(self.controller.stop)
        self.grid.show()
        self.grid.raise_()
        return self.grid

    def run_grid(self, options: dict) -> bool:
        """Train the form's experiment at every LR and batch size of ``options`` (the grid window's)."""
        spec = self.experiment.validate()
        if spec is None or self.controller.state.busy:
            return False
        from lrlab.core.runs import seed_list

        self.show_grid()
        self.grid.begin(spec, options["lrs"], options["batch_sizes"], options["seeds"], options["best"],
                        options.get("target"))
        return self.controller.start(spec, kind="grid", lrs=options["lrs"], batch_sizes=options["batch_sizes"],
                                     budget=options["budget"], best=options["best"], target=options.get("target"),
                                     seeds=seed_list(spec.seed, options["seeds"]))

    def _run_sweep_on_ray(self, spec: Any, lrs: list, seeds: int, address: str) -> bool:
        """The members as Ray tasks (:mod:`lrlab.core.runs.cluster`), in a thread of their own: each
        chunk's results land on the U-curve as they come back; Stop cancels what is still out."""
        from lrlab.core.decl import paths
        from lrlab.core.runs import unique_path
        from lrlab.core.runs.sweep import folder_name
        from lrlab.gui.worker import ClusterSweepWorker, start_in_thread

        folder = unique_path(paths.sessions_dir() / folder_name(spec, sorted(lrs), len(lrs) * seeds))
        worker = ClusterSweepWorker(spec, lrs, seeds, address or None, str(folder))
        sweep = self.sweep
        # slots of the window (a QObject in this thread): Qt queues the worker's signals to them
        worker.sig_rows.connect(sweep.add_rows)
        worker.sig_failures.connect(sweep.set_cluster_failures)
        worker.sig_finished.connect(sweep.cluster_finished)
        worker.sig_failed.connect(sweep.cluster_failed)
        sweep.sig_stop.connect(worker.stop)
        # the main window tells how far the cluster has got, as it does for a run of its own (the
        # Sweep window's signal, from the GUI thread: never a callable run in the worker's thread)
        total = len(lrs) * seeds
        self._ray_progress(0, total)
        self._ray_worker, self._ray_thread = worker, start_in_thread(worker)  # kept alive while it runs
        where = address or "(RAY_ADDRESS or local)"
        sweep.status.setText(f"sending {total} members to Ray {where}…")
        self.status.setText(f"sweep on Ray {where}: {total} members sent…")
        return True

    def _ray_progress(self, back: int, total: int, ended: str = "") -> None:
        """The main window's progress bar and status line for a sweep on Ray (it runs outside
        the run controller: the window's own runs stay free meanwhile, and while one of them
        trains the bar and line are its own; the Sweep window still counts the members)."""
        if self.controller.state.busy:
            return
        self.progress.setRange(0, total)  # again: a run of the window's own may have set its own
        self.progress.setValue(back)
        self.status.setText(f"sweep on Ray {ended}" if ended else f"sweep on Ray: {back} of {total} members back")

    # --- Population (PBT) ------------------------------------------------------------------------

    def show_pbt(self) -> Any:
        if self.pbt is None:
            from lrlab.gui.pbt import PBTWindow

            self.pbt = PBTWindow()
            self.pbt.sig_run.connect(self.run_pbt)
            self.pbt.sig_use.connect(self._use_schedule)
            self.pbt.sig_transfer.connect(self.train_from_scratch)
            self.pbt.sig_compare.connect(self.compare)
            self.pbt.sig_pause.connect(self.controller.toggle_pause)
            self.pbt.sig_stop.connect(self.controller.stop)
        self.pbt.spec = self.experiment.validate()
        self.pbt.show()
        self.pbt.raise_()
        return self.pbt

    def run_pbt(self, settings: dict) -> bool:
        """Train the form's experiment as a population with ``settings`` (the window's)."""
        from lrlab.core.runs.pbt import initial_lrs

        spec = self.experiment.validate()
        if spec is None or self.controller.state.busy:
            return False
        self.show_pbt()
        if self.pbt.check(spec) is None:  # an interval longer than this run: said in the window
            return False
        self.pbt.begin(spec, initial_lrs(spec.lr, settings["population"]))
        return self.controller.start(spec, kind="pbt", **settings)

    def _use_schedule(self, data: dict) -> None:
        self.experiment.set_json(data)
        self.status.setText("the population's discovered schedule is in the Experiment form; press Start to train "
                            "with it")

    def train_from_scratch(self, data: dict, winner: str) -> bool:
        """"Does the discovered schedule transfer?": train it as one run; when it ends, the compare
        view opens with it and the winner."""
        from lrlab.core.decl.spec import RunSpec

        if self.controller.state.busy:
            return False
        self._transfer_of = winner
        return self.controller.start(RunSpec.from_json(data), label="pbt-winner-from-scratch")

    def _compare_transfer(self, status: str, path: str) -> None:
        winner, self._transfer_of = self._transfer_of, None
        if winner is not None and path:
            self.compare([winner, path])

    def close(self) -> None:
        """The main window closes: a sweep on Ray cancels what is still out and is waited for."""
        if self._ray_thread is not None and self._ray_thread.isRunning():
            self._ray_worker.stop()
            self._ray_thread.wait(10_000)
        if self.autotune is not None:  # a showdown stops its run in progress and is waited for
            self.autotune.stop()
            self.autotune.wait(10_000)

    def _use_found_lr(self, data: dict, tool: Any = None) -> None:
        """Put a found LR into the form, and say so in the tool's window (where the click was)
        and the main status line; the main window's plots keep its last run."""
        self.experiment.set_json(data)
        text = (f"LR {data['optimizer']['lr']:.4g} is in the Experiment form; press Start in the main window "
                "to train with it")
        self.status.setStyleSheet("")
        self.status.setText(text)
        if tool is not None:
            tool.confirm(text)
