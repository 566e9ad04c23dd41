"""Learning curves as files: a run's episodes.csv read back, curve CSVs written and read, and the curve drawn.

`tools/plot_curve.py` and the quick start draw through here, so every committed curve has one CSV layout
(frames, wall_seconds, episodes, mean100_score, score) and one look. The arithmetic is `eac3_tf.curves`.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np

from eac3_tf.curves import rolling_mean
from eac3_tf.errors import Eac3Error
from eac3_tf.io import write_text, write_with

CURVE_HEADER = "frames,wall_seconds,episodes,mean100_score,score"


class CurveError(Eac3Error):
    """A file that is not the curve or the run it is given as."""


def read_episodes(run: Path) -> np.ndarray:
    """A run's finished games as float64 [n, 3] (frames, wall seconds, raw score), sorted by frames.

    A row cut short (a killed run) is skipped, not fatal.
    """
    path = Path(run) / "episodes.csv"
    if not path.is_file():
        raise CurveError(f"--run {run} has no episodes.csv; give the --logdir of an eac3_tf.train run")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    data = []
    for r in rows:
        try:
            data.append((float(r["frames"]), float(r["wall_seconds"]), float(r["score"])))
        except (KeyError, TypeError, ValueError):
            pass
    if not data:
        raise CurveError(f"{path} has no episodes yet" if not rows else
                         f"{path} has no readable rows; accepted: an eac3_tf.train episodes.csv "
                         "(columns wall_seconds, frames, worker, score, length)")
    a = np.array(data)
    return a[np.argsort(a[:, 0], kind="stable")]


def read_peer(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(frames, mean20_return) of the reference peer's CSV."""
    if not path.is_file():
        raise CurveError(f"--peer {path} does not exist; give a CSV with columns frames, mean20_return")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    if not {"frames", "mean20_return"} <= set(reader.fieldnames or ()):
        raise CurveError(f"--peer {path} is not a CSV with columns frames, mean20_return "
                         f"(its header: {', '.join(reader.fieldnames or ())[:80]})")
    try:
        pairs = [(float(r["frames"]), float(r["mean20_return"])) for r in rows if r["mean20_return"] != "nan"]
    except (KeyError, TypeError, ValueError) as exc:
        raise CurveError(f"--peer {path} is not a CSV with columns frames, mean20_return "
                         f"({type(exc).__name__})") from None
    if not pairs:
        raise CurveError(f"--peer {path} holds no rows; give a CSV with columns frames, mean20_return")
    a = np.array(pairs)
    return a[:, 0], a[:, 1]


def read_curve(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(frames, mean100) of a curve CSV that `write_curve` wrote."""
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
        if not {"frames", "mean100_score"} <= set(reader.fieldnames or ()):
            raise KeyError("mean100_score")
        a = np.array([(float(r["frames"]), float(r["mean100_score"])) for r in rows])
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise CurveError(f"--also {path} is not a curve CSV of plot_curve.py (columns frames, mean100_score; "
                         f"{type(exc).__name__})") from None
    if a.size == 0:
        raise CurveError(f"--also {path} holds no rows; give a curve CSV of plot_curve.py")
    return a[:, 0], a[:, 1]


def parse_points(text: str) -> np.ndarray:
    """'5e6:-20,10e6:-18.9' as float [[5e6, -20], [10e6, -18.9]]."""
    try:
        pts = np.array([[float(v) for v in pair.split(":")] for pair in text.split(",")])
    except ValueError:
        pts = None
    if pts is None or pts.ndim != 2 or pts.shape[1] != 2 or not np.all(np.isfinite(pts)):
        raise CurveError(f"--peer_points {text!r} is not a list of frames:score pairs, e.g. 5e6:-20,10e6:-18.9")
    return pts


def write_curve(path: Path, episodes: np.ndarray, points: int = 200) -> np.ndarray:
    """Write the curve CSV of `read_episodes`' games (at most `points` rows, spread evenly); return mean100."""
    mean100 = rolling_mean(episodes[:, 2])
    keep = np.unique(np.linspace(0, len(episodes) - 1, min(points, len(episodes))).astype(int))
    lines = [CURVE_HEADER] + [f"{int(episodes[i, 0])},{episodes[i, 1]:.1f},{i + 1},{mean100[i]:.3f},"
                              f"{episodes[i, 2]:.1f}" for i in keep]
    write_text(path, "\n".join(lines) + "\n")
    return mean100


@dataclasses.dataclass(frozen=True)
class Line:
    """Another curve on the figure: a run's, a peer's, or published points."""

    frames: np.ndarray
    values: np.ndarray
    label: str
    color: str = "tab:gray"
    style: str = "-"


def draw_curve(path: Path, episodes: np.ndarray, mean100: np.ndarray, title: str, label: str = "eac3_tf",
               others: tuple[Line, ...] = (), optimum: tuple[float, str] | None = None, unit: float = 1e6) -> None:
    """The PNG: each game's score, the mean of the last 100, other lines, and a wall-clock axis on top.

    `unit` is the frames per x-axis unit (1e6: millions, 1e3: thousands); `optimum` draws (score, label) as a
    dashed line.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    x = episodes[:, 0] / unit
    ax.plot(x, episodes[:, 2], ".", ms=2, alpha=0.25, color="tab:blue", label="episode score")
    ax.plot(x, mean100, color="tab:blue", lw=2, label=f"{label}, mean of last 100")
    for line in others:
        ax.plot(line.frames / unit, line.values, line.style, color=line.color, lw=2 if line.style == "-" else 1.5,
                label=line.label)
    if optimum is not None:
        ax.axhline(optimum[0], color="green", ls="--", lw=1, label=optimum[1])
    ax.set_xlabel({1e6: "frames (millions)", 1e3: "frames (thousands)"}.get(unit, f"frames (x{unit:g})"))
    if episodes[-1, 1] > episodes[0, 1]:
        _wall_clock_axis(ax, x, episodes[:, 1] / 3600)
    ax.set_ylabel("raw game score")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left" if optimum is None else "lower right", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    write_with(path, lambda tmp: fig.savefig(tmp, dpi=120))
    plt.close(fig)


def _wall_clock_axis(ax, x: np.ndarray, hours: np.ndarray) -> None:
    """Hours on a top axis, from the run's own x -> time mapping (past its end: its mean pace)."""
    from matplotlib.ticker import MaxNLocator

    rate = (hours[-1] - hours[0]) / max(x[-1] - x[0], 1e-9)
    fr = np.append(x, x[-1] + 1000.0)
    hr = np.append(hours, hours[-1] + 1000.0 * rate)

    def to_hours(v):
        return np.interp(v, fr, hr)

    def to_x(h):
        return np.interp(h, hr, fr)

    top = ax.secondary_xaxis("top", functions=(to_hours, to_x))
    top.set_xlabel("training wall-clock (hours)")
    # Hours are not linear in frames (a run's speed changes), so evenly spaced hours can land on top of
    # each other: keep a tick only where it is at least 7% of the axis from the last one kept.
    lo, hi = ax.get_xlim()
    kept: list[float] = []
    for tick in MaxNLocator(8).tick_values(float(to_hours(lo)), float(to_hours(hi))):
        v = float(to_x(tick))
        if lo <= v <= hi and (not kept or v - float(to_x(kept[-1])) >= 0.07 * (hi - lo)):
            kept.append(float(tick))
    top.set_xticks(kept)
