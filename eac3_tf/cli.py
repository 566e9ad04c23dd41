"""The one command-line dialect of eac3_tf: argparse flags, and every user-fixable error as one line with exit 2.

Every command of the package, the tools and the benches defines an `ArgumentParser` and a `main(argv)`, and
its `__main__` is `cli.run(main, prog)`. Library code raises `eac3_tf.errors.Eac3Error`s; only `call` turns
one into the message. TensorFlow-free (the exported player uses it too).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable, Sequence

from eac3_tf.errors import Eac3Error, not_one_of
from eac3_tf.io import check_output_folder  # noqa: F401  (the commands check outputs through cli)

EXIT_USAGE = 2
_TRUE, _FALSE = ("true", "t", "1", "yes", "y"), ("false", "f", "0", "no", "n")


class UsageError(Eac3Error):
    """A bad argument, found by a command line's own checks."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors raise UsageError (one line, not a usage block), with typed values that name the flag.

    Switches read as absl's did (`--force`, `--noforce`, `--force=false`), so every command line written for
    the earlier absl commands keeps working.
    """

    def __init__(self, prog: str, description: str | None = None, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(prog=prog, description=description, **kwargs)

    def error(self, message: str) -> None:  # noqa: D102
        raise UsageError(f"{message} (see --help)")

    def add_argument(self, *names, **kwargs):  # noqa: D102
        flag = next((n for n in names if n.startswith("--")), names[0])
        choices = kwargs.pop("choices", None)
        if choices is not None:
            kwargs["type"] = _one_of(tuple(choices), kwargs.get("type") or str)
            kwargs.setdefault("metavar", "{" + ",".join(map(str, choices)) + "}")
        elif kwargs.get("type") in (int, float):
            kwargs["type"] = _number(kwargs["type"], flag)
        return super().add_argument(*names, **kwargs)

    def add_switch(self, name: str, default: bool = False, help: str = "") -> None:
        """`--name` (or `--name=true|false`) sets it, `--noname` clears it."""
        super().add_argument(f"--{name}", nargs="?", const=True, default=default, type=_boolean(f"--{name}"),
                             metavar="BOOL", help=f"{help} (default {str(default).lower()}; --no{name} clears it)")
        super().add_argument(f"--no{name}", dest=name, action="store_false", help=argparse.SUPPRESS)


def _number(kind: type, flag: str) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        try:
            return kind(text)
        except ValueError:
            accepted = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value {text!r} in flag {flag}={text}; "
                                             f"accepted: {accepted}") from None

    parse.__name__ = kind.__name__
    return parse


def _one_of(choices: tuple, kind: type) -> Callable[[str], object]:
    def parse(text: str) -> object:
        value = kind(text)
        if value not in choices:
            raise argparse.ArgumentTypeError(not_one_of(text, choices))
        return value

    return parse


def _boolean(flag: str) -> Callable[[str], bool]:
    def parse(text: str) -> bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise argparse.ArgumentTypeError(f"flag {flag}={text} is not a boolean; accepted: true or false")

    return parse


def comma_list(text: str) -> list[str]:
    """A comma-separated flag value as its items (empty items dropped)."""
    return [item.strip() for item in text.split(",") if item.strip()]


def call(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None, prog: str) -> int:
    """Run `main(argv)` and return its exit code; a user-fixable error is one line on stderr and 2."""
    quiet_tensorflow()
    try:
        return main(argv) or 0
    except Eac3Error as exc:
        return _fail(prog, str(exc))
    except OSError as exc:  # disk full, a path under a file, no permission: the environment, not a bug
        return _fail(prog, os_error_line(exc))
    except KeyboardInterrupt:
        return _fail(prog, "interrupted", code=130)
    except SystemExit as exc:  # --help (0), or a message, which Python itself would print with exit code 1
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        return _fail(prog, str(exc.code), code=1)


def run(main: Callable[[Sequence[str] | None], int | None], prog: str) -> None:
    """A command's `__main__`: `call` on the process's arguments, then exit with its code."""
    sys.exit(call(main, sys.argv[1:], prog))


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


def os_error_line(exc: OSError) -> str:
    """One line for an OSError: what could not be written or read, why, and what to do."""
    if exc.errno == errno.ENOSPC:
        where = f" writing {exc.filename}" if exc.filename else ""
        return (f"no space left on the device{where}; free some space and run again "
                "(files saved earlier are intact; a training run continues with --resume)")
    where = f" {exc.filename}" if exc.filename else " a file"
    return f"cannot use{where}: {exc.strerror or exc}; give a path in a folder that exists and is writable"


def _fail(prog: str, message: str, code: int = EXIT_USAGE) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    return code
