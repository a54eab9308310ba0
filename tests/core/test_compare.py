"""Comparing sessions: alignment, smoothing, colours, differences, targets, CSV, CLI and GUI."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import datetime
from types import SimpleNamespace

import numpy as np
import pytest
from compare_runs import BASE

from lrlab.cli import main
from lrlab.core.decl.names import session_stem
from lrlab.core.decl.spec import RunSpec
from lrlab.core.features.compare import (
    PALETTE,
    Target,
    assign_colours,
    contrast_ratio,
    differences,
    format_differences,
    open_runs,
    palette,
    short_labels,
    summary,
    write_long_csv,
)
from lrlab.core.storage.library import Library
from lrlab.core.storage.session import default_name


def test_alignment_on_each_x_axis(sessions):
    good, big = open_runs([sessions["good"], sessions["big-batch"]])
    for run, per_epoch, batch in ((good, 8, 16), (big, 2, 60)):
        x, y = run.series("train_loss", "step")
        assert x.tolist() == list(range(len(y)))
        xe, _ = run.series("train_loss", "epoch")
        np.testing.assert_allclose(xe, x / per_epoch)
        xs, _ = run.series("train_loss", "samples")
        assert xs[0] == batch and xs[per_epoch - 1] == 120  # one epoch of 120 training samples
        xw, _ = run.series("train_loss", "wall")
        assert (np.diff(xw) >= 0).all() and xw[-1] == pytest.approx(run.summary["wall_time"])
    # after one epoch both have seen the same samples although at different steps
    assert good.series("train_loss", "samples")[0][7] == big.series("train_loss", "samples")[0][1] == 120


def test_smoothing_matches_reference_and_never_touches_the_lr(sessions):
    (run,) = open_runs([sessions["big-batch"]])
    _, raw = run.series("train_loss", "step", 0.0)
    _, smooth = run.series("train_loss", "step", 0.8)
    ref, m = [], 0.0
    for t, v in enumerate(raw):
        m = 0.8 * m + 0.2 * v
        ref.append(m / (1 - 0.8 ** (t + 1)))
    np.testing.assert_allclose(smooth, ref, rtol=1e-12)
    assert np.array_equal(run.series("lr", "step", 0.9)[1], run.series("lr", "step", 0.0)[1])


def test_colours_are_stable_and_distinct(sessions):
    first = {r.name: r.colour for r in open_runs(sessions.values())}
    again = {r.name: r.colour for r in open_runs(list(sessions.values())[::-1])}
    assert first == again
    assert len(set(first.values())) == len(first) and set(first.values()) <= set(PALETTE)


def test_two_runs_get_the_first_two_colours_in_the_order_they_were_made(sessions):
    pair = [sessions["good"], sessions["slow"]]
    runs = open_runs(pair)
    assert sorted(r.colour for r in runs) == sorted(PALETTE[:2]) == sorted(["#0072B2", "#D55E00"])
    assert {r.name: r.colour for r in open_runs(pair[::-1])} == {r.name: r.colour for r in runs}
    earlier = min(runs, key=lambda r: r.identity)  # made first (or, in the same second, by seed, spec, file)
    assert earlier.colour == PALETTE[0]
    assign_colours(runs, dark=True)
    assert {r.colour for r in runs} == set(palette(dark=True)[:2])


def wcag_contrast(a, b):
    """WCAG 2.x contrast ratio, written out here independently of the code under test."""
    def luminance(hex_colour):
        rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("dark, backgrounds", [(False, ("#FFFFFF", "#EFEFEF")),
                                               (True, ("#1E1E1E", "#2B2B2B", "#353535"))])
def test_every_colour_stands_out_from_its_background(dark, backgrounds):
    colours = palette(dark)
    assert len(colours) == len(set(colours)) == 12  # twelve runs, twelve colours (issue 29)
    for bg in backgrounds:
        for c in colours:
            assert wcag_contrast(c, bg) >= 3.0, f"{c} on {bg}: {wcag_contrast(c, bg):.2f}"
            assert contrast_ratio(c, bg) == pytest.approx(wcag_contrast(c, bg))
    assert wcag_contrast("#F0E442", "#FFFFFF") < 1.5 and "#F0E442" not in palette(False)  # the old yellow
    assert contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21.0)


def test_differences_table(sessions):
    runs = open_runs([sessions["good"], sessions["slow"], sessions["big-batch"]])
    rows = {d.field: d for d in differences(runs)}
    assert rows["optimizer.lr"].differs and rows["optimizer.lr"].values == [0.1, 0.001, 0.1]
    assert rows["batch_size"].values == [16, 16, 60] and rows["schedule.kind"].differs
    assert rows["schedule.T_max"].values == [None, None, 60]
    assert not rows["seed"].differs and not rows["dataset.name"].differs
    assert not [f for f in rows if f.startswith("environment.")]  # same machine: not listed


def test_mid_run_edits_and_plateau_reductions_are_part_of_what_differs(sessions, capsys):
    good, held, plateau = open_runs([sessions["good"], sessions["held"], sessions["plateau"]])
    rows = {d.field: d for d in differences([good, held])}
    assert rows["edits"].differs and rows["edits"].values == ["none", "step 100: hold LR 0.5"]
    assert [f for f, d in rows.items() if d.differs] == ["edits"]  # the specs are the same
    text = format_differences(differences([good, held]), ["good", "held"])
    assert "no differences" not in text and "step 100: hold LR 0.5" in text.splitlines()[2]
    cuts = differences([good, plateau])[-1]
    assert cuts.field == "plateau reductions" and cuts.values[0] == "none"
    assert cuts.values[1].startswith("step ") and "(val_loss)" in cuts.values[1]
    assert "edits" not in {d.field for d in differences([good, plateau])}  # neither run has any
    assert format_differences(differences([good, good]), ["a", "b"]) == (
        "no differences in the run specs, mid-run edits or environments")
    assert main(["compare", str(sessions["good"]), str(sessions["held"]), "--target", ""]) == 0
    assert "edits  none  step 100: hold LR 0.5" in capsys.readouterr().out


def stand_in(name, spec, events=()):
    """What short_labels reads from a Run, without a file."""
    return SimpleNamespace(name=name, spec_json=RunSpec.from_json(spec).to_json(), events=list(events))


def test_legends_show_what_differs(sessions):
    good, slow, big, held = open_runs([sessions[n] for n in ("good", "slow", "big-batch", "held")])
    assert short_labels([good, slow]) == ["lr 0.1", "lr 0.001"]
    assert short_labels([good, big]) == ["schedule constant, batch 16", "schedule cosine, batch 60"]
    assert short_labels([good, held]) == ["no edits", "edits step 100: hold LR 0.5"]
    assert short_labels([good, good]) == ["good", "good"]  # nothing differs: the names
    adam = stand_in("a", dict(BASE, optimizer={"name": "adam", "lr": 0.001}))
    sgd = stand_in("b", BASE)
    assert short_labels([adam, sgd]) == ["optimizer adam, lr 0.001", "optimizer sgd, lr 0.1"]
    seeds = [stand_in(n, dict(BASE, seed=i, epochs=5 * i, batch_size=8 * i, model={"kind": "mlp", "hidden": [i]}))
             for n, i in (("x", 1), ("y", 2))]
    assert short_labels(seeds) == ["batch 8, hidden [1], epochs 5, …", "batch 16, hidden [2], epochs 10, …"]


def test_cli_summary_names_runs_by_what_differs(sessions, capsys):
    assert main(["compare", str(sessions["good"]), str(sessions["slow"]), "--target", ""]) == 0
    table = capsys.readouterr().out.split("\n\n")[0].splitlines()
    assert table[0].startswith("run ") and table[0].endswith("session")
    assert table[2].startswith("lr 0.1 ") and table[2].endswith("  good")
    assert table[3].startswith("lr 0.001 ") and table[3].endswith("  slow")


def test_session_names_follow_the_preset_or_the_main_settings():
    now = datetime(2026, 11, 23, 19, 30, 5)
    spec = RunSpec.from_json({"dataset": {"name": "digits"}, "optimizer": {"name": "sgd", "lr": 0.1},
                              "schedule": {"kind": "cosine", "T_max": "run"}})
    assert session_stem(spec, now=now) == "20261123-1930-digits-sgd-lr0.1-cosine"
    assert session_stem(spec, "lr-too-high", now=now) == "20261123-1930-lr-too-high"
    plain = RunSpec.from_json({"dataset": {"name": "digits"}, "model": {"kind": "cnn"}, "batch_size": 256,
                               "optimizer": {"name": "adam", "lr": 3e-4}})
    assert session_stem(plain, now=now) == "20261123-1930-digits-cnn-adam-lr0.0003-batch256"
    assert default_name(spec).endswith("-digits-sgd-lr0.1-cosine.lrlab")


def test_summary_with_a_target(sessions):
    runs = open_runs([sessions["good"], sessions["slow"], sessions["too-high"]])
    rows = {r.name: r for r in summary(runs, Target.parse("val_metric >= 90%"))}
    assert rows["good"].target_step is not None and rows["slow"].target_step is None
    assert rows["too-high"].status.startswith("diverged at step ")
    assert rows["good"].target_wall > 0
    loss_rows = {r.name: r for r in summary(runs, Target.parse("train_loss<=0.3"))}
    _, loss = runs[0].series("train_loss")
    assert loss_rows["good"].target_step == int(np.flatnonzero(loss <= 0.3)[0])
    with pytest.raises(ValueError, match="target: expected"):
        Target.parse("accuracy > 1")


def test_a_target_is_reached_at_the_value_the_table_shows():
    accuracy = np.array([0.9, 342 / 360, 0.96])  # 342/360 is stored as 0.9499999999999999
    assert format(accuracy[1], ".4g") == "0.95"
    assert Target.parse("val_metric >= 0.95").reached(accuracy).tolist() == [False, True, True]
    assert Target.parse("val_metric>=95%").reached(accuracy).tolist() == [False, True, True]
    assert Target.parse("val_metric > 0.95").reached(accuracy).tolist() == [False, False, True]
    loss = np.array([0.3, 0.1 + 0.2, 0.29])  # 0.30000000000000004
    assert Target.parse("train_loss <= 0.3").reached(loss).tolist() == [True, True, True]
    assert Target.parse("train_loss < 0.3").reached(loss).tolist() == [False, False, True]
    assert Target.parse("val_metric >= 0.95").reached(np.array([0.9499, np.nan])).tolist() == [False, False]


def test_long_form_csv(sessions, tmp_path):
    runs = open_runs([sessions["good"], sessions["slow"]])
    out = tmp_path / "all.csv"
    n = write_long_csv(runs, out)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == n and list(rows[0]) == ["session", "step", "metric", "value"]
    good_lr = [r for r in rows if r["session"] == "good" and r["metric"] == "lr"]
    assert len(good_lr) == 240 and float(good_lr[0]["value"]) == 0.1
    assert {r["metric"] for r in rows} == {"train_loss", "val_loss", "val_metric", "lr", "grad_norm", "update_ratio",
                                           "noise_scale",
                                           *(f"effective_lr_{q}" for q in ("p5", "p25", "p50", "p75", "p95"))}


def test_cli_compare_rejects_damaged_input(sessions, tmp_path):
    bad = tmp_path / "bad.lrlab"
    bad.write_bytes(b"\x00" * 300)
    proc = subprocess.run([sys.executable, "-m", "lrlab", "compare", str(sessions["good"]), str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == f"lrlab: error: {bad}: not an lrlab session (not an SQLite database)\n"


def test_library_index_reads_only_changed_files(sessions, tmp_path):
    lib = Library([next(iter(sessions.values())).parent], tmp_path / "index.json")
    entries = lib.refresh()
    assert {e.name for e in entries} >= set(sessions) and lib.reads >= 4
    again = Library([next(iter(sessions.values())).parent], tmp_path / "index.json")
    assert [e.name for e in again.refresh()] == [e.name for e in entries] and again.reads == 0
    row = next(e for e in entries if e.name == "slow")
    assert (row.optimizer, row.lr, row.batch_size, row.status) == ("sgd", 0.001, 16, "finished")
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["version"] == 1 and len(index["entries"]) == len(entries)


def test_library_rename_refuses_to_overwrite(sessions, tmp_path):
    import shutil

    a, b = tmp_path / "a.lrlab", tmp_path / "b.lrlab"
    shutil.copy(sessions["good"], a)
    shutil.copy(sessions["slow"], b)
    lib = Library([tmp_path], tmp_path / "i.json")
    with pytest.raises(ValueError, match="already exists"):
        lib.rename(a, "b")
    assert lib.rename(a, "renamed").name == "renamed.lrlab"
    assert {e.name for e in lib.refresh()} == {"renamed", "b"}


# --- the compare view ----------------------------------------------------------------------


