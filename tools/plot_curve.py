"""Turn a run's episodes.csv into a learning curve: CSV + PNG under results/.

Usage: python tools/plot_curve.py --run runs/pong_fast --out results/pong_fast_curve [--peer a2c.csv]
The curve is the mean raw score of the last 100 finished episodes against frames trained (and
wall-clock). `--peer` overlays a CSV of the reference peer (columns frames, mean20_return); `--also`
overlays another run's curve (a curve CSV this tool wrote, e.g. an A/B of a training setting).
"""

import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from eac3_tf import cli  # noqa: E402
from eac3_tf.cli import UsageError  # noqa: E402
from eac3_tf.curves import rolling_mean  # noqa: E402
from eac3_tf.io import write_text, write_with  # noqa: E402


def load_episodes(run: Path) -> np.ndarray:
    path = run / "episodes.csv"
    if not path.is_file():
        raise UsageError(f"--run {run} has no episodes.csv; give the --logdir of an eac3_tf.train run")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    data, bad = [], 0
    for r in rows:  # a row cut short (e.g. a killed run) is skipped, not fatal
        try:
            data.append((float(r["frames"]), float(r["wall_seconds"]), float(r["score"])))
        except (KeyError, TypeError, ValueError):
            bad += 1
    if not data:
        raise UsageError(f"{path} has no episodes yet" if not rows else
                         f"{path} has no readable rows; accepted: an eac3_tf.train episodes.csv "
                         "(columns wall_seconds, frames, worker, score, length)")
    if bad:
        print(f"skipped {bad} unreadable rows of {path}")
    data = np.array(data)
    return data[np.argsort(data[:, 0], kind="stable")]


def load_peer(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise UsageError(f"--peer {path} does not exist; give a CSV with columns frames, mean20_return")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    if not {"frames", "mean20_return"} <= set(reader.fieldnames or ()):
        raise UsageError(f"--peer {path} is not a CSV with columns frames, mean20_return "
                         f"(its header: {', '.join(reader.fieldnames or ())[:80]})")
    try:
        pairs = [(float(r["frames"]), float(r["mean20_return"])) for r in rows if r["mean20_return"] != "nan"]
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"--peer {path} is not a CSV with columns frames, mean20_return "
                         f"({type(exc).__name__})") from None
    if not pairs:
        raise UsageError(f"--peer {path} holds no rows; give a CSV with columns frames, mean20_return")
    a = np.array(pairs)
    return a[:, 0], a[:, 1]


def load_curve(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(frames, mean100) of a curve CSV written by this tool."""
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
        if not {"frames", "mean100_score"} <= set(reader.fieldnames or ()):
            raise KeyError("mean100_score")
        a = np.array([(float(r["frames"]), float(r["mean100_score"])) for r in rows])
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"--also {path} is not a curve CSV of plot_curve.py (columns frames, mean100_score; "
                         f"{type(exc).__name__})") from None
    if a.size == 0:
        raise UsageError(f"--also {path} holds no rows; give a curve CSV of plot_curve.py")
    return a[:, 0], a[:, 1]


def parse_points(text: str) -> np.ndarray:
    try:
        pts = np.array([[float(v) for v in pair.split(":")] for pair in text.split(",")])
    except ValueError:
        pts = None
    if pts is None or pts.ndim != 2 or pts.shape[1] != 2 or not np.all(np.isfinite(pts)):
        raise UsageError(f"--peer_points {text!r} is not a list of frames:score pairs, e.g. 5e6:-20,10e6:-18.9")
    return pts


def main(argv: list[str] | None = None) -> int | None:
    p = cli.ArgumentParser(prog="plot_curve.py", description=__doc__.split("\n")[0])
    p.add_argument("--run", required=True)
    p.add_argument("--out", required=True, help="path prefix; writes .csv and .png")
    p.add_argument("--title", default=None)
    p.add_argument("--peer", default=None, help="peer CSV with columns frames, mean20_return")
    p.add_argument("--peer_points", default=None,
                   help="peer figures as frames:score pairs, e.g. 5e6:-20,10e6:-18.9 (label them with --peer_label)")
    p.add_argument("--peer_label", default="peer A2C")
    p.add_argument("--label", default="eac3_tf", help="legend name of --run's curve")
    p.add_argument("--also", default=None, help="another curve CSV written by this tool, drawn for comparison")
    p.add_argument("--also_label", default="other run")
    p.add_argument("--points", type=int, default=200, help="rows in the curve CSV")
    args = p.parse_args(argv)
    run, out = Path(args.run), Path(args.out)
    if not 1 <= args.points <= 1_000_000:
        raise UsageError(f"--points must be 1..1000000, got {args.points}")
    peer = load_peer(Path(args.peer)) if args.peer else None
    pts = parse_points(args.peer_points) if args.peer_points else None
    also = load_curve(Path(args.also)) if args.also else None
    ep = load_episodes(run)
    cli.check_output_folder(out.parent, "--out")
    out.parent.mkdir(parents=True, exist_ok=True)
    mean100 = rolling_mean(ep[:, 2])
    keep = np.unique(np.linspace(0, len(ep) - 1, min(args.points, len(ep))).astype(int))
    lines = ["frames,wall_seconds,episodes,mean100_score,score"]
    lines += [f"{int(ep[i, 0])},{ep[i, 1]:.1f},{i + 1},{mean100[i]:.3f},{ep[i, 2]:.1f}" for i in keep]
    write_text(out.with_suffix(".csv"), "\n".join(lines) + "\n")

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(ep[:, 0] / 1e6, ep[:, 2], ".", ms=2, alpha=0.25, color="tab:blue", label="episode score")
    ax.plot(ep[:, 0] / 1e6, mean100, color="tab:blue", lw=2, label=f"{args.label}, mean of last 100")
    if also is not None:
        ax.plot(also[0] / 1e6, also[1], color="tab:gray", lw=2, label=f"{args.also_label}, mean of last 100")
    if peer is not None:
        pf, pm = peer
        ax.plot(pf / 1e6, pm, color="tab:orange", lw=2, label=f"{args.peer_label}, mean of last 20")
    if pts is not None:
        ax.plot(pts[:, 0] / 1e6, pts[:, 1], "o--", color="tab:orange", lw=1.5, label=args.peer_label)
    ax.set_xlabel("frames (millions)")
    if ep[-1, 1] > ep[0, 1]:  # a wall-clock axis on top, from this run's own frames -> time mapping
        fr, hr = ep[:, 0] / 1e6, ep[:, 1] / 3600
        rate = (hr[-1] - hr[0]) / max(fr[-1] - fr[0], 1e-9)  # past this run's end: its mean pace, dashed off
        fr = np.append(fr, fr[-1] + 1000.0)
        hr = np.append(hr, hr[-1] + 1000.0 * rate)

        def to_hours(x):
            return np.interp(x, fr, hr)

        def to_frames(h):
            return np.interp(h, hr, fr)

        top = ax.secondary_xaxis("top", functions=(to_hours, to_frames))
        top.set_xlabel("training wall-clock (hours)")
        # Hours are not linear in frames (a run's speed changes), so evenly spaced hours can land on top of
        # each other: keep a tick only where it is at least 7% of the axis from the last one kept.
        lo, hi = ax.get_xlim()
        kept: list[float] = []
        for tick in MaxNLocator(8).tick_values(float(to_hours(lo)), float(to_hours(hi))):
            x = float(to_frames(tick))
            if lo <= x <= hi and (not kept or x - float(to_frames(kept[-1])) >= 0.07 * (hi - lo)):
                kept.append(float(tick))
        top.set_xticks(kept)
    ax.set_ylabel("raw game score")
    meta = json.loads((run / "run.json").read_text()) if (run / "run.json").exists() else {}
    hours = ep[-1, 1] / 3600
    ax.set_title(args.title or f"{meta.get('game', run.name)} ({meta.get('preset', '?')} preset): "
                 f"{ep[-1, 0] / 1e6:.1f}M frames in {hours:.2f} h")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    write_with(out.with_suffix(".png"), lambda tmp: fig.savefig(tmp, dpi=120))
    print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.png')}: {len(ep)} episodes, "
          f"last mean100 {mean100[-1]:.2f} at {int(ep[-1, 0]):,} frames")


if __name__ == "__main__":
    cli.run(main, "plot_curve.py")
