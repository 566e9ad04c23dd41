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

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from eac3_tf.checkpoint import list_checkpoints  # noqa: E402
from eac3_tf.cli import ArgumentParser, run  # noqa: E402
from eac3_tf.io import write_json, write_text, write_with  # noqa: E402


def proc_status(pid: int) -> dict[str, int] | None:
    """VmRSS (KiB) and Threads of a live process, from /proc; None once it has exited."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    if fields.get("State", "").strip().startswith("Z"):
        return None
    return {"rss_kib": int(fields["VmRSS"].split()[0]), "threads": int(fields["Threads"])}


def latest_progress(logdir: Path) -> tuple[int, float]:
    """Frames and frames/s from the last line of the trainer's progress.csv (0, 0 before the first)."""
    path = logdir / "progress.csv"
    if not path.is_file():
        return 0, 0.0
    rows = path.read_text().strip().splitlines()
    if len(rows) < 2:
        return 0, 0.0
    last = next(csv.DictReader([rows[0], rows[-1]]))
    return int(float(last["frames"])), float(last["frames_per_sec"])


def rss_growth(samples: list[dict], warmup_s: float) -> float:
    """Relative growth of RSS from the first sample after warm-up to the largest sample after it."""
    after = [s["rss_mib"] for s in samples if s["seconds"] >= warmup_s]
    if len(after) < 2:
        raise ValueError(f"no samples after the {warmup_s:.0f} s warm-up; soak longer")
    return max(after) / after[0] - 1.0


def is_alive(pid: int, child: subprocess.Popen | None) -> bool:
    """True while the trainer runs (reaps our own child so it does not linger as a zombie)."""
    if child is not None:
        return child.poll() is None
    return proc_status(pid) is not None


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
        if proc_status(args.pid) is None:
            parser.error(f"no running process with pid {args.pid}")
        pid, logdir = args.pid, Path(args.logdir)
    else:
        if "--logdir" not in train_args:
            parser.error("the trainer's arguments must include --logdir")
        logdir = Path(train_args[train_args.index("--logdir") + 1])
        child = subprocess.Popen([sys.executable, "-m", "eac3_tf.train", *train_args], cwd=ROOT)
        pid = child.pid

    samples: list[dict] = []
    start = time.monotonic()
    deadline = start + args.minutes * 60
    while time.monotonic() < deadline and is_alive(pid, child):
        status = proc_status(pid)
        if status is None:
            break
        frames, fps = latest_progress(logdir)
        samples.append({"seconds": round(time.monotonic() - start, 1), "rss_mib": round(status["rss_kib"] / 1024, 1),
                        "threads": status["threads"], "frames": frames, "frames_per_sec": round(fps, 1)})
        print(f"[soak] {samples[-1]['seconds']:7.0f} s  rss {samples[-1]['rss_mib']:8.1f} MiB  "
              f"threads {status['threads']:3d}  frames {frames / 1e6:8.3f}M  {fps:8.1f} frames/s", flush=True)
        time.sleep(args.interval)

    ckpts_before = {p.name for p in list_checkpoints(logdir)}
    stopped_by_us = is_alive(pid, child)
    exit_seconds = None
    if stopped_by_us:
        os.kill(pid, signal.SIGINT)
        t0 = time.monotonic()
        while is_alive(pid, child) and time.monotonic() - t0 < args.exit_timeout:
            time.sleep(0.1)
        exit_seconds = round(time.monotonic() - t0, 2) if not is_alive(pid, child) else None
    ckpts_after = [p.name for p in list_checkpoints(logdir)]
    final_checkpoint = ckpts_after[-1] if ckpts_after and ckpts_after[-1] not in ckpts_before else None

    out = ROOT / args.out if not Path(args.out).is_absolute() else Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(samples[0]))
    writer.writeheader()
    writer.writerows(samples)
    write_text(out.with_suffix(".csv"), table.getvalue())
    growth = rss_growth(samples, args.warmup)
    summary = {
        "minutes": round(samples[-1]["seconds"] / 60, 2), "samples": len(samples), "warmup_s": args.warmup,
        "rss_mib_at_warmup_end": next(s["rss_mib"] for s in samples if s["seconds"] >= args.warmup),
        "rss_mib_max_after_warmup": max(s["rss_mib"] for s in samples if s["seconds"] >= args.warmup),
        "rss_growth_after_warmup": round(growth, 4), "max_growth": args.max_growth,
        "frames_per_sec_median": sorted(s["frames_per_sec"] for s in samples)[len(samples) // 2],
        "threads_max": max(s["threads"] for s in samples),
        "frames_first": samples[0]["frames"], "frames_last": samples[-1]["frames"],
        "sigint_sent": stopped_by_us, "exit_seconds_after_sigint": exit_seconds,
        "final_checkpoint_written_on_sigint": final_checkpoint,
        "attached_to_running_trainer": args.pid is not None, "logdir": str(logdir),
    }
    write_json(out.with_suffix(".json"), summary)
    _plot(samples, out.with_suffix(".png"), summary)
    print(json.dumps(summary, indent=2))
    ok = growth <= args.max_growth and (not stopped_by_us or (exit_seconds is not None and final_checkpoint))
    return 0 if ok else 1


def _plot(samples: list[dict], path: Path, summary: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [s["seconds"] / 60 for s in samples]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(minutes, [s["rss_mib"] for s in samples], color="tab:blue")
    ax.set_xlabel("minutes")
    ax.set_ylabel("RSS (MiB)", color="tab:blue")
    ax.axvline(summary["warmup_s"] / 60, color="grey", linestyle=":", label="end of warm-up")
    twin = ax.twinx()
    twin.plot(minutes, [s["frames_per_sec"] for s in samples], color="tab:orange")
    twin.set_ylabel("frames/s", color="tab:orange")
    ax.set_title(f"soak: RSS growth after warm-up {summary['rss_growth_after_warmup']:+.1%}")
    ax.legend(loc="lower right")
    fig.tight_layout()
    write_with(path, lambda tmp: fig.savefig(tmp, dpi=100))
    plt.close(fig)


if __name__ == "__main__":
    run(main, "soak.py")
