"""Atomic, pickle-free checkpoints: a folder of ``.npz`` arrays and JSON, written all or nothing.

A checkpoint is written into a hidden temporary sibling folder and renamed into place only when
every file is flushed, so a crash or a kill leaves either the old state or the new one, never a
half-written folder. Loading never unpickles: ``np.load(..., allow_pickle=False)``, ``json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np


class CheckpointError(ValueError):
    """A checkpoint is missing, truncated, corrupted or does not fit what loads it."""


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``path`` in one rename.

    On an exception the temporary folder is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; a saved agent reads like any folder
    try:
        yield tmp
        _fsync_tree(tmp)
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            path.rename(old)
            tmp.rename(path)
            shutil.rmtree(old)
        else:
            tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_tree(folder: Path) -> None:
    for f in folder.iterdir():
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())


def save_state(
    path: str | os.PathLike,
    meta: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray],
    tensors: Mapping[str, Any] | None = None,
) -> None:
    """Write ``meta.json``, ``arrays.npz`` and, when given, ``tensors.pt`` (a dict of tensors and
    plain containers such as ``state_dict()``s) atomically into the folder ``path``."""
    with atomic_dir(path) as tmp:
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        np.savez(tmp / "arrays.npz", **{k: np.asarray(v) for k, v in arrays.items()})
        if tensors is not None:
            import torch

            torch.save(dict(tensors), tmp / "tensors.pt")


def load_tensors(path: str | os.PathLike, map_location: str = "cpu") -> dict[str, Any]:
    """Read ``tensors.pt`` of a checkpoint with ``weights_only=True``: tensors and plain
    containers only, never arbitrary pickled objects."""
    import torch

    f = Path(path) / "tensors.pt"
    if not f.is_file():
        raise CheckpointError(f"{path} is not a checkpoint: {f.name} is missing")
    try:
        return torch.load(f, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises RuntimeError, UnpicklingError, EOFError ... on bad files
        raise CheckpointError(f"{f} is truncated, corrupted or holds more than tensors: {e}") from e


def load_state(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a folder written by :func:`save_state`; raise :class:`CheckpointError` if it is bad."""
    path = Path(path)
    meta_file, array_file = path / "meta.json", path / "arrays.npz"
    for f in (meta_file, array_file):
        if not f.is_file():
            raise CheckpointError(f"{path} is not a checkpoint: {f.name} is missing")
    try:
        meta = json.loads(meta_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{meta_file} is corrupted: {e}") from e
    if not isinstance(meta, dict):
        raise CheckpointError(f"{meta_file} is corrupted: expected a JSON object")
    try:
        with np.load(array_file, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise CheckpointError(f"{array_file} is truncated or corrupted: {e}") from e
    return meta, arrays
