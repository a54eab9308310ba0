"""Every file lrlab writes appears whole or not at all (lrlab.core.files.replaced)."""

from __future__ import annotations

import pytest

from lrlab.core.files import NameTaken, replaced, write_bytes, write_text


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
