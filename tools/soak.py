"""Soak test: watch a training run's memory and speed for a long time, then stop it with SIGINT.

Either launches `python -m eac3_tf.train ARGS...` itself (everything after `--`), or attaches to a
training process already running (`--pid`, with `--logdir` to read its progress). Every `--interval`
seconds it records the process's resident memory (VmRSS), thread count and the trainer's latest
frames and frames/s. After `--minutes` it sends SIGINT and times how long the trainer takes to write
its final checkpoint and exit. Writes `<out>.csv`, `<out>.png` and `<out>.json`.

    python tools/soak.py --minutes 30 --out results/soak -- --game Pong --preset fast --frames 100000000 \
        --workers 2 --logdir runs/soak
    python tools/soak.py --pid 1234 --logdir runs/pong_fast --minutes 30 --out results/soak
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from eac3_tf import soak  # noqa: E402
from eac3_tf.cli import ArgumentParser, run  # noqa: E402
from eac3_tf.io import write_json, write_text  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the soak; exit 0 when memory growth after warm-up is within --max_growth and SIGINT was honoured."""
    argv = sys.argv[1:] if argv is None else argv
    train_args = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    parser = ArgumentParser(prog="soak.py", description=__doc__.splitlines()[0])
    parser.add_argument("--pid", type=int, help="attach to this running trainer instead of launching one")
    parser.add_argument("--logdir", help="the trainer's --logdir (required with --pid)")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=300.0, help="seconds excluded from the growth figure")
    parser.add_argument("--max_growth", type=float, default=0.10, help="allowed RSS growth after warm-up")
    parser.add_argument("--exit_timeout", type=float, default=60.0, help="seconds the trainer has to exit on SIGINT")
    parser.add_argument("--out", default="results/soak", help="output path without extension")
    args = parser.parse_args(own)
    if args.pid is None and not train_args:
        parser.error("give --pid PID --logdir DIR, or the trainer's arguments after --")
    if args.minutes <= 0 or args.interval <= 0:
        parser.error("--minutes and --interval must be positive")

    child = None
    if args.pid is not None:
        if not args.logdir:
            parser.error("--pid needs --logdir")
        if soak.proc_status(args.pid) is None:
            parser.error(f"no running process with pid {args.pid}")
        pid, logdir = args.pid, Path(args.logdir)
    else:
        if "--logdir" not in train_args:
            parser.error("the trainer's arguments must include --logdir")
        logdir = Path(train_args[train_args.index("--logdir") + 1])
        child = subprocess.Popen([sys.executable, "-m", "eac3_tf.train", *train_args], cwd=ROOT)
        pid = child.pid

    samples, stop = soak.watch(pid, child, logdir, args.minutes, args.interval, args.exit_timeout,
                               log=lambda line: print(line, flush=True))
    out = ROOT / args.out if not Path(args.out).is_absolute() else Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out.with_suffix(".csv"), soak.samples_csv(samples))
    summary = soak.summarize(samples, stop, args.warmup, args.max_growth, args.pid is not None, logdir)
    write_json(out.with_suffix(".json"), summary)
    soak.plot(samples, out.with_suffix(".png"), summary)
    print(json.dumps(summary, indent=2))
    return 0 if soak.passed(samples, stop, args.warmup, args.max_growth) else 1


if __name__ == "__main__":
    run(main, "soak.py")
