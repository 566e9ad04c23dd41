"""Checkpoints: atomic save, checksummed manifest, newest-valid restore, one-line errors.

A checkpoint is a folder `ckpt-<frames>` holding `model.keras` (loaded with Keras safe_mode),
`optimizer.npz` (plain arrays, loaded without pickle), `state.json` (counters, RNG states, config)
and `manifest.json` (sha256 of each file). It is written under a temporary name and renamed into
place, so a folder with the final name is always complete; the manifest is checked on load.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eac3_tf.errors import Eac3Error

CKPT_DIR = "checkpoints"
_NAME = re.compile(r"^ckpt-(\d{12})$")
_LEFTOVER = re.compile(r"^\.ckpt-\d{12}\..*\.(tmp|del)$")  # a save or a removal a killed process left behind
FILES = ("model.keras", "optimizer.npz", "state.json")


class CheckpointError(Eac3Error):
    """A checkpoint is missing, incomplete or damaged."""


@dataclass
class Checkpoint:
    """A loaded checkpoint."""

    path: Path
    model: object  # keras.Model
    optimizer: list[np.ndarray]
    state: dict


def sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(root: Path, model, optimizer_vars: list[np.ndarray], state: dict, keep: int) -> Path:
    """Write checkpoint `root/checkpoints/ckpt-<frames>` atomically; keep the newest `keep`."""
    ckpt_root = Path(root) / CKPT_DIR
    ckpt_root.mkdir(parents=True, exist_ok=True)
    final = ckpt_root / f"ckpt-{int(state['frames']):012d}"
    tmp = Path(tempfile.mkdtemp(dir=ckpt_root, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        model.save(tmp / "model.keras")
        with open(tmp / "optimizer.npz", "wb") as f:
            np.savez(f, *optimizer_vars)
        with open(tmp / "state.json", "w") as f:
            json.dump(state, f, indent=2, sort_keys=True)
        manifest = {name: {"sha256": sha256(tmp / name), "bytes": (tmp / name).stat().st_size} for name in FILES}
        with open(tmp / "manifest.json", "w") as f:
            json.dump(manifest, f, indent=2, sort_keys=True)
        for name in (*FILES, "manifest.json"):
            with open(tmp / name, "rb") as f:
                os.fsync(f.fileno())
        if final.exists() and _verifies(final):
            # The same frame count saved twice (e.g. a stop right after a periodic save): no update was applied
            # in between, so the weights are the same; keep the one on disk rather than delete it first.
            shutil.rmtree(tmp)
        else:
            if final.exists():  # damaged: move it aside in one rename, so no moment lacks a complete folder
                _remove(final)
            os.rename(tmp, final)
        _fsync_dir(ckpt_root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in list_checkpoints(root)[:-keep]:
        _remove(old)
    for leftover in ckpt_root.iterdir():  # from a process killed mid-save or mid-removal (only one trainer per run)
        if _LEFTOVER.match(leftover.name) and leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
    return final


def _remove(folder: Path) -> None:
    """Delete a checkpoint folder crash-safely: one rename to a hidden name, then the slow removal.

    A kill mid-removal so never leaves a half-deleted folder under a checkpoint's name.
    """
    aside = folder.with_name(f".{folder.name}.{os.getpid()}.del")
    try:
        os.rename(folder, aside)
    except OSError:
        return
    shutil.rmtree(aside, ignore_errors=True)


def _verifies(path: Path) -> bool:
    try:
        verify(path)
    except CheckpointError:
        return False
    return True


def list_checkpoints(root: Path) -> list[Path]:
    """Completed checkpoint folders under `root`, oldest first (temp folders are never listed)."""
    ckpt_root = Path(root) / CKPT_DIR
    if not ckpt_root.is_dir():
        return []
    return sorted(p for p in ckpt_root.iterdir() if p.is_dir() and _NAME.match(p.name))


def verify(path: Path) -> dict:
    """Check the manifest's checksums; return `state.json`, or raise CheckpointError."""
    path = Path(path)
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise CheckpointError(f"checkpoint {path} is incomplete: no manifest.json")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} has an unreadable manifest.json ({exc})") from None
    for name in FILES:
        entry = manifest.get(name) if isinstance(manifest, dict) else None
        file = path / name
        if not isinstance(entry, dict) or not file.is_file():
            raise CheckpointError(f"checkpoint {path} is incomplete: {name} is missing")
        if sha256(file) != entry.get("sha256"):
            raise CheckpointError(f"checkpoint {path} is damaged: {name} does not match its sha256 in manifest.json")
    try:
        return json.loads((path / "state.json").read_text())
    except ValueError as exc:
        raise CheckpointError(f"checkpoint {path} has an unreadable state.json ({exc})") from None


def verify_agent(path: Path) -> dict:
    """`verify` plus: the checkpoint holds an agent of an ALE game with a known preset; return its state."""
    from eac3_tf.config import PRESETS

    state = verify(path)
    meta = state.get("meta", {})
    if meta.get("preset") not in PRESETS or not isinstance(meta.get("env"), dict):
        raise CheckpointError(f"checkpoint {path} was not trained on an ALE game with a known preset "
                              f"(preset {meta.get('preset')!r}); accepted: {', '.join(PRESETS)}")
    return state


def resolve(path: str | Path) -> Path:
    """Turn a run folder, a folder of ckpt-* folders, a ckpt-* folder or its `model.keras` into a checkpoint folder.

    A folder of ckpt-* folders is how results/ keeps runs; the newest of several is taken.
    """
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"checkpoint {p} does not exist; give a run logdir, a ckpt-* folder or its model.keras")
    if p.is_file():
        if p.name != "model.keras":
            raise CheckpointError(f"{p} is not a checkpoint; give a run logdir, a ckpt-* folder or its model.keras")
        return p.parent
    if (p / "manifest.json").exists() or (p / "model.keras").exists():
        return p
    found = list_checkpoints(p) or sorted(c for c in p.iterdir() if c.is_dir() and _NAME.match(c.name))
    if not found:
        raise CheckpointError(f"no checkpoint in {p}; give a run logdir, a ckpt-* folder or its model.keras")
    return found[-1]


def load(path: Path, with_optimizer: bool = True) -> Checkpoint:
    """Verify and load one checkpoint folder; the model is loaded with Keras safe_mode."""
    path = Path(path)
    state = verify(path)
    import keras
    try:
        model = keras.models.load_model(path / "model.keras", compile=False, safe_mode=True)
    except Exception as exc:  # keras raises many types for a bad archive
        raise CheckpointError(f"checkpoint {path}: model.keras does not load ({type(exc).__name__})") from None
    optimizer: list[np.ndarray] = []
    if with_optimizer:
        try:
            with np.load(path / "optimizer.npz", allow_pickle=False) as npz:
                optimizer = [npz[f"arr_{i}"] for i in range(len(npz.files))]
        except Exception as exc:
            raise CheckpointError(f"checkpoint {path}: optimizer.npz does not load ({type(exc).__name__})") from None
    return Checkpoint(path, model, optimizer, state)


def latest_valid(root: Path, warn=print) -> Checkpoint | None:
    """Load the newest checkpoint under `root` that verifies, saying which damaged ones were skipped."""
    for path in reversed(list_checkpoints(root)):
        try:
            return load(path)
        except CheckpointError as exc:
            warn(f"skipping damaged checkpoint: {exc}")
    return None
