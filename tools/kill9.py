"""Crash consistency under kill -9: SIGKILL a training run at random moments, resume it, check every checkpoint.

Usage:
    python tools/kill9.py [--kills 20] [--seed 0] [--window 4] [--out results/kill9] [--logdir DIR]

Trains the toy Catch task (`eac3_tf.toy`) through `eac3_tf.train.train`, the very code that trains Atari, in a
child process (`python -m eac3_tf.reliability ...`) that resumes from the newest valid checkpoint of its logdir.
Each round starts a child, waits until it has loaded TensorFlow, said where it resumed from and completed a random
number (0..2; the first round 1..2) of new checkpoints, then a random time (uniform in [0, --window] s), and kills
it with SIGKILL.
Every other round waits further, after the random time, until a checkpoint save or removal is in flight (a hidden
`.ckpt-*.tmp` / `.ckpt-*.del` folder appears) and kills it then, so kills land in the middle of writes. After
every kill:

* the newest checkpoint listed verifies (sha256 manifest) and loads, and `latest_valid` picks it with no warning;
* the frame counter of the newest checkpoint never goes backwards;
* no temporary or half-deleted folder is listed as a checkpoint (`list_checkpoints` / `latest_valid` skip them);
* every checkpoint still on disk verifies and is byte-identical to when it was first seen;
* the next child says it resumed from exactly that newest checkpoint (or from scratch when there was none).

After the last kill, one more child resumes and runs to the end of a small frame budget, exits 0, and leaves no
temporary folder behind. Prints a line per kill and a tally ("20/20 resumed, 0 corrupt, frames monotonic"), and
writes it as OUT.json and OUT.md (atomically). Exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eac3_tf import checkpoint, cli  # noqa: E402  (numpy only: TensorFlow loads in the children)
from eac3_tf.io import write_json, write_text  # noqa: E402
from eac3_tf.reliability import run_kill_loop  # noqa: E402
from eac3_tf.reliability_report import markdown  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = cli.ArgumentParser(prog="kill9.py", description=__doc__.split("\n")[0])
    p.add_argument("--kills", type=int, default=20, help="SIGKILLs (each followed by a resume)")
    p.add_argument("--seed", type=int, default=0, help="seed of the kill moments and of training")
    p.add_argument("--window", type=float, default=4.0, help="kill within this many s after TensorFlow is loaded")
    p.add_argument("--checkpoint_every", type=int, default=400, help="frames between checkpoints")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--envs", type=int, default=8, help="Catch games per worker")
    p.add_argument("--keep", type=int, default=3, help="newest checkpoints kept")
    p.add_argument("--logdir", default=None, help="run folder (default: a new temporary folder, removed after)")
    p.add_argument("--out", default=None, help="write the tally to OUT.json and OUT.md")
    args = p.parse_args(argv)
    for name in ("kills", "checkpoint_every", "workers", "envs", "keep"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be a positive integer, got {getattr(args, name)}")
    if not 0 < args.window <= 600:
        p.error(f"--window must be in (0, 600] seconds, got {args.window}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the loop; exit 0 only when every kill resumed and every checkpoint stayed whole."""
    args = parse_args(argv)
    out = Path(args.out) if args.out else None
    if out is not None:
        cli.check_output_folder(out.parent, "--out")
    if args.logdir and checkpoint.list_checkpoints(args.logdir):
        raise cli.UsageError(f"--logdir {args.logdir} already has checkpoints; give a new folder")
    command = "python tools/kill9.py " + " ".join(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="kill9_") as tmp:
        logdir = Path(args.logdir) if args.logdir else Path(tmp) / "run"
        tally = run_kill_loop(logdir, args.kills, args.seed, args.window, args.checkpoint_every, args.workers,
                              args.envs, args.keep)
    tally["command"] = command
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json(Path(f"{out}.json"), tally)
        write_text(Path(f"{out}.md"), markdown(tally, command))
        print(f"wrote {out}.json and {out}.md")
    return 0 if tally["ok"] else 1


if __name__ == "__main__":
    cli.run(main, "kill9.py")
