"""Turn a run's episodes.csv into a learning curve: CSV + PNG under results/.

Usage: python tools/plot_curve.py --run runs/pong_fast --out results/pong_fast_curve [--peer a2c.csv]
The curve is the mean raw score of the last 100 finished episodes against frames trained (and
wall-clock). `--peer` overlays a CSV of the reference peer (columns frames, mean20_return); `--also`
overlays another run's curve (a curve CSV this tool wrote, e.g. an A/B of a training setting).
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eac3_tf import cli  # noqa: E402
from eac3_tf.cli import UsageError  # noqa: E402
from eac3_tf.curve_files import Line, draw_curve, parse_points, read_curve, read_episodes, read_peer, write_curve  # noqa: E402,E501


def main(argv: list[str] | None = None) -> int | None:
    """Write OUT.csv and OUT.png of the run's curve and print what was written."""
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
    others = []
    if args.also:
        others.append(Line(*read_curve(Path(args.also)), f"{args.also_label}, mean of last 100"))
    if args.peer:
        others.append(Line(*read_peer(Path(args.peer)), f"{args.peer_label}, mean of last 20", "tab:orange"))
    if args.peer_points:
        pts = parse_points(args.peer_points)
        others.append(Line(pts[:, 0], pts[:, 1], args.peer_label, "tab:orange", "o--"))
    ep = read_episodes(run)
    cli.check_output_folder(out.parent, "--out")
    out.parent.mkdir(parents=True, exist_ok=True)
    mean100 = write_curve(out.with_suffix(".csv"), ep, args.points)
    meta = json.loads((run / "run.json").read_text()) if (run / "run.json").exists() else {}
    title = args.title or (f"{meta.get('game', run.name)} ({meta.get('preset', '?')} preset): "
                           f"{ep[-1, 0] / 1e6:.1f}M frames in {ep[-1, 1] / 3600:.2f} h")
    draw_curve(out.with_suffix(".png"), ep, mean100, title, args.label, tuple(others))
    print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.png')}: {len(ep)} episodes, "
          f"last mean100 {mean100[-1]:.2f} at {int(ep[-1, 0]):,} frames")
    return 0


if __name__ == "__main__":
    cli.run(main, "plot_curve.py")
