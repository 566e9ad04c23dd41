"""Atomic files and folders: what is written appears whole under its name, or not at all.

Every writer goes through a temp file (or folder) in the destination's own folder and one rename, so a
reader, a crash or a kill -9 never leaves half a file behind, and what was there before stays until the
new one is complete. Only the standard library and `eac3_tf.errors` are imported (the TF-free player uses this too).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from eac3_tf.errors import PathError


def write_with(path: str | Path, write: Callable[[str], None]) -> None:
    """Call `write(temp_path)` (e.g. a figure's `savefig`), then rename the result to `path`.

    The temp file keeps `path`'s suffix, so writers that pick a format by extension still do.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix or ".tmp")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    write_with(path, write)


def write_text(path: str | Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, data: Any, indent: int = 2, sort_keys: bool = True) -> None:
    """Write `data` as JSON, ending in a newline, to `path` atomically."""
    write_text(path, json.dumps(data, indent=indent, sort_keys=sort_keys) + "\n")


def finite(x: Any) -> Any:
    """`x` with every NaN and infinity (in dicts, lists and tuples too) made None: strict JSON has no NaN."""
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def write_report(out: str | Path, record: dict, markdown: str, started: float) -> str:
    """Write a tool's OUT.json (the record, with the seconds since `started`) and OUT.md, each atomically.

    Returns the line a tool prints about it. Key order is kept: a report reads top-down.
    """
    import time

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    seconds = time.time() - started
    write_text(out.with_suffix(".json"), json.dumps({**record, "seconds": round(seconds, 1)}, indent=2) + "\n")
    write_text(out.with_suffix(".md"), markdown + "\n")
    return f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')} in {seconds:.0f} s"


def copy_folder(src: str | Path, dest: str | Path) -> None:
    """Copy the folder `src` to `dest`, replacing any folder there only once the copy is complete."""
    src, dest = Path(src), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial"))
    try:
        shutil.copytree(src, tmp, dirs_exist_ok=True)
        replace_folder(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def staged_folder(dest: str | Path) -> Iterator[Path]:
    """A temporary folder beside `dest` to build in; it replaces `dest` (`replace_folder`) when the block ends.

    If the block raises, the temporary folder is removed and `dest` is untouched. The block may raise to
    refuse the move at the last moment (e.g. `dest` appeared while it worked).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))
    try:
        yield tmp
        replace_folder(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_folder(built: str | Path, dest: str | Path) -> None:
    """Move the complete folder `built` (on `dest`'s file system) to `dest`, replacing any folder there.

    An old `dest` is moved aside first and removed after, so at every moment `dest` is either the old
    folder or the new one (or, for an instant, absent), never a half-written mix.
    """
    built, dest = Path(built), Path(dest)
    aside = None
    if dest.exists():
        aside = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".old"))
        os.rename(dest, aside / dest.name)
    os.rename(built, dest)
    fd = os.open(dest.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself survives a power cut
    finally:
        os.close(fd)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def check_output_folder(folder: str | Path, flag: str) -> None:
    """Raise PathError unless `folder` is, or can be created as, a writable folder (checked before any work)."""
    folder = Path(folder)
    p = folder
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    if not p.is_dir():
        raise PathError(f"{flag} {folder} cannot be created: {p} is a file, not a folder; "
                         "give a path in a writable folder")
    if not os.access(p, os.W_OK | os.X_OK):
        raise PathError(f"{flag} {folder} cannot be written: {p} is not writable; give a path in a writable folder")
