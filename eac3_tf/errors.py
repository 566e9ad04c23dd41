"""The errors a user can fix: a bad argument, a damaged file, a folder in the way.

Every command line reports one as a single line on stderr and exits 2, so library code raises these and
never prints or exits itself.

TensorFlow-free, so that the exported player shares them.
"""

from __future__ import annotations


class Eac3Error(ValueError):
    """Something the user can fix; its message names what was wrong and what is accepted."""


class ConfigError(Eac3Error):
    """A setting out of its range. `field` is the setting's name, which every command line also uses as its flag."""

    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(f"--{field} {problem}")


def check_range(field: str, value: int, low: int, high: int, unit: str = "") -> None:
    """Raise ConfigError unless `low <= value <= high` (below 1, the message asks for a positive integer)."""
    if low == 1 and value < 1:
        raise ConfigError(field, f"must be a positive integer, got {value}")
    if not low <= value <= high:
        raise ConfigError(field, f"must be {low}..{high}{' ' + unit if unit else ''}, got {value}")


def check_positive(field: str, value: int, at_most: int | None = None) -> None:
    """Raise ConfigError unless `value` is a positive integer (and at most `at_most`)."""
    if value < 1:
        raise ConfigError(field, f"must be a positive integer, got {value}")
    if at_most is not None and value > at_most:
        raise ConfigError(field, f"must be at most {at_most}, got {value}")


def not_one_of(value: object, accepted: tuple) -> str:
    """The words for a value outside `accepted`: "value should be one of <a|b>, got 'x'"."""
    return f"value should be one of <{'|'.join(map(str, accepted))}>, got {value!r}"


def check_choice(field: str, value: object, accepted: tuple) -> None:
    """Raise ConfigError unless `value` is one of `accepted`."""
    if value not in accepted:
        raise ConfigError(field, not_one_of(value, accepted))


def check_open_unit(field: str, value: float) -> None:
    """Raise ConfigError unless 0 < value < 1 (nan fails)."""
    if not 0 < value < 1:
        raise ConfigError(field, f"must be in (0, 1), got {value}")


class PathError(Eac3Error):
    """An output path that cannot be written (under a file, in a read-only folder) or an input that is missing."""


class ExportError(Eac3Error):
    """An export that cannot be made as asked: a folder in the way, an evaluation of another checkpoint."""


class ExplainError(Eac3Error):
    """An explanation that cannot be made as asked: an unknown target or layer, frames of the wrong kind."""
