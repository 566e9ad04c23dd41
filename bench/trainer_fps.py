"""Trainer frames/s on a real game for several worker counts and both presets.

Usage: python bench/trainer_fps.py [--game pong] [--workers 1 2 4] [--presets fast paper] [--seconds 60]
Each configuration runs the real `python -m eac3_tf.train` in a subprocess for `--seconds` and reads
its progress.csv; the figure is frames/s after the first progress interval (tracing excluded).
Saves results/bench/trainer_fps.json + .md.
"""

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(game: str, preset: str, workers: int, seconds: float, envs: int) -> dict:
    logdir = Path(tempfile.mkdtemp(prefix=f"fps_{preset}_{workers}_")) / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    cmd = [sys.executable, "-m", "eac3_tf.train", "--game", game, "--preset", preset, "--frames", "1000000000",
           "--workers", str(workers), "--envs_per_worker", str(envs), "--logdir", str(logdir), "--log_every", "5",
           "--checkpoint_every", "1000000000"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(seconds)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=300)
    rows = list(csv.DictReader(open(logdir / "progress.csv")))
    if len(rows) < 3:
        raise RuntimeError(f"too few progress rows for {preset}/{workers}: {proc.stderr.read()[-500:]}")
    first, last = rows[0], rows[-1]  # skip the first interval: it holds tf.function tracing
    fps = (int(last["frames"]) - int(first["frames"])) / (float(last["wall_seconds"]) - float(first["wall_seconds"]))
    return {"game": game, "preset": preset, "workers": workers, "envs_per_worker": envs,
            "frames_per_sec": round(fps, 1), "agent_steps_per_sec": round(fps / 4, 1),
            "measured_seconds": round(float(last["wall_seconds"]) - float(first["wall_seconds"]), 1)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--game", default="pong")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--presets", nargs="+", default=["fast", "paper"])
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--envs_per_worker", type=int, default=8)
    p.add_argument("--out", default="results/bench/trainer_fps")
    args = p.parse_args()
    results = []
    for preset in args.presets:
        for w in args.workers:
            r = measure(args.game, preset, w, args.seconds, args.envs_per_worker)
            print(f"{preset:6s} workers={w}: {r['frames_per_sec']:8.1f} frames/s "
                  f"({r['agent_steps_per_sec']:.1f} agent steps/s)", flush=True)
            results.append(r)
    lines = ["| preset | workers | envs/worker | frames/s | agent steps/s |", "|---|---|---|---|---|"]
    lines += [f"| {r['preset']} | {r['workers']} | {r['envs_per_worker']} | {r['frames_per_sec']:,.0f} | "
              f"{r['agent_steps_per_sec']:,.0f} |" for r in results]
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"cpu_count": os.cpu_count(), "seconds_per_config": args.seconds, "results": results,
            "command": "python bench/trainer_fps.py " + " ".join(sys.argv[1:])}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
