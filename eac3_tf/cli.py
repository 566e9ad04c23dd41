"""What every eac3_tf command line shares: flag parsing and one-line errors with exit code 2."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path

EXIT_USAGE = 2


class UsageError(ValueError):
    """A bad argument: reported as one line on stderr, exit code 2."""


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ start-up chatter out of the progress output."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "2")


def import_tensorflow_quietly():
    """Import TensorFlow with its C++ start-up log lines (oneDNN notice etc.) kept off stderr.

    TF_CPP_MIN_LOG_LEVEL no longer silences them in TF 2.21, and they would bury the one-line errors
    and progress that users read. Python exceptions raised by the import still surface normally.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras  # noqa: F401  (loads TensorFlow as its backend)
        import tensorflow as tf
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tf


def run(main: Callable[[], int | None], define_flags: Callable[[], None] | None = None,
        argv: list[str] | None = None) -> None:
    """Define and parse absl flags from `argv` and call `main`; bad input exits 2 with a single line on stderr.

    Every eac3_tf command line's `__main__` is this one call, so they all quiet TensorFlow and report
    errors the same way.
    """
    from absl import flags

    quiet_tensorflow()
    if define_flags is not None:
        define_flags()

    from eac3_tf.checkpoint import CheckpointError

    argv = sys.argv if argv is None else argv
    prog = os.path.basename(argv[0]) if argv else "eac3_tf"
    if any(a in ("-h", "--help", "--helpshort", "--helpfull") for a in argv[1:]):
        print(flags.FLAGS.main_module_help() or flags.FLAGS.get_help())
        sys.exit(0)
    try:
        rest = flags.FLAGS(argv)
        if len(rest) > 1:
            raise UsageError(f"unexpected positional arguments {rest[1:]}; all options are --flags (see --help)")
        code = main()
    except flags.Error as exc:
        _fail(prog, str(exc).splitlines()[0])
    except (UsageError, CheckpointError) as exc:
        _fail(prog, str(exc))
    except OSError as exc:  # disk full, a path under a file, no permission: the environment, not a bug
        _fail(prog, os_error_line(exc))
    except KeyboardInterrupt:
        _fail(prog, "interrupted", code=130)
    sys.exit(code or 0)


def guard(main: Callable[[], int | None], prog: str) -> None:
    """Call an argparse tool's `main`; bad input exits 2 with one line on stderr (as `run` does for absl ones)."""
    quiet_tensorflow()
    from eac3_tf.checkpoint import CheckpointError

    try:
        code = main()
    except (UsageError, CheckpointError) as exc:
        _fail(prog, str(exc))
    except OSError as exc:
        _fail(prog, os_error_line(exc))
    except KeyboardInterrupt:
        _fail(prog, "interrupted", code=130)
    sys.exit(code or 0)


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors raise UsageError: one line on stderr, not a usage block (use with `guard`)."""

    def error(self, message: str) -> None:  # noqa: D102
        raise UsageError(f"{message} (see --help)")


def os_error_line(exc: OSError) -> str:
    """One line for an OSError: what could not be written or read, why, and what to do."""
    if exc.errno == errno.ENOSPC:
        where = f" writing {exc.filename}" if exc.filename else ""
        return (f"no space left on the device{where}; free some space and run again "
                "(files saved earlier are intact; a training run continues with --resume)")
    where = f" {exc.filename}" if exc.filename else " a file"
    return f"cannot use{where}: {exc.strerror or exc}; give a path in a folder that exists and is writable"


def check_output_folder(folder: str | Path, flag: str) -> None:
    """Raise UsageError unless `folder` is, or can be created as, a writable folder (checked before any work)."""
    folder = Path(folder)
    p = folder
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    if not p.is_dir():
        raise UsageError(f"{flag} {folder} cannot be created: {p} is a file, not a folder; "
                         "give a path in a writable folder")
    if not os.access(p, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {folder} cannot be written: {p} is not writable; give a path in a writable folder")


def _fail(prog: str, message: str, code: int = EXIT_USAGE) -> None:
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)
