"""Every file lrlab writes appears whole or not at all (lrlab.core.decl.files.replaced)."""

from __future__ import annotations

import os

import pytest

from lrlab.core.decl.files import NameTaken, read_text, replaced, write_bytes, write_text


def test_a_file_takes_its_name_only_when_it_is_complete(tmp_path):
    out = tmp_path / "settings.json"
    write_text(out, "old")
    with pytest.raises(RuntimeError), replaced(out) as tmp:
        tmp.write_text("half of the new", encoding="utf-8")
        assert out.read_text() == "old"  # a reader meanwhile sees the old file, whole
        raise RuntimeError("the writer crashed")
    assert out.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]
    write_text(out, "new")
    assert out.read_text() == "new" and len(list(tmp_path.iterdir())) == 1


def test_without_overwrite_a_taken_name_is_refused_and_kept(tmp_path):
    out = tmp_path / "run.lrlab"
    write_bytes(out, b"first", overwrite=False)
    with pytest.raises(NameTaken):
        write_bytes(out, b"second", overwrite=False)
    assert out.read_bytes() == b"first" and len(list(tmp_path.iterdir())) == 1


def test_a_folder_appears_whole_and_a_failed_one_leaves_nothing(tmp_path):
    run_dir = tmp_path / "tb" / "run"
    run_dir.parent.mkdir()
    with pytest.raises(OSError), replaced(run_dir) as tmp:
        tmp.mkdir()
        (tmp / "events").write_text("x")
        raise OSError(28, "No space left on device")
    assert list(run_dir.parent.iterdir()) == []
    with replaced(run_dir) as tmp:
        tmp.mkdir()
        (tmp / "events").write_text("x")
    assert (run_dir / "events").read_text() == "x" and len(list(run_dir.parent.iterdir())) == 1


def test_small_files_are_read_only_when_regular_and_bounded(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text('{"epochs": 1}')
    assert read_text(spec) == '{"epochs": 1}'
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # nobody writes: an ordinary open would wait forever
    with pytest.raises(ValueError, match=r"not a regular file \(a FIFO\)"):
        read_text(fifo)
    with pytest.raises(ValueError, match=r"not a regular file \(a device\)"):
        read_text("/dev/zero")  # endless
    with pytest.raises(ValueError, match="not a regular file"):
        read_text(tmp_path)
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 1_000_001)
    with pytest.raises(ValueError, match=r"too large \(1,000,001 bytes; at most 1,000,000\)"):
        read_text(big)


def test_an_export_never_replaces_a_device_or_its_own_input(tmp_path):
    """As root, a rename onto /dev/null replaced the device with a file; `lrlab export run.lrlab
    --csv run.lrlab` replaced the session with its CSV. Both are refused, by inode, whatever the
    path's spelling."""
    from lrlab.cli import main
    from lrlab.core.decl.files import ExportError, check_output
    from lrlab.core.decl.spec import RunSpec
    from lrlab.core.runs import RecordedRun

    run = RecordedRun(RunSpec.from_json({"dataset": {"name": "iris"}, "epochs": 1}), tmp_path / "run.lrlab")
    run.run()
    before = run.path.read_bytes()
    alias = tmp_path / "alias.lrlab"
    os.link(run.path, alias)
    for target in (run.path, alias, tmp_path / "." / "run.lrlab"):
        with pytest.raises(ExportError, match="it is the input"):
            check_output(target, [run.path])
        assert main(["export", str(run.path), "--csv", str(target)]) == 2
    assert run.path.read_bytes() == before
    with pytest.raises(ExportError, match="it exists and is a device"):
        check_output("/dev/null")
    fifo = tmp_path / "pipe.csv"  # a special file of the test's own, so a regression harms no real device
    os.mkfifo(fifo)
    assert main(["export", str(run.path), "--csv", str(fifo)]) == 2
    assert fifo.exists() and not fifo.is_file()
    assert main(["export", str(run.path), "--csv", str(tmp_path / "steps.csv")]) == 0
