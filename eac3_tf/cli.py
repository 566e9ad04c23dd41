"""What every eac3_tf command line shares: flag parsing and one-line errors with exit code 2."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

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
    except KeyboardInterrupt:
        _fail(prog, "interrupted", code=130)
    sys.exit(code or 0)


def _fail(prog: str, message: str, code: int = EXIT_USAGE) -> None:
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)
