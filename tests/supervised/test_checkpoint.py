import json

import numpy as np
import pytest

from sige_rl.supervised.checkpoint import CheckpointError, atomic_dir, load_state, save_state


def test_round_trip(tmp_path):
    arrays = {"q": np.arange(12.0).reshape(3, 4), "visits": np.ones((3, 4), dtype=np.int64)}
    save_state(tmp_path / "ck", {"step": 7, "rng": {"state": 2**100}}, arrays)
    meta, loaded = load_state(tmp_path / "ck")
    assert meta == {"step": 7, "rng": {"state": 2**100}}
    for k in arrays:
        np.testing.assert_array_equal(loaded[k], arrays[k])
        assert loaded[k].dtype == arrays[k].dtype


def test_failed_write_leaves_previous_checkpoint(tmp_path):
    save_state(tmp_path / "ck", {"v": 1}, {"a": np.zeros(2)})
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "ck") as tmp:
        (tmp / "meta.json").write_text("{}")
        raise RuntimeError("killed mid-write")
    assert load_state(tmp_path / "ck")[0] == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]  # no temporary folder left


def test_overwrite_replaces_whole_folder(tmp_path):
    save_state(tmp_path / "ck", {"v": 1}, {"a": np.zeros(2)})
    save_state(tmp_path / "ck", {"v": 2}, {"b": np.ones(3)})
    meta, arrays = load_state(tmp_path / "ck")
    assert meta == {"v": 2} and list(arrays) == ["b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_truncated_arrays_refused(tmp_path):
    save_state(tmp_path / "ck", {"v": 1}, {"a": np.arange(1000.0)})
    f = tmp_path / "ck" / "arrays.npz"
    f.write_bytes(f.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        load_state(tmp_path / "ck")


def test_corrupted_meta_refused(tmp_path):
    save_state(tmp_path / "ck", {"v": 1}, {"a": np.zeros(1)})
    (tmp_path / "ck" / "meta.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="meta.json is corrupted"):
        load_state(tmp_path / "ck")


def test_missing_files_refused(tmp_path):
    (tmp_path / "ck").mkdir()
    with pytest.raises(CheckpointError, match="meta.json is missing"):
        load_state(tmp_path / "ck")


def test_pickled_object_array_is_never_unpickled(tmp_path):
    """An npz holding a pickled object array (which could run code) is refused."""
    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "meta.json").write_text(json.dumps({"v": 1}))
    np.savez(tmp_path / "ck" / "arrays.npz", evil=np.array([{"x": 1}], dtype=object))
    with pytest.raises(CheckpointError):
        load_state(tmp_path / "ck")


def test_saved_folder_is_as_readable_as_any_other(tmp_path):
    """The temporary folder that becomes the checkpoint gets the umask's permissions, not
    mkdtemp's private 0700: a saved agent can be shared like the rest of the run."""
    import os

    old = os.umask(0o022)
    try:
        save_state(tmp_path / "ck", {"v": 1}, {"a": np.zeros(2)})
        (tmp_path / "plain").mkdir()
    finally:
        os.umask(old)
    assert (tmp_path / "ck").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "ck").stat().st_mode == (tmp_path / "plain").stat().st_mode
