"""Turn a run's episodes.csv into a learning curve: CSV + PNG under results/.

Usage: python tools/plot_curve.py --run runs/pong_fast --out results/pong_fast_curve [--peer a2c.csv]
The curve is the mean raw score of the last 100 finished episodes against frames trained (and
wall-clock). `--peer` overlays a CSV of the reference peer (columns frames, mean20_return).
"""

import argparse
import csv
import json
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def load_episodes(run: Path) -> np.ndarray:
    rows = list(csv.DictReader(open(run / "episodes.csv")))
    if not rows:
        raise SystemExit(f"{run}/episodes.csv has no episodes yet")
    data = np.array([(float(r["frames"]), float(r["wall_seconds"]), float(r["score"])) for r in rows])
    return data[np.argsort(data[:, 0], kind="stable")]


def rolling_mean(x: np.ndarray, n: int = 100) -> np.ndarray:
    c = np.cumsum(np.insert(x, 0, 0.0))
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(0, idx - n)
    return (c[idx] - c[lo]) / (idx - lo)


def atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--run", required=True)
    p.add_argument("--out", required=True, help="path prefix; writes .csv and .png")
    p.add_argument("--title", default=None)
    p.add_argument("--peer", default=None, help="peer CSV with columns frames, mean20_return")
    p.add_argument("--peer_points", default=None,
                   help="peer figures as frames:score pairs, e.g. 5e6:-20,10e6:-18.9 (label them with --peer_label)")
    p.add_argument("--peer_label", default="peer A2C")
    p.add_argument("--points", type=int, default=200, help="rows in the curve CSV")
    args = p.parse_args()
    run, out = Path(args.run), Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ep = load_episodes(run)
    mean100 = rolling_mean(ep[:, 2])
    keep = np.unique(np.linspace(0, len(ep) - 1, min(args.points, len(ep))).astype(int))
    lines = ["frames,wall_seconds,episodes,mean100_score,score"]
    lines += [f"{int(ep[i, 0])},{ep[i, 1]:.1f},{i + 1},{mean100[i]:.3f},{ep[i, 2]:.1f}" for i in keep]
    atomic_write(out.with_suffix(".csv"), ("\n".join(lines) + "\n").encode())

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(ep[:, 0] / 1e6, ep[:, 2], ".", ms=2, alpha=0.25, color="tab:blue", label="episode score")
    ax.plot(ep[:, 0] / 1e6, mean100, color="tab:blue", lw=2, label="eac3_tf, mean of last 100")
    if args.peer:
        peer = list(csv.DictReader(open(args.peer)))
        pf = np.array([float(r["frames"]) for r in peer if r["mean20_return"] != "nan"])
        pm = np.array([float(r["mean20_return"]) for r in peer if r["mean20_return"] != "nan"])
        ax.plot(pf / 1e6, pm, color="tab:orange", lw=2, label=f"{args.peer_label}, mean of last 20")
    if args.peer_points:
        pts = np.array([[float(v) for v in pair.split(":")] for pair in args.peer_points.split(",")])
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
    ax.set_ylabel("raw game score")
    meta = json.loads((run / "run.json").read_text()) if (run / "run.json").exists() else {}
    hours = ep[-1, 1] / 3600
    ax.set_title(args.title or f"{meta.get('game', run.name)} ({meta.get('preset', '?')} preset): "
                 f"{ep[-1, 0] / 1e6:.1f}M frames in {hours:.2f} h")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, out.with_suffix(".png"))
    print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.png')}: {len(ep)} episodes, "
          f"last mean100 {mean100[-1]:.2f} at {int(ep[-1, 0]):,} frames")


if __name__ == "__main__":
    main()
