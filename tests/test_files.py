import os
import stat
from pathlib import Path

import pytest

from napari_xraysep.core import OutputError
from napari_xraysep.io.files import atomic_write


def test_atomic_write_gives_normal_permissions_and_replaces_whole(tmp_path):
    target = tmp_path / "result.txt"
    target.write_text("old")
    atomic_write(target, lambda tmp: Path(tmp).write_text("new"))
    assert target.read_text() == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["result.txt"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "model.pt"
    target.write_text("good model")

    def disk_full(tmp):
        Path(tmp).write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match="Could not write .*model.pt: No space left on device"):
        atomic_write(target, disk_full)
    assert target.read_text() == "good model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_a_missing_folder_is_an_output_error(tmp_path):
    with pytest.raises(OutputError, match="Cannot write .*nowhere"):
        atomic_write(tmp_path / "nowhere" / "x.txt", lambda tmp: None)
